// An in-memory stand-in for a Kafka cluster behind the KafkaClient contract (src/consensus/kafka/
// client.ts), for the chain's unit tests: partitions as arrays, a switch to take the brokers away and
// bring them back, and a limit on what consumers are handed, to hold messages "in flight".
import { unavailable, type OrdererError } from '../../../../src/errors.js';
import type {
  ConsumeOptions,
  CreateTopicOptions,
  CreateTopicOutcome,
  KafkaClient,
  KafkaClusterInfo,
  KafkaMessage,
  KafkaPartitionMetadata,
  OffsetRange,
} from '../../../../src/consensus/kafka/client.js';

export class FakeKafkaCluster {
  readonly topics = new Map<string, Buffer[]>();
  /** Offset below which messages of a topic were deleted (retention). */
  readonly logStart = new Map<string, number>();
  up = true;
  /** Consumers are handed offsets below this only (Infinity: everything). */
  deliverBelow = Infinity;
  /** Thrown by createTopic when set. */
  createTopicError: Error | undefined;
  readonly created: { topic: string; options: CreateTopicOptions }[] = [];
  produceAttempts = 0;
  /** What partitionMetadata reports instead of a healthy single-replica partition, when set. */
  partitionState: Partial<Pick<KafkaPartitionMetadata, 'leader' | 'replicas' | 'isr' | 'offlineReplicas'>> =
    {};
  /** While true, produce() never answers (a broker that accepts connections but does not respond). */
  stallProduce = false;
  private waiters: (() => void)[] = [];

  log(topic: string): Buffer[] {
    let log = this.topics.get(topic);
    if (!log) {
      log = [];
      this.topics.set(topic, log);
    }
    return log;
  }

  /** Wakes every consumer waiting for a change (new message, broker back, limit lifted). */
  changed(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  setUp(up: boolean): void {
    this.up = up;
    this.changed();
  }

  release(): void {
    this.deliverBelow = Infinity;
    this.changed();
  }

  nextChange(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const wake = () => {
        signal.removeEventListener('abort', wake);
        resolve();
      };
      this.waiters.push(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  unreachable(operation: string): OrdererError {
    return unavailable(`Kafka ${operation} failed (unreachable: connect ECONNREFUSED 127.0.0.1:9092)`, {
      operation,
      reason: 'unreachable',
      retriable: true,
    });
  }

  client(): FakeKafkaClient {
    return new FakeKafkaClient(this);
  }
}

export class FakeKafkaClient implements KafkaClient {
  closed = false;
  private readonly closing = new AbortController();

  constructor(private readonly cluster: FakeKafkaCluster) {}

  private check(operation: string): void {
    if (this.closed)
      throw unavailable(`Kafka ${operation} refused: the Kafka client is closed`, {
        reason: 'closed',
        retriable: false,
      });
    if (!this.cluster.up) throw this.cluster.unreachable(operation);
  }

  async connect(): Promise<KafkaClusterInfo> {
    this.check('connect');
    return { clusterId: 'fake', controllerId: 1, brokers: [{ nodeId: 1, host: '127.0.0.1', port: 9092 }] };
  }

  async createTopic(topic: string, options: CreateTopicOptions): Promise<CreateTopicOutcome> {
    this.check('create topic');
    if (this.cluster.createTopicError) throw this.cluster.createTopicError;
    this.cluster.created.push({ topic, options });
    if (this.cluster.topics.has(topic)) return 'exists';
    this.cluster.log(topic);
    return 'created';
  }

  async partitionMetadata(topic: string, partition: number): Promise<KafkaPartitionMetadata> {
    this.check('metadata');
    this.cluster.log(topic);
    return {
      topic,
      partition,
      leader: 1,
      leaderEpoch: 0,
      replicas: [1],
      isr: [1],
      offlineReplicas: [],
      ...this.cluster.partitionState,
    };
  }

  async produce(topic: string, _partition: number, value: Buffer): Promise<number> {
    this.cluster.produceAttempts++;
    this.check('produce');
    if (this.cluster.stallProduce) return new Promise<number>(() => {});
    const log = this.cluster.log(topic);
    log.push(value);
    this.cluster.changed();
    return log.length - 1;
  }

  async offsets(topic: string): Promise<OffsetRange> {
    this.check('list offsets');
    return { oldest: this.cluster.logStart.get(topic) ?? 0, next: this.cluster.log(topic).length };
  }

  consume(topic: string, _partition: number, options: ConsumeOptions): AsyncIterable<KafkaMessage> {
    return { [Symbol.asyncIterator]: () => this.fetchLoop(topic, options) };
  }

  private async *fetchLoop(topic: string, options: ConsumeOptions): AsyncGenerator<KafkaMessage> {
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.closing.signal])
      : this.closing.signal;
    let next = options.fromOffset;
    let failures = 0;
    while (!signal.aborted) {
      if (!this.cluster.up) {
        failures++;
        options.onRetry?.(this.cluster.unreachable('consume'), failures);
        await this.cluster.nextChange(signal);
        continue;
      }
      failures = 0;
      const log = this.cluster.log(topic);
      if (next < log.length && next < this.cluster.deliverBelow) {
        const offset = next++;
        yield { offset, value: log[offset]!, key: Buffer.from('0'), timestamp: 0 };
        continue;
      }
      await this.cluster.nextChange(signal);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
  }
}
