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
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RaftCluster, waitFor, type OrdererImpl, type RaftClusterNode } from '../support/raft-cluster.js';
import { skipWithoutFabricBin } from '../support/fabric-fixtures.js';
import { atomicBroadcastClient, broadcastAll, loadIdentity } from '../support/fabric-clients.js';
import {
  configUpdateEnvelope,
  consensusType,
  editedEtcdraftMetadata,
  ordererValues,
} from '../support/config-update.js';
import { configEnvelopeFromBlock, isConfigBlock } from '../../src/channelconfig/index.js';
import { common, etcdraft, orderer } from '../../src/protos/index.js';
import { asBuffer } from '../../src/protos/index.js';

const ordererAdmin = loadIdentity('ordererAdmin');

const clusters: RaftCluster[] = [];
const loads: { stop(): Promise<void> }[] = [];
after(async () => {
  // Loads first: a load left running reopens its streams to killed nodes until stopped.
  for (const load of loads) await load.stop().catch(() => {});
  for (const cluster of clusters) await cluster.close();
});

function consenterCount(block: common.Block): number {
  const config = configEnvelopeFromBlock(block).config!;
  const value = config.channelGroup!.groups!.Orderer!.values!.ConsensusType!.value;
  return etcdraft.ConfigMetadata.decode(orderer.ConsensusType.decode(asBuffer(value)).metadata).consenters
    .length;
}

/**
 * A config update of the channel's etcdraft consenters, made from the leader's latest config as
 * configtxlator compute_update makes it, signed by the orderer admin and broadcast to the leader.
 */
async function updateConsenters(
  cluster: RaftCluster,
  leader: RaftClusterNode,
  edit: (metadata: etcdraft.ConfigMetadata) => void,
): Promise<void> {
  const blocks = (await leader.blocks()).map((bytes) => common.Block.decode(bytes));
  const lastConfig = blocks.findLast((block) => isConfigBlock(block))!;
  const config = configEnvelopeFromBlock(lastConfig).config!;
  const metadata = editedEtcdraftMetadata(config, edit);
  const update = configUpdateEnvelope(
    cluster.channelId,
    ordererValues(cluster.channelId, config, { ConsensusType: consensusType(config, { metadata }) }),
    [ordererAdmin],
  );
  const client = atomicBroadcastClient(leader.address, leader.tls);
  try {
    assert.deepEqual(await broadcastAll(client, [update]), [{ status: 200, info: '' }]);
  } finally {
    client.close();
  }
}

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

  // The config update, made from the latest config as configtxlator compute_update makes it.
  const fourth = await cluster.addNode('ours');
  await fourth.start();
  await updateConsenters(cluster, leader, (m) =>
    m.consenters.push({
      host: '127.0.0.1',
      port: fourth.ports.proxy,
      clientTlsCert: fourth.tlsCertificate,
      serverTlsCert: fourth.tlsCertificate,
    }),
  );
  let joinBlock: Buffer | undefined;
  await waitFor(
    async () => {
      const chain = await leader.blocks().catch(() => []);
      joinBlock = chain.findLast((bytes) => {
        const block = common.Block.decode(bytes);
        return isConfigBlock(block) && consenterCount(block) === 4;
      });
      return joinBlock !== undefined;
    },
    { timeoutMs: 30_000, what: () => `the config block adding the 4th consenter:\n${cluster.tails()}` },
  );
  const joinNumber = Number(common.Block.decode(joinBlock!).header!.number);
  assert.ok(joinNumber > 5, `the join block [${joinNumber}] is well past the genesis block`);
  await before.ackedAtLeast(before.acked.size + 200, 60_000);

  // osnadmin join with that block: the 4th node pulls everything before it.
  const joinFile = join(cluster.root, 'join.block');
  writeFileSync(joinFile, joinBlock!);
  const joined = await fourth.join(joinFile);
  assert.match(joined, /"consensusRelation":\s*"(follower|consenter)"/);
  await waitFor(
    async () => {
      const info = await fourth.channelInfo();
      return info?.consensusRelation === 'consenter' && info.status === 'active';
    },
    {
      timeoutMs: 60_000,
      what: () => `node 3 to become an active consenter (${JSON.stringify(fourth.currentOutput.slice(-20))})`,
    },
  );
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
});
