import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs/minimal.js';
import {
  RecentBlockResponses,
  deliverBlockResponse,
  deliverStatusResponse,
} from '../../../src/deliver/index.js';
import { orderer } from '../../../src/protos/index.js';
import { marshalBlock } from '../../../src/ledger/index.js';

test('streams sent the same block buffer share one DeliverResponse, which carries the block', () => {
  const responses = new RecentBlockResponses();
  const block = marshalBlock({
    number: 9,
    previousHash: Buffer.alloc(32, 1),
    dataHash: Buffer.alloc(32, 2),
    data: [Buffer.alloc(70_000, 5)],
    metadata: [Buffer.from('m')],
  });
  const first = responses.responseFor(block);
  assert.equal(responses.responseFor(block), first);
  assert.deepEqual(first, deliverBlockResponse(block));
  const sent = orderer.DeliverResponse.decode(first).block!;
  assert.equal(Number(sent.header!.number), 9);
  assert.deepEqual(Buffer.from(sent.data!.data![0]!), Buffer.alloc(70_000, 5));
  // Equal bytes in another buffer are another block as far as the cache knows: built anew.
  assert.notEqual(responses.responseFor(Buffer.from(block)), first);
});

test('only the last few responses are kept, bounded by count and by bytes', () => {
  const byCount = new RecentBlockResponses(2, 1 << 20);
  const blocks = [1, 2, 3].map((n) => Buffer.alloc(10, n));
  const kept = blocks.map((b) => byCount.responseFor(b));
  assert.equal(byCount.responseFor(blocks[2]!), kept[2]);
  assert.equal(byCount.responseFor(blocks[1]!), kept[1]);
  assert.notEqual(byCount.responseFor(blocks[0]!), kept[0], 'the oldest was dropped');

  const byBytes = new RecentBlockResponses(10, 250);
  const big = [1, 2, 3].map((n) => Buffer.alloc(100, n));
  const held = big.map((b) => byBytes.responseFor(b));
  assert.equal(byBytes.responseFor(big[2]!), held[2]);
  assert.notEqual(byBytes.responseFor(big[0]!), held[0], 'three of about 100 bytes do not fit in 250');

  const huge = Buffer.alloc(300, 9);
  const response = byBytes.responseFor(huge);
  assert.deepEqual(response, deliverBlockResponse(huge));
  assert.notEqual(byBytes.responseFor(huge), response, 'a response over the byte bound is not kept');
});

test('DeliverResponse status and block bytes built by hand are what the generated encoder writes', () => {
  for (const status of [200, 400, 403, 404, 503]) {
    assert.deepEqual(
      deliverStatusResponse(status),
      Buffer.from(orderer.DeliverResponse.encode({ status }).finish()),
    );
  }
  for (const size of [0, 1, 127, 128, 70_000]) {
    const block = Buffer.alloc(size, 1);
    const expected = Buffer.concat([Buffer.from([0x12]), encodeLength(size), block]);
    assert.deepEqual(deliverBlockResponse(block), expected, `block of ${size} bytes`);
  }
});

/** A protobuf length as the generated writer's uint32 encodes it. */
function encodeLength(length: number): Buffer {
  return Buffer.from(protobuf.Writer.create().uint32(length).finish());
}
