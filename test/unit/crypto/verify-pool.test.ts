import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  curveOfKey,
  encodeEcdsaSignature,
  generateKeyPair,
  parseEcdsaSignature,
  signEcdsa,
  verifyEcdsa,
  VerifyWorkerPool,
} from '../../../src/crypto/index.js';

describe('VerifyWorkerPool', () => {
  const pool = new VerifyWorkerPool({ workers: 2, maxBatch: 16 });
  after(() => pool.close());

  const p256 = generateKeyPair('P-256');
  const p384 = generateKeyPair('P-384');
  const other = generateKeyPair('P-256');

  it('gives each signature the answer the synchronous verifier gives, across batches and keys', async () => {
    // 100 cases over two curves, three keys and both hashes, in batches of 16 on two workers.
    const cases = Array.from({ length: 100 }, (_, i) => {
      const message = Buffer.from(`message ${i} `.repeat(1 + (i % 50)));
      const signer = i % 3 === 0 ? p384 : p256;
      const hash = signer === p384 ? 'sha384' : 'sha256';
      const signature = signEcdsa(signer.privateKey, message, hash);
      // Every fourth case is checked against another key, every seventh with a changed message.
      const key = i % 4 === 1 ? other.publicKey : signer.publicKey;
      const checked = i % 7 === 2 ? Buffer.concat([message, Buffer.from('!')]) : message;
      return { key, checked, signature, hash } as const;
    });
    const answers = await Promise.all(cases.map((c) => pool.verify(c.key, c.checked, c.signature, c.hash)));
    const expected = cases.map((c) => verifyEcdsa(c.key, c.checked, c.signature, c.hash));
    assert.deepEqual(answers, expected);
    assert.ok(expected.includes(true) && expected.includes(false), 'both answers occur');
  });

  it('refuses high-S and malformed signatures without sending them to a worker', async () => {
    const message = Buffer.from('block header bytes');
    const signature = signEcdsa(p256.privateKey, message, 'sha256');
    const { r, s } = parseEcdsaSignature(signature);
    const highS = encodeEcdsaSignature({ r, s: curveOfKey(p256.publicKey)!.order - s });
    assert.equal(await pool.verify(p256.publicKey, message, signature, 'sha256'), true);
    assert.equal(await pool.verify(p256.publicKey, message, highS, 'sha256'), false);
    assert.equal(
      await pool.verify(p256.publicKey, message, Buffer.from([0x30, 0x02, 0x01]), 'sha256'),
      false,
    );
    assert.equal(await pool.verify(p256.publicKey, message, Buffer.alloc(0), 'sha256'), false);
  });

  it('verifies a message that is a view into a larger buffer, as received envelopes are', async () => {
    const whole = Buffer.concat([Buffer.alloc(5000, 1), Buffer.from('the payload'), Buffer.alloc(5000, 2)]);
    const view = whole.subarray(5000, 5000 + 'the payload'.length);
    const signature = signEcdsa(p256.privateKey, Buffer.from('the payload'), 'sha256');
    assert.equal(await pool.verify(p256.publicKey, view, signature, 'sha256'), true);
  });

  it('sends a batch early once its messages reach maxBatchBytes, with the same answers', async () => {
    const small = new VerifyWorkerPool({ workers: 1, maxBatch: 1000, maxBatchBytes: 10_000 });
    try {
      const messages = Array.from({ length: 12 }, (_, i) => Buffer.alloc(3000, i));
      const signatures = messages.map((m) => signEcdsa(p256.privateKey, m, 'sha256'));
      const answers = await Promise.all(
        messages.map((m, i) => small.verify(p256.publicKey, m, signatures[(i + (i % 2)) % 12]!, 'sha256')),
      );
      assert.deepEqual(
        answers,
        messages.map((_, i) => i % 2 === 0),
      );
    } finally {
      await small.close();
    }
  });

  it('rejects verifications after close', async () => {
    const closing = new VerifyWorkerPool({ workers: 1 });
    const message = Buffer.from('x');
    const signature = signEcdsa(p256.privateKey, message, 'sha256');
    assert.equal(await closing.verify(p256.publicKey, message, signature, 'sha256'), true);
    await closing.close();
    await assert.rejects(closing.verify(p256.publicKey, message, signature, 'sha256'), /closed/);
  });

  it('needs at least one worker', () => {
    assert.throws(() => new VerifyWorkerPool({ workers: 0 }), /at least one worker/);
  });
});
