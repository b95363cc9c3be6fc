// The Kafka consenter over TLS and SASL/PLAIN, configured only through Fabric's ORDERER_KAFKA_TLS_* and
// ORDERER_KAFKA_SASLPLAIN_* variables, against a real broker's SSL (client certificate required),
// SASL_PLAINTEXT and SASL_SSL listeners. Each case boots an orderer from sys-kafka.block with its
// KafkaBrokers (and system channel name) changed to name only that listener, creates a channel
// through Kafka and orders transactions on it; wrong SASL credentials keep the chain from starting
// with an error that says so.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKafkaBroker, type KafkaBroker } from '../support/kafka-broker.js';
import {
  SYS_KAFKA_BLOCK,
  broadcastTransactions,
  kafkaOrdererEnv,
  kafkaTestsSkipReason,
  ledgerOf,
  txCounts,
  waitFor,
} from '../support/kafka-cluster.js';
import { createChannel, genesisBlockSummary, kafkaGenesisBlock } from '../support/kafka-processes.js';
import { startTestOrderer, type TestOrderer } from '../support/orderer.js';
import { freePort } from '../support/orderer.js';

const skip = kafkaTestsSkipReason();
if (skip) console.log(`# skipping Kafka TLS/SASL tests: ${skip}`);

async function chainReady(node: TestOrderer, channelId: string, timeoutMs = 60_000): Promise<void> {
  let last = '';
  await waitFor(
    () => `channel ${channelId} ready (last refusal: ${last})`,
    async () => {
      const chain = node.orderer.registrar.getChain(channelId)?.chain;
      if (!chain) return false;
      return chain.waitReady().then(
        () => true,
        (err: unknown) => {
          last = err instanceof Error ? err.message : String(err);
          return false;
        },
      );
    },
    timeoutMs,
    200,
  );
}

describe('Kafka consenter: TLS and SASL/PLAIN from the orderer settings', { skip, timeout: 300_000 }, () => {
  let broker: KafkaBroker;
  let work: string;
  const orderers: TestOrderer[] = [];

  before(async () => {
    // Its own ports (not 9092): these orderers must reach the broker through the secured listeners only.
    broker = await startKafkaBroker({ plaintextPort: 0, sslClientAuth: 'required' });
    work = mkdtempSync(join(tmpdir(), 'kafka-security-'));
  });

  after(async () => {
    await Promise.allSettled(orderers.map((o) => o.destroy()));
    await broker?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** An orderer whose system channel `sys-<name>` names only `bootstrap` as its Kafka broker. */
  async function startOrderer(name: string, bootstrap: string, env: Record<string, string>) {
    const genesis = kafkaGenesisBlock({ brokers: [bootstrap], channelId: `sys-${name}` });
    const original = genesisBlockSummary(readFileSync(SYS_KAFKA_BLOCK));
    const edited = genesisBlockSummary(genesis);
    assert.deepEqual(original.brokers, ['127.0.0.1:9092']);
    assert.deepEqual(edited.brokers, [bootstrap]);
    // The channel header is the configtxgen one but for the channel name.
    assert.deepEqual(
      { ...edited.channelHeader.toJSON(), channelId: original.channelHeader.channelId },
      original.channelHeader.toJSON(),
    );
    const genesisFile = join(work, `sys-${name}.block`);
    writeFileSync(genesisFile, genesis);
    const orderer = await startTestOrderer({
      env: kafkaOrdererEnv(0, {
        ORDERER_GENERAL_LISTENPORT: String(await freePort()),
        ORDERER_GENERAL_BOOTSTRAPFILE: genesisFile,
        ...env,
      }),
    });
    orderers.push(orderer);
    return orderer;
  }

  const tlsEnv = () => ({
    ORDERER_KAFKA_TLS_ENABLED: 'true',
    ORDERER_KAFKA_TLS_CERTIFICATE_FILE: join(broker.dataDir, 'tls/client.pem'),
    ORDERER_KAFKA_TLS_PRIVATEKEY_FILE: join(broker.dataDir, 'tls/client.key'),
    ORDERER_KAFKA_TLS_ROOTCAS_FILE: join(broker.dataDir, 'tls/ca.pem'),
  });
  const saslEnv = (password = broker.sasl.password) => ({
    ORDERER_KAFKA_SASLPLAIN_ENABLED: 'true',
    ORDERER_KAFKA_SASLPLAIN_USER: broker.sasl.user,
    ORDERER_KAFKA_SASLPLAIN_PASSWORD: password,
  });

  const cases: { name: string; listener: () => string; env: () => Record<string, string> }[] = [
    { name: 'ssl', listener: () => broker.sslBootstrap, env: tlsEnv },
    { name: 'sasl-plaintext', listener: () => broker.saslBootstrap, env: () => saslEnv() },
    { name: 'sasl-ssl', listener: () => broker.saslSslBootstrap, env: () => ({ ...tlsEnv(), ...saslEnv() }) },
  ];

  for (const c of cases) {
    it(`${c.name.toUpperCase()} listener: creates a channel through Kafka and orders on it`, async () => {
      const orderer = await startOrderer(c.name, c.listener(), c.env());
      const system = `sys-${c.name}`;
      const channel = `${c.name}-channel`;
      await chainReady(orderer, system);
      await createChannel(orderer.address, channel);
      await chainReady(orderer, channel);
      const support = orderer.orderer.registrar.getChain(channel)!;
      assert.deepEqual(support.sharedConfig().kafkaBrokers, [c.listener()]);
      const sent = await broadcastTransactions(orderer.address, channel, c.name, 12);
      assert.ok(
        sent.every((s) => s.status === 200),
        JSON.stringify(sent.find((s) => s.status !== 200)),
      );
      await waitFor(
        () => `the ${sent.length} transactions in the ledger of ${channel}`,
        async () => {
          const counts = txCounts(await ledgerOf(orderer, channel));
          return sent.every((s) => counts.get(s.txId) === 1);
        },
      );
      const blocks = await ledgerOf(orderer, channel);
      assert.ok(blocks.slice(1).every((b) => b.kafka !== undefined));
      await orderer.destroy();
    });
  }

  it('a wrong SASL/PLAIN password keeps the chain from starting, saying why', async () => {
    const orderer = await startOrderer('bad-password', broker.saslBootstrap, saslEnv('not-the-password'));
    const chain = orderer.orderer.registrar.getChain('sys-bad-password')!.chain;
    let message = '';
    await waitFor(
      () => `an authentication error (last: ${message})`,
      () => {
        message = chain.errored()?.message ?? '';
        return /auth|SASL|credentials/i.test(message);
      },
      60_000,
      200,
    );
    assert.match(message, /127\.0\.0\.1:\d+/);
    console.log(`# wrong password: ${message}`);
    await assert.rejects(chain.waitReady(), /not ready/);
    await orderer.destroy();
  });
});
