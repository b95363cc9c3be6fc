import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeConsensusStep } from '../../../src/cluster/comm.js';
import { orderer } from '../../../src/protos/index.js';

const requests: orderer.IConsensusRequest[] = [
  { channel: 'mychannel', payload: Buffer.alloc(300_000, 7), metadata: Buffer.from('meta') },
  { channel: 'ch', payload: Buffer.from([1, 2, 3]) },
  { channel: 'kanał-ü', payload: new Uint8Array(0), metadata: new Uint8Array(0) },
  { payload: Buffer.alloc(130, 1) },
  {},
];

test('a consensus StepRequest encoded by hand is the bytes the generated encoder writes', () => {
  for (const request of requests) {
    const bytes = encodeConsensusStep(request);
    assert.deepEqual(bytes, Buffer.from(orderer.StepRequest.encode({ consensusRequest: request }).finish()));
    const decoded = orderer.StepRequest.decode(bytes);
    assert.equal(decoded.payload, 'consensusRequest');
    assert.equal(decoded.consensusRequest!.channel, request.channel ?? '');
    assert.deepEqual(Buffer.from(decoded.consensusRequest!.payload!), Buffer.from(request.payload ?? []));
    assert.deepEqual(Buffer.from(decoded.consensusRequest!.metadata!), Buffer.from(request.metadata ?? []));
  }
});
