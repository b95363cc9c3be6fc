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
export { etcdraftChainObserver, newEtcdraftMetrics, type EtcdraftMetrics } from './etcdraft.js';
export {
  clusterClientObserver,
  ingressStreamCounter,
  newClusterMetrics,
  type ClusterMetrics,
} from './cluster.js';
export { newKafkaMetrics, type KafkaMetrics } from './kafka.js';
export type {
  BroadcastMetrics,
  DeliverMetrics,
  LedgerMetrics,
  ParticipationMetrics,
} from './orderer.js';
