// Typed errors of the Raft core. The storage errors keep etcd's exact messages because
// callers (and etcd's tests) compare against them; where etcd panics (an invariant of the
// log or of the configuration broken), we throw a RaftInvariantError instead.

export type RaftErrorCode =
  | 'compacted'
  | 'snap-out-of-date'
  | 'unavailable'
  | 'snapshot-temporarily-unavailable'
  | 'proposal-dropped'
  | 'step-local-msg'
  | 'step-peer-not-found'
  | 'invariant'
  | 'wire-decode'
  | 'wire-uint64-overflow'
  | 'config';

export class RaftError extends Error {
  readonly code: RaftErrorCode;
  readonly details: Record<string, unknown>;

  constructor(
    code: RaftErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'RaftError';
    this.code = code;
    this.details = details;
  }
}

// Where etcd's Go code panics: a broken invariant, never bad input from a peer.
export class RaftInvariantError extends RaftError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('invariant', message, details);
    this.name = 'RaftInvariantError';
  }
}

// etcd's storage sentinels are shared values, compared by identity as Go compares them.
export const ErrCompacted = new RaftError('compacted', 'requested index is unavailable due to compaction');
export const ErrSnapOutOfDate = new RaftError(
  'snap-out-of-date',
  'requested index is older than the existing snapshot',
);
export const ErrUnavailable = new RaftError('unavailable', 'requested entry at index is unavailable');
export const ErrSnapshotTemporarilyUnavailable = new RaftError(
  'snapshot-temporarily-unavailable',
  'snapshot is temporarily unavailable',
);
export const ErrProposalDropped = new RaftError('proposal-dropped', 'raft proposal dropped');
export const ErrStepLocalMsg = new RaftError('step-local-msg', 'raft: cannot step raft local message');
export const ErrStepPeerNotFound = new RaftError(
  'step-peer-not-found',
  'raft: cannot step as peer not found',
);

export const isRaftError = (err: unknown, code: RaftErrorCode): err is RaftError =>
  err instanceof RaftError && err.code === code;

export const invariant = (message: string, details?: Record<string, unknown>): RaftInvariantError =>
  new RaftInvariantError(message, details);
