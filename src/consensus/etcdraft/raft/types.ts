// The raftpb shapes of etcd raft v3.5.9 (raft/raftpb/raft.proto), as plain objects.
// Terms, indexes and node IDs are plain numbers restricted to safe integers: the wire
// adapter (wire.ts) refuses a uint64 above Number.MAX_SAFE_INTEGER instead of rounding it.

export enum EntryType {
  Normal = 0,
  ConfChange = 1,
  ConfChangeV2 = 2,
}

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

export interface HardState {
  term: number;
  vote: number;
  commit: number;
}

export interface ConfState {
  voters: number[];
  learners: number[];
  votersOutgoing: number[];
  learnersNext: number[];
  autoLeave: boolean;
}

export interface SnapshotMetadata {
  confState: ConfState;
  index: number;
  term: number;
}

export interface Snapshot {
  data: Uint8Array;
  metadata: SnapshotMetadata;
}

export enum MessageType {
  MsgHup = 0,
  MsgBeat = 1,
  MsgProp = 2,
  MsgApp = 3,
  MsgAppResp = 4,
  MsgVote = 5,
  MsgVoteResp = 6,
  MsgSnap = 7,
  MsgHeartbeat = 8,
  MsgHeartbeatResp = 9,
  MsgUnreachable = 10,
  MsgSnapStatus = 11,
  MsgCheckQuorum = 12,
  MsgTransferLeader = 13,
  MsgTimeoutNow = 14,
  MsgReadIndex = 15,
  MsgReadIndexResp = 16,
  MsgPreVote = 17,
  MsgPreVoteResp = 18,
}

export interface Message {
  type: MessageType;
  to: number;
  from: number;
  term: number;
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  snapshot: Snapshot | undefined;
  reject: boolean;
  rejectHint: number;
  context: Uint8Array | undefined;
}

export enum ConfChangeType {
  AddNode = 0,
  RemoveNode = 1,
  UpdateNode = 2,
  AddLearnerNode = 3,
}

export interface ConfChange {
  type: ConfChangeType;
  nodeId: number;
  context: Uint8Array | undefined;
  id: number;
}

export enum ConfChangeTransition {
  Auto = 0,
  JointImplicit = 1,
  JointExplicit = 2,
}

export interface ConfChangeSingle {
  type: ConfChangeType;
  nodeId: number;
}

export interface ConfChangeV2 {
  transition: ConfChangeTransition;
  changes: ConfChangeSingle[];
  context: Uint8Array | undefined;
}

export const emptyConfState = (): ConfState => ({
  voters: [],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
});

export const emptySnapshot = (): Snapshot => ({
  data: new Uint8Array(0),
  metadata: { confState: emptyConfState(), index: 0, term: 0 },
});

export const emptyHardState = (): HardState => ({ term: 0, vote: 0, commit: 0 });

export const newMessage = (fields: Partial<Message> & Pick<Message, 'type'>): Message => ({
  to: 0,
  from: 0,
  term: 0,
  logTerm: 0,
  index: 0,
  entries: [],
  commit: 0,
  snapshot: undefined,
  reject: false,
  rejectHint: 0,
  context: undefined,
  ...fields,
});

export const newEntry = (fields: Partial<Entry>): Entry => ({
  term: 0,
  index: 0,
  type: EntryType.Normal,
  data: new Uint8Array(0),
  ...fields,
});

// etcd's IsEmptySnap: a snapshot is empty when its metadata index is zero.
export const isEmptySnap = (snapshot: Snapshot | undefined): boolean =>
  snapshot === undefined || snapshot.metadata.index === 0;

// etcd's IsEmptyHardState.
export const isEmptyHardState = (state: HardState): boolean =>
  state.term === 0 && state.vote === 0 && state.commit === 0;

export const isHardStateEqual = (a: HardState, b: HardState): boolean =>
  a.term === b.term && a.vote === b.vote && a.commit === b.commit;

// The ID used for "no node" (etcd's None).
export const NONE = 0;
