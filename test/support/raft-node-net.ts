// A group of RaftNode drivers on one ManualClock, each on a real RaftWal in a temp dir, joined by
// an in-memory transport that carries the encoded bytes (wire.ts) as the cluster service would.
// Nothing moves until the test ticks or settles: settle() delivers queued messages and waits for
// every node's Ready loop to go idle, until no message is left, so runs are deterministic.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../src/clock.js';
import { RaftNode, type RaftNodeOptions, type RaftNodeWal } from '../../src/consensus/etcdraft/node.js';
import { NONE, seededRandom, type Entry, type Message } from '../../src/consensus/etcdraft/raft/index.js';
import { StateType } from '../../src/consensus/etcdraft/raft/raft.js';
import { decodeMessage, encodeMessage } from '../../src/consensus/etcdraft/raft/wire.js';
import { RaftWal, type RaftSave } from '../../src/consensus/etcdraft/storage/index.js';

export const CHANNEL = 'ch';
export const TICK_MS = 100;

/** What one member's application saw, kept across restarts as a ledger would be. */
export interface MemberLedger {
  /** Normal entries with data, in the order they were applied. */
  readonly applied: Entry[];
  /** Every index handed to onCommitted, to check nothing is handed twice. */
  readonly delivered: number[];
  /** Indexes of the snapshots the application was told to catch up to. */
  readonly snapshots: number[];
  lastIndex: number;
}

/** Wraps the WAL to let a test see or hold saves. */
export type WalWrapper = (id: number, wal: RaftNodeWal) => RaftNodeWal;

interface Member {
  node: RaftNode;
  wal: RaftWal;
}

interface Queued {
  from: number;
  to: number;
  bytes: Uint8Array;
}

export class RaftNodeNet {
  readonly clock = new ManualClock();
  readonly ids: number[];
  readonly ledgers = new Map<number, MemberLedger>();
  readonly leaderChanges: { id: number; leader: number; term: number }[] = [];
  /** Transport events in send order (the order test reads them). */
  readonly sent: { from: number; message: Message }[] = [];
  readonly errors: Error[] = [];
  private readonly members = new Map<number, Member>();
  private readonly isolated = new Set<number>();
  private queue: Queued[] = [];
  private root = '';
  private readonly wrapWal: WalWrapper | undefined;
  private readonly optionOverrides: Partial<RaftNodeOptions>;
  private readonly onSend: ((from: number, message: Message) => void) | undefined;
  private readonly failSend: ((from: number, message: Message) => boolean) | undefined;

  constructor(
    size: number,
    settings: {
      wrapWal?: WalWrapper;
      options?: Partial<RaftNodeOptions>;
      onSend?: (from: number, message: Message) => void;
      /** Makes a send fail as a broken stream would (the message is not delivered). */
      failSend?: (from: number, message: Message) => boolean;
    } = {},
  ) {
    this.ids = Array.from({ length: size }, (_, i) => i + 1);
    this.wrapWal = settings.wrapWal;
    this.onSend = settings.onSend;
    this.failSend = settings.failSend;
    this.optionOverrides = settings.options ?? {};
    for (const id of this.ids)
      this.ledgers.set(id, { applied: [], delivered: [], snapshots: [], lastIndex: 0 });
  }

  async init(): Promise<void> {
    this.root = await mkdtemp(path.join(tmpdir(), 'raft-node-net-'));
  }

  async close(): Promise<void> {
    for (const id of [...this.members.keys()]) await this.stop(id);
    if (this.root !== '') await rm(this.root, { recursive: true, force: true });
  }

  node(id: number): RaftNode {
    const member = this.members.get(id);
    if (member === undefined) throw new Error(`node ${id} is not running`);
    return member.node;
  }

  running(): number[] {
    return [...this.members.keys()];
  }

  /** Opens the member's WAL (recovering whatever it holds) and starts its node. */
  async start(id: number, options: Partial<RaftNodeOptions> = {}): Promise<RaftNode> {
    if (this.members.has(id)) throw new Error(`node ${id} is already running`);
    const { wal, recovered } = await RaftWal.open({
      walDir: path.join(this.root, `n${id}`, 'wal'),
      snapDir: path.join(this.root, `n${id}`, 'snap'),
      channel: CHANNEL,
    });
    const ledger = this.ledgers.get(id)!;
    const node = new RaftNode(
      {
        id,
        channel: CHANNEL,
        peers: this.ids,
        electionTick: 10,
        heartbeatTick: 1,
        maxSizePerMsg: 1024 * 1024,
        maxInflightMsgs: 5,
        tickIntervalMs: TICK_MS,
        appliedIndex: ledger.lastIndex,
        ...this.optionOverrides,
        ...options,
      },
      {
        wal: this.wrapWal ? this.wrapWal(id, wal) : wal,
        recovered,
        clock: this.clock,
        random: seededRandom(id * 7919),
        transport: { send: (messages) => this.transmit(id, messages) },
        handler: {
          onCommitted: (entries) => {
            for (const entry of entries) {
              ledger.delivered.push(entry.index);
              if (entry.type === 0 && entry.data.length > 0) ledger.applied.push(entry);
              ledger.lastIndex = entry.index;
            }
          },
          onSnapshot: (snapshot) => {
            // A chain would pull the blocks up to the snapshot from the leader; here its data
            // carries the payloads applied up to it.
            ledger.snapshots.push(snapshot.metadata.index);
            const carried = JSON.parse(new TextDecoder().decode(snapshot.data)) as Entry[];
            ledger.applied.splice(0, ledger.applied.length, ...carried.map(decodeCarried));
            ledger.lastIndex = snapshot.metadata.index;
          },
          onLeaderChange: (leader, term) => this.leaderChanges.push({ id, leader, term }),
          onHalt: (error) => this.errors.push(error),
        },
      },
    );
    this.members.set(id, { node, wal });
    node.start();
    return node;
  }

  /** Stops the member's node and closes its WAL, as a shut-down orderer would. */
  async stop(id: number): Promise<void> {
    const member = this.members.get(id);
    if (member === undefined) return;
    this.members.delete(id);
    await member.node.stop();
    await member.wal.close();
    this.queue = this.queue.filter((q) => q.to !== id);
  }

  isolate(id: number): void {
    this.isolated.add(id);
  }

  heal(id: number): void {
    this.isolated.delete(id);
  }

  private transmit(from: number, messages: Message[]): number[] {
    const failed: number[] = [];
    for (const message of messages) {
      this.sent.push({ from, message });
      this.onSend?.(from, message);
      // A partition or a stopped peer is a failed send, as a broken cluster stream is.
      if (
        this.isolated.has(from) ||
        this.isolated.has(message.to) ||
        !this.members.has(message.to) ||
        this.failSend?.(from, message) === true
      ) {
        failed.push(message.to);
        continue;
      }
      this.queue.push({ from, to: message.to, bytes: encodeMessage(message) });
    }
    return failed;
  }

  /** Delivers queued messages and waits for every Ready loop, until nothing is left to do. */
  async settle(): Promise<void> {
    for (let round = 0; ; round++) {
      if (round > 10_000) throw new Error('the Raft group did not settle after 10000 rounds');
      await Promise.all([...this.members.values()].map((m) => m.node.whenIdle()));
      if (this.queue.length === 0) return;
      const batch = this.queue;
      this.queue = [];
      for (const q of batch) {
        const member = this.members.get(q.to);
        if (member === undefined || this.isolated.has(q.to) || this.isolated.has(q.from)) continue;
        member.node.step(decodeMessage(q.bytes));
      }
    }
  }

  /** Advances the clock by n ticks, settling after each. */
  async tick(n = 1): Promise<void> {
    for (let i = 0; i < n; i++) {
      this.clock.advance(TICK_MS);
      await this.settle();
    }
  }

  /** The running node that is leader, if exactly one is (undefined otherwise). */
  leader(): number | undefined {
    const leaders = this.running().filter(
      (id) => !this.isolated.has(id) && this.node(id).status().softState.raftState === StateType.StateLeader,
    );
    return leaders.length === 1 ? leaders[0] : undefined;
  }

  /** Ticks until a leader exists among the connected running nodes; returns it. */
  async electLeader(maxTicks = 100): Promise<number> {
    for (let i = 0; i < maxTicks; i++) {
      const leader = this.leader();
      if (leader !== undefined && leader !== NONE) return leader;
      await this.tick();
    }
    throw new Error(`no leader after ${maxTicks} ticks`);
  }

  /** Proposes payloads at the leader one by one, settling after each. */
  async proposeAll(leader: number, payloads: Uint8Array[]): Promise<void> {
    for (const data of payloads) {
      this.node(leader).propose(data);
      await this.settle();
    }
  }
}

/** The snapshot data tests take: the payloads applied so far, so a follower can rebuild from it. */
export function snapshotData(applied: readonly Entry[]): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify(applied.map((e) => ({ ...e, data: Buffer.from(e.data).toString('base64') }))),
  );
}

const decodeCarried = (e: Entry): Entry => ({
  ...e,
  data: new Uint8Array(Buffer.from(e.data as unknown as string, 'base64')),
});

export const payload = (i: number): Uint8Array => new TextEncoder().encode(`block-${i}`);
export const text = (e: Entry): string => new TextDecoder().decode(e.data);

export type OrderEvent =
  | { id: number; kind: 'save-start' | 'save-done'; save: RaftSave }
  | { id: number; kind: 'send'; message: Message };

/** Records, in one timeline with the sends, when each save started and became durable. */
export function recordingWal(events: OrderEvent[]): WalWrapper {
  return (id, wal) => ({
    async save(update) {
      events.push({ id, kind: 'save-start', save: update });
      await wal.save(update);
      events.push({ id, kind: 'save-done', save: update });
    },
    saveSnapshot: (s) => wal.saveSnapshot(s),
  });
}
