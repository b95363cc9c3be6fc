// The Raft shapes the storage reads and writes: the core's own, so the node driver hands Ready
// contents to the storage and recovered state back to the core without conversion.
export { EntryType } from '../raft/types.js';
export type { ConfState, Entry, HardState, Snapshot, SnapshotMetadata } from '../raft/types.js';
