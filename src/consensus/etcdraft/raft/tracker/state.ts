// etcd raft v3.5.9 tracker/state.go: the replication state of a follower's Progress.
export enum StateType {
  // The leader sends at most one replication message per heartbeat interval to probe the
  // follower's actual progress.
  StateProbe = 0,
  // The leader optimistically sends replication messages up to the inflight limit.
  StateReplicate = 1,
  // The follower needs a snapshot; no replication messages are sent.
  StateSnapshot = 2,
}

export const stateTypeString = (state: StateType): string => StateType[state] ?? `StateType(${state})`;
