// Every error kind on every surface gets the status Fabric v2.5 answers there: the one table of
// error-to-status mapping for Broadcast, Deliver and the HTTP APIs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OrdererError, type ErrorKind } from '../../src/errors.js';
import { httpStatusOf, wireStatusOf, type WireSurface } from '../../src/status.js';
import { common } from '../../src/protos/index.js';

const S = common.Status;
const kinds: ErrorKind[] = [
  'bad-request',
  'forbidden',
  'not-found',
  'unavailable',
  'too-large',
  'method-not-allowed',
  'internal',
];

// Columns follow `kinds`; a plain Error (not an OrdererError) counts as internal.
const table: Record<WireSurface | 'http', number[]> = {
  'broadcast-validate': [
    S.BAD_REQUEST,
    S.FORBIDDEN,
    S.NOT_FOUND,
    S.SERVICE_UNAVAILABLE,
    S.REQUEST_ENTITY_TOO_LARGE,
    S.BAD_REQUEST,
    S.BAD_REQUEST,
  ],
  'broadcast-order': kinds.map(() => S.SERVICE_UNAVAILABLE),
  deliver: [
    S.BAD_REQUEST,
    S.FORBIDDEN,
    S.NOT_FOUND,
    S.SERVICE_UNAVAILABLE,
    S.REQUEST_ENTITY_TOO_LARGE,
    S.BAD_REQUEST,
    S.INTERNAL_SERVER_ERROR,
  ],
  http: [400, 403, 404, 503, 413, 405, 500],
};

for (const [surface, statuses] of Object.entries(table)) {
  test(`error statuses on ${surface}`, () => {
    kinds.forEach((kind, i) => {
      const err = new OrdererError(kind, `a ${kind} failure`);
      const status = surface === 'http' ? httpStatusOf(err) : wireStatusOf(surface as WireSurface, err);
      assert.equal(status, statuses[i], `${kind} on ${surface}`);
    });
    const plain = new Error('a bug');
    const internalIndex = kinds.indexOf('internal');
    const status = surface === 'http' ? httpStatusOf(plain) : wireStatusOf(surface as WireSurface, plain);
    assert.equal(status, statuses[internalIndex], `a plain Error on ${surface}`);
  });
}
