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
import {
  atomicBroadcastClient,
  broadcastAll,
  loadIdentity,
  type ClientIdentity,
} from '../support/fabric-clients.js';
import { lastConfigIndexOf } from '../../src/protoutil/block.js';
import { fabricBin, skipWithoutFabricBin } from '../support/fabric-fixtures.js';
import { startKafkaBroker, type KafkaBroker } from '../support/kafka-broker.js';
import {
  broadcastTransactions,
  kafkaTestsSkipReason,
  txCounts,
  waitFor,
  type LedgerBlock,
} from '../support/kafka-cluster.js';
import { createChannel, deliverLedger, healthz, kafkaGenesisBlock } from '../support/kafka-processes.js';
import {
  agreedContent,
  maxMessageCountOf,
  maxMessageCountUpdate,
  startLoad,
  startMixedKafkaOrderer,
  type MixedKafkaOrderer,
} from '../support/kafka-mixed.js';

const skip = skipWithoutFabricBin('orderer') || kafkaTestsSkipReason() || false;
if (skip) console.log(`# skipping the mixed Kafka cluster test (Go orderer + ours): ${skip}`);

const ordererAdmin = loadIdentity('ordererAdmin');
const org1User = loadIdentity('org1User');

/** Waits until a STRICT Deliver of the channel succeeds on the orderer (its chain is up). */
async function servingChannel(
  orderer: MixedKafkaOrderer,
  channelId: string,
  signer: ClientIdentity = org1User,
  timeoutMs = 60_000,
) {
  let status: number | undefined;
  await waitFor(
    () => `channel ${channelId} served by ${orderer.name} (STRICT Deliver status now ${status})`,
    async () => {
      status = (await deliverLedger(orderer.address, channelId, 'strict', signer).catch(() => undefined))
        ?.status;
      return status === 200;
    },
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
  let root: string;
  let genesisFile: string;
  const both = () => [go, ours];

  before(async () => {
    if (skip) return;
    const setupStart = Date.now();
    // Under CI a missing binary is not skipped: fail here, first, with fabricBin's how-to message.
    fabricBin('orderer');
    try {
      broker = await startKafkaBroker({ plaintextPort: 0 });
      root = mkdtempSync(join(tmpdir(), 'kafka-mixed-'));
      dirs.push(root);
      genesisFile = join(root, 'sys-kafka.block');
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
      await Promise.all(both().map((o) => servingChannel(o, 'system-channel', ordererAdmin, 90_000)));
      console.log(
        `# set up in ${((Date.now() - setupStart) / 1000).toFixed(1)} s: broker, ${go.name}, ${ours.name}`,
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

  it(
    'MaxMessageCount changed under load, through the Go orderer and then through ours: identical config blocks and count cuts, re-validated envelopes ordered once',
    { skip },
    async () => {
      const load = startLoad(both(), 'mychannel', 'config-', 10);
      const updates = [
        { via: go, maxMessageCount: 7 },
        { via: ours, maxMessageCount: 4 },
      ];
      try {
        for (const { via, maxMessageCount } of updates) {
          const acknowledged = load.acknowledged.length;
          await waitFor(
            () => `load running (${load.acknowledged.length - acknowledged} acknowledged)`,
            () => load.acknowledged.length >= acknowledged + 40,
          );
          const ledger = (await deliverLedger(via.address, 'mychannel')).blocks;
          const latestConfig = ledger[lastConfigIndexOf(ledger.at(-1)!.block)]!.block;
          const client = atomicBroadcastClient(via.address);
          try {
            const [response] = await broadcastAll(client, [
              maxMessageCountUpdate(latestConfig, 'mychannel', maxMessageCount, ordererAdmin),
            ]);
            assert.equal(response?.status, 200, response?.info);
          } finally {
            client.close();
          }
          await waitFor(
            () => `MaxMessageCount ${maxMessageCount} in effect on both`,
            async () =>
              (
                await Promise.all(
                  both().map(async (o) => {
                    const blocks = (await deliverLedger(o.address, 'mychannel')).blocks;
                    const config = blocks[lastConfigIndexOf(blocks.at(-1)!.block)]!.block;
                    return maxMessageCountOf(config) === maxMessageCount;
                  }),
                )
              ).every(Boolean),
          );
          const afterUpdate = load.acknowledged.length;
          await waitFor(
            () => `load after the update (${load.acknowledged.length - afterUpdate} acknowledged)`,
            () => load.acknowledged.length >= afterUpdate + 60,
          );
        }
      } finally {
        await load.stop();
      }
      assert.deepEqual(load.refused, []);
      const ledger = await identicalLedgers(both(), 'mychannel', load.acknowledged);
      assertEachOnce(ledger, load.acknowledged);
      assertOffsetsIncrease(ledger);
      const configBlocks = ledger.filter((b) => lastConfigIndexOf(b.block) === b.number).slice(-2);
      const resubmittedSeen = new Set(ledger.map((b) => b.kafka?.lastOriginalOffsetProcessed ?? 0));
      resubmittedSeen.delete(0);
      console.log(
        `# config updates under load: ${load.acknowledged.length} acknowledged, blocks ${configBlocks[0]!.number}-${ledger.length - 1}: ` +
          `${ledger
            .slice(configBlocks[0]!.number)
            .map((b) => b.txIds.length)
            .join(',')}; ` +
          `re-validated envelopes re-ordered up to ${resubmittedSeen.size} distinct original offsets`,
      );
      assert.deepEqual(
        configBlocks.map((b) => maxMessageCountOf(b.block)),
        [7, 4],
      );
      // Between and after the two config blocks every block holds at most MaxMessageCount envelopes,
      // and the load fills some to exactly that: cut by count, not only by BatchTimeout.
      for (const [i, config] of configBlocks.entries()) {
        const maxMessageCount = maxMessageCountOf(config.block);
        const end = configBlocks[i + 1]?.number ?? ledger.length;
        const sizes = ledger.slice(config.number + 1, end).map((b) => b.txIds.length);
        assert.ok(
          sizes.every((n) => n <= maxMessageCount),
          `blocks after MaxMessageCount ${maxMessageCount}: ${sizes.join(',')}`,
        );
        assert.ok(
          sizes.includes(maxMessageCount),
          `some block cut at ${maxMessageCount} envelopes: ${sizes.join(',')}`,
        );
      }
    },
  );

  it(
    'a fresh Go orderer and a fresh one of ours replay every topic from the start: the same blocks of every channel',
    { skip },
    async () => {
      for (const implementation of ['go', 'ours'] as const) {
        started.push(
          await startMixedKafkaOrderer({
            implementation,
            index: 2,
            ledgerDir: join(root, `fresh-${implementation}`),
            genesisFile,
          }),
        );
      }
      const all = started.slice(0, 4);
      const system = await identicalLedgers(all, 'system-channel', [], ordererAdmin);
      assert.equal(system.length, 3);
      for (const channelId of ['mychannel', 'ourchannel']) {
        const ledger = await identicalLedgers(all, channelId, []);
        assertOffsetsIncrease(ledger);
      }
    },
  );
});
