// Growing a running cluster (of ours, and of Fabric's Go orderers) by one node of ours, as an
// operator does it: under load, a config
// update signed by the orderer org's admin adds a 4th consenter (its own TLS certificate, issued by
// the org's TLS CA); the new node is joined with `osnadmin channel join` and that config block (far
// past the genesis block), reports onboarding while it pulls every earlier block over Deliver from
// the others, then becomes a consenter and votes: with one of the original three killed, the
// remaining two order only with it. Every chain is identical and holds every acknowledged envelope
// once.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RaftCluster, waitFor, type OrdererImpl } from '../support/raft-cluster.js';
import { skipWithoutFabricBin } from '../support/fabric-fixtures.js';
import { growByOne } from '../support/raft-membership.js';

const clusters: RaftCluster[] = [];
const loads: { stop(): Promise<void> }[] = [];
after(async () => {
  // Loads first: a load left running reopens its streams to killed nodes until stopped.
  for (const load of loads) await load.stop().catch(() => {});
  for (const cluster of clusters) await cluster.close();
});

/**
 * The cluster of `impls` grows by a 4th node of ours under load, which onboards by pulling from
 * the others' Deliver, becomes a consenter and votes.
 */
async function growByOneOfOurs(impls: OrdererImpl[]): Promise<void> {
  const cluster = await RaftCluster.create({
    impls,
    tickInterval: '100ms',
    electionTick: 10,
    batchTimeout: '200ms',
    maxMessageCount: 50,
  });
  clusters.push(cluster);
  await cluster.startAndJoin();
  let leader = await cluster.waitForLeader();
  const acked = new Set<string>();
  const before = cluster.startLoad({ targets: [0, 1, 2], window: 8, label: 'before' });
  loads.push(before);
  await before.ackedAtLeast(400, 60_000);

  // The config update, then (more blocks later) osnadmin join with the block it made: the 4th node
  // pulls everything before it, and what came after.
  const { node: fourth, joinNumber } = await growByOne(cluster, leader, 'ours', {
    beforeJoin: () => before.ackedAtLeast(before.acked.size + 200, 60_000),
  });
  assert.ok(joinNumber > 5, `the join block [${joinNumber}] is well past the genesis block`);
  const output = fourth.output.join('\n');
  assert.match(output, /onboarding channel: pulling its blocks up to the join block/);
  assert.match(
    output,
    /lists this orderer as a consenter of channel .*: switching from follower to consenter/,
  );

  // Ordering through the new node too.
  const through = cluster.startLoad({ targets: [3, 3], window: 8, label: 'through-fourth' });
  loads.push(through);
  await through.ackedAtLeast(200, 60_000);
  await through.stop();
  await before.stop();
  for (const id of [...before.acked, ...through.acked]) acked.add(id);
  await cluster.verifyLedgers(acked, { timeoutMs: 60_000 });

  // The new node votes: with one of the original three down, a quorum of four needs it.
  leader = await cluster.waitForLeader();
  const victim = leader.index === 3 ? cluster.nodes[0]! : leader;
  await victim.kill();
  const survivors = cluster.nodes.filter((n) => n !== victim);
  const answer = await cluster.firstSuccess(survivors, { timeoutMs: 60_000, label: 'quorum-of-four' });
  for (const id of answer.acked) acked.add(id);
  await cluster.verifyLedgers(acked, { nodes: survivors.map((n) => n.index), timeoutMs: 60_000 });
}

/**
 * Three of ours with a block per envelope, so that the channel is long; a 4th node of ours joined
 * with the config block adding it is killed -9 while it onboards (its ledger part of the way to
 * the join block), restarted, and finishes: it resumes at its ledger height, and its chain is the
 * others', with no block twice and none missing.
 */
async function crashWhileOnboarding(): Promise<void> {
  const cluster = await RaftCluster.create({
    impls: ['ours', 'ours', 'ours'],
    tickInterval: '100ms',
    electionTick: 10,
    batchTimeout: '200ms',
    maxMessageCount: 1,
  });
  clusters.push(cluster);
  await cluster.startAndJoin();
  const leader = await cluster.waitForLeader();
  const acked = new Set<string>();
  const history = cluster.startLoad({ targets: [0, 1, 2], window: 8, label: 'history' });
  loads.push(history);
  await history.ackedAtLeast(1500, 120_000);
  await history.stop();
  for (const id of history.acked) acked.add(id);
  let killedAt: { height: number; joinNumber: number } | undefined;
  const { node: fourth } = await growByOne(cluster, leader, 'ours', {
    timeoutMs: 120_000,
    afterJoin: async (node, joinNumber) => {
      // Killed once the participation API shows it onboarding with a quarter of the blocks pulled.
      await waitFor(
        async () => {
          const info = await node.channelInfo();
          if (info?.status !== 'onboarding' || info.height < joinNumber / 4) return false;
          await node.kill();
          killedAt = { height: info.height, joinNumber };
          return true;
        },
        { timeoutMs: 60_000, intervalMs: 5, what: () => `node ${node.index} to report onboarding` },
      );
      await node.start();
    },
  });
  assert.ok(killedAt, 'killed while onboarding');
  assert.ok(
    killedAt.height < killedAt.joinNumber,
    `killed with ${killedAt.height} of the ${killedAt.joinNumber + 1} blocks up to the join block`,
  );
  console.log(
    `# killed -9 while onboarding with ${killedAt.height} blocks of the ${killedAt.joinNumber + 1} up to the join block`,
  );
  const output = fourth.output.join('\n');
  assert.match(output, /onboarding channel: pulling its blocks up to the join block/);
  // Ordering through the new node, then every chain (the restarted node's too) verified and compared.
  const through = cluster.startLoad({ targets: [3], window: 8, label: 'after-crash' });
  loads.push(through);
  await through.ackedAtLeast(100, 60_000);
  await through.stop();
  for (const id of through.acked) acked.add(id);
  await cluster.verifyLedgers(acked, { timeoutMs: 60_000 });
}

describe('etcdraft: a running cluster grows by a node of ours that onboards by pulling', () => {
  const skip = skipWithoutFabricBin('osnadmin', 'configtxgen');
  it(
    'three of ours grow to four under load; the fourth onboards, becomes a consenter and votes',
    { skip },
    () => growByOneOfOurs(['ours', 'ours', 'ours']),
  );
  it(
    "three of Fabric's Go orderers grow by one of ours, which onboards from Go's Deliver and votes",
    { skip: skipWithoutFabricBin('orderer', 'osnadmin', 'configtxgen') },
    () => growByOneOfOurs(['go', 'go', 'go']),
  );
  it(
    'a node of ours killed -9 while onboarding resumes at its ledger height and finishes, no block twice or missing',
    { skip },
    () => crashWhileOnboarding(),
  );
});
