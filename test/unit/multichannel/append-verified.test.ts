// ChainSupport.appendVerified and block(n) on the Go orderer's golden ledger: blocks built and
// signed by Fabric's orderer are accepted as received (a config block applies its config), and a
// block that fails any check is refused with the check named, leaving the channel as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { systemClock } from '../../../src/clock.js';
import { OrdererError } from '../../../src/errors.js';
import { MemoryBlockStore } from '../../../src/ledger/index.js';
import { common, asBuffer } from '../../../src/protos/index.js';
import { BlockMetadataIndex, blockHeaderHash, newBlock } from '../../../src/protoutil/block.js';
import { BlockWriter } from '../../../src/multichannel/blockwriter.js';
import { loadLocalMsp } from '../../../src/msp/index.js';
import { join } from 'node:path';
import { buildChainSupport } from '../../support/chain-support.js';
import { CRYPTO } from '../../support/fabric-clients.js';
import type { SigningIdentity } from '../../../src/msp/types.js';
import { goldenBlocks } from '../../support/ledger.js';

const signer = { mspId: 'OrdererMSP', serialized: Buffer.from('us'), certPem: '' } as SigningIdentity;

async function setup() {
  const golden = await goldenBlocks('mychannel');
  const applied: number[] = [];
  const { support, store } = await buildChainSupport(golden[0]!, {
    signer,
    onConfigApplied: (bundle) => applied.push(bundle.sequence),
  });
  return { support, store, golden, applied };
}

const reencode = (block: common.Block) => asBuffer(common.Block.encode(block).finish());

test('appendVerified: the Go orderer signed blocks 1-5 are stored byte for byte, block 2 applies its config', async () => {
  const { support, store, golden, applied } = await setup();
  const sequence = support.sequence();
  const maxMessageCount = support.sharedConfig().batchSize.maxMessageCount;
  for (let n = 1; n < golden.length; n++) await support.appendVerified(golden[n]!);
  await support.flushed();
  assert.equal(support.height(), golden.length);
  for (let n = 0; n < golden.length; n++) {
    assert.ok((await store.getBlock(n))!.bytes.equals(golden[n]!), `block ${n} stored as received`);
  }
  assert.equal(support.sequence(), sequence + 1);
  assert.deepEqual(applied, [sequence + 1]);
  assert.equal(maxMessageCount, 500);
  assert.equal(support.sharedConfig().batchSize.maxMessageCount, 10);
  assert.equal(support.lastConfigBlockNumber(), 2);
  // block(n) reads back what was written; nothing above the height.
  assert.equal(Number((await support.block(5))!.header!.number), 5);
  assert.equal(await support.block(6), undefined);
  assert.equal(await support.block(-1), undefined);
  // Blocks made here after the received ones chain on block 5.
  const next = support.newBlockCreator().createNextBlock([]);
  assert.equal(Number(next.header!.number), 6);
});

const refusals: {
  name: string;
  bytes: (golden: Buffer[]) => Buffer;
  kind: OrdererError['kind'];
  message: RegExp;
}[] = [
  {
    name: 'not a block',
    bytes: () => Buffer.from([0xff, 0xff, 0xff]),
    kind: 'bad-request',
    message: /not a common\.Block/,
  },
  {
    name: 'a gap',
    bytes: (g) => g[2]!,
    kind: 'bad-request',
    message: /append block 2 .* the next block is 1/,
  },
  {
    name: 'a broken hash chain',
    bytes: (g) => {
      const block = common.Block.decode(g[1]!);
      block.header!.previousHash = Buffer.alloc(32, 1);
      return reencode(block);
    },
    kind: 'bad-request',
    message: /previous hash does not match/,
  },
  {
    name: 'data that does not match the data hash',
    bytes: (g) => {
      const block = common.Block.decode(g[1]!);
      block.data!.data!.pop();
      return reencode(block);
    },
    kind: 'bad-request',
    message: /data hash does not match/,
  },
  {
    name: 'a forged orderer signature',
    bytes: (g) => {
      const block = common.Block.decode(g[1]!);
      const slot = common.Metadata.decode(block.metadata!.metadata![BlockMetadataIndex.SIGNATURES]!);
      const signature = Buffer.from(slot.signatures[0]!.signature!);
      signature[signature.length - 1]! ^= 1;
      slot.signatures[0]!.signature = signature;
      block.metadata!.metadata![BlockMetadataIndex.SIGNATURES] = common.Metadata.encode(slot).finish();
      return reencode(block);
    },
    kind: 'forbidden',
    message: /does not satisfy \/Channel\/Orderer\/BlockValidation/,
  },
  {
    name: 'no orderer signature',
    bytes: (g) => {
      const block = common.Block.decode(g[1]!);
      block.metadata!.metadata![BlockMetadataIndex.SIGNATURES] = Buffer.alloc(0);
      return reencode(block);
    },
    kind: 'forbidden',
    message: /carries no orderer signature/,
  },
];

for (const refusal of refusals) {
  test(`appendVerified refuses ${refusal.name} and leaves the channel as it was`, async () => {
    const { support, golden } = await setup();
    await assert.rejects(support.appendVerified(refusal.bytes(golden)), (err: unknown) => {
      assert.ok(err instanceof OrdererError, String(err));
      assert.equal(err.kind, refusal.kind);
      assert.match(err.message, refusal.message);
      return true;
    });
    assert.equal(support.height(), 1);
    // The real block 1 still goes in after a refusal.
    await support.appendVerified(golden[1]!);
    await support.flushed();
    assert.equal(support.height(), 2);
  });
}

test('appendVerified refuses a config block, signed by a real orderer, whose sequence does not move the config forward', async () => {
  const { support, golden } = await setup();
  for (let n = 1; n <= 2; n++) await support.appendVerified(golden[n]!);
  // Block 3 carrying the genesis config (configtxgen gives it sequence 1) again, signed by orderer0's own MSP.
  const orderer0 = loadLocalMsp({
    dir: join(CRYPTO, 'ordererOrganizations/example.com/orderers/orderer0.example.com/msp'),
    mspId: 'OrdererMSP',
    clock: systemClock,
  }).signer;
  const scratch = new MemoryBlockStore({ channelId: 'mychannel' });
  for (let n = 0; n <= 2; n++) await scratch.append({ number: n, bytes: golden[n]! });
  const writer = new BlockWriter(
    { lastBlock: common.Block.decode(golden[2]!), lastConfigBlockNumber: 2 },
    { store: scratch, signer: orderer0, logger: pino({ level: 'silent' }) },
  );
  const genesisEnvelope = asBuffer(common.Block.decode(golden[0]!).data!.data![0]!);
  await writer.writeConfigBlock(
    newBlock(3, blockHeaderHash(common.Block.decode(golden[2]!).header!), [genesisEnvelope]),
  );
  const signed = (await scratch.getBlock(3))!.bytes;
  await assert.rejects(support.appendVerified(signed), (err: unknown) => {
    assert.ok(err instanceof OrdererError);
    assert.equal(err.kind, 'bad-request');
    assert.match(err.message, /config sequence 1, not above the current 2/);
    return true;
  });
  assert.equal(support.height(), 3);
  assert.equal(support.sequence(), 2);
});
