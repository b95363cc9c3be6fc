// The decisions of Fabric's etcdraft chain (orderer/consensus/etcdraft/chain.go: run, ordered,
// propose, apply, writeBlock, becomeLeader, becomeFollower), without I/O, plus what makes ours
// lose nothing: an envelope is acknowledged only when a block holding it is committed by Raft (on
// a quorum's disks) and applied here, and until then this node keeps it and hands it to every new
// leader, which drops copies of what its committed blocks already hold.
//
// The driver (chain.ts) feeds events one at a time — a submission (from Broadcast here or
// forwarded by another node), a leadership change, committed Raft entries, the batch timer, the
// outcome of a re-validation — and carries out the returned effects in order: propose a block to
// Raft, write a committed block, forward an envelope to the leader, arm or cancel the timer,
// re-validate, acknowledge or refuse submissions.
import { hash as oneShotHash } from 'node:crypto';
import { common } from '../../protos/index.js';
import { HeaderType } from '../../protoutil/envelope.js';
import { headerTypeOfBlock } from '../../channelconfig/configblock.js';
import type { BlockCreator, BlockCutterLike, ReceivedEnvelope } from '../types.js';
import { ConfChangeType, EntryType, type Entry } from './raft/types.js';
import { decodeConfChange } from './raft/wire.js';
import type { EtcdraftConsenter } from '../../channelconfig/etcdraft.js';
import type { RaftBlockMetadata } from './metadata.js';
import {
  computeMembershipChange,
  consentersOfConfigBlock,
  consentersOfConfigEnvelope,
  unfinishedConfChange,
  type RaftConfChange,
} from './membership.js';
import { StateType } from './raft/raft.js';

/** What the core reads from the channel and the Raft node with each event. */
export interface RaftChainContext {
  /** The channel's config sequence now. */
  sequence: number;
  /** BatchTimeout now, for a timer armed by this event. */
  batchTimeoutMs: number;
  /** Options.MaxInflightBlocks of the channel's etcdraft metadata. */
  maxInflightBlocks: number;
  /** Last index of this node's Raft log (a new leader waits until it has applied up to it). */
  raftLastIndex: number;
  /** Raft's voters now (a new leader compares them with the block metadata's consenter IDs). */
  voters: readonly number[];
  /**
   * The consenters the leader last saw recently active (Fabric's ActiveNodes, this node included):
   * a leader hands leadership only to one of them.
   */
  activeNodes: readonly number[];
  /** Milliseconds on the chain's clock, for resending and giving up on unanswered submissions. */
  now: number;
}

/**
 * Fabric's AbdicationMaxAttempts: leadership transfers a leader tries before it gives up on a
 * config update that removes or rotates it (the update is then not ordered).
 */
export const ABDICATION_MAX_ATTEMPTS = 5;

/** How long a forwarded submission may wait for its block (see resendUnanswered). */
export interface ResendPolicy {
  /** Forward again to the leader when nothing was applied for it for this long. */
  resendAfterMs: number;
  /** Refuse it (unavailable) when it waited this long in all. */
  giveUpAfterMs: number;
}

export type Submission = {
  /** Chosen by the driver; acknowledge/refuse name it. Forwarded envelopes have none here. */
  readonly ticket: number | undefined;
  readonly env: ReceivedEnvelope;
  /** Config sequence the envelope was validated at. */
  readonly configSeq: number;
  readonly isConfig: boolean;
};

export type RaftChainEffect =
  /** Leader: propose this block (all metadata slots empty) as a Raft normal entry. */
  | { type: 'propose-block'; block: common.Block; isConfig: boolean }
  /**
   * Write a committed block with this etcdraft BlockMetadata (raft_index = raftIndex; for a
   * config block that changes the consenter set, the new IDs already).
   */
  | {
      type: 'write-block';
      block: common.Block;
      raftIndex: number;
      isConfig: boolean;
      metadata: RaftBlockMetadata;
    }
  /** Leader: hand leadership to this node (before ordering a config that removes or rotates us). */
  | { type: 'transfer-leadership'; to: number }
  /** Propose this ConfChange to Raft (only the leader's counts; followers' are dropped). */
  | { type: 'propose-conf-change'; change: RaftConfChange }
  /**
   * The consenter set changed (a ConfChange applied, or a certificate rotated): reconnect to
   * these members; removedSelf: this node is no longer a consenter and must stop.
   */
  | {
      type: 'membership-changed';
      metadata: RaftBlockMetadata;
      consenters: readonly EtcdraftConsenter[];
      removedSelf: boolean;
    }
  /**
   * Bytes of blocks since the last snapshot reached SnapshotIntervalSize: snapshot the Raft
   * state at this index, with the last applied block (as proposed, metadata empty) as its data.
   */
  | { type: 'take-snapshot'; index: number; data: Uint8Array; blockNumber: number }
  /** Apply a committed ConfChange entry to the Raft node. */
  | { type: 'apply-conf-change'; entry: Entry }
  /**
   * Follower: send the envelope to the leader (SubmitRequest with last_validation_seq). tickets:
   * the submissions of it here, told at once if this attempt cannot be sent.
   */
  | { type: 'forward'; to: number; env: ReceivedEnvelope; configSeq: number; tickets: readonly number[] }
  | { type: 'arm-timer'; generation: number; timeoutMs: number }
  | { type: 'cancel-timer' }
  /** Leader: call idleTimerFired(generation) after timeoutMs (see idleCutAfterMs). */
  | { type: 'arm-idle-timer'; generation: number; timeoutMs: number }
  /** Re-validate at the current sequence; feed revalidated(id, ...) with the outcome. */
  | { type: 'revalidate'; id: number; isConfig: boolean; env: ReceivedEnvelope }
  /** These submissions are in a committed, applied block: answer SUCCESS. */
  | { type: 'acknowledge'; tickets: number[] }
  /** These submissions will not be ordered: answer with the reason. */
  | { type: 'refuse'; tickets: number[]; reason: string; status: 'bad-request' | 'unavailable' }
  | { type: 'log'; level: 'debug' | 'info' | 'warn'; message: string; details?: Record<string, unknown> };

export interface RaftChainCoreOptions {
  raftId: number;
  /** The last block in the ledger and the Raft index it came from (0 for a genesis block). */
  lastBlock: common.IBlock;
  appliedIndex: number;
  /** The etcdraft BlockMetadata of the last block and the consenters it numbers (config order). */
  blockMetadata: RaftBlockMetadata;
  consenters: readonly EtcdraftConsenter[];
  /** How many envelope hashes of committed blocks a leader remembers to drop re-sent copies. */
  dedupeWindow?: number;
  /** Options.SnapshotIntervalSize: bytes of block entries between snapshots. */
  snapshotIntervalSize: number;
  /** Bytes of block entries applied since the last snapshot (a restart recounts its log). */
  bytesSinceSnapshot?: number;
  /**
   * Leader: cut the pending batch before BatchTimeout once no block is in flight and nothing has
   * entered the cutter, nor a block been applied, for this long. 0 or absent: only BatchSize and
   * BatchTimeout cut, as in Fabric. Why it exists: a submission is acknowledged only once its
   * block is applied, so a client that waits for acknowledgements before it sends more stalls on
   * a partial batch until BatchTimeout; Fabric acknowledges on intake and its clients do not.
   */
  idleCutAfterMs?: number;
}

export interface RaftChainCoreDependencies {
  blockCutter: BlockCutterLike;
  /** A block creator chained on the given block. */
  newBlockCreator: (after: common.IBlock) => BlockCreator;
}

interface Waiting {
  readonly hash: string;
  readonly submission: Submission;
  /** When it was submitted here, and when it was last forwarded (ctx.now). */
  readonly since: number;
  lastSent: number;
  /** The leadership (RaftChainCore.leaderships) it was last forwarded in; absent before the first forward. */
  sentIn?: number;
}

const isCandidate = (state: StateType) =>
  state === StateType.StatePreCandidate || state === StateType.StateCandidate;

// Every envelope is hashed on every node (the dedupe window), the leader's twice: the one-shot
// hash costs about 30% less than a Hash object per envelope, and leaves nothing to collect.
const envelopeHash = (raw: Uint8Array): string => oneShotHash('sha256', raw, 'hex');

export class RaftChainCore {
  private readonly raftId: number;
  private lead = 0;
  private raftState: StateType = StateType.StateFollower;
  private lastBlock: common.IBlock;
  private appliedIndex: number;
  private creator: BlockCreator | undefined;
  private justElected = false;
  private blockInflight = 0;
  private configInflight = false;
  private metadata: RaftBlockMetadata;
  private consenters: readonly EtcdraftConsenter[];
  /** The ConfChange a committed config block asked for, until Raft applied it. */
  private confChangeInProgress: RaftConfChange | undefined;
  /** Leader handing over leadership because a config to order removes or rotates this node. */
  private abdicating = false;
  /** That config's envelope hash and the transfers tried for it so far. */
  private abdication: { hash: string; attempts: number } | undefined;
  private timerGeneration = 0;
  private timerArmed = false;
  private readonly idleCutAfterMs: number;
  private idleGeneration = 0;
  private idleArmed = false;
  /** Whether the block cutter holds envelopes not yet in a block. */
  private cutterPending = false;
  /** ctx.now when an envelope last entered the cutter or a block was last applied. */
  private lastActivityAt = 0;
  /** Submissions not yet in an applied block, by envelope hash (oldest first). */
  private readonly unacknowledged = new Map<string, number[]>();
  /** Envelopes kept for re-forwarding or re-ordering until they are in an applied block. */
  private readonly kept = new Map<string, Waiting>();
  /** Leader: hashes of envelopes in the cutter or in proposed blocks (not applied yet). */
  private readonly ordered = new Set<string>();
  /** Hashes of envelopes in recently applied blocks, oldest first. */
  private readonly committed = new Set<string>();
  private readonly dedupeWindow: number;
  /** Submissions waiting for the leader to take requests again, or for a re-validation. */
  private readonly intake: Waiting[] = [];
  private revalidating: { id: number; waiting: Waiting } | undefined;
  /** Leader changes seen: a forward belongs to the leadership it was sent in. */
  private leaderships = 0;
  /**
   * Follower: the term of a new leader whose first entry is not applied here yet. Until it is,
   * what was kept is not forwarded again: an entry of the old leader may still be committed by
   * the new one, and a Go leader keeps no record to drop a copy by. Once an entry of the new
   * term is applied, every older entry that will ever commit has been applied too (Raft commits a
   * new leader's entries only after its predecessors').
   */
  private reforwardAtTerm: number | undefined;
  /** The highest term of an entry applied here (or of an installed snapshot). */
  private appliedTerm = 0;
  private nextRevalidationId = 1;
  private readonly snapshotIntervalSize: number;
  private bytesSinceSnapshot: number;

  constructor(
    options: RaftChainCoreOptions,
    private readonly deps: RaftChainCoreDependencies,
  ) {
    this.raftId = options.raftId;
    this.lastBlock = options.lastBlock;
    this.appliedIndex = options.appliedIndex;
    this.dedupeWindow = options.dedupeWindow ?? 100_000;
    this.snapshotIntervalSize = options.snapshotIntervalSize;
    this.metadata = options.blockMetadata;
    this.consenters = options.consenters;
    this.bytesSinceSnapshot = options.bytesSinceSnapshot ?? 0;
    this.idleCutAfterMs = options.idleCutAfterMs ?? 0;
  }

  get leader(): number {
    return this.lead;
  }

  get isLeader(): boolean {
    return this.lead === this.raftId;
  }

  /** True while this node takes envelopes into blocks: leader, log applied, nothing blocking. */
  get acceptingAsLeader(): boolean {
    return this.isLeader && !this.justElected && !this.abdicating;
  }

  /** The etcdraft BlockMetadata as of the last applied block (IDs, next ID). */
  get blockMetadata(): RaftBlockMetadata {
    return this.metadata;
  }

  get currentConsenters(): readonly EtcdraftConsenter[] {
    return this.consenters;
  }

  get lastBlockNumber(): number {
    return Number(this.lastBlock.header!.number);
  }

  get applied(): number {
    return this.appliedIndex;
  }

  get inflightBlocks(): number {
    return this.blockInflight;
  }

  get isTimerArmed(): boolean {
    return this.timerArmed;
  }

  get isIdleTimerArmed(): boolean {
    return this.idleArmed;
  }

  /** Envelopes submitted here (or forwarded to us) not yet in an applied block. */
  get unacknowledgedCount(): number {
    let count = 0;
    for (const tickets of this.unacknowledged.values()) count += tickets.length;
    return count;
  }

  /**
   * An envelope to order: from Broadcast on this node (ticket set) or forwarded by a follower
   * (ticket undefined). Without a leader it is refused at once (Fabric: SERVICE_UNAVAILABLE); a
   * copy of an envelope already committed is acknowledged at once.
   */
  submit(submission: Submission, ctx: RaftChainContext): RaftChainEffect[] {
    const hash = envelopeHash(submission.env.raw);
    if (this.committed.has(hash)) {
      return submission.ticket === undefined ? [] : [{ type: 'acknowledge', tickets: [submission.ticket] }];
    }
    if (this.lead === 0 || isCandidate(this.raftState)) {
      if (submission.ticket === undefined) return [];
      return [
        {
          type: 'refuse',
          tickets: [submission.ticket],
          status: 'unavailable',
          reason: this.noLeaderReason(),
        },
      ];
    }
    if (submission.ticket !== undefined) {
      const tickets = this.unacknowledged.get(hash) ?? [];
      tickets.push(submission.ticket);
      this.unacknowledged.set(hash, tickets);
    }
    const waiting: Waiting = { hash, submission, since: ctx.now, lastSent: ctx.now };
    if (!this.isLeader) {
      if (submission.ticket === undefined) return []; // a follower never forwards a forwarded message
      this.kept.set(hash, waiting);
      return [this.forwardOf(waiting, this.lead)];
    }
    this.kept.set(hash, waiting);
    this.intake.push(waiting);
    return this.drainIntake(ctx);
  }

  /** Raft's soft state changed (SoftState.Lead and RaftState of a Ready); term: this node's term. */
  leaderChanged(lead: number, raftState: StateType, term: number, ctx: RaftChainContext): RaftChainEffect[] {
    const effects: RaftChainEffect[] = [];
    const previous = this.lead;
    this.raftState = raftState;
    if (lead === previous) return effects;
    this.lead = lead;
    this.leaderships++;
    this.reforwardAtTerm = undefined;
    this.abdicating = false;
    this.abdication = undefined;
    effects.push({ type: 'log', level: 'info', message: `Raft leader changed: ${previous} -> ${lead}` });
    if (previous === this.raftId) effects.push(...this.becomeFollower());
    if (lead === this.raftId) {
      this.blockInflight = 0;
      this.justElected = true;
      effects.push(...this.finishElection(ctx));
    } else if (lead !== 0 && this.hasKeptToForward()) {
      // Everything not yet in an applied block goes to the new leader once its first entry is
      // applied here (see reforwardAtTerm); then what the old leader got committed is settled.
      this.reforwardAtTerm = term;
      effects.push({
        type: 'log',
        level: 'debug',
        message: `Forwarding ${this.kept.size} kept envelopes to leader ${lead} once an entry of term ${term} is applied`,
      });
      effects.push(...this.reforwardOnceTermApplied(this.appliedTerm, ctx));
    }
    return effects;
  }

  /** Entries Raft committed, in order. */
  committedEntries(entries: readonly Entry[], ctx: RaftChainContext): RaftChainEffect[] {
    const effects: RaftChainEffect[] = [];
    const acknowledged: number[] = [];
    let lastBlockEntry: Entry | undefined;
    let lastTerm = 0;
    for (const entry of entries) {
      lastTerm = Math.max(lastTerm, entry.term);
      if (entry.type === EntryType.ConfChange || entry.type === EntryType.ConfChangeV2) {
        effects.push(...this.confChangeApplied(entry));
      } else if (entry.data.length > 0 && entry.index > this.appliedIndex) {
        effects.push(...this.applyBlock(entry, acknowledged));
        // Its acknowledgements free clients to send more: the quiet is counted from here.
        this.lastActivityAt = ctx.now;
        // Fabric's accDataSize: every block entry counts, also one this node had caught up on.
        this.bytesSinceSnapshot += entry.data.length;
        lastBlockEntry = entry;
      }
      if (entry.index > this.appliedIndex) this.appliedIndex = entry.index;
    }
    if (acknowledged.length) effects.push({ type: 'acknowledge', tickets: acknowledged });
    if (lastBlockEntry && this.bytesSinceSnapshot >= this.snapshotIntervalSize) {
      const blockNumber = Number(common.Block.decode(lastBlockEntry.data).header!.number);
      effects.push(
        {
          type: 'log',
          level: 'info',
          message:
            `Accumulated ${this.bytesSinceSnapshot} bytes since last snapshot, exceeding size limit ` +
            `(${this.snapshotIntervalSize} bytes), taking snapshot at block [${blockNumber}] (index: ${this.appliedIndex})`,
        },
        { type: 'take-snapshot', index: this.appliedIndex, data: lastBlockEntry.data, blockNumber },
      );
      this.bytesSinceSnapshot = 0;
    }
    if (this.justElected) effects.push(...this.finishElection(ctx));
    else effects.push(...this.drainIntake(ctx));
    effects.push(...this.reforwardOnceTermApplied(lastTerm, ctx));
    return effects;
  }

  /**
   * A block this node pulled from another orderer while catching up to a Raft snapshot (already
   * written by the driver): its envelopes count as ordered, as if applied from the log, and a
   * config block's consenter set becomes the current one.
   */
  blockPulled(block: common.IBlock): RaftChainEffect[] {
    const number = Number(block.header!.number);
    if (number !== this.lastBlockNumber + 1) return [];
    this.lastBlock = block;
    const acknowledged = this.settleEnvelopesOf(block);
    const effects: RaftChainEffect[] = acknowledged.length
      ? [{ type: 'acknowledge', tickets: acknowledged }]
      : [];
    // Fabric's catchUp: a pulled config block may change the consenter set; the snapshot's
    // membership already holds its ConfChange, so only the IDs and the connections follow.
    const next = headerTypeOfBlock(block) === HeaderType.CONFIG ? consentersOfConfigBlock(block) : undefined;
    if (next) {
      const change = computeMembershipChange(this.metadata, this.consenters, next);
      this.metadata = change.metadata;
      this.consenters = change.consenters;
      if (change.added.length > 0 || change.removed.length > 0)
        effects.push({
          type: 'membership-changed',
          metadata: this.metadata,
          consenters: this.consenters,
          removedSelf: change.removed.includes(this.raftId),
        });
    }
    return effects;
  }

  /**
   * A Raft snapshot was installed (Fabric's catchUp done): the log up to its index is applied,
   * the ledger holds its block, and the next snapshot is counted from here.
   */
  snapshotInstalled(index: number, term: number, ctx: RaftChainContext): RaftChainEffect[] {
    if (index > this.appliedIndex) this.appliedIndex = index;
    this.bytesSinceSnapshot = 0;
    if (this.justElected) return this.finishElection(ctx);
    return [...this.drainIntake(ctx), ...this.reforwardOnceTermApplied(term, ctx)];
  }

  /**
   * Called periodically by the driver. A follower forwards what has not reached an applied block
   * for resendAfterMs to the current leader if it never went to that leader (a leader change
   * forwards everything kept at once; this catches what that missed), never again to the same
   * leader: a copy would be ordered twice by a leader that does not drop copies. A submission waiting giveUpAfterMs in all is refused as unavailable, so no
   * Broadcast waits without end; it may still be ordered later, but it was never acknowledged.
   */
  resendUnanswered(policy: ResendPolicy, ctx: RaftChainContext): RaftChainEffect[] {
    const effects: RaftChainEffect[] = [];
    if (this.abdicating && this.isLeader) {
      // The transfer did not happen (the transferee was unreachable, or none was active): try
      // again, up to Fabric's limit; then the config update is dropped, so that what waits
      // behind it is ordered ("Abdication failed too many times consecutively, aborting retries").
      this.abdicating = false;
      if (this.abdication && this.abdication.attempts >= ABDICATION_MAX_ATTEMPTS)
        effects.push(...this.abandonAbdication(this.abdication.hash));
      effects.push(...this.drainIntake(ctx));
    }
    const givenUp: number[] = [];
    for (const waiting of [...this.kept.values()]) {
      if (waiting.submission.ticket === undefined) continue;
      if (ctx.now - waiting.since >= policy.giveUpAfterMs) {
        if (this.ordered.has(waiting.hash)) continue; // in a block this leader proposed: wait for it
        this.kept.delete(waiting.hash);
        givenUp.push(...this.takeTickets(waiting.hash));
        continue;
      }
      const followerOfLeader =
        this.lead !== 0 &&
        !this.isLeader &&
        !isCandidate(this.raftState) &&
        this.reforwardAtTerm === undefined;
      // Never again in the leadership it was sent in: Fabric's Go leader keeps no record of what
      // it ordered, so a copy sent to it while its block is on the way is ordered twice (seen with
      // a node that had just joined a Go cluster and was still applying the leader's log).
      const notYetInThisLeadership = waiting.sentIn !== this.leaderships;
      if (followerOfLeader && notYetInThisLeadership && ctx.now - waiting.lastSent >= policy.resendAfterMs) {
        waiting.lastSent = ctx.now;
        effects.push(this.forwardOf(waiting, this.lead));
      }
    }
    if (givenUp.length) {
      effects.push({
        type: 'refuse',
        tickets: givenUp,
        status: 'unavailable',
        reason: `not ordered within ${policy.giveUpAfterMs} ms (leader ${this.lead || 'unknown'}); it was not acknowledged: retry, or check the leader's log for why it refused the message`,
      });
    }
    return effects;
  }

  /** The batch timer fired. A stale generation (cancelled or re-armed since) does nothing. */
  timerFired(generation: number, ctx: RaftChainContext): RaftChainEffect[] {
    if (generation !== this.timerGeneration || !this.timerArmed) return [];
    this.timerArmed = false;
    if (!this.acceptingAsLeader) return [];
    const batch = this.cutPending();
    if (batch.length === 0) return [];
    return [...this.proposeBatches([batch]), ...this.drainIntake(ctx)];
  }

  /**
   * The idle timer fired (see idleCutAfterMs). The pending batch is cut if still no block is in
   * flight and the quiet has lasted; after newer activity the timer is armed for the rest.
   */
  idleTimerFired(generation: number, ctx: RaftChainContext): RaftChainEffect[] {
    if (generation !== this.idleGeneration || !this.idleArmed) return [];
    this.idleArmed = false;
    if (!this.idleCutMayWait()) return [];
    const quietFor = ctx.now - this.lastActivityAt;
    if (quietFor < this.idleCutAfterMs) return this.armIdleTimer(this.idleCutAfterMs - quietFor);
    const batch = this.cutPending();
    return [
      {
        type: 'log',
        level: 'debug',
        message: `Cutting a batch of ${batch.length} before BatchTimeout: no block in flight and no envelope for ${quietFor} ms`,
      },
      ...this.stopTimer(),
      ...this.proposeBatches([batch]),
      ...this.drainIntake(ctx),
    ];
  }

  /** Outcome of a revalidate effect: the envelope to order (config re-wrapped) or why not. */
  revalidated(
    id: number,
    outcome: { ok: true; env: ReceivedEnvelope } | { ok: false; reason: string },
    ctx: RaftChainContext,
  ): RaftChainEffect[] {
    const current = this.revalidating;
    if (!current || current.id !== id) return [];
    this.revalidating = undefined;
    const effects: RaftChainEffect[] = [];
    if (!outcome.ok) {
      this.forget(current.waiting.hash);
      const tickets = this.takeTickets(current.waiting.hash);
      if (tickets.length)
        effects.push({ type: 'refuse', tickets, status: 'bad-request', reason: outcome.reason });
      effects.push({
        type: 'log',
        level: 'warn',
        message: `dropped a re-validated message: ${outcome.reason}`,
      });
    } else if (this.acceptingAsLeader) {
      effects.push(
        ...this.order(current.waiting.hash, outcome.env, current.waiting.submission.isConfig, ctx),
      );
    }
    return [...effects, ...this.drainIntake(ctx)];
  }

  /** Forwards what was kept to the leader once an entry of its term (or a later one) is applied. */
  private reforwardOnceTermApplied(appliedTerm: number, ctx: RaftChainContext): RaftChainEffect[] {
    if (appliedTerm > this.appliedTerm) this.appliedTerm = appliedTerm;
    if (this.reforwardAtTerm === undefined || this.appliedTerm < this.reforwardAtTerm) return [];
    this.reforwardAtTerm = undefined;
    if (this.lead === 0 || this.isLeader || isCandidate(this.raftState)) return [];
    const effects: RaftChainEffect[] = [];
    for (const waiting of this.kept.values()) {
      if (waiting.submission.ticket === undefined || waiting.sentIn === this.leaderships) continue;
      waiting.lastSent = ctx.now;
      effects.push(this.forwardOf(waiting, this.lead));
    }
    return effects;
  }

  private hasKeptToForward(): boolean {
    for (const waiting of this.kept.values()) if (waiting.submission.ticket !== undefined) return true;
    return false;
  }

  private forwardOf(waiting: Waiting, to: number): RaftChainEffect {
    waiting.sentIn = this.leaderships;
    return {
      type: 'forward',
      to,
      env: waiting.submission.env,
      configSeq: waiting.submission.configSeq,
      tickets: [...(this.unacknowledged.get(waiting.hash) ?? [])],
    };
  }

  private noLeaderReason(): string {
    return isCandidate(this.raftState)
      ? 'no Raft leader: an election is in progress; retry in a few election timeouts'
      : 'no Raft leader: this node has not heard from a leader; check that a majority of the consenters is running and reachable, then retry';
  }

  /** Fabric's becomeFollower: purge the cutter, stop the timer, stop creating blocks. */
  private becomeFollower(): RaftChainEffect[] {
    this.cutPending();
    this.idleArmed = false;
    this.idleGeneration++;
    this.ordered.clear();
    this.blockInflight = 0;
    this.configInflight = false;
    this.creator = undefined;
    this.justElected = false;
    this.revalidating = undefined;
    this.intake.length = 0;
    const effects: RaftChainEffect[] = [];
    if (this.timerArmed) {
      this.timerArmed = false;
      this.timerGeneration++;
      effects.push({ type: 'cancel-timer' });
    }
    return effects;
  }

  /**
   * A new leader takes requests only once it has applied every entry in its log (earlier terms'
   * blocks must be written first, or its blocks would fork them); then it orders what it kept.
   */
  private finishElection(ctx: RaftChainContext): RaftChainEffect[] {
    if (!this.justElected) return [];
    if (ctx.raftLastIndex > this.appliedIndex) return [];
    this.justElected = false;
    this.creator = this.deps.newBlockCreator(this.lastBlock);
    this.intake.length = 0;
    for (const waiting of this.kept.values()) this.intake.push(waiting);
    const effects: RaftChainEffect[] = [
      {
        type: 'log',
        level: 'info',
        message: `Start accepting requests as Raft leader at block [${this.lastBlockNumber}]`,
      },
    ];
    // Fabric's getInFlightConfChange: a ConfChange a config block asked for but the previous
    // leader did not get committed is proposed again, and nothing is ordered until it is applied.
    const unfinished =
      this.confChangeInProgress ??
      (this.lastBlockIsConfig() ? unfinishedConfChange(ctx.voters, this.metadata) : undefined);
    if (unfinished) {
      this.confChangeInProgress = unfinished;
      this.configInflight = true;
      effects.push(
        {
          type: 'log',
          level: 'info',
          message: `Proposing the unfinished Raft configuration change: ${describeConfChange(unfinished)}`,
        },
        { type: 'propose-conf-change', change: unfinished },
      );
    }
    return [...effects, ...this.drainIntake(ctx)];
  }

  /** Orders waiting submissions while the leader may (not paused by a config or in-flight limit). */
  private drainIntake(ctx: RaftChainContext): RaftChainEffect[] {
    const effects: RaftChainEffect[] = [];
    while (
      this.intake.length > 0 &&
      this.acceptingAsLeader &&
      !this.revalidating &&
      !this.configInflight &&
      this.blockInflight < ctx.maxInflightBlocks
    ) {
      const waiting = this.intake.shift()!;
      if (this.ordered.has(waiting.hash) || this.committed.has(waiting.hash)) continue;
      const { submission } = waiting;
      if (submission.configSeq < ctx.sequence) {
        const id = this.nextRevalidationId++;
        this.revalidating = { id, waiting };
        effects.push({ type: 'revalidate', id, isConfig: submission.isConfig, env: submission.env });
        break;
      }
      effects.push(...this.order(waiting.hash, submission.env, submission.isConfig, ctx));
    }
    if (!this.idleArmed && this.idleCutMayWait()) effects.push(...this.armIdleTimer(this.idleCutAfterMs));
    return effects;
  }

  /** Whether an early cut of the pending batch is worth waiting for: on, leading, nothing in flight. */
  private idleCutMayWait(): boolean {
    return (
      this.idleCutAfterMs > 0 &&
      this.cutterPending &&
      this.blockInflight === 0 &&
      this.acceptingAsLeader &&
      !this.revalidating &&
      !this.configInflight
    );
  }

  private armIdleTimer(timeoutMs: number): RaftChainEffect[] {
    this.idleArmed = true;
    this.idleGeneration++;
    return [{ type: 'arm-idle-timer', generation: this.idleGeneration, timeoutMs }];
  }

  private cutPending(): ReceivedEnvelope[] {
    this.cutterPending = false;
    return this.deps.blockCutter.cut();
  }

  /** Fabric's ordered + propose: a config message is cut alone (after what was pending). */
  private order(
    hash: string,
    env: ReceivedEnvelope,
    isConfig: boolean,
    ctx: RaftChainContext,
  ): RaftChainEffect[] {
    if (isConfig && env.channelHeader.type === HeaderType.CONFIG && this.changesOwnIdentity(env)) {
      // Fabric's checkForEvictionNCertRotation: this node must not order its own removal or
      // rotation; another node leads and orders it (the envelope is kept and goes to it). As
      // Fabric's abdicateLeadership, the transferee is a follower that was recently active: one
      // that is down would never take over, and the leader would try it again and again.
      if (ctx.voters.some((id) => id !== this.raftId)) {
        this.abdicating = true;
        const attempts = this.abdication?.hash === hash ? this.abdication.attempts + 1 : 1;
        this.abdication = { hash, attempts };
        this.intake.unshift(
          this.kept.get(hash) ?? {
            hash,
            submission: { ticket: undefined, env, configSeq: ctx.sequence, isConfig },
            since: ctx.now,
            lastSent: ctx.now,
          },
        );
        const to = ctx.voters.find((id) => id !== this.raftId && ctx.activeNodes.includes(id));
        if (to === undefined)
          return [
            {
              type: 'log',
              level: 'warn',
              message: `A config update removes or rotates the certificate of this leader (node ${this.raftId}), but no other consenter was recently active to take leadership over (attempt ${attempts} of ${ABDICATION_MAX_ATTEMPTS})`,
            },
          ];
        return [
          {
            type: 'log',
            level: 'info',
            message: `A config update removes or rotates the certificate of this leader (node ${this.raftId}); transferring leadership to node ${to} first`,
          },
          { type: 'transfer-leadership', to },
        ];
      }
    }
    this.ordered.add(hash);
    const effects: RaftChainEffect[] = [];
    if (isConfig) {
      const pending = this.cutPending();
      const batches = pending.length ? [pending, [env]] : [[env]];
      effects.push(...this.stopTimer(), ...this.proposeBatches(batches));
      return effects;
    }
    const { batches, pending } = this.deps.blockCutter.ordered(env);
    this.cutterPending = pending;
    this.lastActivityAt = ctx.now;
    effects.push(...this.proposeBatches(batches));
    if (!pending) effects.push(...this.stopTimer());
    else if (!this.timerArmed) {
      this.timerArmed = true;
      this.timerGeneration++;
      effects.push({ type: 'arm-timer', generation: this.timerGeneration, timeoutMs: ctx.batchTimeoutMs });
    }
    return effects;
  }

  private stopTimer(): RaftChainEffect[] {
    if (!this.timerArmed) return [];
    this.timerArmed = false;
    this.timerGeneration++;
    return [{ type: 'cancel-timer' }];
  }

  private proposeBatches(batches: ReceivedEnvelope[][]): RaftChainEffect[] {
    const effects: RaftChainEffect[] = [];
    for (const batch of batches) {
      const block = this.creator!.createNextBlock(batch);
      const isConfig = batch.length === 1 && isConfigEnvelope(batch[0]!);
      if (isConfig) this.configInflight = true;
      this.blockInflight++;
      effects.push({ type: 'propose-block', block, isConfig });
    }
    return effects;
  }

  /** Fabric's writeBlock: the next block is written; an older one (caught up by other means) is skipped. */
  private applyBlock(entry: Entry, acknowledged: number[]): RaftChainEffect[] {
    const block = common.Block.decode(entry.data);
    const number = Number(block.header!.number);
    const expected = this.lastBlockNumber + 1;
    if (number < expected) {
      return [
        {
          type: 'log',
          level: 'info',
          message: `Got block [${number}], expect block [${expected}], this node was forced to catch up`,
        },
      ];
    }
    if (number > expected) {
      throw new Error(
        `Raft entry ${entry.index} holds block [${number}] but the next block is [${expected}]`,
      );
    }
    if (this.blockInflight > 0) this.blockInflight--;
    this.lastBlock = block;
    const type = headerTypeOfBlock(block);
    const isConfig = type === HeaderType.CONFIG || type === HeaderType.ORDERER_TRANSACTION;
    if (isConfig) this.configInflight = false;
    const after: RaftChainEffect[] = [];
    if (type === HeaderType.CONFIG) after.push(...this.configBlockApplied(block, number));
    acknowledged.push(...this.settleEnvelopesOf(block));
    this.metadata = { ...this.metadata, raftIndex: entry.index };
    return [
      { type: 'write-block', block, raftIndex: entry.index, isConfig, metadata: this.metadata },
      ...after,
    ];
  }

  /**
   * Fabric's writeConfigBlock/detectConfChange: the config block's consenters against the
   * current ones. The block is written with the new IDs; an added or removed node becomes a
   * Raft ConfChange, and intake stays paused until Raft applied it; a rotation only reconnects.
   */
  private configBlockApplied(block: common.Block, number: number): RaftChainEffect[] {
    const next = consentersOfConfigBlock(block);
    if (!next) return [];
    const change = computeMembershipChange(this.metadata, this.consenters, next);
    this.metadata = change.metadata;
    this.consenters = change.consenters;
    if (change.confChange) {
      this.confChangeInProgress = change.confChange;
      this.configInflight = true;
      return [
        {
          type: 'log',
          level: 'info',
          message: `Config block [${number}] ${describeConfChange(change.confChange)}, pause accepting transactions till config change is applied`,
        },
        { type: 'propose-conf-change', change: change.confChange },
      ];
    }
    if (change.rotated === undefined) return [];
    return [
      {
        type: 'log',
        level: 'info',
        message: `Config block [${number}] rotates TLS certificate of node ${change.rotated}`,
      },
      {
        type: 'membership-changed',
        metadata: this.metadata,
        consenters: this.consenters,
        removedSelf: false,
      },
    ];
  }

  /** A committed ConfChange entry (Raft has applied it already): finish the change it belongs to. */
  private confChangeApplied(entry: Entry): RaftChainEffect[] {
    if (entry.type !== EntryType.ConfChange) return [];
    const cc = decodeConfChange(entry.data);
    const pending = this.confChangeInProgress;
    if (!pending || pending.nodeId !== cc.nodeId || pending.type !== cc.type) return [];
    this.confChangeInProgress = undefined;
    this.configInflight = false;
    return [
      {
        type: 'log',
        level: 'info',
        message: `Applied config change to ${describeConfChange(pending)}, consenters now [${this.metadata.consenterIds.join(', ')}]`,
      },
      {
        type: 'membership-changed',
        metadata: this.metadata,
        consenters: this.consenters,
        removedSelf: cc.type === ConfChangeType.RemoveNode && cc.nodeId === this.raftId,
      },
    ];
  }

  /**
   * The leader could not hand leadership over for a config update that removes or rotates it:
   * the update is not ordered (its submitters are told so) and leaves the intake.
   */
  private abandonAbdication(hash: string): RaftChainEffect[] {
    this.abdication = undefined;
    const at = this.intake.findIndex((waiting) => waiting.hash === hash);
    if (at >= 0) this.intake.splice(at, 1);
    this.forget(hash);
    const tickets = this.takeTickets(hash);
    const effects: RaftChainEffect[] = [
      {
        type: 'log',
        level: 'warn',
        message: `Handing leadership over failed ${ABDICATION_MAX_ATTEMPTS} times in a row; the config update that removes or rotates this leader (node ${this.raftId}) is not ordered`,
      },
    ];
    if (tickets.length)
      effects.push({
        type: 'refuse',
        tickets,
        status: 'unavailable',
        reason: `this config update removes or rotates the certificate of the leader (node ${this.raftId}), which could not hand leadership to another consenter in ${ABDICATION_MAX_ATTEMPTS} attempts: it was not ordered; retry once the other consenters are reachable`,
      });
    return effects;
  }

  /** Whether a config envelope's consenter set no longer holds this node's client certificate. */
  private changesOwnIdentity(env: ReceivedEnvelope): boolean {
    const own = this.consenters[this.metadata.consenterIds.indexOf(this.raftId)];
    if (!own) return false;
    const next = consentersOfConfigEnvelope(env.data);
    if (!next) return false;
    return !next.some((consenter) => consenter.clientTlsCert.equals(own.clientTlsCert));
  }

  private lastBlockIsConfig(): boolean {
    return (
      Number(this.lastBlock.header!.number) > 0 && headerTypeOfBlock(this.lastBlock) === HeaderType.CONFIG
    );
  }

  /** The envelopes of an applied (or pulled) block are ordered: remember them, drop what was kept, take their tickets. */
  private settleEnvelopesOf(block: common.IBlock): number[] {
    const tickets: number[] = [];
    for (const data of block.data?.data ?? []) {
      const hash = envelopeHash(data);
      this.remember(hash);
      this.ordered.delete(hash);
      this.forget(hash);
      tickets.push(...this.takeTickets(hash));
    }
    return tickets;
  }

  private remember(hash: string): void {
    this.committed.add(hash);
    if (this.committed.size > this.dedupeWindow) {
      const oldest = this.committed.values().next();
      if (!oldest.done) this.committed.delete(oldest.value);
    }
  }

  private forget(hash: string): void {
    this.kept.delete(hash);
  }

  private takeTickets(hash: string): number[] {
    const tickets = this.unacknowledged.get(hash) ?? [];
    this.unacknowledged.delete(hash);
    return tickets;
  }
}

function describeConfChange(change: RaftConfChange): string {
  return change.type === ConfChangeType.AddNode
    ? `adds node ${change.nodeId}`
    : `removes node ${change.nodeId}`;
}

function isConfigEnvelope(env: ReceivedEnvelope): boolean {
  const type = env.channelHeader.type;
  return type === HeaderType.CONFIG || type === HeaderType.ORDERER_TRANSACTION;
}
