// Test support after etcd raft v3.5.9 raft_test.go: test configs, storage with peers, and the
// deterministic in-memory `network` (send, drop, cut, isolate, ignore, recover) that delivers
// messages between Raft state machines synchronously until none are left.
import { Raft, seededRandom } from '../../src/consensus/etcdraft/raft/raft.js';
import type { Config, RandomIntn } from '../../src/consensus/etcdraft/raft/raft.js';
import { MemoryStorage } from '../../src/consensus/etcdraft/raft/storage.js';
import { JointConfig } from '../../src/consensus/etcdraft/raft/quorum/joint.js';
import { MajorityConfig } from '../../src/consensus/etcdraft/raft/quorum/majority.js';
import { Inflights } from '../../src/consensus/etcdraft/raft/tracker/inflights.js';
import { Progress } from '../../src/consensus/etcdraft/raft/tracker/progress.js';
import { ProgressTracker, TrackerConfig } from '../../src/consensus/etcdraft/raft/tracker/tracker.js';
import type { ConfState, Entry, Message } from '../../src/consensus/etcdraft/raft/types.js';
import { MessageType, newEntry } from '../../src/consensus/etcdraft/raft/types.js';

export const NO_LIMIT = Number.MAX_SAFE_INTEGER;

export interface StateMachine {
  step(m: Message): void;
  readMessages(): Message[];
}

// etcd's blackHole: a peer that swallows everything.
export class BlackHole implements StateMachine {
  step(): void {}
  readMessages(): Message[] {
    return [];
  }
}
export const nopStepper = new BlackHole();

export function readMessages(r: Raft): Message[] {
  const msgs = r.msgs;
  r.msgs = [];
  return msgs;
}

const asStateMachine = (r: Raft): StateMachine => ({
  step: (m) => {
    try {
      r.step(m);
    } catch {
      // Like etcd's network, errors from Step (dropped proposals) are ignored.
    }
  },
  readMessages: () => readMessages(r),
});

// The ConfState inside a MemoryStorage's initial (empty) snapshot, which etcd's tests set
// directly (ms.snapshot.Metadata.ConfState) to give a fresh node its peers.
function storageConfState(ms: MemoryStorage): ConfState {
  return ms.initialState().confState;
}

export function newTestMemoryStorage(opts: { peers?: number[]; learners?: number[] } = {}): MemoryStorage {
  const ms = new MemoryStorage();
  const cs = storageConfState(ms);
  if (opts.peers !== undefined) cs.voters = opts.peers.slice();
  if (opts.learners !== undefined) cs.learners = opts.learners.slice();
  return ms;
}

export const idsBySize = (size: number): number[] => Array.from({ length: size }, (_, i) => i + 1);

export function newTestConfig(
  id: number,
  election: number,
  heartbeat: number,
  storage: MemoryStorage,
  random: RandomIntn = seededRandom(id),
): Config {
  return {
    id,
    electionTick: election,
    heartbeatTick: heartbeat,
    storage,
    maxSizePerMsg: NO_LIMIT,
    maxInflightMsgs: 256,
    random,
  };
}

export function newTestRaft(id: number, election: number, heartbeat: number, storage: MemoryStorage): Raft {
  return new Raft(newTestConfig(id, election, heartbeat, storage));
}

export function mustAppendEntry(r: Raft, ents: Entry[]): void {
  if (!r.appendEntry(ents)) throw new Error('entry unexpectedly dropped');
}

// etcd's nextEnts: moves unstable entries to storage and returns (and applies) the committed.
export function nextEnts(r: Raft, s: MemoryStorage): Entry[] {
  s.append(r.raftLog.unstableEntries());
  r.raftLog.stableTo(r.raftLog.lastIndex(), r.raftLog.lastTerm());
  const ents = r.raftLog.nextEnts();
  r.raftLog.appliedTo(r.raftLog.committed);
  return ents;
}

// etcd's entsWithConfig: a raft whose log holds one entry per given term.
export function entsWithConfig(configFunc: ((c: Config) => void) | undefined, terms: number[]): Raft {
  const storage = new MemoryStorage();
  terms.forEach((term, i) => storage.append([newEntry({ index: i + 1, term })]));
  const cfg = newTestConfig(1, 5, 1, storage);
  configFunc?.(cfg);
  const sm = new Raft(cfg);
  sm.reset(terms[terms.length - 1] as number);
  return sm;
}

// etcd's votedWithConfig: a raft with Vote and Term set but no log entries.
export function votedWithConfig(
  configFunc: ((c: Config) => void) | undefined,
  vote: number,
  term: number,
): Raft {
  const storage = new MemoryStorage();
  storage.setHardState({ vote, term, commit: 0 });
  const cfg = newTestConfig(1, 5, 1, storage);
  configFunc?.(cfg);
  const sm = new Raft(cfg);
  sm.reset(term);
  return sm;
}

export const preVoteConfig = (c: Config): void => {
  c.preVote = true;
};

type Peer = Raft | BlackHole | undefined;

export class Network {
  readonly peers = new Map<number, StateMachine>();
  readonly rafts = new Map<number, Raft>();
  readonly storage = new Map<number, MemoryStorage>();
  private dropm = new Map<string, number>();
  private ignorem = new Set<MessageType>();
  // Called for each message sent; returns true to send it, false to drop it.
  msgHook: ((m: Message) => boolean) | undefined = undefined;
  private readonly random: () => number;

  // etcd's newNetworkWithConfig: undefined peers become fresh rafts (election 10, heartbeat 1)
  // with ids 1..n; given rafts are re-wired to ids 1..n; BlackHoles stay as they are. drop
  // percentages are decided by a seeded PRNG so runs repeat.
  constructor(configFunc: ((c: Config) => void) | undefined, peers: Peer[], seed = 1) {
    const rand = seededRandom(seed);
    this.random = () => rand(1_000_000) / 1_000_000;
    const size = peers.length;
    const peerAddrs = idsBySize(size);
    peers.forEach((p, j) => {
      const id = peerAddrs[j] as number;
      if (p === undefined) {
        const st = newTestMemoryStorage({ peers: peerAddrs });
        this.storage.set(id, st);
        const cfg = newTestConfig(id, 10, 1, st);
        configFunc?.(cfg);
        const sm = new Raft(cfg);
        this.rafts.set(id, sm);
        this.peers.set(id, asStateMachine(sm));
      } else if (p instanceof Raft) {
        const learners = new Set(p.prs.config.learners ?? []);
        p.id = id;
        p.prs = new ProgressTracker(p.prs.maxInflight);
        const voters: number[] = [];
        const lrn: number[] = [];
        for (const addr of peerAddrs) {
          const pr = new Progress({ inflights: new Inflights(p.prs.maxInflight) });
          if (learners.has(addr)) {
            pr.isLearner = true;
            lrn.push(addr);
          } else voters.push(addr);
          p.prs.progress.set(addr, pr);
        }
        p.prs.config = new TrackerConfig({
          voters: new JointConfig(new MajorityConfig(voters)),
          learners: learners.size > 0 ? new Set(lrn) : undefined,
        });
        p.reset(p.term);
        this.rafts.set(id, p);
        this.peers.set(id, asStateMachine(p));
      } else {
        this.peers.set(id, p);
      }
    });
  }

  static of(...peers: Peer[]): Network {
    return new Network(undefined, peers);
  }

  raft(id: number): Raft {
    const r = this.rafts.get(id);
    if (r === undefined) throw new Error(`peer ${id} is not a raft`);
    return r;
  }

  send(...input: Message[]): void {
    const msgs = input.slice();
    while (msgs.length > 0) {
      const m = msgs.shift() as Message;
      const p = this.peers.get(m.to);
      if (p === undefined) continue;
      p.step(m);
      msgs.push(...this.filter(p.readMessages()));
    }
  }

  drop(from: number, to: number, perc: number): void {
    this.dropm.set(`${from}->${to}`, perc);
  }

  cut(one: number, other: number): void {
    this.drop(one, other, 2.0); // always drop
    this.drop(other, one, 2.0); // always drop
  }

  isolate(id: number): void {
    for (let i = 0; i < this.peers.size; i++) {
      const nid = i + 1;
      if (nid !== id) {
        this.drop(id, nid, 1.0); // always drop
        this.drop(nid, id, 1.0); // always drop
      }
    }
  }

  ignore(t: MessageType): void {
    this.ignorem.add(t);
  }

  recover(): void {
    this.dropm = new Map();
    this.ignorem = new Set();
  }

  filter(msgs: Message[]): Message[] {
    const mm: Message[] = [];
    for (const m of msgs) {
      if (this.ignorem.has(m.type)) continue;
      if (m.type === MessageType.MsgHup) throw new Error('unexpected msgHup');
      const perc = this.dropm.get(`${m.from}->${m.to}`) ?? 0;
      if (this.random() < perc) continue;
      if (this.msgHook !== undefined && !this.msgHook(m)) continue;
      mm.push(m);
    }
    return mm;
  }
}

// A comparable view of messages (plain objects, data as hex), as reflect.DeepEqual compares them.
export function msgView(m: Message): Record<string, unknown> {
  return {
    type: MessageType[m.type],
    to: m.to,
    from: m.from,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map(entView),
    commit: m.commit,
    snapshot: m.snapshot === undefined ? undefined : m.snapshot.metadata.index,
    reject: m.reject,
    rejectHint: m.rejectHint,
    context: m.context === undefined || m.context.length === 0 ? '' : Buffer.from(m.context).toString('hex'),
  };
}

export function entView(e: Entry): Record<string, unknown> {
  return { term: e.term, index: e.index, type: e.type, data: Buffer.from(e.data).toString('hex') };
}

// etcd's messageSlice sort order: by the message's String() form; in practice tests sort by to.
export const sortMessages = (msgs: Message[]): Message[] =>
  msgs.slice().sort((a, b) => a.to - b.to || a.type - b.type || a.index - b.index);
