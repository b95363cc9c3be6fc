// A channel of EtcdraftChain consenters on one ManualClock: each chain has a real RaftWal in a
// temp dir and a FakeConsenterSupport ledger (kept across restarts, as a block store would be),
// joined by an in-memory transport carrying encoded bytes as the cluster service would (Raft
// messages as marshalled raftpb.Message, forwards as marshalled Envelope + last_validation_seq).
// Nothing moves until the test ticks or settles; settle() delivers queued messages and waits for
// every chain to go idle, until nothing is left, so runs are deterministic.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../src/clock.js';
import { common, etcdraft, orderer } from '../../src/protos/index.js';
import type { ReceivedEnvelope } from '../../src/consensus/types.js';
import { newBlock, blockHeaderHash, marshalBlock } from '../../src/protoutil/block.js';
import { HeaderType } from '../../src/protoutil/envelope.js';
import { EtcdraftChain } from '../../src/consensus/etcdraft/chain.js';
import type { EtcdraftChainObserver } from '../../src/consensus/etcdraft/observer.js';
import { readBlockMetadata, type RaftBlockMetadata } from '../../src/consensus/etcdraft/metadata.js';
import { seededRandom } from '../../src/consensus/etcdraft/raft/index.js';
import { StateType } from '../../src/consensus/etcdraft/raft/raft.js';
import type { EtcdraftConsenter } from '../../src/channelconfig/etcdraft.js';
import {
  FakeConsenterSupport,
  capturingLogger,
  makeEnvelope,
  txIdsOfBlock,
  type LogLine,
  type WrittenBlock,
} from './solo.js';

export const CHANNEL = 'testchannel';
export const TICK_MS = 100;
export const BATCH_TIMEOUT_MS = 1000;
export const MAX_MESSAGE_COUNT = 3;

type Queued =
  | { kind: 'consensus'; from: number; to: number; bytes: Uint8Array; metadata: Uint8Array | undefined }
  | { kind: 'submit'; from: number; to: number; envelope: Buffer; configSeq: number };

/** The genesis block every member starts from: one CONFIG envelope, no consenter metadata. */
export function genesisBlock(): WrittenBlock {
  const config = makeEnvelope('genesis', { channelId: CHANNEL, type: HeaderType.CONFIG });
  const block = newBlock(0, Buffer.alloc(0), [config.raw]);
  return { number: 0, kind: 'config', txIds: txIdsOfBlock(block), block, consenterMetadata: undefined };
}

/** The etcdraft metadata a block carries (raft_index etc.), or undefined for the genesis block. */
export function raftMetadataOf(written: WrittenBlock): RaftBlockMetadata | undefined {
  if (!written.consenterMetadata?.length) return undefined;
  return readBlockMetadata(written.consenterMetadata, []);
}

export const headerHash = (written: WrittenBlock): string =>
  blockHeaderHash(written.block.header!).toString('hex');

export class RaftChainNet {
  readonly clock = new ManualClock();
  readonly ids: number[];
  /** Each member's ledger, kept across restarts. */
  readonly ledgers = new Map<number, WrittenBlock[]>();
  readonly supports = new Map<number, FakeConsenterSupport>();
  /** What each member's chain logged since it was last started. */
  readonly logs = new Map<number, LogLine[]>();
  /** Errors the cluster endpoints threw while delivering (none expected). */
  readonly deliveryErrors: Error[] = [];
  private readonly chains = new Map<number, EtcdraftChain>();
  private readonly isolated = new Set<number>();
  private queue: Queued[] = [];
  private root = '';
  /** The channel's consenters in config order (the genesis set, then as tests change it). */
  consenters: EtcdraftConsenter[];

  /** Options.SnapshotIntervalSize of every chain (bytes of block entries between snapshots). */
  snapshotIntervalSize = 16 * 1024 * 1024;
  /** The observer each member's chain reports to when (re)started; none when unset. */
  observerOf: ((id: number) => EtcdraftChainObserver) | undefined;
  /** Blocks pulled from other members' ledgers by chains catching up to a snapshot. */
  readonly pulled: { by: number; from: number; to: number }[] = [];
  /** Consensus.EvictionSuspicion of chains (re)started from now on; the chain's default when unset. */
  evictionSuspicionMs: number | undefined;
  /** Consensus.IdleCutAfter of chains (re)started from now on; off when unset. */
  idleCutAfterMs: number | undefined;
  /** Members whose chain halted because they were removed from the consenters (onEvicted). */
  readonly evicted: number[] = [];

  constructor(size: number) {
    this.ids = Array.from({ length: size }, (_, i) => i + 1);
    this.consenters = this.ids.map((id) => ({
      host: `orderer${id}`,
      port: 7050,
      clientTlsCert: Buffer.from(`client-${id}`),
      serverTlsCert: Buffer.from(`server-${id}`),
    }));
    const genesis = genesisBlock();
    for (const id of this.ids) this.ledgers.set(id, [genesis]);
  }

  async init(): Promise<void> {
    this.root = await mkdtemp(path.join(tmpdir(), 'raft-chain-net-'));
  }

  async close(): Promise<void> {
    for (const id of [...this.chains.keys()]) await this.stop(id);
    if (this.root !== '') await rm(this.root, { recursive: true, force: true });
  }

  /** A path inside the net's temp dir (removed by close()). */
  dir(name: string): string {
    return path.join(this.root, name);
  }

  chain(id: number): EtcdraftChain {
    const chain = this.chains.get(id);
    if (chain === undefined) throw new Error(`chain ${id} is not running`);
    return chain;
  }

  support(id: number): FakeConsenterSupport {
    const support = this.supports.get(id);
    if (support === undefined) throw new Error(`chain ${id} has never been started`);
    return support;
  }

  running(): number[] {
    return [...this.chains.keys()];
  }

  /** Drops the last n blocks of a stopped member's ledger (a crash before the block store synced). */
  truncateLedger(id: number, n: number): void {
    if (this.chains.has(id)) throw new Error(`stop chain ${id} before truncating its ledger`);
    const ledger = this.ledgers.get(id)!;
    ledger.splice(ledger.length - n, n);
  }

  /** Starts the member's chain on its WAL and ledger, with the metadata of its last block. */
  /** The consenter entry of member `id` (fake certificates; the net never checks them). */
  consenterOf(id: number): EtcdraftConsenter {
    return {
      host: `orderer${id}`,
      port: 7050,
      clientTlsCert: Buffer.from(`client-${id}`),
      serverTlsCert: Buffer.from(`server-${id}`),
    };
  }

  /**
   * A CONFIG envelope (as the leader would order it) that sets these members as the consenters:
   * a ConfigEnvelope whose Orderer ConsensusType is etcdraft with their entries.
   */
  consenterSetConfig(ids: readonly number[], txId: string): ReceivedEnvelope {
    const metadata = etcdraft.ConfigMetadata.encode({
      consenters: ids.map((id) => this.consenterOf(id)),
    }).finish();
    const consensusType = orderer.ConsensusType.encode({ type: 'etcdraft', metadata }).finish();
    const configEnvelope = common.ConfigEnvelope.encode({
      config: {
        sequence: 1,
        channelGroup: { groups: { Orderer: { values: { ConsensusType: { value: consensusType } } } } },
      },
    }).finish();
    return makeEnvelope(txId, {
      channelId: CHANNEL,
      type: HeaderType.CONFIG,
      data: Buffer.from(configEnvelope),
    });
  }

  /**
   * A new member `id` onboarded as Fabric's follower would: its ledger is a copy of `from`'s up to
   * (and with) the config block that added it; its Raft node starts empty and joins.
   */
  onboard(id: number, from: number, upTo: number): void {
    this.ledgers.set(id, this.ledgers.get(from)!.slice(0, upTo + 1));
    if (!this.ids.includes(id)) this.ids.push(id);
  }

  async start(id: number, options: { join?: boolean } = {}): Promise<EtcdraftChain> {
    if (this.chains.has(id)) throw new Error(`chain ${id} is already running`);
    const ledger = this.ledgers.get(id)!;
    const { logger, lines } = capturingLogger();
    this.logs.set(id, lines);
    const support = new FakeConsenterSupport({
      channelId: CHANNEL,
      logger,
      clock: this.clock,
      batchTimeoutMs: BATCH_TIMEOUT_MS,
      batchSize: {
        maxMessageCount: MAX_MESSAGE_COUNT,
        absoluteMaxBytes: 1 << 20,
        preferredMaxBytes: 1 << 19,
      },
      blocks: ledger,
    });
    // The fake copies the blocks it starts with; the net's ledger follows what it writes.
    const blocks = support.blocks;
    this.ledgers.set(id, blocks);
    this.supports.set(id, support);
    const last = blocks[blocks.length - 1]!;
    const chain = new EtcdraftChain(
      {
        raftId: id,
        blockMetadata: readBlockMetadata(last.consenterMetadata, this.consenters),
        consenters: this.consenters,
        ...(options.join ? { join: true } : {}),
        raftOptions: {
          tickIntervalMs: TICK_MS,
          electionTick: 10,
          heartbeatTick: 1,
          maxInflightBlocks: 5,
          snapshotIntervalSize: this.snapshotIntervalSize,
        },
        walDir: path.join(this.root, `n${id}`, 'wal'),
        snapDir: path.join(this.root, `n${id}`, 'snap'),
        consenterEndpoints: new Map(this.consenters.map((c, i) => [i + 1, `${c.host}:${c.port}`])),
        ...(this.evictionSuspicionMs !== undefined ? { evictionSuspicionMs: this.evictionSuspicionMs } : {}),
        ...(this.idleCutAfterMs !== undefined ? { idleCutAfterMs: this.idleCutAfterMs } : {}),
      },
      {
        support,
        random: seededRandom(id * 7919),
        ...(this.observerOf ? { observer: this.observerOf(id) } : {}),
        pullBlocks: (from, to) => this.pullBlocks(id, from, to),
        lastConfigBlock: () => this.lastConfigBlock(id),
        onEvicted: () => {
          this.evicted.push(id);
          this.chains.delete(id);
        },
        transport: {
          sendConsensus: (to, payload, metadata) =>
            this.enqueue({ kind: 'consensus', from: id, to, bytes: payload, metadata }),
          sendSubmit: (to, envelope, configSeq) =>
            this.enqueue({ kind: 'submit', from: id, to, envelope, configSeq })
              ? Promise.resolve()
              : Promise.reject(new Error(`no stream to consenter ${to}`)),
        },
      },
    );
    this.chains.set(id, chain);
    chain.start();
    await chain.whenStarted();
    return chain;
  }

  /**
   * What a BlockPuller does for a member catching up: the blocks [from, to] of the running member
   * with the longest ledger, each as that member wrote it (its consenter metadata in the block).
   */
  private async *pullBlocks(by: number, from: number, to: number): AsyncIterable<Buffer> {
    const source = this.pullSource(by);
    this.pulled.push({ by, from, to });
    for (const written of this.ledgers.get(source)!.slice(from, to + 1)) yield pulledBytes(written);
  }

  /** What PullLastConfigBlock gets from the member with the longest ledger. */
  private async lastConfigBlock(by: number): Promise<{ bytes: Buffer; block: common.Block }> {
    const ledger = this.ledgers.get(this.pullSource(by))!;
    const bytes = pulledBytes(ledger.findLast((written) => written.kind === 'config')!);
    return { bytes, block: common.Block.decode(bytes) };
  }

  /** The running, connected member other than `by` with the longest ledger. */
  private pullSource(by: number): number {
    const sources = [...this.chains.keys()].filter((id) => id !== by && !this.isolated.has(id));
    const source = sources.sort((a, b) => this.ledgers.get(b)!.length - this.ledgers.get(a)!.length)[0];
    if (source === undefined) throw new Error(`member ${by} has no other member to pull blocks from`);
    return source;
  }

  /** Halts the member's chain, as a shut-down orderer would; messages to it are lost. */
  async stop(id: number): Promise<void> {
    const chain = this.chains.get(id);
    if (chain === undefined) return;
    this.chains.delete(id);
    this.queue = this.queue.filter((q) => q.to !== id);
    await chain.halt();
  }

  isolate(id: number): void {
    this.isolated.add(id);
  }

  heal(id: number): void {
    this.isolated.delete(id);
  }

  /** A send to a stopped or partitioned member fails, as a broken cluster stream does. */
  private enqueue(q: Queued): boolean {
    if (this.isolated.has(q.from) || this.isolated.has(q.to) || !this.chains.has(q.to)) return false;
    this.queue.push(q);
    return true;
  }

  /** Delivers what is queued now (one round), without waiting for the chains. */
  deliverRound(): void {
    const batch = this.queue;
    this.queue = [];
    for (const q of batch) {
      const chain = this.chains.get(q.to);
      if (chain === undefined || this.isolated.has(q.to) || this.isolated.has(q.from)) continue;
      const delivered =
        q.kind === 'consensus'
          ? chain.cluster.consensus(
              q.metadata
                ? { channel: CHANNEL, payload: q.bytes, metadata: q.metadata }
                : { channel: CHANNEL, payload: q.bytes },
              q.from,
            )
          : chain.cluster.submit(
              {
                channel: CHANNEL,
                lastValidationSeq: q.configSeq,
                payload: common.Envelope.decode(q.envelope),
              },
              q.from,
            );
      delivered.catch((err: unknown) => this.deliveryErrors.push(err as Error));
    }
  }

  /** Delivers queued messages and waits for every chain, until nothing is left to do. */
  async settle(): Promise<void> {
    for (let round = 0; ; round++) {
      if (round > 10_000) throw new Error('the Raft chains did not settle after 10000 rounds');
      await Promise.all([...this.chains.values()].map((chain) => chain.whenIdle()));
      if (this.queue.length === 0) return;
      this.deliverRound();
    }
  }

  /** Advances the clock by n ticks, settling after each. */
  async tick(n = 1): Promise<void> {
    for (let i = 0; i < n; i++) {
      this.clock.advance(TICK_MS);
      await this.settle();
    }
  }

  /** The running, connected chain whose Raft node is leader, if exactly one is. */
  leader(): number | undefined {
    const leaders = this.running().filter(
      (id) =>
        !this.isolated.has(id) &&
        this.chain(id).raftNode?.status().softState.raftState === StateType.StateLeader,
    );
    return leaders.length === 1 ? leaders[0] : undefined;
  }

  /** Ticks until a leader exists and every running, connected chain knows it; returns it. */
  async electLeader(maxTicks = 200): Promise<number> {
    for (let i = 0; i < maxTicks; i++) {
      const leader = this.leader();
      if (
        leader !== undefined &&
        this.running()
          .filter((id) => !this.isolated.has(id))
          .every((id) => this.chain(id).leader === leader)
      )
        return leader;
      await this.tick();
    }
    throw new Error(`no leader known to every running chain after ${maxTicks} ticks`);
  }
}

/** A written block as another orderer's Deliver serves it: its consenter metadata in the block. */
function pulledBytes(written: WrittenBlock): Buffer {
  const block = common.Block.decode(marshalBlock(written.block));
  const inner = common.Metadata.encode(
    written.consenterMetadata?.length ? { value: written.consenterMetadata } : {},
  ).finish();
  block.metadata!.metadata![0] = common.Metadata.encode({
    value: common.OrdererBlockMetadata.encode({ consenterMetadata: inner }).finish(),
  }).finish();
  return marshalBlock(block);
}
