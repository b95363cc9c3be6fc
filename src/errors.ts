// Errors are typed inside the orderer: each failure has a code from one closed set, and the code
// alone decides the wire status it is answered with (src/status.ts, the only mapping, as Fabric's
// ClassifyError and the channel participation handler's error switches are for Fabric).
// Every message should say what was wrong and, where it can, what to do about it.

export type ErrorKind =
  | 'bad-request' // malformed or invalid input
  | 'forbidden' // a policy or permission check failed
  | 'not-found' // channel or block does not exist
  | 'unavailable' // consenter not ready, halted, maintenance, broker down
  | 'too-large'
  | 'method-not-allowed' // e.g. joining a channel that exists (channel participation 405)
  | 'internal';

/**
 * Every failure code and the kind of failure it is. Each kind is also a code of its own, for
 * failures no specific code describes, so `new OrdererError('bad-request', ...)` and the helper
 * constructors below keep meaning what they always did.
 */
export const ERROR_CODE_KINDS = {
  'bad-request': 'bad-request',
  forbidden: 'forbidden',
  'not-found': 'not-found',
  unavailable: 'unavailable',
  'too-large': 'too-large',
  'method-not-allowed': 'method-not-allowed',
  internal: 'internal',

  /** Fabric's msgprocessor.ErrChannelDoesNotExist and types.ErrChannelNotExist. */
  'channel-not-found': 'not-found',
  /** Deliver: a block above the height with FAIL_IF_NOT_READY, or one the ledger no longer has. */
  'block-not-found': 'not-found',
  /** Fabric's msgprocessor.ErrPermissionDenied: a policy refused the signer. */
  'permission-denied': 'forbidden',
  /** The creator's certificate has expired (Fabric's ExpirationRejectRule and SessionAccessControl). */
  'identity-expired': 'forbidden',
  /** Fabric's msgprocessor.ErrMaintenanceMode: normal transactions while ConsensusType.State is maintenance. */
  'maintenance-mode': 'unavailable',
  /** Fabric's msgprocessor.ErrEmptyMessage. */
  'empty-message': 'bad-request',
  /** Fabric's types.ErrChannelAlreadyExists. */
  'channel-exists': 'method-not-allowed',
  /** Fabric's types.ErrSystemChannelExists: channel participation refused while a system channel exists. */
  'system-channel-exists': 'method-not-allowed',
  /** A message for a channel this orderer does not have, and no system channel to create it with. */
  'no-system-channel': 'bad-request',
  /** This orderer is not in the channel's consenter set. */
  'not-a-consenter': 'unavailable',
  /** The consenter has no leader to order with right now. */
  'no-leader': 'unavailable',
  /**
   * Broadcast: the consenter was not ready for the message or did not take it. Fabric's
   * ProcessMessage answers every failure of WaitReady, Order and Configure with SERVICE_UNAVAILABLE,
   * whatever caused it (the cause is kept).
   */
  'not-accepted': 'unavailable',
  /**
   * Broadcast: validation failed for a reason no other code names. Fabric's ClassifyError answers
   * every such error with BAD_REQUEST (the cause is kept).
   */
  'message-rejected': 'bad-request',
  /** The channel participation API is switched off (ChannelParticipation.Enabled). */
  'participation-disabled': 'unavailable',
  /** Operations: a secured endpoint without a verified client certificate (Fabric's RequireCert). */
  'client-certificate-required': 'forbidden',
  /** Operations: /healthz checks did not finish in time. */
  'health-check-timeout': 'unavailable',
} as const satisfies Record<string, ErrorKind>;

export type ErrorCode = keyof typeof ERROR_CODE_KINDS;

export const ERROR_CODES = Object.keys(ERROR_CODE_KINDS) as ErrorCode[];

export class OrdererError extends Error {
  /**
   * Which failure this is; it alone decides the wire status. Not named `code`: subclasses (the
   * Raft node and storage errors) keep their own finer `code` beside it.
   */
  readonly errorCode: ErrorCode;
  /** Derived from the code; kept as a field so that logs and assertions see it as before. */
  readonly kind: ErrorKind;
  readonly details: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'OrdererError';
    this.errorCode = code;
    this.kind = ERROR_CODE_KINDS[code];
    this.details = details;
  }
}

type Details = Record<string, unknown>;

export const badRequest = (message: string, details?: Details, options?: ErrorOptions) =>
  new OrdererError('bad-request', message, details, options);
export const forbidden = (message: string, details?: Details, options?: ErrorOptions) =>
  new OrdererError('forbidden', message, details, options);
export const notFound = (message: string, details?: Details, options?: ErrorOptions) =>
  new OrdererError('not-found', message, details, options);
export const unavailable = (message: string, details?: Details, options?: ErrorOptions) =>
  new OrdererError('unavailable', message, details, options);
export const internal = (message: string, details?: Details, options?: ErrorOptions) =>
  new OrdererError('internal', message, details, options);

/** The same failure with a message prefixed (the cause kept), as Go's errors.WithMessage. */
export function withMessagePrefix(err: OrdererError, prefix: string): OrdererError {
  return new OrdererError(err.errorCode, prefix + err.message, err.details, { cause: err });
}

/** The code of an error; anything that is not an OrdererError is a bug, so internal. */
export function errorCode(err: unknown): ErrorCode {
  return err instanceof OrdererError ? err.errorCode : 'internal';
}

export function errorKind(err: unknown): ErrorKind {
  return ERROR_CODE_KINDS[errorCode(err)];
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
