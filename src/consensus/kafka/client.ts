// The Kafka consenter's only view of Kafka: one topic per channel, one partition (0), produce with
// acks=all, consume one partition from an offset with manual assignment (no consumer group), and
// partition metadata. Mirrors what Fabric's Kafka consenter asks of sarama; the implementation over
// @platformatic/kafka lives in client-platformatic.ts so that tests of the consenter can fake this.
//
// Offsets are plain numbers: Kafka offsets are int64, but a partition reaches 2^53 messages never in
// practice, and Fabric's KafkaMetadata stores them as int64 protobuf fields that decode to numbers here.
// An implementation must throw OrdererError('internal') rather than round an offset above that.
//
// Every failure is an OrdererError: 'unavailable' for anything that may pass on retry (broker down,
// leader moving, not enough in-sync replicas, timeouts) and also for authentication/TLS failures (an
// operator must fix the config; details.reason says which), 'too-large' when the broker refuses a
// message as too large, 'not-found' for an offset the partition does not hold, 'bad-request' for
// invalid arguments, 'internal' otherwise. details always carry { operation, reason, retriable }
// and, where known, { topic, partition, kafkaError, causes }.
import type { Clock } from '../../clock.js';
import { badRequest } from '../../errors.js';
import type { Logger } from '../../logging.js';

/** TLS towards the brokers; PEM strings or buffers. */
export interface KafkaTlsOptions {
  /** CA certificates to trust for the brokers' certificates (replaces the system CAs when set). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Client certificate chain, for brokers that require or request client authentication. */
  cert?: string | Buffer;
  /** Private key of the client certificate. */
  key?: string | Buffer;
  /** Name to check the broker certificate against; default: the host of the broker address. */
  serverName?: string;
  /** Default true. Only a test should turn this off. */
  rejectUnauthorized?: boolean;
}

/** SASL/PLAIN, as Fabric's Kafka.SASLPlain settings. */
export interface KafkaSaslPlainOptions {
  mechanism: 'PLAIN';
  username: string;
  password: string;
}

export interface KafkaClientOptions {
  /** Bootstrap brokers as "host:port". */
  brokers: string[];
  /** Kafka client.id, shown in broker logs and quotas. */
  clientId: string;
  /** When set, every connection uses TLS. */
  tls?: KafkaTlsOptions;
  sasl?: KafkaSaslPlainOptions;
  /** TCP (and TLS/SASL) connection set-up limit. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** Limit for one request on an open connection. Default 30 000 ms. */
  requestTimeoutMs?: number;
  /** Retries the client makes inside one operation before it fails. Default 3. */
  retries?: number;
  /** Pause between those retries. Default 250 ms. */
  retryDelayMs?: number;
  /** Let metadata requests create a missing topic when the broker allows it (as sarama does). Default true. */
  autoCreateTopics?: boolean;
  /** Kafka.Verbose: log the client library's connection, metadata and retry events at debug level. */
  verbose?: boolean;
}

export interface KafkaBrokerInfo {
  nodeId: number;
  host: string;
  port: number;
}

export interface KafkaClusterInfo {
  clusterId: string;
  controllerId: number;
  brokers: KafkaBrokerInfo[];
}

export interface KafkaPartitionMetadata {
  topic: string;
  partition: number;
  /** Node id of the leader, -1 when the partition has none. */
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  /** In-sync replicas. */
  isr: number[];
  offlineReplicas: number[];
}

export interface CreateTopicOptions {
  /** Fabric's Kafka.Topic.ReplicationFactor. */
  replicationFactor: number;
  /** Default 1: the Kafka consenter uses partition 0 only. */
  partitions?: number;
  /** Topic-level configs, e.g. { 'min.insync.replicas': '2' }. */
  configs?: Record<string, string>;
}

export type CreateTopicOutcome = 'created' | 'exists';

export interface KafkaMessage {
  offset: number;
  value: Buffer;
  key: Buffer | undefined;
  /** Record timestamp in ms since the epoch (CreateTime unless the topic says LogAppendTime). */
  timestamp: number;
}

export interface OffsetRange {
  /** First offset the partition still holds (log start offset). */
  oldest: number;
  /** Offset the next produced message will get (the high watermark). */
  next: number;
}

export interface ConsumeOptions {
  /** First offset to deliver. */
  fromOffset: number;
  /** Ends the iteration (the iterator returns normally). */
  signal?: AbortSignal;
  /** How long the broker holds a fetch open while the partition has nothing new. Default 500 ms. */
  maxWaitMs?: number;
  /** Upper bound of one fetch response. Default 2 MiB; a larger single message still arrives. */
  maxBytes?: number;
  /** Told about each retriable failure before the consumer waits and tries again. */
  onRetry?: (error: Error, attempt: number) => void;
  /** Wait between attempts after a retriable failure. Default 1 000 ms. */
  retryBackoffMs?: number;
}

export interface KafkaClient {
  /** Checks that a broker answers (connection, TLS, SASL, metadata) and describes the cluster. */
  connect(): Promise<KafkaClusterInfo>;
  /** Creates the topic. A broker that refuses CreateTopics surfaces as an error: as Fabric does,
   *  the caller may log it and rely on the broker's auto.create.topics.enable instead. */
  createTopic(topic: string, options: CreateTopicOptions): Promise<CreateTopicOutcome>;
  /** Fresh (not cached) leader, replicas and ISR of one partition. */
  partitionMetadata(topic: string, partition: number): Promise<KafkaPartitionMetadata>;
  /** Appends one message with acks = all (-1) and resolves with its offset once the in-sync
   *  replicas have it. */
  produce(topic: string, partition: number, value: Buffer, key?: Buffer): Promise<number>;
  /** Oldest and next offsets of the partition. */
  offsets(topic: string, partition: number): Promise<OffsetRange>;
  /** Messages of one partition in offset order from options.fromOffset, without a consumer group.
   *  Retriable failures (broker down, leader change) are retried forever with a backoff until the
   *  signal aborts or the client closes; other failures end the iteration with an OrdererError. */
  consume(topic: string, partition: number, options: ConsumeOptions): AsyncIterable<KafkaMessage>;
  /** Ends consumers and closes every connection. Idempotent. */
  close(): Promise<void>;
}

/** What a client is given besides its options (by the consenter, which creates one per channel). */
export interface KafkaClientDependencies {
  clock: Clock;
  logger: Logger;
  /** Told of every successful produce request: its topic, records and record bytes (keys and
   *  values), for the consensus_kafka_* topic gauges. */
  onProduced?: (topic: string, records: number, bytes: number) => void;
}

/** Throws a bad-request OrdererError unless brokers is a non-empty list of host:port addresses. */
export function checkBrokerAddresses(brokers: readonly string[]): void {
  if (brokers.length === 0) {
    throw badRequest('Kafka client needs at least one broker address (host:port)');
  }
  for (const broker of brokers) {
    if (!/^[^\s:]+:\d{1,5}$/.test(broker) && !/^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(broker)) {
      throw badRequest(`Kafka broker address '${broker}' is not host:port`);
    }
  }
}
