// KafkaClient over @platformatic/kafka (the 1.x line runs on Node 20). One Producer, one Admin and
// one Consumer per client, each with its own connection pool. The Consumer is never joined to a
// group: consume() calls its low-level fetch() against the partition leader, which is manual
// assignment without rebalancing, as sarama's ConsumePartition is for Fabric's Kafka consenter.
import { Admin, Consumer, Producer } from '@platformatic/kafka';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { Clock } from '../../clock.js';
import { badRequest, internal, OrdererError, unavailable } from '../../errors.js';
import type { Logger } from '../../logging.js';
import type {
  ConsumeOptions,
  CreateTopicOptions,
  CreateTopicOutcome,
  KafkaClient,
  KafkaClientDependencies,
  KafkaClientOptions,
  KafkaClusterInfo,
  KafkaMessage,
  KafkaPartitionMetadata,
  OffsetRange,
} from './client.js';
import { isRetriableKafkaFailure, kafkaFailure } from './client-errors.js';
import { checkBrokerAddresses } from './client.js';

const defaults = {
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  retries: 3,
  retryDelayMs: 250,
  maxWaitMs: 500,
  // Small on purpose. The library's response reader finds every read position by walking the
  // response's socket chunks from the first one (@platformatic/dynamic-buffer 0.3.1,
  // #findInitialBuffer), so decoding a response costs the square of its size. Replaying 300k
  // messages of 2 KB from offset 0 (bench/kafka-replay.ts) took 6.7 s with 16 MiB, 5.7 s with 4,
  // 4.9 s with 2, 5.6 s with 1 (more round trips). A larger single message still arrives.
  maxBytes: 2 * 1024 * 1024,
  retryBackoffMs: 1_000,
} as const;

// Record batch attribute bits (Kafka protocol, RecordBatch.attributes).
const timestampTypeLogAppendTime = 0x08;
const controlBatch = 0x20;
// ListOffsets special timestamps.
const earliestTimestamp = -2n;
const latestTimestamp = -1n;
const acksAll = -1;

type BaseClientOptions = ConstructorParameters<typeof Admin>[0];

function toOffset(value: bigint, what: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw internal(`Kafka returned ${what} ${value}, outside the range this orderer can hold (0..2^53-1)`, {
      offset: value.toString(),
    });
  }
  return Number(value);
}

function checkTopicAndPartition(topic: string, partition: number) {
  if (topic.length === 0) throw badRequest('Kafka topic name must not be empty');
  if (!Number.isInteger(partition) || partition < 0) {
    throw badRequest(`Kafka partition must be a non-negative integer, got ${partition}`);
  }
}

function checkOffset(offset: number) {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw badRequest(`Kafka offset must be a non-negative safe integer, got ${offset}`);
  }
}

// The library's client events worth a debug line (BaseEvents of @platformatic/kafka).
const verboseEvents = [
  'client:broker:connect',
  'client:broker:disconnect',
  'client:broker:failed',
  'client:broker:sasl:handshake',
  'client:broker:sasl:authentication',
  'client:metadata',
  'client:performWithRetry:retry',
  'client:performWithRetry:failed',
  'client:close',
] as const;

/** A loggable summary of an event's arguments: the broker, an error, the cluster's brokers. */
function describeEvent(args: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const arg of args) {
    if (arg instanceof Error) {
      out['err'] = arg.message;
      continue;
    }
    if (typeof arg !== 'object' || arg === null) {
      if (arg !== undefined) out['args'] = [...((out['args'] as unknown[] | undefined) ?? []), arg];
      continue;
    }
    const record = arg as Record<string, unknown>;
    const broker = record['broker'] as { host?: unknown; port?: unknown } | undefined;
    if (broker && typeof broker === 'object') out['broker'] = `${String(broker.host)}:${String(broker.port)}`;
    if (record['error'] instanceof Error) out['err'] = record['error'].message;
    if (Array.isArray(record['mechanisms'])) out['mechanisms'] = record['mechanisms'];
    if (record['brokers'] instanceof Map) {
      out['brokers'] = [...(record['brokers'] as Map<number, { host: string; port: number }>)].map(
        ([id, b]) => `${id}@${b.host}:${b.port}`,
      );
    }
    if (record['topics'] instanceof Map)
      out['topics'] = [...(record['topics'] as Map<string, unknown>).keys()];
    if (Array.isArray(arg)) out['errors'] = arg.map((e) => (e instanceof Error ? e.message : String(e)));
  }
  return out;
}

interface QueuedRecord {
  readonly value: Buffer;
  readonly key?: Buffer;
  readonly resolve: (offset: number) => void;
  readonly reject: (err: Error) => void;
}

/** The records waiting for one topic partition, written one request at a time. */
interface ProduceLane {
  readonly topic: string;
  readonly partition: number;
  readonly queued: QueuedRecord[];
  writing: boolean;
}

/**
 * What one produce request may carry: under the broker's default message.max.bytes (1 MiB),
 * which bounds a whole record batch. A single larger record still goes alone (and is refused or
 * accepted by the broker on its own).
 */
const MAX_PRODUCE_BATCH_BYTES = 768 * 1024;

/** Takes records off the front of queued, in order, up to maxBytes (at least one). */
function takeBatch(queued: QueuedRecord[], maxBytes: number): QueuedRecord[] {
  let bytes = 0;
  let count = 0;
  while (count < queued.length) {
    const size = queued[count]!.value.length + (queued[count]!.key?.length ?? 0);
    if (count > 0 && bytes + size > maxBytes) break;
    bytes += size;
    count++;
  }
  return queued.splice(0, count);
}

export class PlatformaticKafkaClient implements KafkaClient {
  private readonly options: KafkaClientOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly admin: Admin;
  private readonly producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  private readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  private readonly closing = new AbortController();
  private closed: Promise<void> | undefined;
  private readonly produceLanes = new Map<string, ProduceLane>();
  private readonly onProduced: KafkaClientDependencies['onProduced'];

  constructor(options: KafkaClientOptions, dependencies: KafkaClientDependencies) {
    checkBrokerAddresses(options.brokers);
    this.options = options;
    this.clock = dependencies.clock;
    this.logger = dependencies.logger;
    this.onProduced = dependencies.onProduced;
    const base = this.baseOptions();
    this.admin = new Admin({ ...base, clientId: `${options.clientId}-admin` });
    this.producer = new Producer({ ...base, acks: acksAll });
    // groupId is required by the library's constructor; the consumer never joins that group.
    this.consumer = new Consumer({ ...base, groupId: `${options.clientId}-unassigned` });
    if (options.verbose) {
      this.logVerbose('admin', this.admin);
      this.logVerbose('producer', this.producer);
      this.logVerbose('consumer', this.consumer);
    }
  }

  // Kafka.Verbose, as Fabric turns on sarama's logger: what the library does, at debug level.
  private logVerbose(
    role: string,
    client: Admin | Producer<Buffer, Buffer, Buffer, Buffer> | Consumer<Buffer, Buffer, Buffer, Buffer>,
  ) {
    const emitter = client as unknown as { on(event: string, listener: (...args: unknown[]) => void): void };
    for (const event of verboseEvents) {
      emitter.on(event, (...args: unknown[]) => {
        this.logger.debug({ client: role, event, ...describeEvent(args) }, `Kafka client ${event}`);
      });
    }
  }

  private baseOptions(): BaseClientOptions {
    const { options } = this;
    const base: BaseClientOptions = {
      clientId: options.clientId,
      bootstrapBrokers: options.brokers,
      connectTimeout: options.connectTimeoutMs ?? defaults.connectTimeoutMs,
      requestTimeout: options.requestTimeoutMs ?? defaults.requestTimeoutMs,
      timeout: options.requestTimeoutMs ?? defaults.requestTimeoutMs,
      retries: options.retries ?? defaults.retries,
      retryDelay: options.retryDelayMs ?? defaults.retryDelayMs,
      autocreateTopics: options.autoCreateTopics ?? true,
    };
    if (options.tls) {
      const tls: TlsConnectionOptions = { rejectUnauthorized: options.tls.rejectUnauthorized ?? true };
      if (options.tls.ca !== undefined) tls.ca = options.tls.ca;
      if (options.tls.cert !== undefined) tls.cert = options.tls.cert;
      if (options.tls.key !== undefined) tls.key = options.tls.key;
      base.tls = tls;
      if (options.tls.serverName !== undefined) base.tlsServerName = options.tls.serverName;
    }
    if (options.sasl) {
      if (options.sasl.mechanism !== 'PLAIN') {
        throw badRequest(
          `Kafka SASL mechanism '${String(options.sasl.mechanism)}' is not supported; use PLAIN`,
        );
      }
      base.sasl = { mechanism: 'PLAIN', username: options.sasl.username, password: options.sasl.password };
    }
    return base;
  }

  private checkOpen(operation: string) {
    if (this.closing.signal.aborted) {
      throw unavailable(`Kafka ${operation} refused: the Kafka client is closed`, {
        operation,
        reason: 'closed',
        retriable: false,
      });
    }
  }

  async connect(): Promise<KafkaClusterInfo> {
    this.checkOpen('connect');
    try {
      const metadata = await this.admin.metadata({ topics: [], forceUpdate: true });
      return {
        clusterId: metadata.id,
        controllerId: metadata.controllerId,
        brokers: [...metadata.brokers].map(([nodeId, broker]) => ({
          nodeId,
          host: broker.host,
          port: broker.port,
        })),
      };
    } catch (error) {
      throw kafkaFailure(error, { operation: 'connect' });
    }
  }

  async createTopic(topic: string, options: CreateTopicOptions): Promise<CreateTopicOutcome> {
    this.checkOpen('create topic');
    checkTopicAndPartition(topic, 0);
    const partitions = options.partitions ?? 1;
    if (!Number.isInteger(options.replicationFactor) || options.replicationFactor < 1) {
      throw badRequest(
        `Kafka replication factor must be a positive integer, got ${options.replicationFactor}`,
      );
    }
    try {
      await this.admin.createTopics({
        topics: [topic],
        partitions,
        replicas: options.replicationFactor,
        configs: Object.entries(options.configs ?? {}).map(([name, value]) => ({ name, value })),
      });
      this.logger.info(
        { topic, partitions, replicationFactor: options.replicationFactor },
        'created Kafka topic',
      );
      return 'created';
    } catch (error) {
      const failure = kafkaFailure(error, { operation: 'create topic', topic });
      const kafkaErrors = failure.details['kafkaErrors'];
      if (
        Array.isArray(kafkaErrors) &&
        kafkaErrors.length > 0 &&
        kafkaErrors.every((e) => e === 'TOPIC_ALREADY_EXISTS')
      ) {
        return 'exists';
      }
      throw failure;
    }
  }

  async partitionMetadata(topic: string, partition: number): Promise<KafkaPartitionMetadata> {
    this.checkOpen('metadata');
    checkTopicAndPartition(topic, partition);
    const { partition: found } = await this.lookUpPartition(topic, partition, true, 'metadata');
    return {
      topic,
      partition,
      leader: found.leader,
      leaderEpoch: found.leaderEpoch,
      replicas: [...found.replicas],
      isr: [...found.isr],
      offlineReplicas: [...found.offlineReplicas],
    };
  }

  private async lookUpPartition(topic: string, partition: number, forceUpdate: boolean, operation: string) {
    let metadata;
    try {
      metadata = await this.consumer.metadata({ topics: [topic], forceUpdate });
    } catch (error) {
      throw kafkaFailure(error, { operation, topic, partition });
    }
    const topicMetadata = metadata.topics.get(topic);
    if (!topicMetadata) {
      throw unavailable(
        `Kafka ${operation}: the brokers do not know topic ${topic}: create it or enable auto.create.topics.enable`,
        {
          operation,
          topic,
          partition,
          reason: 'unknown-topic',
          retriable: true,
        },
      );
    }
    const found = topicMetadata.partitions[partition];
    if (!found) {
      throw badRequest(
        `Kafka ${operation}: topic ${topic} has ${topicMetadata.partitionsCount} partition(s); partition ${partition} does not exist`,
        { operation, topic, partition, reason: 'invalid-request', retriable: false },
      );
    }
    return { topicId: topicMetadata.id, partition: found };
  }

  /**
   * Produces one record and resolves with its offset once all in-sync replicas have it. Records
   * for a partition that arrive while a write to it is in flight go together in the next request
   * (one record batch, so their offsets are consecutive and their order is kept): with acks=all a
   * request per record would cap a channel at one broker round trip per envelope.
   */
  produce(topic: string, partition: number, value: Buffer, key?: Buffer): Promise<number> {
    this.checkOpen('produce');
    checkTopicAndPartition(topic, partition);
    const id = `${topic}\u0000${partition}`;
    let lane = this.produceLanes.get(id);
    if (!lane) {
      lane = { topic, partition, queued: [], writing: false };
      this.produceLanes.set(id, lane);
    }
    const target = lane;
    return new Promise<number>((resolve, reject) => {
      target.queued.push({ value, ...(key !== undefined ? { key } : {}), resolve, reject });
      if (!target.writing) void this.writeLane(target);
    });
  }

  private async writeLane(lane: ProduceLane): Promise<void> {
    lane.writing = true;
    try {
      while (lane.queued.length > 0) {
        const records = takeBatch(lane.queued, MAX_PRODUCE_BATCH_BYTES);
        const { topic, partition } = lane;
        try {
          const result = await this.producer.send({
            messages: records.map((r) =>
              r.key === undefined
                ? { topic, partition, value: r.value }
                : { topic, partition, value: r.value, key: r.key },
            ),
            acks: acksAll,
          });
          const written = result.offsets?.find(
            (o: { topic: string; partition: number; offset: bigint }) =>
              o.topic === topic && o.partition === partition,
          );
          if (!written) {
            throw internal(`Kafka produce to topic ${topic} partition ${partition} returned no offset`, {
              topic,
              partition,
            });
          }
          // The broker answers with the offset of the batch's first record.
          const first = toOffset(written.offset, 'offset');
          if (this.onProduced) {
            let bytes = 0;
            for (const r of records) bytes += r.value.length + (r.key?.length ?? 0);
            this.onProduced(topic, records.length, bytes);
          }
          records.forEach((r, i) => r.resolve(first + i));
        } catch (error) {
          const failure =
            error instanceof OrdererError
              ? error
              : kafkaFailure(error, { operation: 'produce', topic, partition });
          for (const r of records) r.reject(failure);
        }
      }
    } finally {
      lane.writing = false;
    }
  }

  async offsets(topic: string, partition: number): Promise<OffsetRange> {
    this.checkOpen('list offsets');
    checkTopicAndPartition(topic, partition);
    await this.lookUpPartition(topic, partition, false, 'list offsets');
    const at = async (timestamp: bigint) => {
      let listed;
      try {
        listed = await this.consumer.listOffsetsWithTimestamps({
          topics: [topic],
          partitions: { [topic]: [partition] },
          timestamp,
        });
      } catch (error) {
        throw kafkaFailure(error, { operation: 'list offsets', topic, partition });
      }
      const entry = listed.get(topic)?.get(partition);
      if (!entry) {
        throw internal(`Kafka list offsets for topic ${topic} partition ${partition} returned nothing`, {
          topic,
          partition,
        });
      }
      return toOffset(entry.offset, 'offset');
    };
    const [oldest, next] = await Promise.all([at(earliestTimestamp), at(latestTimestamp)]);
    return { oldest, next };
  }

  consume(topic: string, partition: number, options: ConsumeOptions): AsyncIterable<KafkaMessage> {
    checkTopicAndPartition(topic, partition);
    checkOffset(options.fromOffset);
    return { [Symbol.asyncIterator]: () => this.fetchLoop(topic, partition, options) };
  }

  private async *fetchLoop(
    topic: string,
    partition: number,
    options: ConsumeOptions,
  ): AsyncGenerator<KafkaMessage> {
    this.checkOpen('consume');
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.closing.signal])
      : this.closing.signal;
    const maxWaitMs = options.maxWaitMs ?? defaults.maxWaitMs;
    const maxBytes = options.maxBytes ?? defaults.maxBytes;
    const backoffMs = options.retryBackoffMs ?? defaults.retryBackoffMs;
    let next = BigInt(options.fromOffset);
    let refreshMetadata = false;
    let failures = 0;

    while (!signal.aborted) {
      let response;
      try {
        const { topicId, partition: found } = await this.lookUpPartition(
          topic,
          partition,
          refreshMetadata,
          'consume',
        );
        if (found.leader < 0) {
          throw unavailable(`Kafka consume: topic ${topic} partition ${partition} has no leader`, {
            operation: 'consume',
            topic,
            partition,
            reason: 'leadership',
            retriable: true,
          });
        }
        response = await this.consumer.fetch({
          node: found.leader,
          topics: [
            {
              topicId,
              partitions: [
                {
                  partition,
                  fetchOffset: next,
                  currentLeaderEpoch: -1,
                  lastFetchedEpoch: -1,
                  partitionMaxBytes: maxBytes,
                },
              ],
            },
          ],
          maxWaitTime: maxWaitMs,
          minBytes: 1,
          maxBytes,
        });
        refreshMetadata = false;
        failures = 0;
      } catch (error) {
        if (signal.aborted) return;
        const failure =
          error instanceof OrdererError
            ? error
            : kafkaFailure(error, { operation: 'consume', topic, partition });
        if (!isRetriableKafkaFailure(failure)) throw failure;
        failures += 1;
        refreshMetadata = true;
        this.logger.warn(
          { topic, partition, offset: Number(next), attempt: failures, err: failure.message },
          'Kafka fetch failed; retrying',
        );
        options.onRetry?.(failure, failures);
        await this.pause(backoffMs, signal);
        continue;
      }

      for (const topicResponse of response.responses) {
        for (const partitionResponse of topicResponse.partitions) {
          if (partitionResponse.partitionIndex !== partition) continue;
          for (const batch of partitionResponse.records ?? []) {
            const lastInBatch = batch.firstOffset + BigInt(batch.lastOffsetDelta);
            // Transaction markers carry no message but still take offsets: step over them.
            if ((batch.attributes & controlBatch) !== 0) {
              if (lastInBatch >= next) next = lastInBatch + 1n;
              continue;
            }
            const logAppendTime = (batch.attributes & timestampTypeLogAppendTime) !== 0;
            for (const record of batch.records) {
              const offset = batch.firstOffset + BigInt(record.offsetDelta);
              // A fetch returns whole batches, so the first one may start before the offset asked for.
              if (offset < next) continue;
              if (signal.aborted) return;
              const timestamp = logAppendTime
                ? batch.maxTimestamp
                : batch.firstTimestamp + record.timestampDelta;
              yield {
                offset: toOffset(offset, 'offset'),
                value: record.value ?? Buffer.alloc(0),
                key: record.key ?? undefined,
                timestamp: Number(timestamp),
              };
              next = offset + 1n;
            }
          }
        }
      }
    }
  }

  private pause(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const done = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const timer = this.clock.setTimer(ms, done);
      const onAbort = () => {
        timer.cancel();
        done();
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closing.abort();
      this.closed = Promise.allSettled([
        this.producer.close(true),
        this.consumer.close(true),
        this.admin.close(),
      ]).then((results) => {
        for (const result of results) {
          if (result.status === 'rejected') {
            this.logger.warn({ err: String(result.reason) }, 'closing a Kafka client connection failed');
          }
        }
      });
    }
    return this.closed;
  }
}
