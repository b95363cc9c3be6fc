import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  blockDataHash,
  blockHeaderBytes,
  blockHeaderHash,
  unmarshalCanonicalBlock,
} from '../../../src/ledger/index.js';
import { goldenBlocks } from '../../support/ledger.js';

const headerVectors = [
  { number: 0, previousHash: '', dataHash: '', der: '300702010004000400' },
  { number: 1, previousHash: 'foo', dataHash: 'bar', der: '300d0201010403666f6f0403626172' },
  {
    number: 2n ** 64n - 1n,
    previousHash: 'foo',
    dataHash: 'bar',
    der: '3015020900ffffffffffffffff0403666f6f0403626172',
  },
  { number: 127, previousHash: '', dataHash: '', der: '300702017f04000400' },
  { number: 128, previousHash: '', dataHash: '', der: '30080202008004000400' },
  { number: 256, previousHash: '', dataHash: '', der: '30080202010004000400' },
];

for (const vector of headerVectors) {
  test(`header DER of (${vector.number}, "${vector.previousHash}", "${vector.dataHash}")`, () => {
    const header = {
      number: vector.number,
      previousHash: Buffer.from(vector.previousHash),
      dataHash: Buffer.from(vector.dataHash),
    };
    assert.equal(blockHeaderBytes(header).toString('hex'), vector.der);
    assert.deepEqual(
      blockHeaderHash(header),
      createHash('sha256').update(Buffer.from(vector.der, 'hex')).digest(),
    );
  });
}

test('header DER uses long-form lengths when the hashes are long', () => {
  const der = blockHeaderBytes({
    number: 5,
    previousHash: Buffer.alloc(100, 1),
    dataHash: Buffer.alloc(100, 2),
  });
  assert.equal(der.subarray(0, 3).toString('hex'), '3081cf');
  assert.equal(der.length, 3 + 0xcf);
});

test('rejects block numbers outside uint64 or unsafe as numbers', () => {
  const hashes = { previousHash: Buffer.alloc(0), dataHash: Buffer.alloc(0) };
  assert.throws(() => blockHeaderBytes({ number: -1, ...hashes }), RangeError);
  assert.throws(() => blockHeaderBytes({ number: 2n ** 64n, ...hashes }), RangeError);
  assert.throws(() => blockHeaderBytes({ number: 2 ** 60, ...hashes }), RangeError);
});

for (const channelId of ['mychannel', 'system-channel'] as const) {
  test(`golden ${channelId} chain: data hashes and previous hashes match what the Go orderer wrote`, async () => {
    const blocks = (await goldenBlocks(channelId)).map(unmarshalCanonicalBlock);
    for (const [i, block] of blocks.entries()) {
      assert.deepEqual(blockDataHash(block.data), Buffer.from(block.dataHash), `data hash of block ${i}`);
      if (i === 0) assert.equal(block.previousHash.length, 0);
      else
        assert.deepEqual(
          Buffer.from(block.previousHash),
          blockHeaderHash(blocks[i - 1]!),
          `previous hash of ${i}`,
        );
    }
  });
}
