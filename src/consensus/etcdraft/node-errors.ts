// Typed errors of the Raft node driver. The code lets the chain tell a node that was stopped on
// purpose from one that halted because its WAL or its application failed.
import { OrdererError, type ErrorKind } from '../../errors.js';

export type RaftNodeErrorCode =
  /** The options or the recovered state do not allow the node to start. */
  | 'invalid-options'
  /** The node was stopped with stop(); it takes no more input. */
  | 'stopped'
  /** Persisting a Ready or applying its entries failed; the node stopped itself (Fabric panics). */
  | 'halted';

export class RaftNodeError extends OrdererError {
  readonly code: RaftNodeErrorCode;

  constructor(
    code: RaftNodeErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    const kind: ErrorKind = code === 'invalid-options' ? 'internal' : 'unavailable';
    super(kind, message, { code, ...details }, options);
    this.name = 'RaftNodeError';
    this.code = code;
  }
}

export function isRaftNodeError(err: unknown, code?: RaftNodeErrorCode): err is RaftNodeError {
  return err instanceof RaftNodeError && (code === undefined || err.code === code);
}
