// Every error code gets the status Fabric v2.5 answers for it: the one table of error-to-status
// mapping for Broadcast, Deliver (common.Status) and the HTTP APIs, read from the code alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  badRequest,
  ERROR_CODES,
  errorCode,
  forbidden,
  internal,
  notFound,
  OrdererError,
  unavailable,
  withMessagePrefix,
  type ErrorCode,
  type ErrorKind,
} from '../../src/errors.js';
import { httpStatusOf, wireStatusOf } from '../../src/status.js';
import { common } from '../../src/protos/index.js';

const S = common.Status;

// code: [kind, common.Status, HTTP status] — written out by hand from Fabric's ClassifyError,
// deliver.go and restapi.go, not derived from the table under test.
const expected: Record<ErrorCode, [ErrorKind, number, number]> = {
  'bad-request': ['bad-request', S.BAD_REQUEST, 400],
  forbidden: ['forbidden', S.FORBIDDEN, 403],
  'not-found': ['not-found', S.NOT_FOUND, 404],
  unavailable: ['unavailable', S.SERVICE_UNAVAILABLE, 503],
  'too-large': ['too-large', S.REQUEST_ENTITY_TOO_LARGE, 413],
  'method-not-allowed': ['method-not-allowed', S.BAD_REQUEST, 405],
  internal: ['internal', S.INTERNAL_SERVER_ERROR, 500],
  'channel-not-found': ['not-found', S.NOT_FOUND, 404],
  'block-not-found': ['not-found', S.NOT_FOUND, 404],
  'permission-denied': ['forbidden', S.FORBIDDEN, 403],
  'identity-expired': ['forbidden', S.FORBIDDEN, 403],
  'maintenance-mode': ['unavailable', S.SERVICE_UNAVAILABLE, 503],
  'empty-message': ['bad-request', S.BAD_REQUEST, 400],
  'channel-exists': ['method-not-allowed', S.BAD_REQUEST, 405],
  'system-channel-exists': ['method-not-allowed', S.BAD_REQUEST, 405],
  'no-system-channel': ['bad-request', S.BAD_REQUEST, 400],
  'not-a-consenter': ['unavailable', S.SERVICE_UNAVAILABLE, 503],
  'no-leader': ['unavailable', S.SERVICE_UNAVAILABLE, 503],
  'not-accepted': ['unavailable', S.SERVICE_UNAVAILABLE, 503],
  'message-rejected': ['bad-request', S.BAD_REQUEST, 400],
  'participation-disabled': ['unavailable', S.SERVICE_UNAVAILABLE, 503],
  'client-certificate-required': ['forbidden', S.FORBIDDEN, 401],
  'health-check-timeout': ['unavailable', S.SERVICE_UNAVAILABLE, 408],
};

test('every error code has its kind, common.Status and HTTP status', () => {
  assert.deepEqual([...ERROR_CODES].sort(), Object.keys(expected).sort());
  for (const code of ERROR_CODES) {
    const [kind, status, http] = expected[code];
    const err = new OrdererError(code, `a ${code} failure`, { channel: 'mychannel' });
    assert.equal(err.errorCode, code);
    assert.equal(err.kind, kind, `kind of ${code}`);
    assert.equal(wireStatusOf(err), status, `common.Status of ${code}`);
    assert.equal(httpStatusOf(err), http, `HTTP status of ${code}`);
  }
});

test('anything that is not an OrdererError is an internal error: 500 on every surface', () => {
  for (const thrown of [new Error('a bug'), new TypeError('x is undefined'), 'a string', undefined]) {
    assert.equal(errorCode(thrown), 'internal');
    assert.equal(wireStatusOf(thrown), S.INTERNAL_SERVER_ERROR);
    assert.equal(httpStatusOf(thrown), 500);
  }
});

test('the helper constructors make the generic code of their kind', () => {
  const cases: [OrdererError, ErrorCode][] = [
    [badRequest('b'), 'bad-request'],
    [forbidden('f'), 'forbidden'],
    [notFound('n'), 'not-found'],
    [unavailable('u'), 'unavailable'],
    [internal('i'), 'internal'],
  ];
  for (const [err, code] of cases) {
    assert.equal(err.errorCode, code);
    assert.equal(err.kind, code);
  }
});

test('a prefixed error keeps its code, details and cause', () => {
  const original = new OrdererError('permission-denied', 'access denied', { policy: '/Channel/Writers' });
  const prefixed = withMessagePrefix(original, 'config transaction inspection failed: ');
  assert.equal(prefixed.errorCode, 'permission-denied');
  assert.equal(prefixed.message, 'config transaction inspection failed: access denied');
  assert.deepEqual(prefixed.details, { policy: '/Channel/Writers' });
  assert.equal(prefixed.cause, original);
});
