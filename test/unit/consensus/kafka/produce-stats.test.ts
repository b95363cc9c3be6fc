// consensus_kafka_{record_send_rate,records_per_request,batch_size,compression_ratio}{topic}: the
// produce path's counts become Fabric's per-topic gauges every 10 s (ManualClock, no broker).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../../src/clock.js';
import type { KafkaClientDependencies } from '../../../../src/consensus/kafka/client.js';
import { KafkaConsenter } from '../../../../src/consensus/kafka/consenter.js';
import { ProduceStats } from '../../../../src/consensus/kafka/produce-stats.js';
import type { Gauge, KafkaMetrics, Labels } from '../../../../src/metrics/index.js';
import { capturingLogger } from '../../../support/solo.js';
import { TEST_CONSENTER_OPTIONS, mychannelSupport } from './consenter-fixtures.js';
import { FakeKafkaCluster } from './fake-kafka.js';

test('ProduceStats: rates and means over each interval, idle topics at rate 0 with no means', () => {
  const stats = new ProduceStats(0);
  stats.record('a', 10, 1000);
  stats.record('a', 30, 5000);
  stats.record('b', 1, 100);
  assert.deepEqual(stats.sample(2000), [
    { topic: 'a', recordSendRate: 20, recordsPerRequest: 20, batchSize: 3000, compressionRatio: 100 },
    { topic: 'b', recordSendRate: 0.5, recordsPerRequest: 1, batchSize: 100, compressionRatio: 100 },
  ]);
  stats.record('b', 4, 400);
  assert.deepEqual(stats.sample(4000), [
    {
      topic: 'a',
      recordSendRate: 0,
      recordsPerRequest: undefined,
      batchSize: undefined,
      compressionRatio: undefined,
    },
    { topic: 'b', recordSendRate: 2, recordsPerRequest: 4, batchSize: 400, compressionRatio: 100 },
  ]);
});

function recordingGauges() {
  const set: Record<string, { value: number; labels?: Labels }[]> = {};
  const gauge = (name: string): Gauge => ({
    set: (value, labels) => (set[name] ??= []).push({ value, ...(labels ? { labels } : {}) }),
    add() {},
  });
  const names = [
    'lastOffsetPersisted',
    'incomingByteRate',
    'outgoingByteRate',
    'requestRate',
    'requestSize',
    'requestLatency',
    'responseRate',
    'responseSize',
    'batchSize',
    'recordSendRate',
    'recordsPerRequest',
    'compressionRatio',
  ] as const;
  const metrics = Object.fromEntries(names.map((n) => [n, gauge(n)])) as unknown as KafkaMetrics;
  return { metrics, set };
}

test('the Kafka consenter publishes what its clients produced as the topic gauges every 10 s', () => {
  const clock = new ManualClock(0);
  const { logger } = capturingLogger();
  const { metrics, set } = recordingGauges();
  let clientDeps: KafkaClientDependencies | undefined;
  const cluster = new FakeKafkaCluster();
  const consenter = new KafkaConsenter(TEST_CONSENTER_OPTIONS, {
    clock,
    logger,
    metrics,
    createClient: (_options, deps) => {
      clientDeps = deps;
      return cluster.client();
    },
  });
  const support = mychannelSupport(clock, logger, ['127.0.0.1:9092']);
  consenter.handleChain(support, undefined);
  assert.ok(clientDeps?.onProduced, 'the client is told where to report its produce requests');
  clientDeps.onProduced('mychannel', 500, 1_000_000);
  clientDeps.onProduced('mychannel', 300, 600_000);
  clock.advance(9_999);
  const seen = (name: string) => set[name] ?? [];
  assert.deepEqual(seen('recordSendRate'), [], 'nothing before the first interval ends');
  clock.advance(1);
  const labels = { topic: 'mychannel' };
  assert.deepEqual(set['recordSendRate'], [{ value: 80, labels }]);
  assert.deepEqual(set['recordsPerRequest'], [{ value: 400, labels }]);
  assert.deepEqual(set['batchSize'], [{ value: 800_000, labels }]);
  assert.deepEqual(set['compressionRatio'], [{ value: 100, labels }]);
  clock.advance(10_000);
  assert.deepEqual(seen('recordSendRate').at(-1), { value: 0, labels }, 'an idle interval is rate 0');
  assert.equal(seen('batchSize').length, 1, 'means keep their last value through an idle interval');
});
