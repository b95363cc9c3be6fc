// The Kafka chain hands a normal block to the writer and goes on consuming while it is stored, as
// Fabric's block writer commits in the background: the next block is cut meanwhile and handed over
// once fewer than blockWritesInFlight writes are pending. Config blocks wait for every block before
// them. A write that fails in the background fails the ones handed over after it, and all of them are
// written again in order, so every message is in exactly one block with its exact offsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../../src/clock.js';
import { KafkaConsenter, decodeKafkaMetadata } from '../../../../src/consensus/kafka/index.js';
import type { KafkaConsenterOptions } from '../../../../src/consensus/kafka/consenter.js';
import { capturingLogger, deferred, makeEnvelope, type FakeConsenterSupport } from '../../../support/solo.js';
import { enospc } from '../../../support/disk-full-fault.js';
import { FakeKafkaCluster } from './fake-kafka.js';
import { TEST_CONSENTER_OPTIONS, mychannelSupport } from './consenter-fixtures.js';

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.fail(`never happened: ${what}`);
}

async function settle(rounds = 50): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function startChain(maxMessageCount: number, options: Partial<KafkaConsenterOptions> = {}) {
  const clock = new ManualClock();
  const cluster = new FakeKafkaCluster();
  const { logger } = capturingLogger();
  const support = mychannelSupport(clock, logger, ['127.0.0.1:9092']);
  support.config.batchSize = { ...support.config.batchSize, maxMessageCount };
  const client = cluster.client();
  const consenter = new KafkaConsenter(
    { ...TEST_CONSENTER_OPTIONS, readyWaitMs: 60_000, ...options },
    { clock, logger, createClient: () => client },
  );
  const chain = consenter.handleChain(support, undefined);
  chain.start();
  await chain.waitReady();
  return { clock, support, chain };
}

const offsetsOf = (support: FakeConsenterSupport) =>
  support.blocks.map((b) => decodeKafkaMetadata(b.consenterMetadata!).lastOffsetPersisted);

test('kafka chain: while block 0 is stored the next block is cut; it is handed over once block 0 is durable (one write in flight by default)', async () => {
  const { support, chain } = await startChain(2);
  const block0Stored = deferred();
  support.beforeWrite = (number) => (number === 0 ? block0Stored.promise : undefined);
  for (const id of ['a', 'b', 'c', 'd', 'e', 'f'])
    await chain.order(makeEnvelope(id, { channelId: 'mychannel' }), 0);

  await until('block 1 cut while block 0 is being stored', () => chain.coreState().lastCutBlockNumber === 1);
  await settle();
  assert.equal(support.blocks.length, 0, 'block 0 is not durable yet');
  assert.equal(support.writesInFlight, 1, 'block 1 waits for block 0 before it is handed over');
  assert.equal(chain.coreState().lastCutBlockNumber, 1, 'consumption waits behind block 1');

  block0Stored.resolve();
  await until('all three blocks durable', () => support.blocks.length === 3);
  assert.deepEqual(support.txIds, [
    ['a', 'b'],
    ['c', 'd'],
    ['e', 'f'],
  ]);
  // CONNECT is offset 0; a-f are offsets 1-6.
  assert.deepEqual(offsetsOf(support), [2, 4, 6]);
  assert.equal(support.maxWritesInFlight, 1);
  await chain.halt();
});

test('kafka chain: with three writes in flight, block 0 failing on a full disk fails the two after it; all three are written again in order, once each', async () => {
  const { clock, support, chain } = await startChain(1, { blockWritesInFlight: 3 });
  const diskFills = deferred();
  let failed = false;
  support.beforeWrite = async (number) => {
    if (number !== 0 || failed) return;
    failed = true;
    await diskFills.promise;
    throw enospc();
  };
  for (const id of ['a', 'b', 'c']) await chain.order(makeEnvelope(id, { channelId: 'mychannel' }), 0);

  await until('three blocks handed over', () => support.writesInFlight === 3);
  assert.equal(support.blocks.length, 0);
  diskFills.resolve();
  await until('the chain to stall', () => chain.stalled() !== undefined);
  assert.match(chain.stalled()!.message, /cannot write block 0: the disk is full \(ENOSPC\)/);
  assert.equal(chain.errored(), undefined, 'a stalled chain is not errored');
  assert.equal(support.blocks.length, 0);

  clock.advance(200);
  await until('the three blocks written', () => support.blocks.length === 3);
  assert.equal(chain.stalled(), undefined);
  assert.deepEqual(support.txIds, [['a'], ['b'], ['c']]);
  assert.deepEqual(offsetsOf(support), [1, 2, 3]);
  assert.equal(support.maxWritesInFlight, 3);

  // The chain goes on pipelining after the retry.
  await chain.order(makeEnvelope('d', { channelId: 'mychannel' }), 0);
  await until('block 3', () => support.blocks.length === 4);
  assert.deepEqual(support.txIds[3], ['d']);
  await chain.halt();
});

test('kafka chain: a config block is written only once the normal blocks before it are durable', async () => {
  const { support, chain } = await startChain(1, { blockWritesInFlight: 3 });
  const block0Stored = deferred();
  support.beforeWrite = (number) => (number === 0 ? block0Stored.promise : undefined);
  await chain.order(makeEnvelope('a', { channelId: 'mychannel' }), 0);
  await chain.configure(makeEnvelope('cfg', { channelId: 'mychannel', type: 1 }), 0);

  await until('the config block cut', () => chain.coreState().lastCutBlockNumber === 1);
  await settle();
  assert.equal(support.writesInFlight, 1, 'only block 0 is handed over');
  block0Stored.resolve();
  await until('both blocks durable', () => support.blocks.length === 2);
  assert.deepEqual(
    support.blocks.map((b) => b.kind),
    ['normal', 'config'],
  );
  assert.deepEqual(offsetsOf(support), [1, 2]);
  await chain.halt();
});

test('kafka chain: halt waits for a block write in flight', async () => {
  const { support, chain } = await startChain(1);
  const block0Stored = deferred();
  support.beforeWrite = (number) => (number === 0 ? block0Stored.promise : undefined);
  await chain.order(makeEnvelope('a', { channelId: 'mychannel' }), 0);
  await until('block 0 handed over', () => support.writesInFlight === 1);
  let halted = false;
  const halting = chain.halt().then(() => (halted = true));
  await settle();
  assert.equal(halted, false, 'halt waits for the write');
  block0Stored.resolve();
  await halting;
  assert.deepEqual(support.txIds, [['a']]);
});
