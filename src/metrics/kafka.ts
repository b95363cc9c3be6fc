// consensus_kafka_*: Fabric v2.5's orderer/consensus/kafka/metrics.go names, help texts and labels.
import type { Gauge, MetricsProvider } from './provider.js';

/** consensus_kafka_*: last_offset_persisted is the orderer's own; the others come from the client library. */
export interface KafkaMetrics {
  readonly lastOffsetPersisted: Gauge;
  readonly incomingByteRate: Gauge;
  readonly outgoingByteRate: Gauge;
  readonly requestRate: Gauge;
  readonly requestSize: Gauge;
  readonly requestLatency: Gauge;
  readonly responseRate: Gauge;
  readonly responseSize: Gauge;
  readonly batchSize: Gauge;
  readonly recordSendRate: Gauge;
  readonly recordsPerRequest: Gauge;
  readonly compressionRatio: Gauge;
}

export function newKafkaMetrics(p: MetricsProvider): KafkaMetrics {
  const kafkaGauge = (name: string, help: string, label: 'channel' | 'topic' | 'broker_id') =>
    p.newGauge({ namespace: 'consensus', subsystem: 'kafka', name, help, labelNames: [label] });
  return {
    lastOffsetPersisted: kafkaGauge(
      'last_offset_persisted',
      'The offset specified in the block metadata of the most recently committed block.',
      'channel',
    ),
    incomingByteRate: kafkaGauge('incoming_byte_rate', 'Bytes/second read off brokers.', 'broker_id'),
    outgoingByteRate: kafkaGauge('outgoing_byte_rate', 'Bytes/second written to brokers.', 'broker_id'),
    requestRate: kafkaGauge('request_rate', 'Requests/second sent to brokers.', 'broker_id'),
    requestSize: kafkaGauge('request_size', 'The mean request size in bytes to brokers.', 'broker_id'),
    requestLatency: kafkaGauge('request_latency', 'The mean request latency in ms to brokers.', 'broker_id'),
    responseRate: kafkaGauge('response_rate', 'Requests/second sent to brokers.', 'broker_id'),
    responseSize: kafkaGauge('response_size', 'The mean response size in bytes from brokers.', 'broker_id'),
    batchSize: kafkaGauge('batch_size', 'The mean batch size in bytes sent to topics.', 'topic'),
    recordSendRate: kafkaGauge(
      'record_send_rate',
      'The number of records per second sent to topics.',
      'topic',
    ),
    recordsPerRequest: kafkaGauge(
      'records_per_request',
      'The mean number of records sent per request to topics.',
      'topic',
    ),
    compressionRatio: kafkaGauge(
      'compression_ratio',
      'The mean compression ratio (as percentage) for topics.',
      'topic',
    ),
  };
}
