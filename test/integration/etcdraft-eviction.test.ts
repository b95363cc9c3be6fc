// Eviction as an operator sees it, with three of our orderers as processes: a consenter removed
// by a config update while it was down comes back, hears from no leader, and after
// Consensus.EvictionSuspicion pulls the last config block from the others, catches up to it and
// becomes a follower; one removed while running notices at once; both then report relation
// `follower` on the participation API and keep pulling blocks. Re-added later, a node rejoins as
// a consenter under a new Raft ID (next_consenter_id) and orders again. Every chain is identical
// and holds every acknowledged envelope once.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RaftCluster, waitFor, type RaftClusterNode } from '../support/raft-cluster.js';
import { skipWithoutFabricBin } from '../support/fabric-fixtures.js';
import { consentersOf, updateConsenters } from '../support/raft-membership.js';
import { isConfigBlock } from '../../src/channelconfig/index.js';
import { common, type etcdraft } from '../../src/protos/index.js';
import { readBlockMetadata } from '../../src/consensus/etcdraft/metadata.js';
import { consenterMetadataOf } from '../../src/protoutil/block.js';

const clusters: RaftCluster[] = [];
const loads: { stop(): Promise<void> }[] = [];
after(async () => {
  for (const load of loads) await load.stop().catch(() => {});
  for (const cluster of clusters) await cluster.close();
});

/** The consenter update (see raft-membership.ts), then the config block it wrote on `via`. */
async function updateConsentersAndWait(
  cluster: RaftCluster,
  via: RaftClusterNode,
  edit: (metadata: etcdraft.ConfigMetadata) => void,
): Promise<common.Block> {
  const height = (await via.blocks()).length;
  await updateConsenters(cluster, via, edit);
  let written: common.Block | undefined;
  await waitFor(
    async () => {
      const blocks = (await via.blocks({ bestEffort: true }).catch(() => [])).map((bytes) =>
        common.Block.decode(bytes),
      );
      written = blocks.slice(height).find((block) => isConfigBlock(block));
      return written !== undefined;
    },
    { timeoutMs: 30_000, what: () => `the config block of the consenter update:\n${cluster.tails()}` },
  );
  return written!;
}

const withoutNode = (node: RaftClusterNode) => (metadata: etcdraft.ConfigMetadata) => {
  metadata.consenters = metadata.consenters.filter((c) => c.port !== node.ports.proxy);
};

async function waitForRelation(node: RaftClusterNode, relation: string, timeoutMs = 60_000): Promise<void> {
  let last: unknown;
  await waitFor(
    async () => {
      const info = await node.channelInfo();
      last = info;
      return info?.consensusRelation === relation && info.status === 'active';
    },
    {
      timeoutMs,
      what: () =>
        `node ${node.index} to report ${relation}/active (last ${JSON.stringify(last)}):\n${node.tail(30)}`,
    },
  );
}

describe('etcdraft: eviction of a consenter of ours, down or running at the time, and its return', () => {
  it(
    'removed while down it suspects its eviction and follows; removed while running it follows at once; re-added it rejoins under a new ID',
    { skip: skipWithoutFabricBin('osnadmin', 'configtxgen') },
    async () => {
      const cluster = await RaftCluster.create({
        impls: ['ours', 'ours', 'ours'],
        tickInterval: '100ms',
        electionTick: 10,
        batchTimeout: '200ms',
        maxMessageCount: 50,
        env: { ORDERER_CONSENSUS_EVICTIONSUSPICION: '3s' },
      });
      clusters.push(cluster);
      await cluster.startAndJoin();
      const acked = new Set<string>();
      const loadThrough = async (targets: number[], label: string, count: number) => {
        const load = cluster.startLoad({ targets, window: 8, label });
        loads.push(load);
        await load.ackedAtLeast(count, 60_000);
        await load.stop();
        for (const id of load.acked) acked.add(id);
      };
      let leader = await cluster.waitForLeader();
      await loadThrough([0, 1, 2], 'before', 150);

      // Offline: a follower is killed and removed; the other two order on.
      const down = cluster.nodes.find((n) => n !== leader)!;
      await down.kill();
      const removal = await updateConsentersAndWait(cluster, leader, withoutNode(down));
      assert.equal(consentersOf(removal).length, 2);
      const rest = cluster.nodes.filter((n) => n !== down);
      await loadThrough(
        rest.map((n) => n.index),
        'after-offline-removal',
        100,
      );

      // Back up, it hears from no leader; after EvictionSuspicion it finds out from the others.
      await down.start();
      await waitForRelation(down, 'follower');
      const downLog = down.currentOutput.join('\n');
      assert.match(downLog, /Suspecting our own eviction from the channel/);
      assert.match(
        downLog,
        new RegExp(`Last config block was found to be block \\[${removal.header!.number}\\]`),
      );
      assert.match(downLog, /This node is being removed from replica set/);
      // A follower keeps pulling: it holds what is ordered after its eviction too.
      await loadThrough(
        rest.map((n) => n.index),
        'while-following',
        100,
      );
      await cluster.verifyLedgers(acked, { timeoutMs: 60_000 });

      // Online: a running consenter is removed and becomes a follower at once.
      leader = await cluster.waitForLeader({ among: rest.map((n) => n.index) });
      const removedRunning = rest.find((n) => n !== leader)!;
      await updateConsentersAndWait(cluster, leader, withoutNode(removedRunning));
      await waitForRelation(removedRunning, 'follower', 30_000);
      const survivor = leader;
      await loadThrough([survivor.index], 'one-consenter', 100);
      await cluster.verifyLedgers(acked, { timeoutMs: 60_000 });

      // Re-added, the running follower becomes a consenter again under the next Raft ID.
      const readdition = await updateConsentersAndWait(cluster, survivor, (metadata) =>
        metadata.consenters.push({
          host: '127.0.0.1',
          port: removedRunning.ports.proxy,
          clientTlsCert: removedRunning.tlsCertificate,
          serverTlsCert: removedRunning.tlsCertificate,
        }),
      );
      await waitForRelation(removedRunning, 'consenter');
      const readdedBlock = common.Block.decode(
        (await survivor.blocks({ bestEffort: true }))[Number(readdition.header!.number)]!,
      );
      const ids = readBlockMetadata(consenterMetadataOf(readdedBlock), []);
      assert.deepEqual(
        [ids.consenterIds.length, ids.nextConsenterId],
        [2, 5],
        'the re-added node has ID 4, never reused',
      );
      assert.ok(ids.consenterIds.includes(4), `consenter IDs ${ids.consenterIds.join(', ')}`);
      await loadThrough([survivor.index, removedRunning.index], 'readded', 150);
      // It votes: the two consenters order only together.
      await cluster.verifyLedgers(acked, { timeoutMs: 60_000 });
    },
  );
});
