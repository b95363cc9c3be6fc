// Fabric exports the Kafka producer's per-topic go-metrics (sarama) as consensus_kafka_* gauges:
// record_send_rate, records_per_request, batch_size and compression_ratio. The client library here
// keeps no such statistics, so the produce path counts its own requests and this turns the counts
// into the same gauges once per interval. Pure: the caller passes the time.

export interface TopicProduceSample {
  readonly topic: string;
  /** Records per second over the interval. */
  readonly recordSendRate: number;
  /** Mean records per produce request; undefined when the interval had no request. */
  readonly recordsPerRequest: number | undefined;
  /** Mean record bytes (keys and values) per produce request; undefined without a request. */
  readonly batchSize: number | undefined;
  /** Compressed size as a percentage of the uncompressed (records are sent uncompressed: 100). */
  readonly compressionRatio: number | undefined;
}

interface Counts {
  requests: number;
  records: number;
  bytes: number;
}

export class ProduceStats {
  private readonly counts = new Map<string, Counts>();
  private since: number;

  constructor(nowMs: number) {
    this.since = nowMs;
  }

  /** One successful produce request to topic carrying records records of bytes bytes. */
  record(topic: string, records: number, bytes: number): void {
    let counts = this.counts.get(topic);
    if (!counts) this.counts.set(topic, (counts = { requests: 0, records: 0, bytes: 0 }));
    counts.requests++;
    counts.records += records;
    counts.bytes += bytes;
  }

  /** The gauges of every topic seen so far, over the interval since the last sample; resets it. */
  sample(nowMs: number): TopicProduceSample[] {
    const seconds = Math.max(nowMs - this.since, 1) / 1000;
    this.since = nowMs;
    const samples: TopicProduceSample[] = [];
    for (const [topic, c] of this.counts) {
      const any = c.requests > 0;
      samples.push({
        topic,
        recordSendRate: c.records / seconds,
        recordsPerRequest: any ? c.records / c.requests : undefined,
        batchSize: any ? c.bytes / c.requests : undefined,
        compressionRatio: any ? 100 : undefined,
      });
      c.requests = c.records = c.bytes = 0;
    }
    return samples;
  }
}
