// The Raft node driver: what Fabric's orderer/consensus/etcdraft/node.go does around etcd's
// raft.Node, over the single-threaded RawNode. It ticks the core on the injected clock, persists
// each Ready to the WAL before sending its messages (Fabric v2.5.12 does this for the leader too;
// it leaves the thesis §10.2.1 parallel write as a TODO), mirrors what is durable into the
// MemoryStorage the core reads, hands committed entries to the application once and in order,
// then advances. One Ready is handled at a time; input arriving meanwhile is stepped into the
// core, which queues its effects for the next Ready, exactly as etcd's node.run does between
// Ready and Advance.
import { createHash } from 'node:crypto';
import type { Clock, TimerHandle } from '../../clock.js';
import { errorMessage } from '../../errors.js';
import {
  ConfChangeType,
  EntryType,
  ErrSnapOutOfDate,
  MemoryStorage,
  MessageType,
  NONE,
  RawNode,
  SnapshotStatus,
  isEmptyHardState,
  isEmptySnap,
  isRaftError,
  silentRaftLogger,
} from './raft/index.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  Message,
  RaftLogger,
  RandomIntn,
  Ready,
  Snapshot,
  Status,
} from './raft/index.js';
import { decodeConfChange, decodeConfChangeV2 } from './raft/wire.js';
import type { RaftSave, RecoveredRaftState } from './storage/index.js';
import { RaftNodeError } from './node-errors.js';

export { RaftNodeError, isRaftNodeError, type RaftNodeErrorCode } from './node-errors.js';

/** Fabric's DefaultSnapshotCatchUpEntries: entries kept in memory behind a snapshot for slow followers. */
export const DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES = 4;

export interface RaftNodeOptions {
  /** This node's Raft ID (its consenter ID in the channel's BlockMetadata). */
  readonly id: number;
  /** The channel; it picks the node that campaigns first on a new channel. */
  readonly channel: string;
  /** The consenter IDs of the genesis block, in consenter order (bootstrap log of a new channel). */
  readonly peers: readonly number[];
  readonly electionTick: number;
  readonly heartbeatTick: number;
  /** Fabric sets BatchSize.PreferredMaxBytes; MaxCommittedSizePerReady then defaults to it too. */
  readonly maxSizePerMsg: number;
  /** Fabric sets Options.MaxInflightBlocks. */
  readonly maxInflightMsgs: number;
  readonly tickIntervalMs: number;
  /**
   * Whether the channel has no Raft state on this node yet (Fabric: the WAL dir did not exist).
   * Defaults to whether the recovered state is empty. A fresh node bootstraps the peers' log,
   * unless it joins an existing channel.
   */
  readonly fresh?: boolean;
  /** A fresh node joining a channel that already has blocks: it starts empty and waits for the leader. */
  readonly join?: boolean;
  /**
   * The highest Raft index the application has applied (the raft_index in the last block's
   * consenter metadata). Committed entries at or below it are not handed to the application
   * again; Fabric guards replay the same way instead of raft's Config.Applied (etcd issue 10217).
   */
  readonly appliedIndex?: number;
  /** Entries kept in memory behind a snapshot for followers that lag a little. */
  readonly snapshotCatchUpEntries?: number;
}

/** The part of RaftWal the driver uses: save() resolves once the update is fsync'd. */
export interface RaftNodeWal {
  save(update: RaftSave): Promise<void>;
  saveSnapshot(snapshot: Snapshot): Promise<void>;
}

/**
 * Sends a Ready's messages (the chain maps it onto the cluster client). Returns the IDs of the
 * destinations a message could not be handed to (Fabric's SendConsensus error); the node then
 * reports them unreachable and a MsgSnap to them failed. Failures found later are reported with
 * reportUnreachable / reportSnapshot.
 */
export interface RaftTransport {
  send(messages: Message[]): readonly number[] | void;
}

/** What the application (the chain) is told. Promises are awaited before the node advances. */
export interface RaftNodeHandler {
  /**
   * Committed entries after the applied index, in log order, each exactly once: normal entries
   * (an empty one is a new leader's) and conf changes. The node applies the conf changes to Raft
   * itself, before this call, so confState() already reflects them (Fabric never rejects one).
   */
  onCommitted(entries: Entry[]): void | Promise<void>;
  /** A snapshot beyond the applied index: the application must catch up to it (Fabric's snapC). */
  onSnapshot?(snapshot: Snapshot): void | Promise<void>;
  /** The leader this node knows of changed (NONE when there is none); term is this node's term. */
  onLeaderChange?(leader: number, term: number): void;
  /** The node stopped itself: a WAL save or the application failed. Fabric panics here. */
  onHalt?(error: RaftNodeError): void;
  /** A Ready was persisted in the WAL, taking this many seconds (data_persist_duration). */
  onPersisted?(seconds: number): void;
  /**
   * After each tick, with the node's status (Fabric's tracker checks it on every Raft tick to
   * count the active nodes). Only called when given, since a status copies the leader's progress.
   */
  onTick?(status: Status): void;
}

export interface RaftNodeDependencies {
  readonly wal: RaftNodeWal;
  /** What RaftWal.open recovered; the node loads it into its MemoryStorage. */
  readonly recovered: RecoveredRaftState;
  readonly clock: Clock;
  readonly transport: RaftTransport;
  readonly handler: RaftNodeHandler;
  readonly logger?: RaftLogger;
  /** The election-timeout randomness; inject a seeded one for reproducible runs. */
  readonly random?: RandomIntn;
}

type NodeState = 'new' | 'running' | 'stopped' | 'halted';

/**
 * Fabric's choice of the node that campaigns at once on a new channel (node.go: start):
 * varint(sha256(channel)[24:]) % n + 1. Go's proto.DecodeVarint gives 0 when the 8 bytes do not
 * end a varint.
 */
export function initialCampaigner(channel: string, clusterSize: number): number {
  const tail = createHash('sha256').update(channel, 'utf8').digest().subarray(24);
  let value = 0n;
  let ended = false;
  for (let i = 0; i < tail.length; i++) {
    const byte = tail[i]!;
    value |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if (byte < 0x80) {
      ended = true;
      break;
    }
  }
  if (!ended) value = 0n;
  return Number(value % BigInt(clusterSize)) + 1;
}

const emptyConfStateOf = (): ConfState => ({
  voters: [],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
});

export class RaftNode {
  readonly id: number;
  /** The core's stable storage: what the WAL holds, mirrored in memory (Fabric's RaftStorage.ram). */
  readonly memoryStorage: MemoryStorage;
  private readonly options: RaftNodeOptions;
  private readonly wal: RaftNodeWal;
  private readonly clock: Clock;
  private readonly transport: RaftTransport;
  private readonly handler: RaftNodeHandler;
  private readonly logger: RaftLogger;
  private readonly rawNode: RawNode;
  private state: NodeState = 'new';
  private haltError: RaftNodeError | undefined;
  private applied: number;
  /** The last index handed to onCommitted: the application may snapshot it while handling it. */
  private handedOver = 0;
  private currentConfState: ConfState;
  private leader = NONE;
  private readyTerm: number;
  private campaignPending: boolean;
  private tickTimer: TimerHandle | undefined;
  private campaignTimer: TimerHandle | undefined;
  private looping = false;
  private pendingStartSnapshot: Snapshot | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly unreachable = new Set<number>();

  constructor(options: RaftNodeOptions, dependencies: RaftNodeDependencies) {
    validateOptions(options);
    this.options = options;
    this.id = options.id;
    this.wal = dependencies.wal;
    this.clock = dependencies.clock;
    this.transport = dependencies.transport;
    this.handler = dependencies.handler;
    this.logger = dependencies.logger ?? silentRaftLogger;

    const { recovered } = dependencies;
    const empty =
      recovered.snapshot === undefined &&
      recovered.entries.length === 0 &&
      isEmptyHardState(recovered.hardState);
    const fresh = options.fresh ?? empty;
    if (fresh && !empty)
      throw new RaftNodeError(
        'invalid-options',
        `Raft node ${options.id} of channel ${options.channel} was asked to start fresh, but its WAL already ` +
          `holds Raft state (term ${recovered.hardState.term}, commit ${recovered.hardState.commit}, ` +
          `${recovered.entries.length} entries): restart it from the WAL instead (fresh: false)`,
        { channel: options.channel, id: options.id },
      );

    // Fabric's RaftStorage: the snapshot, then the HardState, then the entries after it.
    this.memoryStorage = new MemoryStorage();
    if (recovered.snapshot !== undefined && !isEmptySnap(recovered.snapshot))
      this.memoryStorage.applySnapshot(recovered.snapshot);
    this.memoryStorage.setHardState(recovered.hardState);
    this.memoryStorage.append(recovered.entries);
    this.currentConfState = recovered.snapshot?.metadata.confState ?? emptyConfStateOf();
    this.applied = Math.max(options.appliedIndex ?? 0, 0);
    this.readyTerm = recovered.hardState.term;

    this.rawNode = new RawNode({
      id: options.id,
      electionTick: options.electionTick,
      heartbeatTick: options.heartbeatTick,
      storage: this.memoryStorage,
      maxSizePerMsg: options.maxSizePerMsg,
      maxInflightMsgs: options.maxInflightMsgs,
      // Fabric: PreVote keeps a reconnected node from disturbing the group, CheckQuorum makes a
      // leader that lost its quorum step down, and followers never forward proposals.
      preVote: true,
      checkQuorum: true,
      disableProposalForwarding: true,
      logger: this.logger,
      random: dependencies.random ?? ((n: number) => Math.floor(Math.random() * n)),
    });

    this.campaignPending = false;
    if (fresh && options.join !== true) {
      this.rawNode.bootstrap(options.peers.map((id) => ({ id })));
      this.campaignPending = initialCampaigner(options.channel, options.peers.length) === options.id;
      this.logger.info(`starting Raft node ${options.id} as part of a new channel`);
    } else if (fresh) {
      this.logger.info(`starting Raft node ${options.id} to join an existing channel`);
    } else {
      this.logger.info(`restarting Raft node ${options.id} from its WAL`);
    }
  }

  /** Starts ticking and handling Readies; delivers a recovered snapshot the application lacks. */
  start(): void {
    if (this.state === 'running')
      throw new RaftNodeError(
        'invalid-options',
        `Raft node ${this.id} of channel ${this.options.channel} is already started`,
        {
          channel: this.options.channel,
          id: this.id,
        },
      );
    if (this.state !== 'new') throw this.notRunning('start');
    this.state = 'running';
    this.armTick();
    if (this.campaignPending) {
      this.logger.info(`Raft node ${this.id} is picked to start the campaign`);
      this.armCampaign();
    }
    const snapshot = this.memoryStorage.snapshot();
    if (!isEmptySnap(snapshot) && snapshot.metadata.index > this.applied) {
      // Fabric hands the stored snapshot to the chain at start; it goes through the loop here so
      // the application sees it before any committed entry after it.
      this.pendingStartSnapshot = snapshot;
    }
    this.kick();
  }

  /** The highest Raft index handed to (or skipped as already applied by) the application. */
  get appliedIndex(): number {
    return this.applied;
  }

  /** The membership as of the last applied conf change or snapshot. */
  confState(): ConfState {
    return this.currentConfState;
  }

  /** The leader this node knows of (NONE when none). */
  get leaderId(): number {
    return this.leader;
  }

  get halted(): RaftNodeError | undefined {
    return this.haltError;
  }

  /** Proposes data; returns once the local Raft took it, throws ErrProposalDropped when it did not. */
  propose(data: Uint8Array): void {
    this.assertRunning('propose');
    this.rawNode.propose(data);
    this.kick();
  }

  /** Proposes a v1 conf change (Fabric never proposes ConfChangeV2). */
  proposeConfChange(cc: ConfChange): void {
    this.assertRunning('propose a conf change');
    this.rawNode.proposeConfChange(cc);
    this.kick();
  }

  /**
   * Steps a message received from a peer. As etcd's node.Step, a local message type and a
   * response from a peer no longer in the group are dropped, not errors.
   */
  step(message: Message): void {
    this.assertRunning('step a message');
    try {
      this.rawNode.step(message);
    } catch (err) {
      if (
        isRaftError(err, 'step-local-msg') ||
        isRaftError(err, 'step-peer-not-found') ||
        isRaftError(err, 'proposal-dropped')
      ) {
        this.logger.debug(
          `Raft node ${this.id} dropped message type ${MessageType[message.type]} from ${message.from}: ${errorMessage(err)}`,
        );
      } else throw err;
    }
    this.kick();
  }

  campaign(): void {
    this.assertRunning('campaign');
    this.rawNode.campaign();
    this.kick();
  }

  /** Asks the leader to hand leadership to transferee (etcd's TransferLeadership). */
  transferLeadership(transferee: number): void {
    this.assertRunning('transfer leadership');
    this.rawNode.transferLeader(transferee);
    this.kick();
  }

  reportUnreachable(id: number): void {
    if (this.state !== 'running') return;
    this.rawNode.reportUnreachable(id);
    this.kick();
  }

  reportSnapshot(id: number, status: SnapshotStatus): void {
    if (this.state !== 'running') return;
    this.rawNode.reportSnapshot(id, status);
    this.kick();
  }

  status(): Status {
    return this.rawNode.status();
  }

  /**
   * Fabric's RaftStorage.TakeSnapshot: a snapshot of the application's state at applied index,
   * persisted (snap file + WAL marker), then the in-memory log compacted to keep
   * snapshotCatchUpEntries entries behind it for slow followers.
   */
  async takeSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<void> {
    this.assertRunning('take a snapshot');
    if (index > Math.max(this.applied, this.handedOver))
      throw new RaftNodeError(
        'invalid-options',
        `cannot take a snapshot at Raft index ${index}: only ${this.applied} is applied`,
        { index, applied: this.applied },
      );
    const snapshot = this.memoryStorage.createSnapshot(index, confState, data);
    await this.wal.saveSnapshot(snapshot);
    const keep = this.options.snapshotCatchUpEntries ?? DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES;
    if (index > keep) {
      try {
        this.memoryStorage.compact(index - keep);
      } catch (err) {
        if (!isRaftError(err, 'compacted')) throw err;
        this.logger.warn(`Raft entries before ${index - keep} are already compacted`);
      }
    }
  }

  /** Resolves once no Ready is pending or being handled (tests and orderly shutdown wait on it). */
  whenIdle(): Promise<void> {
    if (!this.looping) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops ticking and taking input; the Ready being handled, if any, completes first. */
  async stop(): Promise<void> {
    if (this.state === 'new' || this.state === 'running') this.state = 'stopped';
    this.cancelTimers();
    await this.whenIdle();
  }

  private armTick(): void {
    this.tickTimer = this.clock.setTimer(this.options.tickIntervalMs, () => {
      if (this.state !== 'running') return;
      this.rawNode.tick();
      this.armTick();
      this.handler.onTick?.(this.rawNode.status());
      this.kick();
    });
  }

  // Fabric campaigns every 2×HeartbeatTick until a leader is present: once PreCandidate is not
  // enough, because peers that have not started yet drop its PreVote.
  private armCampaign(): void {
    const ms = this.options.tickIntervalMs * this.options.heartbeatTick * 2;
    this.campaignTimer = this.clock.setTimer(ms, () => {
      this.campaignTimer = undefined;
      if (this.state !== 'running' || !this.campaignPending) return;
      this.rawNode.campaign();
      this.armCampaign();
      this.kick();
    });
  }

  private cancelTimers(): void {
    this.tickTimer?.cancel();
    this.tickTimer = undefined;
    this.campaignTimer?.cancel();
    this.campaignTimer = undefined;
  }

  private kick(): void {
    if (this.looping || this.state !== 'running') return;
    if (this.pendingStartSnapshot === undefined && !this.rawNode.hasReady()) return;
    this.looping = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      if (this.pendingStartSnapshot !== undefined) {
        const snapshot = this.pendingStartSnapshot;
        this.pendingStartSnapshot = undefined;
        await this.deliverSnapshot(snapshot);
      }
      while (this.state === 'running' && this.rawNode.hasReady()) await this.handle(this.rawNode.ready());
    } catch (err) {
      this.halt(err);
    } finally {
      // Cleared in the same synchronous step that found no Ready, so an input arriving after
      // it starts a new loop instead of being left behind.
      this.looping = false;
    }
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async handle(rd: Ready): Promise<void> {
    const save: { hardState?: Ready['hardState']; entries?: Entry[]; snapshot?: Snapshot } = {};
    if (!isEmptyHardState(rd.hardState)) {
      save.hardState = rd.hardState;
      // The term the Ready's soft state belongs to; the core may be further on by the time the
      // save is durable, since steps keep arriving meanwhile.
      this.readyTerm = rd.hardState.term;
    }
    if (rd.entries.length > 0) save.entries = rd.entries;
    if (!isEmptySnap(rd.snapshot)) save.snapshot = rd.snapshot;
    if (save.hardState !== undefined || save.entries !== undefined || save.snapshot !== undefined) {
      const started = this.clock.elapsed();
      try {
        await this.wal.save(save);
      } catch (err) {
        throw this.haltErrorFor('persisting Raft data to the WAL', err);
      }
      // Stopped while persisting: what is durable stays, and a restart hands it over; nothing
      // more is sent or applied by a node its owner has shut down.
      if (this.state !== 'running') return;
      const seconds = (this.clock.elapsed() - started) / 1000;
      this.handler.onPersisted?.(seconds);
      const electionTimeout = (this.options.tickIntervalMs * this.options.electionTick) / 1000;
      if (seconds > electionTimeout / 2)
        this.logger.warn(
          `WAL sync took ${seconds} seconds and the network is configured to start elections after ` +
            `${electionTimeout} seconds. Your disk is too slow and may cause loss of quorum and trigger leadership election.`,
        );
    }
    // Only what is durable goes into the storage the core reads (Fabric's RaftStorage.Store).
    if (save.snapshot !== undefined) {
      try {
        this.memoryStorage.applySnapshot(save.snapshot);
      } catch (err) {
        if (err !== ErrSnapOutOfDate) throw err;
        this.logger.warn(
          `attempted to apply an out-of-date snapshot at term ${save.snapshot.metadata.term} and index ${save.snapshot.metadata.index}`,
        );
      }
    }
    if (save.entries !== undefined) this.memoryStorage.append(save.entries);
    if (save.hardState !== undefined) this.memoryStorage.setHardState(save.hardState);

    this.send(rd.messages);

    if (rd.softState !== undefined) {
      const lead = rd.softState.lead;
      if (lead !== this.leader) {
        this.leader = lead;
        this.handler.onLeaderChange?.(lead, this.readyTerm);
      }
      if (this.campaignPending && lead !== NONE) {
        this.logger.info(`leader ${lead} is present, quit campaign`);
        this.campaignPending = false;
        this.campaignTimer?.cancel();
        this.campaignTimer = undefined;
      }
    }

    if (save.snapshot !== undefined) await this.deliverSnapshot(save.snapshot);
    await this.applyCommitted(rd.committedEntries);
    this.rawNode.advance(rd);
  }

  private async deliverSnapshot(snapshot: Snapshot): Promise<void> {
    this.currentConfState = snapshot.metadata.confState;
    if (snapshot.metadata.index <= this.applied) return;
    try {
      await this.handler.onSnapshot?.(snapshot);
    } catch (err) {
      throw this.haltErrorFor(`catching up to the snapshot at Raft index ${snapshot.metadata.index}`, err);
    }
    this.applied = snapshot.metadata.index;
  }

  private async applyCommitted(entries: Entry[]): Promise<void> {
    if (entries.length === 0) return;
    // Conf changes are applied to Raft even when the application had applied their entries:
    // after a restart the membership is rebuilt from them (the snapshot carries only the older
    // part). They go first so that confState() is current while the application handles them.
    for (const entry of entries) {
      if (entry.type === EntryType.ConfChange) {
        const cc = decodeConfChange(entry.data);
        this.currentConfState = this.rawNode.applyConfChange(cc);
        this.logConfChange(cc.type, cc.nodeId);
      } else if (entry.type === EntryType.ConfChangeV2) {
        this.currentConfState = this.rawNode.applyConfChange(decodeConfChangeV2(entry.data));
      }
    }
    const fresh = entries.filter((entry) => entry.index > this.applied);
    if (fresh.length > 0) {
      this.handedOver = fresh.at(-1)!.index;
      try {
        await this.handler.onCommitted(fresh);
      } catch (err) {
        throw this.haltErrorFor(`applying committed entries ${fresh[0]!.index}-${fresh.at(-1)!.index}`, err);
      }
    }
    this.applied = Math.max(this.applied, entries.at(-1)!.index);
  }

  private logConfChange(type: ConfChangeType, nodeId: number): void {
    this.logger.debug(
      `Raft node ${this.id} applied conf change ${ConfChangeType[type]} ${nodeId}; voters now [${this.currentConfState.voters.join(', ')}]`,
    );
  }

  // Fabric's node.send: messages to ID 0 are skipped, a MsgSnap carries the current membership,
  // a failed send reports the peer unreachable, and every MsgSnap reports its outcome.
  private send(messages: Message[]): void {
    const outgoing: Message[] = [];
    for (const m of messages) {
      if (m.to === NONE) continue;
      if (
        m.type === MessageType.MsgSnap &&
        m.snapshot !== undefined &&
        this.currentConfState.voters.length > 0
      )
        outgoing.push({
          ...m,
          snapshot: { ...m.snapshot, metadata: { ...m.snapshot.metadata, confState: this.currentConfState } },
        });
      else outgoing.push(m);
    }
    if (outgoing.length === 0) return;
    let failed: ReadonlySet<number>;
    try {
      failed = new Set(this.transport.send(outgoing) ?? []);
    } catch (err) {
      this.logger.error(`failed to send Raft messages: ${errorMessage(err)}`);
      failed = new Set(outgoing.map((m) => m.to));
    }
    for (const to of new Set(outgoing.map((m) => m.to))) {
      if (failed.has(to)) {
        this.rawNode.reportUnreachable(to);
        if (!this.unreachable.has(to)) {
          this.unreachable.add(to);
          this.logger.error(`failed to send StepRequest to ${to}`);
        }
      } else if (this.unreachable.delete(to)) {
        this.logger.info(`successfully sent StepRequest to ${to} after failed attempt(s)`);
      }
    }
    for (const m of outgoing)
      if (m.type === MessageType.MsgSnap)
        this.rawNode.reportSnapshot(
          m.to,
          failed.has(m.to) ? SnapshotStatus.SnapshotFailure : SnapshotStatus.SnapshotFinish,
        );
  }

  private haltErrorFor(what: string, cause: unknown): RaftNodeError {
    return new RaftNodeError(
      'halted',
      `Raft node ${this.id} of channel ${this.options.channel} halted: ${what} failed (${errorMessage(cause)}). ` +
        `Nothing after the last durable state was acknowledged; fix the cause and restart the orderer, ` +
        `the channel recovers from its WAL`,
      { channel: this.options.channel, id: this.id },
      { cause },
    );
  }

  private halt(err: unknown): void {
    const error = err instanceof RaftNodeError ? err : this.haltErrorFor('handling a Raft Ready', err);
    if (this.state === 'halted') return;
    this.state = 'halted';
    this.haltError = error;
    this.cancelTimers();
    this.logger.error(error.message);
    this.handler.onHalt?.(error);
  }

  private assertRunning(what: string): void {
    if (this.state !== 'running') throw this.notRunning(what);
  }

  private notRunning(what: string): RaftNodeError {
    if (this.state === 'halted' && this.haltError !== undefined) return this.haltError;
    const why = this.state === 'new' ? 'has not been started (call start())' : 'is stopped';
    return new RaftNodeError(
      this.state === 'new' ? 'invalid-options' : 'stopped',
      `cannot ${what}: Raft node ${this.id} of channel ${this.options.channel} ${why}`,
      { channel: this.options.channel, id: this.id },
    );
  }
}

function validateOptions(o: RaftNodeOptions): void {
  const bad = (reason: string) =>
    new RaftNodeError('invalid-options', `invalid Raft node options for channel ${o.channel}: ${reason}`, {
      channel: o.channel,
      id: o.id,
    });
  if (!Number.isSafeInteger(o.id) || o.id <= 0) throw bad(`id ${o.id} must be a positive integer`);
  if (!(o.tickIntervalMs > 0)) throw bad(`tickIntervalMs ${o.tickIntervalMs} must be positive`);
  if (o.peers.length === 0) throw bad('peers (the consenter IDs) must not be empty');
  if (new Set(o.peers).size !== o.peers.length) throw bad(`peers [${o.peers.join(', ')}] has duplicates`);
  if (o.heartbeatTick <= 0 || o.electionTick <= o.heartbeatTick)
    throw bad(
      `electionTick (${o.electionTick}) must be greater than heartbeatTick (${o.heartbeatTick}), which must be positive`,
    );
  if (o.maxInflightMsgs <= 0) throw bad(`maxInflightMsgs ${o.maxInflightMsgs} must be positive`);
}
