import assert from 'node:assert/strict';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  curveOfKey,
  encodeEcdsaSignature,
  generateKeyPair,
  isLowS,
  loadPrivateKeyPem,
  parseEcdsaSignature,
  parseCertificatePem,
  sha256,
  signEcdsa,
  toLowS,
  verifyEcdsa,
  verifyEcdsaAsync,
  AsyncVerifyQueue,
  DEFAULT_ASYNC_VERIFY_CONCURRENCY,
  precheckEcdsaSignature,
  curveByName,
} from '../../../src/crypto/index.js';
import { FIXTURE_IDENTITIES, privateKeyPem, signcertPem } from '../../support/certs.js';

const message = Buffer.from('block header bytes');

function highSVariant(
  signature: Buffer,
  curveName: 'P-256' | 'P-384',
  key = generateKeyPair(curveName).publicKey,
) {
  const c = curveOfKey(key)!;
  const { r, s } = parseEcdsaSignature(signature);
  return encodeEcdsaSignature({ r, s: c.order - s });
}

describe('sha256', () => {
  it('matches the known vector for "abc"', () => {
    assert.equal(
      sha256(Buffer.from('abc')).toString('hex'),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    assert.deepEqual(sha256(Buffer.from('a'), Buffer.from('bc')), sha256(Buffer.from('abc')));
  });
});

describe('ECDSA with the fixture keys (P-256)', () => {
  const f = FIXTURE_IDENTITIES.org1User1;
  const privateKey = loadPrivateKeyPem(privateKeyPem(f.dir));
  const cert = parseCertificatePem(signcertPem(f.dir));

  it('loads the PKCS#8 key and it matches the signcert', () => {
    assert.equal(curveOfKey(privateKey)?.name, 'P-256');
    assert.deepEqual(
      createPublicKey(privateKey).export({ type: 'spki', format: 'der' }),
      cert.publicKey.export({ type: 'spki', format: 'der' }),
    );
  });

  it('signs low-S every time and the signature verifies (sync and async)', async () => {
    const curve = curveOfKey(privateKey)!;
    for (let i = 0; i < 40; i++) {
      const msg = Buffer.from(`message ${i}`);
      const sig = signEcdsa(privateKey, msg);
      assert.ok(isLowS(curve, parseEcdsaSignature(sig).s), 'signature must be low-S');
      assert.equal(verifyEcdsa(cert.publicKey, msg, sig), true);
      assert.equal(await verifyEcdsaAsync(cert.publicKey, msg, sig), true);
    }
  });

  it('rejects the high-S twin of a valid signature, although the curve math accepts it', async () => {
    const sig = signEcdsa(privateKey, message);
    const high = highSVariant(sig, 'P-256');
    // node/OpenSSL accepts high-S; Fabric does not
    assert.equal(nodeVerify('sha256', message, cert.publicKey, high), true);
    assert.equal(verifyEcdsa(cert.publicKey, message, high), false);
    assert.equal(await verifyEcdsaAsync(cert.publicKey, message, high), false);
    assert.deepEqual(toLowS(curveOfKey(privateKey)!, high), sig);
  });

  it('rejects wrong messages, wrong keys and malformed signatures', async () => {
    const sig = signEcdsa(privateKey, message);
    const other = generateKeyPair('P-256');
    const cases: [string, Buffer, Buffer, typeof cert.publicKey][] = [
      ['other message', Buffer.from('x'), sig, cert.publicKey],
      ['other key', message, sig, other.publicKey],
      ['empty', message, Buffer.alloc(0), cert.publicKey],
      ['garbage', message, Buffer.from('3006020101020101ff', 'hex'), cert.publicKey],
      ['zero r', message, encodeEcdsaSignature({ r: 0n, s: 1n }), cert.publicKey],
      ['truncated', message, sig.subarray(0, sig.length - 2), cert.publicKey],
    ];
    for (const [name, msg, s, key] of cases) {
      assert.equal(verifyEcdsa(key, msg, s), false, name);
      assert.equal(await verifyEcdsaAsync(key, msg, s), false, name);
    }
  });
});

describe('ECDSA P-384', () => {
  const keys = generateKeyPair('P-384');
  for (const hash of ['sha256', 'sha384'] as const) {
    it(`signs low-S and verifies with ${hash}`, async () => {
      const sig = signEcdsa(keys.privateKey, message, hash);
      assert.ok(isLowS(curveOfKey(keys.publicKey)!, parseEcdsaSignature(sig).s));
      assert.equal(verifyEcdsa(keys.publicKey, message, sig, hash), true);
      assert.equal(await verifyEcdsaAsync(keys.publicKey, message, sig, hash), true);
      assert.equal(
        verifyEcdsa(keys.publicKey, message, highSVariant(sig, 'P-384', keys.publicKey), hash),
        false,
      );
    });
  }
});

describe('async verify on the threadpool', () => {
  it('keeps at most the configured number of verifications on the threadpool, in arrival order', async () => {
    const keys = generateKeyPair('P-256');
    const messages = Array.from({ length: 12 }, (_, i) => Buffer.from(`message ${i}`));
    const sigs = messages.map((m) => signEcdsa(keys.privateKey, m));
    // Every other signature is for another message: results must stay with their callers.
    const checks = messages.map((m, i) => (i % 2 === 0 ? m : messages[(i + 1) % messages.length]!));
    const queue = new AsyncVerifyQueue({ concurrency: 2 });
    const order: number[] = [];
    const pending = checks.map((m, i) =>
      queue.verify(keys.publicKey, m, sigs[i]!).then((ok) => {
        order.push(i);
        return ok;
      }),
    );
    assert.deepEqual(queue.backlog(), { running: 2, queued: 10 });
    const results = await Promise.all(pending);
    assert.deepEqual(
      results,
      checks.map((_, i) => i % 2 === 0),
    );
    assert.deepEqual(queue.backlog(), { running: 0, queued: 0 });
    assert.equal(order.length, 12);
  });

  it('queues made separately keep separate limits and backlogs (no state shared between them)', async () => {
    const keys = generateKeyPair('P-256');
    const sig = signEcdsa(keys.privateKey, message);
    const one = new AsyncVerifyQueue({ concurrency: 1 });
    const three = new AsyncVerifyQueue({ concurrency: 3 });
    const pending = [
      ...Array.from({ length: 3 }, () => one.verify(keys.publicKey, message, sig)),
      ...Array.from({ length: 4 }, () => three.verify(keys.publicKey, message, sig)),
    ];
    assert.deepEqual(one.backlog(), { running: 1, queued: 2 });
    assert.deepEqual(three.backlog(), { running: 3, queued: 1 });
    // Raising one queue's limit starts its waiting work and leaves the other queue alone.
    one.setConcurrency(3);
    assert.deepEqual(one.backlog(), { running: 3, queued: 0 });
    assert.deepEqual(three.backlog(), { running: 3, queued: 1 });
    assert.deepEqual(await Promise.all(pending), Array(7).fill(true));
    assert.deepEqual(one.backlog(), { running: 0, queued: 0 });
    assert.deepEqual(three.backlog(), { running: 0, queued: 0 });
  });

  it('a queue answers as verifyEcdsa does for bad signatures, without taking a slot', async () => {
    const keys = generateKeyPair('P-256');
    const queue = new AsyncVerifyQueue({ concurrency: 1 });
    const wrong = signEcdsa(keys.privateKey, Buffer.from('another message'));
    const malformed = Buffer.from([0x30, 0x02, 0x02, 0x00]);
    const verdicts = [
      queue.verify(keys.publicKey, message, wrong),
      queue.verify(keys.publicKey, message, malformed),
    ];
    // The malformed one is refused by the precheck; only the wrong one reaches the threadpool.
    assert.deepEqual(queue.backlog(), { running: 1, queued: 0 });
    assert.deepEqual(await Promise.all(verdicts), [false, false]);
  });

  it('starts with the default limit and refuses a concurrency below one', async () => {
    const keys = generateKeyPair('P-256');
    const sig = signEcdsa(keys.privateKey, message);
    const queue = new AsyncVerifyQueue();
    const pending = Array.from({ length: DEFAULT_ASYNC_VERIFY_CONCURRENCY + 1 }, () =>
      queue.verify(keys.publicKey, message, sig),
    );
    assert.deepEqual(queue.backlog(), { running: DEFAULT_ASYNC_VERIFY_CONCURRENCY, queued: 1 });
    assert.throws(() => queue.setConcurrency(0), /must be >= 1 \(got 0\)/);
    assert.throws(() => new AsyncVerifyQueue({ concurrency: 1.5 }), /must be >= 1 \(got 1.5\)/);
    await Promise.all(pending);
  });
});

describe('ECDSA signature precheck', () => {
  /** The precheck as bigints spell it out: what the byte-level fast path must agree with. */
  function reference(curveName: 'P-256' | 'P-384', sig: Buffer): string {
    const c = curveByName(curveName)!;
    let parsed;
    try {
      parsed = parseEcdsaSignature(sig);
    } catch {
      return 'malformed';
    }
    if (parsed.s > c.halfOrder) return 'high-S';
    if (parsed.r >= c.order || parsed.s >= c.order) return 'range';
    const width = c.byteLength * 2;
    return parsed.r.toString(16).padStart(width, '0') + parsed.s.toString(16).padStart(width, '0');
  }
  function actual(key: ReturnType<typeof generateKeyPair>['publicKey'], sig: Buffer): string {
    const pre = precheckEcdsaSignature(key, sig);
    if (pre.p1363) return pre.p1363.toString('hex');
    if (/malformed/.test(pre.problem)) return 'malformed';
    if (/high S/.test(pre.problem)) return 'high-S';
    return 'range';
  }
  const der = (r: Buffer, s: Buffer, tail = Buffer.alloc(0)) =>
    Buffer.concat([
      Buffer.from([0x30, r.length + s.length + 4, 0x02, r.length]),
      r,
      Buffer.from([0x02, s.length]),
      s,
      tail,
    ]);

  for (const curveName of ['P-256', 'P-384'] as const) {
    it(`agrees with the bigint reference on ${curveName} signatures and their variants`, () => {
      const keys = generateKeyPair(curveName);
      const c = curveByName(curveName)!;
      const order = Buffer.from(c.order.toString(16).padStart(c.byteLength * 2, '0'), 'hex');
      const half = Buffer.from(c.halfOrder.toString(16).padStart(c.byteLength * 2, '0'), 'hex');
      const halfPlusOne = Buffer.from((c.halfOrder + 1n).toString(16).padStart(c.byteLength * 2, '0'), 'hex');
      const positive = (b: Buffer) => (b[0]! >= 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
      for (let i = 0; i < 60; i++) {
        const sig = signEcdsa(keys.privateKey, Buffer.from(`m${i}`));
        const { r, s } = parseEcdsaSignature(sig);
        const rb = positive(
          Buffer.from(
            r
              .toString(16)
              .padStart(2, '0')
              .replace(/^(.(..)*)$/, '0$1'),
            'hex',
          ),
        );
        const sb = positive(
          Buffer.from(
            s
              .toString(16)
              .padStart(2, '0')
              .replace(/^(.(..)*)$/, '0$1'),
            'hex',
          ),
        );
        const variants = [
          sig,
          der(rb, sb, Buffer.from([1, 2, 3])), // trailing bytes are ignored
          der(Buffer.concat([Buffer.from([0, 0]), rb]), sb), // extra leading zeros
          der(rb, positive(Buffer.from((c.order - s).toString(16).padStart(c.byteLength * 2, '0'), 'hex'))), // high S
          der(Buffer.from([0x80, ...rb.subarray(1)]), sb), // negative r
          der(Buffer.from([0]), sb), // zero r
          der(positive(order), sb), // r = order
          der(rb, positive(half)), // s = half order: allowed
          der(rb, positive(halfPlusOne)), // s = half order + 1: high
          sig.subarray(0, sig.length - 1), // truncated
          Buffer.concat([sig.subarray(0, 1), Buffer.from([sig[1]! - 1]), sig.subarray(2)]), // short sequence
        ];
        for (const v of variants)
          assert.equal(actual(keys.publicKey, v), reference(curveName, v), v.toString('hex'));
      }
    });
  }
});
