// The Kafka client library is loaded when the first Kafka channel needs it. Importing it costs an
// orderer about 40 MB of resident memory (measured: node -e "import('@platformatic/kafka')"),
// which an orderer with only solo or participation-API channels should not pay.
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
import { checkBrokerAddresses } from './client.js';

/** A KafkaClient that loads and creates the @platformatic/kafka client on its first call. */
export class LazyKafkaClient implements KafkaClient {
  private client: Promise<KafkaClient> | undefined;

  /** Checks the broker addresses at once, as the library client's constructor would. */
  constructor(
    private readonly options: KafkaClientOptions,
    private readonly deps: KafkaClientDependencies,
  ) {
    checkBrokerAddresses(options.brokers);
  }

  connect(): Promise<KafkaClusterInfo> {
    return this.loaded().then((c) => c.connect());
  }

  createTopic(topic: string, options: CreateTopicOptions): Promise<CreateTopicOutcome> {
    return this.loaded().then((c) => c.createTopic(topic, options));
  }

  partitionMetadata(topic: string, partition: number): Promise<KafkaPartitionMetadata> {
    return this.loaded().then((c) => c.partitionMetadata(topic, partition));
  }

  produce(topic: string, partition: number, value: Buffer, key?: Buffer): Promise<number> {
    return this.loaded().then((c) => c.produce(topic, partition, value, key));
  }

  offsets(topic: string, partition: number): Promise<OffsetRange> {
    return this.loaded().then((c) => c.offsets(topic, partition));
  }

  async *consume(topic: string, partition: number, options: ConsumeOptions): AsyncIterable<KafkaMessage> {
    const client = await this.loaded();
    yield* client.consume(topic, partition, options);
  }

  async close(): Promise<void> {
    // Never used, or the library could not be loaded: nothing to close (the failure was reported
    // to the call that tried to use it).
    if (this.client)
      await this.client.then(
        (c) => c.close(),
        () => undefined,
      );
  }

  private loaded(): Promise<KafkaClient> {
    this.client ??= import('./client-platformatic.js').then(
      ({ PlatformaticKafkaClient }) => new PlatformaticKafkaClient(this.options, this.deps),
    );
    return this.client;
  }
}
