// The one place where typed errors become wire statuses: each error code has its common.Status
// (Broadcast and Deliver; Fabric's ClassifyError and deliver.go) and its HTTP status (channel
// participation and operations; Fabric's restapi.go) in one table, and nothing else is consulted.
import { common } from './protos/index.js';
import { errorCode, type ErrorCode } from './errors.js';

export const Status = common.Status;

export interface WireStatuses {
  /** common.Status on the gRPC services. */
  readonly common: number;
  readonly http: number;
}

const S = common.Status;

export const STATUS_BY_CODE: Readonly<Record<ErrorCode, WireStatuses>> = {
  'bad-request': { common: S.BAD_REQUEST, http: 400 },
  forbidden: { common: S.FORBIDDEN, http: 403 },
  'not-found': { common: S.NOT_FOUND, http: 404 },
  unavailable: { common: S.SERVICE_UNAVAILABLE, http: 503 },
  'too-large': { common: S.REQUEST_ENTITY_TOO_LARGE, http: 413 },
  // Fabric's common.Status has no 405; on the gRPC services it is a bad request.
  'method-not-allowed': { common: S.BAD_REQUEST, http: 405 },
  internal: { common: S.INTERNAL_SERVER_ERROR, http: 500 },

  'channel-not-found': { common: S.NOT_FOUND, http: 404 },
  'block-not-found': { common: S.NOT_FOUND, http: 404 },
  'permission-denied': { common: S.FORBIDDEN, http: 403 },
  'identity-expired': { common: S.FORBIDDEN, http: 403 },
  'maintenance-mode': { common: S.SERVICE_UNAVAILABLE, http: 503 },
  'empty-message': { common: S.BAD_REQUEST, http: 400 },
  'channel-exists': { common: S.BAD_REQUEST, http: 405 },
  'system-channel-exists': { common: S.BAD_REQUEST, http: 405 },
  'no-system-channel': { common: S.BAD_REQUEST, http: 400 },
  'not-a-consenter': { common: S.SERVICE_UNAVAILABLE, http: 503 },
  'no-leader': { common: S.SERVICE_UNAVAILABLE, http: 503 },
  'not-accepted': { common: S.SERVICE_UNAVAILABLE, http: 503 },
  'message-rejected': { common: S.BAD_REQUEST, http: 400 },
  'participation-disabled': { common: S.SERVICE_UNAVAILABLE, http: 503 },
  // Fabric's RequireCert answers 401 Unauthorized; gRPC has no such status, a client's fault there.
  'client-certificate-required': { common: S.FORBIDDEN, http: 401 },
  // Fabric's healthz handler answers 408 Request Timeout.
  'health-check-timeout': { common: S.SERVICE_UNAVAILABLE, http: 408 },
};

/** The common.Status an error is answered with on Broadcast and Deliver. */
export function wireStatusOf(err: unknown): number {
  return STATUS_BY_CODE[errorCode(err)].common;
}

/** The HTTP status for an error on the channel participation and operations APIs. */
export function httpStatusOf(err: unknown): number {
  return STATUS_BY_CODE[errorCode(err)].http;
}

export function statusName(status: number): string {
  return common.Status[status] ?? String(status);
}
