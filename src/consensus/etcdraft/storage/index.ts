export * from './types.js';
export { RaftStorageError, isRaftStorageError, type RaftStorageErrorCode } from './errors.js';
export { NodeStorageFs, type StorageFs, type StorageFileHandle } from './fs.js';
export {
  GroupCommitWriter,
  type GroupCommitTarget,
  type GroupCommitStats,
  type GroupCommitOptions,
} from '../../../wal/index.js';
export {
  RaftWal,
  DEFAULT_MAX_SNAPSHOT_FILES,
  DEFAULT_SEGMENT_SIZE_BYTES,
  type RaftSave,
  type RaftWalDependencies,
  type RaftWalOptions,
  type RaftWalStats,
  type RecoveredRaftState,
  type StorageLogger,
} from './wal.js';
