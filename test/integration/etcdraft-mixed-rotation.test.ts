// TLS certificate rotation in a mixed Raft group: Fabric's Go orderers v2.5.12 and ours on one
// etcdraft channel (test/support/raft-cluster.ts: two Go nodes and one of ours, the genesis block
// made by configtxgen, every node joined with osnadmin). A rotation is made as Fabric operators make
// it (test/support/raft-membership.ts: rotateTlsCertificate): a new TLS certificate from the orderer
// org's TLS CA replaces the consenter's client and server TLS certificate in a config update that
// Fabric's configtxlator compute_update computes, signed by the orderer org's admin and sent to the
// leader; once the config block is written, the node restarts with its new certificate files.
//  (a) A Go node's certificate is rotated in a cluster led by ours (reached by killing Go leaders).
//  (b) Our node's certificate is rotated in a cluster led by a Go node (ours killed once to get one).
//  Then, in a second cluster, the same for a node cut off from the others while its certificate is
//  rotated (as one whose old certificate expired): restarted, its ledger lacks the rotation block,
//  so it follows the channel, pulls that block and rejoins Raft (ours used to delete its WAL there,
//  having taken the switch to consenter for a re-addition under a new Raft ID; this test found it).
// Each under load. Afterwards the rotated node is an active consenter again and its Raft node goes
// on from its WAL (term, vote and log kept under its old Raft ID, as Fabric does), every ledger
// verifies as a peer verifies it and all are identical, and every acknowledged envelope is in them
// exactly once; then, with the third node killed, the leader and the rotated node alone keep
// ordering (a quorum of two that needs the rotated node's vote under its new certificate), and the
// third node catches up when it is back.
// A Go node answers SUCCESS once it handed an envelope on (to the leader's stream, or to its own
// chain when it leads), ours only once the envelope is in a committed block it wrote. So what the
// rotated Go node acknowledged around its rotation (just before its kill -9, or after the leader
// stopped accepting its old certificate, as Fabric's cluster service checks it on every message)
// may be lost: that load is counted apart and its losses reported, not asserted (Fabric's
// behaviour). Everything else acknowledged must be ordered exactly once.
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  RaftCluster,
  underLoad,
  waitFor,
  type BroadcastLoad,
  type OrdererImpl,
  type RaftClusterNode,
} from '../support/raft-cluster.js';
import { skipWithoutFabricBin } from '../support/fabric-fixtures.js';
import { txIdsOfBlock } from '../support/process-load.js';
import { rotateTlsCertificate } from '../support/raft-membership.js';

const skip = skipWithoutFabricBin('orderer', 'osnadmin', 'configtxgen', 'configtxlator');
let running: RaftCluster | undefined;
const loads: BroadcastLoad[] = [];
/** Every envelope acknowledged by a node that must not lose it: each must be ordered exactly once. */
let acked = new Set<string>();

/** A new cluster of two Go nodes and one of ours (node 1), the one before it closed. */
async function startCluster(): Promise<void> {
  await closeCluster();
  const cluster = await RaftCluster.create({
    impls: ['go', 'ours', 'go'],
    tickInterval: '100ms',
    electionTick: 10,
    batchTimeout: '200ms',
    maxMessageCount: 50,
  });
  running = cluster;
  acked = new Set();
  await cluster.startAndJoin();
}

async function closeCluster(): Promise<void> {
  // Loads first: a load left running reopens its streams to killed nodes until stopped.
  for (const load of loads.splice(0)) await load.stop().catch(() => {});
  await running?.close();
  running = undefined;
}

after(closeCluster);

/** The cluster of the running suite. */
function current(): RaftCluster {
  if (!running) throw new Error('no cluster is running');
  return running;
}

/** Bounds in election timeouts (ElectionTick × TickInterval), generous for a shared 2-core machine. */
const electionTimeouts = (count: number) => count * current().electionTimeoutMs;
const indexes = (nodes: readonly RaftClusterNode[]) => nodes.map((n) => n.index);

/** Kills the leader (letting it back as a follower) until a node of `impl` leads; returns it. */
async function leaderOf(impl: OrdererImpl): Promise<RaftClusterNode> {
  const leader = await current().killLeadersUntil((n) => n.impl === impl, {
    attempts: 10,
    timeoutMs: electionTimeouts(30),
  });
  assert.equal(leader.impl, impl, `a node of ${impl} leads`);
  return leader;
}

/** What a rotated node's Raft state was before its rotation, and what its new process started Raft from. */
interface RaftRestart {
  termBefore: number;
  /** etcd Raft's "newRaft" line of the new process (Go's and ours write it alike). */
  started: { term: number; lastIndex: number; line: string } | undefined;
}

/** The Raft state the node's current process last started a Raft node from. */
function raftStart(node: RaftClusterNode): RaftRestart['started'] {
  for (const line of [...node.currentOutput].reverse()) {
    const found =
      /newRaft \d+ \[peers: \[[^\]]*\], term: (\d+), commit: \d+, applied: \d+, lastindex: (\d+)/.exec(line);
    if (found) return { term: Number(found[1]), lastIndex: Number(found[2]), line: found[0] };
  }
  return undefined;
}

/** A Raft member keeps its term, vote and log across a restart (Fabric restarts Raft from its WAL). */
function assertRaftStateKept(node: RaftClusterNode, restart: RaftRestart): void {
  assert.ok(restart.started, `node ${node.index} (${node.impl}) started a Raft node after its restart`);
  assert.ok(
    restart.started.term >= restart.termBefore && restart.started.lastIndex > 0,
    `node ${node.index} (${node.impl}) restarts Raft from its WAL with the same Raft ID: term ${restart.termBefore} ` +
      `before its rotation, but its new process started from "${restart.started.line}"`,
  );
}

/** The node's Raft term as far as its current process has logged it. */
function raftTerm(node: RaftClusterNode): number {
  return Math.max(node.lastRaftRole()?.term ?? 0, raftStart(node)?.term ?? 0);
}

/**
 * Rotates `rotated`'s TLS certificate through `leader` under load, restarts it with the new
 * certificate, and checks the cluster afterwards (see the top of the file). The load goes through
 * every node, or with `cutOff` through the other two while the rotated node is cut off from the
 * others' cluster ports from before the update until its restart.
 */
async function rotateUnderLoad(
  t: TestContext,
  rotated: RaftClusterNode,
  leader: RaftClusterNode,
  label: string,
  options: { cutOff?: boolean } = {},
): Promise<void> {
  const cluster = current();
  assert.notEqual(rotated, leader, 'a follower is rotated');
  const oldCertificate = rotated.tlsCertificate;
  let termBefore = 0;
  // What the rotated Go node acknowledges, apart (see the top of the file).
  const throughRotatedGo =
    rotated.impl === 'go' && !options.cutOff
      ? cluster.startLoad({ targets: [rotated.index], window: 8, label: `${label}-rotated-go` })
      : undefined;
  if (throughRotatedGo) loads.push(throughRotatedGo);
  const strict = cluster.nodes.filter((n) => n !== rotated || (rotated.impl === 'ours' && !options.cutOff));
  const { block } = await underLoad(
    cluster,
    acked,
    { targets: indexes(strict), label, loads, timeoutMs: electionTimeouts(60) },
    async () => {
      // The leader refuses a rotation that leaves fewer active nodes than a quorum besides the
      // rotated one, counting those it heard from lately: a node just restarted must count first.
      await waitFor(
        async () => (await leader.channelMetric('consensus_etcdraft_active_nodes')) === cluster.nodes.length,
        {
          timeoutMs: electionTimeouts(30),
          what: () => `the leader (node ${leader.index}) to count ${cluster.nodes.length} active nodes`,
        },
      );
      termBefore = raftTerm(rotated);
      if (options.cutOff) cluster.isolate(rotated.index);
      const rotation = await rotateTlsCertificate(cluster, rotated, leader, { configtxlator: true });
      if (options.cutOff) cluster.restore(rotated.index);
      // Back with its new certificate: an active consenter of the channel again.
      await waitFor(
        async () => {
          const info = await rotated.channelInfo();
          return info?.consensusRelation === 'consenter' && info.status === 'active';
        },
        {
          timeoutMs: electionTimeouts(60),
          what: () =>
            `node ${rotated.index} (${rotated.impl}) to be an active consenter with its new certificate:\n${cluster.tails()}`,
        },
      );
      return rotation;
    },
  );
  if (throughRotatedGo) {
    await throughRotatedGo.ackedAtLeast(throughRotatedGo.acked.size + 50, electionTimeouts(60));
    await throughRotatedGo.stop();
  }
  assert.ok(!rotated.tlsCertificate.equals(oldCertificate), 'the node runs with its new certificate');
  const restart: RaftRestart = { termBefore, started: raftStart(rotated) };
  const leaderAfter = await cluster.waitForLeader({ timeoutMs: electionTimeouts(30) });
  t.diagnostic(
    `node ${rotated.index} (${rotated.impl}) rotated by config block [${String(block.header!.number)}] through node ` +
      `${leader.index} (${leader.impl}); node ${leaderAfter.index} (${leaderAfter.impl}) leads afterwards; the rotated ` +
      `node was at term ${termBefore}, its new process started Raft from "${restart.started?.line}"`,
  );
  // Under its old Raft ID, the node must go on from its term, vote and log (Fabric restarts Raft
  // from the WAL): checked first, as a node that forgot its log may never catch up.
  assertRaftStateKept(rotated, restart);
  await cluster.verifyLedgers(acked, { timeoutMs: electionTimeouts(60) });

  // The rotated node votes under its new certificate: with the third node down, the leader and it
  // alone are a quorum of three. (If the rotated node leads now, any other one goes.)
  const third = cluster.nodes.find((n) => n !== rotated && n !== leaderAfter)!;
  await third.kill();
  const pair = cluster.nodes.filter((n) => n !== third);
  await underLoad(
    cluster,
    acked,
    { targets: indexes(pair), label: `${label}-pair`, loads, afterwards: 0, timeoutMs: electionTimeouts(60) },
    async () => {},
  );
  await third.start();
  const chain = await cluster.verifyLedgers(acked, { timeoutMs: electionTimeouts(60) });

  if (throughRotatedGo) {
    const ordered = new Set(chain.flatMap((b) => txIdsOfBlock(b)));
    const lost = [...throughRotatedGo.acked].filter((id) => !ordered.has(id));
    t.diagnostic(
      `the rotated Go node acknowledged ${throughRotatedGo.acked.size} envelopes, ${lost.length} of them never ordered`,
    );
  }
}

describe("etcdraft: TLS certificate rotation in a Raft group of Fabric's Go orderers and ours", () => {
  before(async () => {
    if (!skip) await startCluster();
  });

  it("(a) a Go node's certificate is rotated in a cluster led by ours, under load", { skip }, async (t) => {
    const leader = await leaderOf('ours');
    const rotated = current().nodes.find((n) => n.impl === 'go')!;
    await rotateUnderLoad(t, rotated, leader, 'rotate-go');
  });

  // Whether our rotated node still writes the rotation block before its restart is a race (the
  // leader stops talking to its old certificate once it applies the block): when it does not, it
  // follows the channel, pulls the block and switches back to consenter, as when cut off below.
  it(
    "(b) our node's certificate is rotated in a cluster led by a Go node, under load",
    { skip },
    async (t) => {
      const leader = await leaderOf('go');
      const rotated = current().nodes.find((n) => n.impl === 'ours')!;
      await rotateUnderLoad(t, rotated, leader, 'rotate-ours');
    },
  );
});

// A node cut off while its certificate is rotated (as one whose old certificate expired) restarts
// with a ledger short of the rotation block: its last config no longer names its certificate, so
// it follows the channel as a non-consenter, pulls the rotation block over Deliver, then takes its
// place in Raft again under its old Raft ID, going on from its WAL. A cluster of its own.
describe('etcdraft, mixed: a node cut off while its TLS certificate is rotated', () => {
  before(async () => {
    if (!skip) await startCluster();
  });

  it(
    'a Go node, in a cluster led by ours, pulls the rotation block, then rejoins Raft from its WAL',
    { skip },
    async (t) => {
      const leader = await leaderOf('ours');
      const rotated = current().nodes.find((n) => n.impl === 'go')!;
      await rotateUnderLoad(t, rotated, leader, 'cut-off-go', { cutOff: true });
    },
  );

  // Its ledger never holds the rotation block before the restart here.
  it(
    'our node, in a cluster led by a Go node, pulls the rotation block, then rejoins Raft from its WAL',
    { skip },
    async (t) => {
      const leader = await leaderOf('go');
      const rotated = current().nodes.find((n) => n.impl === 'ours')!;
      await rotateUnderLoad(t, rotated, leader, 'cut-off-ours', { cutOff: true });
    },
  );
});
