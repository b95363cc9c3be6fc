// The one place where typed errors become wire statuses: common.Status on the gRPC services
// (Fabric's ClassifyError and friends) and HTTP statuses on the admin and operations servers.
import { common } from './protos/index.js';
import { errorKind, type ErrorKind } from './errors.js';

export const Status = common.Status;

const statusByKind: Record<ErrorKind, number> = {
  'bad-request': common.Status.BAD_REQUEST,
  forbidden: common.Status.FORBIDDEN,
  'not-found': common.Status.NOT_FOUND,
  unavailable: common.Status.SERVICE_UNAVAILABLE,
  'too-large': common.Status.REQUEST_ENTITY_TOO_LARGE,
  // Fabric's common.Status has no 405; on the gRPC services it is a bad request.
  'method-not-allowed': common.Status.BAD_REQUEST,
  internal: common.Status.INTERNAL_SERVER_ERROR,
};

/**
 * The wire status for an error. Broadcast never answers 500 or 413 in Fabric v2.5: callers pass
 * the status that unexpected errors get on their path (BAD_REQUEST while validating,
 * SERVICE_UNAVAILABLE while enqueueing).
 */
export function statusOf(err: unknown, unexpected: number = common.Status.INTERNAL_SERVER_ERROR): number {
  const kind = errorKind(err);
  return kind === 'internal' ? unexpected : statusByKind[kind];
}

export function statusName(status: number): string {
  return common.Status[status] ?? String(status);
}

const httpStatusByKind: Record<ErrorKind, number> = {
  'bad-request': 400,
  forbidden: 403,
  'not-found': 404,
  'method-not-allowed': 405,
  'too-large': 413,
  unavailable: 503,
  internal: 500,
};

/** The HTTP status for an error on the channel participation and operations APIs. */
export function httpStatusOf(err: unknown): number {
  return httpStatusByKind[errorKind(err)];
}
