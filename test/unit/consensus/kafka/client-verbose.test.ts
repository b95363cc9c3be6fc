// Kafka.Verbose: the @platformatic/kafka client's own events (broker connections, retries, close) are
// logged at debug level, as Fabric turns on sarama's logger; without it they are not logged at all.
// Uses a loopback port nothing listens on, so no broker is needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { ManualClock, systemClock } from '../../../../src/clock.js';
import { PlatformaticKafkaClient } from '../../../../src/consensus/kafka/client-platformatic.js';
import { KafkaConsenter } from '../../../../src/consensus/kafka/index.js';
import { LOGGER_NAMES, LoggingSystem } from '../../../../src/logging.js';
import { FakeConsenterSupport, capturingLogger } from '../../../support/solo.js';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function connectOnce(verbose: boolean) {
  const port = await closedPort();
  const { logger, lines } = capturingLogger();
  const client = new PlatformaticKafkaClient(
    {
      brokers: [`127.0.0.1:${port}`],
      clientId: 'verbose-test',
      verbose,
      retries: 1,
      retryDelayMs: 10,
      connectTimeoutMs: 1000,
    },
    { clock: systemClock, logger },
  );
  await assert.rejects(client.connect(), /unreachable/);
  await client.close();
  return { port, lines };
}

test('Kafka.Verbose logs the client library events at debug level', async () => {
  const { port, lines } = await connectOnce(true);
  const events = lines.filter((l) => typeof l['event'] === 'string');
  assert.ok(events.length > 0, 'some client events');
  assert.ok(
    events.every((l) => l['level'] === 20),
    'at debug level',
  );
  const failed = events.find((l) => l['event'] === 'client:broker:failed');
  assert.ok(failed, JSON.stringify(events));
  assert.equal(failed['broker'], `127.0.0.1:${port}`);
  assert.equal(failed['client'], 'admin');
  assert.ok(events.some((l) => l['event'] === 'client:performWithRetry:retry'));
  assert.ok(events.some((l) => l['event'] === 'client:close'));
});

test('without Kafka.Verbose the client library events are not logged', async () => {
  const { lines } = await connectOnce(false);
  assert.deepEqual(
    lines.filter((l) => typeof l['event'] === 'string'),
    [],
  );
});

test('the consenter logs its Kafka clients as orderer.consensus.kafka.sarama: debug there while orderer.consensus.kafka stays at info', async () => {
  const port = await closedPort();
  const lines: Record<string, unknown>[] = [];
  const logging = new LoggingSystem(
    { spec: `info:${LOGGER_NAMES.kafkaClient}=debug`, format: 'json' },
    {
      clock: systemClock,
      destination: { write: (chunk: string) => lines.push(JSON.parse(chunk) as Record<string, unknown>) },
    },
  );
  const clock = new ManualClock();
  const support = new FakeConsenterSupport({
    channelId: 'mychannel',
    clock,
    logger: logging.logger(LOGGER_NAMES.kafka).child({ channel: 'mychannel' }),
  });
  support.config.kafkaBrokers = [`127.0.0.1:${port}`];
  const consenter = new KafkaConsenter(
    {
      retry: { shortIntervalMs: 60_000, shortTotalMs: 60_000, longIntervalMs: 0, longTotalMs: 0 },
      networkTimeouts: { dialTimeoutMs: 1000, readTimeoutMs: 1000, writeTimeoutMs: 1000 },
      producer: { retryMax: 1, retryBackoffMs: 10 },
      consumer: { retryBackoffMs: 100 },
      replicationFactor: 1,
      version: '2.0.0',
      verbose: true,
    },
    { clock, logger: logging.logger(LOGGER_NAMES.kafka) },
  );
  const chain = consenter.handleChain(support, undefined);
  chain.start();
  const deadline = Date.now() + 10_000;
  while (!lines.some((l) => l['event'] === 'client:broker:failed') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  await chain.halt();
  const failed = lines.find((l) => l['event'] === 'client:broker:failed');
  assert.ok(failed, JSON.stringify(lines.slice(0, 5)));
  assert.equal(failed['module'], LOGGER_NAMES.kafkaClient);
  assert.equal(failed['level'], 'debug');
  assert.equal(failed['channel'], 'mychannel');
});
