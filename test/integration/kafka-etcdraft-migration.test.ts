// Kafka to Raft migration as Fabric v2.5 documents it (docs/source/kafka_raft_migration.md), on three
// of our orderer processes and a real Kafka broker: a system channel and mychannel with ordered
// history on Kafka; ConsensusType.State -> STATE_MAINTENANCE on every channel (system channel first);
// ConsensusType.Type -> etcdraft with etcdraft ConfigMetadata (the three orderers with their TLS
// certificates) still in maintenance; every orderer stopped, then the broker; every orderer started
// again with a cluster listener; STATE_NORMAL again, then new envelopes ordered by Raft.
// Every node then holds one chain per channel: the Kafka blocks and the Raft blocks verify as one hash
// chain (previous hash, data hash, orderer signatures under BlockValidation), every acknowledged
// envelope is in it exactly once, the block that changed the type carries no consenter metadata, and
// the first Raft block carries the etcdraft BlockMetadata Fabric writes after a migration (IDs 1..3 in
// consenter order, next ID 4). The steps Fabric refuses are refused on the way, saying why.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { common, etcdraft, orderer } from '../../src/protos/index.js';
import { consenterMetadataOf } from '../../src/protoutil/block.js';
import { decodeKafkaMetadata } from '../../src/consensus/kafka/index.js';
import { loadIdentity, signedEnvelope } from '../support/fabric-clients.js';
import { startKafkaBroker, type KafkaBroker } from '../support/kafka-broker.js';
import { createMyChannel, kafkaTestsSkipReason, waitFor } from '../support/kafka-cluster.js';
import { healthz, kafkaGenesisBlock, strictDeliverStatus } from '../support/kafka-processes.js';
import {
  startMixedKafkaOrderer,
  type MixedKafkaOrderer,
  type OrdererImplementation,
} from '../support/kafka-mixed.js';
import { skipWithoutFabricBin } from '../support/fabric-fixtures.js';
import {
  applyConsensusChange,
  chainOf,
  chainsHolding,
  clusterListenerEnv,
  consensusUpdate,
  headerHashes,
  orderOn,
  raftMigrationMetadata,
  send,
} from '../support/migration.js';
import { freePort } from '../support/orderer-process.js';
import { txIdsOfBlock, verifyChain } from '../support/process-load.js';

const skip = kafkaTestsSkipReason();
if (skip) console.log(`# skipping the Kafka to etcdraft migration test: ${skip}`);

const SYSTEM = 'system-channel';
const CHANNEL = 'mychannel';
const CHANNELS = [SYSTEM, CHANNEL];
const MAINTENANCE = orderer.ConsensusType.State.STATE_MAINTENANCE;
const NORMAL = orderer.ConsensusType.State.STATE_NORMAL;
const org1User = loadIdentity('org1User');
/** ours: the log records (JSON lines) of `msg`; Fabric's Go orderer logs text, so none. */
function logRecords(node: MixedKafkaOrderer, msg: string): Record<string, unknown>[] {
  if (node.implementation !== 'ours') return [];
  return node.output.flatMap((line) => {
    try {
      const record = JSON.parse(line) as Record<string, unknown>;
      return record['msg'] === msg ? [record] : [];
    } catch {
      return [];
    }
  });
}

/** The etcdraft ConfigMetadata of the migration: the three orderers on their cluster ports. */
const raftMetadata = (clusterPorts: number[], edit?: (m: etcdraft.IConfigMetadata) => void) =>
  raftMigrationMetadata(
    clusterPorts.map((port, index) => ({ index, port })),
    edit,
  );

/**
 * Three of ours, and one of ours with two of Fabric's Go orderers v2.5.12 (booted from the same
 * genesis block on the same broker, so they order the same Kafka history): node 0 is always ours,
 * which the refusals go to, since their messages are ours.
 */
const CLUSTERS: { title: string; impls: OrdererImplementation[]; skip: string | false | undefined }[] = [
  { title: 'three of our orderer processes', impls: ['ours', 'ours', 'ours'], skip },
  {
    title: "one of ours and two of Fabric's Go orderers",
    impls: ['ours', 'go', 'go'],
    skip: skip || skipWithoutFabricBin('orderer'),
  },
];

for (const cluster of CLUSTERS)
  describe(
    `Kafka to etcdraft migration through maintenance mode (${cluster.title})`,
    { skip: cluster.skip, timeout: 900_000 },
    () => {
      let broker: KafkaBroker | undefined;
      let work: string;
      const nodes: MixedKafkaOrderer[] = [];
      const clusterPorts: number[] = [];

      before(async () => {
        work = mkdtempSync(join(tmpdir(), 'kafka-etcdraft-migration-'));
        // Its own broker port: the fixture's 127.0.0.1:9092 is rewritten in the genesis block.
        broker = await startKafkaBroker({ plaintextPort: 0 });
        const genesisFile = join(work, 'sys-kafka.block');
        writeFileSync(genesisFile, kafkaGenesisBlock({ brokers: [broker.bootstrap] }));
        for (let i = 0; i < 3; i++) clusterPorts.push(await freePort());
        try {
          for (let index = 0; index < 3; index++) {
            const ledgerDir = join(work, `orderer${index}`);
            nodes.push(
              await startMixedKafkaOrderer({
                implementation: cluster.impls[index]!,
                index,
                ledgerDir,
                genesisFile,
                env: {
                  ORDERER_CONSENSUS_WALDIR: join(ledgerDir, 'etcdraft/wal'),
                  ORDERER_CONSENSUS_SNAPDIR: join(ledgerDir, 'etcdraft/snap'),
                },
              }),
            );
          }
        } catch (err) {
          for (const n of nodes) console.log(`# ${n.name}: ${n.output.slice(-10).join('\n# ')}`);
          throw err;
        }
      });

      after(async () => {
        await Promise.allSettled(nodes.map((n) => n.kill()));
        await broker?.dispose();
        if (work) rmSync(work, { recursive: true, force: true });
      });

      it('migrates the system channel and mychannel with their history to one Raft chain each', async () => {
        const acknowledged: string[] = [];
        const raftPorts = clusterPorts;

        // Kafka history: mychannel created through the system channel, envelopes ordered through every node.
        await createMyChannel(nodes[0]!.address);
        await Promise.all(
          nodes.map((n) =>
            waitFor(
              () => `orderer${n.index} serving ${CHANNEL}`,
              async () => (await strictDeliverStatus(n.address, CHANNEL).catch(() => undefined)) === 200,
              60_000,
              250,
            ),
          ),
        );
        // One node after the other, each batch in every ledger before the next: several Kafka blocks.
        for (const node of nodes) {
          acknowledged.push(...(await orderOn(node, CHANNEL, `kafka-${node.index}`, 20)));
          await chainsHolding(nodes, CHANNEL, acknowledged);
        }
        const kafkaChain = (await chainsHolding(nodes, CHANNEL, acknowledged))[0]!;
        for (const bytes of kafkaChain.slice(1))
          assert.ok(
            decodeKafkaMetadata(consenterMetadataOf(common.Block.decode(bytes))!).lastOffsetPersisted > 0,
          );

        // Refused: a type change while not in maintenance mode.
        const early = await send(
          nodes[0]!,
          await consensusUpdate(nodes[0]!, CHANNEL, {
            type: 'etcdraft',
            metadata: raftMetadata(raftPorts),
          }),
        );
        assert.equal(early.status, 400, early.info);
        assert.match(
          early.info,
          /attempted to change consensus type from kafka to etcdraft, but current config ConsensusType.State is not in maintenance mode: first submit an update that only sets ConsensusType.State to STATE_MAINTENANCE/,
        );
        // Refused: entering maintenance and changing the type in one update.
        const both = await send(
          nodes[0]!,
          await consensusUpdate(nodes[0]!, CHANNEL, {
            type: 'etcdraft',
            metadata: raftMetadata(raftPorts),
            state: MAINTENANCE,
          }),
        );
        assert.equal(both.status, 400, both.info);
        assert.match(
          both.info,
          /attempted to change ConsensusType.Type from kafka to etcdraft, but ConsensusType.State is changing from STATE_NORMAL to STATE_MAINTENANCE/,
        );

        // 1. Maintenance mode on every channel, the system channel first.
        for (const channelId of CHANNELS)
          await applyConsensusChange(
            nodes,
            channelId,
            { state: MAINTENANCE },
            (t) => t.state === MAINTENANCE,
          );
        for (const node of nodes) {
          const normal = await send(
            node,
            signedEnvelope(org1User, { channelId: CHANNEL, txId: `refused-${node.index}` }),
          );
          assert.equal(normal.status, 503, `${node.name} in maintenance: ${normal.info}`);
          if (node.implementation === 'ours')
            assert.match(normal.info, /channel mychannel is in maintenance mode/);
          // Peers and clients no longer read blocks (only /Channel/Orderer/Readers may), as in Fabric.
          assert.equal(await strictDeliverStatus(node.address, CHANNEL), 403, `${node.name}: org1 Deliver`);
        }

        // Refused in maintenance: a migration to anything but etcdraft, invalid etcdraft metadata, and a
        // type change that also leaves maintenance mode.
        const toSolo = await send(nodes[0]!, await consensusUpdate(nodes[0]!, CHANNEL, { type: 'solo' }));
        assert.equal(toSolo.status, 400, toSolo.info);
        assert.match(
          toSolo.info,
          /from kafka to solo, transition not supported: Fabric v2.5 channels can only migrate to etcdraft/,
        );
        const noOptions = await send(
          nodes[0]!,
          await consensusUpdate(nodes[0]!, CHANNEL, {
            type: 'etcdraft',
            metadata: raftMetadata(raftPorts, (m) => {
              delete m.options;
            }),
          }),
        );
        assert.equal(noOptions.status, 400, noOptions.info);
        assert.match(
          noOptions.info,
          /invalid etcdraft metadata for the migration from kafka: nil Raft config metadata options/,
        );
        const badCert = await send(
          nodes[0]!,
          await consensusUpdate(nodes[0]!, CHANNEL, {
            type: 'etcdraft',
            metadata: raftMetadata(raftPorts, (m) => {
              m.consenters![1]!.serverTlsCert = Buffer.from('not a certificate');
            }),
          }),
        );
        assert.equal(badCert.status, 400, badCert.info);
        assert.match(
          badCert.info,
          /invalid etcdraft metadata for the migration from kafka: consenter 127.0.0.1:\d+ has invalid certificate/,
        );
        const typeAndExit = await send(
          nodes[0]!,
          await consensusUpdate(nodes[0]!, CHANNEL, {
            type: 'etcdraft',
            metadata: raftMetadata(raftPorts),
            state: NORMAL,
          }),
        );
        assert.equal(typeAndExit.status, 400, typeAndExit.info);
        assert.match(
          typeAndExit.info,
          /attempted to change ConsensusType.Type from kafka to etcdraft, but ConsensusType.State is changing from STATE_MAINTENANCE to STATE_NORMAL/,
        );

        // 2. ConsensusType.Type etcdraft with the Raft metadata, still in maintenance, on every channel.
        for (const channelId of CHANNELS)
          await applyConsensusChange(
            nodes,
            channelId,
            { type: 'etcdraft', metadata: raftMetadata(raftPorts) },
            (t) => t.type === 'etcdraft' && t.state === MAINTENANCE,
          );
        const migrationBlock: Record<string, number> = {};
        for (const channelId of CHANNELS) {
          const chains = await Promise.all(nodes.map((n) => chainOf(n, channelId)));
          for (const chain of chains) assert.deepEqual(headerHashes(chain), headerHashes(chains[0]!));
          migrationBlock[channelId] = chains[0]!.length - 1;
          for (const chain of chains) {
            const last = common.Block.decode(chain.at(-1)!);
            assert.equal(
              consenterMetadataOf(last),
              undefined,
              `${channelId}: the type change carries no consenter metadata`,
            );
            const beforeIt = common.Block.decode(chain.at(-2)!);
            assert.ok(
              decodeKafkaMetadata(consenterMetadataOf(beforeIt)!),
              'the block before it has Kafka metadata',
            );
          }
        }
        // Refused until the restart: leaving maintenance (Fabric: "exit of maintenance mode must be done after restart").
        const tooEarly = await send(
          // Ours refuses it; Fabric's Go orderer would order it (and calls the outcome undefined).
          nodes.filter((n) => n.implementation === 'ours').at(-1)!,
          await consensusUpdate(nodes[0]!, CHANNEL, { state: NORMAL }),
        );
        assert.equal(tooEarly.status, 503, tooEarly.info);
        assert.match(
          tooEarly.info,
          /channel mychannel changed its consensus type from kafka to etcdraft \(config block \d+\) and still runs kafka until this orderer restarts/,
        );

        // 3. Every orderer stopped, then the broker; every orderer started again, with a cluster listener.
        for (const node of nodes) await node.stop();
        await broker!.stop();
        for (const node of nodes) await node.restart(clusterListenerEnv(node.index, raftPorts[node.index]!));
        // Ours is healthy once every channel has a Raft leader; Go's /healthz does not look at Raft,
        // and both answer Deliver with 503 until there is one.
        await Promise.all(
          nodes.map((n) =>
            waitFor(
              () => `${n.name} healthy and serving every channel (a Raft leader on each)`,
              async () =>
                (await healthz(n.operationsPort).catch(() => undefined))?.status === 200 &&
                (
                  await Promise.all(CHANNELS.map((channelId) => chainOf(n, channelId).catch(() => undefined)))
                ).every((chain) => chain !== undefined),
              120_000,
              500,
            ),
          ),
        );
        for (const node of nodes.filter((n) => n.implementation === 'ours'))
          for (const channelId of CHANNELS) {
            const detected = logRecords(
              node,
              'consensus-type migration detected: starting a new Raft group on the existing channel',
            ).filter((r) => r['channel'] === channelId);
            assert.equal(detected.length, 1, `${node.name} ${channelId}: migration start logged once`);
            assert.deepEqual(detected[0]!['consenterIds'], [1, 2, 3]);
          }

        // 4. Out of maintenance, the system channel first; sent to one node, whichever leads.
        for (const channelId of CHANNELS)
          await applyConsensusChange(
            nodes,
            channelId,
            { state: NORMAL },
            (t) => t.state === NORMAL && t.type === 'etcdraft',
          );

        // 5. New envelopes ordered by Raft through every node.
        for (const node of nodes)
          acknowledged.push(...(await orderOn(node, CHANNEL, `raft-${node.index}`, 20)));
        const chains = await chainsHolding(nodes, CHANNEL, acknowledged);

        // One chain per channel on every node, verifying across the migration.
        for (const chain of chains) {
          assert.deepEqual(headerHashes(chain), headerHashes(chains[0]!));
          await verifyChain(CHANNEL, chain);
          const ids = chain.slice(1).flatMap((b) => txIdsOfBlock(b));
          for (const id of acknowledged) assert.equal(ids.filter((x) => x === id).length, 1, `${id} once`);
          assert.deepEqual(
            ids.filter((id) => id !== '').sort(),
            [...acknowledged].sort(),
            'nothing but the acknowledged envelopes (and config transactions)',
          );
        }
        const systemChains = await Promise.all(nodes.map((n) => chainOf(n, SYSTEM)));
        for (const chain of systemChains) {
          assert.deepEqual(headerHashes(chain), headerHashes(systemChains[0]!));
          await verifyChain(SYSTEM, chain);
        }

        // The first Raft block of each channel: etcdraft BlockMetadata as Fabric writes it after a migration.
        const firstRaft: Record<string, unknown> = {};
        for (const [channelId, channelChains] of [
          [CHANNEL, chains],
          [SYSTEM, systemChains],
        ] as const) {
          const number = migrationBlock[channelId]! + 1;
          const metadatas = channelChains.map((chain, i) => {
            const block = common.Block.decode(chain[number]!);
            const bytes = consenterMetadataOf(block);
            assert.ok(bytes, `${channelId} block ${number} carries etcdraft metadata`);
            const decoded = etcdraft.BlockMetadata.decode(bytes);
            return {
              implementation: nodes[i]!.implementation,
              consenterIds: decoded.consenterIds.map(Number),
              nextConsenterId: Number(decoded.nextConsenterId),
              raftIndex: Number(decoded.raftIndex),
            };
          });
          for (const m of metadatas) {
            assert.deepEqual(m.consenterIds, [1, 2, 3]);
            assert.equal(m.nextConsenterId, 4);
            // Raft indexes 1-3 are the bootstrap ConfChanges, then at least the first leader's empty
            // entry. This block is a config block (leaving maintenance): Fabric's Go orderer writes a
            // config block with the raft_index of the block before it, here the fresh metadata's 0
            // (see solo-etcdraft-migration.test.ts).
            if (m.implementation === 'ours') assert.ok(m.raftIndex >= 5, `raft index ${m.raftIndex}`);
            else assert.equal(m.raftIndex, 0, "Go's config block raft index");
          }
          const ours = metadatas.filter((m) => m.implementation === 'ours');
          assert.deepEqual(
            ours.map((m) => m.raftIndex),
            ours.map(() => ours[0]!.raftIndex),
          );
          firstRaft[channelId] = { block: number, ...metadatas[0]! };
        }
        console.log(
          `# Kafka blocks 1-${kafkaChain.length - 1}, migration at ${JSON.stringify(migrationBlock)}, ` +
            `first Raft blocks: ${JSON.stringify(firstRaft)}; ${acknowledged.length} envelopes acknowledged, each once`,
        );
      });
    },
  );
