// The solo chain: Fabric's orderer/consensus/solo/consensus.go main() loop, one message at a time,
// plus a write-ahead log so that nothing acknowledged is lost when the process dies.
//
// This is the driver: the decisions (cutting, the batch timer, re-validation, the disk-full stall,
// when to compact) are SoloCore's (core.ts). The driver feeds it events (an envelope durable in the
// WAL, a timer firing, the outcome of an operation it asked for) and carries out its effects: the
// WAL, the ledger writes, the timers on the injected clock, the logging and the requests' promises.
//
// Without a WAL (walDir undefined) it behaves as Fabric's solo: order() resolves once the message
// is queued, and a crash loses the pending batch. With a WAL, order() resolves once the envelope
// is fsync'd in the log; a restarted chain re-orders every logged envelope that is not in a block.
import { OrdererError, unavailable, internal, errorMessage } from '../../errors.js';
import { toNumber } from '../../protos/index.js';
import { decodeEnvelope as defaultDecodeEnvelope } from '../../protoutil/index.js';
import type { TimerHandle } from '../../clock.js';
import type { Chain, ChainStatusReport, ConsenterSupport, ReceivedEnvelope } from '../types.js';
import { StatusListeners } from '../status-listeners.js';
import { SoloCore, type SoloContext, type SoloEffect, type SoloEvent, type SoloMessage } from './core.js';
import { decodeWal, planRecovery } from './wal-records.js';
import type { MessageKind } from './wal-records.js';
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

export interface SoloChainDependencies {
  walStorage?: WalStorage;
  /** Re-decodes logged envelopes on recovery. */
  decodeEnvelope?: (raw: Buffer) => ReceivedEnvelope;
  /** Settles once an earlier chain of the same channel has let go of the WAL. */
  previousChainHalted?: Promise<void>;
}

type State = 'created' | 'starting' | 'running' | 'halted' | 'failed';

/** An unexpected failure as the error the chain stops with. */
function chainError(channelId: string, err: unknown): Error {
  return err instanceof OrdererError
    ? err
    : internal(`solo chain for channel ${channelId} failed: ${errorMessage(err)}`, {}, { cause: err });
}

export class SoloChain implements Chain {
  /** submit() gives each message its WAL seq (or inbox slot) synchronously, in call order. */
  readonly ordersOnCall = true;
  /** Solo has no cluster: nothing reaches it through the cluster service. */
  readonly cluster = undefined;
  private readonly support: ConsenterSupport;
  private readonly walDir: string | undefined;
  private readonly walStorage: WalStorage;
  private readonly decodeEnvelope: (raw: Buffer) => ReceivedEnvelope;
  private readonly previousChainHalted: Promise<void>;
  /** Every decision: what to cut, when to write, re-validate, arm timers, stall or compact. */
  private readonly core: SoloCore;
  /** What the core reads with each event, read when it reads it. */
  private readonly context: SoloContext;

  private state: State = 'created';
  private failure: Error | undefined;
  private readonly statusListeners = new StatusListeners();
  private wal: WalWriter | undefined;
  private ready: Promise<void> = Promise.resolve();
  private haltDone: Promise<void> | undefined;
  private seqWithoutWal = 1;
  /** submit() calls waiting for recovery: later calls queue behind them, so call order is kept. */
  private waitingForReady = 0;
  /** The re-validation, block write or compaction being carried out (the core asks for one at a time). */
  private inFlight: Promise<void> | undefined;
  private batchTimer: TimerHandle | undefined;
  private retryTimer: TimerHandle | undefined;
  /** Why blocks cannot be written now (the disk is full). */
  private stall: Error | undefined;
  /** Requests that re-checked the disk, told once the block write attempt that runs next has run. */
  private attemptWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(support: ConsenterSupport, options: SoloChainOptions = {}, deps: SoloChainDependencies = {}) {
    this.support = support;
    this.walDir = options.walDir;
    this.walStorage = deps.walStorage ?? new FsWalStorage();
    this.decodeEnvelope = deps.decodeEnvelope ?? defaultDecodeEnvelope;
    this.previousChainHalted = deps.previousChainHalted ?? Promise.resolve();
    this.core = new SoloCore(
      {
        channelId: support.channelId,
        compactThresholdBytes: options.walCompactThresholdBytes ?? DEFAULT_WAL_COMPACT_THRESHOLD_BYTES,
        retryMinMs: options.diskFullRetryMinMs ?? DEFAULT_DISK_FULL_RETRY_MIN_MS,
        retryMaxMs: options.diskFullRetryMaxMs ?? DEFAULT_DISK_FULL_RETRY_MAX_MS,
      },
      { blockCutter: support.blockCutter },
    );
    // Getters: the sequence, BatchTimeout and WAL size are read only when a decision needs them.
    const currentWal = () => this.wal;
    this.context = {
      get sequence() {
        return support.sequence();
      },
      get batchTimeoutMs() {
        return support.sharedConfig().batchTimeoutMs;
      },
      get wal() {
        return currentWal();
      },
    };
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
      (replay) => {
        if (this.state !== 'starting') return;
        this.state = 'running';
        for (const m of replay) this.accept(m.kind, m.seq, m.env, m.configSeq);
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
    if (this.stall) {
      await this.retryNow();
      if (this.stall) throw this.stall;
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

  onStatusChange(listener: () => void): () => void {
    return this.statusListeners.add(listener);
  }

  /** Why blocks are not being written right now (the disk is full); undefined when they are. */
  stalled(): Error | undefined {
    return this.stall;
  }

  halt(): Promise<void> {
    if (this.haltDone) return this.haltDone;
    if (this.state !== 'failed') {
      this.state = 'halted';
      this.statusListeners.notify();
    }
    this.stopCore();
    this.haltDone = (async () => {
      await this.ready;
      // The block being written is finished (never left half-written); the rest stays in the WAL.
      while (this.inFlight) await this.inFlight;
      await this.wal?.close(this.refusal() ?? this.haltedError());
    })();
    return this.haltDone;
  }

  /** Resolves once every message queued so far has been handled (for tests and orderly shutdown). */
  async whenIdle(): Promise<void> {
    await this.ready;
    if (this.isIdle()) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
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
      this.accept(kind, this.seqWithoutWal++, env, configSeq);
      return;
    }
    await this.appendToWal(this.wal, kind, env, configSeq);
  }

  /** Logs the message; once durable it goes to the core. A failed append stops the chain. */
  private appendToWal(
    wal: WalWriter,
    kind: MessageKind,
    env: ReceivedEnvelope,
    configSeq: number,
  ): Promise<void> {
    return wal
      .appendEnvelope(kind, configSeq, env.raw, (seq) => this.accept(kind, seq, env, configSeq))
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
    this.statusListeners.notify();
    this.stopCore();
    this.logger.error({ err, channel: this.channelId }, 'solo chain stopped');
    void this.wal?.close(err).catch(() => {});
  }

  /** Nothing more is decided; requests waiting on a stalled write are told (they see the refusal). */
  private stopCore(): void {
    this.feed({ type: 'stop' });
    this.settleAttempt();
  }

  /** A message durable in the WAL (or accepted without one) joins the order. */
  private accept(kind: MessageKind, seq: number, env: ReceivedEnvelope, configSeq: number): void {
    if (this.state !== 'running') return; // halted meanwhile: it stays in the WAL
    this.feed({ type: 'envelope-durable', kind, seq, env, configSeq });
  }

  /** Hands the core an event and carries out the effects it returns, in order. */
  private feed(event: SoloEvent): void {
    for (const effect of this.core.step(event, this.context)) this.apply(effect);
    if (this.idleWaiters.length > 0) this.notifyIfIdle();
  }

  private apply(effect: SoloEffect): void {
    switch (effect.type) {
      case 'write-block':
        this.track(this.writeBlock(effect));
        return;
      case 'revalidate':
        this.track(this.revalidate(effect.kind, effect.env));
        return;
      case 'compact':
        this.track(this.compact());
        return;
      case 'discard':
        this.logger.warn(
          { err: effect.cause, channel: this.channelId },
          `Discarding bad ${effect.kind} message: ${errorMessage(effect.cause)}`,
        );
        return;
      case 'arm-timer': {
        const { generation } = effect;
        this.batchTimer = this.support.clock.setTimer(effect.timeoutMs, () => {
          this.batchTimer = undefined;
          if (this.state === 'running') this.feed({ type: 'timer-fired', generation });
        });
        return;
      }
      case 'cancel-timer':
        this.batchTimer?.cancel();
        this.batchTimer = undefined;
        return;
      case 'empty-timer':
        this.logger.warn(
          { channel: this.channelId },
          'Batch timer expired with no pending requests, this might indicate a bug',
        );
        return;
      case 'stall':
        this.stall = unavailable(
          `solo chain for channel ${this.channelId} cannot write its next block: the disk is full (${effect.diskFullCode}): ${errorMessage(effect.cause)}; ` +
            'acknowledged messages are kept and the chain resumes by itself once there is space, free space on the disk',
          { channel: this.channelId, code: effect.diskFullCode },
          { cause: effect.cause },
        );
        if (effect.newly) {
          this.logger.error(
            { err: effect.cause, channel: this.channelId, code: effect.diskFullCode },
            'solo chain stalled: disk full',
          );
        }
        return;
      case 'arm-retry-timer':
        this.retryTimer = this.support.clock.setTimer(effect.delayMs, () => {
          this.retryTimer = undefined;
          this.feed({ type: 'retry-timer-fired' });
        });
        return;
      case 'cancel-retry-timer':
        this.retryTimer?.cancel();
        this.retryTimer = undefined;
        return;
      case 'resume':
        // Cleared before the waiting requests are told, so that they see the chain writing again.
        this.stall = undefined;
        this.logger.info(
          { channel: this.channelId },
          'disk has space again; solo chain resumed writing blocks',
        );
        return;
      case 'fail':
        this.fail(effect.error);
        return;
    }
  }

  /** Keeps the operation the core waits for, so halt() and whenIdle() can wait for it too. */
  private track(operation: Promise<void>): void {
    const done: Promise<void> = operation
      .catch((err: unknown) => this.fail(chainError(this.channelId, err)))
      .finally(() => {
        // The outcome fed to the core may already have started the next operation.
        if (this.inFlight === done) this.inFlight = undefined;
        this.notifyIfIdle();
      });
    this.inFlight = done;
  }

  private isIdle(): boolean {
    return this.inFlight === undefined && !this.core.busy;
  }

  private notifyIfIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private settleAttempt(): void {
    for (const resolve of this.attemptWaiters.splice(0)) resolve();
  }

  /** Settles once the block write attempt that runs next has run (or the chain stopped). */
  private retryNow(): Promise<void> {
    const attempted = new Promise<void>((resolve) => this.attemptWaiters.push(resolve));
    this.feed({ type: 'retry-requested' });
    return attempted;
  }

  private async revalidate(kind: MessageKind, env: ReceivedEnvelope): Promise<void> {
    let outcome: SoloEvent;
    try {
      if (kind === 'normal') {
        await this.support.processNormalMsg(env);
        outcome = { type: 'revalidated', ok: true, env };
      } else {
        const { config } = await this.support.processConfigMsg(env);
        outcome = { type: 'revalidated', ok: true, env: config };
      }
    } catch (cause) {
      outcome = { type: 'revalidated', ok: false, cause };
    }
    this.feed(outcome);
  }

  /**
   * One attempt at the block the core asked for. When the disk is full the core asks for the same
   * block again later (backoff on the injected clock, or at once when a request re-checks).
   */
  private async writeBlock(effect: Extract<SoloEffect, { type: 'write-block' }>): Promise<void> {
    let outcome: SoloEvent;
    try {
      await this.writeBlockOnce(effect);
      outcome = { type: 'block-written' };
    } catch (err) {
      const code = diskFullCode(err);
      outcome = {
        type: 'block-write-failed',
        error: code === undefined ? chainError(this.channelId, err) : toError(err),
        diskFullCode: code,
      };
    }
    this.feed(outcome);
    // The next attempt settles the requests that asked for it, whatever its outcome.
    this.settleAttempt();
  }

  private async writeBlockOnce(effect: Extract<SoloEffect, { type: 'write-block' }>): Promise<void> {
    const { kind } = effect;
    const block = this.support.createNextBlock(effect.batch);
    const blockNumber = toNumber(block.header?.number);
    // The BATCH record is durable before the block exists, so recovery can tell what is in the ledger.
    if (this.wal) await this.wal.appendBatch(blockNumber, effect.firstSeq, effect.lastSeq);
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

  private async compact(): Promise<void> {
    try {
      await this.wal!.compact(() => this.core.unsettledRecords());
    } catch (err) {
      // The old log is whole; a compaction is only tidying, so a full disk just postpones it.
      if (!isDiskFull(err)) throw err;
      this.logger.warn({ err, channel: this.channelId }, 'write-ahead log compaction postponed: disk full');
    }
    this.feed({ type: 'compacted' });
  }

  /** Opens and replays the WAL; returns the logged messages not in a block, in order. */
  private async recover(walDir: string): Promise<SoloMessage[]> {
    await this.previousChainHalted.catch(() => {});
    const file = await this.walStorage.open(walDir);
    try {
      return await this.recoverFrom(file);
    } catch (err) {
      await file.close().catch(() => {});
      throw err;
    }
  }

  private async recoverFrom(file: WalFile): Promise<SoloMessage[]> {
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
    const replay: SoloMessage[] = [];
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
      replay.push({ kind: record.kind, seq: record.seq, env, configSeq: record.configSeq });
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
    return replay;
  }
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
