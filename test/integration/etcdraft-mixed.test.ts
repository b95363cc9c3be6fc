// Fabric's Go orderer and ours in one Raft group, as processes (test/support/raft-cluster.ts):
// two Go orderers v2.5.12 and one of ours on one channel made by Fabric's configtxgen and joined
// with Fabric's osnadmin. Ours as a follower forwarding to a Go leader; ours as the leader of Go
// followers (reached by killing Go leaders until ours wins an election), Go followers forwarding
// to it and writing our blocks; ours killed -9 under load and restarted. After each step all three
// ledgers are identical, verify as a peer verifies them, and hold every acknowledged envelope once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RaftCluster, type RaftClusterNode } from '../support/raft-cluster.js';
import { txIdsOfBlock as txIdsOf } from '../support/process-load.js';
import { skipWithoutFabricBin } from '../support/fabric-fixtures.js';

const skip = skipWithoutFabricBin('orderer', 'osnadmin', 'configtxgen');
let cluster: RaftCluster;
let ours: RaftClusterNode;
const acked = new Set<string>();

before(async () => {
  if (skip) return;
  cluster = await RaftCluster.create({
    impls: ['go', 'ours', 'go'],
    tickInterval: '100ms',
    electionTick: 10,
    batchTimeout: '200ms',
    maxMessageCount: 50,
  });
  await cluster.startAndJoin();
  ours = cluster.nodes[1]!;
});

after(async () => {
  await cluster?.close();
});

async function loadThrough(targets: number[], label: string, total: number): Promise<void> {
  const traffic = cluster.startLoad({ targets, window: 10, label, total });
  await traffic.ackedAtLeast(total, 60_000);
  await traffic.stop();
  for (const id of traffic.acked) acked.add(id);
}

describe("etcdraft: Fabric's Go orderers and ours in one Raft group", () => {
  it('ours as a follower forwards to a Go leader; load through every node', { skip }, async () => {
    let leader = await cluster.waitForLeader();
    if (leader === ours) {
      // Let a Go node lead: ours steps out until another leader is elected, then rejoins.
      await ours.kill();
      leader = await cluster.waitForLeader({ among: [0, 2] });
      await ours.start();
    }
    assert.equal(leader.impl, 'go');
    acked.add((await cluster.broadcastUntilSuccess(ours, { timeoutMs: 30_000 })).txId);
    await loadThrough([ours.index, ours.index], 'ours-follower', 300);
    await loadThrough([0, 1, 2], 'all-go-leader', 300);
    await cluster.verifyLedgers(acked);
  });

  it(
    'ours wins an election after Go leaders are killed; Go followers write its blocks',
    { skip },
    async () => {
      // Each killed Go node comes back as a follower of whoever leads then.
      const leader = await cluster.killLeadersUntil((n) => n === ours, { attempts: 8 });
      assert.equal(leader, ours, 'ours became the leader');
      for (const go of [cluster.nodes[0]!, cluster.nodes[2]!])
        acked.add((await cluster.broadcastUntilSuccess(go, { timeoutMs: 30_000 })).txId);
      await loadThrough([0, 2, 0, 2], 'go-followers', 300);
      await loadThrough([1], 'ours-leader', 200);
      await cluster.verifyLedgers(acked);
    },
  );

  it(
    'ours, leading, killed -9 under load and restarted catches up; nothing ours acknowledged is lost',
    { skip },
    async (t) => {
      // Separate loads, so it is known who acknowledged what: ours answers SUCCESS only for what is
      // committed; a Go follower answers once it handed the envelope to the leader's stream, so
      // what it forwarded to ours just before the kill may be lost (Fabric's behaviour, not ours).
      const throughOurs = cluster.startLoad({ targets: [1], window: 10, label: 'kill-ours-ts' });
      const throughGo = cluster.startLoad({ targets: [0, 2], window: 10, label: 'kill-ours-go' });
      await throughOurs.ackedAtLeast(50, 60_000);
      await ours.kill();
      await cluster.waitForLeader({ among: [0, 2] });
      await throughGo.ackedAtLeast(throughGo.acked.size + 100, 60_000);
      await ours.start();
      acked.add((await cluster.broadcastUntilSuccess(ours, { timeoutMs: 60_000 })).txId);
      await throughOurs.ackedAtLeast(throughOurs.acked.size + 100, 60_000);
      await Promise.all([throughOurs.stop(), throughGo.stop()]);
      for (const id of throughOurs.acked) acked.add(id);
      const chain = await cluster.verifyLedgers(acked);
      const ordered = new Set(chain.flatMap((block) => txIdsOf(block)));
      const lostByGo = [...throughGo.acked].filter((id) => !ordered.has(id));
      t.diagnostic(
        `Go followers acknowledged ${throughGo.acked.size} envelopes, ${lostByGo.length} of them never ordered (forwarded to the killed leader)`,
      );
    },
  );
});
