// The steps of a consensus-type migration as an operator takes them, against orderers reached by
// address (ours or Fabric's, one or several): read a channel's chain and config over Deliver, send a
// ConsensusType config update signed by the orderer admin until it is in every ledger, order
// envelopes, and wait until every chain holds them. Used by the Kafka and solo to etcdraft tests.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { asBuffer, common, etcdraft, orderer } from '../../src/protos/index.js';
import { readConfigBlock } from '../../src/channelconfig/index.js';
import { blockHeaderHash, lastConfigIndexOf } from '../../src/protoutil/block.js';
import {
  CRYPTO,
  atomicBroadcastClient,
  broadcastAll,
  loadIdentity,
  signedEnvelope,
  type ClientIdentity,
} from './fabric-clients.js';
import { waitFor } from './kafka-cluster.js';
import { configUpdateEnvelope, consensusType, ordererValues } from './config-update.js';
import { readChain, txIdsOfBlock } from './process-load.js';

/** An orderer as these steps reach it; `name` says which one in failures. */
export interface MigratingOrderer {
  readonly address: string;
  readonly name: string;
}

const ordererAdmin = loadIdentity('ordererAdmin');
const org1User = loadIdentity('org1User');

/** Every block of a channel as the node serves it, as received (the orderer admin reads any channel). */
export async function chainOf(
  node: MigratingOrderer,
  channelId: string,
  reader: ClientIdentity = ordererAdmin,
): Promise<Buffer[]> {
  const client = atomicBroadcastClient(node.address);
  try {
    const result = await readChain(client, reader, channelId);
    if (result.status !== 200)
      throw new Error(`${node.name}: Deliver of ${channelId} answered ${result.status}`);
    return result.blockBytes;
  } finally {
    client.close();
  }
}

export function configOf(blockBytes: Buffer): common.IConfig {
  return readConfigBlock(common.Block.decode(blockBytes)).configEnvelope.config!;
}

/** The channel's current config as the node serves it (its last config block). */
export async function currentConfig(node: MigratingOrderer, channelId: string): Promise<common.IConfig> {
  const blocks = await chainOf(node, channelId);
  const last = common.Block.decode(blocks.at(-1)!);
  return configOf(blocks[lastConfigIndexOf(last)]!);
}

export function consensusTypeOf(config: common.IConfig): orderer.ConsensusType {
  return orderer.ConsensusType.decode(
    asBuffer(config.channelGroup!.groups!.Orderer!.values!.ConsensusType!.value),
  );
}

/** One Broadcast to a node: its status and info. */
export async function send(
  node: MigratingOrderer,
  envelope: Buffer,
): Promise<{ status: number; info: string }> {
  const client = atomicBroadcastClient(node.address);
  try {
    const [response] = await broadcastAll(client, [envelope], 30_000);
    return response!;
  } finally {
    client.close();
  }
}

/** A ConsensusType config update of `channelId` (on the node's current config) signed by the orderer admin. */
export async function consensusUpdate(
  node: MigratingOrderer,
  channelId: string,
  change: Partial<orderer.IConsensusType>,
): Promise<Buffer> {
  const config = await currentConfig(node, channelId);
  return configUpdateEnvelope(
    channelId,
    ordererValues(channelId, config, { ConsensusType: consensusType(config, change) }),
    [ordererAdmin],
  );
}

/**
 * Sends a ConsensusType change to the first node, retrying while it is unavailable (no Raft leader
 * yet), until every node has written the config block and `expect` holds for its ConsensusType.
 */
export async function applyConsensusChange(
  nodes: readonly MigratingOrderer[],
  channelId: string,
  change: Partial<orderer.IConsensusType>,
  expect: (type: orderer.ConsensusType) => boolean,
): Promise<void> {
  const heights = await Promise.all(nodes.map(async (n) => (await chainOf(n, channelId)).length));
  let last: { status: number; info: string } | undefined;
  await waitFor(
    () => `the update of ${channelId} accepted (last answer ${JSON.stringify(last)})`,
    async () => {
      last = await send(nodes[0]!, await consensusUpdate(nodes[0]!, channelId, change)).catch(
        (err: Error) => ({ status: 0, info: err.message }),
      );
      if (last.status === 400) throw new Error(`update of ${channelId} refused: ${last.info}`);
      return last.status === 200;
    },
    90_000,
    500,
  );
  await Promise.all(
    nodes.map((node, i) =>
      waitFor(
        () => `${node.name} applying the update of ${channelId}`,
        async () => {
          const blocks = await chainOf(node, channelId);
          return blocks.length > heights[i]! && expect(consensusTypeOf(configOf(blocks.at(-1)!)));
        },
        60_000,
        250,
      ),
    ),
  );
}

/** Sends `count` envelopes of org1's user on one stream; returns the tx IDs, failing on any answer but SUCCESS. */
export async function orderOn(
  node: MigratingOrderer,
  channelId: string,
  prefix: string,
  count: number,
): Promise<string[]> {
  const txIds = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const client = atomicBroadcastClient(node.address);
  try {
    const responses = await broadcastAll(
      client,
      txIds.map((txId) => signedEnvelope(org1User, { channelId, txId })),
      60_000,
    );
    const refused = responses.find((r) => r.status !== 200);
    assert.equal(refused, undefined, `${node.name}: ${JSON.stringify(refused)}`);
    return txIds;
  } finally {
    client.close();
  }
}

/** Waits until every node's chain of the channel holds every one of `txIds` at one height; returns the chains. */
export async function chainsHolding(
  nodes: readonly MigratingOrderer[],
  channelId: string,
  txIds: readonly string[],
): Promise<Buffer[][]> {
  let chains: Buffer[][] = [];
  await waitFor(
    () =>
      `every chain of ${channelId} holding all ${txIds.length} envelopes (heights ${chains.map((c) => c.length).join(', ')})`,
    async () => {
      chains = await Promise.all(nodes.map((n) => chainOf(n, channelId)));
      return (
        chains.every((chain) => {
          const held = new Set(chain.flatMap((b) => txIdsOfBlock(b)));
          return txIds.every((id) => held.has(id));
        }) && chains.every((c) => c.length === chains[0]!.length)
      );
    },
    90_000,
    250,
  );
  return chains;
}

export const headerHashes = (blocks: readonly Buffer[]): string[] =>
  blocks.map((b) => blockHeaderHash(common.Block.decode(b).header!).toString('hex'));

/** A TLS file of the fixtures' orderer<index>.example.com (server.crt, server.key, ca.crt). */
export const ordererTlsFile = (index: number, name: string): string =>
  join(CRYPTO, `ordererOrganizations/example.com/orderers/orderer${index}.example.com/tls/${name}`);

/**
 * The cluster settings an orderer needs as a Raft node after the migration (Fabric's
 * raft_configuration "Local Configuration"): a cluster listener of its own on `port` with
 * orderer<index>'s TLS pair, which it also dials the others with.
 */
export function clusterListenerEnv(index: number, port: number): Record<string, string> {
  return {
    ORDERER_GENERAL_CLUSTER_LISTENADDRESS: '127.0.0.1',
    ORDERER_GENERAL_CLUSTER_LISTENPORT: String(port),
    ORDERER_GENERAL_CLUSTER_SERVERCERTIFICATE: ordererTlsFile(index, 'server.crt'),
    ORDERER_GENERAL_CLUSTER_SERVERPRIVATEKEY: ordererTlsFile(index, 'server.key'),
    ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE: ordererTlsFile(index, 'server.crt'),
    ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY: ordererTlsFile(index, 'server.key'),
    ORDERER_GENERAL_CLUSTER_ROOTCAS: `[${ordererTlsFile(index, 'ca.crt')}]`,
  };
}

/** One consenter of the migration's etcdraft metadata: orderer<index> on its cluster port. */
export interface MigrationConsenter {
  readonly index: number;
  readonly port: number;
}

/** The etcdraft ConfigMetadata of a migration; `edit` spoils it for the refusals. */
export function raftMigrationMetadata(
  consenters: readonly MigrationConsenter[],
  edit: (m: etcdraft.IConfigMetadata) => void = () => {},
): Uint8Array {
  const metadata: etcdraft.IConfigMetadata = {
    consenters: consenters.map(({ index, port }) => ({
      host: '127.0.0.1',
      port,
      clientTlsCert: readFileSync(ordererTlsFile(index, 'server.crt')),
      serverTlsCert: readFileSync(ordererTlsFile(index, 'server.crt')),
    })),
    options: {
      tickInterval: '200ms',
      electionTick: 10,
      heartbeatTick: 1,
      maxInflightBlocks: 5,
      snapshotIntervalSize: 16 * 1024 * 1024,
    },
  };
  edit(metadata);
  return etcdraft.ConfigMetadata.encode(metadata).finish();
}
