// Deliver against a Kafka chain that lost its brokers: STRICT requests are refused with
// SERVICE_UNAVAILABLE once the chain reports the outage (errored(); one waiting at the tip is woken
// by the chain's status notification), BEST_EFFORT requests keep
// reading the ledger, and STRICT is served again when the brokers return. The real DeliverHandler,
// the real channel config bundle (Readers policy, MSPs) of Fabric's appsolo genesis block, and the
// Kafka chain over the in-memory Kafka with a ManualClock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock, systemClock } from '../../../../src/clock.js';
import { readConfigBlock } from '../../../../src/channelconfig/index.js';
import { KafkaConsenter, type KafkaConsenterOptions } from '../../../../src/consensus/kafka/index.js';
import { DeliverHandler, type DeliverChain } from '../../../../src/deliver/index.js';
import { MemoryBlockStore } from '../../../../src/ledger/index.js';
import { CertificateExpiryCache } from '../../../../src/msgprocessor/filters.js';
import { common } from '../../../../src/protos/index.js';
import { channelResources } from '../../../../src/server/orderer.js';
import { silentLogger } from '../../../../src/logging.js';
import {
  FIXTURES,
  HeaderType,
  loadIdentity,
  type Position,
  seekInfo,
  signedEnvelope,
} from '../../../support/fabric-clients.js';
import { FakeConsenterSupport, capturingLogger } from '../../../support/solo.js';
import { FakeKafkaCluster } from './fake-kafka.js';

const OPTIONS: KafkaConsenterOptions = {
  retry: { shortIntervalMs: 100, shortTotalMs: 1000, longIntervalMs: 1000, longTotalMs: 5000 },
  networkTimeouts: { dialTimeoutMs: 1000, readTimeoutMs: 3000, writeTimeoutMs: 1000 },
  producer: { retryMax: 1, retryBackoffMs: 10 },
  consumer: { retryBackoffMs: 100 },
  replicationFactor: 1,
  version: '2.0.0',
  readyWaitMs: 60_000,
};

async function settle(rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

test('broker outage: STRICT Deliver gets SERVICE_UNAVAILABLE, BEST_EFFORT keeps reading the ledger; STRICT works again after', async () => {
  const genesisBytes = readFileSync(join(FIXTURES, 'blocks/appsolo-genesis.block'));
  const genesis = common.Block.decode(genesisBytes);
  const { channelId, configEnvelope } = readConfigBlock(genesis);
  const bundle = channelResources().createBundle(channelId, configEnvelope.config!);
  const reader = new MemoryBlockStore({ channelId });
  await reader.append({ number: 0, bytes: genesisBytes });

  const clock = new ManualClock();
  const cluster = new FakeKafkaCluster();
  const { logger } = capturingLogger();
  const support = new FakeConsenterSupport({ channelId, clock, logger });
  support.config.kafkaBrokers = ['127.0.0.1:9092'];
  const client = cluster.client();
  const consenter = new KafkaConsenter(OPTIONS, { clock, logger, createClient: () => client });
  const chain = consenter.handleChain(support, undefined);
  chain.start();
  await chain.waitReady();

  const deliverChain: DeliverChain = {
    reader,
    bundle: () => bundle,
    errored: () => chain.errored(),
    onStatusChange: (listener) => chain.onStatusChange(listener),
  };
  const handler = new DeliverHandler(
    { timeWindowMs: 15 * 60_000, mutualTls: false, noExpirationChecks: true },
    {
      chains: { getDeliverChain: (id) => (id === channelId ? deliverChain : undefined) },
      clock: systemClock,
      logger: silentLogger(),
      expiry: new CertificateExpiryCache(),
    },
  );
  const reader1 = loadIdentity('org1User');
  async function request(
    errorResponse: 'strict' | 'bestEffort',
    stop: Position = 'newest',
    onBlock?: () => void,
  ) {
    const blocks: Buffer[] = [];
    const envelope = signedEnvelope(reader1, {
      type: HeaderType.DELIVER_SEEK_INFO,
      channelId,
      data: seekInfo('oldest', stop, 'block', errorResponse),
    });
    const status = await handler.handle(envelope, {
      signal: new AbortController().signal,
      sendBlock: async (b) => {
        blocks.push(b);
        onBlock?.();
      },
    });
    return { status, blocks };
  }

  assert.deepEqual(await request('strict'), { status: 200, blocks: [genesisBytes] });
  // A STRICT request waiting at the tip is ended by the outage as soon as the chain reports it.
  let atTip!: () => void;
  const reachedTip = new Promise<void>((resolve) => (atTip = resolve));
  const waiting = request('strict', Number.MAX_SAFE_INTEGER, () => atTip());
  await reachedTip;

  cluster.setUp(false);
  await settle();
  clock.advance(3000); // Kafka.Retry.NetworkTimeouts.ReadTimeout of failing consumption
  await settle();
  assert.match(chain.errored()?.message ?? '', /cannot read partition/);
  assert.deepEqual(await waiting, { status: 503, blocks: [genesisBytes] });
  const strict = await request('strict');
  assert.equal(strict.status, 503);
  assert.deepEqual(strict.blocks, []);
  assert.deepEqual(await request('bestEffort'), { status: 200, blocks: [genesisBytes] });

  cluster.setUp(true);
  for (let i = 0; i < 100 && chain.errored(); i++) {
    clock.advance(100);
    await settle(5);
  }
  assert.equal(chain.errored(), undefined);
  assert.deepEqual(await request('strict'), { status: 200, blocks: [genesisBytes] });
  await chain.halt();
});
