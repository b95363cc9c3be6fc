// The Kafka chain: the I/O around KafkaCore, as Fabric's orderer/consensus/kafka/chain.go does it.
// A channel is one single-partition topic named after the channel. Every orderer posts what it is
// given to that partition and consumes all of it, and the core turns the partition into blocks, so
// every orderer writes the same blocks.
//
// Start-up (Fabric's startThread), each step retried with Kafka.Retry until the chain halts: create the
// topic (on failure, rely on the brokers' auto-creation), connect the producer, post CONNECT, find the
// offset to resume from (the last block's KafkaMetadata, else the oldest offset), check that the
// partition has replicas and a leader, then start consuming. Only then does waitReady() resolve.
//
// order()/configure() resolve once the brokers acknowledged the message (acks = all): from then on it
// is in Kafka and every orderer will order it. A broker outage makes order() and waitReady() refuse
// with OrdererError('unavailable'), makes errored() report it once consumption has failed for
// Kafka.Retry.NetworkTimeouts.ReadTimeout, and heals by itself when the brokers come back.
import type { TimerHandle } from '../../clock.js';
import { errorMessage, internal, OrdererError, unavailable } from '../../errors.js';
import type { KafkaMetrics } from '../../metrics/index.js';
import { decodeEnvelope as defaultDecodeEnvelope } from '../../protoutil/envelope.js';
import { toNumber } from '../../protos/index.js';
import type { Chain, ChainStatusReport, ConsenterSupport, ReceivedEnvelope } from '../types.js';
import { StatusListeners } from '../status-listeners.js';
import type { KafkaClient, KafkaMessage } from './client.js';
import { diskFullCode } from '../../ledger/index.js';
import { isRetriableKafkaFailure } from './client-errors.js';
import { KafkaCore, type CoreContext, type KafkaEffect } from './core.js';
import {
  decodeKafkaMetadata,
  encodeConnect,
  encodeKafkaMetadata,
  encodeRegular,
  encodeTimeToCut,
  type KafkaMetadataValues,
} from './messages.js';
import { retry, RetriesExhausted, RetryAborted, waitOrAbort, type RetryPolicy } from './retry.js';

/** Fabric's Kafka consenter uses partition 0 of the channel's topic only. */
export const KAFKA_PARTITION = 0;
// Fabric keys every message with the partition number as a string.
const messageKey = Buffer.from(String(KAFKA_PARTITION));

/** Orderer capabilities under which stale messages are re-validated and re-ordered (Fabric's Resubmission()). */
const resubmissionCapabilities = ['V1_1', 'V1_4_2', 'V2_0'];

export interface KafkaChainOptions {
  /** The channel's Orderer/KafkaBrokers. */
  brokers: string[];
  retry: RetryPolicy;
  /** Kafka.Retry.NetworkTimeouts.ReadTimeout: how long consumption may fail before errored() says so. */
  consumerErrorGraceMs: number;
  /** Kafka.Retry.Consumer.RetryBackoff. */
  consumerRetryBackoffMs: number;
  /** Kafka.Topic.ReplicationFactor. */
  replicationFactor: number;
  /** False for Kafka.Version below 0.10.1.0 (no CreateTopics): rely on the brokers' auto-creation. */
  createTopic: boolean;
  /** How long waitReady() waits for a starting chain before refusing. Default 3000 ms. */
  readyWaitMs?: number;
  /**
   * How many normal blocks may be handed to the writer before the oldest is durable. Default 1:
   * as in Fabric, the next block is cut while the previous one is stored, and waits for it.
   */
  blockWritesInFlight?: number;
}

export interface KafkaChainDependencies {
  client: KafkaClient;
  decodeEnvelope?: (raw: Buffer) => ReceivedEnvelope;
  /** Called once the chain has halted and closed its client. */
  onHalted?: () => void;
  /** consensus_kafka_last_offset_persisted {channel} is set on every block written. */
  metrics?: KafkaMetrics;
}

type State = 'created' | 'starting' | 'running' | 'halted' | 'failed';

type WriteBlockEffect = Extract<KafkaEffect, { type: 'write-block' }>;

/** A normal block handed to the writer: done settles once it is durable (or its write failed). */
interface PendingWrite {
  readonly effect: WriteBlockEffect;
  readonly done: Promise<void>;
}

/** The start-up state recorded in the last block (Fabric's getOffsets). */
export function resumePoint(
  metadata: Buffer | undefined,
  channelId: string,
): (KafkaMetadataValues & { fromOldest: false }) | { fromOldest: true } {
  if (metadata === undefined || metadata.length === 0) return { fromOldest: true };
  try {
    return { ...decodeKafkaMetadata(metadata), fromOldest: false };
  } catch (err) {
    throw internal(
      `the last block of channel ${channelId} carries consenter metadata that is not KafkaMetadata (${errorMessage(err)}); ` +
        'the ledger may be corrupted or was written by another consensus type: restore the ledger from a healthy orderer',
      { channel: channelId },
    );
  }
}

export class KafkaChain implements Chain {
  /** Fabric's order: a Broadcast stream waits for each message to be produced to Kafka. */
  readonly ordersOnCall = false;
  /** Orderers of a Kafka channel meet in the Kafka topic, not in the cluster service. */
  readonly cluster = undefined;
  readonly topic: string;
  private readonly support: ConsenterSupport;
  private readonly options: KafkaChainOptions;
  private readonly client: KafkaClient;
  private readonly onHalted: (() => void) | undefined;
  private readonly metrics: KafkaMetrics | undefined;
  private readonly core: KafkaCore;
  private readonly resume: ReturnType<typeof resumePoint>;
  private readonly stopping = new AbortController();

  private state: State = 'created';
  private failure: OrdererError | undefined;
  private startStep = 'not started';
  private startProblem: string | undefined;
  private startOffset = 0;
  private replicaIds: number[] = [];
  private startUpDone: Promise<void> = Promise.resolve();
  private consumeDone: Promise<void> = Promise.resolve();
  private haltDone: Promise<void> | undefined;
  private readonly started: { promise: Promise<void>; resolve: () => void };
  private ingressGate: { promise: Promise<void>; resolve: () => void } | undefined;

  /** Processing of consumed messages and timer events, one at a time. */
  private queue: Promise<void> = Promise.resolve();
  private batchTimer: TimerHandle | undefined;
  private consumerGraceTimer: TimerHandle | undefined;
  private consumerError: OrdererError | undefined;
  private readonly statusListeners = new StatusListeners();
  private lastConsumerProblem: unknown;
  private connectInFlight = false;
  private diskStall: OrdererError | undefined;
  /** Normal blocks handed to the writer and not known durable yet, oldest first. */
  private readonly pendingWrites: PendingWrite[] = [];
  /** One of pendingWrites failed: they are written again before anything else is handed over. */
  private pendingWriteFailed = false;

  constructor(
    support: ConsenterSupport,
    metadata: Buffer | undefined,
    options: KafkaChainOptions,
    deps: KafkaChainDependencies,
  ) {
    this.support = support;
    this.options = options;
    this.client = deps.client;
    this.onHalted = deps.onHalted;
    this.metrics = deps.metrics;
    this.topic = support.channelId;
    this.resume = resumePoint(metadata, support.channelId);
    const state = this.resume.fromOldest
      ? { lastOffsetPersisted: -1, lastOriginalOffsetProcessed: 0, lastResubmittedConfigOffset: 0 }
      : this.resume;
    this.core = new KafkaCore(
      {
        lastOffsetPersisted: state.lastOffsetPersisted,
        lastOriginalOffsetProcessed: state.lastOriginalOffsetProcessed,
        lastResubmittedConfigOffset: state.lastResubmittedConfigOffset,
        lastCutBlockNumber: support.height() - 1,
      },
      { blockCutter: support.blockCutter, decodeEnvelope: deps.decodeEnvelope ?? defaultDecodeEnvelope },
    );
    let resolveStarted!: () => void;
    this.started = { promise: new Promise<void>((r) => (resolveStarted = r)), resolve: resolveStarted };
    if (this.core.isIngressBlocked) this.ingressGate = gate();
    if (!this.resume.fromOldest)
      this.metrics?.lastOffsetPersisted.set(state.lastOffsetPersisted, { channel: support.channelId });
    this.log.info(
      {
        lastOffsetPersisted: this.resume.fromOldest ? 'none (new channel)' : state.lastOffsetPersisted,
        lastCutBlockNumber: support.height() - 1,
        brokers: options.brokers,
      },
      'starting Kafka chain',
    );
  }

  private get channelId(): string {
    return this.support.channelId;
  }

  private get log() {
    return this.support.logger;
  }

  private get brokerList(): string {
    return this.options.brokers.join(', ');
  }

  /** The channel's Orderer/KafkaBrokers. */
  get brokers(): readonly string[] {
    return this.options.brokers;
  }

  /** Partition replicas found at start-up. */
  get replicas(): readonly number[] {
    return this.replicaIds;
  }

  /** The offset the chain resumed consuming from (valid once started). */
  get resumedFromOffset(): number {
    return this.startOffset;
  }

  /** The core's bookkeeping (for tests and diagnostics). */
  coreState() {
    return this.core.state;
  }

  start(): void {
    if (this.state !== 'created') return;
    this.state = 'starting';
    this.statusListeners.notify();
    this.startUpDone = this.startUp();
  }

  async waitReady(): Promise<void> {
    const waitMs = this.options.readyWaitMs ?? 3000;
    if ((this.state === 'created' || this.state === 'starting') && waitMs > 0) {
      let timer: TimerHandle | undefined;
      const timedOut = new Promise<void>((resolve) => (timer = this.support.clock.setTimer(waitMs, resolve)));
      await Promise.race([this.started.promise, timedOut]);
      timer?.cancel();
    }
    for (;;) {
      const refusal = this.refusal();
      if (refusal) throw refusal;
      if (!this.ingressGate) return;
      // A config message this chain re-submitted is on its way back through Kafka: Fabric holds
      // Broadcast until it is ordered, so nothing is validated against a config about to change.
      await this.ingressGate.promise;
    }
  }

  /** Fabric reports a Kafka chain, which has no status reporter, as relation "other". */
  statusReport(): ChainStatusReport {
    return { consensusRelation: 'other', status: this.errored() ? 'inactive' : 'active' };
  }

  errored(): Error | undefined {
    return this.refusal() ?? this.consumerError;
  }

  onStatusChange(listener: () => void): () => void {
    return this.statusListeners.add(listener);
  }

  async order(env: ReceivedEnvelope, configSeq: number): Promise<void> {
    await this.post('normal', env, configSeq);
  }

  async configure(configEnv: ReceivedEnvelope, configSeq: number): Promise<void> {
    await this.post('config', configEnv, configSeq);
  }

  /**
   * Posts a CONNECT message, as Fabric's HealthCheck does: rejects with OrdererError('unavailable')
   * when the chain is not serving or the partition does not take messages (brokers down, not enough
   * in-sync replicas).
   */
  async healthCheck(): Promise<void> {
    const problem = this.errored();
    if (problem) throw problem;
    try {
      await this.client.produce(this.topic, KAFKA_PARTITION, encodeConnect(), messageKey);
    } catch (err) {
      throw unavailable(
        `Kafka partition ${this.topic}/${KAFKA_PARTITION} (replicas ${JSON.stringify(this.replicaIds)}, brokers ${this.brokerList}) ` +
          `does not accept messages: ${errorMessage(err)}`,
        { channel: this.channelId, replicas: this.replicaIds },
        { cause: err },
      );
    }
  }

  halt(): Promise<void> {
    if (this.haltDone) return this.haltDone;
    if (this.state !== 'failed') {
      this.state = 'halted';
      this.statusListeners.notify();
    }
    this.stopEverything();
    this.haltDone = (async () => {
      // Closing the client ends fetches and retries waiting on the network.
      await this.client.close();
      await this.startUpDone;
      await this.consumeDone;
      // A block being written is finished; nothing after it starts.
      await this.queue;
      await Promise.allSettled(this.pendingWrites.map((pending) => pending.done));
      this.log.info('Kafka chain halted');
      this.onHalted?.();
    })();
    return this.haltDone;
  }

  // ---- ingress -------------------------------------------------------------------------------

  private async post(kind: 'normal' | 'config', env: ReceivedEnvelope, configSeq: number): Promise<void> {
    const refusal = this.refusal();
    if (refusal) throw refusal;
    try {
      await this.client.produce(
        this.topic,
        KAFKA_PARTITION,
        encodeRegular(kind, env.raw, configSeq, 0),
        messageKey,
      );
    } catch (err) {
      throw unavailable(
        `Kafka brokers ${this.brokerList} did not acknowledge the ${kind} message for channel ${this.channelId}: ` +
          `${errorMessage(err)}; the message was not ordered, send it again (the orderer keeps retrying the brokers)`,
        { channel: this.channelId, brokers: this.options.brokers },
        { cause: err },
      );
    }
  }

  private refusal(): OrdererError | undefined {
    switch (this.state) {
      case 'created':
        return unavailable(
          `Kafka chain for channel ${this.channelId} has not been started; the orderer is still bringing the channel up, retry shortly`,
          { channel: this.channelId },
        );
      case 'starting':
        return unavailable(
          `Kafka chain for channel ${this.channelId} is not ready: it is still connecting to the Kafka brokers ${this.brokerList} ` +
            `(step: ${this.startStep}${this.startProblem ? `; last error: ${this.startProblem}` : ''}); ` +
            'the orderer keeps retrying (Kafka.Retry settings), try again later',
          { channel: this.channelId, brokers: this.options.brokers, step: this.startStep },
        );
      case 'halted':
        return unavailable(
          `Kafka chain for channel ${this.channelId} is halted and accepts no more messages; ` +
            'the channel is being removed or the orderer is shutting down',
          { channel: this.channelId },
        );
      case 'failed':
        return this.failure;
      case 'running':
        return undefined;
    }
  }

  // ---- start-up --------------------------------------------------------------------------------

  private async startUp(): Promise<void> {
    try {
      await this.setUpTopic();
      await this.step('connecting the producer to the Kafka cluster', () => this.client.connect());
      await this.step('posting the CONNECT message', () =>
        this.client.produce(this.topic, KAFKA_PARTITION, encodeConnect(), messageKey),
      );
      this.startOffset = await this.findStartOffset();
      const partition = await this.step('checking the replicas of the partition', () =>
        this.checkedPartition(),
      );
      this.replicaIds = partition.replicas;
      if (this.state !== 'starting') return;
      this.state = 'running';
      this.startProblem = undefined;
      this.statusListeners.notify();
      this.log.info(
        { topic: this.topic, fromOffset: this.startOffset, replicas: partition.replicas, isr: partition.isr },
        'Kafka chain started',
      );
      this.consumeDone = this.consume(this.startOffset);
    } catch (err) {
      if (err instanceof RetryAborted || this.state !== 'starting') return;
      this.fail(
        err instanceof OrdererError && err.details['startUp'] === true
          ? err
          : unavailable(
              `Kafka chain for channel ${this.channelId} could not start (${this.startStep}, brokers ${this.brokerList}): ` +
                `${errorMessage(err)}; fix the Kafka cluster or the Kafka settings and restart the orderer`,
              { channel: this.channelId, brokers: this.options.brokers, step: this.startStep },
              { cause: err },
            ),
      );
    } finally {
      this.started.resolve();
    }
  }

  /** The partition's metadata, refused (and so retried) while it has no replicas or no leader. */
  private async checkedPartition() {
    const partition = await this.client.partitionMetadata(this.topic, KAFKA_PARTITION);
    const where = `Kafka partition ${this.topic}/${KAFKA_PARTITION} on brokers ${this.brokerList}`;
    if (partition.replicas.length === 0) {
      throw unavailable(
        `${where} has no replicas: the brokers hosting it are gone or the topic is being deleted; ` +
          'check the Kafka cluster (kafka-topics.sh --describe)',
        { channel: this.channelId, topic: this.topic, reason: 'no-replicas' },
      );
    }
    if (partition.leader < 0) {
      throw unavailable(
        `${where} has no leader (replicas ${JSON.stringify(partition.replicas)}, in-sync ` +
          `${JSON.stringify(partition.isr)}, offline ${JSON.stringify(partition.offlineReplicas)}): ` +
          'start the brokers holding its replicas, or wait for a leader election',
        { channel: this.channelId, topic: this.topic, reason: 'no-leader', replicas: partition.replicas },
      );
    }
    return partition;
  }

  private async step<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    this.startStep = what;
    return retry(
      `${what} for channel ${this.channelId}`,
      this.options.retry,
      {
        clock: this.support.clock,
        signal: this.stopping.signal,
        onFailure: (err, attempts) => {
          this.startProblem = errorMessage(err);
          this.log.warn(
            { step: what, attempt: attempts, err: this.startProblem },
            'Kafka chain start-up step failed; retrying',
          );
        },
      },
      attempt,
    );
  }

  private async setUpTopic(): Promise<void> {
    if (!this.options.createTopic) return;
    try {
      this.startStep = 'creating the topic';
      const outcome = await retry(
        `creating Kafka topic ${this.topic}`,
        this.options.retry,
        {
          clock: this.support.clock,
          signal: this.stopping.signal,
          isRetriable: isRetriableKafkaFailure,
          onFailure: (err, attempts) => {
            this.startProblem = errorMessage(err);
            this.log.warn(
              { attempt: attempts, err: this.startProblem },
              'creating the Kafka topic failed; retrying',
            );
          },
        },
        () =>
          this.client.createTopic(this.topic, {
            replicationFactor: this.options.replicationFactor,
            partitions: 1,
          }),
      );
      this.log.info({ topic: this.topic, outcome }, 'Kafka topic set up');
    } catch (err) {
      if (err instanceof RetryAborted) throw err;
      // As Fabric: log it and fall back to the brokers' auto.create.topics.enable.
      this.log.info(
        { topic: this.topic, err: errorMessage(err) },
        'failed to create the Kafka topic; relying on the brokers to create it (auto.create.topics.enable)',
      );
    }
  }

  private async findStartOffset(): Promise<number> {
    const range = await this.step('reading the offsets of the partition', () =>
      this.client.offsets(this.topic, KAFKA_PARTITION),
    );
    if (this.resume.fromOldest) return range.oldest;
    const from = this.resume.lastOffsetPersisted + 1;
    if (from < range.oldest || from > range.next) {
      throw unavailable(
        `Kafka chain for channel ${this.channelId} must resume at offset ${from} (the last block records offset ` +
          `${this.resume.lastOffsetPersisted}), but partition ${this.topic}/${KAFKA_PARTITION} holds offsets ` +
          `${range.oldest} to ${range.next - 1}: ` +
          (from < range.oldest
            ? 'the brokers deleted messages this orderer has not ordered yet (set retention.ms=-1 on the topic); '
            : 'the topic holds fewer messages than this ledger records (was it deleted and re-created?); ') +
          'restore the topic, or restore this orderer from a healthy one, then restart it',
        { channel: this.channelId, from, oldest: range.oldest, next: range.next, startUp: true },
      );
    }
    return from;
  }

  // ---- consumption ------------------------------------------------------------------------------

  private async consume(fromOffset: number): Promise<void> {
    let next = fromOffset;
    while (this.state === 'running') {
      try {
        for await (const message of this.client.consume(this.topic, KAFKA_PARTITION, {
          fromOffset: next,
          signal: this.stopping.signal,
          retryBackoffMs: this.options.consumerRetryBackoffMs,
          onRetry: (err) => this.consumerTrouble(err),
        })) {
          this.consumerProgress();
          next = message.offset + 1;
          await this.serially(() => this.handleConsumed(message));
          if (this.state !== 'running') return;
        }
        return; // the signal ended the iteration: halting
      } catch (err) {
        if (this.state !== 'running') return;
        if (
          err instanceof OrdererError &&
          (err.kind === 'not-found' || err.details['reason'] === 'offset-out-of-range')
        ) {
          this.fail(
            unavailable(
              `Kafka chain for channel ${this.channelId} cannot read partition ${this.topic}/${KAFKA_PARTITION} at offset ${next}: ` +
                `${err.message}; restore the topic or this orderer's ledger and restart the orderer`,
              { channel: this.channelId, offset: next },
              { cause: err },
            ),
          );
          return;
        }
        // A failure the client does not retry by itself (authentication, TLS): report it now and
        // start over after a pause, so fixing the brokers heals the chain without a restart.
        this.consumerTrouble(err);
        this.markConsumerErrored(err);
        await waitOrAbort(this.support.clock, this.options.retry.shortIntervalMs, this.stopping.signal);
      }
    }
  }

  private consumerTrouble(err: unknown): void {
    this.lastConsumerProblem = err;
    if (this.consumerError || this.consumerGraceTimer) return;
    this.log.warn(
      { err: errorMessage(err) },
      'error during consumption; Deliver requests will be refused if it goes on',
    );
    this.consumerGraceTimer = this.support.clock.setTimer(this.options.consumerErrorGraceMs, () => {
      this.consumerGraceTimer = undefined;
      this.markConsumerErrored(this.lastConsumerProblem);
    });
  }

  private markConsumerErrored(err: unknown): void {
    if (this.state !== 'running') return;
    this.consumerGraceTimer?.cancel();
    this.consumerGraceTimer = undefined;
    if (!this.consumerError)
      this.log.error({ err: errorMessage(err) }, 'cannot consume the channel partition; marked unavailable');
    this.consumerError = unavailable(
      `Kafka chain for channel ${this.channelId} cannot read partition ${this.topic}/${KAFKA_PARTITION} from brokers ` +
        `${this.brokerList}: ${errorMessage(err)}; the orderer keeps retrying and serves the channel again once the brokers answer`,
      { channel: this.channelId, brokers: this.options.brokers },
    );
    this.statusListeners.notify();
    // With nothing new in the partition, no message would come to show that consumption works again.
    void this.postConnectUntilAccepted();
  }

  private consumerProgress(): void {
    this.consumerGraceTimer?.cancel();
    this.consumerGraceTimer = undefined;
    if (this.consumerError) {
      this.consumerError = undefined;
      this.statusListeners.notify();
      this.log.info('consuming the channel partition again; marked available');
    }
  }

  private async postConnectUntilAccepted(): Promise<void> {
    if (this.connectInFlight) return;
    this.connectInFlight = true;
    try {
      await retry(
        `posting CONNECT to channel ${this.channelId}`,
        this.options.retry,
        { clock: this.support.clock, signal: this.stopping.signal },
        () => this.client.produce(this.topic, KAFKA_PARTITION, encodeConnect(), messageKey),
      );
    } catch (err) {
      if (!(err instanceof RetryAborted))
        this.log.error({ err: errorMessage(err) }, 'could not post CONNECT');
    } finally {
      this.connectInFlight = false;
    }
  }

  // ---- processing --------------------------------------------------------------------------------

  private serially(work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(async () => {
      if (this.state !== 'running') return;
      try {
        await work();
      } catch (err) {
        this.fail(
          err instanceof OrdererError
            ? err
            : internal(
                `Kafka chain for channel ${this.channelId} failed: ${errorMessage(err)}`,
                {},
                { cause: err },
              ),
        );
      }
    });
    this.queue = run;
    return run;
  }

  private context(): CoreContext {
    const shared = this.support.sharedConfig();
    return {
      sequence: this.support.sequence(),
      resubmission: resubmissionCapabilities.some((c) => shared.capabilities.has(c)),
      batchTimeoutMs: shared.batchTimeoutMs,
    };
  }

  private async handleConsumed(message: KafkaMessage): Promise<void> {
    await this.apply(this.core.consumed(message.offset, message.value, this.context()));
  }

  private async apply(effects: KafkaEffect[]): Promise<void> {
    for (const effect of effects) {
      if (this.state !== 'running') return;
      switch (effect.type) {
        case 'write-block':
          await this.writeBlock(effect);
          break;
        case 'arm-timer': {
          this.batchTimer?.cancel();
          const { generation } = effect;
          this.batchTimer = this.support.clock.setTimer(effect.timeoutMs, () => {
            void this.serially(() => this.apply(this.core.timerFired(generation)));
          });
          break;
        }
        case 'cancel-timer':
          this.batchTimer?.cancel();
          this.batchTimer = undefined;
          break;
        case 'post-time-to-cut':
          this.batchTimer = undefined;
          void this.postTimeToCut(effect.blockNumber);
          break;
        case 'resubmit-normal':
          await this.resubmitNormal(effect.env, effect.originalOffset);
          break;
        case 'resubmit-config':
          await this.resubmitConfig(effect.env, effect.originalOffset);
          break;
        case 'validate':
          await this.validateAndCommit(effect.kind, effect.env, effect.receivedOffset);
          break;
        case 'block-ingress':
          this.ingressGate ??= gate();
          this.log.info('re-submitted a config message; holding new Broadcast messages until it is ordered');
          break;
        case 'unblock-ingress':
          this.ingressGate?.resolve();
          this.ingressGate = undefined;
          this.log.info('re-submitted config message ordered; accepting Broadcast messages again');
          break;
        case 'discard':
          this.log[effect.level]({ offset: effect.offset }, `discarding consumed message: ${effect.reason}`);
          break;
        case 'fatal':
          throw internal(
            `Kafka chain for channel ${this.channelId} stopped at offset ${effect.offset}: ${effect.reason}; ` +
              'the channel is no longer served by this orderer, report the bug and restart the orderer',
            { channel: this.channelId, offset: effect.offset },
          );
      }
    }
  }

  /**
   * A config block (and a channel creation on the system channel) is written once every block
   * before it is durable, and consumption waits for it, as Fabric's WriteConfigBlock does. A normal
   * block is handed to the writer and consumption goes on while it is stored, as Fabric's block
   * writer commits in the background: the next block is cut meanwhile and handed over once fewer
   * than blockWritesInFlight writes are pending. Crash safety is the ledger's: each block carries its
   * own offsets, so a restart resumes after the last durable one.
   */
  private async writeBlock(effect: WriteBlockEffect): Promise<void> {
    if (effect.kind === 'config') {
      await this.drainWrites();
      if (this.state !== 'running') return;
      await this.writeDurably(effect);
      return;
    }
    const limit = Math.max(1, this.options.blockWritesInFlight ?? 1);
    while (this.pendingWriteFailed || this.pendingWrites.length >= limit) {
      await this.settleOldestWrite();
      if (this.state !== 'running') return;
    }
    const block = this.nextBlock(effect);
    const done = this.support.writeBlock(block, encodeKafkaMetadata(effect.metadata));
    this.pendingWrites.push({ effect, done });
    done.then(
      () => this.written(effect),
      () => {
        // Dealt with in order by the processing queue (settleOldestWrite), also when no message
        // arrives to trigger the next block.
        this.pendingWriteFailed = true;
        void this.serially(() => this.drainWrites());
      },
    );
  }

  /** Waits until every block handed to the writer is durable, writing failed ones again. */
  private async drainWrites(): Promise<void> {
    while (this.pendingWrites.length > 0 && this.state === 'running') await this.settleOldestWrite();
  }

  private async settleOldestWrite(): Promise<void> {
    const oldest = this.pendingWrites[0];
    if (!oldest) {
      this.pendingWriteFailed = false;
      return;
    }
    try {
      await oldest.done;
      this.pendingWrites.shift();
    } catch (err) {
      // Every write handed over after the failed one failed with it (nothing may follow a missing
      // block) and the writer went back to the last durable block: write them again, in order.
      const failed = this.pendingWrites.splice(0);
      await Promise.allSettled(failed.map((pending) => pending.done));
      this.pendingWriteFailed = false;
      for (const [i, pending] of failed.entries()) {
        if (this.state !== 'running')
          throw this.writeFailure(pending.effect.kind, pending.effect.blockNumber, err);
        await this.writeDurably(pending.effect, i === 0 ? err : undefined);
      }
    }
  }

  private nextBlock(effect: WriteBlockEffect) {
    const block = this.support.createNextBlock(effect.batch);
    const number = toNumber(block.header?.number);
    if (number !== effect.blockNumber) {
      throw internal(
        `Kafka chain for channel ${this.channelId} expected to write block ${effect.blockNumber} but the ledger is at block ${number}; restart the orderer`,
        { channel: this.channelId },
      );
    }
    return block;
  }

  /**
   * Writes one block and waits until it is durable. On a full disk the same block is tried again
   * (backoff on the injected clock) until it is written; consumption waits behind it and resumes
   * from the same offset, nothing is skipped. `earlierFailure`: the block's write already failed so.
   */
  private async writeDurably(effect: WriteBlockEffect, earlierFailure?: unknown): Promise<void> {
    const number = effect.blockNumber;
    const metadata = encodeKafkaMetadata(effect.metadata);
    let failure = earlierFailure;
    for (let stalls = 0; ; stalls++) {
      if (failure !== undefined) {
        const code = diskFullCode(failure);
        if (code === undefined || this.state !== 'running')
          throw this.writeFailure(effect.kind, number, failure);
        if (!this.diskStall)
          this.log.error(
            { err: errorMessage(failure), code, block: number },
            'Kafka chain stalled: disk full',
          );
        this.diskStall = unavailable(
          `Kafka chain for channel ${this.channelId} cannot write block ${number}: the disk is full (${code}); ` +
            'it resumes by itself once there is space, free space on the disk',
          { channel: this.channelId, code },
          { cause: failure },
        );
        await waitOrAbort(
          this.support.clock,
          Math.min(10_000, 200 * 2 ** Math.min(stalls, 30)),
          this.stopping.signal,
        );
        if (this.state !== 'running') throw this.writeFailure(effect.kind, number, failure);
      }
      const block = this.nextBlock(effect);
      try {
        if (effect.kind === 'config') await this.support.writeConfigBlock(block, metadata);
        else await this.support.writeBlock(block, metadata);
        break;
      } catch (err) {
        failure = err;
      }
    }
    if (this.diskStall) {
      this.diskStall = undefined;
      this.log.info({ block: number }, 'disk has space again; Kafka chain resumed writing blocks');
    }
    this.written(effect);
  }

  private written(effect: WriteBlockEffect): void {
    this.metrics?.lastOffsetPersisted.set(effect.metadata.lastOffsetPersisted, { channel: this.channelId });
    this.log.debug(
      { block: effect.blockNumber, ...effect.metadata, messages: effect.batch.length },
      'wrote block',
    );
  }

  /** Why blocks are not being written right now (the disk is full); undefined when they are. */
  stalled(): Error | undefined {
    return this.diskStall;
  }

  private writeFailure(kind: string, number: number, err: unknown): OrdererError {
    return internal(
      `Kafka chain for channel ${this.channelId} could not write ${kind} block ${number}: ${errorMessage(err)}; ` +
        'the chain has stopped, fix the ledger storage and restart the orderer (it resumes from Kafka)',
      { channel: this.channelId, blockNumber: number },
      { cause: err },
    );
  }

  private async postTimeToCut(blockNumber: number): Promise<void> {
    try {
      await this.client.produce(this.topic, KAFKA_PARTITION, encodeTimeToCut(blockNumber), messageKey);
    } catch (err) {
      this.log.error(
        { block: blockNumber, err: errorMessage(err) },
        'cannot post time-to-cut message; will try again',
      );
      // Fabric leaves the batch waiting for the next message; arming the timer again cuts it anyway.
      void this.serially(() => this.apply(this.core.timeToCutPostFailed(blockNumber, this.context())));
    }
  }

  /** Posts a message another time, as Fabric's re-submission does, retrying while the brokers are away. */
  private async repost(what: string, value: Buffer): Promise<boolean> {
    try {
      await retry(
        what,
        this.options.retry,
        {
          clock: this.support.clock,
          signal: this.stopping.signal,
          isRetriable: isRetriableKafkaFailure,
          onFailure: (err, attempt) =>
            this.log.warn({ attempt, err: errorMessage(err) }, `${what} failed; retrying`),
        },
        () => this.client.produce(this.topic, KAFKA_PARTITION, value, messageKey),
      );
      return true;
    } catch (err) {
      if (!(err instanceof RetryAborted)) {
        this.log.error(
          { err: errorMessage(err), exhausted: err instanceof RetriesExhausted },
          `${what} failed; the message is dropped`,
        );
      }
      return false;
    }
  }

  private async resubmitNormal(env: ReceivedEnvelope, originalOffset: number): Promise<void> {
    let configSeq: number;
    try {
      configSeq = await this.support.processNormalMsg(env);
    } catch (err) {
      this.log.warn(
        { offset: originalOffset, err: errorMessage(err) },
        'discarding bad normal message after re-validation',
      );
      return;
    }
    this.log.debug(
      { originalOffset, configSeq },
      'normal message still valid after a config change; re-submitting',
    );
    await this.repost(
      're-submitting a normal message',
      encodeRegular('normal', env.raw, configSeq, originalOffset),
    );
  }

  private async resubmitConfig(env: ReceivedEnvelope, originalOffset: number): Promise<void> {
    let result;
    try {
      result = await this.support.processConfigMsg(env);
    } catch (err) {
      this.log.warn(
        { offset: originalOffset, err: errorMessage(err) },
        'rejecting config message after re-validation',
      );
      await this.apply(this.core.configRejected(originalOffset));
      return;
    }
    const posted = await this.repost(
      're-submitting a config message',
      encodeRegular('config', result.config.raw, result.configSeq, originalOffset),
    );
    if (posted) await this.apply(this.core.configResubmitted(originalOffset));
  }

  private async validateAndCommit(kind: 'normal' | 'config', env: ReceivedEnvelope, receivedOffset: number) {
    this.log.warn(
      'processing a message in compatibility mode (no resubmission capability or a v1.0 orderer message)',
    );
    try {
      if (kind === 'config') await this.support.processConfigMsg(env);
      else await this.support.processNormalMsg(env);
    } catch (err) {
      this.log.warn({ offset: receivedOffset, err: errorMessage(err) }, `discarding bad ${kind} message`);
      return;
    }
    await this.apply(this.core.commitValidated(kind, env, receivedOffset, this.context()));
  }

  // ---- stopping -----------------------------------------------------------------------------------

  private stopEverything(): void {
    this.stopping.abort();
    this.batchTimer?.cancel();
    this.batchTimer = undefined;
    this.consumerGraceTimer?.cancel();
    this.consumerGraceTimer = undefined;
    this.ingressGate?.resolve();
    this.ingressGate = undefined;
    this.started.resolve();
  }

  private fail(err: OrdererError): void {
    if (this.state === 'failed' || this.state === 'halted') return;
    this.state = 'failed';
    // Callers see a refusal (SERVICE_UNAVAILABLE); the cause keeps what went wrong.
    this.failure = err.kind === 'unavailable' ? err : unavailable(err.message, err.details, { cause: err });
    this.statusListeners.notify();
    this.log.error({ err: err.message }, 'Kafka chain stopped');
    this.stopEverything();
    // The chain has already failed; a client that cannot close cleanly adds nothing to act on.
    this.client
      .close()
      .catch((closeErr: unknown) =>
        this.log.debug({ err: errorMessage(closeErr) }, 'Kafka client did not close cleanly'),
      );
  }
}

function gate(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
