// Raft membership changes with orderer processes, made as operators make them (issue #12): config
// updates of the channel's etcdraft ConsensusType metadata signed by the orderer org's admin
// (test/support/raft-membership.ts), new nodes joined with `osnadmin channel join` and the latest
// config block, onboarding by pulling over Deliver.
//
// One cluster of ours goes through the steps in turn: three nodes under load grow to four, then
// five; five tolerate two failures (the leader and a follower killed -9, ordering goes on, both
// restart and catch up), and meanwhile a removal that would leave no reachable quorum is refused;
// an update changing two consenters at once is refused; a follower's TLS certificate is rotated,
// then the leader's while another follower is down (the leader hands leadership to a follower that
// is there before its own rotation is ordered), each node restarted with its new certificate; one
// node is removed and the other four keep ordering. A second cluster of three of ours grows by a
// Fabric Go orderer, which onboards from our Deliver and votes.
// After every step every ledger verifies as a peer verifies it, all are identical, and every
// acknowledged envelope is in them exactly once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  RaftCluster,
  underLoad as underLoadOf,
  waitFor,
  type BroadcastLoad,
  type RaftClusterNode,
} from '../support/raft-cluster.js';
import { skipWithoutFabricBin } from '../support/fabric-fixtures.js';
import {
  broadcastTo,
  consenterCount,
  consentersOf,
  consenterUpdate,
  growByOne,
  isConsenter,
  latestConfigBlock,
  rotateTlsCertificate,
  updateConsenters,
  waitForConfigBlock,
} from '../support/raft-membership.js';
import { txIdsOfBlock } from '../support/process-load.js';

const clusterOptions = {
  tickInterval: '100ms',
  electionTick: 10,
  batchTimeout: '200ms',
  maxMessageCount: 50,
} as const;

const clusters: RaftCluster[] = [];
const loads: BroadcastLoad[] = [];
after(async () => {
  // Loads first: a load left running reopens its streams to killed nodes until stopped.
  for (const load of loads) await load.stop().catch(() => {});
  for (const cluster of clusters) await cluster.close();
});
const underLoad: typeof underLoadOf = (cluster, acked, options, during) =>
  underLoadOf(cluster, acked, { loads, ...options }, during);

const indexes = (nodes: readonly RaftClusterNode[]) => nodes.map((n) => n.index);

/** Waits until every node reports consensus_etcdraft_cluster_size `size` (its ConfChange applied). */
async function clusterSizeIs(nodes: readonly RaftClusterNode[], size: number): Promise<void> {
  const sizes = new Map<number, number | undefined>();
  await waitFor(
    async () => {
      for (const node of nodes)
        sizes.set(node.index, await node.channelMetric('consensus_etcdraft_cluster_size'));
      return [...sizes.values()].every((s) => s === size);
    },
    {
      timeoutMs: 30_000,
      what: () => `cluster size ${size} on every node (${JSON.stringify([...sizes.entries()])})`,
    },
  );
}

describe('etcdraft membership changes with processes of ours, as operators make them', () => {
  const skip = skipWithoutFabricBin('osnadmin', 'configtxgen');
  let cluster: RaftCluster;
  /** The nodes that are consenters now (a removed node leaves this list). */
  let members: RaftClusterNode[] = [];
  const acked = new Set<string>();

  before(async () => {
    if (skip) return;
    cluster = await RaftCluster.create({ impls: ['ours', 'ours', 'ours'], ...clusterOptions });
    clusters.push(cluster);
    await cluster.startAndJoin();
    members = [...cluster.nodes];
  });

  const leaderOf = (nodes: readonly RaftClusterNode[] = members) =>
    cluster.waitForLeader({ among: indexes(nodes.filter((n) => n.running)) });

  it(
    'three nodes under load grow to four, then five; each new node onboards by pulling',
    { skip },
    async () => {
      const leader = await leaderOf();
      await underLoad(cluster, acked, { targets: [0, 1, 2], label: 'grow' }, async (load) => {
        for (const size of [4, 5]) {
          const { node, joinNumber } = await growByOne(cluster, leader, 'ours', {
            beforeJoin: () => load.ackedAtLeast(load.acked.size + 50, 60_000),
          });
          members.push(node);
          assert.ok(joinNumber > 1, `node ${node.index} joins with a config block past the genesis block`);
          assert.match(node.output.join('\n'), /onboarding channel: pulling its blocks up to the join block/);
          const { block } = await latestConfigBlock(leader);
          assert.equal(consenterCount(block), size);
        }
      });
      await clusterSizeIs(members, 5);
      await cluster.verifyLedgers(acked, { nodes: indexes(members), timeoutMs: 60_000 });
    },
  );

  it(
    'five tolerate two failures (the leader and a follower killed -9 under load) and refuse a removal that loses quorum',
    { skip },
    async (t) => {
      assert.equal(members.length, 5);
      const leader = await leaderOf();
      // Two of the original three go, so the quorum of three left needs both new nodes' votes.
      const follower = members.find((n) => n !== leader && n.index < 3)!;
      const victims = [leader, follower];
      const survivors = members.filter((n) => !victims.includes(n));
      await underLoad(
        cluster,
        acked,
        { targets: indexes(members), label: 'two-down', afterwards: 50 },
        async (load) => {
          await Promise.all(victims.map((n) => n.kill()));
          const newLeader = await cluster.waitForLeader({ among: indexes(survivors), timeoutMs: 30_000 });
          await load.ackedAtLeast(load.acked.size + 200, 60_000);

          // Removing one of the three alive would leave two of four: no quorum. The leader knows
          // who is alive (consensus_etcdraft_active_nodes, from Raft's recent activity).
          await waitFor(
            async () => (await newLeader.channelMetric('consensus_etcdraft_active_nodes')) === 3,
            {
              timeoutMs: 20_000,
              what: () => `the leader (node ${newLeader.index}) to count 3 active nodes`,
            },
          );
          const alive = survivors.find((n) => n !== newLeader)!;
          const before = await latestConfigBlock(newLeader);
          const refusal = await broadcastTo(
            newLeader,
            await consenterUpdate(cluster, newLeader, (m) => {
              m.consenters = m.consenters.filter((c) => !isConsenter(c, alive.tlsCertificate));
            }),
          );
          assert.equal(refusal.status, 400, `refused as BAD_REQUEST: ${JSON.stringify(refusal)}`);
          assert.match(refusal.info, /3 out of 4 nodes are alive, configuration will result in quorum loss/);
          t.diagnostic(`quorum-loss refusal: ${refusal.status} ${refusal.info}`);
          const after = await latestConfigBlock(newLeader);
          assert.equal(
            after.block.header!.number,
            before.block.header!.number,
            'no config block was written',
          );

          await Promise.all(victims.map((n) => n.start()));
        },
      );
      await cluster.verifyLedgers(acked, { nodes: indexes(members), timeoutMs: 60_000 });
    },
  );

  it('refuses an update that changes two consenters at once', { skip }, async (t) => {
    const leader = await leaderOf();
    const [a, b] = members.filter((n) => n !== leader);
    const before = await latestConfigBlock(leader);
    const removeTwo = await broadcastTo(
      leader,
      await consenterUpdate(cluster, leader, (m) => {
        m.consenters = m.consenters.filter(
          (c) => !isConsenter(c, a!.tlsCertificate) && !isConsenter(c, b!.tlsCertificate),
        );
      }),
    );
    assert.equal(removeTwo.status, 400, `refused as BAD_REQUEST: ${JSON.stringify(removeTwo)}`);
    assert.match(removeTwo.info, /update of more than one consenter at a time is not supported/);
    t.diagnostic(`two-change refusal: ${removeTwo.status} ${removeTwo.info}`);
    const after = await latestConfigBlock(leader);
    assert.equal(after.block.header!.number, before.block.header!.number, 'no config block was written');
    assert.equal(consenterCount(after.block), 5);
  });

  const rotate = (node: RaftClusterNode, via: RaftClusterNode) =>
    rotateTlsCertificate(cluster, node, via, { members });

  it(
    "a follower's TLS certificate is rotated, then the leader's (a follower down); the leader hands over first",
    { skip },
    async () => {
      let leader = await leaderOf();
      const follower = members.find((n) => n !== leader)!;
      await underLoad(cluster, acked, { targets: indexes(members), label: 'rotate-follower' }, () =>
        rotate(follower, leader),
      );
      await cluster.verifyLedgers(acked, { nodes: indexes(members), timeoutMs: 60_000 });

      // The leader's own rotation, with the follower of the lowest Raft ID down (Raft IDs follow
      // the nodes' order here: 1-3 for the first three, 4 and 5 for those added): leadership must
      // go to a follower that is there.
      leader = await leaderOf();
      const rotated = leader;
      const down = members.find((n) => n !== rotated)!;
      // The leader's active set must first include everyone again (the follower rotated above has
      // just restarted), so that the count of 4 below is the set without `down`, not a stale one.
      await waitFor(async () => (await rotated.channelMetric('consensus_etcdraft_active_nodes')) === 5, {
        timeoutMs: 20_000,
        what: () => `the leader (node ${rotated.index}) to count 5 active nodes`,
      });
      await down.kill();
      await waitFor(async () => (await rotated.channelMetric('consensus_etcdraft_active_nodes')) === 4, {
        timeoutMs: 20_000,
        what: () => `the leader (node ${rotated.index}) to count 4 active nodes`,
      });
      const up = members.filter((n) => n !== down);
      const linesBefore = rotated.output.length;
      await underLoad(cluster, acked, { targets: indexes(up), label: 'rotate-leader' }, () =>
        rotate(rotated, rotated),
      );
      const handOver =
        /removes or rotates the certificate of this leader \(node \d+\); transferring leadership to node (\d+) first/.exec(
          rotated.output.slice(linesBefore).join('\n'),
        );
      assert.ok(handOver, `node ${rotated.index} hands leadership over before its rotation`);
      assert.notEqual(Number(handOver[1]), down.index + 1, 'not to the follower that is down');
      const newLeader = await leaderOf();
      assert.notEqual(newLeader, rotated, 'another node leads after the leader was rotated');
      await down.start();
      await cluster.verifyLedgers(acked, { nodes: indexes(members), timeoutMs: 60_000 });
    },
  );

  it('one node is removed; the other four keep ordering', { skip }, async () => {
    const leader = await leaderOf();
    const removed = members.find((n) => n !== leader)!;
    const remaining = members.filter((n) => n !== removed);
    await underLoad(cluster, acked, { targets: indexes(remaining), label: 'remove' }, async () => {
      const certificate = removed.tlsCertificate;
      await updateConsenters(cluster, leader, (m) => {
        m.consenters = m.consenters.filter((c) => !isConsenter(c, certificate));
      });
      await waitForConfigBlock(
        cluster,
        leader,
        (block) =>
          consenterCount(block) === 4 && !consentersOf(block).some((c) => isConsenter(c, certificate)),
        `the config block removing node ${removed.index}`,
      );
    });
    members = remaining;
    await clusterSizeIs(members, 4);
    // Its own state after removal is not checked here (eviction is handled elsewhere); it goes.
    await removed.kill();
    await cluster.verifyLedgers(acked, { nodes: indexes(members), timeoutMs: 60_000 });
  });
});

describe('etcdraft: a Fabric Go orderer joins a running cluster of three of ours', () => {
  const skip = skipWithoutFabricBin('orderer', 'osnadmin', 'configtxgen');
  it(
    'the Go node onboards by pulling from our Deliver, becomes a consenter and votes',
    { skip },
    async (t) => {
      const cluster = await RaftCluster.create({ impls: ['ours', 'ours', 'ours'], ...clusterOptions });
      clusters.push(cluster);
      await cluster.startAndJoin();
      const acked = new Set<string>();
      const leader = await cluster.waitForLeader();
      assert.equal(leader.impl, 'ours');
      const go = await underLoad(cluster, acked, { targets: [0, 1, 2], label: 'go-joins' }, async (load) => {
        const { node } = await growByOne(cluster, leader, 'go', {
          beforeJoin: () => load.ackedAtLeast(load.acked.size + 50, 60_000),
        });
        return node;
      });
      await cluster.verifyLedgers(acked, { timeoutMs: 60_000 });

      // It votes: with our leader killed, a quorum of four needs the Go node. Load through ours
      // and through Go apart: ours answers SUCCESS once the envelope is in a committed block, a Go
      // follower once it handed it to the leader's stream, so what it forwarded to the killed
      // leader may be lost (Fabric's behaviour, reported, not asserted).
      const victim = await cluster.waitForLeader();
      assert.notEqual(victim, go);
      const survivors = cluster.nodes.filter((n) => n !== victim);
      const throughGo = cluster.startLoad({ targets: [go.index], window: 8, label: 'go-votes-go' });
      loads.push(throughGo);
      await underLoad(
        cluster,
        acked,
        { targets: indexes(survivors.filter((n) => n !== go)), label: 'go-votes', before: 20 },
        async () => {
          await victim.kill();
          await cluster.waitForLeader({ among: indexes(survivors), timeoutMs: 30_000 });
        },
      );
      await throughGo.ackedAtLeast(throughGo.acked.size + 50, 60_000);
      await throughGo.stop();
      const chain = await cluster.verifyLedgers(acked, { nodes: indexes(survivors), timeoutMs: 60_000 });
      const ordered = new Set(chain.flatMap((block) => txIdsOfBlock(block)));
      const lostByGo = [...throughGo.acked].filter((id) => !ordered.has(id));
      t.diagnostic(
        `the Go node acknowledged ${throughGo.acked.size} envelopes, ${lostByGo.length} of them never ordered (forwarded to the killed leader)`,
      );
    },
  );
});
