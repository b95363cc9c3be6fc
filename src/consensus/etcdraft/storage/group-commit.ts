// The group-commit writer moved to src/wal/ (the solo chain's log uses it too); Raft's storage
// files import it from here until they import src/wal/index.js directly.
export {
  GroupCommitWriter,
  type GroupCommitTarget,
  type GroupCommitStats,
  type GroupCommitOptions,
  type GroupCommitDependencies,
} from '../../../wal/index.js';
