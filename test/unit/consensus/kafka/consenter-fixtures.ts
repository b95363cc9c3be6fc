// What the Kafka consenter's unit tests build it from: short retry and network settings, and a
// fake consenter support for channel mychannel naming the given brokers.
import type { Clock } from '../../../../src/clock.js';
import type { KafkaConsenterOptions } from '../../../../src/consensus/kafka/consenter.js';
import type { Logger } from '../../../../src/logging.js';
import { FakeConsenterSupport } from '../../../support/solo.js';

export const TEST_CONSENTER_OPTIONS: KafkaConsenterOptions = {
  retry: { shortIntervalMs: 100, shortTotalMs: 1000, longIntervalMs: 1000, longTotalMs: 5000 },
  networkTimeouts: { dialTimeoutMs: 1000, readTimeoutMs: 3000, writeTimeoutMs: 1000 },
  producer: { retryMax: 1, retryBackoffMs: 10 },
  consumer: { retryBackoffMs: 100 },
  replicationFactor: 1,
  version: '2.0.0',
};

export function mychannelSupport(clock: Clock, logger: Logger, brokers: string[]): FakeConsenterSupport {
  const support = new FakeConsenterSupport({
    channelId: 'mychannel',
    clock,
    logger,
    batchTimeoutMs: 2000,
    batchSize: { maxMessageCount: 10, absoluteMaxBytes: 1 << 20, preferredMaxBytes: 1 << 19 },
  });
  support.config.kafkaBrokers = brokers;
  return support;
}
