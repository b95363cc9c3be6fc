// The logger the Raft core writes to; etcd's raft.Logger without Fatal/Panic, which become
// thrown RaftInvariantError values here (errors.ts).
export interface RaftLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

// A logger that discards everything, for callers (and tests) that do not want Raft's chatter.
export const silentRaftLogger: RaftLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
