// The etcdraft chain (Fabric's orderer/consensus/etcdraft/chain.go run loop) as a thin driver:
// RaftChainCore makes the decisions, RaftNode runs Raft over the channel's RaftWal, and this file
// only wires them to the ConsenterSupport, the clock and the cluster transport. Effects are carried
// out one after another in the order the core returned them; a block write is awaited before the
// next effect (Fabric writes blocks inside its run loop too), so an acknowledgement never overtakes
// the write of the block that holds the envelope, and committed entries are not handed over again
// until the previous ones are written (RaftNode awaits onCommitted before it advances).
import type { TimerHandle } from '../../clock.js';
import { OrdererError, errorMessage, unavailable, forbidden, badRequest } from '../../errors.js';
import { common, toNumber } from '../../protos/index.js';
import type { orderer } from '../../protos/index.js';
import { marshalBlock } from '../../protoutil/block.js';
import { decodeEnvelope, HeaderType } from '../../protoutil/envelope.js';
import { ChainedBlockCreator } from '../../multichannel/blockcreator.js';
import type { EtcdraftConsenter, EtcdraftOptions } from '../../channelconfig/etcdraft.js';
import type {
  Chain,
  ChainStatusReport,
  ClusterEndpoint,
  ConsenterSupport,
  ReceivedEnvelope,
} from '../types.js';
import {
  RaftChainCore,
  type RaftChainContext,
  type RaftChainEffect,
  type ResendPolicy,
} from './chain-core.js';
import { clusterMembers, encodeBlockMetadata, type RaftBlockMetadata } from './metadata.js';
import type { RaftConfChange } from './membership.js';
import type { ClusterMember } from '../../cluster/members.js';
import { RaftNode, type RaftNodeWal } from './node.js';
import type { Message, RaftLogger, RandomIntn } from './raft/index.js';
import { EntryType, type Snapshot } from './raft/types.js';
import { StateType, type Status } from './raft/index.js';
import { decodeMessage, encodeMessage } from './raft/wire.js';
import { RaftWal, type RecoveredRaftState } from './storage/index.js';
import { silentChainObserver, type EtcdraftChainObserver } from './observer.js';
import { ActiveNodesTracker, ClusterMetadataDisseminator, activeNodesFromLeader } from './active-nodes.js';
import { noLeaderMessage } from './no-leader.js';
import { DEFAULT_EVICTION_SUSPICION_MS, EvictionSuspicion, evictionVerdict } from './eviction.js';
import { StatusListeners } from '../status-listeners.js';

/**
 * How the chain reaches the other consenters of its channel, by Raft ID. The cluster client
 * implements it over orderer.Cluster/Step streams; tests use an in-memory one.
 */
export interface RaftChainTransport {
  /**
   * Hands a marshalled raftpb.Message to the stream to `to`, with the etcdraft.ClusterMetadata
   * the leader disseminates when given; false when it could not be sent.
   */
  sendConsensus(to: number, payload: Uint8Array, metadata?: Uint8Array): boolean;
  /** Forwards an envelope (its bytes as received) to the leader, validated at configSeq. */
  sendSubmit(to: number, envelope: Buffer, configSeq: number): Promise<void>;
}

export interface EtcdraftChainOptions {
  /** This node's Raft ID in the channel (its consenter ID in the block metadata). */
  readonly raftId: number;
  /** The etcdraft metadata of the last block (readBlockMetadata): IDs and the applied Raft index. */
  readonly blockMetadata: RaftBlockMetadata;
  /** The channel's consenters in config order: blockMetadata.consenterIds[i] is consenters[i]. */
  readonly consenters: readonly EtcdraftConsenter[];
  /** Options of the channel's etcdraft ConfigMetadata. */
  readonly raftOptions: Pick<
    EtcdraftOptions,
    'tickIntervalMs' | 'electionTick' | 'heartbeatTick' | 'maxInflightBlocks' | 'snapshotIntervalSize'
  >;
  /** Consensus.WALDir and Consensus.SnapDir; the channel's files are in <dir>/<channel>. */
  readonly walDir: string;
  readonly snapDir: string;
  /** A node with no WAL for a channel that already has blocks: it waits for the leader (no bootstrap). */
  readonly join?: boolean;
  /**
   * When a submission not yet in an applied block is forwarded again, and when it is refused
   * (unavailable) instead: default two and twenty election timeouts.
   */
  readonly resend?: ResendPolicy;
  /** The other consenters' cluster endpoints (host:port) by Raft ID, named when they cannot be reached. */
  readonly consenterEndpoints?: ReadonlyMap<number, string>;
  /**
   * Consensus.EvictionSuspicion: leaderless this long, the node pulls the channel's last config
   * block from the other orderers to find out whether it was removed (default 10 minutes).
   */
  readonly evictionSuspicionMs?: number;
  /**
   * Consensus.IdleCutAfter: the leader cuts a partial batch before BatchTimeout once no block is
   * in flight and the cutter has been quiet this long (RaftChainCoreOptions.idleCutAfterMs; 0 off).
   */
  readonly idleCutAfterMs?: number;
}

/** The WAL as the chain needs it: what RaftNode writes, plus close on halt. */
export interface EtcdraftChainWal extends RaftNodeWal {
  close(): Promise<void>;
}

export interface EtcdraftChainDependencies {
  readonly support: ConsenterSupport;
  readonly transport: RaftChainTransport;
  /** Election-timeout randomness; tests inject a seeded one. */
  readonly random?: RandomIntn;
  /** Opens the channel's WAL; RaftWal.open by default (tests may wrap the WAL). */
  readonly openWal?: (options: {
    walDir: string;
    snapDir: string;
    channel: string;
  }) => Promise<{ wal: EtcdraftChainWal; recovered: RecoveredRaftState }>;
  /**
   * Pulls blocks [from, to] of the channel from other orderers, in order, as they were written
   * there (Fabric's BlockPuller): how a node catches up to a Raft snapshot its log no longer
   * reaches. Without it such a node halts, saying so.
   */
  readonly pullBlocks?: (from: number, to: number) => AsyncIterable<Buffer>;
  /**
   * The channel's last config block as the other orderers have it (Fabric's PullLastConfigBlock):
   * how a leaderless node finds out it was evicted. Without it (or pullBlocks) it never checks.
   */
  readonly lastConfigBlock?: () => Promise<{ bytes: Buffer; block: common.Block }>;
  /**
   * Told once the chain halted because this node was removed from the consenter set (the
   * consenter switches the channel to a follower chain).
   */
  readonly onEvicted?: () => void;
  /**
   * The consenter set changed (a member added, removed or its certificate rotated): the cluster
   * service and transport must know these members from now on.
   */
  readonly onMembershipChanged?: (members: readonly ClusterMember[]) => void;
  /** Told once the chain has halted (the consenter takes it off the cluster service). */
  readonly onHalted?: () => void;
  /** Told what the consensus_etcdraft_* metrics report; nothing by default. */
  readonly observer?: EtcdraftChainObserver;
}

type ChainState = 'new' | 'starting' | 'running' | 'halted';

/** Work of the driver's own run in the effect queue, serialised with the block writes. */
interface QueuedWork {
  readonly type: 'run';
  readonly work: () => Promise<void>;
}

interface Ticket {
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

const isConfigType = (env: ReceivedEnvelope): boolean =>
  env.channelHeader.type === HeaderType.CONFIG || env.channelHeader.type === HeaderType.ORDERER_TRANSACTION;

export class EtcdraftChain implements Chain {
  /** order() hands the envelope to the core before it returns; the promise says when it is in a block. */
  readonly ordersOnCall = true;
  readonly cluster: ClusterEndpoint;
  private readonly options: EtcdraftChainOptions;
  private readonly support: ConsenterSupport;
  private readonly transport: RaftChainTransport;
  private readonly random: RandomIntn | undefined;
  private readonly openWal: NonNullable<EtcdraftChainDependencies['openWal']>;
  private readonly onHalted: (() => void) | undefined;
  private readonly onEvicted: (() => void) | undefined;
  private readonly lastConfigBlock: EtcdraftChainDependencies['lastConfigBlock'];
  private readonly evictionSuspicion: EvictionSuspicion;
  private evictionTicker: TimerHandle | undefined;
  private evictionCheck: Promise<void> | undefined;
  private readonly pullBlocks: EtcdraftChainDependencies['pullBlocks'];
  private readonly onMembershipChanged: EtcdraftChainDependencies['onMembershipChanged'];
  private readonly observer: EtcdraftChainObserver;
  private readonly activeNodesTracker: ActiveNodesTracker;
  private readonly disseminator: ClusterMetadataDisseminator;
  /** Consenters a send to failed since they were last heard from, with the last reason. */
  private readonly unreachable = new Map<number, string>();
  /** When this node last lost its leader (or started without one). */
  private leaderlessSince = 0;
  private activeNodes: readonly number[] = [];
  private state: ChainState = 'new';
  private starting: Promise<void> | undefined;
  private core: RaftChainCore | undefined;
  private node: RaftNode | undefined;
  private wal: EtcdraftChainWal | undefined;
  private failure: Error | undefined;
  private readonly statusListeners = new StatusListeners();
  /** The core's batch timer and idle timer (arm-timer, arm-idle-timer), while armed. */
  private readonly coreTimers: { batch?: TimerHandle | undefined; idle?: TimerHandle | undefined } = {};
  private resendTicker: TimerHandle | undefined;
  private nextTicket = 1;
  private readonly tickets = new Map<number, Ticket>();
  private readonly backlog: (RaftChainEffect | QueuedWork)[] = [];
  private draining = false;
  private drainWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  /** Asynchronous work started by effects (forwards, re-validations), for whenIdle. */
  private readonly inflight = new Set<Promise<void>>();

  constructor(options: EtcdraftChainOptions, dependencies: EtcdraftChainDependencies) {
    if (!options.blockMetadata.consenterIds.includes(options.raftId))
      throw badRequest(
        `Raft ID ${options.raftId} is not one of the consenter IDs [${options.blockMetadata.consenterIds.join(', ')}] ` +
          `of channel ${dependencies.support.channelId}: this orderer must run a follower chain for it instead`,
      );
    this.options = options;
    this.support = dependencies.support;
    this.transport = dependencies.transport;
    this.random = dependencies.random;
    this.openWal = dependencies.openWal ?? ((o) => RaftWal.open(o));
    this.onHalted = dependencies.onHalted;
    this.onEvicted = dependencies.onEvicted;
    this.lastConfigBlock = dependencies.lastConfigBlock;
    this.evictionSuspicion = new EvictionSuspicion({
      thresholdMs: options.evictionSuspicionMs ?? DEFAULT_EVICTION_SUSPICION_MS,
    });
    this.pullBlocks = dependencies.pullBlocks;
    this.onMembershipChanged = dependencies.onMembershipChanged;
    this.observer = dependencies.observer ?? silentChainObserver;
    this.activeNodesTracker = new ActiveNodesTracker(options.raftId);
    this.disseminator = new ClusterMetadataDisseminator(() =>
      this.membership().metadata.consenterIds.filter((id) => id !== options.raftId),
    );
    this.cluster = {
      consensus: (request, from) => this.onConsensus(request, from),
      submit: (request, from) => this.onSubmit(request, from),
    };
  }

  get raftId(): number {
    return this.options.raftId;
  }

  /** The leader this node knows of (0 when none). */
  get leader(): number {
    return this.core?.leader ?? 0;
  }

  /** The active node IDs: counted here when leader, heard from the leader otherwise. */
  /** The consenter set as of the last applied block: IDs (block metadata) and consenters. */
  membership(): { metadata: RaftBlockMetadata; consenters: readonly EtcdraftConsenter[] } {
    if (this.core) return { metadata: this.core.blockMetadata, consenters: this.core.currentConsenters };
    return { metadata: this.options.blockMetadata, consenters: this.options.consenters };
  }

  get activeNodeIds(): readonly number[] {
    return this.activeNodes;
  }

  /**
   * The cluster client failed to deliver to `to` (its stream broke, a dial failed): named in the
   * no-leader message until a message from it arrives.
   */
  reportUnreachable(to: number, reason: string): void {
    this.unreachable.set(to, reason);
    this.node?.reportUnreachable(to);
  }

  /** The Raft node, once started (tests and the status reporter read it). */
  get raftNode(): RaftNode | undefined {
    return this.node;
  }

  start(): void {
    if (this.state !== 'new') return;
    this.state = 'starting';
    this.starting = this.open().catch((err: unknown) => {
      const error = err instanceof Error ? err : new Error(String(err));
      this.fail(
        new OrdererError(
          'unavailable',
          `etcdraft chain of channel ${this.support.channelId} failed to start: ${errorMessage(error)}`,
          { channel: this.support.channelId },
          { cause: error },
        ),
      );
    });
  }

  /** Resolves once start() has opened the WAL and started the Raft node (or failed to). */
  async whenStarted(): Promise<void> {
    await this.starting;
  }

  order(env: ReceivedEnvelope, configSeq: number): Promise<void> {
    return this.submitLocal(env, configSeq, false);
  }

  configure(configEnv: ReceivedEnvelope, configSeq: number): Promise<void> {
    return this.submitLocal(configEnv, configSeq, true);
  }

  async waitReady(): Promise<void> {
    await this.starting;
    const error = this.errored();
    if (error) throw error;
  }

  errored(): Error | undefined {
    if (this.failure) return this.failure;
    if (this.state !== 'running' || !this.core) return this.notRunning();
    // Fabric closes errorC while there is no leader, so STRICT Deliver refuses.
    if (this.core.leader === 0)
      return unavailable(this.noLeaderReason(), { channel: this.support.channelId });
    return undefined;
  }

  /** Why there is no leader and when to retry (see no-leader.ts). */
  private noLeaderReason(): string {
    const { raftOptions, raftId, consenterEndpoints } = this.options;
    const { metadata: blockMetadata, consenters: current } = this.membership();
    const endpoints = new Map(
      current.map((consenter, i) => [blockMetadata.consenterIds[i], `${consenter.host}:${consenter.port}`]),
    );
    return noLeaderMessage({
      channel: this.support.channelId,
      selfId: raftId,
      raftState: this.node?.status().softState.raftState ?? StateType.StateFollower,
      leaderlessSince: this.leaderlessSince,
      now: this.support.clock.now(),
      electionTimeoutMs: raftOptions.electionTick * raftOptions.tickIntervalMs,
      consenters: blockMetadata.consenterIds
        .filter((id) => id !== raftId)
        .map((id) => ({
          id,
          endpoint: endpoints.get(id) ?? consenterEndpoints?.get(id) ?? `Raft node ${id}`,
        })),
      unreachable: this.unreachable,
    });
  }

  onStatusChange(listener: () => void): () => void {
    return this.statusListeners.add(listener);
  }

  statusReport(): ChainStatusReport {
    return { consensusRelation: 'consenter', status: 'active' };
  }

  async halt(): Promise<void> {
    if (this.state === 'halted' && !this.node) return;
    const wasStarting = this.starting;
    this.state = 'halted';
    this.statusListeners.notify();
    await wasStarting;
    this.cancelCoreTimers();
    this.resendTicker?.cancel();
    this.resendTicker = undefined;
    this.evictionTicker?.cancel();
    this.evictionTicker = undefined;
    // The node stays referenced until it stopped: the Ready being handled still reaches the core.
    await this.node?.stop();
    await this.whenDrained();
    this.node = undefined;
    const wal = this.wal;
    this.wal = undefined;
    await wal?.close();
    this.onHalted?.();
    this.rejectAll(
      unavailable(
        `the etcdraft chain of channel ${this.support.channelId} was halted; retry on another orderer`,
        {
          channel: this.support.channelId,
        },
      ),
    );
  }

  /**
   * Resolves when nothing is left to do now: no Ready being handled, no effect waiting, no
   * forward or re-validation in flight (deterministic tests settle on it).
   */
  async whenIdle(): Promise<void> {
    await this.starting;
    for (;;) {
      const busy = [...this.inflight];
      await this.node?.whenIdle();
      if (this.draining) {
        await this.whenDrained().catch(() => {});
        continue;
      }
      if (busy.length === 0 && this.inflight.size === 0) return;
      await Promise.allSettled(busy);
    }
  }

  private async open(): Promise<void> {
    const { support, options } = this;
    const { wal, recovered } = await this.openWal({
      walDir: options.walDir,
      snapDir: options.snapDir,
      channel: support.channelId,
    });
    this.wal = wal;
    try {
      const height = support.height();
      const lastBlock = await support.block(height - 1);
      if (!lastBlock)
        throw new Error(
          `the ledger of channel ${support.channelId} has no block ${height - 1} to continue from`,
        );
      if (this.state !== 'starting') throw new Error('halted while starting');
      this.startOn(wal, recovered, lastBlock);
    } catch (err) {
      this.wal = undefined;
      await wal.close();
      if (this.state !== 'starting') return;
      throw err;
    }
  }

  private startOn(wal: EtcdraftChainWal, recovered: RecoveredRaftState, lastBlock: common.IBlock): void {
    const { support, options } = this;
    const applied = options.blockMetadata.raftIndex;
    // Fabric counts the block entries replayed from the log towards the next snapshot too.
    let bytesSinceSnapshot = 0;
    for (const entry of recovered.entries) {
      if (entry.type === EntryType.Normal && entry.index <= applied) bytesSinceSnapshot += entry.data.length;
    }
    this.core = new RaftChainCore(
      {
        raftId: options.raftId,
        lastBlock,
        appliedIndex: applied,
        blockMetadata: options.blockMetadata,
        consenters: options.consenters,
        snapshotIntervalSize: options.raftOptions.snapshotIntervalSize,
        bytesSinceSnapshot,
        idleCutAfterMs: options.idleCutAfterMs ?? 0,
      },
      {
        blockCutter: support.blockCutter,
        newBlockCreator: (after) => new ChainedBlockCreator(after),
      },
    );
    const { raftOptions } = options;
    this.node = new RaftNode(
      {
        id: options.raftId,
        channel: support.channelId,
        peers: options.blockMetadata.consenterIds,
        electionTick: raftOptions.electionTick,
        heartbeatTick: raftOptions.heartbeatTick,
        maxSizePerMsg: support.sharedConfig().batchSize.preferredMaxBytes,
        maxInflightMsgs: raftOptions.maxInflightBlocks,
        tickIntervalMs: raftOptions.tickIntervalMs,
        appliedIndex: applied,
        ...(options.join ? { join: true } : {}),
      },
      {
        wal,
        recovered,
        clock: support.clock,
        transport: { send: (messages) => this.sendConsensus(messages) },
        handler: {
          onCommitted: (entries) => this.dispatch(this.core!.committedEntries(entries, this.context())),
          onSnapshot: (snapshot) => this.catchUp(snapshot),
          onLeaderChange: (leader, term) => {
            this.observer.leaderChanged();
            this.observer.leadership(leader === options.raftId);
            if (leader === 0) this.leaderlessSince = support.clock.now();
            const raftState = this.node!.status().softState.raftState;
            void this.dispatch(this.core!.leaderChanged(leader, raftState, term, this.context())).catch(
              () => {},
            );
            this.statusListeners.notify();
          },
          onHalt: (error) => this.fail(error),
          onPersisted: (seconds) => this.observer.dataPersisted(seconds),
          onTick: (status) => this.trackActiveNodes(status),
        },
        logger: raftLoggerOf(support),
        ...(this.random ? { random: this.random } : {}),
      },
    );
    this.state = 'running';
    this.leaderlessSince = support.clock.now();
    this.observer.clusterSize(options.blockMetadata.consenterIds.length);
    this.observer.leadership(false);
    this.observer.activeNodes(0);
    this.observer.committedBlock(toNumber(lastBlock.header?.number));
    this.statusListeners.notify();
    // Fabric reports the block of the snapshot it restarts from.
    if (recovered.snapshot && recovered.snapshot.data.length > 0) {
      try {
        this.observer.snapshotBlock(toNumber(common.Block.decode(recovered.snapshot.data).header?.number));
      } catch {
        // Not a block: the snapshot metric stays unset, the chain does not depend on it.
      }
    }
    this.node.start();
    const electionTimeoutMs = raftOptions.electionTick * raftOptions.tickIntervalMs;
    const resend = options.resend ?? {
      resendAfterMs: 2 * electionTimeoutMs,
      giveUpAfterMs: 20 * electionTimeoutMs,
    };
    this.resendTicker = support.clock.setTicker(resend.resendAfterMs, () => {
      if (this.state !== 'running' || !this.core) return;
      void this.dispatch(this.core.resendUnanswered(resend, this.context())).catch(() => {});
    });
    if (this.lastConfigBlock && this.pullBlocks)
      this.evictionTicker = support.clock.setTicker(this.evictionSuspicion.checkIntervalMs, () =>
        this.checkLeaderless(),
      );
  }

  /** Fabric's suspectEviction, every check interval: running, and no leader known. */
  private checkLeaderless(): void {
    const leaderless = this.state === 'running' && !this.failure && this.core?.leader === 0;
    const now = this.support.clock.now();
    const due = this.evictionSuspicion.observe(now, leaderless ? this.leaderlessSince : undefined);
    if (!due || this.evictionCheck) return;
    this.evictionCheck = this.confirmEvictionSuspicion()
      .catch((err: unknown) =>
        this.support.logger.error(
          { channel: this.support.channelId, err: errorMessage(err) },
          `Failed pulling the last config block: ${errorMessage(err)}`,
        ),
      )
      .finally(() => (this.evictionCheck = undefined));
    this.track(this.evictionCheck);
  }

  /**
   * Fabric's confirmSuspicion: the last config block from the other orderers says whether this
   * node is still a consenter. One past the ledger is pulled with every block before it, each
   * verified and applied in order (a removal among them ends this chain); only a removal in a
   * block this ledger holds is acted on at once.
   */
  private async confirmEvictionSuspicion(): Promise<void> {
    const { channelId, logger, clock } = this.support;
    const suspectedFor = clock.now() - this.leaderlessSince;
    logger.info(
      { channel: channelId, leaderlessMs: suspectedFor },
      `Suspecting our own eviction from the channel for ${Math.round(suspectedFor / 1000)}s: pulling its last config block from the other orderers`,
    );
    const { block } = await this.lastConfigBlock!();
    const core = this.core;
    if (this.state !== 'running' || !core) return;
    const lastConfigNumber = Number(block.header!.number);
    const verdict = evictionVerdict({
      lastConfigNumber,
      height: this.support.height(),
      listedInLedger: core.blockMetadata.consenterIds.includes(this.options.raftId),
    });
    logger.info(
      { channel: channelId, lastConfigBlock: lastConfigNumber, verdict: verdict.kind },
      `Last config block was found to be block [${lastConfigNumber}]`,
    );
    switch (verdict.kind) {
      case 'still-a-consenter':
        logger.info(
          { channel: channelId },
          `Cannot confirm our own eviction from the channel: this node is a consenter in config block [${lastConfigNumber}], which this ledger holds`,
        );
        return;
      case 'evicted':
        logger.warn(
          { channel: channelId },
          `Detected our own eviction from the channel in the config blocks up to [${lastConfigNumber}]`,
        );
        this.leaveConsenterSet();
        return;
      case 'catch-up':
        await this.dispatch([
          {
            type: 'run',
            work: () =>
              this.appendPulled(this.support.height(), verdict.to, async (effects) => {
                for (const effect of effects) await this.carryOut(effect);
              }),
          },
        ]);
        return;
    }
  }

  /**
   * Arms the core's timer of this kind in place of one armed before; when it fires while the chain
   * runs, the core is told (a stale generation is the core's to ignore).
   */
  private armCoreTimer(
    kind: keyof EtcdraftChain['coreTimers'],
    timeoutMs: number,
    fired: (core: RaftChainCore) => RaftChainEffect[],
  ): void {
    this.coreTimers[kind]?.cancel();
    this.coreTimers[kind] = undefined;
    if (this.state !== 'running') return;
    this.coreTimers[kind] = this.support.clock.setTimer(timeoutMs, () => {
      this.coreTimers[kind] = undefined;
      if (this.state !== 'running' || !this.core) return;
      void this.dispatch(fired(this.core)).catch(() => {});
    });
  }

  private cancelCoreTimers(): void {
    for (const timer of Object.values(this.coreTimers)) timer?.cancel();
    this.coreTimers.batch = undefined;
    this.coreTimers.idle = undefined;
  }

  private context(): RaftChainContext {
    return {
      sequence: this.support.sequence(),
      batchTimeoutMs: this.support.sharedConfig().batchTimeoutMs,
      maxInflightBlocks: this.options.raftOptions.maxInflightBlocks,
      raftLastIndex: this.node?.memoryStorage.lastIndex() ?? 0,
      voters: this.node?.confState().voters ?? [],
      activeNodes: this.activeNodes,
      now: this.support.clock.now(),
    };
  }

  private submitLocal(env: ReceivedEnvelope, configSeq: number, isConfig: boolean): Promise<void> {
    const core = this.core;
    if (this.failure) return Promise.reject(this.failure);
    if (this.state !== 'running' || !core) return Promise.reject(this.notRunning());
    // Refused here rather than by the core, so that the client hears why and when to retry.
    if (core.leader === 0)
      return Promise.reject(unavailable(this.noLeaderReason(), { channel: this.support.channelId }));
    const ticket = this.nextTicket++;
    const answered = new Promise<void>((resolve, reject) => this.tickets.set(ticket, { resolve, reject }));
    let effects: RaftChainEffect[];
    try {
      if (core.leader === this.options.raftId) this.observer.proposalReceived(isConfig);
      effects = core.submit({ ticket, env, configSeq, isConfig }, this.context());
    } catch (err) {
      this.tickets.delete(ticket);
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    void this.dispatch(effects).catch(() => {});
    return answered;
  }

  private async onConsensus(request: orderer.IConsensusRequest, from: number): Promise<void> {
    const node = this.runningNode();
    let message: Message;
    try {
      message = decodeMessage(request.payload ?? new Uint8Array());
    } catch (err) {
      throw badRequest(`malformed Raft message from consenter ${from}: ${errorMessage(err)}`, { from });
    }
    if (message.from !== from)
      throw forbidden(
        `consenter ${from} sent a Raft message claiming to come from ${message.from}; it was dropped`,
        { from, claimed: message.from },
      );
    this.unreachable.delete(from);
    // Fabric takes the active nodes only from the leader it knows of.
    const active = activeNodesFromLeader(request.metadata, from, this.core?.leader ?? 0);
    if (active) this.setActiveNodes(active);
    node.step(message);
  }

  /** Fabric's Tracker.Check on every tick: the leader counts and publishes the active nodes. */
  private trackActiveNodes(status: Status): void {
    const change = this.activeNodesTracker.check(status);
    if (!change) return;
    this.setActiveNodes(change.activeNodes);
    if (change.metadata) this.disseminator.update(change.metadata);
  }

  private setActiveNodes(ids: readonly number[]): void {
    this.activeNodes = ids;
    this.observer.activeNodes(ids.length);
  }

  private async onSubmit(request: orderer.ISubmitRequest, from: number): Promise<void> {
    this.runningNode();
    if (!request.payload)
      throw badRequest(`consenter ${from} forwarded a SubmitRequest with no envelope`, { from });
    const raw = Buffer.from(common.Envelope.encode(request.payload).finish());
    const env = decodeEnvelope(raw);
    const isConfig = isConfigType(env);
    if (this.core!.leader === this.options.raftId) this.observer.proposalReceived(isConfig);
    await this.dispatch(
      this.core!.submit(
        {
          ticket: undefined,
          env,
          configSeq: toNumber(request.lastValidationSeq ?? 0),
          isConfig,
        },
        this.context(),
      ),
    );
  }

  private runningNode(): RaftNode {
    if (this.failure) throw this.failure;
    if (this.state !== 'running' || !this.node) throw this.notRunning();
    return this.node;
  }

  private notRunning(): OrdererError {
    const why =
      this.state === 'halted' ? 'has been halted' : 'is still starting (opening its Raft WAL); retry shortly';
    return unavailable(`the etcdraft chain of channel ${this.support.channelId} ${why}`, {
      channel: this.support.channelId,
    });
  }

  private sendConsensus(messages: Message[]): number[] {
    const failed: number[] = [];
    for (const message of messages) {
      let sent = false;
      let reason = 'its stream could not take the message';
      const metadata = this.disseminator.take(message.to);
      try {
        sent = this.transport.sendConsensus(message.to, encodeMessage(message), metadata);
      } catch (err) {
        reason = errorMessage(err);
        this.support.logger.debug({ to: message.to, err: reason }, 'sending a Raft message failed');
      }
      if (!sent) {
        failed.push(message.to);
        this.unreachable.set(message.to, reason);
        if (metadata) this.disseminator.giveBack(message.to, metadata);
      }
    }
    return failed;
  }

  /** Queues effects; they run in order, now if nothing is running. Resolves when they have run. */
  private dispatch(effects: (RaftChainEffect | QueuedWork)[]): Promise<void> {
    if (effects.length === 0 && !this.draining) return Promise.resolve();
    this.backlog.push(...effects);
    const done = new Promise<void>((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
    if (!this.draining) void this.drain();
    return done;
  }

  private whenDrained(): Promise<void> {
    if (!this.draining) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  private async drain(): Promise<void> {
    this.draining = true;
    let error: Error | undefined;
    try {
      while (this.backlog.length > 0) {
        const pending = this.carryOut(this.backlog.shift()!);
        if (pending) await pending;
      }
    } catch (err) {
      error = err instanceof Error ? err : new Error(String(err));
      // Nothing after a failed block write may happen (Fabric panics): the node halts on the
      // rejected onCommitted, and the effects queued behind it are dropped.
      this.backlog.length = 0;
    } finally {
      this.draining = false;
    }
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) {
      if (error) waiter.reject(error);
      else waiter.resolve();
    }
  }

  private carryOut(effect: RaftChainEffect | QueuedWork): Promise<void> | undefined {
    switch (effect.type) {
      case 'run':
        return effect.work();
      case 'propose-block':
        this.propose(effect.block);
        return undefined;
      case 'write-block': {
        const metadata = encodeBlockMetadata(effect.metadata);
        const written = effect.isConfig
          ? this.support.writeConfigBlock(effect.block, metadata)
          : this.support.writeBlock(effect.block, metadata);
        const blockNumber = toNumber(effect.block.header?.number);
        return written.then(() => this.observer.committedBlock(blockNumber));
      }
      case 'take-snapshot':
        // Off the apply path, as Fabric's gc goroutine: a failed snapshot costs only log length.
        this.track(this.takeSnapshot(effect.index, effect.data, effect.blockNumber));
        return undefined;
      case 'transfer-leadership':
        try {
          this.node?.transferLeadership(effect.to);
        } catch (err) {
          this.support.logger.warn(
            { channel: this.support.channelId, to: effect.to, err: errorMessage(err) },
            'transferring Raft leadership failed; it is tried again',
          );
        }
        return undefined;
      case 'propose-conf-change':
        this.proposeConfChange(effect.change);
        return undefined;
      case 'membership-changed':
        this.membershipChanged(effect.metadata, effect.consenters, effect.removedSelf);
        return undefined;
      case 'forward':
        this.forward(effect.to, effect.env, effect.configSeq, effect.tickets);
        return undefined;
      case 'arm-timer': {
        const { generation } = effect;
        this.armCoreTimer('batch', effect.timeoutMs, (core) => core.timerFired(generation, this.context()));
        return undefined;
      }
      case 'cancel-timer':
        this.coreTimers.batch?.cancel();
        this.coreTimers.batch = undefined;
        return undefined;
      case 'arm-idle-timer': {
        const { generation } = effect;
        this.armCoreTimer('idle', effect.timeoutMs, (core) =>
          core.idleTimerFired(generation, this.context()),
        );
        return undefined;
      }
      case 'revalidate':
        this.track(this.revalidate(effect.id, effect.isConfig, effect.env));
        return undefined;
      case 'acknowledge':
        for (const ticket of effect.tickets) {
          this.tickets.get(ticket)?.resolve();
          this.tickets.delete(ticket);
        }
        return undefined;
      case 'refuse': {
        const error = new OrdererError(effect.status, effect.reason, { channel: this.support.channelId });
        for (const ticket of effect.tickets) {
          this.tickets.get(ticket)?.reject(error);
          this.tickets.delete(ticket);
        }
        return undefined;
      }
      case 'log':
        this.support.logger[effect.level](
          { channel: this.support.channelId, ...effect.details },
          effect.message,
        );
        return undefined;
    }
  }

  private async takeSnapshot(index: number, data: Uint8Array, blockNumber: number): Promise<void> {
    const node = this.node;
    if (!node || this.state !== 'running') return;
    await node.takeSnapshot(index, node.confState(), data);
    this.observer.snapshotBlock(blockNumber);
    this.support.logger.info(
      { channel: this.support.channelId, block: blockNumber, index },
      `took a Raft snapshot at block [${blockNumber}] (index ${index})`,
    );
  }

  /**
   * Fabric's catchUp: a snapshot from the leader is ahead of this node's ledger. The blocks up to
   * the snapshot's are pulled from other orderers and appended after checking them as a peer
   * does (appendVerified); then Raft continues from the snapshot's index.
   */
  private async catchUp(snapshot: Snapshot): Promise<void> {
    await this.whenDrained();
    const target = Number(common.Block.decode(snapshot.data).header!.number);
    const from = this.support.height();
    if (target >= from) {
      this.support.logger.info(
        { channel: this.support.channelId, from, to: target, index: snapshot.metadata.index },
        `catching up to the Raft snapshot at block [${target}]: pulling blocks [${from}..${target}] from other orderers`,
      );
      await this.appendPulled(from, target, (effects) => this.dispatch(effects));
    }
    await this.dispatch(
      this.core!.snapshotInstalled(snapshot.metadata.index, snapshot.metadata.term, this.context()),
    );
    this.observer.snapshotBlock(target);
  }

  /**
   * The loop of Fabric's catchUp: blocks [from..to] pulled from other orderers, each appended after
   * checking it as a peer does (appendVerified) and then applied by the core (`apply` runs its
   * effects). Stops early when the chain halts (a pulled config block removed this node).
   */
  private async appendPulled(
    from: number,
    to: number,
    apply: (effects: RaftChainEffect[]) => Promise<void>,
  ): Promise<void> {
    if (from > to) return;
    if (!this.pullBlocks)
      throw new Error(
        `this node must catch up to block [${to}], but it has no way to pull blocks from other orderers`,
      );
    let next = from;
    for await (const bytes of this.pullBlocks(from, to)) {
      const block = common.Block.decode(bytes);
      const number = Number(block.header!.number);
      if (number !== next)
        throw new Error(`pulling blocks for catch-up: expected block [${next}], got [${number}]`);
      await this.support.appendVerified(bytes);
      await apply(this.core!.blockPulled(block));
      next++;
      if (next > to || this.state !== 'running') break;
    }
    if (next <= to && this.state === 'running')
      throw new Error(`pulling blocks for catch-up ended at block [${next - 1}], before block [${to}]`);
  }

  private proposeConfChange(change: RaftConfChange): void {
    try {
      this.node?.proposeConfChange({ type: change.type, nodeId: change.nodeId, context: undefined, id: 0 });
    } catch (err) {
      // A follower's proposal is dropped (Fabric disables forwarding): the leader's counts.
      this.support.logger.debug(
        { channel: this.support.channelId, err: errorMessage(err) },
        'Raft did not take the configuration change proposal',
      );
    }
  }

  /** Fabric's configureComm after a membership change; a node removed from the set stops. */
  private membershipChanged(
    metadata: RaftBlockMetadata,
    consenters: readonly EtcdraftConsenter[],
    removedSelf: boolean,
  ): void {
    this.observer.clusterSize(metadata.consenterIds.length);
    this.onMembershipChanged?.(clusterMembers(metadata, consenters));
    if (!removedSelf) return;
    this.support.logger.info(
      { channel: this.support.channelId },
      'This node is being removed from replica set; halting its etcdraft chain',
    );
    this.leaveConsenterSet();
  }

  /**
   * This node is no longer a consenter: clients hear so, the chain halts, and then the consenter
   * is told (it makes the channel a follower, as Fabric's halt callback does).
   */
  private leaveConsenterSet(): void {
    const error = unavailable(
      `this orderer was removed from the consenters of channel ${this.support.channelId}; ` +
        'send transactions to one of its consenters',
      { channel: this.support.channelId },
    );
    // Clients are told why from now on; the halt is not awaited here: it waits for the effect
    // queue this may run in.
    this.failure ??= error;
    this.statusListeners.notify();
    this.track(
      this.halt()
        .then(() => this.onEvicted?.())
        .catch((err: unknown) =>
          this.support.logger.error(
            { channel: this.support.channelId, err: errorMessage(err) },
            `after its eviction, channel ${this.support.channelId} could not become a follower: ${errorMessage(err)}`,
          ),
        ),
    );
  }

  private propose(block: common.Block): void {
    const node = this.node;
    if (!node) return;
    try {
      // Fabric proposes the block with its (empty) metadata slots; the writer fills them.
      node.propose(marshalBlock(block));
    } catch (err) {
      // Leadership was lost since the core decided: the new leader orders the kept envelopes.
      this.observer.proposalFailed();
      this.support.logger.warn(
        { channel: this.support.channelId, block: toNumber(block.header?.number) },
        `Raft dropped the proposal of block [${toNumber(block.header?.number)}]: ${errorMessage(err)}`,
      );
    }
  }

  private forward(to: number, env: ReceivedEnvelope, configSeq: number, tickets: readonly number[]): void {
    let sending: Promise<void>;
    try {
      sending = this.transport.sendSubmit(to, env.raw, configSeq);
    } catch (err) {
      sending = Promise.reject(err);
    }
    this.track(
      sending.catch((err: unknown) => {
        // The core keeps the envelope and hands it to the next leader; the client hears now that
        // this attempt failed instead of waiting for an election that may not come.
        const error = unavailable(
          `failed to forward the envelope to the Raft leader ${to} of channel ${this.support.channelId}: ` +
            `${errorMessage(err)}; retry`,
          { channel: this.support.channelId, leader: to },
        );
        for (const ticket of tickets) {
          this.tickets.get(ticket)?.reject(error);
          this.tickets.delete(ticket);
        }
      }),
    );
  }

  private async revalidate(id: number, isConfig: boolean, env: ReceivedEnvelope): Promise<void> {
    let outcome: { ok: true; env: ReceivedEnvelope } | { ok: false; reason: string };
    try {
      if (isConfig) outcome = { ok: true, env: (await this.support.processConfigMsg(env)).config };
      else {
        await this.support.processNormalMsg(env);
        outcome = { ok: true, env };
      }
    } catch (err) {
      outcome = { ok: false, reason: errorMessage(err) };
    }
    if (this.state !== 'running' || !this.core) return;
    await this.dispatch(this.core.revalidated(id, outcome, this.context()));
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((err: unknown) =>
      this.support.logger.warn(
        { channel: this.support.channelId, err: errorMessage(err) },
        'chain task failed',
      ),
    );
    this.inflight.add(tracked);
    void tracked.finally(() => this.inflight.delete(tracked));
  }

  private fail(cause: Error): void {
    const error =
      cause instanceof OrdererError
        ? cause
        : unavailable(cause.message, { channel: this.support.channelId }, { cause });
    if (!this.failure) this.failure = error;
    this.statusListeners.notify();
    this.support.logger.error(
      { channel: this.support.channelId, err: error.message },
      'etcdraft chain failed',
    );
    this.cancelCoreTimers();
    this.rejectAll(error);
  }

  private rejectAll(error: Error): void {
    for (const waiting of this.tickets.values()) waiting.reject(error);
    this.tickets.clear();
  }
}

function raftLoggerOf(support: ConsenterSupport): RaftLogger {
  const logger = support.logger;
  return {
    debug: (message) => logger.debug({ channel: support.channelId }, message),
    info: (message) => logger.info({ channel: support.channelId }, message),
    warn: (message) => logger.warn({ channel: support.channelId }, message),
    error: (message) => logger.error({ channel: support.channelId }, message),
  };
}
