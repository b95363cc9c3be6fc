// Snapshot catch-up with real processes: a channel whose SnapshotIntervalSize is small (20 KB), one
// of our nodes killed while the others order and snapshot, then restarted. Its log no longer
// reaches the leader's, so the leader sends a Raft snapshot; our node pulls the missing blocks over
// Deliver from the other orderers (TLS, its cluster identity), verifies them and goes on. Run with
// three of ours, and with ours between two of Fabric's Go orderers (a Go leader's snapshot, blocks
// pulled from Go's Deliver). Afterwards every chain is identical and holds every ack once.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RaftCluster, type OrdererImpl } from '../support/raft-cluster.js';
import { skipWithoutFabricBin } from '../support/fabric-fixtures.js';

const clusters: RaftCluster[] = [];
after(async () => {
  for (const cluster of clusters) await cluster.close();
});

async function lagBehindSnapshots(impls: OrdererImpl[]): Promise<void> {
  const cluster = await RaftCluster.create({
    impls,
    tickInterval: '100ms',
    electionTick: 10,
    batchTimeout: '200ms',
    maxMessageCount: 50,
    snapshotIntervalSize: '20 KB',
  });
  clusters.push(cluster);
  await cluster.startAndJoin();
  const ours = cluster.nodes[impls.indexOf('ours')]!;
  // The lagging node goes down now; the others elect a leader among themselves if it led.
  await cluster.waitForLeader();
  await ours.kill();
  await cluster.waitForLeader({ among: cluster.nodes.filter((n) => n !== ours).map((n) => n.index) });
  const acked = new Set<string>();
  const others = cluster.nodes.filter((n) => n !== ours).map((n) => n.index);
  // No fixed total: an envelope refused during a leader change (a Go node answers 503 then) is
  // not sent again, and the load goes on until 600 are acknowledged.
  const traffic = cluster.startLoad({ targets: others, window: 10, label: 'while-down' });
  await traffic.ackedAtLeast(600, 60_000);
  await traffic.stop();
  for (const id of traffic.acked) acked.add(id);
  assert.ok(acked.size >= 600, traffic.describe());
  await ours.start();
  // Ours orders again once it knows the leader (and has caught up to apply what it hears).
  const probe = await cluster.broadcastUntilSuccess(ours, { timeoutMs: 60_000, label: 'probe' });
  acked.add(probe.txId);
  const after = cluster.startLoad({ targets: [ours.index], window: 10, label: 'after', total: 100 });
  await after.ackedAtLeast(100, 60_000);
  await after.stop();
  for (const id of after.acked) acked.add(id);
  await cluster.verifyLedgers(acked);
  assert.match(
    ours.output.join('\n'),
    /catching up to the Raft snapshot at block \[\d+\]: pulling blocks/,
    'the restarted node caught up from a snapshot',
  );
}

describe('etcdraft: a node behind the snapshots catches up by pulling blocks', () => {
  it('three of ours', { skip: skipWithoutFabricBin('osnadmin', 'configtxgen') }, async () => {
    await lagBehindSnapshots(['ours', 'ours', 'ours']);
  });

  it(
    "ours between two of Fabric's Go orderers: a Go leader's snapshot, blocks from Go's Deliver",
    { skip: skipWithoutFabricBin('orderer', 'osnadmin', 'configtxgen') },
    async () => {
      await lagBehindSnapshots(['go', 'ours', 'go']);
    },
  );
});
