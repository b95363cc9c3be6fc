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
 * Where an error is answered. Fabric v2.5 answers Broadcast's validation failures it did not
 * classify with BAD_REQUEST and every failure to wait for or enter the consenter with
 * SERVICE_UNAVAILABLE (broadcast.go: ProcessMessage), never 500 or 413 there; Deliver answers what
 * it did not classify with INTERNAL_SERVER_ERROR.
 */
export type WireSurface = 'broadcast-validate' | 'broadcast-order' | 'deliver';

/** The common.Status an error gets on a gRPC surface: the only mapping of errors to wire statuses. */
export function wireStatusOf(surface: WireSurface, err: unknown): number {
  const kind = errorKind(err);
  switch (surface) {
    case 'broadcast-order':
      return common.Status.SERVICE_UNAVAILABLE;
    case 'broadcast-validate':
      return kind === 'internal' ? common.Status.BAD_REQUEST : statusByKind[kind];
    case 'deliver':
      return statusByKind[kind];
  }
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
