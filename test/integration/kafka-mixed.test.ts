// A mixed Kafka cluster (issue 13, item 3): Fabric's Go orderer v2.5.12 as orderer0 and ours as
// orderer1, both booted from the same system channel genesis (the fixtures' sys-kafka.block naming
// this test's broker) on one real Kafka broker, so they order the same channels through the same
// topics. Each side must build byte for byte the blocks the other builds: the same header hashes and
// the same consenter metadata (the KafkaMetadata offsets), with load through both, channels created
// through either, and either one killed with SIGKILL under load and restarted. Every envelope
// answered SUCCESS is ordered exactly once. Fabric's binary is required: the test is skipped,
// saying why, when it is missing, and fails under CI (fabric-fixtures.ts).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadIdentity, type ClientIdentity } from '../support/fabric-clients.js';
import { skipWithoutFabricBin } from '../support/fabric-fixtures.js';
import { startKafkaBroker, type KafkaBroker } from '../support/kafka-broker.js';
import {
  broadcastTransactions,
  kafkaTestsSkipReason,
  txCounts,
  waitFor,
  type LedgerBlock,
} from '../support/kafka-cluster.js';
import {
  createChannel,
  deliverLedger,
  healthz,
  kafkaGenesisBlock,
  strictDeliverStatus,
} from '../support/kafka-processes.js';
import {
  agreedContent,
  startLoad,
  startMixedKafkaOrderer,
  type MixedKafkaOrderer,
} from '../support/kafka-mixed.js';

const skip = skipWithoutFabricBin('orderer') || kafkaTestsSkipReason() || false;
if (skip) console.log(`# skipping the mixed Kafka cluster test (Go orderer + ours): ${skip}`);

const ordererAdmin = loadIdentity('ordererAdmin');

async function servingChannel(orderer: MixedKafkaOrderer, channelId: string, timeoutMs = 60_000) {
  await waitFor(
    () => `channel ${channelId} served by ${orderer.name} (STRICT Deliver SUCCESS)`,
    async () => (await strictDeliverStatus(orderer.address, channelId).catch(() => undefined)) === 200,
    timeoutMs,
    250,
  );
}

/**
 * Both orderers deliver the same blocks of channelId, holding every one of txIds: same header
 * hashes, same consenter metadata bytes (KafkaMetadata), same ORDERER slot. Returns the ledger.
 */
async function identicalLedgers(
  orderers: readonly MixedKafkaOrderer[],
  channelId: string,
  txIds: Iterable<string>,
  signer?: ClientIdentity,
): Promise<LedgerBlock[]> {
  const wanted = [...txIds];
  let ledgers: LedgerBlock[][] = [];
  await waitFor(
    () =>
      `all ${wanted.length} transactions in both ledgers of ${channelId} (heights ${ledgers.map((l) => l.length).join(', ')})`,
    async () => {
      ledgers = await Promise.all(
        orderers.map(async (o) => (await deliverLedger(o.address, channelId, 'strict', signer)).blocks),
      );
      for (const ledger of ledgers) {
        const counts = txCounts(ledger);
        if (!wanted.every((id) => counts.has(id))) return false;
      }
      return ledgers.every((l) => l.length === ledgers[0]!.length);
    },
    60_000,
    250,
  );
  const [first, ...others] = ledgers.map((l) => l.map(agreedContent));
  for (const [i, other] of others.entries())
    assert.deepEqual(
      other,
      first,
      `${orderers[i + 1]!.name} and ${orderers[0]!.name} built different blocks`,
    );
  for (const [i, block] of ledgers[0]!.entries()) assert.equal(block.number, i);
  return ledgers[0]!;
}

function assertEachOnce(ledger: LedgerBlock[], acknowledged: readonly string[]): void {
  const counts = txCounts(ledger);
  for (const id of acknowledged) assert.equal(counts.get(id), 1, `acknowledged ${id} is in the ledger once`);
  // Config envelopes carry an empty tx_id; every other envelope must occur once.
  const twice = [...counts].filter(([id, n]) => id !== '' && n > 1).map(([id]) => id);
  assert.deepEqual(twice, [], 'no envelope is ordered twice');
}

function assertOffsetsIncrease(ledger: LedgerBlock[]): void {
  const offsets = ledger.slice(1).map((b) => b.kafka?.lastOffsetPersisted ?? -1);
  assert.ok(
    offsets.every((o) => o > 0),
    `every block after genesis records its offset: ${offsets.join(',')}`,
  );
  for (let i = 1; i < offsets.length; i++)
    assert.ok(offsets[i]! > offsets[i - 1]!, `offsets increase: ${offsets.join(',')}`);
}

describe('Kafka: Fabric Go orderer and ours on one broker', { timeout: 300_000 }, () => {
  let broker: KafkaBroker | undefined;
  let go: MixedKafkaOrderer;
  let ours: MixedKafkaOrderer;
  const started: MixedKafkaOrderer[] = [];
  const dirs: string[] = [];
  const both = () => [go, ours];

  before(async () => {
    if (skip) return;
    try {
      broker = await startKafkaBroker({ plaintextPort: 0 });
      const root = mkdtempSync(join(tmpdir(), 'kafka-mixed-'));
      dirs.push(root);
      const genesisFile = join(root, 'sys-kafka.block');
      writeFileSync(genesisFile, kafkaGenesisBlock({ brokers: [broker.bootstrap] }));
      go = await startMixedKafkaOrderer({
        implementation: 'go',
        index: 0,
        ledgerDir: join(root, 'go'),
        genesisFile,
      });
      started.push(go);
      ours = await startMixedKafkaOrderer({
        implementation: 'ours',
        index: 1,
        ledgerDir: join(root, 'ours'),
        genesisFile,
      });
      started.push(ours);
      await Promise.all(
        both().map((o) => servingChannel(o, 'system-channel', 90_000).catch(() => undefined)),
      );
    } catch (err) {
      for (const o of started)
        for (const line of o.output.slice(-15)) console.log(`# ${o.name}: ${line.slice(0, 300)}`);
      if (broker) for (const line of broker.logTail(6).split('\n')) console.log(`# broker: ${line}`);
      throw err;
    }
  });

  after(async () => {
    await Promise.allSettled(started.map((o) => o.kill()));
    await broker?.dispose();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it(
    'mychannel created through the Go orderer, load through both: identical blocks and Kafka offsets, each envelope once',
    { skip },
    async () => {
      await createChannel(go.address, 'mychannel');
      await Promise.all(both().map((o) => servingChannel(o, 'mychannel')));
      const sent = (
        await Promise.all(
          both().map((o, i) => broadcastTransactions(o.address, 'mychannel', `burst${i}`, 60)),
        )
      ).flat();
      const refused = sent.find((s) => s.status !== 200);
      assert.equal(refused, undefined, JSON.stringify(refused));
      const ledger = await identicalLedgers(
        both(),
        'mychannel',
        sent.map((s) => s.txId),
      );
      assertEachOnce(
        ledger,
        sent.map((s) => s.txId),
      );
      assertOffsetsIncrease(ledger);
      const system = await identicalLedgers(both(), 'system-channel', [], ordererAdmin);
      assert.equal(system.length, 2, 'the genesis block and the creation of mychannel');
    },
  );

  it(
    'ourchannel created through ours, load through both: identical blocks and Kafka offsets',
    { skip },
    async () => {
      await createChannel(ours.address, 'ourchannel');
      await Promise.all(both().map((o) => servingChannel(o, 'ourchannel')));
      const load = startLoad(both(), 'ourchannel', 'ours-created');
      try {
        await waitFor(
          () => `load running (${load.acknowledgedBy.join(' + ')} acknowledged)`,
          () => load.acknowledgedBy.every((n) => n >= 30),
        );
      } finally {
        await load.stop();
      }
      assert.deepEqual(load.refused, []);
      const ledger = await identicalLedgers(both(), 'ourchannel', load.acknowledged);
      assertEachOnce(ledger, load.acknowledged);
      assertOffsetsIncrease(ledger);
      const system = await identicalLedgers(both(), 'system-channel', [], ordererAdmin);
      assert.equal(system.length, 3, 'genesis, mychannel and ourchannel');
    },
  );

  for (const victimImplementation of ['ours', 'go'] as const) {
    it(
      `kill -9 ${victimImplementation === 'go' ? 'the Go orderer' : 'ours'} under load and restart it: it catches up, both ledgers identical, nothing lost or doubled`,
      { skip },
      async () => {
        const victim = victimImplementation === 'go' ? go : ours;
        const survivor = victim === go ? ours : go;
        const position = both().indexOf(victim);
        const load = startLoad(both(), 'mychannel', `kill-${victimImplementation}-`);
        try {
          await waitFor(
            () => `load running (${load.acknowledgedBy.join(' + ')} acknowledged)`,
            () => load.acknowledgedBy.every((n) => n >= 20),
          );
          await victim.kill();
          const beforeRestart = load.acknowledged.length;
          await waitFor(
            () => `${survivor.name} ordering alone`,
            () => load.acknowledged.length >= beforeRestart + 30,
          );
          await victim.restart();
          await servingChannel(victim, 'mychannel');
          const ackedByVictim = load.acknowledgedBy[position]!;
          await waitFor(
            () => `Broadcasts acknowledged by the restarted ${victim.name}`,
            () => load.acknowledgedBy[position]! >= ackedByVictim + 20,
            60_000,
          );
        } finally {
          await load.stop();
        }
        const ledger = await identicalLedgers(both(), 'mychannel', load.acknowledged);
        assertEachOnce(ledger, load.acknowledged);
        assertOffsetsIncrease(ledger);
        // The refusals a kill causes are connection errors on the victim's streams, never a status
        // from the survivor.
        assert.deepEqual(
          load.refused.filter((r) => r.orderer === survivor.name),
          [],
        );
        const health = await healthz(victim.operationsPort);
        assert.equal(health.status, 200, JSON.stringify(health.body));
      },
    );
  }
});
