// Solo to Raft migration through maintenance mode, which Fabric v2.5 supports beside Kafka to Raft
// ("only kafka to etcdraft or solo to etcdraft transitions are actually supported",
// maintenancefilter.go), run the same way on Fabric's Go orderer and on ours: one orderer on the
// fixtures' solo system channel, mychannel created through it with ordered history;
// ConsensusType.State -> STATE_MAINTENANCE on both channels (system channel first); ConsensusType.Type
// -> etcdraft with this orderer as the one consenter; a restart with a cluster listener; STATE_NORMAL
// again and new envelopes ordered by Raft. Each channel is then one chain that verifies across the
// migration (hash chain, data hashes, orderer signatures under BlockValidation) and holds every
// acknowledged envelope once; the block that changed the type carries no consenter metadata and the
// first Raft block the etcdraft BlockMetadata Fabric writes after a migration.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { common, etcdraft, orderer } from '../../src/protos/index.js';
import { consenterMetadataOf } from '../../src/protoutil/block.js';
import { loadIdentity, signedEnvelope } from '../support/fabric-clients.js';
import {
  ORDERER_KINDS,
  skipWithout,
  startOrdererUnderTest,
  type OrdererKind,
  type OrdererUnderTest,
} from '../support/both-orderers.js';
import { createMyChannel, waitFor } from '../support/kafka-cluster.js';
import { strictDeliverStatus } from '../support/kafka-processes.js';
import { freePort } from '../support/orderer-process.js';
import { verifyChain, txIdsOfBlock } from '../support/process-load.js';
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
  type MigratingOrderer,
} from '../support/migration.js';

const SYSTEM = 'system-channel';
const CHANNEL = 'mychannel';
const CHANNELS = [SYSTEM, CHANNEL];
const MAINTENANCE = orderer.ConsensusType.State.STATE_MAINTENANCE;
const NORMAL = orderer.ConsensusType.State.STATE_NORMAL;
const org1User = loadIdentity('org1User');
/** A Raft node's settings: a cluster listener with orderer0's TLS pair, WAL and snapshots beside the ledger. */
function raftNodeEnv(clusterPort: number, ledgerDir: string): Record<string, string> {
  return {
    ...clusterListenerEnv(0, clusterPort),
    ORDERER_CONSENSUS_WALDIR: join(dirname(ledgerDir), 'etcdraft/wal'),
    ORDERER_CONSENSUS_SNAPDIR: join(dirname(ledgerDir), 'etcdraft/snapshot'),
  };
}

const TITLES: Record<OrdererKind, string> = { ours: 'ours', go: "Fabric's Go orderer v2.5.12" };

for (const kind of ORDERER_KINDS) {
  describe(
    `solo to etcdraft migration through maintenance mode (${TITLES[kind]})`,
    { skip: skipWithout(kind), timeout: 300_000 },
    () => {
      let node: OrdererUnderTest | undefined;
      let target: MigratingOrderer;

      before(async () => {
        node = await startOrdererUnderTest(kind);
        target = { address: node.address, name: `${kind} orderer` };
      });

      after(async () => {
        await node?.stop();
      });

      it('migrates the system channel and mychannel with their history to one Raft chain each', async () => {
        const acknowledged: string[] = [];
        const clusterPort = await freePort();
        const metadata = raftMigrationMetadata([{ index: 0, port: clusterPort }]);

        // Solo history: mychannel created through the system channel, envelopes in several blocks.
        await createMyChannel(target.address);
        await waitFor(
          () => `${kind} serving ${CHANNEL}`,
          async () => (await strictDeliverStatus(target.address, CHANNEL).catch(() => undefined)) === 200,
          30_000,
          100,
        );
        for (let round = 0; round < 3; round++) {
          acknowledged.push(...(await orderOn(target, CHANNEL, `solo-${round}`, 10)));
          await chainsHolding([target], CHANNEL, acknowledged);
        }
        const soloChain = await chainOf(target, CHANNEL);
        assert.ok(soloChain.length >= 3, `solo blocks: ${soloChain.length}`);

        // 1. Maintenance mode, the system channel first; normal envelopes are then refused.
        for (const channelId of CHANNELS)
          await applyConsensusChange(
            [target],
            channelId,
            { state: MAINTENANCE },
            (t) => t.state === MAINTENANCE,
          );
        const normal = await send(target, signedEnvelope(org1User, { channelId: CHANNEL, txId: 'refused' }));
        assert.equal(normal.status, 503, `in maintenance: ${normal.info}`);

        // 2. ConsensusType.Type etcdraft with this orderer as the one consenter, still in maintenance.
        for (const channelId of CHANNELS)
          await applyConsensusChange(
            [target],
            channelId,
            { type: 'etcdraft', metadata },
            (t) => t.type === 'etcdraft' && t.state === MAINTENANCE,
          );
        const migrationBlock: Record<string, number> = {};
        for (const channelId of CHANNELS) {
          const chain = await chainOf(target, channelId);
          migrationBlock[channelId] = chain.length - 1;
          assert.equal(
            consenterMetadataOf(common.Block.decode(chain.at(-1)!)),
            undefined,
            `${channelId}: the type change carries no consenter metadata`,
          );
        }
        if (kind === 'ours') {
          // Beyond Fabric, which orders it and calls the outcome undefined: leaving maintenance
          // before the restart is refused, saying why.
          const tooEarly = await send(target, await consensusUpdate(target, CHANNEL, { state: NORMAL }));
          assert.equal(tooEarly.status, 503, tooEarly.info);
          assert.match(
            tooEarly.info,
            /channel mychannel changed its consensus type from solo to etcdraft \(config block \d+\) and still runs solo until this orderer restarts/,
          );
        }

        // 3. Restarted with a cluster listener: each channel starts a new Raft group of one.
        await node!.restart(raftNodeEnv(clusterPort, node!.ledgerDir));
        if (kind === 'ours')
          for (const channelId of CHANNELS)
            assert.ok(
              node!.output.some(
                (line) =>
                  line.includes('consensus-type migration detected: starting a new Raft group') &&
                  line.includes(channelId),
              ),
              `${channelId}: migration start logged`,
            );

        // Deliver answers 503 until the channel's Raft group of one has elected itself, on both kinds.
        for (const channelId of CHANNELS)
          await waitFor(
            () => `${kind} serving ${channelId} after the restart`,
            async () => (await chainOf(target, channelId).catch(() => undefined)) !== undefined,
            60_000,
            200,
          );

        // 4. Out of maintenance, the system channel first.
        for (const channelId of CHANNELS)
          await applyConsensusChange(
            [target],
            channelId,
            { state: NORMAL },
            (t) => t.state === NORMAL && t.type === 'etcdraft',
          );

        // 5. New envelopes ordered by Raft.
        for (let round = 0; round < 2; round++)
          acknowledged.push(...(await orderOn(target, CHANNEL, `raft-${round}`, 10)));
        const [chain] = await chainsHolding([target], CHANNEL, acknowledged);
        await verifyChain(CHANNEL, chain!);
        assert.deepEqual(headerHashes(chain!.slice(0, soloChain.length)), headerHashes(soloChain));
        const ids = chain!.slice(1).flatMap((b) => txIdsOfBlock(b));
        for (const id of acknowledged) assert.equal(ids.filter((x) => x === id).length, 1, `${id} once`);
        assert.deepEqual(
          ids.filter((id) => id !== '').sort(),
          [...acknowledged].sort(),
          'nothing but the acknowledged envelopes (and config transactions)',
        );
        const systemChain = await chainOf(target, SYSTEM);
        await verifyChain(SYSTEM, systemChain);

        // The first Raft block of each channel: IDs [1] in consenter order, next ID 2.
        for (const [channelId, blocks] of [
          [CHANNEL, chain!],
          [SYSTEM, systemChain],
        ] as const) {
          const number = migrationBlock[channelId]! + 1;
          const bytes = consenterMetadataOf(common.Block.decode(blocks[number]!));
          assert.ok(bytes, `${channelId} block ${number} carries etcdraft metadata`);
          const decoded = etcdraft.BlockMetadata.decode(bytes);
          assert.deepEqual(decoded.consenterIds.map(Number), [1], channelId);
          assert.equal(Number(decoded.nextConsenterId), 2, channelId);
          // Raft index 1 is the bootstrap ConfChange, 2 the leader's empty entry, so this block's is
          // at least 3. Fabric's Go orderer writes a config block with the raft_index of the block
          // before it (ComputeMembershipChanges clones the metadata before writeConfigBlock sets the
          // index), here the fresh metadata's 0; ours writes the index of the block's own entry.
          if (kind === 'ours')
            assert.ok(Number(decoded.raftIndex) >= 3, `${channelId} raft index ${String(decoded.raftIndex)}`);
          else assert.equal(Number(decoded.raftIndex), 0, `${channelId}: Go's config block raft index`);
        }
      });
    },
  );
}
