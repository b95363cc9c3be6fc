// The decision logic of the solo chain (Fabric's orderer/consensus/solo/consensus.go main() loop plus
// this orderer's write-ahead log and disk-full stall), without I/O: no files, no timers, no clock.
//
// The driver (chain.ts) feeds events in one at a time (an envelope made durable in the WAL, the
// batch timer firing, the outcome of a re-validation or a block write it was asked for) and carries
// out the returned effects in order before the next event. The core handles one message at a time:
// while it waits for the outcome of a re-validation, a block write or a compaction, later events
// queue behind it, so blocks are written one at a time and in arrival order, as in Fabric.
import { OrdererError, errorMessage, internal } from '../../errors.js';
import type { BlockCutterLike, ReceivedEnvelope } from '../types.js';
import type { EnvelopeRecord, MessageKind } from './wal-records.js';

/** What the core reads from the channel and the WAL with each event. */
export interface SoloContext {
  /** The channel's config sequence now. */
  readonly sequence: number;
  /** BatchTimeout now, for a timer armed by this event. */
  readonly batchTimeoutMs: number;
  /** The WAL's size now; undefined without a WAL (then nothing is compacted). */
  readonly wal: { readonly sizeBytes: number; readonly compactedBytes: number } | undefined;
}

/** A message in the order it was made durable (or accepted, without a WAL). */
export interface SoloMessage {
  readonly kind: MessageKind;
  /** Its WAL seq (or inbox slot without a WAL): strictly increasing in arrival order. */
  readonly seq: number;
  readonly env: ReceivedEnvelope;
  /** The config sequence it was validated at. */
  readonly configSeq: number;
}

export type SoloEvent =
  /** A message is durable in the WAL (or accepted without one, or recovered from the WAL). */
  | ({ type: 'envelope-durable' } & SoloMessage)
  /** The batch timer armed with this generation fired. */
  | { type: 'timer-fired'; generation: number }
  /** Outcome of a revalidate effect: the message to order (a config message may be re-wrapped), or why it is invalid now. */
  | { type: 'revalidated'; ok: true; env: ReceivedEnvelope }
  | { type: 'revalidated'; ok: false; cause: unknown }
  /** The block of the last write-block effect is in the ledger. */
  | { type: 'block-written' }
  /**
   * The block of the last write-block effect was not written. With diskFullCode the disk is full and
   * the same block is tried again later; without, error stops the chain.
   */
  | { type: 'block-write-failed'; error: Error; diskFullCode?: string | undefined }
  /** The retry timer of a stall fired. */
  | { type: 'retry-timer-fired' }
  /** A request re-checks the disk: a stalled block write is tried again now. */
  | { type: 'retry-requested' }
  /** The compact effect has run (or was postponed: the old log is whole either way). */
  | { type: 'compacted' }
  /** The chain halted or failed: nothing more is handled; what is queued stays in the WAL. */
  | { type: 'stop' };

export type SoloEffect =
  /**
   * Create the next block from batch and write it (a config block for kind 'config'). With a WAL,
   * first make a BATCH record for firstSeq..lastSeq durable. Feed block-written or block-write-failed.
   */
  | {
      type: 'write-block';
      kind: MessageKind;
      batch: readonly ReceivedEnvelope[];
      firstSeq: number;
      lastSeq: number;
    }
  /** Re-validate (processNormalMsg, or processConfigMsg for config) under the current config; feed revalidated. */
  | { type: 'revalidate'; kind: MessageKind; env: ReceivedEnvelope }
  /** A message is no longer valid under the current config and is dropped; log why. */
  | { type: 'discard'; kind: MessageKind; cause: unknown }
  /** Start the batch timer; when it fires, feed timer-fired with this generation. */
  | { type: 'arm-timer'; generation: number; timeoutMs: number }
  | { type: 'cancel-timer' }
  /** The batch timer was handled with nothing pending (Fabric logs this as a possible bug). */
  | { type: 'empty-timer' }
  /** Blocks cannot be written: the disk is full. newly: it was writing until now. */
  | { type: 'stall'; diskFullCode: string; cause: Error; newly: boolean }
  /** Feed retry-timer-fired after delayMs (doubling per failure, from min to max). */
  | { type: 'arm-retry-timer'; delayMs: number }
  | { type: 'cancel-retry-timer' }
  /** A block was written after a stall: blocks are being written again. */
  | { type: 'resume' }
  /**
   * Replace the WAL with the records unsettledRecords() returns when the compaction runs (after
   * every earlier append is durable); feed compacted. No block is between its BATCH record and its
   * ledger write now, so no BATCH record needs to survive.
   */
  | { type: 'compact' }
  /** The chain cannot go on: stop it with this error. */
  | { type: 'fail'; error: Error };

export interface SoloCoreOptions {
  readonly channelId: string;
  /** Compact the WAL once it holds this many bytes. */
  readonly compactThresholdBytes: number;
  /** First wait before a block that failed on a full disk is written again; doubled per failure. */
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
}

export interface SoloCoreDependencies {
  readonly blockCutter: BlockCutterLike;
}

interface TimerWork {
  readonly type: 'timer';
  readonly generation: number;
}

type Work = ({ readonly type: 'message' } & SoloMessage) | TimerWork;
type MessageWork = Extract<Work, { type: 'message' }>;

/** What the current message still needs once the outcome being waited for is in. */
type Step =
  | {
      readonly type: 'write';
      readonly kind: MessageKind;
      readonly batch: readonly ReceivedEnvelope[];
      readonly works: readonly SoloMessage[];
    }
  | { readonly type: 'cut-config'; readonly work: MessageWork; readonly config: ReceivedEnvelope }
  | { readonly type: 'adjust-timer'; readonly pending: boolean }
  | { readonly type: 'cancel-timer' };

type Waiting =
  | { readonly for: 'nothing' }
  | { readonly for: 'revalidation'; readonly work: MessageWork }
  | { readonly for: 'block-write'; readonly write: Extract<Step, { type: 'write' }> }
  /** A block write failed on a full disk; the retry timer (or a request) starts the next attempt. */
  | { readonly for: 'retry'; readonly write: Extract<Step, { type: 'write' }> }
  | { readonly for: 'compaction' };

const NOT_WAITING: Waiting = { for: 'nothing' };

export class SoloCore {
  private readonly channelId: string;
  private readonly compactThreshold: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly blockCutter: BlockCutterLike;

  private stopped = false;
  /** Messages and timer expiries not handled yet, in arrival order. */
  private readonly queue: Work[] = [];
  /** Messages handed to the block cutter and not yet cut, in order: the cutter is first-in first-out. */
  private inCutter: SoloMessage[] = [];
  /** The rest of the current message's handling, run once waiting is over. */
  private readonly steps: Step[] = [];
  private waiting: Waiting = NOT_WAITING;
  /** A message was handled since the last compaction check. */
  private handledSinceCheck = false;
  private timerArmed = false;
  private timerGeneration = 0;
  /** Block write failures on a full disk in a row (the backoff doubles with each). */
  private writeFailures = 0;

  constructor(options: SoloCoreOptions, deps: SoloCoreDependencies) {
    this.channelId = options.channelId;
    this.compactThreshold = options.compactThresholdBytes;
    this.retryMinMs = options.retryMinMs;
    this.retryMaxMs = Math.max(options.retryMinMs, options.retryMaxMs);
    this.blockCutter = deps.blockCutter;
  }

  /** True while the core has work it has not finished (queued, or waiting for an outcome). */
  get busy(): boolean {
    if (this.stopped) return false;
    return this.waiting.for !== 'nothing' || this.steps.length > 0 || this.queue.length > 0;
  }

  /** True while blocks cannot be written because the disk is full. */
  get isStalled(): boolean {
    return this.writeFailures > 0;
  }

  get isTimerArmed(): boolean {
    return this.timerArmed;
  }

  /**
   * The messages not yet in a block, in order (those in the block cutter, then those queued): what a
   * compacted WAL must keep. Complete only between messages, which is when a compact effect runs:
   * the message being handled is in neither list.
   */
  unsettledRecords(): EnvelopeRecord[] {
    const records: EnvelopeRecord[] = [];
    const add = (m: SoloMessage) =>
      records.push({ type: 'envelope', seq: m.seq, kind: m.kind, configSeq: m.configSeq, raw: m.env.raw });
    this.inCutter.forEach(add);
    for (const work of this.queue) if (work.type === 'message') add(work);
    return records;
  }

  step(event: SoloEvent, ctx: SoloContext): SoloEffect[] {
    if (this.stopped) return [];
    const effects: SoloEffect[] = [];
    switch (event.type) {
      case 'envelope-durable':
        this.queue.push({
          type: 'message',
          kind: event.kind,
          seq: event.seq,
          env: event.env,
          configSeq: event.configSeq,
        });
        break;
      case 'timer-fired':
        // Handled in turn, behind the messages that arrived before it fired.
        this.queue.push({ type: 'timer', generation: event.generation });
        break;
      case 'revalidated':
        try {
          this.revalidated(event, effects, ctx);
        } catch (err) {
          this.failWith(err, effects);
          return effects;
        }
        break;
      case 'block-written':
        this.blockWritten(effects);
        break;
      case 'block-write-failed':
        this.blockWriteFailed(event, effects);
        break;
      case 'retry-timer-fired':
        this.retry(effects);
        break;
      case 'retry-requested':
        if (this.waiting.for === 'retry') effects.push({ type: 'cancel-retry-timer' });
        this.retry(effects);
        break;
      case 'compacted':
        if (this.waiting.for === 'compaction') this.waiting = NOT_WAITING;
        break;
      case 'stop':
        this.stop(effects);
        return effects;
    }
    try {
      this.run(effects, ctx);
    } catch (err) {
      this.failWith(err, effects);
    }
    return effects;
  }

  /** A message, or a call into the block cutter, this chain cannot go past: stop. */
  private failWith(err: unknown, effects: SoloEffect[]): void {
    this.stop(effects);
    effects.push({
      type: 'fail',
      error:
        err instanceof OrdererError
          ? err
          : internal(
              `solo chain for channel ${this.channelId} failed: ${errorMessage(err)}`,
              {},
              { cause: err },
            ),
    });
  }

  private revalidated(
    event: Extract<SoloEvent, { type: 'revalidated' }>,
    effects: SoloEffect[],
    ctx: SoloContext,
  ): void {
    const waiting = this.waiting;
    if (waiting.for !== 'revalidation') return;
    this.waiting = NOT_WAITING;
    const work = waiting.work;
    if (!event.ok) {
      effects.push({ type: 'discard', kind: work.kind, cause: event.cause });
      return;
    }
    if (work.kind === 'config') this.steps.push({ type: 'cut-config', work, config: event.env });
    else this.cutNormal(work, effects, ctx);
  }

  private blockWritten(effects: SoloEffect[]): void {
    if (this.waiting.for !== 'block-write') return;
    this.waiting = NOT_WAITING;
    if (this.writeFailures > 0) {
      this.writeFailures = 0;
      effects.push({ type: 'resume' });
    }
  }

  private blockWriteFailed(
    event: Extract<SoloEvent, { type: 'block-write-failed' }>,
    effects: SoloEffect[],
  ): void {
    const waiting = this.waiting;
    if (waiting.for !== 'block-write') return;
    if (event.diskFullCode === undefined) {
      this.stop(effects);
      effects.push({ type: 'fail', error: event.error });
      return;
    }
    // The same block is tried again until it is written: the rest waits behind it, so nothing is
    // reordered, lost or written twice.
    const failures = this.writeFailures++;
    this.waiting = { for: 'retry', write: waiting.write };
    effects.push(
      { type: 'stall', diskFullCode: event.diskFullCode, cause: event.error, newly: failures === 0 },
      {
        type: 'arm-retry-timer',
        delayMs: Math.min(this.retryMaxMs, this.retryMinMs * 2 ** Math.min(failures, 30)),
      },
    );
  }

  private retry(effects: SoloEffect[]): void {
    const waiting = this.waiting;
    if (waiting.for !== 'retry') return;
    this.startWrite(waiting.write, effects);
  }

  private stop(effects: SoloEffect[]): void {
    if (this.timerArmed) effects.push(this.cancelTimer());
    if (this.waiting.for === 'retry') effects.push({ type: 'cancel-retry-timer' });
    this.stopped = true;
  }

  /** Handles queued work until an outcome must be waited for or nothing is left. */
  private run(effects: SoloEffect[], ctx: SoloContext): void {
    while (!this.stopped && this.waiting.for === 'nothing') {
      const step = this.steps.shift();
      if (step) {
        this.runStep(step, effects, ctx);
        continue;
      }
      // Between messages no block sits between its BATCH record and its ledger write.
      if (this.handledSinceCheck) {
        this.handledSinceCheck = false;
        if (this.compactionDue(ctx)) {
          this.waiting = { for: 'compaction' };
          effects.push({ type: 'compact' });
          return;
        }
      }
      const work = this.queue.shift();
      if (!work) return;
      this.handledSinceCheck = true;
      this.handle(work, effects, ctx);
    }
  }

  private compactionDue(ctx: SoloContext): boolean {
    const wal = ctx.wal;
    if (!wal) return false;
    // Each compaction must at least halve the log, or a large backlog would be rewritten per message.
    const size = wal.sizeBytes;
    return size > 0 && size >= this.compactThreshold && size >= 2 * wal.compactedBytes;
  }

  private handle(work: Work, effects: SoloEffect[], ctx: SoloContext): void {
    if (work.type === 'timer') {
      this.handleTimer(work, effects);
      return;
    }
    if (work.configSeq < ctx.sequence) {
      // The config changed since the message was validated: validate it again first.
      this.waiting = { for: 'revalidation', work };
      effects.push({ type: 'revalidate', kind: work.kind, env: work.env });
      return;
    }
    if (work.kind === 'config') this.steps.push({ type: 'cut-config', work, config: work.env });
    else this.cutNormal(work, effects, ctx);
  }

  private handleTimer(work: TimerWork, effects: SoloEffect[]): void {
    if (!this.timerArmed || work.generation !== this.timerGeneration) return; // stopped after it fired
    this.timerArmed = false;
    const batch = this.blockCutter.cut();
    if (batch.length === 0) {
      effects.push({ type: 'empty-timer' });
      return;
    }
    this.steps.push(this.cutBatch(batch));
  }

  private cutNormal(work: MessageWork, effects: SoloEffect[], ctx: SoloContext): void {
    this.inCutter.push(work);
    const { batches, pending } = this.blockCutter.ordered(work.env);
    if (batches.length === 0) {
      this.adjustTimer(pending, effects, ctx);
      return;
    }
    for (const batch of batches) this.steps.push(this.cutBatch(batch));
    // As Fabric's solo loop, the timer is adjusted once the cut blocks are written.
    this.steps.push({ type: 'adjust-timer', pending });
  }

  private runStep(step: Step, effects: SoloEffect[], ctx: SoloContext): void {
    switch (step.type) {
      case 'write':
        this.startWrite(step, effects);
        return;
      case 'cut-config': {
        // Fabric: the pending batch becomes a block first, then a block with only the config message.
        const pending = this.blockCutter.cut();
        if (pending.length > 0) this.steps.push(this.cutBatch(pending));
        this.steps.push(
          { type: 'write', kind: 'config', batch: [step.config], works: [step.work] },
          { type: 'cancel-timer' },
        );
        return;
      }
      case 'adjust-timer':
        this.adjustTimer(step.pending, effects, ctx);
        return;
      case 'cancel-timer':
        effects.push(this.cancelTimer());
        return;
    }
  }

  private startWrite(write: Extract<Step, { type: 'write' }>, effects: SoloEffect[]): void {
    this.waiting = { for: 'block-write', write };
    effects.push({
      type: 'write-block',
      kind: write.kind,
      batch: write.batch,
      firstSeq: write.works[0]!.seq,
      lastSeq: write.works[write.works.length - 1]!.seq,
    });
  }

  /** The write step of a batch the cutter returned; it must be the oldest messages in the cutter. */
  private cutBatch(batch: readonly ReceivedEnvelope[]): Step {
    const works = this.inCutter.slice(0, batch.length);
    if (works.length !== batch.length || works.some((w, i) => w.env !== batch[i])) {
      throw internal(
        `solo chain for channel ${this.channelId}: the block cutter returned messages out of arrival order; ` +
          'the write-ahead log cannot track them, restart the orderer to re-order them from the log',
      );
    }
    this.inCutter = this.inCutter.slice(batch.length);
    return { type: 'write', kind: 'normal', batch, works };
  }

  /** As Fabric's solo loop after Ordered(): no timer without pending messages, one with them. */
  private adjustTimer(pending: boolean, effects: SoloEffect[], ctx: SoloContext): void {
    if (this.timerArmed && !pending) effects.push(this.cancelTimer());
    else if (!this.timerArmed && pending) {
      this.timerArmed = true;
      effects.push({ type: 'arm-timer', generation: ++this.timerGeneration, timeoutMs: ctx.batchTimeoutMs });
    }
  }

  private cancelTimer(): SoloEffect {
    this.timerArmed = false;
    this.timerGeneration++;
    return { type: 'cancel-timer' };
  }
}
