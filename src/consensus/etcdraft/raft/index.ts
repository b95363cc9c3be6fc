// The Raft core's public surface (etcd raft v3.5.9, ported).
export * from './types.js';
export * from './errors.js';
export type { RaftLogger } from './logger.js';
export { silentRaftLogger } from './logger.js';
export type { Storage, InitialState } from './storage.js';
export { MemoryStorage } from './storage.js';
export { Raft, StateType, CampaignType, seededRandom, validateConfig, stateTypeName } from './raft.js';
export type { Config, RandomIntn, SoftState } from './raft.js';
export { ReadOnlyOption } from './read-only.js';
export type { ReadState } from './read-only.js';
export { RawNode, SnapshotStatus, mustSync, marshalConfChange, confChangeAsV2 } from './rawnode.js';
export type { Ready, Peer } from './rawnode.js';
export { getStatus, getBasicStatus, statusToJSON } from './status.js';
export type { Status, BasicStatus } from './status.js';
export {
  describeEntry,
  describeEntries,
  describeMessage,
  describeReady,
  describeHardState,
  describeSoftState,
  describeConfState,
  describeSnapshot,
  confChangesToString,
} from './describe.js';
export type { EntryFormatter } from './describe.js';
