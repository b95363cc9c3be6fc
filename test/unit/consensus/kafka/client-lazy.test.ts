// The lazily loaded Kafka client refuses bad broker addresses at once, as the library client does,
// so a channel naming one is refused by handleChain instead of retrying start-up for hours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../../src/clock.js';
import { OrdererError } from '../../../../src/errors.js';
import { LazyKafkaClient } from '../../../../src/consensus/kafka/client-lazy.js';
import { KafkaConsenter } from '../../../../src/consensus/kafka/consenter.js';
import { capturingLogger } from '../../../support/solo.js';
import { TEST_CONSENTER_OPTIONS, mychannelSupport } from './consenter-fixtures.js';

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
  const consenter = new KafkaConsenter(TEST_CONSENTER_OPTIONS, { clock, logger });
  const support = mychannelSupport(clock, logger, ['kafka0']);
  assert.throws(() => consenter.handleChain(support, undefined), badRequest(/'kafka0' is not host:port/));
});
