// etcd raft v3.5.9 rafttest/interaction_env*.go: an environment that drives a group of RawNodes
// through the commands of etcd's interaction scripts (raft/testdata/*.txt) and prints what
// happens — Readys, delivered messages, raft's own log lines — the way etcd prints it, so the
// scripts' expected output can be compared byte for byte.
//
// Beyond v3.5.9's commands it has those of etcd-io/raft v3.6.0's harness that v3.5.9's raft
// supports (tick-election, raft-state, report-unreachable, transfer-leadership, send-snapshot,
// set-randomized-election-timeout, deliver-msgs type=, add-nodes config options) and a few of
// ours (report-snapshot, read-index, restart, more add-nodes options), each also implemented
// in the Go generator that wrote the expected output of the scripts using them
// (test/fixtures/etcd-raft-v3.5.9/interaction/generator/).
//
// As in etcd, each node has a MemoryStorage and an "appender" state machine: its history of
// snapshots, where applying an entry appends the entry's data (or a conf change's context) to
// the previous snapshot's data. The storage hands out the newest of those snapshots when the
// leader needs one to catch a follower up.
import type { TestData } from '../datadriven.js';
import { scanArg } from '../datadriven.js';
import { RaftError } from '../../../src/consensus/etcdraft/raft/errors.js';
import {
  describeEntries,
  describeMessage,
  describeReady,
  goQuote,
} from '../../../src/consensus/etcdraft/raft/describe.js';
import type { Config } from '../../../src/consensus/etcdraft/raft/raft.js';
import { seededRandom, stateTypeName } from '../../../src/consensus/etcdraft/raft/raft.js';
import { ReadOnlyOption } from '../../../src/consensus/etcdraft/raft/read-only.js';
import { RawNode, SnapshotStatus } from '../../../src/consensus/etcdraft/raft/rawnode.js';
import { MemoryStorage } from '../../../src/consensus/etcdraft/raft/storage.js';
import { progressMapString } from '../../../src/consensus/etcdraft/raft/tracker/progress.js';
import type {
  ConfChange,
  ConfChangeSingle,
  ConfChangeV2,
  ConfState,
  Message,
  Snapshot,
} from '../../../src/consensus/etcdraft/raft/types.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  MessageType,
  emptySnapshot,
  isEmptyHardState,
  isEmptySnap,
  newMessage,
} from '../../../src/consensus/etcdraft/raft/types.js';
import { decodeConfChange, decodeConfChangeV2 } from '../../../src/consensus/etcdraft/raft/wire.js';
import { LEVEL_NAMES, LEVEL_NONE, RedirectLogger } from './redirect-logger.js';

// A MemoryStorage whose snapshot() is the node's most recent applied state (etcd's
// snapOverrideStorage): MemoryStorage's own snapshot only changes on compaction, which the
// scripts do not tie to what has been applied.
class HistoryStorage extends MemoryStorage {
  constructor(private readonly latest: () => Snapshot) {
    super();
  }

  override snapshot(): Snapshot {
    return this.latest();
  }
}

export interface InteractionNode {
  rawNode: RawNode;
  storage: MemoryStorage;
  config: Config;
  history: Snapshot[];
}

export interface InteractionOptions {
  // Adjusts each node's config before its RawNode is made; must not change the id or logger.
  onConfig?: (config: Config) => void;
}

export interface Recipient {
  id: number;
  drop: boolean;
}

// A failure of the script itself (bad arguments), as opposed to an error of raft, which the
// scripts expect in their output. Go's harness calls t.Fatal for these.
export class ScriptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScriptError';
  }
}

// raftpb.ConfChangesFromString: "v1 l2 r3 u4" (voter, learner, remove, update).
export function confChangesFromString(s: string): ConfChangeSingle[] {
  const trimmed = s.trim();
  const toks = trimmed === '' ? [] : trimmed.split(' ');
  const ccs: ConfChangeSingle[] = [];
  for (const tok of toks) {
    if (tok.length < 2) throw new RaftError('config', `unknown token ${tok}`);
    let type: ConfChangeType;
    switch (tok[0]) {
      case 'v':
        type = ConfChangeType.AddNode;
        break;
      case 'l':
        type = ConfChangeType.AddLearnerNode;
        break;
      case 'r':
        type = ConfChangeType.RemoveNode;
        break;
      case 'u':
        type = ConfChangeType.UpdateNode;
        break;
      default:
        throw new RaftError('config', `unknown input: ${tok}`);
    }
    const id = tok.slice(1);
    if (!/^\d+$/.test(id))
      throw new RaftError('config', `strconv.ParseUint: parsing "${id}": invalid syntax`);
    ccs.push({ type, nodeId: Number(id) });
  }
  return ccs;
}

// Errors raft reports to its caller (Go error values) go to the output; a broken invariant
// (a Go panic) fails the script.
function raftErrorMessage(err: unknown): string {
  if (err instanceof RaftError && err.code !== 'invariant') return err.message;
  throw err;
}

function parseUint(text: string, what: string): number {
  if (!/^\d+$/.test(text))
    throw new ScriptError(`${what}: expected an unsigned integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function splitMsgs(msgs: Message[], to: number, type?: MessageType): { toMsgs: Message[]; rest: Message[] } {
  // NB: this does not reorder messages.
  const toMsgs: Message[] = [];
  const rest: Message[] = [];
  for (const msg of msgs)
    (msg.to === to && (type === undefined || msg.type === type) ? toMsgs : rest).push(msg);
  return { toMsgs, rest };
}

// Go's strconv.ParseBool.
function parseBool(val: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(val)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(val)) return false;
  throw new RaftError('config', `strconv.ParseBool: parsing "${val}": invalid syntax`);
}

const firstAsInt = (d: TestData): number => {
  const first = d.cmdArgs[0];
  if (first === undefined) throw new ScriptError(`${d.pos}: ${d.cmd} needs a node id`);
  return parseUint(first.key, `${d.pos}: ${d.cmd}`);
};

const firstAsNodeIdx = (d: TestData): number => firstAsInt(d) - 1;

const nodeIdxs = (d: TestData): number[] =>
  d.cmdArgs.filter((arg) => arg.vals.length === 0).map((arg) => parseUint(arg.key, `${d.pos}: ${d.cmd}`) - 1);

export class InteractionEnv {
  readonly options: InteractionOptions;
  readonly nodes: InteractionNode[] = [];
  // Messages in flight.
  messages: Message[] = [];
  readonly output = new RedirectLogger();

  constructor(options: InteractionOptions = {}) {
    this.options = options;
  }

  // etcd's InteractionEnv.Handle: runs one directive and returns its output. Errors of raft
  // and of the storage are written to the output; errors of the script throw ScriptError.
  handle(d: TestData): string {
    this.output.reset();
    let error: string | undefined;
    try {
      this.dispatch(d);
    } catch (err) {
      if (err instanceof ScriptError) throw err;
      error = raftErrorMessage(err);
    }
    if (error !== undefined) this.output.write(error);
    // NB: the highest log level suppresses all output, including that of the handlers. This
    // comes in useful during setup which can be chatty. However, errors are always logged.
    if (this.output.buffer.length === 0) return 'ok';
    if (this.output.level === LEVEL_NONE) return error ?? 'ok (quiet)';
    return this.output.buffer;
  }

  private dispatch(d: TestData): void {
    switch (d.cmd) {
      case '_breakpoint':
        // A place to stop a debugger at in a long script.
        return;
      case 'add-nodes':
        // add-nodes <number-of-nodes-to-add> voters=(1 2 3) learners=(4 5) index=2 content=foo
        return this.handleAddNodes(d);
      case 'campaign':
        // campaign <id-of-candidate>
        return this.campaign(firstAsNodeIdx(d));
      case 'compact':
        // compact <id> <new-first-index>
        return this.handleCompact(d);
      case 'deliver-msgs':
        // deliver-msgs <id> [drop=(<id>...)]: deliver (or drop) the messages for the recipients.
        return this.handleDeliverMsgs(d);
      case 'process-ready':
        // process-ready <id>...
        return this.handleProcessReady(d);
      case 'log-level':
        // log-level WARN; NONE disables all output, including the harness's (except errors).
        return this.logLevel(d.cmdArgs[0]?.key ?? '');
      case 'raft-log':
        // raft-log <id>
        return this.raftLog(firstAsNodeIdx(d));
      case 'stabilize':
        // stabilize [<id>...]: deliver messages and process Readys until nothing changes.
        return this.stabilize(...nodeIdxs(d));
      case 'status':
        // status <id>
        return this.status(firstAsNodeIdx(d));
      case 'tick-heartbeat':
        // tick-heartbeat <id>: tick a heartbeat interval.
        return this.handleTickHeartbeat(d);
      case 'propose':
        // propose <id> <data>
        return this.handlePropose(d);
      case 'tick-election':
        // tick-election <id>: tick an election interval (etcd-io/raft v3.6's harness).
        return this.handleTickElection(d);
      case 'raft-state':
        // raft-state: each node's state, voter status, term and leader (v3.6's harness).
        return this.raftState();
      case 'report-unreachable':
        // report-unreachable <id> <unreachable-id> (v3.6's harness).
        return this.handleReportUnreachable(d);
      case 'transfer-leadership':
        // transfer-leadership from=<id> to=<id> (v3.6's harness).
        return this.handleTransferLeadership(d);
      case 'send-snapshot':
        // send-snapshot <from-id> <to-id>: queue a MsgSnap of from's latest snapshot (v3.6's harness).
        return this.handleSendSnapshot(d);
      case 'set-randomized-election-timeout':
        // set-randomized-election-timeout <id> timeout=<ticks> (v3.6's harness).
        return this.handleSetRandomizedElectionTimeout(d);
      case 'report-snapshot':
        // report-snapshot <id> <reported-id> status=finish|failure (ours, as Fabric reports).
        return this.handleReportSnapshot(d);
      case 'read-index':
        // read-index <id> <request-context> (ours).
        return this.handleReadIndex(d);
      case 'restart':
        // restart <id>: crash and restart from the persisted state (ours).
        return this.restart(firstAsNodeIdx(d));
      case 'propose-conf-change':
        // propose-conf-change <id> [v1=true] [transition=auto|implicit|explicit]
        // v1 v3 l4 r5
        return this.handleProposeConfChange(d);
      default:
        throw new RaftError('config', 'unknown command');
    }
  }

  private node(idx: number): InteractionNode {
    const node = this.nodes[idx];
    if (node === undefined) throw new ScriptError(`there is no node ${idx + 1} (${this.nodes.length} added)`);
    return node;
  }

  // Runs fn with its output indented by two spaces, line by line.
  private withIndent(fn: () => void): void {
    const orig = this.output.buffer;
    this.output.buffer = '';
    try {
      fn();
    } finally {
      const lines = this.output.buffer.split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      this.output.buffer = orig + lines.map((line) => `  ${line}\n`).join('');
    }
  }

  private handleAddNodes(d: TestData): void {
    const n = firstAsInt(d);
    const snap = emptySnapshot();
    let given = false;
    const options: Array<(config: Config) => void> = [];
    for (const arg of d.cmdArgs.slice(1)) {
      for (const val of arg.vals) {
        switch (arg.key) {
          case 'voters':
            snap.metadata.confState.voters.push(parseUint(val, `${d.pos}: voters`));
            given = true;
            break;
          case 'learners':
            snap.metadata.confState.learners.push(parseUint(val, `${d.pos}: learners`));
            given = true;
            break;
          case 'index':
            snap.metadata.index = parseUint(val, `${d.pos}: index`);
            given = true;
            break;
          case 'content':
            snap.data = new TextEncoder().encode(val);
            given = true;
            break;
          // The config options of etcd-io/raft v3.6's add-nodes that v3.5.9's raft has.
          case 'inflight': {
            const v = parseUint(val, `${d.pos}: inflight`);
            options.push((c) => (c.maxInflightMsgs = v));
            break;
          }
          case 'prevote': {
            const v = parseBool(val);
            options.push((c) => (c.preVote = v));
            break;
          }
          case 'checkquorum': {
            const v = parseBool(val);
            options.push((c) => (c.checkQuorum = v));
            break;
          }
          case 'max-committed-size-per-ready': {
            const v = parseUint(val, `${d.pos}: max-committed-size-per-ready`);
            options.push((c) => (c.maxCommittedSizePerReady = v));
            break;
          }
          // Ours: the other options Fabric's etcdraft chain sets.
          case 'disable-proposal-forwarding': {
            const v = parseBool(val);
            options.push((c) => (c.disableProposalForwarding = v));
            break;
          }
          case 'max-size-per-msg': {
            const v = parseUint(val, `${d.pos}: max-size-per-msg`);
            options.push((c) => (c.maxSizePerMsg = v));
            break;
          }
          case 'max-uncommitted-entries-size': {
            const v = parseUint(val, `${d.pos}: max-uncommitted-entries-size`);
            options.push((c) => (c.maxUncommittedEntriesSize = v));
            break;
          }
          case 'read-only':
            if (val === 'safe') options.push((c) => (c.readOnlyOption = ReadOnlyOption.ReadOnlySafe));
            else if (val === 'lease-based')
              options.push((c) => (c.readOnlyOption = ReadOnlyOption.ReadOnlyLeaseBased));
            else throw new RaftError('config', `invalid read-only option "${val}"`);
            break;
        }
      }
    }
    this.addNodes(n, given ? snap : undefined, (config) => {
      for (const option of options) option(config);
    });
  }

  // Adds n nodes with consecutive ids, each started from the snapshot when one is given
  // (bootstrapped at term 1) and from empty storage otherwise.
  addNodes(n: number, snap: Snapshot | undefined, configure?: (config: Config) => void): void {
    for (let i = 0; i < n; i++) {
      const id = 1 + this.nodes.length;
      const storage = new HistoryStorage(() => {
        const history = this.node(id - 1).history;
        return history[history.length - 1] as Snapshot;
      });
      if (snap !== undefined) {
        // NB: we could make this work with 1, but MemoryStorage just doesn't play well with
        // that and it's not a loss of generality.
        if (snap.metadata.index <= 1)
          throw new RaftError('config', 'index must be specified as > 1 due to bootstrap');
        snap.metadata.term = 1;
        storage.applySnapshot(snap);
        const fi = storage.firstIndex();
        // Applying a snapshot to a MemoryStorage also truncates its log; another storage
        // engine might not.
        const exp = snap.metadata.index + 1;
        if (fi !== exp) throw new RaftError('config', `failed to establish first index ${exp}; got ${fi}`);
      }
      const config: Config = {
        id,
        applied: snap?.metadata.index ?? 0,
        electionTick: 3,
        heartbeatTick: 1,
        storage,
        // etcd's math.MaxUint64 and math.MaxInt32: no limits.
        maxSizePerMsg: Number.MAX_SAFE_INTEGER,
        maxInflightMsgs: 2 ** 31 - 1,
        random: seededRandom(id),
      };
      configure?.(config);
      if (this.options.onConfig !== undefined) {
        this.options.onConfig(config);
        // This could be supported but then we need to do more work translating back and forth.
        if (config.id !== id) throw new ScriptError('onConfig must not change the id');
      }
      if (config.logger !== undefined) throw new ScriptError('onConfig must not set the logger');
      config.logger = this.output;
      const rawNode = new RawNode(config);
      this.nodes.push({ rawNode, storage, config, history: [snap ?? emptySnapshot()] });
    }
  }

  campaign(idx: number): void {
    this.node(idx).rawNode.campaign();
  }

  private handleCompact(d: TestData): void {
    const idx = firstAsNodeIdx(d);
    const arg = d.cmdArgs[1];
    if (arg === undefined) throw new ScriptError(`${d.pos}: compact needs a new first index`);
    this.compact(idx, parseUint(arg.key, `${d.pos}: compact`));
  }

  // Truncates the log of node idx so that the given first index results.
  compact(idx: number, newFirstIndex: number): void {
    this.node(idx).storage.compact(newFirstIndex);
    this.raftLog(idx);
  }

  private handleDeliverMsgs(d: TestData): void {
    const rs: Recipient[] = [];
    let type: MessageType | undefined;
    for (const arg of d.cmdArgs) {
      if (arg.vals.length === 0) rs.push({ id: parseUint(arg.key, `${d.pos}: deliver-msgs`), drop: false });
      for (const val of arg.vals) {
        if (arg.key === 'type') {
          // etcd-io/raft v3.6: deliver only the messages of this type.
          const t = MessageType[val as keyof typeof MessageType] as MessageType | undefined;
          if (t === undefined) throw new ScriptError(`unknown message type ${val}`);
          type = t;
          continue;
        }
        if (arg.key !== 'drop') continue;
        const id = parseUint(val, `${d.pos}: drop`);
        if (rs.some((r) => r.id === id)) throw new ScriptError(`can't both deliver and drop msgs to ${id}`);
        rs.push({ id, drop: true });
      }
    }
    if (this.deliverMsgsOfType(type, ...rs) === 0) this.output.write('no messages\n');
  }

  // Delivers (or drops, by the recipient's drop flag) the in-flight messages to the
  // recipients, removing them from the messages in flight; returns how many were handled.
  deliverMsgs(...rs: Recipient[]): number {
    return this.deliverMsgsOfType(undefined, ...rs);
  }

  // deliverMsgs restricted to messages of one type (all types when undefined).
  deliverMsgsOfType(type: MessageType | undefined, ...rs: Recipient[]): number {
    let n = 0;
    for (const r of rs) {
      const { toMsgs, rest } = splitMsgs(this.messages, r.id, type);
      this.messages = rest;
      n += toMsgs.length;
      for (const msg of toMsgs) {
        if (r.drop) this.output.write('dropped: ');
        this.output.write(`${describeMessage(msg, goQuote)}\n`);
        // NB: it's allowed to drop messages to nodes that haven't been instantiated yet.
        if (r.drop) continue;
        try {
          this.node(msg.to - 1).rawNode.step(msg);
        } catch (err) {
          this.output.write(`${raftErrorMessage(err)}\n`);
        }
      }
    }
    return n;
  }

  private handleProcessReady(d: TestData): void {
    const idxs = nodeIdxs(d);
    for (const idx of idxs) {
      if (idxs.length > 1) {
        this.output.write(`> ${idx + 1} handling Ready\n`);
        let failure: unknown;
        this.withIndent(() => {
          try {
            this.processReady(idx);
          } catch (err) {
            failure = err;
          }
        });
        if (failure !== undefined) throw failure;
      } else {
        this.processReady(idx);
      }
    }
  }

  // Handles one Ready of node idx: persists it, applies the committed entries to the
  // appender state machine, queues the messages and advances.
  processReady(idx: number): void {
    const node = this.node(idx);
    const rn = node.rawNode;
    const s = node.storage;
    const rd = rn.ready();
    this.output.write(describeReady(rd, goQuote));
    // The order of operations here is not necessarily safe (etcd-io/etcd#10861); it is the
    // order etcd's harness uses, which the scripts' output depends on.
    if (!isEmptyHardState(rd.hardState)) s.setHardState(rd.hardState);
    s.append(rd.entries);
    if (!isEmptySnap(rd.snapshot)) s.applySnapshot(rd.snapshot);
    for (const ent of rd.committedEntries) {
      let update: Uint8Array;
      let cs: ConfState | undefined;
      if (ent.type === EntryType.ConfChange) {
        const cc = decodeConfChange(ent.data);
        update = cc.context ?? new Uint8Array(0);
        cs = rn.applyConfChange(cc);
      } else if (ent.type === EntryType.ConfChangeV2) {
        const cc = decodeConfChangeV2(ent.data);
        cs = rn.applyConfChange(cc);
        update = cc.context ?? new Uint8Array(0);
      } else {
        update = ent.data;
      }
      // Record the new state by starting with the current state and applying the command.
      const lastSnap = node.history[node.history.length - 1] as Snapshot;
      node.history.push({
        // NB: this hard-codes an "appender" state machine.
        data: concat(lastSnap.data, update),
        metadata: { index: ent.index, term: ent.term, confState: cs ?? lastSnap.metadata.confState },
      });
    }
    this.messages.push(...rd.messages);
    rn.advance(rd);
  }

  logLevel(name: string): void {
    const level = LEVEL_NAMES.findIndex((s) => s.toLowerCase() === name.toLowerCase());
    if (level < 0) throw new RaftError('config', `log levels must be either of [${LEVEL_NAMES.join(' ')}]`);
    this.output.level = level;
  }

  // Prints the stable raft log of node idx.
  raftLog(idx: number): void {
    const s = this.node(idx).storage;
    const fi = s.firstIndex();
    const li = s.lastIndex();
    if (li < fi) {
      // This is what MemoryStorage returns; whether it is the "correct" thing is unclear.
      this.output.write(`log is empty: first index=${fi}, last index=${li}`);
      return;
    }
    this.output.write(describeEntries(s.entries(fi, li + 1, Number.MAX_SAFE_INTEGER), goQuote));
  }

  // Runs Ready handling on and message delivery to the given nodes (all when none given)
  // until reaching a fixed point.
  stabilize(...idxs: number[]): void {
    const nodes = idxs.length === 0 ? this.nodes : idxs.map((idx) => this.node(idx));
    for (;;) {
      let done = true;
      for (const node of nodes) {
        if (!node.rawNode.hasReady()) continue;
        done = false;
        const idx = node.rawNode.status().id - 1;
        this.output.write(`> ${idx + 1} handling Ready\n`);
        // As in etcd, an error of a Ready's handling does not stop the loop.
        this.withIndent(() => {
          try {
            this.processReady(idx);
          } catch (err) {
            raftErrorMessage(err);
          }
        });
      }
      for (const node of nodes) {
        const id = node.rawNode.status().id;
        // NB: the messages are split only to see whether to print the header; deliverMsgs
        // does it again.
        if (splitMsgs(this.messages, id).toMsgs.length > 0) {
          this.output.write(`> ${id} receiving messages\n`);
          this.withIndent(() => this.deliverMsgs({ id, drop: false }));
          done = false;
        }
      }
      if (done) return;
    }
  }

  // Prints the progress the node knows of (a leader's view of its followers; empty elsewhere).
  status(idx: number): void {
    this.output.write(progressMapString(this.node(idx).rawNode.status().progress));
  }

  private handleTickHeartbeat(d: TestData): void {
    const idx = firstAsNodeIdx(d);
    this.tick(idx, this.node(idx).config.heartbeatTick);
  }

  tick(idx: number, num: number): void {
    for (let i = 0; i < num; i++) this.node(idx).rawNode.tick();
  }

  private handleTickElection(d: TestData): void {
    const idx = firstAsNodeIdx(d);
    this.tick(idx, this.node(idx).config.electionTick);
  }

  // Each node's view of itself: state, whether it is a voter of its own config, term, leader.
  raftState(): void {
    for (const node of this.nodes) {
      const st = node.rawNode.status();
      const voterStatus = st.config.voters.ids().has(st.id) ? '(Voter)' : '(Non-Voter)';
      this.output.write(
        `${st.id}: ${stateTypeName(st.softState.raftState)} ${voterStatus} Term:${st.hardState.term} Lead:${st.softState.lead}\n`,
      );
    }
  }

  private handleReportUnreachable(d: TestData): void {
    const idxs = nodeIdxs(d);
    if (idxs.length !== 2) {
      throw new RaftError(
        'config',
        'must specify exactly two node indexes: node on which to report, and reported node',
      );
    }
    const [on, reported] = idxs as [number, number];
    this.node(on).rawNode.reportUnreachable(this.node(reported).config.id);
  }

  private handleTransferLeadership(d: TestData): void {
    const arg = (key: string): number => {
      const v = scanArg(d, key)?.vals[0];
      if (v === undefined) throw new ScriptError(`${d.pos}: transfer-leadership needs ${key}=<id>`);
      const id = parseUint(v, `${d.pos}: ${key}`);
      if (id === 0 || id > this.nodes.length)
        throw new ScriptError(`${d.pos}: expected a valid "${key}" argument`);
      return id;
    };
    const from = arg('from');
    const to = arg('to');
    this.node(from - 1).rawNode.transferLeader(to);
  }

  private handleSendSnapshot(d: TestData): void {
    const idxs = nodeIdxs(d);
    if (idxs.length !== 2) throw new ScriptError(`${d.pos}: send-snapshot takes two node ids`);
    const [fromIdx, toIdx] = idxs as [number, number];
    const from = this.node(fromIdx);
    const msg = newMessage({
      type: MessageType.MsgSnap,
      term: from.rawNode.status().hardState.term,
      from: fromIdx + 1,
      to: toIdx + 1,
      snapshot: from.storage.snapshot(),
    });
    this.messages.push(msg);
    this.output.write(describeMessage(msg, goQuote));
  }

  private handleSetRandomizedElectionTimeout(d: TestData): void {
    const idx = firstAsNodeIdx(d);
    const v = scanArg(d, 'timeout')?.vals[0];
    if (v === undefined)
      throw new ScriptError(`${d.pos}: set-randomized-election-timeout needs timeout=<ticks>`);
    const timeout = parseUint(v, `${d.pos}: timeout`);
    if (timeout === 0) throw new ScriptError(`${d.pos}: timeout must not be zero`);
    this.node(idx).rawNode.raft.randomizedElectionTimeout = timeout;
  }

  private handleReportSnapshot(d: TestData): void {
    const idxs = nodeIdxs(d);
    if (idxs.length !== 2) throw new ScriptError(`${d.pos}: report-snapshot takes two node ids`);
    const [on, reported] = idxs as [number, number];
    const status = scanArg(d, 'status')?.vals[0];
    if (status !== 'finish' && status !== 'failure') {
      throw new ScriptError(`${d.pos}: report-snapshot needs status=finish or status=failure`);
    }
    this.node(on).rawNode.reportSnapshot(
      this.node(reported).config.id,
      status === 'finish' ? SnapshotStatus.SnapshotFinish : SnapshotStatus.SnapshotFailure,
    );
  }

  private handleReadIndex(d: TestData): void {
    const idx = firstAsNodeIdx(d);
    const ctx = d.cmdArgs[1];
    if (d.cmdArgs.length !== 2 || ctx === undefined || ctx.vals.length > 0) {
      throw new ScriptError(`${d.pos}: read-index takes a node id and a request context`);
    }
    this.node(idx).rawNode.readIndex(new TextEncoder().encode(ctx.key));
  }

  // The node crashes and comes back from what it persisted: a new RawNode over the same
  // storage (HardState, entries), its state machine rebuilt from its initial snapshot by
  // re-applying the committed entries. The storage's own snapshot stays the initial one, so a
  // node whose log was compacted or replaced by a snapshot cannot be restarted this way.
  restart(idx: number): void {
    const node = this.node(idx);
    const base = node.history[0] as Snapshot;
    if (node.storage.firstIndex() - 1 !== base.metadata.index) {
      throw new ScriptError(`restart: the log of node ${idx + 1} no longer starts at its initial snapshot`);
    }
    const config: Config = { ...node.config, applied: base.metadata.index };
    node.rawNode = new RawNode(config);
    node.config = config;
    node.history = [base];
  }

  private handlePropose(d: TestData): void {
    const idx = firstAsNodeIdx(d);
    const data = d.cmdArgs[1];
    if (d.cmdArgs.length !== 2 || data === undefined || data.vals.length > 0) {
      throw new ScriptError(
        `${d.pos}: expected exactly one key with no vals: ${JSON.stringify(d.cmdArgs.slice(1))}`,
      );
    }
    this.propose(idx, new TextEncoder().encode(data.key));
  }

  propose(idx: number, data: Uint8Array): void {
    this.node(idx).rawNode.propose(data);
  }

  private handleProposeConfChange(d: TestData): void {
    const idx = firstAsNodeIdx(d);
    let v1 = false;
    let transition = ConfChangeTransition.Auto;
    for (const arg of d.cmdArgs.slice(1)) {
      for (const val of arg.vals) {
        switch (arg.key) {
          case 'v1':
            v1 = parseBool(val);
            break;
          case 'transition':
            switch (val) {
              case 'auto':
                transition = ConfChangeTransition.Auto;
                break;
              case 'implicit':
                transition = ConfChangeTransition.JointImplicit;
                break;
              case 'explicit':
                transition = ConfChangeTransition.JointExplicit;
                break;
              default:
                throw new RaftError('config', `unknown transition ${val}`);
            }
            break;
          default:
            throw new RaftError('config', `unknown command ${arg.key}`);
        }
      }
    }
    const ccs = confChangesFromString(d.input);
    let cc: ConfChange | ConfChangeV2;
    if (v1) {
      const first = ccs[0];
      if (ccs.length !== 1 || first === undefined || transition !== ConfChangeTransition.Auto) {
        throw new RaftError('config', 'v1 conf change can only have one operation and no transition');
      }
      cc = { type: first.type, nodeId: first.nodeId, context: undefined, id: 0 };
    } else {
      cc = { transition, changes: ccs, context: undefined };
    }
    this.proposeConfChange(idx, cc);
  }

  proposeConfChange(idx: number, cc: ConfChange | ConfChangeV2): void {
    this.node(idx).rawNode.proposeConfChange(cc);
  }
}
