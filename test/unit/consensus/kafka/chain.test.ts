// The Kafka chain (start-up, ingress, consumption, faults, halt) over an in-memory Kafka behind the
// KafkaClient contract, with a ManualClock for every retry, timeout and batch timer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../../src/clock.js';
import { OrdererError } from '../../../../src/errors.js';
import {
  KafkaConsenter,
  decodeKafkaMessage,
  decodeKafkaMetadata,
  encodeConnect,
  encodeKafkaMetadata,
  encodeRegular,
  encodeTimeToCut,
  kafkaConsenterOptions,
  kafkaVersionAtLeast,
  type KafkaChain,
  type KafkaConsenterOptions,
} from '../../../../src/consensus/kafka/index.js';
import type { KafkaConfig } from '../../../../src/config/types.js';
import type { Gauge, KafkaMetrics, Labels } from '../../../../src/metrics/index.js';
import { FakeConsenterSupport, capturingLogger, makeEnvelope } from '../../../support/solo.js';
import { FakeKafkaCluster } from './fake-kafka.js';

const BROKER = '127.0.0.1:9092';
const OPTIONS: KafkaConsenterOptions = {
  retry: { shortIntervalMs: 100, shortTotalMs: 1000, longIntervalMs: 1000, longTotalMs: 5000 },
  networkTimeouts: { dialTimeoutMs: 1000, readTimeoutMs: 3000, writeTimeoutMs: 1000 },
  producer: { retryMax: 1, retryBackoffMs: 10 },
  consumer: { retryBackoffMs: 100 },
  replicationFactor: 3,
  version: '2.0.0',
  // The ManualClock never runs this out unless a test advances it: waitReady() waits for start-up.
  readyWaitMs: 60_000,
};

interface Setup {
  clock: ManualClock;
  cluster: FakeKafkaCluster;
  metadata?: Buffer;
  capabilities?: string[];
  maxMessageCount?: number;
  start?: boolean;
  options?: Partial<KafkaConsenterOptions>;
  metrics?: KafkaMetrics;
}

function setup(s: Partial<Setup> = {}) {
  const clock = s.clock ?? new ManualClock();
  const cluster = s.cluster ?? new FakeKafkaCluster();
  const { logger, lines } = capturingLogger();
  const support = new FakeConsenterSupport({
    channelId: 'mychannel',
    clock,
    logger,
    batchTimeoutMs: 2000,
    batchSize: {
      maxMessageCount: s.maxMessageCount ?? 3,
      absoluteMaxBytes: 1 << 20,
      preferredMaxBytes: 1 << 19,
    },
  });
  support.config.kafkaBrokers = [BROKER];
  if (s.capabilities) support.config.capabilities = new Set(s.capabilities);
  const client = cluster.client();
  const consenter = new KafkaConsenter(
    { ...OPTIONS, ...s.options },
    { clock, logger, createClient: () => client, ...(s.metrics ? { metrics: s.metrics } : {}) },
  );
  const chain = consenter.handleChain(support, s.metadata);
  if (s.start !== false) chain.start();
  return { clock, cluster, support, chain, client, consenter, lines };
}

async function settle(rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** Lets the chain work until cond holds, advancing the clock by stepMs between rounds. */
async function until(what: string, cond: () => boolean, clock?: ManualClock, stepMs = 0): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await settle(5);
    if (clock && stepMs > 0) clock.advance(stepMs);
  }
  assert.fail(`never happened: ${what}`);
}

function topicMessages(cluster: FakeKafkaCluster) {
  return cluster.log('mychannel').map((value) => decodeKafkaMessage(value));
}

const isUnavailable = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof OrdererError, String(err));
  assert.equal(err.kind, 'unavailable');
  assert.match(err.message, pattern);
  return true;
};

async function orderAll(chain: KafkaChain, ids: string[], configSeq = 0) {
  for (const id of ids) await chain.order(makeEnvelope(id, { channelId: 'mychannel' }), configSeq);
}

test('start-up: topic, producer, CONNECT, offsets, replicas; then ready, consuming a new channel from the oldest offset', async () => {
  const { cluster, chain } = setup();
  assert.ok(chain.errored(), 'errored while starting (Deliver STRICT is refused)');
  await chain.waitReady();
  assert.deepEqual(cluster.created, [
    { topic: 'mychannel', options: { replicationFactor: 3, partitions: 1 } },
  ]);
  assert.deepEqual(topicMessages(cluster), [{ type: 'connect' }]);
  assert.equal(chain.resumedFromOffset, 0);
  assert.deepEqual(chain.replicas, [1]);
  assert.equal(chain.errored(), undefined);
  await chain.halt();
});

test('order() resolves once the message is in Kafka; full batches and TIME_TO_CUT make blocks with KafkaMetadata', async () => {
  const { clock, cluster, chain, support } = setup();
  await chain.waitReady();
  await orderAll(chain, ['a', 'b', 'c', 'd']);
  assert.equal(
    topicMessages(cluster).length,
    5,
    'CONNECT + 4 regular messages, each acknowledged before order() resolved',
  );
  await until('first block', () => support.blocks.length === 1);
  assert.deepEqual(support.txIds, [['a', 'b', 'c']]);
  assert.deepEqual(decodeKafkaMetadata(support.blocks[0]!.consenterMetadata!), {
    lastOffsetPersisted: 3,
    lastOriginalOffsetProcessed: 0,
    lastResubmittedConfigOffset: 0,
  });
  // 'd' is pending: the timer posts TIME_TO_CUT for block 1 instead of cutting.
  clock.advance(2000);
  await until('second block', () => support.blocks.length === 2);
  assert.deepEqual(topicMessages(cluster)[5], { type: 'time-to-cut', blockNumber: 1 });
  assert.deepEqual(support.txIds[1], ['d']);
  assert.equal(decodeKafkaMetadata(support.blocks[1]!.consenterMetadata!).lastOffsetPersisted, 5);
  await chain.halt();
});

test('start-up resumes after the offset in the last block; an offset the partition lacks stops the chain clearly', async () => {
  const cluster = new FakeKafkaCluster();
  const log = cluster.log('mychannel');
  for (const id of ['x', 'y', 'z']) log.push(encodeRegular('normal', makeEnvelope(id).raw, 0, 0));
  const metadata = encodeKafkaMetadata({
    lastOffsetPersisted: 1,
    lastOriginalOffsetProcessed: 0,
    lastResubmittedConfigOffset: 0,
  });
  const { chain, clock, support } = setup({ cluster, metadata });
  await chain.waitReady();
  assert.equal(chain.resumedFromOffset, 2);
  await settle();
  clock.advance(2000); // only 'z' (and CONNECT) are processed: the timer cuts 'z' alone
  await until('block', () => support.blocks.length === 1);
  assert.deepEqual(support.txIds, [['z']]);
  await chain.halt();

  const gone = new FakeKafkaCluster();
  gone.log('mychannel').push(Buffer.alloc(0));
  gone.logStart.set('mychannel', 1);
  const missing = encodeKafkaMetadata({
    lastOffsetPersisted: 7,
    lastOriginalOffsetProcessed: 0,
    lastResubmittedConfigOffset: 0,
  });
  const second = setup({ cluster: gone, metadata: missing });
  await until('failure', () => second.chain.errored()?.message.includes('resume at offset 8') === true);
  await assert.rejects(second.chain.waitReady(), isUnavailable(/holds offsets 1 to 1.*restart/));
  await second.chain.halt();
  assert.equal(second.client.closed, true);
});

test('consenter metadata that is not KafkaMetadata is refused with a clear message', () => {
  assert.throws(
    () => setup({ metadata: Buffer.from([0xff, 0xff]), start: false }),
    /not KafkaMetadata.*restore the ledger/,
  );
});

test('brokers unreachable at start: waitReady and order refuse naming the brokers; the chain retries and recovers', async () => {
  const cluster = new FakeKafkaCluster();
  cluster.up = false;
  const { chain, clock } = setup({ cluster, options: { readyWaitMs: 0 } });
  await settle();
  await assert.rejects(chain.waitReady(), isUnavailable(/127\.0\.0\.1:9092.*ECONNREFUSED.*keeps retrying/));
  await assert.rejects(chain.order(makeEnvelope('a'), 0), isUnavailable(/connecting to the Kafka brokers/));
  assert.match(chain.errored()!.message, /not ready/);
  clock.advance(300);
  await settle();
  cluster.setUp(true);
  await until('started', () => chain.errored() === undefined, clock, 100);
  await chain.waitReady();
  await chain.halt();
});

test('waitReady() waits a little for a starting chain before refusing', async () => {
  const cluster = new FakeKafkaCluster();
  cluster.up = false;
  const { chain, clock } = setup({ cluster, options: { readyWaitMs: 1000 } });
  let ready = false;
  const waiting = chain.waitReady().then(() => (ready = true));
  await settle();
  cluster.setUp(true);
  clock.advance(100); // the next start-up attempt
  await waiting;
  assert.equal(ready, true);

  cluster.setUp(false);
  const late = setup({ cluster, clock, options: { readyWaitMs: 1000 } });
  const refused = assert.rejects(late.chain.waitReady(), isUnavailable(/not ready/));
  await settle();
  clock.advance(1000);
  await refused;
  await late.chain.halt();
  await chain.halt();
});

test('a topic the brokers refuse to create: logged, then the brokers auto-create it', async () => {
  const cluster = new FakeKafkaCluster();
  cluster.createTopicError = new OrdererError(
    'bad-request',
    'replication factor 3 larger than available brokers 1',
    {
      retriable: false,
    },
  );
  const { chain, lines } = setup({ cluster });
  await chain.waitReady();
  assert.ok(lines.some((l) => /relying on the brokers to create it/.test(l.msg)));
  await chain.halt();
});

test('Kafka.Version below 0.10.1.0 skips topic creation', async () => {
  const { chain, cluster } = setup({ options: { version: '0.10.0.1' } });
  await chain.waitReady();
  assert.deepEqual(cluster.created, []);
  await chain.halt();
  assert.equal(kafkaVersionAtLeast('0.10.1.0', [0, 10, 1, 0]), true);
  assert.equal(kafkaVersionAtLeast('2.0.0', [0, 10, 1, 0]), true);
  assert.equal(kafkaVersionAtLeast('0.9.0.1', [0, 10, 1, 0]), false);
});

test('brokers lost while running: order() refuses, errored() after ReadTimeout, and everything heals when they return', async () => {
  const { chain, cluster, clock, support } = setup();
  await chain.waitReady();
  await orderAll(chain, ['a']);
  cluster.setUp(false);
  await assert.rejects(
    chain.order(makeEnvelope('b'), 0),
    isUnavailable(/127\.0\.0\.1:9092 did not acknowledge.*send it again/),
  );
  await settle();
  assert.equal(chain.errored(), undefined, 'not before Kafka.Retry.NetworkTimeouts.ReadTimeout');
  clock.advance(3000);
  await settle();
  assert.match(chain.errored()!.message, /cannot read partition mychannel\/0 from brokers 127\.0\.0\.1:9092/);
  // The batch timer's TIME_TO_CUT cannot be posted either: it is armed again.
  clock.advance(2000);
  await settle();
  cluster.setUp(true);
  // The chain posts CONNECT to see consumption work again even with nothing new in the partition.
  await until('available again', () => chain.errored() === undefined, clock, 100);
  await until('pending message cut', () => support.blocks.length === 1, clock, 500);
  assert.deepEqual(support.txIds, [['a']]);
  await orderAll(chain, ['c']);
  await chain.halt();
});

test('halt() stops retries, closes the client, and refuses further messages', async () => {
  const cluster = new FakeKafkaCluster();
  cluster.up = false;
  const { chain, clock, client } = setup({ cluster, options: { readyWaitMs: 0 } });
  await settle();
  clock.advance(250);
  await settle();
  await chain.halt();
  assert.equal(client.closed, true);
  const attempts = cluster.produceAttempts;
  clock.advance(60_000);
  await settle();
  assert.equal(cluster.produceAttempts, attempts, 'no retries after halt');
  await assert.rejects(chain.waitReady(), isUnavailable(/halted/));
  await assert.rejects(chain.order(makeEnvelope('a'), 0), isUnavailable(/halted/));
  assert.match(chain.errored()!.message, /halted/);
});

test('every orderer on the partition writes the same blocks, whichever timer fires first', async () => {
  // Each orderer has its own clock, so each order of batch timers can be made to happen: one orderer's
  // TIME_TO_CUT cuts the block on both (and cancels the other's timer), or both fire before either
  // sees the other's TIME_TO_CUT and the second one is stale.
  for (const fires of [['one'], ['two'], ['one', 'two'], ['two', 'one']] as const) {
    const cluster = new FakeKafkaCluster();
    const orderers = { one: setup({ cluster }), two: setup({ cluster }) };
    const { one, two } = orderers;
    await one.chain.waitReady();
    await two.chain.waitReady();
    for (let round = 0; round < 2; round++) {
      await one.chain.order(makeEnvelope(`${round}-a`), 0);
      await two.chain.order(makeEnvelope(`${round}-b`), 0);
      // Nothing else runs on an idle chain's clock: one pending timer is its batch timer.
      await until(`${fires}: both batch timers armed`, () =>
        [one, two].every((o) => o.clock.pendingTimers === 1),
      );
      for (const name of fires) orderers[name].clock.advance(2000);
      await until(`${fires}: block ${round + 1} on both`, () =>
        [one, two].every((o) => o.support.blocks.length === round + 1),
      );
      for (const o of [one, two]) {
        assert.equal(o.clock.pendingTimers, 0, `${fires}: the cut cancelled every batch timer`);
      }
    }
    const expected = [
      ['0-a', '0-b'],
      ['1-a', '1-b'],
    ];
    assert.deepEqual(one.support.txIds, expected, `${fires}`);
    assert.deepEqual(two.support.txIds, expected, `${fires}`);
    const metadata = (s: FakeConsenterSupport) =>
      s.blocks.map((b) => decodeKafkaMetadata(b.consenterMetadata!));
    assert.deepEqual(metadata(one.support), metadata(two.support), `${fires}`);
    const ttcs = topicMessages(cluster).flatMap((m) => (m.type === 'time-to-cut' ? [m.blockNumber] : []));
    assert.deepEqual(ttcs, fires.length === 1 ? [0, 1] : [0, 0, 1, 1], `${fires}: TIME_TO_CUTs posted`);
    // Each block ends at the first TIME_TO_CUT for it; a second one is consumed as stale.
    const offsets = topicMessages(cluster).flatMap((m, i) => (m.type === 'time-to-cut' ? [i] : []));
    assert.deepEqual(
      metadata(one.support).map((m) => m.lastOffsetPersisted),
      fires.length === 1 ? offsets : [offsets[0], offsets[2]],
      `${fires}`,
    );
    await one.chain.halt();
    await two.chain.halt();
  }
});

test('a normal message validated under an old config is re-validated and re-submitted, then ordered once', async () => {
  const clock = new ManualClock();
  const cluster = new FakeKafkaCluster();
  const one = setup({ clock, cluster, maxMessageCount: 1 });
  const two = setup({ clock, cluster, maxMessageCount: 1 });
  one.support.seq = two.support.seq = 1;
  await one.chain.waitReady();
  await two.chain.waitReady();
  await one.chain.order(makeEnvelope('stale'), 0);
  await until('ordered', () => one.support.blocks.length === 1 && two.support.blocks.length === 1);
  await settle();
  assert.deepEqual(one.support.txIds, [['stale']]);
  assert.deepEqual(two.support.txIds, [['stale']]);
  assert.equal(one.support.normalValidations, 1);
  const resubmitted = topicMessages(cluster).filter((m) => m.type === 'regular' && m.originalOffset !== 0);
  assert.deepEqual(
    resubmitted.map((m) => m.type === 'regular' && [m.originalOffset, m.configSeq]),
    [
      [2, 1],
      [2, 1],
    ],
    'both orderers re-submitted it with its first offset; the second copy was discarded',
  );
  assert.equal(decodeKafkaMetadata(one.support.blocks[0]!.consenterMetadata!).lastOriginalOffsetProcessed, 2);
  await one.chain.halt();
  await two.chain.halt();
});

test('a re-validated message that is now invalid is dropped', async () => {
  const { chain, support, cluster } = setup({ maxMessageCount: 1 });
  support.seq = 1;
  support.validateNormal = () => {
    throw new OrdererError('forbidden', 'creator no longer a writer');
  };
  await chain.waitReady();
  await chain.order(makeEnvelope('stale'), 0);
  await until('validated', () => support.normalValidations === 1);
  await settle();
  assert.deepEqual(support.txIds, []);
  assert.equal(topicMessages(cluster).length, 2);
  await chain.halt();
});

test('a stale config message is re-submitted and Broadcast waits until it comes back through Kafka', async () => {
  const { chain, support, cluster } = setup();
  support.seq = 1;
  await chain.waitReady();
  cluster.deliverBelow = 2; // the consumer gets CONNECT and the config message, not the re-submission
  await chain.configure(makeEnvelope('cfg', { type: 1 }), 0);
  await until('re-submitted', () => cluster.log('mychannel').length === 3);
  await settle();
  let ready = false;
  const waiting = chain.waitReady().then(() => (ready = true));
  await settle();
  assert.equal(ready, false, 'ingress is blocked');
  assert.deepEqual(chain.coreState().lastResubmittedConfigOffset, 1);
  cluster.release();
  await waiting;
  await until('config block', () => support.blocks.length === 1);
  assert.equal(support.blocks[0]!.kind, 'config');
  assert.deepEqual(decodeKafkaMetadata(support.blocks[0]!.consenterMetadata!), {
    lastOffsetPersisted: 2,
    lastOriginalOffsetProcessed: 1,
    lastResubmittedConfigOffset: 1,
  });
  await chain.halt();
});

test('a re-submitted config message rejected when re-validated again unblocks Broadcast (Fabric stays blocked)', async () => {
  const { chain, support, cluster } = setup();
  support.seq = 1;
  await chain.waitReady();
  cluster.deliverBelow = 2;
  await chain.configure(makeEnvelope('cfg', { type: 1 }), 0);
  await until('re-submitted', () => cluster.log('mychannel').length === 3);
  let ready = false;
  void chain.waitReady().then(() => (ready = true));
  await settle();
  assert.equal(ready, false, 'ingress is blocked');
  // The config changed again before the re-submission came back, and it no longer applies.
  support.seq = 2;
  support.reprocessConfig = () => {
    throw new Error('read set version mismatch');
  };
  cluster.release();
  await until('ingress unblocked', () => ready);
  assert.equal(support.configValidations, 2);
  assert.deepEqual(support.blocks, [], 'nothing ordered');
  assert.equal(chain.coreState().lastResubmittedConfigOffset, 0, 'no re-submission in flight any more');
  assert.equal(cluster.log('mychannel').length, 3, 'not re-submitted again');
  await chain.halt();
});

test('halt() releases a Broadcast waiting on blocked ingress', async () => {
  const metadata = encodeKafkaMetadata({
    lastOffsetPersisted: -1,
    lastOriginalOffsetProcessed: 0,
    lastResubmittedConfigOffset: 5,
  });
  const { chain } = setup({ metadata });
  const waiting = chain.waitReady();
  await settle();
  await chain.halt();
  await assert.rejects(waiting, isUnavailable(/halted/));
});

test('without the resubmission capability every message is validated again and never re-ordered', async () => {
  const { chain, support, cluster } = setup({ capabilities: [], maxMessageCount: 1 });
  await chain.waitReady();
  await orderAll(chain, ['a']);
  await until('ordered', () => support.blocks.length === 1);
  assert.equal(support.normalValidations, 1);
  assert.equal(topicMessages(cluster).length, 2, 'nothing re-submitted');
  await chain.halt();
});

test('a TIME_TO_CUT for a future block stops the chain with a clear error', async () => {
  const { chain, cluster } = setup();
  await chain.waitReady();
  cluster.log('mychannel').push(encodeTimeToCut(9));
  cluster.changed();
  await until('failed', () => /larger time-to-cut/.test(chain.errored()?.message ?? ''));
  await assert.rejects(chain.order(makeEnvelope('a'), 0), isUnavailable(/report the bug/));
  await chain.halt();
});

test('healthCheck posts CONNECT: passes while the partition takes messages, fails with the replicas otherwise', async () => {
  const { chain, cluster, consenter } = setup();
  await chain.waitReady();
  const [check] = consenter.healthChecks();
  assert.equal(check!.component, 'mychannel/0');
  await check!.check();
  cluster.up = false;
  await assert.rejects(
    check!.check(),
    isUnavailable(/mychannel\/0 \(replicas \[1\].*does not accept messages/),
  );
  cluster.up = true;
  await chain.halt();
  assert.deepEqual(consenter.healthChecks(), [], 'a halted chain is no longer checked');
});

test('a channel without KafkaBrokers is refused', () => {
  const { support, consenter } = setup({ start: false });
  support.config.kafkaBrokers = [];
  assert.throws(() => consenter.handleChain(support, undefined), /lists no KafkaBrokers/);
});

test('kafkaConsenterOptions maps the Kafka section: retries, timeouts, topic, TLS, SASL/PLAIN', () => {
  const config: KafkaConfig = {
    retry: {
      shortIntervalMs: 5000,
      shortTotalMs: 600_000,
      longIntervalMs: 300_000,
      longTotalMs: 43_200_000,
      networkTimeouts: { dialTimeoutMs: 10_000, readTimeoutMs: 10_000, writeTimeoutMs: 10_000 },
      metadata: { retryBackoffMs: 250, retryMax: 3 },
      producer: { retryBackoffMs: 100, retryMax: 3 },
      consumer: { retryBackoffMs: 2000 },
    },
    topic: { replicationFactor: 3 },
    verbose: false,
    tls: {
      enabled: true,
      privateKey: 'KEY',
      certificate: 'CERT',
      rootCAs: ['CA1', 'CA2'],
      clientAuthRequired: false,
      clientRootCAs: [],
      tlsHandshakeTimeShiftMs: 0,
    },
    saslPlain: { enabled: true, user: 'alice', password: 'secret' },
    version: '0.10.2.0',
  };
  const options = kafkaConsenterOptions(config);
  assert.deepEqual(options.retry, {
    shortIntervalMs: 5000,
    shortTotalMs: 600_000,
    longIntervalMs: 300_000,
    longTotalMs: 43_200_000,
  });
  assert.deepEqual(options.tls, { ca: ['CA1', 'CA2'], cert: 'CERT', key: 'KEY' });
  assert.deepEqual(options.sasl, { mechanism: 'PLAIN', username: 'alice', password: 'secret' });
  assert.equal(options.replicationFactor, 3);
  assert.equal(options.verbose, false);
  assert.equal(kafkaConsenterOptions({ ...config, verbose: true }).verbose, true);
  const plain = kafkaConsenterOptions({
    ...config,
    tls: { ...config.tls, enabled: false },
    saslPlain: { ...config.saslPlain, enabled: false },
  });
  assert.equal(plain.tls, undefined);
  assert.equal(plain.sasl, undefined);
});

/** consensus_kafka_* gauges that record what was set. */
function recordingKafkaMetrics(): {
  metrics: KafkaMetrics;
  lastOffsetPersisted: { value: number; labels?: Labels }[];
} {
  const lastOffsetPersisted: { value: number; labels?: Labels }[] = [];
  const ignored: Gauge = { set() {}, add() {} };
  const metrics: KafkaMetrics = {
    lastOffsetPersisted: {
      set: (value, labels) => lastOffsetPersisted.push({ value, ...(labels ? { labels } : {}) }),
      add() {},
    },
    incomingByteRate: ignored,
    outgoingByteRate: ignored,
    requestRate: ignored,
    requestSize: ignored,
    requestLatency: ignored,
    responseRate: ignored,
    responseSize: ignored,
    batchSize: ignored,
    recordSendRate: ignored,
    recordsPerRequest: ignored,
    compressionRatio: ignored,
  };
  return { metrics, lastOffsetPersisted };
}

test('consensus_kafka_last_offset_persisted {channel} follows every block written, from the resumed offset on', async () => {
  const cluster = new FakeKafkaCluster();
  cluster.log('mychannel').push(encodeConnect(), encodeConnect());
  const recorded = recordingKafkaMetrics();
  const metadata = encodeKafkaMetadata({
    lastOffsetPersisted: 1,
    lastOriginalOffsetProcessed: 0,
    lastResubmittedConfigOffset: 0,
  });
  const { chain, support } = setup({ cluster, metadata, metrics: recorded.metrics });
  assert.deepEqual(recorded.lastOffsetPersisted, [{ value: 1, labels: { channel: 'mychannel' } }]);
  await chain.waitReady();
  await orderAll(chain, ['a', 'b', 'c', 'd', 'e', 'f']);
  await until('two blocks', () => support.blocks.length === 2);
  const offsets = support.blocks.map((b) => decodeKafkaMetadata(b.consenterMetadata!).lastOffsetPersisted);
  assert.deepEqual(
    recorded.lastOffsetPersisted.slice(1),
    offsets.map((value) => ({ value, labels: { channel: 'mychannel' } })),
  );
  await chain.halt();
});

test('the aggregate "kafka" health check: passes without Kafka channels, names channel and brokers when a partition is unreachable', async () => {
  const idle = new KafkaConsenter(OPTIONS, { clock: new ManualClock(), logger: capturingLogger().logger });
  const idleCheck = idle.healthCheck();
  assert.equal(idleCheck.component, 'kafka');
  await idleCheck.check();

  const { chain, cluster, consenter, clock } = setup();
  const check = consenter.healthCheck();
  await assert.rejects(
    check.check(),
    isUnavailable(/channel mychannel \(Kafka brokers 127\.0\.0\.1:9092\).*not ready/),
  );
  await chain.waitReady();
  await check.check();
  cluster.up = false;
  await assert.rejects(
    check.check(),
    isUnavailable(
      /1 of 1 Kafka channel\(s\) cannot reach their brokers: channel mychannel \(Kafka brokers 127\.0\.0\.1:9092\): .*does not accept messages/,
    ),
  );
  cluster.up = true;
  // A broker that takes the connection but never answers: the check gives up after its timeout.
  cluster.stallProduce = true;
  const stalled = check.check();
  const outcome = assert.rejects(
    stalled,
    isUnavailable(/mychannel\/0 did not acknowledge a CONNECT message within 10000 ms/),
  );
  await settle();
  clock.advance(10_000);
  await outcome;
  cluster.stallProduce = false;
  await chain.halt();
  await check.check();
});

test('start-up refuses a partition without a leader or replicas, retries, and starts once the partition has them', async () => {
  const cluster = new FakeKafkaCluster();
  cluster.partitionState = { leader: -1, isr: [], offlineReplicas: [1] };
  const { chain, clock } = setup({ cluster, options: { readyWaitMs: 0 } });
  await until('replica check failing', () => /has no leader/.test(chain.errored()?.message ?? ''), clock, 0);
  await assert.rejects(
    chain.waitReady(),
    isUnavailable(
      /step: checking the replicas of the partition; last error: Kafka partition mychannel\/0 on brokers 127\.0\.0\.1:9092 has no leader \(replicas \[1\], in-sync \[\], offline \[1\]\)/,
    ),
  );
  clock.advance(100);
  await settle();
  cluster.partitionState = { replicas: [] };
  await until('no replicas', () => /has no replicas/.test(chain.errored()?.message ?? ''), clock, 100);
  cluster.partitionState = {};
  await until('started', () => chain.errored() === undefined, clock, 100);
  assert.deepEqual(chain.replicas, [1]);
  await chain.halt();

  // Still without a leader once Kafka.Retry is used up: the chain stops, saying why.
  const lost = new FakeKafkaCluster();
  lost.partitionState = { leader: -1 };
  const second = setup({ cluster: lost, options: { readyWaitMs: 0 } });
  await until(
    'gave up',
    () => /could not start/.test(second.chain.errored()?.message ?? ''),
    second.clock,
    500,
  );
  assert.match(
    second.chain.errored()!.message,
    /could not start \(checking the replicas of the partition, brokers 127\.0\.0\.1:9092\).*gave up.*has no leader/,
  );
  await second.chain.halt();
});
