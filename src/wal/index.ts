// Write-ahead logging shared by the consenters: appends made durable in groups (one fsync for the
// appends that arrived while the previous one ran), used by the solo chain's log and Raft's storage.
export {
  GroupCommitWriter,
  type GroupCommitTarget,
  type GroupCommitStats,
  type GroupCommitOptions,
  type GroupCommitDependencies,
} from './group-commit.js';
