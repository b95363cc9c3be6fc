// The Kafka client adapter against a real single-node Kafka broker (KRaft) on loopback, over every
// listener the Kafka consenter may be configured for, and across a broker stop/kill and restart.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { systemClock } from '../../../src/clock.js';
import { OrdererError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/logging.js';
import type { KafkaClient, KafkaClientOptions, KafkaMessage } from '../../../src/consensus/kafka/client.js';
import { PlatformaticKafkaClient } from '../../../src/consensus/kafka/client-platformatic.js';
import {
  kafkaBrokerUnavailableReason,
  startKafkaBroker,
  type KafkaBroker,
} from '../../support/kafka-broker.js';

const skipReason = kafkaBrokerUnavailableReason();
if (skipReason) console.log(`# skipping Kafka broker tests: ${skipReason}`);

let broker: KafkaBroker;
const clients: KafkaClient[] = [];

function client(options: Partial<KafkaClientOptions> & { brokers: string[] }): KafkaClient {
  const made = new PlatformaticKafkaClient(
    {
      clientId: 'broker-test',
      connectTimeoutMs: 5_000,
      requestTimeoutMs: 10_000,
      retries: 1,
      retryDelayMs: 200,
      ...options,
    },
    { clock: systemClock, logger: silentLogger() },
  );
  clients.push(made);
  return made;
}

/** The first `count` messages from `fromOffset`, or fails after `withinMs`. */
async function take(
  kafka: KafkaClient,
  topic: string,
  fromOffset: number,
  count: number,
  withinMs = 20_000,
): Promise<KafkaMessage[]> {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), withinMs);
  const got: KafkaMessage[] = [];
  try {
    for await (const message of kafka.consume(topic, 0, {
      fromOffset,
      signal: stop.signal,
      maxWaitMs: 200,
    })) {
      got.push(message);
      if (got.length === count) break;
    }
  } finally {
    clearTimeout(timer);
  }
  assert.equal(
    got.length,
    count,
    `expected ${count} messages of ${topic} from offset ${fromOffset}, got ${got.length}`,
  );
  return got;
}

async function rejectsWith(promise: Promise<unknown>, kind: string, reason: string) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof OrdererError, `expected an OrdererError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    assert.equal(error.details['reason'], reason, error.message);
    return true;
  });
}

/** Create, produce three messages, read them back from offset 1: the whole round trip on one listener. */
async function roundTrip(kafka: KafkaClient, topic: string) {
  const cluster = await kafka.connect();
  assert.deepEqual(
    cluster.brokers.map((b) => b.nodeId),
    [1],
  );
  assert.equal(await kafka.createTopic(topic, { replicationFactor: 1 }), 'created');
  const offsets = [];
  for (const text of ['zero', 'one', 'two']) offsets.push(await kafka.produce(topic, 0, Buffer.from(text)));
  assert.deepEqual(offsets, [0, 1, 2]);
  const messages = await take(kafka, topic, 1, 2);
  assert.deepEqual(
    messages.map((m) => [m.offset, m.value.toString()]),
    [
      [1, 'one'],
      [2, 'two'],
    ],
  );
}

describe('Kafka client adapter against a real broker', { skip: skipReason, timeout: 240_000 }, () => {
  before(async () => {
    const started = Date.now();
    broker = await startKafkaBroker({ plaintextPort: 0 });
    console.log(
      `# Kafka broker ready in ${Date.now() - started} ms (${broker.bootstrap}, data ${broker.dataDir})`,
    );
  });

  after(async () => {
    let started = Date.now();
    await Promise.all(clients.map((c) => c.close()));
    console.log(`# clients closed in ${Date.now() - started} ms`);
    started = Date.now();
    await broker?.dispose();
    console.log(`# broker stopped in ${Date.now() - started} ms`);
  });

  it('creates a topic, produces with acks=all and consumes from an offset over PLAINTEXT', async () => {
    const kafka = client({ brokers: [broker.bootstrap] });
    await roundTrip(kafka, 'plaintext-channel');

    assert.equal(await kafka.createTopic('plaintext-channel', { replicationFactor: 1 }), 'exists');
    const metadata = await kafka.partitionMetadata('plaintext-channel', 0);
    assert.deepEqual(
      { leader: metadata.leader, replicas: metadata.replicas, isr: metadata.isr },
      { leader: 1, replicas: [1], isr: [1] },
    );
    assert.deepEqual(await kafka.offsets('plaintext-channel', 0), { oldest: 0, next: 3 });
    const [first] = await take(kafka, 'plaintext-channel', 0, 1);
    assert.equal(first?.key, undefined);
    assert.ok(first && Math.abs(first.timestamp - Date.now()) < 60_000, 'record timestamp is about now');
  });

  it('coalesces concurrent produces into batches: each gets its own offset, in the order produced', async () => {
    const kafka = client({ brokers: [broker.bootstrap] });
    assert.equal(await kafka.createTopic('coalesced-channel', { replicationFactor: 1 }), 'created');
    // 300 records of 4 KiB produced at once: more than one request can carry (768 KiB), so the
    // client writes several batches one after another.
    const values = Array.from({ length: 300 }, (_, i) => Buffer.alloc(4096, i % 251));
    const offsets = await Promise.all(values.map((v) => kafka.produce('coalesced-channel', 0, v)));
    assert.deepEqual(
      offsets,
      values.map((_, i) => i),
      'offsets are consecutive in the order of the produce calls',
    );
    const messages = await take(kafka, 'coalesced-channel', 0, values.length);
    messages.forEach((m, i) => assert.ok(m.value.equals(values[i]!), `record ${i} read back as written`));
  });

  it('reads past the fetch size: many fetches in a row, and one message larger than a whole fetch', async () => {
    const kafka = client({ brokers: [broker.bootstrap] });
    assert.equal(await kafka.createTopic('fetch-size-channel', { replicationFactor: 1 }), 'created');
    // 1,200 records of 2 KiB (more than one 2 MiB fetch), then one of 5 MiB, then a small one.
    const values = [
      ...Array.from({ length: 1200 }, (_, i) => Buffer.alloc(2048, i % 251)),
      Buffer.alloc(5 * 1024 * 1024, 7),
      Buffer.from('after the large one'),
    ];
    const offsets = await Promise.all(values.map((v) => kafka.produce('fetch-size-channel', 0, v)));
    assert.deepEqual(
      offsets,
      values.map((_, i) => i),
    );
    const messages = await take(kafka, 'fetch-size-channel', 0, values.length);
    messages.forEach((m, i) => {
      assert.equal(m.offset, i);
      assert.ok(m.value.equals(values[i]!), `record ${i} (${values[i]!.length} bytes) read back as written`);
    });
  });

  it('relies on auto-creation when producing to a topic nobody created', async () => {
    const kafka = client({ brokers: [broker.bootstrap] });
    assert.equal(await kafka.produce('auto-created-channel', 0, Buffer.from('first'), Buffer.from('k')), 0);
    const [message] = await take(kafka, 'auto-created-channel', 0, 1);
    assert.equal(message?.key?.toString(), 'k');
    assert.equal(message?.value.toString(), 'first');
  });

  it('refuses what Kafka refuses with a typed error', async () => {
    const kafka = client({ brokers: [broker.bootstrap] });
    await rejectsWith(
      kafka.createTopic('three-replicas', { replicationFactor: 3 }),
      'unavailable',
      'invalid-request',
    );
    await rejectsWith(take(kafka, 'plaintext-channel', 100, 1), 'not-found', 'offset-out-of-range');
    await rejectsWith(kafka.partitionMetadata('plaintext-channel', 4), 'bad-request', 'invalid-request');
  });

  it('works over SSL with a client certificate, and refuses an untrusted broker', async () => {
    const kafka = client({
      brokers: [broker.sslBootstrap],
      tls: { ca: broker.tls.caPem, cert: broker.tls.clientCertPem, key: broker.tls.clientKeyPem },
    });
    await roundTrip(kafka, 'ssl-channel');

    const untrusting = client({ brokers: [broker.sslBootstrap], tls: {}, retries: 0 });
    await rejectsWith(untrusting.connect(), 'unavailable', 'tls');
  });

  it('works over SASL_PLAINTEXT and SASL_SSL with PLAIN, and refuses a wrong password', async () => {
    const sasl = { mechanism: 'PLAIN' as const, username: broker.sasl.user, password: broker.sasl.password };
    await roundTrip(client({ brokers: [broker.saslBootstrap], sasl }), 'sasl-channel');
    await roundTrip(
      client({ brokers: [broker.saslSslBootstrap], sasl, tls: { ca: broker.tls.caPem } }),
      'sasl-ssl-channel',
    );

    const wrong = client({
      brokers: [broker.saslBootstrap],
      sasl: { ...sasl, password: 'wrong' },
      retries: 0,
    });
    await rejectsWith(wrong.connect(), 'unavailable', 'authentication');
  });

  it('keeps a consumer going while the broker stops, restarts, is killed and restarts again', async () => {
    const topic = 'restart-channel';
    const kafka = client({ brokers: [broker.bootstrap] });
    assert.equal(await kafka.createTopic(topic, { replicationFactor: 1 }), 'created');
    assert.equal(await kafka.produce(topic, 0, Buffer.from('before')), 0);

    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), 150_000);
    const received: string[] = [];
    let retries = 0;
    let arrived: (() => void) | undefined;
    const consuming = (async () => {
      const iterator = kafka.consume(topic, 0, {
        fromOffset: 0,
        signal: stop.signal,
        maxWaitMs: 200,
        retryBackoffMs: 250,
        onRetry: () => (retries += 1),
      });
      for await (const message of iterator) {
        received.push(`${message.offset}:${message.value.toString()}`);
        arrived?.();
      }
    })();
    const waitFor = async (count: number) => {
      while (received.length < count) await new Promise<void>((resolve) => (arrived = resolve));
    };

    await waitFor(1);
    let started = Date.now();
    await broker.restart();
    console.log(`# broker stop + restart took ${Date.now() - started} ms`);
    await rejectsWith(
      client({ brokers: ['127.0.0.1:1'], retries: 0 }).connect(),
      'unavailable',
      'unreachable',
    );
    assert.equal(await kafka.produce(topic, 0, Buffer.from('after-restart')), 1);
    await waitFor(2);

    await broker.kill();
    await rejectsWith(kafka.produce(topic, 0, Buffer.from('while-down')), 'unavailable', 'unreachable');
    started = Date.now();
    await broker.restart();
    console.log(`# broker restart after kill -9 took ${Date.now() - started} ms`);
    assert.equal(await kafka.produce(topic, 0, Buffer.from('after-kill')), 2);
    await waitFor(3);

    stop.abort();
    clearTimeout(timer);
    await consuming;
    assert.deepEqual(received, ['0:before', '1:after-restart', '2:after-kill']);
    assert.ok(retries >= 1, 'the consumer reported the outage through onRetry');
    assert.deepEqual(await kafka.offsets(topic, 0), { oldest: 0, next: 3 });
  });
});
