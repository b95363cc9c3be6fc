// The follower chain over a real ChainSupport and in-memory ledger, pulling the Go orderer's golden
// mychannel blocks (0-5, block 2 a config block) through a BlockPuller from a fake source, on a
// manual clock: onboarding up to the join block then active, blocks stored as received,
// Broadcast refused, the switch to consenter on a config block that lists this node, a join
// block the orderers do not serve, and resuming from the ledger height after a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ManualClock } from '../../../../src/clock.js';
import { OrdererError } from '../../../../src/errors.js';
import { BlockCutter } from '../../../../src/blockcutter/index.js';
import { readConfigBlock } from '../../../../src/channelconfig/index.js';
import { MemoryBlockStore } from '../../../../src/ledger/index.js';
import { CertificateExpiryCache } from '../../../../src/msgprocessor/index.js';
import { ChainSupport } from '../../../../src/multichannel/chainsupport.js';
import { channelResources } from '../../../../src/server/orderer.js';
import { common } from '../../../../src/protos/index.js';
import { FollowerChain, type JoinPoint } from '../../../../src/consensus/follower/index.js';
import { BlockPuller, headerHashOf } from '../../../../src/replication/index.js';
import type { BlockSource, BlockStream } from '../../../../src/replication/index.js';
import type { ReceivedEnvelope } from '../../../../src/consensus/types.js';
import type { SigningIdentity } from '../../../../src/msp/types.js';
import { goldenBlocks } from '../../../support/ledger.js';

const signer = { mspId: 'OrdererMSP', serialized: Buffer.from('us'), certPem: '' } as SigningIdentity;
const silent = pino({ level: 'silent' });

/** Serves the given blocks in order; asking past the last one waits, as Deliver does. */
class ServedBlocks implements BlockSource {
  readonly opened: number[] = [];
  private waiters: (() => void)[] = [];
  constructor(private blocks: Buffer[]) {}
  serve(blocks: Buffer[]): void {
    this.blocks = blocks;
    for (const wake of this.waiters.splice(0)) wake();
  }
  open(_endpoint: string, _channelId: string, from: number): BlockStream {
    this.opened.push(from);
    let next = from;
    const nextBlock = async (): Promise<Buffer> => {
      while (next >= this.blocks.length) await new Promise<void>((resolve) => this.waiters.push(resolve));
      return this.blocks[next++]!;
    };
    return { next: nextBlock, close: () => {} };
  }
}

function supportOver(store: MemoryBlockStore, golden: Buffer[], clock: ManualClock, height: number) {
  const resources = channelResources();
  const last = common.Block.decode(golden[height - 1]!);
  const lastConfig = height > 2 ? 2 : 0;
  const contents = readConfigBlock(common.Block.decode(golden[lastConfig]!));
  return new ChainSupport(
    { channelId: 'mychannel', isSystemChannel: false, noExpirationChecks: true },
    {
      store,
      signer,
      clock,
      logger: silent,
      bundle: resources.createBundle('mychannel', contents.configEnvelope.config ?? {}),
      lastBlock: last,
      lastConfigBlockNumber: lastConfig,
      resources,
      expiry: new CertificateExpiryCache(),
      createBlockCutter: (batchSize) => new BlockCutter({ batchSize }, { clock }),
    },
  );
}

function follower(
  support: ChainSupport,
  source: BlockSource,
  clock: ManualClock,
  join: JoinPoint | undefined,
  isMember: (block: common.Block) => boolean = () => false,
) {
  const became: number[] = [];
  const puller = new BlockPuller(
    { channelId: 'mychannel', maxRetries: 3, retryTimeoutMs: 100, pullTimeoutMs: 60_000 },
    { source, clock, logger: silent, endpoints: () => ['a:7050'] },
  );
  const chain = new FollowerChain(
    { join, minRetryWaitMs: 100, maxRetryWaitMs: 1_000 },
    {
      support,
      puller,
      isMember,
      onBecameMember: () => became.push(support.height()),
      consenterEndpoints: () => ['orderer0.example.com:7050'],
      headerHashOf,
    },
  );
  return { chain, became };
}

const until = async (condition: () => boolean) => {
  for (let turns = 0; !condition(); turns++) {
    if (turns > 100_000) assert.fail('the condition never held');
    await new Promise((resolve) => setImmediate(resolve));
  }
};

const joinAt = (golden: Buffer[], number: number): JoinPoint => ({
  number,
  headerHash: headerHashOf(common.Block.decode(golden[number]!)),
});

test('a follower onboards up to the join block, then stays active and keeps pulling, storing blocks as received', async () => {
  const golden = await goldenBlocks('mychannel');
  const clock = new ManualClock();
  const store = new MemoryBlockStore({ channelId: 'mychannel' });
  await store.append({ number: 0, bytes: golden[0]! });
  const support = supportOver(store, golden, clock, 1);
  const genesisSequence = support.sequence();
  const source = new ServedBlocks(golden.slice(0, 2));
  const { chain, became } = follower(support, source, clock, joinAt(golden, 2));
  assert.deepEqual(chain.statusReport(), { consensusRelation: 'follower', status: 'onboarding' });
  assert.match(chain.errored()?.message ?? '', /onboarding.*join block \[2\]/);
  chain.start();
  await until(() => support.height() === 2);
  assert.deepEqual(chain.statusReport(), { consensusRelation: 'follower', status: 'onboarding' });
  source.serve(golden.slice(0, 3));
  await until(() => support.height() === 3);
  assert.deepEqual(chain.statusReport(), { consensusRelation: 'follower', status: 'active' });
  assert.equal(chain.errored(), undefined);
  assert.equal(support.sequence(), genesisSequence + 1, 'the config of block 2 applies');
  source.serve(golden);
  await until(() => support.height() === golden.length);
  await chain.halt();
  await support.flushed();
  for (let n = 0; n < golden.length; n++) assert.ok((await store.getBlock(n))!.bytes.equals(golden[n]!));
  assert.deepEqual(became, []);
  assert.deepEqual(source.opened, [1], 'one Deliver stream from block 1 on');
});

test('a follower refuses Broadcast, saying it follows the channel and where to send instead', async () => {
  const golden = await goldenBlocks('mychannel');
  const clock = new ManualClock();
  const store = new MemoryBlockStore({ channelId: 'mychannel' });
  await store.append({ number: 0, bytes: golden[0]! });
  const { chain } = follower(supportOver(store, golden, clock, 1), new ServedBlocks([]), clock, undefined);
  const env = {} as ReceivedEnvelope;
  for (const attempt of [chain.order(env, 0), chain.configure(env, 0), chain.waitReady()]) {
    await assert.rejects(
      attempt,
      (err: unknown) =>
        err instanceof OrdererError &&
        err.kind === 'unavailable' &&
        /follower of channel mychannel.*send transactions to orderer0\.example\.com:7050/.test(err.message),
    );
  }
});

test('a config block from the join block on that lists this node stops the follower and hands over', async () => {
  const golden = await goldenBlocks('mychannel');
  const clock = new ManualClock();
  const store = new MemoryBlockStore({ channelId: 'mychannel' });
  await store.append({ number: 0, bytes: golden[0]! });
  const support = supportOver(store, golden, clock, 1);
  const members: number[] = [];
  const { chain, became } = follower(support, new ServedBlocks(golden), clock, joinAt(golden, 2), (block) => {
    members.push(Number(block.header!.number));
    return true;
  });
  chain.start();
  await until(() => became.length === 1);
  assert.deepEqual(became, [3], 'stopped right after the join block, a config block listing this node');
  assert.deepEqual(members, [2], 'the genesis block, before the join block, is not asked about');
  await chain.halt();
  assert.equal(support.height(), 3);
});

test('a join block the orderers do not serve fails the channel instead of appending another chain', async () => {
  const golden = await goldenBlocks('mychannel');
  const clock = new ManualClock();
  const store = new MemoryBlockStore({ channelId: 'mychannel' });
  await store.append({ number: 0, bytes: golden[0]! });
  const support = supportOver(store, golden, clock, 1);
  const { chain } = follower(support, new ServedBlocks(golden), clock, {
    number: 2,
    headerHash: Buffer.alloc(32, 9),
  });
  chain.start();
  await until(() => chain.statusReport().status === 'failed');
  assert.match(chain.errored()?.message ?? '', /pulled block \[2\] .* is not the join block/);
  assert.equal(support.height(), 2, 'block 2 was not appended');
  await chain.halt();
});

test('after a restart the follower resumes at the ledger height: no block twice, none missing', async () => {
  const golden = await goldenBlocks('mychannel');
  const clock = new ManualClock();
  const store = new MemoryBlockStore({ channelId: 'mychannel' });
  await store.append({ number: 0, bytes: golden[0]! });
  const first = supportOver(store, golden, clock, 1);
  const source = new ServedBlocks(golden.slice(0, 4));
  const before = follower(first, source, clock, joinAt(golden, 5));
  before.chain.start();
  await until(() => first.height() === 4);
  await before.chain.halt();
  await first.flushed();
  // A new process: the chain support is rebuilt from what the ledger holds.
  const second = supportOver(store, golden, clock, store.height());
  source.serve(golden);
  const after = follower(second, source, clock, joinAt(golden, 5));
  after.chain.start();
  await until(() => second.height() === golden.length);
  assert.deepEqual(after.chain.statusReport(), { consensusRelation: 'follower', status: 'active' });
  await after.chain.halt();
  await second.flushed();
  assert.deepEqual(source.opened, [1, 4]);
  for (let n = 0; n < golden.length; n++) assert.ok((await store.getBlock(n))!.bytes.equals(golden[n]!));
});
