// The lazily loaded Kafka client refuses bad broker addresses at once, as the library client does,
// so a channel naming one is refused by handleChain instead of retrying start-up for hours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../../src/clock.js';
import { OrdererError } from '../../../../src/errors.js';
import { LazyKafkaClient } from '../../../../src/consensus/kafka/client-lazy.js';
import { KafkaConsenter } from '../../../../src/consensus/kafka/consenter.js';
import { FakeConsenterSupport, capturingLogger } from '../../../support/solo.js';

const deps = () => ({ clock: new ManualClock(), logger: capturingLogger().logger });
const badRequest = (message: RegExp) => (err: unknown) =>
  err instanceof OrdererError && err.kind === 'bad-request' && message.test(err.message);

test('LazyKafkaClient: bad broker addresses are refused by the constructor; an unused client closes', async () => {
  assert.throws(
    () => new LazyKafkaClient({ brokers: [], clientId: 'x' }, deps()),
    badRequest(/at least one broker address/),
  );
  assert.throws(
    () => new LazyKafkaClient({ brokers: ['127.0.0.1:9092', 'kafka0'], clientId: 'x' }, deps()),
    badRequest(/Kafka broker address 'kafka0' is not host:port/),
  );
  const unused = new LazyKafkaClient({ brokers: ['127.0.0.1:9092', '[::1]:9093'], clientId: 'x' }, deps());
  await unused.close();
});

test('KafkaConsenter.handleChain refuses a channel whose KafkaBrokers entry is not host:port', () => {
  const { clock, logger } = deps();
  const consenter = new KafkaConsenter(
    {
      retry: { shortIntervalMs: 100, shortTotalMs: 1000, longIntervalMs: 1000, longTotalMs: 5000 },
      networkTimeouts: { dialTimeoutMs: 1000, readTimeoutMs: 3000, writeTimeoutMs: 1000 },
      producer: { retryMax: 1, retryBackoffMs: 10 },
      consumer: { retryBackoffMs: 100 },
      replicationFactor: 1,
      version: '2.0.0',
    },
    { clock, logger },
  );
  const support = new FakeConsenterSupport({
    channelId: 'mychannel',
    clock,
    logger,
    batchTimeoutMs: 2000,
    batchSize: { maxMessageCount: 10, absoluteMaxBytes: 1 << 20, preferredMaxBytes: 1 << 19 },
  });
  support.config.kafkaBrokers = ['kafka0'];
  assert.throws(() => consenter.handleChain(support, undefined), badRequest(/'kafka0' is not host:port/));
});
