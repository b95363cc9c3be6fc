export {
  DEFAULT_BUCKETS,
  DisabledProvider,
  PrometheusProvider,
  createMetricsProvider,
  fullyQualifiedName,
  isExposition,
} from './provider.js';
export type {
  Counter,
  Gauge,
  Histogram,
  HistogramOptions,
  Labels,
  MetricOptions,
  MetricsExposition,
  MetricsProvider,
} from './provider.js';
export { OrdererMetrics } from './orderer.js';
export type {
  BroadcastMetrics,
  DeliverMetrics,
  EtcdraftMetrics,
  KafkaMetrics,
  LedgerMetrics,
  ParticipationMetrics,
} from './orderer.js';
