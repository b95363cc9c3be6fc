// Seeded property test of the Raft paper's safety rules over simulated 3- and 5-node groups of
// RawNodes (PreVote and CheckQuorum on, as Fabric runs them) with random partitions, drops,
// reordering and crash-restarts from the persisted MemoryStorage. Checks: election safety (at
// most one leader per term), log matching, and state machine safety (no two nodes, and no node
// across restarts, ever apply different entries at an index). The seed is in every failure.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRaftError } from '../../../../../src/consensus/etcdraft/raft/errors.js';
import { RawNode } from '../../../../../src/consensus/etcdraft/raft/rawnode.js';
import { StateType, seededRandom } from '../../../../../src/consensus/etcdraft/raft/raft.js';
import type { RandomIntn } from '../../../../../src/consensus/etcdraft/raft/raft.js';
import { MemoryStorage } from '../../../../../src/consensus/etcdraft/raft/storage.js';
import type { Entry, Message } from '../../../../../src/consensus/etcdraft/raft/types.js';
import {
  ConfChangeType,
  EntryType,
  isEmptyHardState,
  isEmptySnap,
} from '../../../../../src/consensus/etcdraft/raft/types.js';

// The node id (field 3) and type (field 2) of an encoded raftpb.ConfChange.
function decodeConfChange(data: Uint8Array): { type: ConfChangeType; nodeId: number } {
  let pos = 0;
  const varint = () => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = data[pos++] as number;
      v += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return v;
      mul *= 128;
    }
  };
  let type = ConfChangeType.AddNode;
  let nodeId = 0;
  while (pos < data.length) {
    const key = varint();
    if ((key & 7) === 2) {
      pos += varint();
      continue;
    }
    const v = varint();
    if (key >> 3 === 2) type = v;
    if (key >> 3 === 3) nodeId = v;
  }
  return { type, nodeId };
}

interface SimNode {
  id: number;
  storage: MemoryStorage;
  node: RawNode;
  up: boolean;
  // index -> "term:data" of every entry this node ever applied (kept across restarts).
  applied: Map<number, string>;
}

class Simulation {
  readonly nodes: SimNode[] = [];
  readonly queue: Message[] = [];
  readonly leaderOfTerm = new Map<number, number>();
  readonly cut = new Set<string>();
  readonly rand: RandomIntn;
  private proposals = 0;

  constructor(
    readonly seed: number,
    readonly size: number,
  ) {
    this.rand = seededRandom(seed);
    const peers = Array.from({ length: size }, (_, i) => ({ id: i + 1 }));
    for (const { id } of peers) {
      const storage = new MemoryStorage();
      const node = this.newNode(id, storage);
      node.bootstrap(peers);
      this.nodes.push({ id, storage, node, up: true, applied: new Map() });
    }
  }

  private newNode(id: number, storage: MemoryStorage): RawNode {
    return new RawNode({
      id,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      checkQuorum: true,
      preVote: true,
      random: seededRandom(this.seed * 31 + id),
    });
  }

  fail(message: string): never {
    assert.fail(`seed ${this.seed} (size ${this.size}): ${message}`);
  }

  // The application's Ready loop: persist, then send, then apply, then advance.
  processReady(n: SimNode): void {
    while (n.up && n.node.hasReady()) {
      const rd = n.node.ready();
      if (!isEmptySnap(rd.snapshot)) n.storage.applySnapshot(rd.snapshot);
      n.storage.append(rd.entries);
      if (!isEmptyHardState(rd.hardState)) n.storage.setHardState(rd.hardState);
      this.queue.push(...rd.messages);
      for (const e of rd.committedEntries) this.apply(n, e);
      n.node.advance(rd);
      const st = n.node.raft;
      if (st.state === StateType.StateLeader) {
        const other = this.leaderOfTerm.get(st.term);
        if (other !== undefined && other !== n.id)
          this.fail(`two leaders in term ${st.term}: ${other} and ${n.id}`);
        this.leaderOfTerm.set(st.term, n.id);
      }
    }
  }

  private apply(n: SimNode, e: Entry): void {
    const key = `${e.term}:${e.type}:${Buffer.from(e.data).toString('hex')}`;
    const before = n.applied.get(e.index);
    if (before !== undefined && before !== key)
      this.fail(`node ${n.id} re-applied index ${e.index} differently`);
    n.applied.set(e.index, key);
    for (const other of this.nodes) {
      const theirs = other.applied.get(e.index);
      if (theirs !== undefined && theirs !== key) {
        this.fail(`nodes ${other.id} and ${n.id} applied different entries at index ${e.index}`);
      }
    }
    if (e.type === EntryType.ConfChange)
      n.node.applyConfChange({ ...decodeConfChange(e.data), context: undefined, id: 0 });
  }

  deliver(m: Message): void {
    const to = this.nodes[m.to - 1];
    if (to === undefined || !to.up || this.cut.has(`${m.from}-${m.to}`)) return;
    try {
      to.node.step(m);
    } catch (err) {
      if (!isRaftError(err, 'proposal-dropped') && !isRaftError(err, 'step-peer-not-found')) throw err;
    }
  }

  propose(n: SimNode): void {
    try {
      n.node.propose(new TextEncoder().encode(`s${this.seed}-p${this.proposals++}`));
    } catch (err) {
      if (!isRaftError(err, 'proposal-dropped')) throw err;
    }
  }

  crash(n: SimNode): void {
    n.up = false;
  }

  restart(n: SimNode): void {
    n.node = this.newNode(n.id, n.storage);
    n.up = true;
  }

  partition(): void {
    this.cut.clear();
    const side = new Set(this.nodes.filter(() => this.rand(2) === 0).map((n) => n.id));
    for (const a of this.nodes)
      for (const b of this.nodes) if (side.has(a.id) !== side.has(b.id)) this.cut.add(`${a.id}-${b.id}`);
  }

  // One scheduling step: some ticks, a proposal, a fault now and then, and message delivery
  // with drops and reordering.
  round(faults: boolean): void {
    for (const n of this.nodes) if (n.up && this.rand(3) === 0) n.node.tick();
    const target = this.nodes[this.rand(this.size)] as SimNode;
    if (target.up && this.rand(4) === 0) this.propose(target);
    if (faults) {
      const f = this.rand(100);
      if (f < 2) this.partition();
      else if (f < 4) this.cut.clear();
      else if (f < 6 && target.up && this.nodes.filter((n) => !n.up).length < Math.floor((this.size - 1) / 2))
        this.crash(target);
      else if (f < 9 && !target.up) this.restart(target);
    }
    for (const n of this.nodes) this.processReady(n);
    const deliveries = this.queue.length;
    for (let i = 0; i < deliveries && this.queue.length > 0; i++) {
      const at = faults ? this.rand(this.queue.length) : 0;
      const [m] = this.queue.splice(at, 1) as [Message];
      if (faults && this.rand(10) === 0) continue;
      this.deliver(m);
    }
    for (const n of this.nodes) this.processReady(n);
  }

  checkLogMatching(): void {
    const logs = this.nodes.map((n) => n.node.raft.raftLog.allEntries());
    for (let a = 0; a < logs.length; a++) {
      for (let b = a + 1; b < logs.length; b++) {
        const la = new Map((logs[a] as Entry[]).map((e) => [e.index, e]));
        const lb = new Map((logs[b] as Entry[]).map((e) => [e.index, e]));
        let matched = false;
        const top = Math.max(...la.keys(), ...lb.keys(), 0);
        for (let i = top; i > 0; i--) {
          const ea = la.get(i);
          const eb = lb.get(i);
          if (ea === undefined || eb === undefined) {
            matched = false;
            continue;
          }
          if (ea.term === eb.term) matched = true;
          if (matched && (ea.term !== eb.term || Buffer.compare(ea.data, eb.data) !== 0)) {
            this.fail(`log matching violated between ${a + 1} and ${b + 1} at index ${i}`);
          }
        }
      }
    }
  }
}

function runSchedule(seed: number, size: number): void {
  const sim: Simulation = new Simulation(seed, size);
  for (let i = 0; i < 300; i++) sim.round(true);
  sim.checkLogMatching();
  // Heal everything: the group must elect and commit a fresh proposal on every node.
  sim.cut.clear();
  for (const n of sim.nodes) if (!n.up) sim.restart(n);
  let leader: SimNode | undefined;
  for (let i = 0; i < 2000 && leader === undefined; i++) {
    sim.round(false);
    leader = sim.nodes.find(
      (n) => n.node.raft.state === StateType.StateLeader && n.node.raft.committedEntryInCurrentTerm(),
    );
  }
  if (leader === undefined) sim.fail('no leader after healing');
  const lastBefore = leader.node.raft.raftLog.lastIndex();
  sim.propose(leader);
  for (let i = 0; i < 2000 && !sim.nodes.every((n) => n.applied.has(lastBefore + 1)); i++) sim.round(false);
  if (!sim.nodes.every((n) => n.applied.has(lastBefore + 1)))
    sim.fail('final proposal not applied everywhere');
  sim.checkLogMatching();
}

describe('Raft safety properties over seeded random schedules', () => {
  for (const size of [3, 5]) {
    it(`a ${size}-node group with partitions, drops, reordering and crash-restarts`, () => {
      const base = Number(process.env.RAFT_PROPERTY_SEED ?? 1);
      const count = Number(process.env.RAFT_PROPERTY_RUNS ?? 25);
      for (let seed = base; seed < base + count; seed++) runSchedule(seed, size);
    });
  }
});
