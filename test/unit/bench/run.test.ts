// The load generator finds its envelopes in delivered blocks by their signature bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { envelopeSignatureKey } from '../../../src/bench/run.js';
import { transactionEnvelope } from '../../../src/bench/envelopes.js';
import { generateKeyPair, signEcdsa } from '../../../src/crypto/index.js';
import { asBuffer, common } from '../../../src/protos/index.js';

const keys = generateKeyPair('P-256');
const signer = {
  mspId: 'Org1MSP',
  serialized: Buffer.from('creator'),
  sign: (message: Buffer) => signEcdsa(keys.privateKey, message),
};

test('envelopeSignatureKey reads the signature of a marshalled envelope', () => {
  for (const size of [0, 64, 1024, 100_000]) {
    const tx = transactionEnvelope(signer, 'devchannel', size);
    const signature = asBuffer(common.Envelope.decode(tx.bytes).signature);
    assert.equal(envelopeSignatureKey(tx.bytes), signature.toString('latin1'), `size ${size}`);
    // Also when the envelope is a view into a larger buffer (as in a decoded block).
    const framed = Buffer.concat([Buffer.from([1, 2, 3]), tx.bytes, Buffer.from([4])]);
    const view = framed.subarray(3, 3 + tx.bytes.length);
    assert.equal(envelopeSignatureKey(view), signature.toString('latin1'));
  }
});

test('envelopeSignatureKey gives up on anything but payload and signature fields', () => {
  assert.equal(envelopeSignatureKey(Buffer.from([0x1a, 0x01, 0x00])), undefined);
  assert.equal(envelopeSignatureKey(Buffer.from([0x12, 0x05, 0x00])), undefined, 'truncated');
  assert.equal(envelopeSignatureKey(Buffer.from([0x0a, 0x01, 0x00])), undefined, 'no signature');
});
