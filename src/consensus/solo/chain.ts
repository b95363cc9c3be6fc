// The solo chain: Fabric's orderer/consensus/solo/consensus.go main() loop, one message at a time,
// plus a write-ahead log so that nothing acknowledged is lost when the process dies.
//
// Without a WAL (walDir undefined) it behaves as Fabric's solo: order() resolves once the message
// is queued, and a crash loses the pending batch. With a WAL, order() resolves once the envelope
// is fsync'd in the log; a restarted chain re-orders every logged envelope that is not in a block.
import { OrdererError, unavailable, internal, errorMessage } from '../../errors.js';
import { toNumber } from '../../protos/index.js';
import { decodeEnvelope as defaultDecodeEnvelope } from '../../protoutil/index.js';
import type { TimerHandle } from '../../clock.js';
import type { Chain, ChainStatusReport, ConsenterSupport, ReceivedEnvelope } from '../types.js';
import { decodeWal, planRecovery } from './wal-records.js';
import type { EnvelopeRecord, MessageKind } from './wal-records.js';
import { WalWriter, type WalWriterStats } from './wal-writer.js';
import { FsWalStorage, type WalFile, type WalStorage } from './wal.js';
import { diskFullCode, isDiskFull } from '../../ledger/index.js';

/** Compact the log once it holds this many bytes (and after every restart). */
export const DEFAULT_WAL_COMPACT_THRESHOLD_BYTES = 16 * 1024 * 1024;

/** First wait before a block that failed on a full disk is written again; doubled per failure. */
export const DEFAULT_DISK_FULL_RETRY_MIN_MS = 200;
export const DEFAULT_DISK_FULL_RETRY_MAX_MS = 10_000;

export interface SoloChainOptions {
  /** This channel's WAL directory; undefined runs without one (Fabric's behaviour). */
  walDir?: string | undefined;
  walCompactThresholdBytes?: number;
  diskFullRetryMinMs?: number;
  diskFullRetryMaxMs?: number;
}

/** A block that could not be written because the disk is full, being retried. */
interface Stall {
  readonly error: Error;
  /** Starts the next attempt now (a request re-checks); settles when that attempt has run. */
  retryNow(): Promise<void>;
}

export interface SoloChainDependencies {
  walStorage?: WalStorage;
  /** Re-decodes logged envelopes on recovery. */
  decodeEnvelope?: (raw: Buffer) => ReceivedEnvelope;
  /** Settles once an earlier chain of the same channel has let go of the WAL. */
  previousChainHalted?: Promise<void>;
}

interface MessageWork {
  readonly type: 'message';
  readonly kind: MessageKind;
  readonly seq: number;
  readonly env: ReceivedEnvelope;
  readonly configSeq: number;
}

interface TimerWork {
  readonly type: 'timer';
  readonly generation: number;
}

type Work = MessageWork | TimerWork;

type State = 'created' | 'starting' | 'running' | 'halted' | 'failed';

export class SoloChain implements Chain {
  /** submit() gives each message its WAL seq (or inbox slot) synchronously, in call order. */
  readonly ordersOnCall = true;
  /** Solo has no cluster: nothing reaches it through the cluster service. */
  readonly cluster = undefined;
  private readonly support: ConsenterSupport;
  private readonly walDir: string | undefined;
  private readonly compactThreshold: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly walStorage: WalStorage;
  private readonly decodeEnvelope: (raw: Buffer) => ReceivedEnvelope;
  private readonly previousChainHalted: Promise<void>;

  private state: State = 'created';
  private failure: Error | undefined;
  private wal: WalWriter | undefined;
  private ready: Promise<void> = Promise.resolve();
  private haltDone: Promise<void> | undefined;

  private readonly inbox: Work[] = [];
  /** Messages handed to the block cutter and not yet cut, in order: the cutter is first-in first-out. */
  private inCutter: MessageWork[] = [];
  private loopActive = false;
  private loopDone: Promise<void> = Promise.resolve();
  private timer: TimerHandle | undefined;
  private timerGeneration = 0;
  private seqWithoutWal = 1;
  /** submit() calls waiting for recovery: later calls queue behind them, so call order is kept. */
  private waitingForReady = 0;
  private stall: Stall | undefined;
  /** Wakes a block write waiting to be retried (halt). */
  private wakeStalled: (() => void) | undefined;
  /** Settles the requests waiting on the block write attempt that runs next. */
  private attemptSettled: (() => void) | undefined;

  constructor(support: ConsenterSupport, options: SoloChainOptions = {}, deps: SoloChainDependencies = {}) {
    this.support = support;
    this.walDir = options.walDir;
    this.compactThreshold = options.walCompactThresholdBytes ?? DEFAULT_WAL_COMPACT_THRESHOLD_BYTES;
    this.retryMinMs = options.diskFullRetryMinMs ?? DEFAULT_DISK_FULL_RETRY_MIN_MS;
    this.retryMaxMs = Math.max(this.retryMinMs, options.diskFullRetryMaxMs ?? DEFAULT_DISK_FULL_RETRY_MAX_MS);
    this.walStorage = deps.walStorage ?? new FsWalStorage();
    this.decodeEnvelope = deps.decodeEnvelope ?? defaultDecodeEnvelope;
    this.previousChainHalted = deps.previousChainHalted ?? Promise.resolve();
  }

  private get channelId(): string {
    return this.support.channelId;
  }

  private get logger() {
    return this.support.logger;
  }

  start(): void {
    if (this.state !== 'created') return;
    if (this.walDir === undefined) {
      this.state = 'running';
      return;
    }
    this.state = 'starting';
    this.ready = this.recover(this.walDir).then(
      () => {
        if (this.state !== 'starting') return;
        this.state = 'running';
        this.kick();
      },
      (err: unknown) => {
        this.fail(
          unavailable(
            `solo chain for channel ${this.channelId} could not recover its write-ahead log in ${this.walDir}: ` +
              `${errorMessage(err)}; fix the directory (permissions, disk space) and restart the orderer`,
            { channel: this.channelId },
            { cause: err },
          ),
        );
      },
    );
  }

  order(env: ReceivedEnvelope, configSeq: number): Promise<void> {
    return this.submit('normal', env, configSeq);
  }

  configure(configEnv: ReceivedEnvelope, configSeq: number): Promise<void> {
    return this.submit('config', configEnv, configSeq);
  }

  async waitReady(): Promise<void> {
    if (this.state === 'starting') await this.ready;
    const refusal = this.refusal();
    if (refusal) throw refusal;
    // Each request re-checks the disk: it runs the stalled write now instead of at the next backoff.
    const stall = this.stall;
    if (stall) {
      await stall.retryNow();
      if (this.stall) throw this.stall.error;
    }
  }

  /**
   * Only a chain that will not serve again reports an error: one waiting for disk space still
   * serves the blocks it has (Deliver) and resumes by itself, see stalled().
   */
  /** Fabric reports a solo chain, which has no status reporter, as relation "other". */
  statusReport(): ChainStatusReport {
    return { consensusRelation: 'other', status: this.errored() ? 'inactive' : 'active' };
  }

  errored(): Error | undefined {
    return this.state === 'halted' || this.state === 'failed' ? this.refusal() : undefined;
  }

  /** Why blocks are not being written right now (the disk is full); undefined when they are. */
  stalled(): Error | undefined {
    return this.stall?.error;
  }

  halt(): Promise<void> {
    if (this.haltDone) return this.haltDone;
    if (this.state !== 'failed') this.state = 'halted';
    this.stopTimer();
    this.wakeStalled?.();
    this.haltDone = (async () => {
      await this.ready;
      // The message being handled finishes (a block is never left half-written); the rest stays in the WAL.
      await this.loopDone;
      await this.wal?.close(this.refusal() ?? this.haltedError());
    })();
    return this.haltDone;
  }

  /** Resolves once every message queued so far has been handled (for tests and orderly shutdown). */
  async whenIdle(): Promise<void> {
    await this.ready;
    while (this.loopActive) await this.loopDone;
  }

  /** WAL group-commit counters; undefined without a WAL. */
  walStats(): Readonly<WalWriterStats> | undefined {
    return this.wal?.stats;
  }

  private submit(kind: MessageKind, env: ReceivedEnvelope, configSeq: number): Promise<void> {
    // The path of nearly every message, without the async frames of the general one.
    if (this.state === 'running' && this.waitingForReady === 0 && this.wal) {
      return this.appendToWal(this.wal, kind, env, configSeq);
    }
    return this.submitWhenReady(kind, env, configSeq);
  }

  private async submitWhenReady(kind: MessageKind, env: ReceivedEnvelope, configSeq: number): Promise<void> {
    if (this.state === 'starting' || this.waitingForReady > 0) {
      // Every waiter resumes in the order it started waiting, and a call made after recovery but
      // before those waiters resumed queues behind them too.
      this.waitingForReady++;
      try {
        await this.ready;
      } finally {
        this.waitingForReady--;
      }
    }
    const refusal = this.refusal();
    if (refusal) throw refusal;
    if (!this.wal) {
      this.enqueue({ type: 'message', kind, seq: this.seqWithoutWal++, env, configSeq });
      return;
    }
    await this.appendToWal(this.wal, kind, env, configSeq);
  }

  /** Logs the message; once durable it joins the inbox. A failed append stops the chain. */
  private appendToWal(
    wal: WalWriter,
    kind: MessageKind,
    env: ReceivedEnvelope,
    configSeq: number,
  ): Promise<void> {
    return wal
      .appendEnvelope(kind, configSeq, env.raw, (seq) =>
        this.enqueue({ type: 'message', kind, seq, env, configSeq }),
      )
      .catch((err: unknown) => {
        throw this.walFailure(kind, wal, err);
      });
  }

  /**
   * What a caller whose WAL append failed is told. A full disk refuses just this message (the log
   * was cut back to its last whole record); any other append failure stops the chain.
   */
  private walFailure(kind: MessageKind, wal: WalWriter, err: unknown): Error {
    const refusal = this.refusal();
    if (refusal) return refusal;
    const code = diskFullCode(err);
    if (code !== undefined) {
      return unavailable(
        `solo chain for channel ${this.channelId} could not record the ${kind} message in its write-ahead log ` +
          `${wal.location}: the disk is full (${code}); the message was not accepted. Free space on that disk and retry: ` +
          'the chain resumes by itself once writes succeed',
        { channel: this.channelId, code },
        { cause: err },
      );
    }
    const failure = unavailable(
      `solo chain for channel ${this.channelId} could not record the ${kind} message in its write-ahead log ` +
        `${wal.location}: ${errorMessage(err)}; the chain has stopped, check the disk and restart the orderer`,
      { channel: this.channelId },
      { cause: err },
    );
    this.fail(failure);
    return failure;
  }

  private refusal(): Error | undefined {
    switch (this.state) {
      case 'created':
        return unavailable(
          `solo chain for channel ${this.channelId} has not been started; the orderer is still bringing the channel up, retry shortly`,
          { channel: this.channelId },
        );
      case 'halted':
        return this.haltedError();
      case 'failed':
        return this.failure;
      default:
        return undefined;
    }
  }

  private haltedError(): Error {
    return unavailable(
      `solo chain for channel ${this.channelId} is halted and accepts no more messages; ` +
        'the channel is being removed or the orderer is shutting down',
      { channel: this.channelId },
    );
  }

  private fail(err: Error): void {
    if (this.state === 'failed' || this.state === 'halted') return;
    this.state = 'failed';
    // Callers see a refusal (SERVICE_UNAVAILABLE); the cause keeps what went wrong.
    this.failure =
      err instanceof OrdererError && err.kind === 'unavailable'
        ? err
        : unavailable(`${errorMessage(err)}`, { channel: this.channelId }, { cause: err });
    this.stopTimer();
    this.logger.error({ err, channel: this.channelId }, 'solo chain stopped');
    void this.wal?.close(err).catch(() => {});
  }

  private enqueue(work: Work): void {
    if (this.state !== 'running' && this.state !== 'starting') return;
    this.inbox.push(work);
    this.kick();
  }

  private kick(): void {
    if (this.loopActive || this.state !== 'running' || this.inbox.length === 0) return;
    this.loopActive = true;
    this.loopDone = this.runLoop();
  }

  private async runLoop(): Promise<void> {
    try {
      while (this.state === 'running' && this.inbox.length > 0) {
        // Most messages only join the pending batch: handled synchronously, no await.
        const handling = this.handle(this.inbox.shift()!);
        if (handling) await handling;
        if (this.compactionDue()) await this.compact();
      }
    } catch (err) {
      this.fail(
        err instanceof OrdererError
          ? err
          : internal(
              `solo chain for channel ${this.channelId} failed: ${errorMessage(err)}`,
              {},
              { cause: err },
            ),
      );
    } finally {
      this.loopActive = false;
    }
  }

  /** undefined when the work was done synchronously. */
  private handle(work: Work): Promise<void> | undefined {
    if (work.type === 'timer') return this.handleTimer(work);
    if (work.kind === 'normal') return this.handleNormal(work);
    return this.handleConfig(work);
  }

  private handleNormal(work: MessageWork): Promise<void> | undefined {
    if (work.configSeq < this.support.sequence()) return this.revalidateNormal(work);
    return this.cutNormal(work);
  }

  private async revalidateNormal(work: MessageWork): Promise<void> {
    try {
      await this.support.processNormalMsg(work.env);
    } catch (err) {
      this.logger.warn(
        { err, channel: this.channelId },
        `Discarding bad normal message: ${errorMessage(err)}`,
      );
      return;
    }
    await this.cutNormal(work);
  }

  private cutNormal(work: MessageWork): Promise<void> | undefined {
    this.inCutter.push(work);
    const { batches, pending } = this.support.blockCutter.ordered(work.env);
    if (batches.length === 0) {
      this.adjustTimer(pending);
      return undefined;
    }
    return this.writeCutBatches(batches, pending);
  }

  private async writeCutBatches(batches: readonly (readonly ReceivedEnvelope[])[], pending: boolean) {
    for (const batch of batches) await this.writeCutBatch(batch);
    this.adjustTimer(pending);
  }

  /** As Fabric's solo loop after Ordered(): no timer without pending messages, one with them. */
  private adjustTimer(pending: boolean): void {
    if (this.timer && !pending) this.stopTimer();
    else if (!this.timer && pending) this.startTimer();
  }

  private async handleConfig(work: MessageWork): Promise<void> {
    let config = work.env;
    if (work.configSeq < this.support.sequence()) {
      try {
        ({ config } = await this.support.processConfigMsg(work.env));
      } catch (err) {
        this.logger.warn(
          { err, channel: this.channelId },
          `Discarding bad config message: ${errorMessage(err)}`,
        );
        return;
      }
    }
    const pending = this.support.blockCutter.cut();
    if (pending.length > 0) await this.writeCutBatch(pending);
    await this.writeBlock('config', [config], [work]);
    this.stopTimer();
  }

  private async handleTimer(work: TimerWork): Promise<void> {
    if (!this.timer || work.generation !== this.timerGeneration) return; // stopped after it fired
    this.timer = undefined;
    const batch = this.support.blockCutter.cut();
    if (batch.length === 0) {
      this.logger.warn(
        { channel: this.channelId },
        'Batch timer expired with no pending requests, this might indicate a bug',
      );
      return;
    }
    await this.writeCutBatch(batch);
  }

  private async writeCutBatch(batch: readonly ReceivedEnvelope[]): Promise<void> {
    const works = this.inCutter.slice(0, batch.length);
    if (works.length !== batch.length || works.some((w, i) => w.env !== batch[i])) {
      throw internal(
        `solo chain for channel ${this.channelId}: the block cutter returned messages out of arrival order; ` +
          'the write-ahead log cannot track them, restart the orderer to re-order them from the log',
      );
    }
    this.inCutter = this.inCutter.slice(batch.length);
    await this.writeBlock('normal', batch, works);
  }

  /**
   * One block at a time: the next is created only after this one is in the ledger. When the disk
   * is full the same block is tried again (backoff on the injected clock, or at once when a request
   * re-checks) until it is written or the chain halts; the rest of the loop waits behind it, so
   * nothing is reordered, lost or written twice.
   */
  private async writeBlock(
    kind: MessageKind,
    messages: readonly ReceivedEnvelope[],
    works: readonly MessageWork[],
  ): Promise<void> {
    for (let failures = 0; ; failures++) {
      try {
        await this.tryWriteBlock(kind, messages, works);
      } catch (err) {
        const code = diskFullCode(err);
        if (code === undefined || this.state !== 'running') throw err;
        await this.waitForSpace(code, err, failures);
        const refusal = this.refusal();
        if (refusal) {
          this.settleAttempt();
          throw refusal;
        }
        continue;
      }
      return;
    }
  }

  private settleAttempt(): void {
    const settled = this.attemptSettled;
    this.attemptSettled = undefined;
    settled?.();
  }

  /** Settles at the next backoff, when a request re-checks, or when the chain halts. */
  private waitForSpace(code: string, cause: unknown, failures: number): Promise<void> {
    const error = unavailable(
      `solo chain for channel ${this.channelId} cannot write its next block: the disk is full (${code}): ${errorMessage(cause)}; ` +
        'acknowledged messages are kept and the chain resumes by itself once there is space, free space on the disk',
      { channel: this.channelId, code },
      { cause },
    );
    if (!this.stall)
      this.logger.error({ err: cause, channel: this.channelId, code }, 'solo chain stalled: disk full');
    const delayMs = Math.min(this.retryMaxMs, this.retryMinMs * 2 ** Math.min(failures, 30));
    return new Promise<void>((resolve) => {
      let attemptDone: Promise<void> | undefined;
      let settleAttempt: () => void = () => {};
      const wake = () => {
        timer.cancel();
        this.wakeStalled = undefined;
        attemptDone ??= new Promise<void>((done) => (settleAttempt = done));
        resolve();
      };
      const timer = this.support.clock.setTimer(delayMs, wake);
      this.wakeStalled = wake;
      this.stall = {
        error,
        retryNow: () => {
          wake();
          return attemptDone!;
        },
      };
      // The next attempt settles the requests that asked for it, whatever its outcome.
      this.attemptSettled = () => settleAttempt();
    });
  }

  private async tryWriteBlock(
    kind: MessageKind,
    messages: readonly ReceivedEnvelope[],
    works: readonly MessageWork[],
  ): Promise<void> {
    try {
      await this.writeBlockOnce(kind, messages, works);
      // Cleared before the waiting requests are told, so that they see the chain writing again.
      if (this.stall) {
        this.stall = undefined;
        this.logger.info(
          { channel: this.channelId },
          'disk has space again; solo chain resumed writing blocks',
        );
      }
    } finally {
      this.settleAttempt();
    }
  }

  private async writeBlockOnce(
    kind: MessageKind,
    messages: readonly ReceivedEnvelope[],
    works: readonly MessageWork[],
  ): Promise<void> {
    const block = this.support.createNextBlock(messages);
    const blockNumber = toNumber(block.header?.number);
    // The BATCH record is durable before the block exists, so recovery can tell what is in the ledger.
    if (this.wal) await this.wal.appendBatch(blockNumber, works[0]!.seq, works[works.length - 1]!.seq);
    try {
      if (kind === 'config') await this.support.writeConfigBlock(block, undefined);
      else await this.support.writeBlock(block, undefined);
    } catch (err) {
      if (isDiskFull(err)) throw err;
      throw internal(
        `solo chain for channel ${this.channelId} could not write ${kind} block ${blockNumber}: ${errorMessage(err)}; ` +
          'the chain has stopped, fix the ledger storage and restart the orderer (acknowledged messages are kept in the write-ahead log)',
        { channel: this.channelId, blockNumber },
        { cause: err },
      );
    }
  }

  private startTimer(): void {
    const generation = ++this.timerGeneration;
    const timeoutMs = this.support.sharedConfig().batchTimeoutMs;
    this.timer = this.support.clock.setTimer(timeoutMs, () => this.enqueue({ type: 'timer', generation }));
  }

  private stopTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.timerGeneration++;
  }

  /** Checked between messages, when no block sits between its BATCH record and its ledger write. */
  private compactionDue(): boolean {
    if (!this.wal) return false;
    const size = this.wal.sizeBytes;
    // Each compaction must at least halve the log, or a large backlog would be rewritten per message.
    return size > 0 && size >= this.compactThreshold && size >= 2 * this.wal.compactedBytes;
  }

  private async compact(): Promise<void> {
    try {
      await this.wal!.compact(() => this.unsettledRecords());
    } catch (err) {
      // The old log is whole; a compaction is only tidying, so a full disk just postpones it.
      if (!isDiskFull(err)) throw err;
      this.logger.warn({ err, channel: this.channelId }, 'write-ahead log compaction postponed: disk full');
    }
  }

  private unsettledRecords(): EnvelopeRecord[] {
    const queued = this.inbox.filter((w): w is MessageWork => w.type === 'message');
    return [...this.inCutter, ...queued].map((w) => ({
      type: 'envelope',
      seq: w.seq,
      kind: w.kind,
      configSeq: w.configSeq,
      raw: w.env.raw,
    }));
  }

  private async recover(walDir: string): Promise<void> {
    await this.previousChainHalted.catch(() => {});
    const file = await this.walStorage.open(walDir);
    try {
      await this.recoverFrom(file);
    } catch (err) {
      await file.close().catch(() => {});
      throw err;
    }
  }

  private async recoverFrom(file: WalFile): Promise<void> {
    const decoded = decodeWal(await file.readAll());
    if (decoded.dropReason === 'torn-tail') {
      this.logger.warn(
        { channel: this.channelId, droppedBytes: decoded.droppedBytes },
        'write-ahead log ends in an incomplete record (the process died while writing it); dropping it',
      );
    } else if (decoded.dropReason === 'corrupt-record') {
      this.logger.error(
        {
          channel: this.channelId,
          droppedBytes: decoded.droppedBytes,
          offset: decoded.validBytes,
          wal: file.location,
        },
        'write-ahead log has a corrupt record before its end; everything after it is dropped (check the disk)',
      );
    }
    const height = this.support.height();
    const plan = planRecovery(decoded.records, height);
    const wal = new WalWriter({ nextSeq: plan.nextSeq, sizeBytes: decoded.validBytes }, { file });
    // Rewrite the log at once: it drops the torn tail and BATCH records of blocks that never made it.
    await wal.compact(() => plan.replay);
    this.wal = wal;
    for (const record of plan.replay) {
      let env: ReceivedEnvelope;
      try {
        env = this.decodeEnvelope(record.raw);
      } catch (err) {
        this.logger.error(
          { err, channel: this.channelId, seq: record.seq },
          'dropping undecodable envelope from write-ahead log',
        );
        continue;
      }
      this.inbox.push({
        type: 'message',
        kind: record.kind,
        seq: record.seq,
        env,
        configSeq: record.configSeq,
      });
    }
    if (plan.replay.length > 0 || plan.uncommittedBatches > 0) {
      this.logger.info(
        {
          channel: this.channelId,
          replayed: plan.replay.length,
          uncommittedBatches: plan.uncommittedBatches,
          height,
        },
        'recovered acknowledged messages from the write-ahead log; ordering them again',
      );
    }
  }
}
