// Typed errors of the Raft storage. Each says what is wrong, where (file, byte offset) and what
// the operator can do; the code lets the driver tell a refused save from a dead log.
import { OrdererError, type ErrorKind } from '../../../errors.js';

export type RaftStorageErrorCode =
  /** A record in the WAL fails its checks somewhere other than a torn tail. */
  | 'wal-corrupt'
  /** A snap file the WAL points at is missing or damaged. */
  | 'snapshot-corrupt'
  /** A write or fsync failed; the log takes no more saves (the kernel may have dropped pages). */
  | 'wal-failed'
  | 'wal-closed'
  /** The caller asked for something the log cannot represent (a gap, an old snapshot). */
  | 'invalid-save';

export class RaftStorageError extends OrdererError {
  readonly code: RaftStorageErrorCode;

  constructor(
    code: RaftStorageErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    const kind: ErrorKind = code === 'wal-closed' ? 'unavailable' : 'internal';
    super(kind, message, { code, ...details }, options);
    this.name = 'RaftStorageError';
    this.code = code;
  }
}

export function isRaftStorageError(err: unknown, code?: RaftStorageErrorCode): err is RaftStorageError {
  return err instanceof RaftStorageError && (code === undefined || err.code === code);
}

/** What an operator can do about a damaged WAL or snap dir: said once, the same everywhere. */
export function repairAdvice(walDir: string, snapDir: string): string {
  return (
    `A damaged record before the end of the log is not repaired automatically, because records ` +
    `after it were acknowledged. Restore ${walDir} and ${snapDir} together from a backup, or stop ` +
    `the orderer, move both directories away and let this node catch up from the other consenters ` +
    `(it rejoins as a lagging member and receives a snapshot)`
  );
}
