// canonicalEnvelopeBytes: block data holds Envelope{payload, signature} exactly as Go marshals it;
// received bytes already in that form are used as they are, anything else is re-encoded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asBuffer, common } from '../../../src/protos/index.js';
import { canonicalEnvelopeBytes, decodeEnvelope } from '../../../src/protoutil/envelope.js';
import { makeEnvelope } from '../../support/solo.js';

const encoded = (payload: Buffer, signature: Buffer) =>
  asBuffer(
    common.Envelope.encode({
      ...(payload.length ? { payload } : {}),
      ...(signature.length ? { signature } : {}),
    }).finish(),
  );

test('canonical received bytes are used as they are (no copy)', () => {
  for (const dataBytes of [0, 16, 200, 20_000]) {
    const env = decodeEnvelope(makeEnvelope('tx', { dataBytes }).raw);
    assert.equal(canonicalEnvelopeBytes(env), env.raw, `data ${dataBytes}`);
  }
});

test('non-canonical envelopes are re-encoded to the canonical form', () => {
  const base = decodeEnvelope(makeEnvelope('tx', { dataBytes: 300 }).raw);
  const canonical = encoded(base.payload, base.signature);
  const field = (tag: number, value: Buffer, lengthBytes?: Buffer) =>
    Buffer.concat([Buffer.from([tag]), lengthBytes ?? varint(value.length), value]);
  const cases: Record<string, Buffer> = {
    'signature first': Buffer.concat([field(0x12, base.signature), field(0x0a, base.payload)]),
    'unknown field': Buffer.concat([
      field(0x0a, base.payload),
      field(0x12, base.signature),
      field(0x1a, Buffer.from('x')),
    ]),
    'non-minimal length varint': Buffer.concat([
      field(
        0x0a,
        base.payload,
        Buffer.from([0x80 | (base.payload.length & 0x7f), 0x80 | (base.payload.length >> 7), 0x00]),
      ),
      field(0x12, base.signature),
    ]),
    'payload twice': Buffer.concat([
      field(0x0a, Buffer.from('old')),
      field(0x0a, base.payload),
      field(0x12, base.signature),
    ]),
  };
  for (const [name, raw] of Object.entries(cases)) {
    const env = decodeEnvelope(raw);
    const out = canonicalEnvelopeBytes(env);
    assert.notEqual(out, env.raw, name);
    assert.deepEqual(out, canonical, name);
  }
});

function varint(value: number): Buffer {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  out.push(value);
  return Buffer.from(out);
}
