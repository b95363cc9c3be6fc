// Several real orderers (in-process, each with its own ledger folder and its own orderer MSP) booted
// from Fabric's sys-kafka.block on one real Kafka broker, which that block names as 127.0.0.1:9092.
// Plus the client-side helpers the Kafka tests share: create a channel, broadcast, read ledgers.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { common } from '../../src/protos/index.js';
import { blockHeaderHash } from '../../src/protoutil/index.js';
import { consenterMetadataOf } from '../../src/protoutil/block.js';
import { decodeKafkaMetadata, type KafkaMetadataValues } from '../../src/consensus/kafka/index.js';
import {
  CRYPTO,
  FIXTURES,
  atomicBroadcastClient,
  broadcastAll,
  loadIdentity,
  signChannelCreateTx,
  signedEnvelope,
} from './fabric-clients.js';
import { startTestOrderer, type TestOrderer } from './orderer.js';
import { kafkaBrokerUnavailableReason } from './kafka-broker.js';
import { freePort } from './orderer-process.js';

const projectDir = new URL('../../', import.meta.url).pathname;

/** Why the Kafka tests cannot run here, or undefined. The test command installs Kafka first. */
export function kafkaTestsSkipReason(): string | undefined {
  const missing = kafkaBrokerUnavailableReason();
  if (missing) return missing;
  const version = process.env.KAFKA_VERSION ?? '3.9.1';
  const cache = process.env.KAFKA_CACHE_DIR ?? join(projectDir, '.cache/kafka');
  if (!existsSync(join(cache, version, 'libs'))) {
    return `Kafka is not installed in ${join(cache, version, 'libs')}: run \`bash scripts/kafka/install.sh\` first`;
  }
  return undefined;
}

export const SYS_KAFKA_BLOCK = join(FIXTURES, 'blocks/sys-kafka.block');

export function ordererMspDir(index: number): string {
  return join(CRYPTO, `ordererOrganizations/example.com/orderers/orderer${index}.example.com/msp`);
}

/**
 * ORDERER_* settings for a Kafka orderer in tests: orderer<index>'s MSP, sys-kafka.block, a single
 * broker (replication factor 1) and short retry/timeout settings so outages are noticed in seconds.
 */
export function kafkaOrdererEnv(
  index: number,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    ORDERER_GENERAL_LOCALMSPDIR: ordererMspDir(index),
    ORDERER_GENERAL_BOOTSTRAPFILE: SYS_KAFKA_BLOCK,
    ORDERER_KAFKA_TOPIC_REPLICATIONFACTOR: '1',
    ORDERER_KAFKA_RETRY_SHORTINTERVAL: '500ms',
    ORDERER_KAFKA_RETRY_SHORTTOTAL: '2m',
    ORDERER_KAFKA_RETRY_NETWORKTIMEOUTS_DIALTIMEOUT: '2s',
    ORDERER_KAFKA_RETRY_NETWORKTIMEOUTS_READTIMEOUT: '3s',
    ORDERER_KAFKA_RETRY_NETWORKTIMEOUTS_WRITETIMEOUT: '3s',
    ORDERER_KAFKA_RETRY_CONSUMER_RETRYBACKOFF: '300ms',
    // /metrics on, so the consensus_kafka_* gauges can be read.
    ORDERER_METRICS_PROVIDER: 'prometheus',
    ...overrides,
  };
}

export async function startKafkaOrderers(count: number, ledgerDirs: string[] = []): Promise<TestOrderer[]> {
  const started: TestOrderer[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const ledgerDir = ledgerDirs[i];
      // General.ListenPort 0 means "default" (7050) to the config loader: pick a free port instead.
      const env = kafkaOrdererEnv(i, { ORDERER_GENERAL_LISTENPORT: String(await freePort()) });
      started.push(await startTestOrderer({ env, ...(ledgerDir ? { ledgerDir } : {}) }));
    }
  } catch (err) {
    await Promise.allSettled(started.map((o) => o.destroy()));
    throw err;
  }
  return started;
}

export const org1User = loadIdentity('org1User');
export const org1Admin = loadIdentity('org1Admin');

/** Broadcasts `peer channel create`'s transaction for mychannel to one orderer. */
export async function createMyChannel(address: string): Promise<void> {
  const client = atomicBroadcastClient(address);
  try {
    const createTx = readFileSync(join(FIXTURES, 'blocks/mychannel-create.tx'));
    const [response] = await broadcastAll(client, [signChannelCreateTx(createTx, [org1Admin])], 30_000);
    if (response?.status !== 200) throw new Error(`channel creation refused: ${JSON.stringify(response)}`);
  } finally {
    client.close();
  }
}

export interface Sent {
  txId: string;
  status: number;
  info: string;
}

/** Sends `count` transactions on one Broadcast stream; returns each with its response. */
export async function broadcastTransactions(
  address: string,
  channelId: string,
  prefix: string,
  count: number,
  timeoutMs = 60_000,
): Promise<Sent[]> {
  const client = atomicBroadcastClient(address);
  try {
    const txIds = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
    const envelopes = txIds.map((txId) => signedEnvelope(org1User, { channelId, txId }));
    const responses = await broadcastAll(client, envelopes, timeoutMs);
    return responses.map((r, i) => ({ txId: txIds[i]!, ...r }));
  } finally {
    client.close();
  }
}

/** Polls until cond() holds, or fails with what() after timeoutMs. */
export async function waitFor(
  what: () => string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface LedgerBlock {
  number: number;
  headerHash: string;
  txIds: string[];
  kafka: KafkaMetadataValues | undefined;
  block: common.Block;
}

export function txIdOfEnvelope(data: Uint8Array): string {
  const env = common.Envelope.decode(data);
  const payload = common.Payload.decode(env.payload);
  return common.ChannelHeader.decode(payload.header!.channelHeader!).txId;
}

/** Every block of a channel in an in-process orderer's ledger. */
export async function ledgerOf(orderer: TestOrderer, channelId: string): Promise<LedgerBlock[]> {
  const chain = orderer.orderer.registrar.getChain(channelId);
  if (!chain) return [];
  const blocks: LedgerBlock[] = [];
  for (let n = 0; n < chain.store.height(); n++) {
    const stored = await chain.store.getBlock(n);
    blocks.push(describeBlock(stored!.bytes));
  }
  return blocks;
}

export function describeBlock(bytes: Buffer | Uint8Array): LedgerBlock {
  const block = common.Block.decode(bytes);
  const header = block.header!;
  const metadata = consenterMetadataOf(block);
  return {
    number: Number(header.number),
    headerHash: blockHeaderHash({
      number: Number(header.number),
      previousHash: Buffer.from(header.previousHash ?? []),
      dataHash: Buffer.from(header.dataHash ?? []),
    }).toString('hex'),
    txIds: (block.data?.data ?? []).map(txIdOfEnvelope),
    kafka: metadata ? decodeKafkaMetadata(metadata) : undefined,
    block,
  };
}

export function heightOf(orderer: TestOrderer, channelId: string): number {
  return orderer.orderer.registrar.getChain(channelId)?.store.height() ?? 0;
}

/** Transaction IDs of a ledger in order, with how often each occurs. */
export function txCounts(blocks: LedgerBlock[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const block of blocks) for (const txId of block.txIds) counts.set(txId, (counts.get(txId) ?? 0) + 1);
  return counts;
}
