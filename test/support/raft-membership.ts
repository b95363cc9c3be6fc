// Raft membership changes of a RaftCluster as operators make them: a config update of the channel's
// etcdraft ConsensusType metadata (made from the latest config block as configtxlator
// compute_update makes it), signed by the orderer org's admin; a new node joined with
// `osnadmin channel join` and the config block that added it, onboarding by pulling.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configEnvelopeFromBlock, isConfigBlock } from '../../src/channelconfig/index.js';
import { asBuffer, common, etcdraft, orderer } from '../../src/protos/index.js';
import { atomicBroadcastClient, broadcastAll, loadIdentity } from './fabric-clients.js';
import {
  configtxlatorOrdererValues,
  configUpdateEnvelope,
  consensusType,
  editedEtcdraftMetadata,
  ordererValues,
} from './config-update.js';
import { waitFor, type OrdererImpl, type RaftCluster, type RaftClusterNode } from './raft-cluster.js';

const ordererAdmin = loadIdentity('ordererAdmin');

/** The etcdraft consenters a config block sets. */
export function consentersOf(block: common.Block): etcdraft.IConsenter[] {
  const config = configEnvelopeFromBlock(block).config!;
  const value = config.channelGroup!.groups!.Orderer!.values!.ConsensusType!.value;
  return etcdraft.ConfigMetadata.decode(orderer.ConsensusType.decode(asBuffer(value)).metadata).consenters;
}

export function consenterCount(block: common.Block): number {
  return consentersOf(block).length;
}

/** The consenter entry of a node: its proxy as Host/Port, its TLS certificate as both certificates. */
export function consenterOf(node: RaftClusterNode, certificate = node.tlsCertificate): etcdraft.IConsenter {
  return {
    host: '127.0.0.1',
    port: node.ports.proxy,
    clientTlsCert: certificate,
    serverTlsCert: certificate,
  };
}

/** Whether a consenter entry names this certificate (consenters are known by its exact bytes, as in Fabric). */
export function isConsenter(consenter: etcdraft.IConsenter, certificate: Buffer): boolean {
  return asBuffer(consenter.clientTlsCert ?? new Uint8Array()).equals(certificate);
}

/** The newest config block of the node's chain, decoded, with its bytes. */
export async function latestConfigBlock(
  node: RaftClusterNode,
): Promise<{ block: common.Block; bytes: Buffer }> {
  const chain = await node.blocks();
  for (let i = chain.length - 1; i >= 0; i--) {
    const block = common.Block.decode(chain[i]!);
    if (isConfigBlock(block)) return { block, bytes: chain[i]! };
  }
  throw new Error(`node ${node.index} has no config block`);
}

/**
 * A CONFIG_UPDATE envelope of the channel's etcdraft consenters, made from `via`'s latest config as
 * configtxlator compute_update makes it (or by Fabric's configtxlator itself, with `configtxlator`),
 * signed by the orderer admin.
 */
export async function consenterUpdate(
  cluster: RaftCluster,
  via: RaftClusterNode,
  edit: (metadata: etcdraft.ConfigMetadata) => void,
  options: { configtxlator?: boolean } = {},
): Promise<Buffer> {
  const config = configEnvelopeFromBlock((await latestConfigBlock(via)).block).config!;
  const values = { ConsensusType: consensusType(config, { metadata: editedEtcdraftMetadata(config, edit) }) };
  const update = options.configtxlator
    ? await configtxlatorOrdererValues(cluster.channelId, config, values)
    : ordererValues(cluster.channelId, config, values);
  return configUpdateEnvelope(cluster.channelId, update, [ordererAdmin]);
}

/** Broadcasts one envelope to the node on its own stream; returns the answer. */
export async function broadcastTo(
  node: RaftClusterNode,
  envelope: Buffer,
): Promise<{ status: number; info: string }> {
  const client = atomicBroadcastClient(node.address, node.tls);
  try {
    const [answer] = await broadcastAll(client, [envelope]);
    return answer!;
  } finally {
    client.close();
  }
}

/** The consenter update, broadcast to `via` (the leader, usually), which must answer SUCCESS. */
export async function updateConsenters(
  cluster: RaftCluster,
  via: RaftClusterNode,
  edit: (metadata: etcdraft.ConfigMetadata) => void,
): Promise<void> {
  const answer = await broadcastTo(via, await consenterUpdate(cluster, via, edit));
  assert.deepEqual(answer, { status: 200, info: '' }, `node ${via.index} accepts the consenter update`);
}

/** Waits until the node's chain holds a config block that satisfies `matches`; returns the newest such block. */
export async function waitForConfigBlock(
  cluster: RaftCluster,
  node: RaftClusterNode,
  matches: (block: common.Block) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<{ block: common.Block; bytes: Buffer }> {
  let found: { block: common.Block; bytes: Buffer } | undefined;
  await waitFor(
    async () => {
      const chain = await node.blocks({ bestEffort: true }).catch(() => []);
      for (let i = chain.length - 1; i >= 0 && !found; i--) {
        const block = common.Block.decode(chain[i]!);
        if (isConfigBlock(block) && matches(block)) found = { block, bytes: chain[i]! };
      }
      return found !== undefined;
    },
    { timeoutMs, what: () => `${what} on node ${node.index}:\n${cluster.tails()}` },
  );
  return found!;
}

/**
 * The cluster grows by one node of `impl`, as an operator grows it: a new node (its own TLS
 * certificate from the org's TLS CA) is started, a config update through `via` adds it as a
 * consenter, and it is joined with `osnadmin channel join` and the config block that added it. It
 * onboards by pulling the earlier blocks from the others' Deliver; resolves once it reports itself
 * an active consenter. Returns the node and the join block's number.
 */
export async function growByOne(
  cluster: RaftCluster,
  via: RaftClusterNode,
  impl: OrdererImpl,
  options: {
    timeoutMs?: number;
    /** Runs between the config block and the join (e.g. to let the channel grow past the join block). */
    beforeJoin?: () => Promise<void>;
    /** Runs once the join is accepted, before the node is awaited as an active consenter. */
    afterJoin?: (node: RaftClusterNode, joinNumber: number) => Promise<void>;
  } = {},
): Promise<{ node: RaftClusterNode; joinNumber: number }> {
  const node = await cluster.addNode(impl);
  await node.start();
  const certificate = node.tlsCertificate;
  await updateConsenters(cluster, via, (m) => m.consenters.push(consenterOf(node)));
  const join_ = await waitForConfigBlock(
    cluster,
    via,
    (block) => consentersOf(block).some((c) => isConsenter(c, certificate)),
    `the config block adding node ${node.index}`,
  );
  await options.beforeJoin?.();
  const joinFile = join(cluster.root, `join-${node.index}.block`);
  writeFileSync(joinFile, join_.bytes);
  const joined = await node.join(joinFile);
  assert.match(joined, /"consensusRelation":\s*"(follower|consenter)"/);
  const joinNumber = Number(join_.block.header!.number);
  await options.afterJoin?.(node, joinNumber);
  await waitFor(
    async () => {
      const info = await node.channelInfo();
      return info?.consensusRelation === 'consenter' && info.status === 'active';
    },
    {
      timeoutMs: options.timeoutMs ?? 60_000,
      what: () =>
        `node ${node.index} (${impl}) to become an active consenter (${JSON.stringify(node.currentOutput.slice(-20))})`,
    },
  );
  return { node, joinNumber };
}

/**
 * Rotates the node's TLS certificate as operators rotate it: a new certificate (a new key pair from
 * the orderer org's TLS CA) replaces the old one as the consenter's client and server TLS
 * certificate in a config update sent through `via`; once another running member holds the config
 * block (checked: same consenter count, the old certificate gone) and `via` acknowledged it, the
 * node is restarted (kill -9, then start) with the new certificate, Fabric's Go orderer and ours
 * alike (the next start reads the node's new crypto folder). `members` are the consenters now
 * (default: every node); `configtxlator` has Fabric's configtxlator compute the update. Returns the
 * config block that rotated it.
 */
export async function rotateTlsCertificate(
  cluster: RaftCluster,
  node: RaftClusterNode,
  via: RaftClusterNode,
  options: { members?: readonly RaftClusterNode[]; configtxlator?: boolean } = {},
): Promise<{ block: common.Block; bytes: Buffer }> {
  const members = options.members ?? cluster.nodes;
  const oldCertificate = node.tlsCertificate;
  const newCertificate = node.renewTlsCertificate();
  // Not awaited yet: a leader rotating itself answers once the new leader's block reaches it.
  const answer = broadcastTo(
    via,
    await consenterUpdate(
      cluster,
      via,
      (m) => {
        const entry = m.consenters.find((c) => isConsenter(c, oldCertificate))!;
        entry.clientTlsCert = newCertificate;
        entry.serverTlsCert = newCertificate;
      },
      { configtxlator: options.configtxlator },
    ),
  );
  // A refusal ends the wait at once (a SUCCESS answer does not: the block is waited for).
  const refused = answer.then(async (a) => {
    if (a.status !== 200) throw new Error(`node ${via.index} refused the rotation: ${JSON.stringify(a)}`);
    return new Promise<never>(() => {});
  });
  refused.catch(() => {});
  const rotated = await Promise.race([
    waitForConfigBlock(
      cluster,
      members.find((n) => n !== node && n.running)!,
      (b) => consentersOf(b).some((c) => isConsenter(c, newCertificate)),
      `the config block rotating node ${node.index}'s certificate`,
    ),
    refused,
  ]);
  assert.equal(consenterCount(rotated.block), members.length, 'a rotation keeps the consenter count');
  assert.ok(
    consentersOf(rotated.block).every(
      (c) =>
        !asBuffer(c.clientTlsCert!).equals(oldCertificate) &&
        !asBuffer(c.serverTlsCert!).equals(oldCertificate),
    ),
    'the old certificate is gone',
  );
  assert.deepEqual(await answer, { status: 200, info: '' }, `node ${via.index} acknowledges the rotation`);
  await node.restart();
  return rotated;
}
