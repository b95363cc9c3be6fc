// The Kafka chain on a full disk: the block write is retried with backoff on the injected clock
// instead of stopping the chain, consumption waits behind it, and no message is skipped or doubled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../../src/clock.js';
import { KafkaConsenter } from '../../../../src/consensus/kafka/index.js';
import { capturingLogger, makeEnvelope } from '../../../support/solo.js';
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

test('kafka chain: a block that fails on a full disk is retried on the clock; the chain is not errored and writes it exactly once', async () => {
  const clock = new ManualClock();
  const cluster = new FakeKafkaCluster();
  const { logger } = capturingLogger();
  const support = mychannelSupport(clock, logger, ['127.0.0.1:9092']);
  support.config.batchSize = { ...support.config.batchSize, maxMessageCount: 2 };
  let full = true;
  let failedWrites = 0;
  support.beforeWrite = () => {
    if (!full) return;
    failedWrites++;
    throw enospc();
  };
  const client = cluster.client();
  const consenter = new KafkaConsenter(
    { ...TEST_CONSENTER_OPTIONS, readyWaitMs: 60_000 },
    { clock, logger, createClient: () => client },
  );
  const chain = consenter.handleChain(support, undefined);
  chain.start();
  await chain.waitReady();
  for (const id of ['a', 'b', 'c', 'd']) await chain.order(makeEnvelope(id, { channelId: 'mychannel' }), 0);

  await until('the chain to stall', () => chain.stalled() !== undefined);
  assert.match(chain.stalled()!.message, /disk is full \(ENOSPC\)/);
  assert.equal(chain.errored(), undefined, 'a stalled chain is not errored: Deliver keeps serving');
  assert.equal(failedWrites, 1);

  clock.advance(200);
  await until('the first retry', () => failedWrites === 2);
  full = false;
  clock.advance(400);
  await until('both blocks written', () => support.blocks.length === 2);
  assert.equal(chain.stalled(), undefined);
  assert.deepEqual(support.txIds, [
    ['a', 'b'],
    ['c', 'd'],
  ]);
  await chain.halt();
});

test('kafka chain: halting a chain stalled on a full disk ends the wait', async () => {
  const clock = new ManualClock();
  const cluster = new FakeKafkaCluster();
  const { logger } = capturingLogger();
  const support = mychannelSupport(clock, logger, ['127.0.0.1:9092']);
  support.config.batchSize = { ...support.config.batchSize, maxMessageCount: 1 };
  support.beforeWrite = () => {
    throw enospc();
  };
  const client = cluster.client();
  const consenter = new KafkaConsenter(
    { ...TEST_CONSENTER_OPTIONS, readyWaitMs: 60_000 },
    { clock, logger, createClient: () => client },
  );
  const chain = consenter.handleChain(support, undefined);
  chain.start();
  await chain.waitReady();
  await chain.order(makeEnvelope('a', { channelId: 'mychannel' }), 0);
  await until('the chain to stall', () => chain.stalled() !== undefined);
  await chain.halt();
  assert.deepEqual(support.blocks, []);
});
