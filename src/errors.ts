// Errors are typed inside the orderer and mapped to a wire status in exactly one place
// (broadcast/status.ts, deliver/status.ts), as Fabric's ClassifyError does.
// Every message should say what was wrong and, where it can, what to do about it.

export type ErrorKind =
  | 'bad-request' // malformed or invalid input
  | 'forbidden' // a policy or permission check failed
  | 'not-found' // channel or block does not exist
  | 'unavailable' // consenter not ready, halted, maintenance, broker down
  | 'too-large'
  | 'method-not-allowed' // e.g. joining a channel that exists (channel participation 405)
  | 'internal';

export class OrdererError extends Error {
  readonly kind: ErrorKind;
  readonly details: Record<string, unknown>;

  constructor(
    kind: ErrorKind,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'OrdererError';
    this.kind = kind;
    this.details = details;
  }
}

export const badRequest = (message: string, details?: Record<string, unknown>, options?: ErrorOptions) =>
  new OrdererError('bad-request', message, details, options);
export const forbidden = (message: string, details?: Record<string, unknown>, options?: ErrorOptions) =>
  new OrdererError('forbidden', message, details, options);
export const notFound = (message: string, details?: Record<string, unknown>, options?: ErrorOptions) =>
  new OrdererError('not-found', message, details, options);
export const unavailable = (message: string, details?: Record<string, unknown>, options?: ErrorOptions) =>
  new OrdererError('unavailable', message, details, options);
export const internal = (message: string, details?: Record<string, unknown>, options?: ErrorOptions) =>
  new OrdererError('internal', message, details, options);

export function errorKind(err: unknown): ErrorKind {
  return err instanceof OrdererError ? err.kind : 'internal';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
