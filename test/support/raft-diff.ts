// The TypeScript side of the differential test of our Raft core against etcd's real RawNode
// (issue #10). Nodes live on one of two hosts: the Go harness (test/differential/raft, etcd raft
// v3.5.9, spoken to over JSON lines) or in process (our RawNode). Both hosts run the same commands
// with the same application Ready loop and answer with the raftpb bytes of each Ready, so a
// Simulation can mix them in one group (messages cross as encoded bytes) or run the same seeded
// schedule on an all-etcd and an all-ours group and compare every Ready byte for byte.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RaftError } from '../../src/consensus/etcdraft/raft/errors.js';
import { MemoryStorage } from '../../src/consensus/etcdraft/raft/storage.js';
import { RawNode, SnapshotStatus, marshalConfChange } from '../../src/consensus/etcdraft/raft/rawnode.js';
import type { RandomIntn } from '../../src/consensus/etcdraft/raft/raft.js';
import type { ConfState, Entry } from '../../src/consensus/etcdraft/raft/types.js';
import {
  ConfChangeType,
  EntryType,
  MessageType,
  ConfChangeTransition,
  emptyConfState,
  isEmptyHardState,
  isEmptySnap,
} from '../../src/consensus/etcdraft/raft/types.js';
import {
  decodeConfChange,
  decodeConfChangeV2,
  decodeConfState,
  decodeEntry,
  decodeHardState,
  decodeMessage,
  decodeSnapshot,
  encodeConfChangeV2,
  encodeConfState,
  encodeEntry,
  encodeHardState,
  encodeMessage,
  encodeSnapshot,
} from '../../src/consensus/etcdraft/raft/wire.js';
import { describeEntry, describeMessage } from '../../src/consensus/etcdraft/raft/describe.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HARNESS_DIR = join(ROOT, 'test/differential/raft');

// --- building the Go harness ---

export type HarnessBinary = { path: string } | { skip: string };

// Builds the harness once per source version into a cache folder keyed by the hash of its
// sources, so repeated runs (and parallel test files) reuse one binary.
export function raftDiffBinary(): HarnessBinary {
  const hash = createHash('sha256');
  for (const name of ['main.go', 'go.mod', 'go.sum']) hash.update(readFileSync(join(HARNESS_DIR, name)));
  const path = join(tmpdir(), 'raft-diff-cache', hash.digest('hex').slice(0, 16), 'raft-diff');
  if (existsSync(path)) return { path };
  const built = spawnSync('bash', [join(ROOT, 'scripts/raft-diff-build.sh'), path], { encoding: 'utf8' });
  if (built.status === 3) return { skip: built.stderr.trim() };
  if (built.status !== 0 || !existsSync(path)) {
    throw new Error(
      `building the etcd raft harness (scripts/raft-diff-build.sh) failed with status ${built.status}:\n` +
        `${built.stdout}${built.stderr}`,
    );
  }
  return { path };
}

// --- the shared command protocol ---

export interface NodeConfig {
  electionTick: number;
  heartbeatTick: number;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  preVote: boolean;
  checkQuorum: boolean;
  disableProposalForwarding: boolean;
}

// Fabric's etcdraft settings (orderer/consensus/etcdraft/chain.go and the default Options); Fabric
// leaves Applied at 0, so a restarted node applies its log again from the last snapshot.
export const FABRIC_RAFT_CONFIG: NodeConfig = {
  electionTick: 10,
  heartbeatTick: 1,
  maxSizePerMsg: 1024 * 1024,
  maxInflightMsgs: 256,
  preVote: true,
  checkQuorum: true,
  disableProposalForwarding: true,
};

export type Command =
  | { op: 'new'; node: string; id: number; seed: number; peers: number[]; config: NodeConfig }
  | { op: 'drop' | 'restart' | 'tick' | 'campaign' | 'status'; node: string }
  // during: a proposal made after ready() and before advance(), as etcd's Node takes proposals
  // while the application handles a Ready.
  | { op: 'ready'; node: string; during?: string }
  | { op: 'propose' | 'proposeConfChange' | 'proposeConfChangeV2' | 'step'; node: string; data: string }
  | { op: 'snapshot'; node: string; data: string; keep: number }
  | { op: 'reportSnapshot'; node: string; to: number; failure: boolean }
  | { op: 'reportUnreachable' | 'transferLeader'; node: string; to: number };

// A Ready as both hosts report it: raftpb bytes in base64; confState is the ConfState after the
// conf changes this Ready applied (or the snapshot's), null when unchanged.
export interface ReadyRecord {
  softState: { lead: number; raftState: number } | null;
  hardState: string | null;
  entries: string[];
  committed: string[];
  snapshot: string | null;
  messages: string[];
  mustSync: boolean;
  confState: string | null;
}

export interface StatusInfo {
  lead: number;
  raftState: number;
  term: number;
  commit: number;
  applied: number;
  lastIndex: number;
  voters: number[];
  learners: number[];
  leadTransferee: number;
  // The leader's view of each peer: [id, match, next, state, pendingSnapshot, recentActive,
  // probeSent, isLearner, inflight count], in ID order.
  progress: number[][];
}

export interface CommandResult {
  error?: string;
  ready?: ReadyRecord | null;
  status?: StatusInfo;
  index?: number;
  // The error of the proposal a ready command made while handling its Ready.
  proposeError?: string;
  // After a restart: the ConfState the state machine restarts with (its snapshot's).
  confState?: string;
}

export interface Host {
  run(cmds: Command[]): Promise<CommandResult[]>;
  close(): Promise<void>;
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'));

// The per-node randomness both hosts use for the randomized election timeout: mulberry32 giving
// 31-bit values, turned into [0, n) by Go's math/rand Int31n, because that is what etcd's
// globalRand.Intn does with the values the harness's Source serves.
export function int31nStream(seed: number): RandomIntn {
  let state = seed >>> 0;
  const next31 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) >>> 1;
  };
  return (n: number): number => {
    if ((n & (n - 1)) === 0) return next31() & (n - 1);
    const max = 2 ** 31 - 1 - (2 ** 31 % n);
    let v = next31();
    while (v > max) v = next31();
    return v % n;
  };
}

// --- the Go host ---

export class GoHost implements Host {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: Array<{ resolve: (r: CommandResult[]) => void; reject: (e: Error) => void }> = [];
  private stderr = '';
  private exited: Error | undefined;

  constructor(binary: string) {
    this.child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    const lines = createInterface({ input: this.child.stdout });
    lines.on('line', (line) => {
      const waiter = this.waiting.shift();
      if (waiter === undefined) return;
      try {
        waiter.resolve((JSON.parse(line) as { results: CommandResult[] }).results);
      } catch (err) {
        waiter.reject(
          new Error(`raft-diff harness answered a line that is not JSON: ${line}`, { cause: err }),
        );
      }
    });
    this.child.on('exit', (code, signal) => {
      this.exited = new Error(`raft-diff harness exited (code ${code}, signal ${signal}): ${this.stderr}`);
      for (const waiter of this.waiting.splice(0)) waiter.reject(this.exited);
    });
  }

  run(cmds: Command[]): Promise<CommandResult[]> {
    if (cmds.length === 0) return Promise.resolve([]);
    if (this.exited !== undefined) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.child.stdin.write(`${JSON.stringify({ cmds })}\n`);
    });
  }

  async close(): Promise<void> {
    if (this.exited !== undefined) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    await exited;
  }
}

// --- the in-process host: our core, driven exactly as main.go drives etcd's ---

class TsNode {
  readonly storage = new MemoryStorage();
  rn!: RawNode;
  confState: ConfState = emptyConfState();
  applied = 0;

  constructor(
    readonly id: number,
    readonly random: RandomIntn,
    readonly config: NodeConfig,
  ) {}

  start(peers: number[]): void {
    this.rn = new RawNode({ id: this.id, ...this.config, storage: this.storage, random: this.random });
    if (peers.length > 0) this.rn.bootstrap(peers.map((id) => ({ id })));
  }

  ready(during: Uint8Array | undefined): { ready: ReadyRecord | null; proposeError?: string } {
    const propose = (): { proposeError?: string } => {
      if (during === undefined) return {};
      try {
        this.rn.propose(during);
        return {};
      } catch (err) {
        return { proposeError: errorText(err) };
      }
    };
    if (!this.rn.hasReady()) return { ready: null, ...propose() };
    const rd = this.rn.ready();
    const proposed = propose();
    const out: ReadyRecord = {
      softState:
        rd.softState === undefined ? null : { lead: rd.softState.lead, raftState: rd.softState.raftState },
      hardState: isEmptyHardState(rd.hardState) ? null : b64(encodeHardState(rd.hardState)),
      entries: [],
      committed: [],
      snapshot: null,
      messages: [],
      mustSync: rd.mustSync,
      confState: null,
    };
    if (!isEmptySnap(rd.snapshot)) {
      out.snapshot = b64(encodeSnapshot(rd.snapshot));
      this.storage.applySnapshot(rd.snapshot);
      this.confState = rd.snapshot.metadata.confState;
      this.applied = rd.snapshot.metadata.index;
      out.confState = b64(encodeConfState(this.confState));
    }
    out.entries = rd.entries.map((e) => b64(encodeEntry(e)));
    this.storage.append(rd.entries);
    if (!isEmptyHardState(rd.hardState)) this.storage.setHardState(rd.hardState);
    for (const e of rd.committedEntries) {
      out.committed.push(b64(encodeEntry(e)));
      // After a restart raft hands again the entries after the compaction point, which may
      // precede the snapshot the state machine restarted from: those are in its ConfState.
      if (e.index <= this.applied) continue;
      if (e.type === EntryType.ConfChange) {
        this.confState = this.rn.applyConfChange(decodeConfChange(e.data));
        out.confState = b64(encodeConfState(this.confState));
      } else if (e.type === EntryType.ConfChangeV2) {
        this.confState = this.rn.applyConfChange(decodeConfChangeV2(e.data));
        out.confState = b64(encodeConfState(this.confState));
      }
      this.applied = e.index;
    }
    out.messages = rd.messages.map((m) => b64(encodeMessage(m)));
    this.rn.advance(rd);
    return { ready: out, ...proposed };
  }
}

// An error as the Go harness words it: our RaftError sentinels carry etcd's messages; an
// invariant error is where etcd panics.
const errorText = (err: unknown): string =>
  err instanceof RaftError
    ? err.code === 'invariant'
      ? `panic: ${err.message}`
      : err.message
    : `panic: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;

export class TsHost implements Host {
  private readonly nodes = new Map<string, TsNode>();

  run(cmds: Command[]): Promise<CommandResult[]> {
    return Promise.resolve(cmds.map((c) => this.execute(c)));
  }

  close(): Promise<void> {
    this.nodes.clear();
    return Promise.resolve();
  }

  private execute(c: Command): CommandResult {
    try {
      if (c.op === 'new') {
        const n = new TsNode(c.id, int31nStream(c.seed), c.config);
        this.nodes.set(c.node, n);
        n.start(c.peers);
        return {};
      }
      const n = this.nodes.get(c.node);
      if (n === undefined) return { error: `raft-diff: no node "${c.node}"` };
      switch (c.op) {
        case 'drop':
          this.nodes.delete(c.node);
          return {};
        case 'restart': {
          n.start([]);
          // The state machine restarts from the snapshot; raft hands the entries after it again.
          const snap = n.storage.snapshot();
          n.applied = snap.metadata.index;
          n.confState = snap.metadata.confState;
          return { confState: b64(encodeConfState(n.confState)) };
        }
        case 'tick':
          n.rn.tick();
          return {};
        case 'campaign':
          n.rn.campaign();
          return {};
        case 'propose':
          n.rn.propose(unb64(c.data));
          return {};
        case 'proposeConfChange':
          n.rn.proposeConfChange(decodeConfChange(unb64(c.data)));
          return {};
        case 'proposeConfChangeV2':
          n.rn.proposeConfChange(decodeConfChangeV2(unb64(c.data)));
          return {};
        case 'step':
          n.rn.step(decodeMessage(unb64(c.data)));
          return {};
        case 'ready': {
          // As the harness answers: no ready field when there was nothing to do.
          const { ready, proposeError } = n.ready(c.during === undefined ? undefined : unb64(c.during));
          return {
            ...(ready === null ? {} : { ready }),
            ...(proposeError === undefined ? {} : { proposeError }),
          };
        }
        case 'reportSnapshot':
          n.rn.reportSnapshot(
            c.to,
            c.failure ? SnapshotStatus.SnapshotFailure : SnapshotStatus.SnapshotFinish,
          );
          return {};
        case 'reportUnreachable':
          n.rn.reportUnreachable(c.to);
          return {};
        case 'transferLeader':
          n.rn.transferLeader(c.to);
          return {};
        case 'snapshot': {
          if (n.applied <= n.storage.snapshot().metadata.index) return {};
          n.storage.createSnapshot(n.applied, n.confState, unb64(c.data));
          const compactTo = n.applied - c.keep;
          if (compactTo >= n.storage.firstIndex()) n.storage.compact(compactTo);
          return { index: n.applied };
        }
        case 'status': {
          const st = n.rn.status();
          return {
            status: {
              lead: st.softState.lead,
              raftState: st.softState.raftState,
              term: st.hardState.term,
              commit: st.hardState.commit,
              applied: st.applied,
              lastIndex: n.storage.lastIndex(),
              voters: [...st.config.voters.ids()].sort((a, b) => a - b),
              learners: [...(st.config.learners ?? [])].sort((a, b) => a - b),
              leadTransferee: st.leadTransferee,
              progress: [...st.progress.entries()]
                .sort(([a], [b]) => a - b)
                .map(([id, pr]) => [
                  id,
                  pr.match,
                  pr.next,
                  pr.state,
                  pr.pendingSnapshot,
                  pr.recentActive ? 1 : 0,
                  pr.probeSent ? 1 : 0,
                  pr.isLearner ? 1 : 0,
                  pr.inflights.count,
                ]),
            },
          };
        }
      }
    } catch (err) {
      return { error: errorText(err) };
    }
  }
}

// --- the simulation ---

// A deterministic PRNG for the schedule itself (not for the nodes).
export class ScheduleRandom {
  private readonly next: RandomIntn;
  constructor(seed: number) {
    this.next = int31nStream(seed ^ 0x5eed);
  }
  int(n: number): number {
    return this.next(n);
  }
  chance(percent: number): boolean {
    return this.next(100) < percent;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.next(items.length)] as T;
  }
}

export type Backend = 'go' | 'ts';

export interface ScheduleOptions {
  seed: number;
  // The backend of each initial member, in ID order (IDs 1..n).
  backends: Backend[];
  rounds: number;
  // Percent chances per round.
  dropPercent: number;
  delayPercent: number;
  proposePercent: number;
  partitionPercent: number;
  crashPercent: number;
  snapshotPercent: number;
  confChangePercent: number;
  transferPercent: number;
  campaignPercent: number;
  // The backend of members added by conf changes; random between go and ts when 'mixed'.
  addBackend: Backend | 'mixed';
  maxMembers: number;
  // Whether membership changes include ConfChangeV2 joint changes (Fabric uses v1 only).
  jointConsensus: boolean;
  // Every how many rounds each node's Status goes into the trace (0: only when asked).
  statusEvery: number;
}

interface InFlight {
  deliverAt: number;
  from: number;
  to: number;
  type: MessageType;
  bytes: string;
}

interface Member {
  id: number;
  backend: Backend;
  handle: string;
  downUntil: number; // the round the node restarts at; 0 when up
  lead: number;
  raftState: number;
  term: number;
  commit: number;
  applied: number;
  confState: ConfState;
  // Applied its own removal and halted, as Fabric's chain does; etcd leaves that to the
  // application (a removed leader keeps its followers but drops every proposal).
  stopped: boolean;
  // Whether its applied configuration has included it since it (re)started.
  wasMember: boolean;
}

export interface SimulationStats {
  proposals: number;
  confChangesProposed: number;
  confChangesCommitted: number;
  restarts: number;
  snapshotsSent: number;
  snapshotsApplied: number;
  leaderTerms: number;
  partitioned: number;
  dropped: number;
  delayed: number;
  crossImplementation: number;
  // Snapshots sent between an etcd node and one of ours (either way).
  crossSnapshots: number;
  // Terms led by an etcd node, and by one of ours.
  goLeaderTerms: number;
  tsLeaderTerms: number;
  committed: number;
}

export const emptyStats = (): SimulationStats => ({
  proposals: 0,
  confChangesProposed: 0,
  confChangesCommitted: 0,
  restarts: 0,
  snapshotsSent: 0,
  snapshotsApplied: 0,
  leaderTerms: 0,
  partitioned: 0,
  dropped: 0,
  delayed: 0,
  crossImplementation: 0,
  crossSnapshots: 0,
  goLeaderTerms: 0,
  tsLeaderTerms: 0,
  committed: 0,
});

// The errors etcd's RawNode returns in normal operation; any other (etcd panics included) fails.
const EXPECTED_ERRORS = new Set([
  'raft proposal dropped',
  'raft: cannot step as peer not found',
  'raft: cannot step raft local message',
]);

export class RaftSafetyError extends Error {
  override name = 'RaftSafetyError';
}

const hostOf = (hosts: Record<Backend, Host>, b: Backend): Host => hosts[b];

// One group under one schedule. Each round is one batch per host: deliver due messages, random
// events, tick every live node, then handle each node's Ready; a node's outbound messages are
// delivered in a later round, maybe delayed (reordered), dropped or cut by a partition.
export class Simulation {
  readonly members = new Map<number, Member>();
  private readonly rand: ScheduleRandom;
  private inflight: InFlight[] = [];
  private partition = new Map<number, number>(); // id -> side; absent = side 0
  round = 0;
  healed = false;
  // Safety: the entry committed at each index (its raftpb bytes), the leader of each term.
  readonly committed = new Map<number, string>();
  readonly leaders = new Map<number, number>();
  readonly trace: string[] = [];
  // What the schedule exercised, so a test can assert its faults and traffic really happened.
  readonly stats: SimulationStats = emptyStats();
  private nextId: number;

  constructor(
    private readonly hosts: Record<Backend, Host>,
    private readonly prefix: string,
    readonly options: ScheduleOptions,
    private readonly config: NodeConfig = FABRIC_RAFT_CONFIG,
  ) {
    this.rand = new ScheduleRandom(options.seed);
    this.nextId = options.backends.length + 1;
  }

  private nodeSeed(id: number): number {
    return (Math.imul(this.options.seed, 0x9e3779b1) ^ id) >>> 0;
  }

  private member(id: number, backend: Backend): Member {
    const m: Member = {
      id,
      backend,
      handle: `${this.prefix}-${id}`,
      downUntil: 0,
      lead: 0,
      raftState: 0,
      term: 0,
      commit: 0,
      applied: 0,
      confState: emptyConfState(),
      stopped: false,
      wasMember: false,
    };
    this.members.set(id, m);
    return m;
  }

  async start(): Promise<void> {
    const peers = this.options.backends.map((_, i) => i + 1);
    const cmds = this.options.backends.map((backend, i) => {
      const m = this.member(i + 1, backend);
      return {
        m,
        cmd: {
          op: 'new',
          node: m.handle,
          id: m.id,
          seed: this.nodeSeed(m.id),
          peers,
          config: this.config,
        } as Command,
      };
    });
    await this.execute(cmds);
  }

  async close(): Promise<void> {
    await this.execute(
      [...this.members.values()].map((m) => ({ m, cmd: { op: 'drop', node: m.handle } as Command })),
    );
  }

  // Runs commands, each on its node's host, keeping their order per host (nodes share nothing,
  // so the order across hosts does not matter), and records them in the trace.
  private async execute(cmds: Array<{ m: Member; cmd: Command }>): Promise<CommandResult[]> {
    const byHost: Record<Backend, number[]> = { go: [], ts: [] };
    cmds.forEach((c, i) => byHost[c.m.backend].push(i));
    const results: CommandResult[] = new Array(cmds.length);
    await Promise.all(
      (['go', 'ts'] as const).map(async (b) => {
        const idx = byHost[b];
        if (idx.length === 0) return;
        const out = await hostOf(this.hosts, b).run(idx.map((i) => (cmds[i] as { cmd: Command }).cmd));
        idx.forEach((i, k) => {
          results[i] = out[k] as CommandResult;
        });
      }),
    );
    cmds.forEach(({ m, cmd }, i) => {
      const r = results[i] as CommandResult;
      const { node: _node, ...rest } = cmd as Command & { config?: unknown };
      if ('config' in rest) delete rest.config;
      this.trace.push(`r${this.round} n${m.id} ${JSON.stringify(rest)} -> ${JSON.stringify(r)}`);
      const bad = [r.error, r.proposeError].find((e) => e !== undefined && !EXPECTED_ERRORS.has(e));
      if (bad !== undefined) {
        throw new RaftSafetyError(`node ${m.id} (${m.backend}) failed on ${cmd.op}: ${bad}`);
      }
    });
    return results;
  }

  private live(): Member[] {
    return [...this.members.values()].filter((m) => m.downUntil === 0);
  }

  private cut(from: number, to: number): boolean {
    return (this.partition.get(from) ?? 0) !== (this.partition.get(to) ?? 0);
  }

  private leader(): Member | undefined {
    // The live node that believes itself leader with the highest term.
    let best: Member | undefined;
    for (const m of this.live()) {
      if (m.raftState === 2 && (best === undefined || m.term > best.term)) best = m;
    }
    return best;
  }

  // A snapshot at the applied index; the log is compacted up to it, or, like Fabric's
  // SnapshotCatchUpEntries, keeping a few entries before it for slow followers.
  private snapshotCommand(m: Member): Command {
    const keep = this.rand.chance(50) ? 0 : 4;
    return {
      op: 'snapshot',
      node: m.handle,
      data: b64(new TextEncoder().encode(`snap${m.id}@${this.round}`)),
      keep,
    };
  }

  // Heals the network and stops the faults, for the liveness check.
  heal(): void {
    this.healed = true;
    this.partition.clear();
  }

  async runRound(): Promise<void> {
    const o = this.options;
    const r = ++this.round;
    const cmds: Array<{ m: Member; cmd: Command }> = [];
    const faults = !this.healed;

    // Crashed nodes come back: a new RawNode over the storage the handled Readies saved.
    for (const m of this.members.values()) {
      if (m.downUntil !== 0 && !m.stopped && (m.downUntil <= r || this.healed)) {
        m.downUntil = 0;
        // Entries from the snapshot on are applied again after the restart.
        m.applied = 0;
        // A new RawNode starts as a follower without a leader and reports no SoftState for it.
        m.lead = 0;
        m.raftState = 0;
        cmds.push({ m, cmd: { op: 'restart', node: m.handle } });
        this.stats.restarts++;
      }
    }

    // Deliver what is due, in send order among equal delivery rounds.
    const due = this.inflight.filter((f) => f.deliverAt <= r);
    this.inflight = this.inflight.filter((f) => f.deliverAt > r);
    const unreachable = new Set<string>();
    for (const f of due) {
      const to = this.members.get(f.to);
      const from = this.members.get(f.from);
      if (to === undefined || from === undefined) continue;
      const lost =
        to.downUntil !== 0 || this.cut(f.from, f.to) || (faults && this.rand.chance(o.dropPercent));
      if (lost) {
        if (this.cut(f.from, f.to)) this.stats.partitioned++;
        else if (to.downUntil === 0) this.stats.dropped++;
        if (f.type === MessageType.MsgSnap && from.downUntil === 0) {
          cmds.push({ m: from, cmd: { op: 'reportSnapshot', node: from.handle, to: f.to, failure: true } });
        }
        const key = `${f.from}>${f.to}`;
        if (from.downUntil === 0 && this.cut(f.from, f.to) && !unreachable.has(key)) {
          unreachable.add(key);
          cmds.push({ m: from, cmd: { op: 'reportUnreachable', node: from.handle, to: f.to } });
        }
        continue;
      }
      cmds.push({ m: to, cmd: { op: 'step', node: to.handle, data: f.bytes } });
      if (to.backend !== from.backend) this.stats.crossImplementation++;
      if (f.type === MessageType.MsgSnap) {
        this.stats.snapshotsSent++;
        if (to.backend !== from.backend) this.stats.crossSnapshots++;
        if (from.downUntil === 0) {
          cmds.push({ m: from, cmd: { op: 'reportSnapshot', node: from.handle, to: f.to, failure: false } });
        }
      }
    }

    // Random events.
    const live = this.live();
    if (live.length > 0 && this.rand.chance(o.proposePercent)) {
      const target = this.rand.chance(70) ? (this.leader() ?? this.rand.pick(live)) : this.rand.pick(live);
      this.stats.proposals++;
      // Sizes up to a few hundred bytes, so that a small maxSizePerMsg splits appends.
      const tag = new TextEncoder().encode(`p${this.stats.proposals}@${r}:`);
      const payload = new Uint8Array(tag.length + (this.rand.chance(20) ? this.rand.int(400) : 0));
      payload.set(tag);
      const data = b64(payload);
      cmds.push({ m: target, cmd: { op: 'propose', node: target.handle, data } });
    }
    if (faults && this.rand.chance(o.partitionPercent)) {
      this.partition.clear();
      if (this.rand.chance(70)) {
        // Cut off a random minority (one node, or two of five), sometimes including the leader.
        const ids = [...this.members.keys()];
        const size = ids.length >= 5 && this.rand.chance(50) ? 2 : 1;
        for (let i = 0; i < size; i++) this.partition.set(this.rand.pick(ids), 1);
      }
    }
    if (faults && this.rand.chance(o.crashPercent)) {
      const victim = this.rand.pick([...this.members.values()]);
      if (victim.downUntil === 0) {
        victim.downUntil = r + 1 + this.rand.int(25);
        // Sometimes it dies after saving its last Ready but before sending its messages.
        if (this.rand.chance(50)) this.inflight = this.inflight.filter((f) => f.from !== victim.id);
      }
    }
    if (this.rand.chance(o.snapshotPercent)) {
      const m = this.rand.pick(this.live().length > 0 ? this.live() : [...this.members.values()]);
      if (m.downUntil === 0) {
        cmds.push({
          m,
          cmd: this.snapshotCommand(m),
        });
      }
    }
    if (faults && this.rand.chance(o.transferPercent)) {
      const lead = this.leader();
      const voters = lead?.confState.voters.filter((id) => id !== lead.id) ?? [];
      if (lead !== undefined && voters.length > 0) {
        cmds.push({ m: lead, cmd: { op: 'transferLeader', node: lead.handle, to: this.rand.pick(voters) } });
      }
    }
    if (this.rand.chance(o.confChangePercent)) this.confChange(cmds);
    if (faults && this.rand.chance(o.campaignPercent)) {
      const m = this.rand.pick(live.length > 0 ? live : [...this.members.values()]);
      if (m.downUntil === 0) cmds.push({ m, cmd: { op: 'campaign', node: m.handle } });
    }

    for (const m of this.live()) cmds.push({ m, cmd: { op: 'tick', node: m.handle } });
    // Ready is handled after everything else this round; a restarted node included.
    const readyAt = cmds.length;
    const lead = this.leader();
    const statusNow = o.statusEvery > 0 && r % o.statusEvery === 0;
    for (const m of this.live()) {
      if (m === lead && this.rand.chance(o.proposePercent / 4)) {
        this.stats.proposals++;
        const during = b64(new TextEncoder().encode(`d${this.stats.proposals}@${r}`));
        cmds.push({ m, cmd: { op: 'ready', node: m.handle, during } });
      } else {
        cmds.push({ m, cmd: { op: 'ready', node: m.handle } });
      }
      // Status after the Ready: the leader's progress of each peer, compared in lockstep.
      if (statusNow) cmds.push({ m, cmd: { op: 'status', node: m.handle } });
    }

    const results = await this.execute(cmds);
    for (let i = 0; i < readyAt; i++) {
      const { m, cmd } = cmds[i] as { m: Member; cmd: Command };
      const restartedWith = (results[i] as CommandResult).confState;
      if (cmd.op === 'restart' && restartedWith !== undefined) {
        m.confState = decodeConfState(unb64(restartedWith));
        m.wasMember = inConfState(m.confState, m.id);
      }
    }
    for (let i = readyAt; i < cmds.length; i++) {
      const { m } = cmds[i] as { m: Member };
      const rd = (results[i] as CommandResult).ready;
      if (rd !== undefined && rd !== null) this.absorb(m, rd);
    }
  }

  // Proposes a membership change at the leader: add a voter or learner (a new, empty node started
  // now, which the leader catches up with entries or a snapshot), promote a learner, or remove a
  // follower while at least three voters remain.
  private confChange(cmds: Array<{ m: Member; cmd: Command }>): void {
    const lead = this.leader();
    if (lead === undefined) return;
    const cs = lead.confState;
    const choice = this.rand.int(this.options.jointConsensus ? 6 : 4);
    const addNode = (): number => {
      const id = this.nextId++;
      const ab = this.options.addBackend;
      const backend: Backend = ab === 'mixed' ? (this.rand.chance(50) ? 'go' : 'ts') : ab;
      const m = this.member(id, backend);
      cmds.push({
        m,
        cmd: { op: 'new', node: m.handle, id, seed: this.nodeSeed(id), peers: [], config: this.config },
      });
      return id;
    };
    if (choice === 4 && cs.votersOutgoing.length > 0) {
      this.proposeLeaveJoint(cmds, lead);
      return;
    }
    if (choice === 5 && cs.votersOutgoing.length === 0 && cs.voters.length >= 3) {
      // Replace a voter in one joint change: v2 with two changes always goes through a joint
      // configuration, left automatically (Auto, JointImplicit) or by an explicit empty change.
      const followers = cs.voters.filter((id) => id !== lead.id);
      const changes = [{ type: ConfChangeType.RemoveNode, nodeId: this.rand.pick(followers) }];
      if (this.members.size < this.options.maxMembers)
        changes.unshift({ type: ConfChangeType.AddNode, nodeId: addNode() });
      const transition = this.rand.pick([
        ConfChangeTransition.Auto,
        ConfChangeTransition.JointImplicit,
        ConfChangeTransition.JointExplicit,
      ]);
      this.stats.confChangesProposed++;
      const data = b64(encodeConfChangeV2({ transition, changes, context: undefined }));
      cmds.push({ m: lead, cmd: { op: 'proposeConfChangeV2', node: lead.handle, data } });
      return;
    }
    let cc: { type: ConfChangeType; nodeId: number } | undefined;
    if (choice <= 1 && this.members.size < this.options.maxMembers) {
      cc = { type: choice === 0 ? ConfChangeType.AddNode : ConfChangeType.AddLearnerNode, nodeId: addNode() };
    } else if (choice === 2 && cs.learners.length > 0) {
      cc = { type: ConfChangeType.AddNode, nodeId: this.rand.pick(cs.learners) };
    } else if (choice === 3 && cs.voters.length > 3) {
      // Mostly a follower; sometimes the leader itself, which steps down once it applies it.
      const followers = cs.voters.filter((id) => id !== lead.id);
      const victim = this.rand.chance(20) ? lead.id : this.rand.pick(followers);
      cc = { type: ConfChangeType.RemoveNode, nodeId: victim };
    }
    if (cc === undefined) return;
    this.stats.confChangesProposed++;
    const data = b64(marshalConfChange({ ...cc, id: this.stats.confChangesProposed, context: undefined }));
    cmds.push({ m: lead, cmd: { op: 'proposeConfChange', node: lead.handle, data } });
  }

  private proposeLeaveJoint(cmds: Array<{ m: Member; cmd: Command }>, lead: Member): void {
    this.stats.confChangesProposed++;
    const data = b64(
      encodeConfChangeV2({ transition: ConfChangeTransition.Auto, changes: [], context: undefined }),
    );
    cmds.push({ m: lead, cmd: { op: 'proposeConfChangeV2', node: lead.handle, data } });
  }

  // Takes in a handled Ready: checks safety, and queues its messages on the network.
  private absorb(m: Member, rd: ReadyRecord): void {
    if (m.backend === 'go') checkWireRoundTrip(m.id, rd);
    if (rd.hardState !== null) {
      const hs = decodeHardState(unb64(rd.hardState));
      if (hs.term < m.term)
        throw new RaftSafetyError(`node ${m.id}: term went back from ${m.term} to ${hs.term}`);
      if (hs.commit < m.commit) {
        throw new RaftSafetyError(`node ${m.id}: commit went back from ${m.commit} to ${hs.commit}`);
      }
      m.term = hs.term;
      m.commit = hs.commit;
    }
    if (rd.softState !== null) {
      m.lead = rd.softState.lead;
      m.raftState = rd.softState.raftState;
      if (m.raftState === 2) {
        // Election safety: at most one leader per term.
        const other = this.leaders.get(m.term);
        if (other !== undefined && other !== m.id) {
          throw new RaftSafetyError(`two leaders in term ${m.term}: ${other} and ${m.id}`);
        }
        if (other === undefined) {
          this.stats.leaderTerms++;
          if (m.backend === 'go') this.stats.goLeaderTerms++;
          else this.stats.tsLeaderTerms++;
        }
        this.leaders.set(m.term, m.id);
      }
    }
    if (rd.snapshot !== null) {
      this.stats.snapshotsApplied++;
      // A snapshot stands for the committed entries up to its index; record its index only.
      const index = decodeSnapshotIndex(rd.snapshot);
      if (index < m.applied)
        throw new RaftSafetyError(`node ${m.id}: snapshot ${index} behind applied ${m.applied}`);
      m.applied = index;
    }
    if (rd.confState !== null) m.confState = decodeConfState(unb64(rd.confState));
    for (const text of rd.committed) {
      const e = decodeEntry(unb64(text));
      if (m.applied !== 0 && e.index !== m.applied + 1) {
        throw new RaftSafetyError(`node ${m.id}: applied ${shortEntry(e)} after index ${m.applied}`);
      }
      m.applied = e.index;
      // State machine safety: every node applies the same entry at each index, encoded to the
      // same bytes whichever implementation encoded it.
      const seen = this.committed.get(e.index);
      if (seen === undefined) {
        this.committed.set(e.index, text);
        this.stats.committed++;
      } else if (seen !== text) {
        throw new RaftSafetyError(
          `node ${m.id} (${m.backend}) applied ${shortEntry(e)} at index ${e.index} where another node ` +
            `applied ${shortEntry(decodeEntry(unb64(seen)))}`,
        );
      }
      if (e.type === EntryType.ConfChange && e.data.length > 0) {
        const cc = decodeConfChange(e.data);
        // Bootstrap entries carry ID 0; the schedule's changes count from 1.
        if (seen === undefined && cc.id > 0) this.stats.confChangesCommitted++;
      }
      if (e.type === EntryType.ConfChangeV2 && seen === undefined) this.stats.confChangesCommitted++;
    }
    if (rd.confState !== null) {
      if (inConfState(m.confState, m.id)) m.wasMember = true;
      else if (m.wasMember) {
        m.stopped = true;
        m.downUntil = Number.POSITIVE_INFINITY;
      }
    }
    for (const text of rd.messages) {
      const msg = decodeMessage(unb64(text));
      const delayed = !this.healed && this.rand.chance(this.options.delayPercent);
      if (delayed) this.stats.delayed++;
      this.inflight.push({
        deliverAt: this.round + 1 + (delayed ? 1 + this.rand.int(3) : 0),
        from: msg.from,
        to: msg.to,
        type: msg.type,
        bytes: text,
      });
    }
  }

  // Liveness after healing: a leader emerges and a final proposal reaches every voter of its
  // configuration. Returns the rounds it took; throws when it does not happen in time.
  async converge(maxRounds = 400): Promise<number> {
    this.heal();
    const start = this.round;
    const marker = b64(new TextEncoder().encode(`final@${this.options.seed}`));
    let proposedAt = -1;
    while (this.round - start < maxRounds) {
      if ((this.round - start) % 20 === 10) {
        // A node added after the leader's last snapshot ignores that snapshot (etcd's restore
        // refuses one whose ConfState lacks the node), and the leader has nothing else to send
        // it once the entries are compacted. Fresh snapshots carry the current configuration,
        // as an application taking snapshots as it goes would.
        await this.execute(this.live().map((m) => ({ m, cmd: this.snapshotCommand(m) })));
      }
      await this.runRound();
      const lead = this.leader();
      if (lead === undefined) continue;
      if (proposedAt < 0 || this.round - proposedAt > 40) {
        // (Re)propose: an earlier attempt may have been dropped by a leader change.
        proposedAt = this.round;
        const cmds: Array<{ m: Member; cmd: Command }> = [
          { m: lead, cmd: { op: 'propose', node: lead.handle, data: marker } },
        ];
        // An explicit joint configuration stays until it is left explicitly.
        if (lead.confState.votersOutgoing.length > 0 && !lead.confState.autoLeave)
          this.proposeLeaveJoint(cmds, lead);
        await this.execute(cmds);
        continue;
      }
      const index = [...this.committed.entries()].find(([, text]) => entryData(text) === marker)?.[0];
      if (index === undefined) continue;
      const voters = lead.confState.voters;
      if (voters.every((id) => (this.members.get(id)?.applied ?? 0) >= index)) return this.round - start;
    }
    throw new RaftSafetyError(
      `no progress: ${maxRounds} rounds after healing, the final proposal did not reach every voter ` +
        `(members ${[...this.members.values()].map((m) => `${m.id}:${m.backend} state=${m.raftState} term=${m.term} applied=${m.applied} voters=${m.confState.voters.join(',')}`).join('; ')})`,
    );
  }

  // Every node's Status (lead, state, term, commit, applied, last index, configuration), into
  // the trace, so that lockstep runs compare the end states too.
  async statuses(): Promise<StatusInfo[]> {
    const results = await this.execute(
      this.live().map((m) => ({ m, cmd: { op: 'status', node: m.handle } })),
    );
    return results.map((r, i) => {
      if (r.status === undefined) throw new Error(`status of node ${this.live()[i]?.id}: ${r.error}`);
      return r.status;
    });
  }
}

// An entry as describeEntry prints it, its data cut short so that reports stay readable.
function shortEntry(e: Entry): string {
  const text = describeEntry(e);
  return text.length > 120 ? `${text.slice(0, 100)}… (${e.data.length} data bytes)` : text;
}

function shortMessage(bytes: Uint8Array): string {
  const text = describeMessage(decodeMessage(bytes));
  return text.length > 240 ? `${text.slice(0, 220)}…` : text;
}

const inConfState = (cs: ConfState, id: number): boolean =>
  [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext].some((ids) => ids.includes(id));

const entryData = (text: string): string => b64(decodeEntry(unb64(text)).data);

// wire.ts must decode what etcd's gogoproto Marshal wrote and encode it back to the same bytes.
function checkWireRoundTrip(id: number, rd: ReadyRecord): void {
  const check = (what: string, text: string, again: (bytes: Uint8Array) => Uint8Array): void => {
    const back = b64(again(unb64(text)));
    if (back !== text) {
      throw new RaftSafetyError(`wire.ts re-encodes etcd node ${id}'s ${what} ${text} as ${back}`);
    }
  };
  if (rd.hardState !== null) check('HardState', rd.hardState, (b) => encodeHardState(decodeHardState(b)));
  if (rd.snapshot !== null) check('Snapshot', rd.snapshot, (b) => encodeSnapshot(decodeSnapshot(b)));
  if (rd.confState !== null) check('ConfState', rd.confState, (b) => encodeConfState(decodeConfState(b)));
  for (const e of [...rd.entries, ...rd.committed]) check('Entry', e, (b) => encodeEntry(decodeEntry(b)));
  for (const msg of rd.messages) check('Message', msg, (b) => encodeMessage(decodeMessage(b)));
}

const decodeSnapshotIndex = (text: string): number => decodeSnapshot(unb64(text)).metadata.index;

// Describes a trace line's base64 payloads as raftpb, for a divergence report.
export function describeTraceLine(line: string): string {
  const arrow = line.indexOf(' -> ');
  if (arrow < 0) return line;
  try {
    const result = JSON.parse(line.slice(arrow + 4)) as CommandResult;
    const rd = result.ready;
    const step = /^(r\d+ n\d+) \{"op":"step","data":"([^"]*)"\}$/.exec(line.slice(0, arrow));
    if (step !== null) {
      return `${step[1]} step ${shortMessage(unb64(step[2] as string))} -> ${line.slice(arrow + 4)}`;
    }
    if (rd === undefined || rd === null) return line;
    const parts = [
      rd.softState === null ? '' : `soft=${JSON.stringify(rd.softState)}`,
      rd.hardState === null ? '' : `hs=${JSON.stringify(decodeHardState(unb64(rd.hardState)))}`,
      ...rd.entries.map((e) => `ent ${shortEntry(decodeEntry(unb64(e)))}`),
      ...rd.committed.map((e) => `commit ${shortEntry(decodeEntry(unb64(e)))}`),
      ...rd.messages.map((msg) => `msg ${shortMessage(unb64(msg))}`),
      rd.snapshot === null ? '' : `snap index ${decodeSnapshotIndex(rd.snapshot)}`,
    ].filter((p) => p !== '');
    return `${line.slice(0, arrow)} ->\n      ${parts.join('\n      ')}`;
  } catch {
    return line;
  }
}
