// etcd raft v3.5.9 raft.go, ported line by line: the Raft state machine. No I/O and no clock:
// time is tick(), randomness comes from Config.random, output accumulates in msgs.
// Where Go panics, this throws RaftInvariantError (errors.ts).
import { Changer } from './confchange/confchange.js';
import { restore as restoreConfState } from './confchange/restore.js';
import { goFormatConfChange } from './describe.js';
import { NO_LIMIT } from './entry-size.js';
import {
  ErrProposalDropped,
  ErrSnapshotTemporarilyUnavailable,
  RaftError,
  RaftInvariantError,
  invariant,
  isRaftError,
} from './errors.js';
import { RaftLog } from './log.js';
import type { RaftLogger } from './logger.js';
import { silentRaftLogger } from './logger.js';
import { VoteResult } from './quorum/quorum.js';
import { ReadOnly, ReadOnlyOption, contextKey } from './read-only.js';
import type { ReadState } from './read-only.js';
import type { Storage } from './storage.js';
import { Inflights } from './tracker/inflights.js';
import { Progress } from './tracker/progress.js';
import type { ProgressMap } from './tracker/progress.js';
import { StateType as ProgressStateType } from './tracker/state.js';
import { ProgressTracker } from './tracker/tracker.js';
import type { TrackerConfig } from './tracker/tracker.js';
import type { ConfChangeV2, ConfState, Entry, HardState, Message, Snapshot } from './types.js';
import { decodeConfChange, decodeConfChangeV2 } from './wire.js';
import {
  ConfChangeTransition,
  EntryType,
  MessageType,
  NONE,
  emptySnapshot,
  isEmptyHardState,
  isEmptySnap,
  newEntry,
  newMessage,
} from './types.js';

export enum StateType {
  StateFollower = 0,
  StateCandidate = 1,
  StateLeader = 2,
  StatePreCandidate = 3,
}

export const stateTypeName = (st: StateType): string => StateType[st] ?? `StateType(${st})`;

export enum CampaignType {
  // The first phase of an election when Config.preVote is true.
  CampaignPreElection = 'CampaignPreElection',
  // A normal (time-based) election (the second phase when preVote is true).
  CampaignElection = 'CampaignElection',
  // A leader transfer; sent as the vote context so voters ignore their leader lease.
  CampaignTransfer = 'CampaignTransfer',
}

const CAMPAIGN_TRANSFER_CONTEXT = contextKey(new TextEncoder().encode(CampaignType.CampaignTransfer));

// The source of randomness for the election timeout: returns an integer in [0, n).
// Injected so that simulated runs are reproducible from a seed.
export type RandomIntn = (n: number) => number;

// A small deterministic PRNG (mulberry32) for RandomIntn, seeded by the caller.
export function seededRandom(seed: number): RandomIntn {
  let state = seed >>> 0;
  return (n: number) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return Math.floor(u * n);
  };
}

export interface Config {
  // The identity of the local raft; must not be 0.
  id: number;
  // The number of ticks that must pass between elections.
  electionTick: number;
  // The number of ticks that must pass between heartbeats.
  heartbeatTick: number;
  storage: Storage;
  // The last applied index; only set when restarting raft.
  applied?: number;
  // Limits the byte size of each append message; 0 means at most one entry per message.
  maxSizePerMsg?: number;
  // Limits the size of the committed entries in one Ready; 0 means maxSizePerMsg.
  maxCommittedSizePerReady?: number;
  // Limits the aggregate byte size of uncommitted entries at the leader; 0 means no limit.
  maxUncommittedEntriesSize?: number;
  // Limits the number of in-flight append messages during optimistic replication.
  maxInflightMsgs: number;
  checkQuorum?: boolean;
  preVote?: boolean;
  readOnlyOption?: ReadOnlyOption;
  logger?: RaftLogger;
  disableProposalForwarding?: boolean;
  // Randomness for the election timeout; required so that runs are reproducible.
  random: RandomIntn;
}

type ValidConfig = Required<Config>;

const configError = (message: string): RaftError => new RaftError('config', message);

// etcd's Config.validate: checks the config and fills in the defaults.
export function validateConfig(c: Config): ValidConfig {
  if (c.id === NONE) throw configError('cannot use none as id');
  if (c.heartbeatTick <= 0) throw configError('heartbeat tick must be greater than 0');
  if (c.electionTick <= c.heartbeatTick)
    throw configError('election tick must be greater than heartbeat tick');
  if (c.storage === undefined || c.storage === null) throw configError('storage cannot be nil');
  const maxSizePerMsg = c.maxSizePerMsg ?? 0;
  const maxUncommittedEntriesSize =
    c.maxUncommittedEntriesSize === undefined || c.maxUncommittedEntriesSize === 0
      ? NO_LIMIT
      : c.maxUncommittedEntriesSize;
  const maxCommittedSizePerReady =
    c.maxCommittedSizePerReady === undefined || c.maxCommittedSizePerReady === 0
      ? maxSizePerMsg
      : c.maxCommittedSizePerReady;
  if (c.maxInflightMsgs <= 0) throw configError('max inflight messages must be greater than 0');
  const readOnlyOption = c.readOnlyOption ?? ReadOnlyOption.ReadOnlySafe;
  const checkQuorum = c.checkQuorum ?? false;
  if (readOnlyOption === ReadOnlyOption.ReadOnlyLeaseBased && !checkQuorum) {
    throw configError('CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased');
  }
  return {
    ...c,
    applied: c.applied ?? 0,
    maxSizePerMsg,
    maxCommittedSizePerReady,
    maxUncommittedEntriesSize,
    checkQuorum,
    preVote: c.preVote ?? false,
    readOnlyOption,
    logger: c.logger ?? silentRaftLogger,
    disableProposalForwarding: c.disableProposalForwarding ?? false,
  };
}

export interface SoftState {
  lead: number;
  raftState: StateType;
}

export const softStateEqual = (a: SoftState, b: SoftState): boolean =>
  a.lead === b.lead && a.raftState === b.raftState;

const hex = (id: number): string => id.toString(16);

export const isLocalMsg = (t: MessageType): boolean =>
  t === MessageType.MsgHup ||
  t === MessageType.MsgBeat ||
  t === MessageType.MsgUnreachable ||
  t === MessageType.MsgSnapStatus ||
  t === MessageType.MsgCheckQuorum;

export const isResponseMsg = (t: MessageType): boolean =>
  t === MessageType.MsgAppResp ||
  t === MessageType.MsgVoteResp ||
  t === MessageType.MsgHeartbeatResp ||
  t === MessageType.MsgUnreachable ||
  t === MessageType.MsgPreVoteResp;

export function voteRespMsgType(t: MessageType): MessageType {
  if (t === MessageType.MsgVote) return MessageType.MsgVoteResp;
  if (t === MessageType.MsgPreVote) return MessageType.MsgPreVoteResp;
  throw invariant(`not a vote message: ${MessageType[t]}`);
}

export const payloadSize = (e: Entry): number => e.data.length;

// The number of ConfChangeSingle entries (field 2) in an encoded raftpb.ConfChangeV2; all that
// stepLeader needs to know of a proposed V2 change (an empty one asks to leave a joint config).
export function countConfChangeV2Changes(data: Uint8Array): number {
  let pos = 0;
  let count = 0;
  const readVarint = (): number => {
    let result = 0;
    let shift = 1;
    for (;;) {
      if (pos >= data.length) throw invariant('truncated ConfChangeV2 varint');
      const b = data[pos++] as number;
      result += (b & 0x7f) * shift;
      if ((b & 0x80) === 0) return result;
      shift *= 128;
    }
  };
  while (pos < data.length) {
    const key = readVarint();
    const wireType = key & 7;
    const field = Math.floor(key / 8);
    if (wireType === 0) readVarint();
    else if (wireType === 2) {
      const len = readVarint();
      pos += len;
      if (field === 2) count++;
    } else throw invariant(`unexpected wire type ${wireType} in ConfChangeV2`);
  }
  return count;
}

// etcd's ConfChangeV2.EnterJoint: whether the change enters a joint config, and with autoLeave.
export function confChangeEnterJoint(cc: ConfChangeV2): { autoLeave: boolean } | undefined {
  if (cc.transition !== ConfChangeTransition.Auto || cc.changes.length > 1) {
    let autoLeave: boolean;
    switch (cc.transition) {
      case ConfChangeTransition.Auto:
      case ConfChangeTransition.JointImplicit:
        autoLeave = true;
        break;
      case ConfChangeTransition.JointExplicit:
        autoLeave = false;
        break;
      default:
        throw invariant(`unknown transition: ${String(cc.transition)}`);
    }
    return { autoLeave };
  }
  return undefined;
}

// etcd's ConfChangeV2.LeaveJoint: an empty ConfChangeV2 (context aside) leaves a joint config.
export const confChangeLeaveJoint = (cc: ConfChangeV2): boolean =>
  cc.transition === ConfChangeTransition.Auto && cc.changes.length === 0;

type StepFunc = (r: Raft, m: Message) => void;

export class Raft {
  id: number;
  term = 0;
  vote = 0;
  readStates: ReadState[] = [];
  readonly raftLog: RaftLog;
  readonly maxMsgSize: number;
  readonly maxUncommittedSize: number;
  prs: ProgressTracker;
  state: StateType = StateType.StateFollower;
  // isLearner is true if the local raft node is a learner.
  isLearner = false;
  msgs: Message[] = [];
  // the leader id
  lead = NONE;
  // the id of the leader transfer target when its value is not zero.
  leadTransferee = NONE;
  // Only one conf change may be pending (in the log, but not yet applied) at a time. This is
  // enforced via pendingConfIndex, set to >= the log index of the latest pending change.
  pendingConfIndex = 0;
  // An estimate of the size of the uncommitted tail of the Raft log (leader only).
  uncommittedSize = 0;
  readOnly: ReadOnly;
  // Ticks since the last election timeout (or, as leader, since it reached the timeout), or
  // since the last valid message from the current leader as follower.
  electionElapsed = 0;
  // Ticks since the last heartbeatTimeout (leader only).
  heartbeatElapsed = 0;
  checkQuorum: boolean;
  preVote: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  // A random number in [electiontimeout, 2 * electiontimeout - 1], reset on each role change.
  randomizedElectionTimeout = 0;
  readonly disableProposalForwarding: boolean;
  tick: () => void;
  private stepFn: StepFunc;
  readonly logger: RaftLogger;
  // Read-index requests received before the leader committed an entry in its term.
  pendingReadIndexMessages: Message[] = [];
  private readonly random: RandomIntn;

  constructor(config: Config) {
    const c = validateConfig(config);
    const raftlog = new RaftLog(c.storage, c.logger, c.maxCommittedSizePerReady);
    const { hardState: hs, confState: cs } = c.storage.initialState();
    this.id = c.id;
    this.raftLog = raftlog;
    this.maxMsgSize = c.maxSizePerMsg;
    this.maxUncommittedSize = c.maxUncommittedEntriesSize;
    this.prs = new ProgressTracker(c.maxInflightMsgs);
    this.electionTimeout = c.electionTick;
    this.heartbeatTimeout = c.heartbeatTick;
    this.logger = c.logger;
    this.checkQuorum = c.checkQuorum;
    this.preVote = c.preVote;
    this.readOnly = new ReadOnly(c.readOnlyOption);
    this.disableProposalForwarding = c.disableProposalForwarding;
    this.random = c.random;
    this.tick = () => this.tickElection();
    this.stepFn = stepFollower;

    const { config: cfg, progress: prs } = restoreConfState(new Changer(this.prs, raftlog.lastIndex()), cs);
    assertConfStatesEquivalent(cs, this.switchToConfig(cfg, prs));

    if (!isEmptyHardState(hs)) this.loadState(hs);
    if (c.applied > 0) raftlog.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);

    const nodesStrs = this.prs.voterNodes().map(hex);
    this.logger.info(
      `newRaft ${hex(this.id)} [peers: [${nodesStrs.join(',')}], term: ${this.term}, commit: ${this.raftLog.committed}, applied: ${this.raftLog.applied}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}]`,
    );
  }

  hasLeader(): boolean {
    return this.lead !== NONE;
  }

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  // Schedules a message for sending, stamping from and (except for local proposals and read
  // requests, and the vote messages which carry their own term) the current term.
  send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    if (
      m.type === MessageType.MsgVote ||
      m.type === MessageType.MsgVoteResp ||
      m.type === MessageType.MsgPreVote ||
      m.type === MessageType.MsgPreVoteResp
    ) {
      if (m.term === 0) {
        // All {pre-,}campaign messages need a term: the node's own for MsgVote, one above it
        // for MsgPreVote; the responses echo the request's term (or ours on rejection).
        throw invariant(`term should be set when sending ${MessageType[m.type]}`);
      }
    } else {
      if (m.term !== 0)
        throw invariant(`term should not be set when sending ${MessageType[m.type]} (was ${m.term})`);
      // Proposals are forwarded to the leader as local messages; MsgReadIndex is also
      // forwarded to the leader: neither carries a term.
      if (m.type !== MessageType.MsgProp && m.type !== MessageType.MsgReadIndex) m.term = this.term;
    }
    this.msgs.push(m);
  }

  // Sends an append RPC with new entries (if any) and the current commit index to the peer.
  sendAppend(to: number): void {
    this.maybeSendAppend(to, true);
  }

  // Sends an append RPC with new entries to the peer, if necessary. Returns whether a message
  // was sent. sendIfEmpty controls whether messages with no entries are sent ("empty" messages
  // convey updated commit indexes but are undesirable when batching).
  maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.prs.progress.get(to) as Progress;
    if (pr.isPaused()) return false;
    const m = newMessage({ type: MessageType.MsgApp, to });

    let term = 0;
    let ents: Entry[] = [];
    let errt: unknown;
    let erre: unknown;
    try {
      term = this.raftLog.term(pr.next - 1);
    } catch (err) {
      errt = err;
    }
    try {
      ents = this.raftLog.entries(pr.next, this.maxMsgSize);
    } catch (err) {
      erre = err;
    }
    if (ents.length === 0 && !sendIfEmpty) return false;

    if (errt !== undefined || erre !== undefined) {
      // send snapshot if we failed to get term or entries
      for (const err of [errt, erre]) {
        if (err !== undefined && !isRaftError(err, 'compacted') && !isRaftError(err, 'unavailable'))
          throw err;
      }
      if (!pr.recentActive) {
        this.logger.debug(`ignore sending snapshot to ${hex(to)} since it is not recently active`);
        return false;
      }
      m.type = MessageType.MsgSnap;
      let snapshot;
      try {
        snapshot = this.raftLog.snapshot();
      } catch (err) {
        if (
          err === ErrSnapshotTemporarilyUnavailable ||
          isRaftError(err, ErrSnapshotTemporarilyUnavailable.code)
        ) {
          this.logger.debug(
            `${hex(this.id)} failed to send snapshot to ${hex(to)} because snapshot is temporarily unavailable`,
          );
          return false;
        }
        throw err;
      }
      if (isEmptySnap(snapshot)) throw invariant('need non-empty snapshot');
      m.snapshot = snapshot;
      const sindex = snapshot.metadata.index;
      const sterm = snapshot.metadata.term;
      this.logger.debug(
        `${hex(this.id)} [firstindex: ${this.raftLog.firstIndex()}, commit: ${this.raftLog.committed}] sent snapshot[index: ${sindex}, term: ${sterm}] to ${hex(to)} [${pr.toString()}]`,
      );
      pr.becomeSnapshot(sindex);
      this.logger.debug(
        `${hex(this.id)} paused sending replication messages to ${hex(to)} [${pr.toString()}]`,
      );
    } else {
      m.type = MessageType.MsgApp;
      m.index = pr.next - 1;
      m.logTerm = term;
      m.entries = ents;
      m.commit = this.raftLog.committed;
      const n = m.entries.length;
      if (n !== 0) {
        switch (pr.state) {
          // optimistically increase the next when in StateReplicate
          case ProgressStateType.StateReplicate: {
            const last = (m.entries[n - 1] as Entry).index;
            pr.optimisticUpdate(last);
            pr.inflights.add(last);
            break;
          }
          case ProgressStateType.StateProbe:
            pr.probeSent = true;
            break;
          default:
            throw invariant(
              `${hex(this.id)} is sending append in unhandled state ${ProgressStateType[pr.state]}`,
            );
        }
      }
    }
    this.send(m);
    return true;
  }

  // Sends a heartbeat RPC to the given peer.
  sendHeartbeat(to: number, ctx: Uint8Array | undefined): void {
    // Attach the commit as min(to.matched, r.committed). When the leader sends out heartbeat
    // message, the receiver(follower) might not be matched with the leader or it might not
    // have all the committed entries. The leader MUST NOT forward the follower's commit to an
    // unmatched index.
    const commit = Math.min((this.prs.progress.get(to) as Progress).match, this.raftLog.committed);
    this.send(newMessage({ to, type: MessageType.MsgHeartbeat, commit, context: ctx }));
  }

  // Sends RPC, with entries to all peers that are not up-to-date according to the progress.
  bcastAppend(): void {
    this.prs.visit((id) => {
      if (id === this.id) return;
      this.sendAppend(id);
    });
  }

  // Sends RPC, without entries to all the peers.
  bcastHeartbeat(): void {
    const lastCtx = this.readOnly.lastPendingRequestCtx();
    if (lastCtx.length === 0) this.bcastHeartbeatWithCtx(undefined);
    else this.bcastHeartbeatWithCtx(Uint8Array.from(Buffer.from(lastCtx, 'latin1')));
  }

  bcastHeartbeatWithCtx(ctx: Uint8Array | undefined): void {
    this.prs.visit((id) => {
      if (id === this.id) return;
      this.sendHeartbeat(id, ctx);
    });
  }

  // Informs the raft that the application persisted and applied the given Ready's content.
  advance(rd: { committedEntries: Entry[]; entries: Entry[]; snapshot: Snapshot }): void {
    this.reduceUncommittedSize(rd.committedEntries);

    // If entries were applied (or a snapshot), update our cursor for the next Ready. Note
    // that if the current HardState contains a new Commit index, this does not mean that
    // we're also applying all of the new entries due to commit pagination by size.
    const newApplied = appliedCursor(rd);
    if (newApplied > 0) {
      const oldApplied = this.raftLog.applied;
      this.raftLog.appliedTo(newApplied);

      if (
        this.prs.config.autoLeave &&
        oldApplied <= this.pendingConfIndex &&
        newApplied >= this.pendingConfIndex &&
        this.state === StateType.StateLeader
      ) {
        // If the current (and most recent, at least for this leader's term) configuration
        // should be auto-left, initiate that now. We use a nil Data which unmarshals into an
        // empty ConfChangeV2 and has the benefit that appendEntry can never refuse it based
        // on its size (which registers as zero).
        const ent = newEntry({ type: EntryType.ConfChangeV2, data: new Uint8Array(0) });
        // There's no way in which this proposal should be able to be rejected.
        if (!this.appendEntry([ent])) throw invariant('refused un-refusable auto-leaving ConfChangeV2');
        this.pendingConfIndex = this.raftLog.lastIndex();
        this.logger.info(
          `initiating automatic transition out of joint configuration ${this.prs.config.toString()}`,
        );
      }
    }

    if (rd.entries.length > 0) {
      const e = rd.entries[rd.entries.length - 1] as Entry;
      this.raftLog.stableTo(e.index, e.term);
    }
    if (!isEmptySnap(rd.snapshot)) this.raftLog.stableSnapTo(rd.snapshot.metadata.index);
  }

  // Attempts to advance the commit index. Returns true if the commit index changed (in which
  // case the caller should call bcastAppend).
  maybeCommit(): boolean {
    const mci = this.prs.committed();
    return this.raftLog.maybeCommit(mci, this.term);
  }

  reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.prs.resetVotes();
    this.prs.visit((id, pr) => {
      const fresh = new Progress({
        match: 0,
        next: this.raftLog.lastIndex() + 1,
        inflights: new Inflights(this.prs.maxInflight),
        isLearner: pr.isLearner,
      });
      if (id === this.id) fresh.match = this.raftLog.lastIndex();
      this.prs.progress.set(id, fresh);
    });
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly(this.readOnly.option);
  }

  appendEntry(es: Entry[]): boolean {
    let li = this.raftLog.lastIndex();
    for (let i = 0; i < es.length; i++) {
      const e = es[i] as Entry;
      es[i] = { ...e, term: this.term, index: li + 1 + i };
    }
    // Track the size of this uncommitted proposal.
    if (!this.increaseUncommittedSize(es)) {
      this.logger.debug(
        `${hex(this.id)} appending new entries to log would exceed uncommitted entry size limit; dropping proposal`,
      );
      // Drop the proposal.
      return false;
    }
    // use latest "last" index after truncate/append
    li = this.raftLog.append(es);
    (this.prs.progress.get(this.id) as Progress).maybeUpdate(li);
    // Regardless of maybeCommit's return, our caller will call bcastAppend.
    this.maybeCommit();
    return true;
  }

  // Run by followers and candidates after electionTimeout.
  tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      try {
        this.step(newMessage({ from: this.id, type: MessageType.MsgHup }));
      } catch (err) {
        // Go drops the error Step returns here; a panic (invariant) still propagates.
        if (!(err instanceof RaftError) || err instanceof RaftInvariantError) throw err;
        this.logger.debug(`error occurred during election: ${String(err)}`);
      }
    }
  }

  // Run by leaders to send a MsgBeat after heartbeatTimeout.
  tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;

    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) {
        try {
          this.step(newMessage({ from: this.id, type: MessageType.MsgCheckQuorum }));
        } catch (err) {
          if (!(err instanceof RaftError) || err instanceof RaftInvariantError) throw err;
          this.logger.debug(`error occurred during checking sending heartbeat: ${String(err)}`);
        }
      }
      // If current leader cannot transfer leadership in electionTimeout, it becomes leader again.
      if (this.state === StateType.StateLeader && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }

    if (this.state !== StateType.StateLeader) return;

    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      try {
        this.step(newMessage({ from: this.id, type: MessageType.MsgBeat }));
      } catch (err) {
        if (!(err instanceof RaftError) || err instanceof RaftInvariantError) throw err;
        this.logger.debug(`error occurred during checking sending heartbeat: ${String(err)}`);
      }
    }
  }

  becomeFollower(term: number, lead: number): void {
    this.stepFn = stepFollower;
    this.reset(term);
    this.tick = () => this.tickElection();
    this.lead = lead;
    this.state = StateType.StateFollower;
    this.logger.info(`${hex(this.id)} became follower at term ${this.term}`);
  }

  becomeCandidate(): void {
    if (this.state === StateType.StateLeader) throw invariant('invalid transition [leader -> candidate]');
    this.stepFn = stepCandidate;
    this.reset(this.term + 1);
    this.tick = () => this.tickElection();
    this.vote = this.id;
    this.state = StateType.StateCandidate;
    this.logger.info(`${hex(this.id)} became candidate at term ${this.term}`);
  }

  becomePreCandidate(): void {
    if (this.state === StateType.StateLeader) throw invariant('invalid transition [leader -> pre-candidate]');
    // Becoming a pre-candidate changes our step functions and state, but doesn't change
    // anything else. In particular it does not increase r.Term or change r.Vote.
    this.stepFn = stepCandidate;
    this.prs.resetVotes();
    this.tick = () => this.tickElection();
    this.lead = NONE;
    this.state = StateType.StatePreCandidate;
    this.logger.info(`${hex(this.id)} became pre-candidate at term ${this.term}`);
  }

  becomeLeader(): void {
    if (this.state === StateType.StateFollower) throw invariant('invalid transition [follower -> leader]');
    this.stepFn = stepLeader;
    this.reset(this.term);
    this.tick = () => this.tickHeartbeat();
    this.lead = this.id;
    this.state = StateType.StateLeader;
    // Followers enter replicate mode when they've been successfully probed (perhaps after
    // having received a snapshot as a result). The leader is trivially in this state.
    (this.prs.progress.get(this.id) as Progress).becomeReplicate();

    // Conservatively set the pendingConfIndex to the last index in the log. There may or may
    // not be a pending config change, but it's safe to delay any future proposals until we
    // commit all our pending log entries, and scanning the entire tail of the log could be
    // expensive.
    this.pendingConfIndex = this.raftLog.lastIndex();

    const emptyEnt = newEntry({});
    // This won't happen because we just called reset() above.
    if (!this.appendEntry([emptyEnt])) throw invariant('empty entry was dropped');
    // As a special case, don't count the initial empty entry towards the uncommitted log quota.
    this.reduceUncommittedSize([emptyEnt]);
    this.logger.info(`${hex(this.id)} became leader at term ${this.term}`);
  }

  hup(t: CampaignType): void {
    if (this.state === StateType.StateLeader) {
      this.logger.debug(`${hex(this.id)} ignoring MsgHup because already leader`);
      return;
    }
    if (!this.promotable()) {
      this.logger.warn(`${hex(this.id)} is unpromotable and can not campaign`);
      return;
    }
    let ents: Entry[];
    try {
      ents = this.raftLog.slice(this.raftLog.applied + 1, this.raftLog.committed + 1, NO_LIMIT);
    } catch (err) {
      throw invariant(`unexpected error getting unapplied entries (${String(err)})`);
    }
    const n = numOfPendingConf(ents);
    if (n !== 0 && this.raftLog.committed > this.raftLog.applied) {
      this.logger.warn(
        `${hex(this.id)} cannot campaign at term ${this.term} since there are still ${n} pending configuration changes to apply`,
      );
      return;
    }
    this.logger.info(`${hex(this.id)} is starting a new election at term ${this.term}`);
    this.campaign(t);
  }

  // Transitions the raft instance to candidate state. Must only be called after verifying
  // that this is a legitimate transition.
  campaign(t: CampaignType): void {
    if (!this.promotable()) {
      // This path should not be hit (callers are supposed to check), but better safe than sorry.
      this.logger.warn(`${hex(this.id)} is unpromotable; campaign() should have been called`);
    }
    let term: number;
    let voteMsg: MessageType;
    if (t === CampaignType.CampaignPreElection) {
      this.becomePreCandidate();
      voteMsg = MessageType.MsgPreVote;
      // PreVote RPCs are sent for the next term before we've incremented r.Term.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.MsgVote;
      term = this.term;
    }
    if (this.poll(this.id, voteRespMsgType(voteMsg), true).result === VoteResult.VoteWon) {
      // We won the election after voting for ourselves (which must mean that this is a
      // single-node cluster). Advance to the next state.
      if (t === CampaignType.CampaignPreElection) this.campaign(CampaignType.CampaignElection);
      else this.becomeLeader();
      return;
    }
    const ids = [...this.prs.config.voters.ids()].sort((a, b) => a - b);
    for (const id of ids) {
      if (id === this.id) continue;
      this.logger.info(
        `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}] sent ${MessageType[voteMsg]} request to ${hex(id)} at term ${this.term}`,
      );
      const ctx = t === CampaignType.CampaignTransfer ? new TextEncoder().encode(t) : undefined;
      this.send(
        newMessage({
          term,
          to: id,
          type: voteMsg,
          index: this.raftLog.lastIndex(),
          logTerm: this.raftLog.lastTerm(),
          context: ctx,
        }),
      );
    }
  }

  poll(id: number, t: MessageType, v: boolean): { granted: number; rejected: number; result: VoteResult } {
    if (v)
      this.logger.info(`${hex(this.id)} received ${MessageType[t]} from ${hex(id)} at term ${this.term}`);
    else
      this.logger.info(
        `${hex(this.id)} received ${MessageType[t]} rejection from ${hex(id)} at term ${this.term}`,
      );
    this.prs.recordVote(id, v);
    return this.prs.tallyVotes();
  }

  // etcd's raft.Step. Throws ErrProposalDropped (as Go returns it) and invariant errors.
  step(m: Message): void {
    // Handle the message term, which may result in our stepping down to a follower.
    if (m.term === 0) {
      // local message
    } else if (m.term > this.term) {
      if (m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote) {
        const force = contextKey(m.context) === CAMPAIGN_TRANSFER_CONTEXT;
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) {
          // If a server receives a RequestVote request within the minimum election timeout of
          // hearing from a current leader, it does not update its term or grant its vote.
          this.logger.info(
            `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${hex(this.vote)}] ignored ${MessageType[m.type]} from ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}: lease is not expired (remaining ticks: ${this.electionTimeout - this.electionElapsed})`,
          );
          return;
        }
      }
      if (m.type === MessageType.MsgPreVote) {
        // Never change our term in response to a PreVote
      } else if (m.type === MessageType.MsgPreVoteResp && !m.reject) {
        // We send pre-vote requests with a term in our future. If the pre-vote is granted, we
        // will increment our term when we get a quorum. If it is not, the term comes from the
        // node that rejected our vote so we should become a follower at the new term.
      } else {
        this.logger.info(
          `${hex(this.id)} [term: ${this.term}] received a ${MessageType[m.type]} message with higher term from ${hex(m.from)} [term: ${m.term}]`,
        );
        if (
          m.type === MessageType.MsgApp ||
          m.type === MessageType.MsgHeartbeat ||
          m.type === MessageType.MsgSnap
        ) {
          this.becomeFollower(m.term, m.from);
        } else {
          this.becomeFollower(m.term, NONE);
        }
      }
    } else if (m.term < this.term) {
      if (
        (this.checkQuorum || this.preVote) &&
        (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgApp)
      ) {
        // We have received messages from a leader at a lower term. It is possible that these
        // messages were simply delayed in the network, but this could also mean that this
        // node has advanced its term number during a network partition, and it is now unable
        // to either win an election or to rejoin the majority on the old term. If checkQuorum
        // is false, this will be handled by incrementing term numbers in response to MsgVote
        // with a higher term, but if checkQuorum is true we may not advance the term on
        // MsgVote and must generate other messages to advance the term. The net result of
        // these two features is to minimize the disruption caused by nodes that have been
        // removed from the cluster's configuration: a removed node will send MsgVotes (or
        // MsgPreVotes) which will be ignored, but it will not receive MsgApp or MsgHeartbeat,
        // so it will not create disruptive term increases, by notifying leader of this node's
        // activeness. The above comments also true for Pre-Vote.
        //
        // When follower gets isolated, it soon starts an election ending up with a higher
        // term than leader, although it won't receive enough votes to win the election. When
        // it regains connectivity, this response with "pb.MsgAppResp" of higher term would
        // force leader to step down. However, this disruption is inevitable to free this
        // stuck node with fresh election. This can be prevented with Pre-Vote phase.
        this.send(newMessage({ to: m.from, type: MessageType.MsgAppResp }));
      } else if (m.type === MessageType.MsgPreVote) {
        // Before Pre-Vote enable, there may have candidate with higher term, but less log.
        // After update to Pre-Vote, the cluster may deadlock if we drop messages with a lower
        // term.
        this.logger.info(
          `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${hex(this.vote)}] rejected ${MessageType[m.type]} from ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
        );
        this.send(
          newMessage({ to: m.from, term: this.term, type: MessageType.MsgPreVoteResp, reject: true }),
        );
      } else {
        // ignore other cases
        this.logger.info(
          `${hex(this.id)} [term: ${this.term}] ignored a ${MessageType[m.type]} message with lower term from ${hex(m.from)} [term: ${m.term}]`,
        );
      }
      return;
    }

    switch (m.type) {
      case MessageType.MsgHup:
        if (this.preVote) this.hup(CampaignType.CampaignPreElection);
        else this.hup(CampaignType.CampaignElection);
        break;

      case MessageType.MsgVote:
      case MessageType.MsgPreVote: {
        // We can vote if this is a repeat of a vote we've already cast...
        const canVote =
          this.vote === m.from ||
          // ...we haven't voted and we don't think there's a leader yet in this term...
          (this.vote === NONE && this.lead === NONE) ||
          // ...or this is a PreVote for a future term...
          (m.type === MessageType.MsgPreVote && m.term > this.term);
        // ...and we believe the candidate is up to date.
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          // Note: it turns out that that learners must be allowed to cast votes. This seems
          // counter- intuitive but is necessary in the situation in which a learner has been
          // promoted (i.e. is now a voter) but has not learned about this yet.
          //
          // When responding to Msg{Pre,}Vote messages we include the term from the message,
          // not the local term. To see why, consider the case where a single node was
          // previously partitioned away and it's local term is now out of date. If we include
          // the local term (recall that for pre-votes we don't update the local term), the
          // (pre-)campaigning node on the other end will proceed to ignore the message (it
          // ignores all out of date messages). The term in the original message and current
          // local term are the same in the case of regular votes, but different for pre-votes.
          this.logger.info(
            `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${hex(this.vote)}] cast ${MessageType[m.type]} for ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
          );
          this.send(newMessage({ to: m.from, term: m.term, type: voteRespMsgType(m.type) }));
          if (m.type === MessageType.MsgVote) {
            // Only record real votes.
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.logger.info(
            `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${hex(this.vote)}] rejected ${MessageType[m.type]} from ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
          );
          this.send(newMessage({ to: m.from, term: this.term, type: voteRespMsgType(m.type), reject: true }));
        }
        break;
      }

      default:
        this.stepFn(this, m);
    }
  }

  handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      this.send(newMessage({ to: m.from, type: MessageType.MsgAppResp, index: this.raftLog.committed }));
      return;
    }
    const mlastIndex = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (mlastIndex !== undefined) {
      this.send(newMessage({ to: m.from, type: MessageType.MsgAppResp, index: mlastIndex }));
    } else {
      this.logger.debug(
        `${hex(this.id)} [logterm: ${this.raftLog.zeroTermOnErrCompacted(m.index)}, index: ${m.index}] rejected MsgApp [logterm: ${m.logTerm}, index: ${m.index}] from ${hex(m.from)}`,
      );
      // Return a hint to the leader about the maximum index and term that the two logs could
      // be divergent at. Do this by searching through the follower's log for the maximum
      // (index, term) pair with a term <= the MsgApp's LogTerm and an index <= the MsgApp's
      // Index. This can help skip all indexes in the follower's uncommitted tail with terms
      // greater than the MsgApp's LogTerm.
      //
      // See the other caller for findConflictByTerm (in stepLeader) for a much more
      // detailed explanation of this mechanism.
      let hintIndex = Math.min(m.index, this.raftLog.lastIndex());
      hintIndex = this.raftLog.findConflictByTerm(hintIndex, m.logTerm);
      let hintTerm: number;
      try {
        hintTerm = this.raftLog.term(hintIndex);
      } catch (err) {
        throw invariant(`term(${hintIndex}) must be valid, but got ${String(err)}`);
      }
      this.send(
        newMessage({
          to: m.from,
          type: MessageType.MsgAppResp,
          index: m.index,
          reject: true,
          rejectHint: hintIndex,
          logTerm: hintTerm,
        }),
      );
    }
  }

  handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(m.commit);
    this.send(newMessage({ to: m.from, type: MessageType.MsgHeartbeatResp, context: m.context }));
  }

  handleSnapshot(m: Message): void {
    const snapshot = m.snapshot ?? emptySnapshot();
    const sindex = snapshot.metadata.index;
    const sterm = snapshot.metadata.term;
    if (this.restore(snapshot)) {
      this.logger.info(
        `${hex(this.id)} [commit: ${this.raftLog.committed}] restored snapshot [index: ${sindex}, term: ${sterm}]`,
      );
      this.send(newMessage({ to: m.from, type: MessageType.MsgAppResp, index: this.raftLog.lastIndex() }));
    } else {
      this.logger.info(
        `${hex(this.id)} [commit: ${this.raftLog.committed}] ignored snapshot [index: ${sindex}, term: ${sterm}]`,
      );
      this.send(newMessage({ to: m.from, type: MessageType.MsgAppResp, index: this.raftLog.committed }));
    }
  }

  // Recovers the state machine from a snapshot. It restores the log and the configuration of
  // the state machine. If this method returns false, the snapshot was ignored, either because
  // it was obsolete or because of an error.
  restore(s: Snapshot): boolean {
    if (s.metadata.index <= this.raftLog.committed) return false;
    if (this.state !== StateType.StateFollower) {
      // This is defense-in-depth: if the leader somehow ended up applying a snapshot, it could
      // move into a new term without moving into a follower state. This should never fire,
      // but if it did, we'd have prevented damage by returning early, so log only a loud
      // warning.
      //
      // At the time of writing, the instance is guaranteed to be in follower state when this
      // method is called.
      this.logger.warn(`${hex(this.id)} attempted to restore snapshot as leader; should never happen`);
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }

    // More defense-in-depth: throw away snapshot if recipient is not in the config. This
    // shouldn't ever happen (at the time of writing) but lots of code here and there assumes
    // that r.id is in the progress tracker.
    const cs = s.metadata.confState;
    const found = [cs.voters, cs.learners, cs.votersOutgoing].some((set) => set.includes(this.id));
    if (!found) {
      this.logger.warn(
        `${hex(this.id)} attempted to restore snapshot but it is not in the ConfState ${JSON.stringify(cs)}; should never happen`,
      );
      return false;
    }

    // Now go ahead and actually restore.
    if (this.raftLog.matchTerm(s.metadata.index, s.metadata.term)) {
      this.logger.info(
        `${hex(this.id)} [commit: ${this.raftLog.committed}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}] fast-forwarded commit to snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`,
      );
      this.raftLog.commitTo(s.metadata.index);
      return false;
    }

    this.raftLog.restore(s);

    // Reset the configuration and add the (potentially updated) peers in anew.
    this.prs = new ProgressTracker(this.prs.maxInflight);
    let result;
    try {
      result = restoreConfState(new Changer(this.prs, this.raftLog.lastIndex()), cs);
    } catch (err) {
      // This should never happen. Either there's a bug in our config change handling or the
      // client corrupted the conf change.
      throw invariant(`unable to restore config ${JSON.stringify(cs)}: ${String(err)}`);
    }
    assertConfStatesEquivalent(cs, this.switchToConfig(result.config, result.progress));

    const pr = this.prs.progress.get(this.id) as Progress;
    pr.maybeUpdate(pr.next - 1); // TODO(tbg): this is untested and likely unneeded

    this.logger.info(
      `${hex(this.id)} [commit: ${this.raftLog.committed}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}] restored snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`,
    );
    return true;
  }

  // Whether the state machine can be promoted to leader, which is true when its own id is in
  // progress list.
  promotable(): boolean {
    const pr = this.prs.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasPendingSnapshot();
  }

  applyConfChange(cc: ConfChangeV2): ConfState {
    const changer = new Changer(this.prs, this.raftLog.lastIndex());
    let result;
    if (confChangeLeaveJoint(cc)) {
      result = changer.leaveJoint();
    } else {
      const enter = confChangeEnterJoint(cc);
      if (enter !== undefined) result = changer.enterJoint(enter.autoLeave, cc.changes);
      else result = changer.simple(cc.changes);
    }
    return this.switchToConfig(result.config, result.progress);
  }

  // Reconfigures this node to use the provided configuration. It updates the in-memory state
  // and, when necessary, carries out additional actions such as reacting to the removal of
  // nodes or changed quorum requirements.
  //
  // The inputs usually result from restoring a ConfState or applying a ConfChange.
  switchToConfig(cfg: TrackerConfig, prs: ProgressMap): ConfState {
    this.prs.config = cfg;
    this.prs.progress = prs;

    this.logger.info(`${hex(this.id)} switched to configuration ${this.prs.config.toString()}`);
    const cs = this.prs.confState();
    const pr = this.prs.progress.get(this.id);
    const ok = pr !== undefined;

    // Update whether the node itself is a learner, resetting to false when the node is removed.
    this.isLearner = ok && pr.isLearner;

    if ((!ok || this.isLearner) && this.state === StateType.StateLeader) {
      // This node is leader and was removed or demoted. We prevent demotions at the time
      // writing but hypothetically we handle them the same way as removing the leader: stepping
      // down into the next Term.
      //
      // TODO(tbg): step down (for sanity) and ask follower with largest Match to
      // TimeoutNow (to avoid interruption). This might still drop some proposals but it's
      // better than nothing.
      //
      // TODO(tbg): test this branch. It is untested at the time of writing.
      return cs;
    }

    // The remaining steps only make sense if this node is the leader and there are other
    // nodes.
    if (this.state !== StateType.StateLeader || cs.voters.length === 0) return cs;

    if (this.maybeCommit()) {
      // If the configuration change means that more entries are committed now, broadcast/
      // append to everyone in the updated config.
      this.bcastAppend();
    } else {
      // Otherwise, still probe the newly added replicas; there's no reason to let them wait
      // out a heartbeat interval (or the next incoming proposal).
      this.prs.visit((id) => {
        this.maybeSendAppend(id, false /* sendIfEmpty */);
      });
    }
    // If the the leadTransferee was removed or demoted, abort the leadership transfer.
    if (!this.prs.config.voters.ids().has(this.leadTransferee) && this.leadTransferee !== 0) {
      this.abortLeaderTransfer();
    }
    return cs;
  }

  loadState(state: HardState): void {
    if (state.commit < this.raftLog.committed || state.commit > this.raftLog.lastIndex()) {
      throw invariant(
        `${hex(this.id)} state.commit ${state.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
      );
    }
    this.raftLog.committed = state.commit;
    this.term = state.term;
    this.vote = state.vote;
  }

  // Returns true if r.electionElapsed is greater than or equal to the randomized election
  // timeout in [electiontimeout, 2 * electiontimeout - 1].
  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + this.random(this.electionTimeout);
  }

  sendTimeoutNow(to: number): void {
    this.send(newMessage({ to, type: MessageType.MsgTimeoutNow }));
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  // Whether the current raft node has committed an entry in its term.
  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.zeroTermOnErrCompacted(this.raftLog.committed) === this.term;
  }

  // Constructs a response for req. If req comes from the peer itself, a blank value is
  // returned (to === NONE) and the read state is queued locally.
  responseToReadIndexReq(req: Message, readIndex: number): Message {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index: readIndex, requestCtx: (req.entries[0] as Entry).data });
      return newMessage({ type: MessageType.MsgHup });
    }
    return newMessage({
      type: MessageType.MsgReadIndexResp,
      to: req.from,
      index: readIndex,
      entries: req.entries,
    });
  }

  // Computes the size of the proposed entries and determines whether they would push leader
  // over its maxUncommittedSize limit. If the new entries would exceed the limit, the method
  // returns false. If not, the increase in uncommitted entry size is recorded and the method
  // returns true.
  //
  // Empty payloads are never refused. This is used both for appending an empty entry at a new
  // leader's term, as well as leaving a joint configuration.
  increaseUncommittedSize(ents: Entry[]): boolean {
    let s = 0;
    for (const e of ents) s += payloadSize(e);
    if (this.uncommittedSize > 0 && s > 0 && this.uncommittedSize + s > this.maxUncommittedSize) {
      // If the uncommitted tail of the Raft log is empty, allow any size proposal. Otherwise,
      // limit the size of the uncommitted tail of the log and drop any proposal that would
      // push the size over the limit. Note the added requirement s>0 which is used to make
      // sure that appending single empty entries to the log always succeeds, used both for
      // replicating a new leader's initial empty entry, and for auto-leaving joint
      // configurations.
      return false;
    }
    this.uncommittedSize += s;
    return true;
  }

  // Accounts for the newly committed entries by decreasing the uncommitted entry size limit.
  reduceUncommittedSize(ents: Entry[]): void {
    if (this.uncommittedSize === 0) {
      // Fast-path for followers, who do not track or enforce the limit.
      return;
    }
    let s = 0;
    for (const e of ents) s += payloadSize(e);
    if (s > this.uncommittedSize) {
      // uncommittedSize may underestimate the size of the uncommitted Raft log tail but will
      // never overestimate it. Saturate at 0 instead of allowing overflow.
      this.uncommittedSize = 0;
    } else {
      this.uncommittedSize -= s;
    }
  }
}

// The applied index a Ready moves the cursor to: its last committed entry, else its snapshot.
export function appliedCursor(rd: { committedEntries: Entry[]; snapshot: Snapshot }): number {
  const n = rd.committedEntries.length;
  if (n > 0) return (rd.committedEntries[n - 1] as Entry).index;
  const index = rd.snapshot.metadata.index;
  if (index > 0) return index;
  return 0;
}

function stepLeader(r: Raft, m: Message): void {
  // These message types do not require any progress for m.From.
  switch (m.type) {
    case MessageType.MsgBeat:
      r.bcastHeartbeat();
      return;
    case MessageType.MsgCheckQuorum: {
      // The leader should always see itself as active. As a precaution, handle the case in
      // which the leader isn't in the configuration any more (for example if it just removed
      // itself).
      //
      // TODO(tbg): I added a TODO in removeNode, it doesn't seem that the removal of a peer
      // gets reflected in the progress tracker.
      const self = r.prs.progress.get(r.id);
      if (self !== undefined) self.recentActive = true;
      if (!r.prs.quorumActive()) {
        r.logger.warn(`${hex(r.id)} stepped down to follower since quorum is not active`);
        r.becomeFollower(r.term, NONE);
      }
      // Mark everyone (but ourselves) as inactive in preparation for the next CheckQuorum.
      r.prs.visit((id, pr) => {
        if (id !== r.id) pr.recentActive = false;
      });
      return;
    }
    case MessageType.MsgProp: {
      if (m.entries.length === 0) throw invariant(`${hex(r.id)} stepped empty MsgProp`);
      if (!r.prs.progress.has(r.id)) {
        // If we are not currently a member of the range (i.e. this node was removed from the
        // configuration while serving as leader), drop any new proposals.
        throw ErrProposalDropped;
      }
      if (r.leadTransferee !== NONE) {
        r.logger.debug(
          `${hex(r.id)} [term ${r.term}] transfer leadership to ${hex(r.leadTransferee)} is in progress; dropping proposal`,
        );
        throw ErrProposalDropped;
      }

      for (let i = 0; i < m.entries.length; i++) {
        const e = m.entries[i] as Entry;
        let changes: number | undefined;
        if (e.type === EntryType.ConfChange) changes = 1;
        else if (e.type === EntryType.ConfChangeV2) changes = countConfChangeV2Changes(e.data);
        if (changes !== undefined) {
          const alreadyPending = r.pendingConfIndex > r.raftLog.applied;
          const alreadyJoint = r.prs.config.voters.outgoing.size > 0;
          const wantsLeaveJoint = changes === 0;

          let refused = '';
          if (alreadyPending) {
            refused = `possible unapplied conf change at index ${r.pendingConfIndex} (applied to ${r.raftLog.applied})`;
          } else if (alreadyJoint && !wantsLeaveJoint) {
            refused = 'must transition out of joint config first';
          } else if (!alreadyJoint && wantsLeaveJoint) {
            refused = 'not in joint state; refusing empty conf change';
          }

          if (refused !== '') {
            const cc =
              e.type === EntryType.ConfChange ? decodeConfChange(e.data) : decodeConfChangeV2(e.data);
            r.logger.info(
              `${hex(r.id)} ignoring conf change ${goFormatConfChange(cc)} at config ${r.prs.config.toString()}: ${refused}`,
            );
            m.entries[i] = newEntry({ type: EntryType.Normal });
          } else {
            r.pendingConfIndex = r.raftLog.lastIndex() + i + 1;
          }
        }
      }

      if (!r.appendEntry(m.entries)) throw ErrProposalDropped;
      r.bcastAppend();
      return;
    }
    case MessageType.MsgReadIndex: {
      // only one voting member (the leader) in the cluster
      if (r.prs.isSingleton()) {
        const resp = r.responseToReadIndexReq(m, r.raftLog.committed);
        if (resp.to !== NONE) r.send(resp);
        return;
      }
      // Postpone read only request when this leader has not committed any log entry at its term.
      if (!r.committedEntryInCurrentTerm()) {
        r.pendingReadIndexMessages.push(m);
        return;
      }
      sendMsgReadIndexResponse(r, m);
      return;
    }
    default:
      break;
  }

  // All other message types require a progress for m.From (pr).
  const pr = r.prs.progress.get(m.from);
  if (pr === undefined) {
    r.logger.debug(`${hex(r.id)} no progress available for ${hex(m.from)}`);
    return;
  }
  switch (m.type) {
    case MessageType.MsgAppResp: {
      pr.recentActive = true;

      if (m.reject) {
        // RejectHint is the suggested next base entry for appending (i.e. we try to append
        // entry RejectHint+1 next), and LogTerm is the term that the follower has at index
        // RejectHint. Older versions of this library did not populate LogTerm for rejections
        // and it is zero for followers with an empty log.
        //
        // Under normal circumstances, the leader's log is longer than the follower's and the
        // follower's log is a prefix of the leader's (i.e. there is no divergent uncommitted
        // suffix of the log on the follower). In that case, the first probe reveals where the
        // follower's log ends (RejectHint=follower's last index) and the subsequent probe
        // succeeds.
        //
        // However, when networks are partitioned or systems overloaded, large divergent log
        // tails can occur. The naive attempt, probing entry by entry in decreasing order, will
        // be the product of the length of the diverging tails and the network round-trip
        // latency, which can easily result in hours of time spent probing and can even cause
        // outright outages. The probes are thus optimized as described below.
        r.logger.debug(
          `${hex(r.id)} received MsgAppResp(rejected, hint: (index ${m.rejectHint}, term ${m.logTerm})) from ${hex(m.from)} for index ${m.index}`,
        );
        let nextProbeIdx = m.rejectHint;
        if (m.logTerm > 0) {
          // If the follower has an uncommitted log tail, we would end up probing one by one
          // until we hit the common prefix. We can do better: the follower's term at
          // RejectHint is m.LogTerm; find the largest index at which our term is <= that and
          // probe from there.
          nextProbeIdx = r.raftLog.findConflictByTerm(m.rejectHint, m.logTerm);
        }
        if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
          r.logger.debug(`${hex(r.id)} decreased progress of ${hex(m.from)} to [${pr.toString()}]`);
          if (pr.state === ProgressStateType.StateReplicate) pr.becomeProbe();
          r.sendAppend(m.from);
        }
      } else {
        const oldPaused = pr.isPaused();
        if (pr.maybeUpdate(m.index)) {
          if (pr.state === ProgressStateType.StateProbe) {
            pr.becomeReplicate();
          } else if (pr.state === ProgressStateType.StateSnapshot && pr.match >= pr.pendingSnapshot) {
            // TODO(tbg): we should also enter this branch if a snapshot is received that is
            // below pr.PendingSnapshot but which makes it possible to use the log again.
            r.logger.debug(
              `${hex(r.id)} recovered from needing snapshot, resumed sending replication messages to ${hex(m.from)} [${pr.toString()}]`,
            );
            // Transition back to replicating state via probing state (which takes the
            // snapshot into account). If we didn't move to replicating state, that would only
            // happen with the next round of appends (but there may not be a next round for a
            // while, exposing an inconsistent RaftStatus).
            pr.becomeProbe();
            pr.becomeReplicate();
          } else if (pr.state === ProgressStateType.StateReplicate) {
            pr.inflights.freeLE(m.index);
          }

          if (r.maybeCommit()) {
            // committed index has progressed for the term, so it is safe to respond to
            // pending read index requests
            releasePendingReadIndexMessages(r);
            r.bcastAppend();
          } else if (oldPaused) {
            // If we were paused before, this node may be missing the latest commit index, so
            // send it.
            r.sendAppend(m.from);
          }
          // We've updated flow control information above, which may allow us to send
          // multiple (size-limited) in-flight messages at once (such as when transitioning
          // from probe to replicate, or when freeTo() covers multiple messages). If we have
          // more entries to send, send as many messages as we can (without sending empty
          // messages for the commit index)
          while (r.maybeSendAppend(m.from, false)) {
            // keep sending
          }
          // Transfer leadership is in progress.
          if (m.from === r.leadTransferee && pr.match === r.raftLog.lastIndex()) {
            r.logger.info(`${hex(r.id)} sent MsgTimeoutNow to ${hex(m.from)} after received MsgAppResp`);
            r.sendTimeoutNow(m.from);
          }
        }
      }
      return;
    }
    case MessageType.MsgHeartbeatResp: {
      pr.recentActive = true;
      pr.probeSent = false;

      // free one slot for the full inflights window to allow progress.
      if (pr.state === ProgressStateType.StateReplicate && pr.inflights.full()) pr.inflights.freeFirstOne();
      if (pr.match < r.raftLog.lastIndex()) r.sendAppend(m.from);

      if (
        r.readOnly.option !== ReadOnlyOption.ReadOnlySafe ||
        m.context === undefined ||
        m.context.length === 0
      )
        return;

      if (r.prs.config.voters.voteResult(r.readOnly.recvAck(m.from, m.context)) !== VoteResult.VoteWon)
        return;

      const rss = r.readOnly.advance(m);
      for (const rs of rss) {
        const resp = r.responseToReadIndexReq(rs.req, rs.index);
        if (resp.to !== NONE) r.send(resp);
      }
      return;
    }
    case MessageType.MsgSnapStatus: {
      if (pr.state !== ProgressStateType.StateSnapshot) return;
      // TODO(tbg): this code is very similar to the snapshot handling in MsgAppResp above. In
      // fact, the code there is more correct than the code here and should likely be updated
      // to match (or even better, the logic pulled into a newly created Progress state
      // machine handler).
      if (!m.reject) {
        pr.becomeProbe();
        r.logger.debug(
          `${hex(r.id)} snapshot succeeded, resumed sending replication messages to ${hex(m.from)} [${pr.toString()}]`,
        );
      } else {
        // NB: the order here matters or we'll be probing erroneously from the snapshot index,
        // but the snapshot never applied.
        pr.pendingSnapshot = 0;
        pr.becomeProbe();
        r.logger.debug(
          `${hex(r.id)} snapshot failed, resumed sending replication messages to ${hex(m.from)} [${pr.toString()}]`,
        );
      }
      // If snapshot finish, wait for the MsgAppResp from the remote node before sending out
      // the next MsgApp. If snapshot failure, wait for a heartbeat interval before next try
      pr.probeSent = true;
      return;
    }
    case MessageType.MsgUnreachable:
      // During optimistic replication, if the remote becomes unreachable, there is huge
      // probability that a MsgApp is lost.
      if (pr.state === ProgressStateType.StateReplicate) pr.becomeProbe();
      r.logger.debug(
        `${hex(r.id)} failed to send message to ${hex(m.from)} because it is unreachable [${pr.toString()}]`,
      );
      return;
    case MessageType.MsgTransferLeader: {
      if (pr.isLearner) {
        r.logger.debug(`${hex(r.id)} is learner. Ignored transferring leadership`);
        return;
      }
      const leadTransferee = m.from;
      const lastLeadTransferee = r.leadTransferee;
      if (lastLeadTransferee !== NONE) {
        if (lastLeadTransferee === leadTransferee) {
          r.logger.info(
            `${hex(r.id)} [term ${r.term}] transfer leadership to ${hex(leadTransferee)} is in progress, ignores request to same node ${hex(leadTransferee)}`,
          );
          return;
        }
        r.abortLeaderTransfer();
        r.logger.info(
          `${hex(r.id)} [term ${r.term}] abort previous transferring leadership to ${hex(lastLeadTransferee)}`,
        );
      }
      if (leadTransferee === r.id) {
        r.logger.debug(`${hex(r.id)} is already leader. Ignored transferring leadership to self`);
        return;
      }
      // Transfer leadership to third party.
      r.logger.info(`${hex(r.id)} [term ${r.term}] starts to transfer leadership to ${hex(leadTransferee)}`);
      // Transfer leadership should be finished in one electionTimeout, so reset
      // r.electionElapsed.
      r.electionElapsed = 0;
      r.leadTransferee = leadTransferee;
      if (pr.match === r.raftLog.lastIndex()) {
        r.sendTimeoutNow(leadTransferee);
        r.logger.info(
          `${hex(r.id)} sends MsgTimeoutNow to ${hex(leadTransferee)} immediately as ${hex(leadTransferee)} already has up-to-date log`,
        );
      } else {
        r.sendAppend(leadTransferee);
      }
      return;
    }
    default:
      return;
  }
}

// stepCandidate is shared by StateCandidate and StatePreCandidate; the difference is whether
// they respond to MsgVoteResp or MsgPreVoteResp.
function stepCandidate(r: Raft, m: Message): void {
  // Only handle vote responses corresponding to our candidacy (while in StateCandidate, we may
  // get stale MsgPreVoteResp messages in this term from our pre-candidate state).
  const myVoteRespType =
    r.state === StateType.StatePreCandidate ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
  switch (m.type) {
    case MessageType.MsgProp:
      r.logger.info(`${hex(r.id)} no leader at term ${r.term}; dropping proposal`);
      throw ErrProposalDropped;
    case MessageType.MsgApp:
      r.becomeFollower(m.term, m.from); // always m.Term == r.Term
      r.handleAppendEntries(m);
      return;
    case MessageType.MsgHeartbeat:
      r.becomeFollower(m.term, m.from); // always m.Term == r.Term
      r.handleHeartbeat(m);
      return;
    case MessageType.MsgSnap:
      r.becomeFollower(m.term, m.from); // always m.Term == r.Term
      r.handleSnapshot(m);
      return;
    case myVoteRespType: {
      const { granted: gr, rejected: rj, result: res } = r.poll(m.from, m.type, !m.reject);
      r.logger.info(`${hex(r.id)} has received ${gr} ${MessageType[m.type]} votes and ${rj} vote rejections`);
      if (res === VoteResult.VoteWon) {
        if (r.state === StateType.StatePreCandidate) {
          r.campaign(CampaignType.CampaignElection);
        } else {
          r.becomeLeader();
          r.bcastAppend();
        }
      } else if (res === VoteResult.VoteLost) {
        // pb.MsgPreVoteResp contains future term of pre-candidate m.Term > r.Term; reuse r.Term
        r.becomeFollower(r.term, NONE);
      }
      return;
    }
    case MessageType.MsgTimeoutNow:
      r.logger.debug(
        `${hex(r.id)} [term ${r.term} state ${stateTypeName(r.state)}] ignored MsgTimeoutNow from ${hex(m.from)}`,
      );
      return;
    default:
      return;
  }
}

function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.MsgProp:
      if (r.lead === NONE) {
        r.logger.info(`${hex(r.id)} no leader at term ${r.term}; dropping proposal`);
        throw ErrProposalDropped;
      } else if (r.disableProposalForwarding) {
        r.logger.info(
          `${hex(r.id)} not forwarding to leader ${hex(r.lead)} at term ${r.term}; dropping proposal`,
        );
        throw ErrProposalDropped;
      }
      m.to = r.lead;
      r.send(m);
      return;
    case MessageType.MsgApp:
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleAppendEntries(m);
      return;
    case MessageType.MsgHeartbeat:
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleHeartbeat(m);
      return;
    case MessageType.MsgSnap:
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleSnapshot(m);
      return;
    case MessageType.MsgTransferLeader:
      if (r.lead === NONE) {
        r.logger.info(`${hex(r.id)} no leader at term ${r.term}; dropping leader transfer msg`);
        return;
      }
      m.to = r.lead;
      r.send(m);
      return;
    case MessageType.MsgTimeoutNow:
      r.logger.info(
        `${hex(r.id)} [term ${r.term}] received MsgTimeoutNow from ${hex(m.from)} and starts an election to get leadership.`,
      );
      // Leadership transfers never use pre-vote even if r.preVote is true; we know we are not
      // recovering from a partition so there is no need for the extra round trip.
      r.hup(CampaignType.CampaignTransfer);
      return;
    case MessageType.MsgReadIndex:
      if (r.lead === NONE) {
        r.logger.info(`${hex(r.id)} no leader at term ${r.term}; dropping index reading msg`);
        return;
      }
      m.to = r.lead;
      r.send(m);
      return;
    case MessageType.MsgReadIndexResp:
      if (m.entries.length !== 1) {
        r.logger.error(
          `${hex(r.id)} invalid format of MsgReadIndexResp from ${hex(m.from)}, entries count: ${m.entries.length}`,
        );
        return;
      }
      r.readStates.push({ index: m.index, requestCtx: (m.entries[0] as Entry).data });
      return;
    default:
      return;
  }
}

function numOfPendingConf(ents: Entry[]): number {
  let n = 0;
  for (const e of ents) if (e.type === EntryType.ConfChange || e.type === EntryType.ConfChangeV2) n++;
  return n;
}

function releasePendingReadIndexMessages(r: Raft): void {
  if (!r.committedEntryInCurrentTerm()) {
    r.logger.error('pending MsgReadIndex should be released only after first commit in current term');
    return;
  }
  const msgs = r.pendingReadIndexMessages;
  r.pendingReadIndexMessages = [];
  for (const m of msgs) sendMsgReadIndexResponse(r, m);
}

function sendMsgReadIndexResponse(r: Raft, m: Message): void {
  // thinking: use an internally defined context instead of the user given context. We can
  // express this in terms of the term and index instead of a user-supplied value. This would
  // allow multiple reads to piggyback on the same message.
  switch (r.readOnly.option) {
    // If more than the local vote is needed, go through a full broadcast.
    case ReadOnlyOption.ReadOnlySafe: {
      const ctx = (m.entries[0] as Entry).data;
      r.readOnly.addRequest(r.raftLog.committed, m);
      // The local node automatically acks the request.
      r.readOnly.recvAck(r.id, ctx);
      r.bcastHeartbeatWithCtx(ctx);
      break;
    }
    case ReadOnlyOption.ReadOnlyLeaseBased: {
      const resp = r.responseToReadIndexReq(m, r.raftLog.committed);
      if (resp.to !== NONE) r.send(resp);
      break;
    }
  }
}

// etcd's assertConfStatesEquivalent: the ConfState restored must be the one asked for.
function assertConfStatesEquivalent(cs1: ConfState, cs2: ConfState): void {
  const norm = (cs: ConfState) => ({
    voters: [...cs.voters].sort((a, b) => a - b),
    learners: [...cs.learners].sort((a, b) => a - b),
    votersOutgoing: [...cs.votersOutgoing].sort((a, b) => a - b),
    learnersNext: [...cs.learnersNext].sort((a, b) => a - b),
    autoLeave: cs.autoLeave,
  });
  const a = JSON.stringify(norm(cs1));
  const b = JSON.stringify(norm(cs2));
  if (a !== b) throw invariant(`ConfStates not equivalent after sorting: ${a} vs ${b}`);
}
