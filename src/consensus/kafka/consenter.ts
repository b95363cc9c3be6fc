// Fabric's Kafka consenter (orderer/consensus/kafka/consenter.go): one KafkaChain per channel, each
// with its own Kafka client towards the brokers the channel config names (Orderer/KafkaBrokers),
// configured from the orderer's Kafka section (retries, timeouts, topic, TLS, SASL/PLAIN).
import type { Clock, TimerHandle } from '../../clock.js';
import { badRequest, errorMessage, unavailable } from '../../errors.js';
import type { Logger } from '../../logging.js';
import { LOGGER_NAMES } from '../../logging/names.js';
import type { KafkaConfig } from '../../config/types.js';
import type { KafkaMetrics } from '../../metrics/index.js';
import type { Consenter, ConsenterSupport, ReceivedEnvelope } from '../types.js';
import type {
  KafkaClient,
  KafkaClientDependencies,
  KafkaClientOptions,
  KafkaSaslPlainOptions,
  KafkaTlsOptions,
} from './client.js';
import { LazyKafkaClient } from './client-lazy.js';
import { ProduceStats } from './produce-stats.js';
import { KafkaChain, KAFKA_PARTITION } from './chain.js';
import type { RetryPolicy } from './retry.js';

export interface KafkaConsenterOptions {
  retry: RetryPolicy;
  networkTimeouts: { dialTimeoutMs: number; readTimeoutMs: number; writeTimeoutMs: number };
  producer: { retryMax: number; retryBackoffMs: number };
  consumer: { retryBackoffMs: number };
  replicationFactor: number;
  /** Kafka.Version: below 0.10.1.0 the brokers cannot create topics on request. */
  version: string;
  tls?: KafkaTlsOptions;
  sasl?: KafkaSaslPlainOptions;
  /** Kafka.Verbose: the client library's events at debug level. */
  verbose?: boolean;
  /** How long waitReady() waits for a starting chain. Default 3000 ms. */
  readyWaitMs?: number;
  /** Normal blocks a chain may hand to the writer before the oldest is durable. Default 1, as Fabric. */
  blockWritesInFlight?: number;
  /** How long the aggregate health check waits for a partition to take its CONNECT message
   *  before it reports the channel unhealthy. Default 10 000 ms (below /healthz's 30 s). */
  healthCheckTimeoutMs?: number;
}

export interface KafkaConsenterDependencies {
  clock: Clock;
  logger: Logger;
  /** Default: the @platformatic/kafka client, loaded when the first Kafka channel starts. */
  createClient?: (options: KafkaClientOptions, deps: KafkaClientDependencies) => KafkaClient;
  decodeEnvelope?: (raw: Buffer) => ReceivedEnvelope;
  /** consensus_kafka_* gauges (OrdererMetrics.kafka). */
  metrics?: KafkaMetrics;
}

/** How often the consensus_kafka_* topic gauges are recomputed. */
const PRODUCE_GAUGES_INTERVAL_MS = 10_000;

/** A named check for the operations /healthz endpoint: resolves when healthy. */
export interface KafkaHealthCheck {
  /** "<channel>/<partition>", as Fabric names its Kafka health checkers. */
  component: string;
  check(): Promise<void>;
}

/** The consenter options from the orderer's Kafka settings (LocalConfig.kafka). */
export function kafkaConsenterOptions(config: KafkaConfig): KafkaConsenterOptions {
  const options: KafkaConsenterOptions = {
    retry: {
      shortIntervalMs: config.retry.shortIntervalMs,
      shortTotalMs: config.retry.shortTotalMs,
      longIntervalMs: config.retry.longIntervalMs,
      longTotalMs: config.retry.longTotalMs,
    },
    networkTimeouts: { ...config.retry.networkTimeouts },
    producer: { ...config.retry.producer },
    consumer: { ...config.retry.consumer },
    replicationFactor: config.topic.replicationFactor,
    version: config.version,
    verbose: config.verbose,
  };
  if (config.tls.enabled) {
    options.tls = {
      ca: config.tls.rootCAs,
      ...(config.tls.certificate ? { cert: config.tls.certificate } : {}),
      ...(config.tls.privateKey ? { key: config.tls.privateKey } : {}),
    };
  }
  if (config.saslPlain.enabled) {
    options.sasl = {
      mechanism: 'PLAIN',
      username: config.saslPlain.user,
      password: config.saslPlain.password,
    };
  }
  return options;
}

/** Whether a Kafka.Version string (e.g. "0.10.2.0", "2.0.0") is at least the given version. */
export function kafkaVersionAtLeast(version: string, minimum: number[]): boolean {
  if (version.trim() === '') return true;
  const parts = version.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < minimum.length; i++) {
    const have = parts[i] ?? 0;
    if (have !== minimum[i]) return have > minimum[i]!;
  }
  return true;
}

export class KafkaConsenter implements Consenter {
  private readonly options: KafkaConsenterOptions;
  private readonly deps: KafkaConsenterDependencies;
  private readonly chains = new Map<string, KafkaChain>();
  private produceStats: ProduceStats | undefined;

  constructor(options: KafkaConsenterOptions, deps: KafkaConsenterDependencies) {
    this.options = options;
    this.deps = deps;
  }

  /** The per-topic produce counters behind the gauges, started with the first Kafka chain. */
  private producedObserver(): KafkaClientDependencies['onProduced'] {
    const metrics = this.deps.metrics;
    if (!metrics) return undefined;
    if (!this.produceStats) {
      const stats = new ProduceStats(this.deps.clock.now());
      this.produceStats = stats;
      const publish = () => {
        for (const s of stats.sample(this.deps.clock.now())) {
          const labels = { topic: s.topic };
          metrics.recordSendRate.set(s.recordSendRate, labels);
          if (s.recordsPerRequest !== undefined) metrics.recordsPerRequest.set(s.recordsPerRequest, labels);
          if (s.batchSize !== undefined) metrics.batchSize.set(s.batchSize, labels);
          if (s.compressionRatio !== undefined) metrics.compressionRatio.set(s.compressionRatio, labels);
        }
        this.deps.clock.setTimer(PRODUCE_GAUGES_INTERVAL_MS, publish);
      };
      this.deps.clock.setTimer(PRODUCE_GAUGES_INTERVAL_MS, publish);
    }
    const stats = this.produceStats;
    return (topic, records, bytes) => stats.record(topic, records, bytes);
  }

  /** Every orderer of a Kafka channel orders it (consumes the same partition). */
  isChannelMember(): boolean {
    return true;
  }

  /** Fabric's Kafka consenter has no consensus metadata to check. */
  validateConsensusMetadata(): void {}

  /** The Kafka topic is the channel's only consensus state, and it stays in Kafka. */
  async removeChannel(): Promise<void> {}

  handleChain(support: ConsenterSupport, metadata: Buffer | undefined): KafkaChain {
    const brokers = support.sharedConfig().kafkaBrokers;
    if (brokers.length === 0) {
      throw badRequest(
        `channel ${support.channelId} uses consensus type kafka but its Orderer group lists no KafkaBrokers; ` +
          'add the broker addresses (host:port) to the channel config',
      );
    }
    const { networkTimeouts, producer } = this.options;
    const clientOptions: KafkaClientOptions = {
      brokers,
      clientId: `orderer-${support.channelId}`,
      connectTimeoutMs: networkTimeouts.dialTimeoutMs,
      requestTimeoutMs: Math.max(networkTimeouts.readTimeoutMs, networkTimeouts.writeTimeoutMs),
      retries: producer.retryMax,
      retryDelayMs: producer.retryBackoffMs,
      autoCreateTopics: true,
      ...(this.options.verbose ? { verbose: true } : {}),
      ...(this.options.tls ? { tls: this.options.tls } : {}),
      ...(this.options.sasl ? { sasl: this.options.sasl } : {}),
    };
    // Fabric's sarama logger: Kafka.Verbose turns this name to debug in the logging spec.
    const onProduced = this.producedObserver();
    const clientDeps: KafkaClientDependencies = {
      clock: this.deps.clock,
      logger: support.logger.child({ module: LOGGER_NAMES.kafkaClient }),
      ...(onProduced ? { onProduced } : {}),
    };
    const client = this.deps.createClient
      ? this.deps.createClient(clientOptions, clientDeps)
      : new LazyKafkaClient(clientOptions, clientDeps);
    const chain: KafkaChain = new KafkaChain(
      support,
      metadata,
      {
        brokers,
        retry: this.options.retry,
        consumerErrorGraceMs: networkTimeouts.readTimeoutMs,
        consumerRetryBackoffMs: this.options.consumer.retryBackoffMs,
        replicationFactor: this.options.replicationFactor,
        createTopic: kafkaVersionAtLeast(this.options.version, [0, 10, 1, 0]),
        ...(this.options.readyWaitMs !== undefined ? { readyWaitMs: this.options.readyWaitMs } : {}),
        ...(this.options.blockWritesInFlight !== undefined
          ? { blockWritesInFlight: this.options.blockWritesInFlight }
          : {}),
      },
      {
        client,
        ...(this.deps.decodeEnvelope ? { decodeEnvelope: this.deps.decodeEnvelope } : {}),
        ...(this.deps.metrics ? { metrics: this.deps.metrics } : {}),
        onHalted: () => {
          if (this.chains.get(support.channelId) === chain) this.chains.delete(support.channelId);
        },
      },
    );
    this.chains.set(support.channelId, chain);
    return chain;
  }

  /** The live chain of a channel, if any. */
  chain(channelId: string): KafkaChain | undefined {
    return this.chains.get(channelId);
  }

  /**
   * The one /healthz check of the Kafka consenter, component "kafka": every live Kafka chain is
   * serving and its partition takes a CONNECT message (as Fabric's per-partition checkers do). It
   * rejects naming each failing channel with its brokers, and passes when no channel uses Kafka.
   * Chains are looked up on every run, so channels created or removed later are covered.
   */
  healthCheck(): KafkaHealthCheck {
    return {
      component: 'kafka',
      check: async () => {
        const chains = [...this.chains.entries()];
        const timeoutMs = this.options.healthCheckTimeoutMs ?? 10_000;
        const results = await Promise.allSettled(
          chains.map(([channelId, chain]) =>
            this.withTimeout(
              chain.healthCheck(),
              timeoutMs,
              () =>
                `Kafka partition ${channelId}/${KAFKA_PARTITION} did not acknowledge a CONNECT message within ${timeoutMs} ms`,
            ),
          ),
        );
        const failures: string[] = [];
        results.forEach((result, i) => {
          if (result.status === 'fulfilled') return;
          const [channelId, chain] = chains[i]!;
          failures.push(
            `channel ${channelId} (Kafka brokers ${chain.brokers.join(', ')}): ${errorMessage(result.reason)}`,
          );
        });
        if (failures.length > 0) {
          throw unavailable(
            `${failures.length} of ${chains.length} Kafka channel(s) cannot reach their brokers: ${failures.join('; ')}`,
            { channels: failures.length },
          );
        }
      },
    };
  }

  private withTimeout(work: Promise<void>, ms: number, message: () => string): Promise<void> {
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = this.deps.clock.setTimer(ms, () => reject(unavailable(message())));
    });
    return Promise.race([work, timedOut]).finally(() => timer?.cancel());
  }

  /** One health check per channel served by Kafka (Fabric registers one per channel partition). */
  healthChecks(): KafkaHealthCheck[] {
    return [...this.chains.entries()].map(([channelId, chain]) => ({
      component: `${channelId}/${KAFKA_PARTITION}`,
      check: () => chain.healthCheck(),
    }));
  }
}
