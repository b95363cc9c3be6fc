// The block creator runs ahead of the writer: block N+2 is chained on N+1 before N+1 is written,
// and the writer accepts them in order, each signed on top of the hashes the creator chose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ChainedBlockCreator } from '../../../src/multichannel/blockcreator.js';
import { BlockWriter } from '../../../src/multichannel/blockwriter.js';
import { MemoryBlockStore } from '../../../src/ledger/index.js';
import { blockHeaderHash, newBlock, marshalBlock } from '../../../src/protoutil/block.js';
import { verifyBlock } from '../../../src/protoutil/verify.js';
import { common } from '../../../src/protos/index.js';
import type { SigningIdentity } from '../../../src/msp/types.js';
import { makeEnvelope } from '../../support/solo.js';

const signer = {
  mspId: 'OrdererMSP',
  serialized: Buffer.from('orderer'),
  certPem: '',
  sign: (message: Buffer) => Buffer.from(`sig:${message.length}`),
} as SigningIdentity;

test('block creator: three blocks in flight chain on each other, then are written and verify as a chain', async () => {
  const genesis = newBlock(0, Buffer.alloc(0), [makeEnvelope('config').raw]);
  const store = new MemoryBlockStore({ channelId: 'c' });
  await store.append({ number: 0, bytes: marshalBlock(genesis) });
  const writer = new BlockWriter(
    { lastBlock: genesis, lastConfigBlockNumber: 0 },
    { store, signer, logger: pino({ level: 'silent' }) },
  );
  const creator = new ChainedBlockCreator(genesis);
  const inFlight = ['a', 'b', 'c'].map((tx) => creator.createNextBlock([makeEnvelope(tx)]));
  assert.deepEqual(
    inFlight.map((b) => Number(b.header!.number)),
    [1, 2, 3],
  );
  assert.equal(creator.lastNumber, 3);
  assert.equal(store.height(), 1, 'nothing written while the blocks are agreed on');
  for (const block of inFlight) await writer.writeBlock(block);
  let previous: common.IBlock = genesis;
  for (let n = 1; n <= 3; n++) {
    const stored = common.Block.decode((await store.getBlock(n))!.bytes);
    await verifyBlock(stored, { previous });
    previous = stored;
  }
});

test('block creator: reset to the last written block abandons the blocks created after it', () => {
  const genesis = newBlock(0, Buffer.alloc(0), [makeEnvelope('config').raw]);
  const creator = new ChainedBlockCreator(genesis);
  const one = creator.createNextBlock([makeEnvelope('a')]);
  creator.createNextBlock([makeEnvelope('b')]);
  creator.resetTo(one);
  assert.equal(creator.lastNumber, 1);
  const again = creator.createNextBlock([makeEnvelope('c')]);
  assert.equal(Number(again.header!.number), 2);
  assert.ok(Buffer.from(again.header!.previousHash!).equals(blockHeaderHash(one.header!)));
});
