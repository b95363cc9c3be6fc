// KafkaCore over whole histories that a real Kafka cluster could produce. Several orderers share one
// partition; each consumes it at its own pace, its batch timer fires whenever the schedule says, it
// posts TIME_TO_CUT and re-submissions into the same partition as Fabric's chain.go does, clients
// broadcast through whichever orderer accepts them (with that orderer's, possibly old, config
// sequence), config blocks change the sequence, and orderers crash and restart from the KafkaMetadata
// of the last block in their ledger. The partition is therefore made by the cores themselves, and the
// properties checked are the ones the ordering service promises:
// - every orderer writes the same blocks, whatever its timing and however often it restarted;
// - every message that passed validation is in a block, exactly once unless Fabric's design allows a
//   duplicate (see expectedCount), and a message that failed re-validation is in none;
// - block numbers are consecutive, and each block's lastOffsetPersisted is strictly larger than the
//   previous one and covers exactly the offsets of the messages in the block, so a restart from it
//   neither loses nor repeats anything;
// - replaying the finished partition from any block's KafkaMetadata writes exactly the later blocks;
// - nothing is fatal, no batch is left pending and no orderer's ingress stays blocked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockCutter } from '../../../../src/blockcutter/index.js';
import type { BatchSize } from '../../../../src/channelconfig/types.js';
import { decodeEnvelope } from '../../../../src/protoutil/index.js';
import type { ReceivedEnvelope } from '../../../../src/consensus/types.js';
import {
  KafkaCore,
  encodeConnect,
  encodeRegular,
  encodeTimeToCut,
  type CoreContext,
  type KafkaCoreState,
  type KafkaEffect,
} from '../../../../src/consensus/kafka/index.js';
import { decodeKafkaMessage, type KafkaMetadataValues } from '../../../../src/consensus/kafka/messages.js';
import { makeEnvelope } from '../../../support/solo.js';

const BATCH: BatchSize = { maxMessageCount: 4, absoluteMaxBytes: 1 << 20, preferredMaxBytes: 700 };
const FRESH: KafkaCoreState = {
  lastOffsetPersisted: -1,
  lastOriginalOffsetProcessed: 0,
  lastResubmittedConfigOffset: 0,
  lastCutBlockNumber: 0,
};

interface Block {
  number: number;
  kind: 'normal' | 'config';
  txIds: string[];
  /** The partition offset each message of the batch was consumed at. */
  offsets: number[];
  metadata: KafkaMetadataValues;
}

/** What the simulation counts, to prove the generated histories reach every case they are meant to. */
interface Coverage {
  ttcCuts: number;
  staleTtc: number;
  sizeOrCountCuts: number;
  configBlocks: number;
  resubmittedNormal: number;
  resubmittedConfig: number;
  staleAgain: number;
  rejectedOnRevalidation: number;
  duplicateCopiesDiscarded: number;
  restarts: number;
  failedTtcPosts: number;
  blockedBroadcasts: number;
  validated: number;
}

function newCoverage(): Coverage {
  return {
    ttcCuts: 0,
    staleTtc: 0,
    sizeOrCountCuts: 0,
    configBlocks: 0,
    resubmittedNormal: 0,
    resubmittedConfig: 0,
    staleAgain: 0,
    rejectedOnRevalidation: 0,
    duplicateCopiesDiscarded: 0,
    restarts: 0,
    failedTtcPosts: 0,
    blockedBroadcasts: 0,
    validated: 0,
  };
}

function random(seed: number): () => number {
  // mulberry32: small, deterministic, good enough to vary schedules.
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Whether re-validation (processNormalMsg / processConfigMsg) accepts a message again. Decided by the
 *  message alone, as it is for every orderer of a channel at the same point of the partition. A config
 *  message already applied is rejected too: its config update's read set no longer matches. */
function stillValid(txId: string, ledger: Block[]): boolean {
  const n = Number(txId.slice(1));
  if (txId.startsWith('c')) {
    return n % 4 !== 3 && !ledger.some((b) => b.kind === 'config' && b.txIds[0] === txId);
  }
  return n % 7 !== 6;
}

interface Partition {
  messages: Buffer[];
  /** Copies posted per (txId, original offset): originalOffset 0 is the client's own broadcast. */
  copies: Map<string, Map<number, number>>;
  /** Messages some orderer validated again (found stale, or in compatibility mode). */
  revalidated: Set<string>;
}

type Post = (value: Buffer, txId?: string, originalOffset?: number) => void;

function poster(partition: Partition): Post {
  return (value, txId, originalOffset = 0) => {
    partition.messages.push(value);
    if (txId === undefined) return;
    let lineages = partition.copies.get(txId);
    if (!lineages) partition.copies.set(txId, (lineages = new Map()));
    lineages.set(originalOffset, (lineages.get(originalOffset) ?? 0) + 1);
  };
}

/** One orderer: a KafkaCore, a block cutter, a ledger, and the driver rules of chain.ts. */
class Orderer {
  ledger: Block[] = [];
  core!: KafkaCore;
  cutter!: BlockCutter;
  next = 0;
  timer: number | undefined;
  ingressBlocked = false;
  fatal: string | undefined;
  /** Offset of the message being consumed, so decoded envelopes can be traced to their offset. */
  private consuming = -1;
  private readonly offsetOf = new WeakMap<ReceivedEnvelope, number>();

  constructor(
    private readonly partition: Partition,
    readonly resubmission: boolean,
    private readonly coverage: Coverage,
    /** Posts into the partition and returns once the message is in it (re-submissions, CONNECT). */
    private readonly post: Post,
    /** Where a TIME_TO_CUT post goes: the caller delivers or fails it later, as the driver's void post. */
    private readonly postTimeToCut: (from: Orderer, blockNumber: number) => void,
    ledger: Block[] = [],
  ) {
    this.ledger = ledger;
    this.start();
  }

  /** Starts (or restarts after a crash) from the KafkaMetadata of the last block in the ledger. */
  start(): void {
    const last = this.ledger.at(-1);
    const state = last ? { ...last.metadata, lastCutBlockNumber: last.number } : FRESH;
    this.cutter = new BlockCutter({ batchSize: () => BATCH });
    this.core = new KafkaCore(state, {
      blockCutter: this.cutter,
      decodeEnvelope: (raw) => {
        const env = decodeEnvelope(raw);
        this.offsetOf.set(env, this.consuming);
        return env;
      },
    });
    this.next = state.lastOffsetPersisted + 1;
    this.timer = undefined;
    this.ingressBlocked = this.core.isIngressBlocked;
    // Fabric's chain posts CONNECT when it starts; it also keeps offset 0 from being a real message
    // (original offset 0 means "not re-submitted").
    this.post(encodeConnect());
  }

  get sequence(): number {
    return this.ledger.filter((b) => b.kind === 'config').length;
  }

  context(): CoreContext {
    return { sequence: this.sequence, resubmission: this.resubmission, batchTimeoutMs: 2000 };
  }

  get caughtUp(): boolean {
    return this.next >= this.partition.messages.length;
  }

  consumeOne(): void {
    const offset = this.next++;
    this.consuming = offset;
    this.apply(this.core.consumed(offset, this.partition.messages[offset]!, this.context()));
  }

  fireTimer(): void {
    const generation = this.timer!;
    this.timer = undefined;
    this.apply(this.core.timerFired(generation));
  }

  timeToCutPostFailed(blockNumber: number): void {
    this.apply(this.core.timeToCutPostFailed(blockNumber, this.context()));
  }

  private apply(effects: KafkaEffect[]): void {
    for (const e of effects) {
      if (this.fatal) return;
      switch (e.type) {
        case 'write-block': {
          assert.equal(e.blockNumber, this.ledger.length + 1, 'the core names the next block of the ledger');
          const offsets = e.batch.map((env) => this.offsetOf.get(env)!);
          this.ledger.push({
            number: e.blockNumber,
            kind: e.kind,
            txIds: e.batch.map((env) => env.channelHeader.txId),
            offsets,
            metadata: e.metadata,
          });
          const at = this.partition.messages[e.metadata.lastOffsetPersisted];
          if (e.kind === 'config') this.coverage.configBlocks++;
          else if (at && at.equals(encodeTimeToCut(e.blockNumber))) this.coverage.ttcCuts++;
          else this.coverage.sizeOrCountCuts++;
          break;
        }
        case 'arm-timer':
          this.timer = e.generation;
          break;
        case 'cancel-timer':
          this.timer = undefined;
          break;
        case 'post-time-to-cut':
          this.postTimeToCut(this, e.blockNumber);
          break;
        case 'resubmit-normal':
        case 'resubmit-config': {
          const txId = e.env.channelHeader.txId;
          if (e.originalOffset !== this.offsetOf.get(e.env))
            throw new Error('re-submitted with another offset');
          const consumed = decodeKafkaMessage(this.partition.messages[e.originalOffset]!);
          if (consumed.type === 'regular' && consumed.originalOffset !== 0) this.coverage.staleAgain++;
          this.partition.revalidated.add(txId);
          if (!stillValid(txId, this.ledger)) {
            this.coverage.rejectedOnRevalidation++;
            if (e.type === 'resubmit-config') this.apply(this.core.configRejected(e.originalOffset));
            break;
          }
          const kind = e.type === 'resubmit-config' ? 'config' : 'normal';
          if (kind === 'config') this.coverage.resubmittedConfig++;
          else this.coverage.resubmittedNormal++;
          // chain.ts awaits the post before the next event, so the copy lands at the partition's end now.
          this.post(encodeRegular(kind, e.env.raw, this.sequence, e.originalOffset), txId, e.originalOffset);
          if (kind === 'config') this.apply(this.core.configResubmitted(e.originalOffset));
          break;
        }
        case 'validate':
          this.coverage.validated++;
          this.partition.revalidated.add(e.env.channelHeader.txId);
          if (stillValid(e.env.channelHeader.txId, this.ledger)) {
            this.apply(this.core.commitValidated(e.kind, e.env, e.receivedOffset, this.context()));
          } else this.coverage.rejectedOnRevalidation++;
          break;
        case 'block-ingress':
          this.ingressBlocked = true;
          break;
        case 'unblock-ingress':
          this.ingressBlocked = false;
          break;
        case 'discard':
          if (decodeKafkaMessage(this.partition.messages[e.offset]!).type === 'time-to-cut')
            this.coverage.staleTtc++;
          else this.coverage.duplicateCopiesDiscarded++;
          break;
        case 'fatal':
          this.fatal = `offset ${e.offset}: ${e.reason}`;
          return;
      }
    }
  }
}

interface History {
  partition: Partition;
  orderers: Orderer[];
  /** Every message a client broadcast, by txId. */
  broadcast: Set<string>;
}

function simulate(
  seed: number,
  options: { orderers: number; steps: number; resubmission: boolean },
  coverage: Coverage,
): History {
  const rand = random(seed);
  const partition: Partition = { messages: [], copies: new Map(), revalidated: new Set() };
  const post = poster(partition);
  const inFlight: { from: Orderer; blockNumber: number }[] = [];
  let failPosts = true;
  const orderers: Orderer[] = [];
  for (let i = 0; i < options.orderers; i++) {
    orderers.push(
      new Orderer(partition, options.resubmission, coverage, post, (from, blockNumber) =>
        inFlight.push({ from, blockNumber }),
      ),
    );
  }
  const broadcast = new Set<string>();
  let tx = 0;

  const deliverTimeToCut = (index: number) => {
    const [p] = inFlight.splice(index, 1);
    if (failPosts && rand() < 0.15) {
      coverage.failedTtcPosts++;
      p!.from.timeToCutPostFailed(p!.blockNumber);
    } else post(encodeTimeToCut(p!.blockNumber));
  };

  for (let step = 0; step < options.steps; step++) {
    const r = rand();
    const o = orderers[Math.floor(rand() * orderers.length)]!;
    if (o.fatal) break;
    if (r < 0.3) {
      // A client broadcasts through o, which stamps it with its own config sequence.
      if (o.ingressBlocked) {
        coverage.blockedBroadcasts++;
        continue;
      }
      const isConfig = rand() < 0.05;
      const id = `${isConfig ? 'c' : 'n'}${tx++}`;
      const dataBytes = rand() < 0.05 ? 900 : 16 + Math.floor(rand() * 250);
      const env = makeEnvelope(id, isConfig ? { type: 1 } : { dataBytes });
      broadcast.add(id);
      post(encodeRegular(isConfig ? 'config' : 'normal', env.raw, o.sequence, 0), id, 0);
    } else if (r < 0.75) {
      if (!o.caughtUp) o.consumeOne();
    } else if (r < 0.85) {
      if (o.timer !== undefined) o.fireTimer();
    } else if (r < 0.95) {
      if (inFlight.length > 0) deliverTimeToCut(Math.floor(rand() * inFlight.length));
    } else if (r < 0.96) {
      // A crash: the timer and the cutter's pending batch are lost, the ledger is kept.
      coverage.restarts++;
      o.start();
    }
  }

  // Quiesce: no more clients; posts succeed; every orderer reads to the end and timers fire.
  failPosts = false;
  for (let progress = true; progress;) {
    progress = false;
    while (inFlight.length > 0) {
      deliverTimeToCut(0);
      progress = true;
    }
    for (const o of orderers) {
      while (!o.caughtUp && !o.fatal) {
        o.consumeOne();
        progress = true;
      }
      if (o.timer !== undefined && !o.fatal) {
        o.fireTimer();
        progress = true;
      }
    }
  }
  return { partition, orderers, broadcast };
}

/** How many blocks may hold txId. Once, unless it was re-submitted under several original offsets and
 *  some original offset had several copies (every orderer re-submits, and a restarted one again): then
 *  each copy that is stale again starts its own re-submission, and Fabric's chain.go (and this core)
 *  orders each of those once. Peers drop the duplicate transaction ID; the orderer cannot tell. */
function expectedCount(txId: string, partition: Partition): { min: number; max: number } {
  const lineages = partition.copies.get(txId)!;
  const resubmissions = [...lineages.keys()].filter((o) => o !== 0).length;
  const severalCopies = [...lineages.entries()].some(([o, n]) => o !== 0 && n > 1);
  if (resubmissions >= 2 && severalCopies) return { min: 1, max: resubmissions };
  return { min: 1, max: 1 };
}

function checkHistory(h: History, what: string): void {
  const [first, ...others] = h.orderers;
  for (const o of h.orderers) {
    assert.equal(o.fatal, undefined, `${what}: fatal`);
    assert.equal(o.cutter.pendingCount, 0, `${what}: a batch left pending`);
    assert.equal(o.ingressBlocked, false, `${what}: ingress left blocked`);
  }
  others.forEach((o, i) =>
    assert.deepEqual(o.ledger, first!.ledger, `${what}: orderer ${i + 1} differs from 0`),
  );

  const ledger = first!.ledger;
  let previous: KafkaMetadataValues = FRESH;
  const count = new Map<string, number>();
  ledger.forEach((block, i) => {
    assert.equal(block.number, i + 1, `${what}: block numbers`);
    const m = block.metadata;
    assert.ok(m.lastOffsetPersisted > previous.lastOffsetPersisted, `${what}: block ${block.number} offset`);
    assert.ok(
      m.lastOriginalOffsetProcessed >= previous.lastOriginalOffsetProcessed,
      `${what}: original offset`,
    );
    for (const offset of block.offsets) {
      assert.ok(
        offset > previous.lastOffsetPersisted && offset <= m.lastOffsetPersisted,
        `${what}: block ${block.number} holds offset ${offset} outside (${previous.lastOffsetPersisted}, ${m.lastOffsetPersisted}]`,
      );
    }
    assert.ok(
      block.kind === 'normal' || block.txIds.length === 1,
      `${what}: a config block holds one message`,
    );
    for (const id of block.txIds) count.set(id, (count.get(id) ?? 0) + 1);
    previous = m;
  });

  for (const id of h.broadcast) {
    const n = count.get(id) ?? 0;
    if (!stillValid(id, [])) {
      // Rejected wherever it was validated again; never validated again, it is ordered as received.
      const expected = h.partition.revalidated.has(id) ? 0 : 1;
      assert.equal(n, expected, `${what}: ${id} (invalid on re-validation) is in ${n} blocks`);
    } else if (id.startsWith('c')) {
      assert.equal(n, 1, `${what}: config message ${id} is in ${n} blocks`);
    } else {
      const { min, max } = expectedCount(id, h.partition);
      assert.ok(n >= min && n <= max, `${what}: ${id} is in ${n} blocks, expected ${min}..${max}`);
    }
  }
  for (const id of count.keys()) assert.ok(h.broadcast.has(id), `${what}: ${id} was never broadcast`);
}

/** Replays the finished partition from a block's KafkaMetadata with a fresh core, as a restarted orderer
 *  reads it. What it would post (CONNECT, re-submissions) lands after the finished partition and is
 *  dropped: its earlier life posted the same re-submissions already. */
function replayFrom(h: History, index: number): Block[] {
  const source = h.orderers[0]!;
  const ledger = source.ledger.slice(0, index + 1);
  const replica = new Orderer(
    h.partition,
    source.resubmission,
    newCoverage(),
    () => {},
    () => {},
    ledger,
  );
  while (!replica.caughtUp) replica.consumeOne();
  assert.equal(replica.fatal, undefined);
  return replica.ledger.slice(index + 1);
}

for (const [name, options, seeds] of [
  ['three orderers', { orderers: 3, steps: 1000, resubmission: true }, 25],
  ['one orderer', { orderers: 1, steps: 1000, resubmission: true }, 20],
  ['compatibility mode (no resubmission capability)', { orderers: 2, steps: 800, resubmission: false }, 10],
] as const) {
  test(`property (${name}): histories the cores make themselves give the same, complete, crash-safe blocks`, () => {
    const coverage = newCoverage();
    let replays = 0;
    let blocks = 0;
    for (let seed = 1; seed <= seeds; seed++) {
      const h = simulate(seed, options, coverage);
      checkHistory(h, `${name}, seed ${seed}`);
      const ledger = h.orderers[0]!.ledger;
      blocks += ledger.length;
      // Replays read the rest of the partition each; a handful of evenly spread ones per history.
      for (let i = 0; i < ledger.length; i += Math.ceil(ledger.length / 6)) {
        assert.deepEqual(
          replayFrom(h, i),
          ledger.slice(i + 1),
          `${name}, seed ${seed}, replay after block ${i + 1}`,
        );
        replays++;
      }
    }
    // The histories must reach the cases they exist for, or the properties above say little.
    assert.ok(blocks > seeds * 20, `only ${blocks} blocks`);
    assert.ok(replays >= seeds * 5, `only ${replays} replays`);
    for (const key of [
      'ttcCuts',
      'staleTtc',
      'sizeOrCountCuts',
      'configBlocks',
      'restarts',
      'failedTtcPosts',
    ] as const) {
      assert.ok(coverage[key] > 0, `${name}: no ${key} in any history: ${JSON.stringify(coverage)}`);
    }
    if (options.resubmission) {
      for (const key of [
        'resubmittedNormal',
        'resubmittedConfig',
        'staleAgain',
        'rejectedOnRevalidation',
        'duplicateCopiesDiscarded',
        'blockedBroadcasts',
      ] as const) {
        assert.ok(coverage[key] > 0, `${name}: no ${key} in any history: ${JSON.stringify(coverage)}`);
      }
    } else {
      assert.ok(coverage.validated > 0 && coverage.rejectedOnRevalidation > 0, JSON.stringify(coverage));
    }
  });
}
