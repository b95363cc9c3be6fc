import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, systemClock } from '../../../src/clock.js';
import { BlockCutter } from '../../../src/blockcutter/index.js';
import { FileLedgerFactory } from '../../../src/ledger/index.js';
import { common } from '../../../src/protos/index.js';
import { LoggingSystem } from '../../../src/logging.js';
import {
  DisabledProvider,
  OrdererMetrics,
  PrometheusProvider,
  createMetricsProvider,
  fullyQualifiedName,
  isExposition,
} from '../../../src/metrics/index.js';
import { makeChain, withTempDir } from '../../support/ledger.js';
import { FakeConsenterSupport, capturingLogger, makeEnvelope, sizedEnvelope } from '../../support/solo.js';
import { KafkaConsenter } from '../../../src/consensus/kafka/index.js';
import { FakeKafkaCluster, FakeKafkaClient } from '../consensus/kafka/fake-kafka.js';

/** The in-memory Kafka client, reporting produced records as the library client does. */
class ReportingKafkaClient extends FakeKafkaClient {
  constructor(
    cluster: FakeKafkaCluster,
    private readonly onProduced: ((topic: string, records: number, bytes: number) => void) | undefined,
  ) {
    super(cluster);
  }

  override async produce(topic: string, partition: number, value: Buffer, key?: Buffer): Promise<number> {
    const offset = await super.produce(topic, partition, value);
    this.onProduced?.(topic, 1, value.length + (key?.length ?? 0));
    return offset;
  }
}

function setup() {
  const provider = new PrometheusProvider({ processMetrics: false });
  const metrics = new OrdererMetrics({ version: '2.5.0-test' }, { provider });
  return { provider, metrics };
}

/** The value of one sample line, e.g. sample(text, 'broadcast_processed_count{channel="a",...}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

// Names and types only. That the series move with traffic is checked for a running orderer in
// test/integration/metrics-traffic.test.ts (broadcast, deliver, block cutter, ledger, logging), and
// for the Kafka gauges below; consensus_kafka_request_latency is declared only: nothing sets it
// yet. The consensus_etcdraft_* and cluster_comm_* families are tested in etcdraft-cluster.test.ts.
test("every Fabric orderer metric is declared under Fabric's name and type", async () => {
  const { provider } = setup();
  const text = await provider.scrape();
  const expected: [string, string][] = [
    ['broadcast_validate_duration', 'histogram'],
    ['broadcast_enqueue_duration', 'histogram'],
    ['broadcast_processed_count', 'counter'],
    ['deliver_streams_opened', 'counter'],
    ['deliver_streams_closed', 'counter'],
    ['deliver_requests_received', 'counter'],
    ['deliver_requests_completed', 'counter'],
    ['deliver_blocks_sent', 'counter'],
    ['blockcutter_block_fill_duration', 'histogram'],
    ['ledger_blockchain_height', 'gauge'],
    ['ledger_blockstorage_commit_time', 'histogram'],
    ['consensus_kafka_last_offset_persisted', 'gauge'],
    ['consensus_kafka_request_latency', 'gauge'],
    ['consensus_kafka_record_send_rate', 'gauge'],
    ['consensus_etcdraft_is_leader', 'gauge'],
    ['consensus_etcdraft_leader_changes', 'counter'],
    ['consensus_etcdraft_data_persist_duration', 'histogram'],
    ['logging_entries_written', 'counter'],
    ['fabric_version', 'gauge'],
  ];
  for (const [name, type] of expected) assert.ok(text.includes(`# TYPE ${name} ${type}\n`), name);
  assert.equal(sample(text, 'fabric_version{version="2.5.0-test"}'), 1);
});

test('broadcast observer: Fabric labels (header type and status names), seconds, no enqueue time for rejects', async () => {
  const { provider, metrics } = setup();
  const observer = metrics.broadcastObserver();
  observer.processed({
    channel: 'mychannel',
    type: common.HeaderType.ENDORSER_TRANSACTION,
    status: common.Status.SUCCESS,
    validateMs: 3,
    enqueueMs: 20,
  });
  observer.processed({
    channel: 'mychannel',
    type: common.HeaderType.ENDORSER_TRANSACTION,
    status: common.Status.SUCCESS,
    validateMs: 2,
    enqueueMs: 1,
  });
  observer.processed({
    channel: '',
    type: -1,
    status: common.Status.BAD_REQUEST,
    validateMs: 1,
    enqueueMs: 0,
  });
  const text = await provider.scrape();
  const ok = 'channel="mychannel",type="ENDORSER_TRANSACTION",status="SUCCESS"';
  assert.equal(sample(text, `broadcast_processed_count{${ok}}`), 2);
  assert.equal(sample(text, `broadcast_validate_duration_count{${ok}}`), 2);
  assert.equal(sample(text, `broadcast_validate_duration_sum{${ok}}`), 0.005);
  assert.equal(sample(text, `broadcast_enqueue_duration_sum{${ok}}`), 0.021);
  // DefBuckets: 0.001s and 0.02s fall in le=0.005 and le=0.025.
  assert.equal(sample(text, `broadcast_enqueue_duration_bucket{le="0.005",${ok}}`), 1);
  assert.equal(sample(text, `broadcast_enqueue_duration_bucket{le="0.025",${ok}}`), 2);
  const rejected = 'channel="unknown",type="unknown",status="BAD_REQUEST"';
  assert.equal(sample(text, `broadcast_processed_count{${rejected}}`), 1);
  assert.equal(sample(text, `broadcast_validate_duration_count{${rejected}}`), 1);
  assert.equal(sample(text, `broadcast_enqueue_duration_count{${rejected}}`), undefined);
});

test('deliver observers: orderer labels filtered="false", data_type="block", success', async () => {
  const { provider, metrics } = setup();
  const deliver = metrics.deliverObserver();
  const streams = metrics.deliverStreamObserver();
  streams.opened();
  deliver.requestReceived('mychannel');
  deliver.blockSent('mychannel');
  deliver.blockSent('mychannel');
  deliver.requestCompleted('mychannel', common.Status.SUCCESS);
  deliver.requestReceived('mychannel');
  deliver.requestCompleted('mychannel', common.Status.FORBIDDEN);
  deliver.requestCompleted('', common.Status.BAD_REQUEST); // channel unknown: not counted
  streams.closed();
  const text = await provider.scrape();
  const labels = 'channel="mychannel",filtered="false",data_type="block"';
  assert.equal(sample(text, 'deliver_streams_opened'), 1);
  assert.equal(sample(text, 'deliver_streams_closed'), 1);
  assert.equal(sample(text, `deliver_requests_received{${labels}}`), 2);
  assert.equal(sample(text, `deliver_blocks_sent{${labels}}`), 2);
  assert.equal(sample(text, `deliver_requests_completed{${labels},success="true"}`), 1);
  assert.equal(sample(text, `deliver_requests_completed{${labels},success="false"}`), 1);
  assert.ok(!text.includes('channel=""'));
});

test('block fill duration from a real block cutter', async () => {
  const { provider, metrics } = setup();
  const clock = new ManualClock();
  const cutter = new BlockCutter(
    { batchSize: () => ({ maxMessageCount: 2, absoluteMaxBytes: 1000, preferredMaxBytes: 500 }) },
    { clock, observeBlockFillDuration: metrics.blockFillObserver('testchannel') },
  );
  cutter.ordered(sizedEnvelope('a', 10));
  clock.advance(1500);
  const { batches } = cutter.ordered(sizedEnvelope('b', 10));
  assert.equal(batches.length, 1);
  const text = await provider.scrape();
  assert.equal(sample(text, 'blockcutter_block_fill_duration_count{channel="testchannel"}'), 1);
  assert.equal(sample(text, 'blockcutter_block_fill_duration_sum{channel="testchannel"}'), 1.5);
  assert.equal(sample(text, 'blockcutter_block_fill_duration_bucket{le="1",channel="testchannel"}'), 0);
  assert.equal(sample(text, 'blockcutter_block_fill_duration_bucket{le="2.5",channel="testchannel"}'), 1);
});

test("ledger height and commit time from a real file ledger's group commits, with Fabric's buckets", () =>
  withTempDir(async (location) => {
    const { provider, metrics } = setup();
    const factory = await FileLedgerFactory.open(
      { location },
      { clock: systemClock, onCommit: metrics.ledgerCommitObserver() },
    );
    const store = await factory.open('mychannel');
    for (const block of makeChain(3)) await store.append(block);
    await factory.close();
    const text = await provider.scrape();
    assert.equal(sample(text, 'ledger_blockchain_height{channel="mychannel"}'), 3);
    assert.equal(sample(text, 'ledger_blockstorage_commit_time_count{channel="mychannel"}'), 3);
    const buckets = text
      .split('\n')
      .filter((l) => l.startsWith('ledger_blockstorage_commit_time_bucket{'))
      .map((l) => /le="([^"]+)"/.exec(l)![1]);
    assert.deepEqual(buckets, ['0.005', '0.01', '0.015', '0.05', '0.1', '1', '10', '+Inf']);
  }));

test("Kafka gauges move with a Kafka chain's traffic: last offset persisted per channel, record send rate per topic", async () => {
  const { provider, metrics } = setup();
  const clock = new ManualClock();
  const cluster = new FakeKafkaCluster();
  const support = new FakeConsenterSupport({
    channelId: 'mychannel',
    clock,
    batchSize: { maxMessageCount: 2, absoluteMaxBytes: 1 << 20, preferredMaxBytes: 1 << 19 },
  });
  support.config.kafkaBrokers = ['127.0.0.1:9092'];
  const consenter = new KafkaConsenter(
    {
      retry: { shortIntervalMs: 100, shortTotalMs: 1000, longIntervalMs: 1000, longTotalMs: 5000 },
      networkTimeouts: { dialTimeoutMs: 1000, readTimeoutMs: 3000, writeTimeoutMs: 1000 },
      producer: { retryMax: 1, retryBackoffMs: 10 },
      consumer: { retryBackoffMs: 100 },
      replicationFactor: 1,
      version: '2.0.0',
      readyWaitMs: 60_000,
    },
    {
      clock,
      logger: capturingLogger().logger,
      metrics: metrics.kafka,
      // The library client reports every produced batch like this; the fake stands in for the brokers.
      createClient: (_options, deps) => new ReportingKafkaClient(cluster, deps.onProduced),
    },
  );
  const chain = consenter.handleChain(support, undefined);
  chain.start();
  await chain.waitReady();
  const before = await provider.scrape();
  // A new channel has no offset yet: no series (Fabric's gauge shows sarama.OffsetOldest - 1 = -3).
  assert.equal(sample(before, 'consensus_kafka_last_offset_persisted{channel="mychannel"}'), undefined);
  for (const id of ['a', 'b', 'c', 'd']) await chain.order(makeEnvelope(id, { channelId: 'mychannel' }), 0);
  // The chain writes asynchronously on the event loop (no timers involved): let it run.
  for (let turn = 0; turn < 500 && support.blocks.length < 2; turn++) await new Promise(setImmediate);
  assert.equal(support.blocks.length, 2, 'two blocks written');
  // CONNECT at offset 0, then a, b (block 0) and c, d (block 1).
  const afterBlocks = await provider.scrape();
  assert.equal(sample(afterBlocks, 'consensus_kafka_last_offset_persisted{channel="mychannel"}'), 4);
  // The produce gauges are published every 10 s of the injected clock: CONNECT and four messages.
  clock.advance(10_000);
  const published = await provider.scrape();
  assert.equal(sample(published, 'consensus_kafka_record_send_rate{topic="mychannel"}'), 0.5);
  await chain.halt();
});

test('process metrics are on by default; names are namespace_subsystem_name', async () => {
  const provider = new PrometheusProvider();
  const text = await provider.scrape();
  assert.match(text, /^process_cpu_user_seconds_total \d/m);
  assert.match(text, /^nodejs_heap_size_used_bytes \d/m);
  assert.match(provider.contentType, /^text\/plain; version=0\.0\.4/);
  assert.equal(
    fullyQualifiedName({ namespace: 'consensus', subsystem: 'kafka', name: 'x', help: '' }),
    'consensus_kafka_x',
  );
  assert.equal(fullyQualifiedName({ namespace: 'ledger', subsystem: '', name: 'y', help: '' }), 'ledger_y');
});

test('Metrics.Provider: prometheus scrapes, disabled and statsd record nothing', () => {
  const warnings: string[] = [];
  const logging = new LoggingSystem(
    { spec: 'info', format: 'json' },
    {
      clock: systemClock,
      destination: { write: (line: string) => warnings.push((JSON.parse(line) as { msg: string }).msg) },
    },
  );
  const logger = logging.logger('metrics');
  assert.ok(
    isExposition(createMetricsProvider({ provider: 'prometheus', processMetrics: false }, { logger })),
  );
  const disabled = createMetricsProvider({ provider: 'disabled' }, { logger });
  assert.ok(disabled instanceof DisabledProvider && !isExposition(disabled));
  // The adapters work against the no-op provider too.
  const metrics = new OrdererMetrics({ version: 'x' }, { provider: disabled });
  metrics.broadcastObserver().processed({ channel: 'c', type: 3, status: 200, validateMs: 1, enqueueMs: 1 });
  assert.equal(warnings.length, 0);
  assert.ok(createMetricsProvider({ provider: 'statsd' }, { logger }) instanceof DisabledProvider);
  assert.match(warnings[0]!, /statsd.*not supported/);
});

test('participation gauges: Fabric status and relation codes per channel; a removed channel has no series', async () => {
  const { provider, metrics } = setup();
  const report = metrics.participationObserver();
  report('solochannel', { consensusRelation: 'other', status: 'active' });
  report('raftchannel', { consensusRelation: 'follower', status: 'onboarding' });
  report('broken', { consensusRelation: 'consenter', status: 'failed' });
  let text = await provider.scrape();
  assert.match(text, /^# TYPE participation_status gauge$/m);
  assert.match(text, /^# TYPE participation_consensus_relation gauge$/m);
  assert.equal(sample(text, 'participation_status{channel="solochannel"}'), 1);
  assert.equal(sample(text, 'participation_consensus_relation{channel="solochannel"}'), 0);
  assert.equal(sample(text, 'participation_status{channel="raftchannel"}'), 2);
  assert.equal(sample(text, 'participation_consensus_relation{channel="raftchannel"}'), 2);
  assert.equal(sample(text, 'participation_status{channel="broken"}'), 3);
  assert.equal(sample(text, 'participation_consensus_relation{channel="broken"}'), 1);

  report('solochannel', { consensusRelation: 'other', status: 'inactive' });
  report('raftchannel', { consensusRelation: 'config-tracker', status: 'active' });
  report('broken', undefined);
  text = await provider.scrape();
  assert.equal(sample(text, 'participation_status{channel="solochannel"}'), 0);
  assert.equal(sample(text, 'participation_consensus_relation{channel="raftchannel"}'), 3);
  assert.equal(sample(text, 'participation_status{channel="broken"}'), undefined);
  assert.equal(sample(text, 'participation_consensus_relation{channel="broken"}'), undefined);
  // Removing a channel that was never reported is harmless; disabled metrics take it too.
  report('never', undefined);
  new OrdererMetrics({ version: 'x' }, { provider: new DisabledProvider() }).participationObserver()(
    'c',
    undefined,
  );
});

test('observers reuse one label object per label set (no allocation per message)', async () => {
  const seen: object[] = [];
  const recording = new PrometheusProvider({ processMetrics: false });
  const counting = {
    ...recording,
    kind: recording.kind,
    newCounter: (o: Parameters<typeof recording.newCounter>[0]) => {
      const inner = recording.newCounter(o);
      return {
        add: (delta: number, labels?: Readonly<Record<string, string>>) => {
          if (labels) seen.push(labels);
          inner.add(delta, labels);
        },
      };
    },
    newGauge: (o: Parameters<typeof recording.newGauge>[0]) => recording.newGauge(o),
    newHistogram: (o: Parameters<typeof recording.newHistogram>[0]) => recording.newHistogram(o),
  };
  const metrics = new OrdererMetrics({ version: 'x' }, { provider: counting });
  const broadcast = metrics.broadcastObserver();
  const deliver = metrics.deliverObserver();
  const info = {
    channel: 'mychannel',
    type: common.HeaderType.ENDORSER_TRANSACTION,
    status: common.Status.SUCCESS,
    validateMs: 1,
    enqueueMs: 1,
  };
  seen.length = 0;
  broadcast.processed(info);
  broadcast.processed({ ...info, validateMs: 2 });
  assert.equal(seen.length, 2);
  assert.equal(seen[0], seen[1]);
  assert.ok(Object.isFrozen(seen[0]));
  broadcast.processed({ ...info, status: common.Status.BAD_REQUEST, enqueueMs: 0 });
  assert.notEqual(seen[2], seen[0]);

  seen.length = 0;
  deliver.blockSent('mychannel');
  deliver.blockSent('mychannel');
  deliver.requestReceived('mychannel');
  assert.equal(seen[0], seen[1]);
  assert.equal(seen[1], seen[2]);
  deliver.requestCompleted('mychannel', common.Status.SUCCESS);
  deliver.requestCompleted('mychannel', common.Status.SUCCESS);
  deliver.requestCompleted('mychannel', common.Status.NOT_FOUND);
  assert.equal(seen[3], seen[4]);
  assert.notEqual(seen[4], seen[5]);

  const text = await recording.scrape();
  const labels = 'channel="mychannel",filtered="false",data_type="block"';
  assert.equal(sample(text, `deliver_blocks_sent{${labels}}`), 2);
  assert.equal(sample(text, `deliver_requests_completed{${labels},success="true"}`), 2);
  assert.equal(sample(text, `deliver_requests_completed{${labels},success="false"}`), 1);
  assert.equal(
    sample(
      text,
      'broadcast_processed_count{channel="mychannel",type="ENDORSER_TRANSACTION",status="SUCCESS"}',
    ),
    2,
  );
});

test('deliver stream observer counts opened and closed streams (no labels, as Fabric)', async () => {
  const { provider, metrics } = setup();
  const streams = metrics.deliverStreamObserver();
  streams.opened();
  streams.opened();
  streams.closed();
  const text = await provider.scrape();
  assert.equal(sample(text, 'deliver_streams_opened'), 2);
  assert.equal(sample(text, 'deliver_streams_closed'), 1);
});
