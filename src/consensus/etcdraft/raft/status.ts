// etcd raft v3.5.9 status.go: a snapshot of a Raft node's state for the application.
import type { Raft, SoftState } from './raft.js';
import { StateType, stateTypeName } from './raft.js';
import { Progress } from './tracker/progress.js';
import { stateTypeString } from './tracker/state.js';
import type { TrackerConfig } from './tracker/tracker.js';
import type { HardState } from './types.js';

export interface BasicStatus {
  id: number;
  hardState: HardState;
  softState: SoftState;
  applied: number;
  leadTransferee: number;
}

export interface Status extends BasicStatus {
  config: TrackerConfig;
  // Only filled in on the leader.
  progress: Map<number, Progress>;
}

function getProgressCopy(r: Raft): Map<number, Progress> {
  const m = new Map<number, Progress>();
  r.prs.visit((id, pr) => {
    m.set(
      id,
      new Progress({
        match: pr.match,
        next: pr.next,
        state: pr.state,
        pendingSnapshot: pr.pendingSnapshot,
        recentActive: pr.recentActive,
        probeSent: pr.probeSent,
        isLearner: pr.isLearner,
        inflights: pr.inflights.clone(),
      }),
    );
  });
  return m;
}

export function getBasicStatus(r: Raft): BasicStatus {
  return {
    id: r.id,
    leadTransferee: r.leadTransferee,
    hardState: r.hardState(),
    softState: r.softState(),
    applied: r.raftLog.applied,
  };
}

export function getStatus(r: Raft): Status {
  const basic = getBasicStatus(r);
  return {
    ...basic,
    progress: basic.softState.raftState === StateType.StateLeader ? getProgressCopy(r) : new Map(),
    config: r.prs.config.clone(),
  };
}

// etcd's Status.MarshalJSON (ids in hex, as etcd prints them).
export function statusToJSON(s: Status): string {
  const hex = (n: number) => n.toString(16);
  let j = `{"id":"${hex(s.id)}","term":${s.hardState.term},"vote":"${hex(s.hardState.vote)}","commit":${s.hardState.commit},"lead":"${hex(s.softState.lead)}","raftState":"${stateTypeName(s.softState.raftState)}","applied":${s.applied},"progress":{`;
  if (s.progress.size === 0) {
    j += '},';
  } else {
    j += [...s.progress]
      .map(
        ([k, v]) => `"${hex(k)}":{"match":${v.match},"next":${v.next},"state":"${stateTypeString(v.state)}"}`,
      )
      .join(',');
    j += '},';
  }
  j += `"leadtransferee":"${hex(s.leadTransferee)}"}`;
  return j;
}
