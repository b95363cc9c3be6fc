// cluster_comm_*: Fabric v2.5's orderer/common/cluster/metrics.go names, help texts, types and
// labels, and the adapters from the cluster client's and Step service's hooks to them.
import type { ClusterClientObserver } from '../cluster/comm.js';
import type { Counter, Gauge, Histogram, MetricsProvider } from './provider.js';

export interface ClusterMetrics {
  readonly egressQueueLength: Gauge;
  readonly egressQueueCapacity: Gauge;
  readonly egressQueueWorkers: Gauge;
  readonly ingressStreamCount: Gauge;
  readonly egressStreamCount: Gauge;
  readonly egressTlsConnectionCount: Gauge;
  readonly msgSendTime: Histogram;
  readonly msgDroppedCount: Counter;
}

export function newClusterMetrics(provider: MetricsProvider): ClusterMetrics {
  const comm = { namespace: 'cluster', subsystem: 'comm' };
  const queueLabels = ['host', 'msg_type', 'channel'];
  return {
    egressQueueLength: provider.newGauge({
      ...comm,
      name: 'egress_queue_length',
      help: 'Length of the egress queue.',
      labelNames: queueLabels,
    }),
    egressQueueCapacity: provider.newGauge({
      ...comm,
      name: 'egress_queue_capacity',
      help: 'Capacity of the egress queue.',
      labelNames: queueLabels,
    }),
    egressQueueWorkers: provider.newGauge({
      ...comm,
      name: 'egress_queue_workers',
      help: 'Count of egress queue workers.',
      labelNames: ['channel'],
    }),
    ingressStreamCount: provider.newGauge({
      ...comm,
      name: 'ingress_stream_count',
      help: 'Count of streams from other nodes.',
    }),
    egressStreamCount: provider.newGauge({
      ...comm,
      name: 'egress_stream_count',
      help: 'Count of streams to other nodes.',
      labelNames: ['channel'],
    }),
    egressTlsConnectionCount: provider.newGauge({
      ...comm,
      name: 'egress_tls_connection_count',
      help: 'Count of TLS connections to other nodes.',
    }),
    msgSendTime: provider.newHistogram({
      ...comm,
      name: 'msg_send_time',
      help: 'The time it takes to send a message in seconds.',
      labelNames: ['host', 'channel'],
    }),
    msgDroppedCount: provider.newCounter({
      ...comm,
      name: 'msg_dropped_count',
      help: 'Count of messages dropped.',
      labelNames: ['host', 'channel'],
    }),
  };
}

/** The cluster client's observer writing to the cluster metrics. */
export function clusterClientObserver(metrics: ClusterMetrics): ClusterClientObserver {
  return {
    queueOccupancy: (host, msgType, channel, length, capacity) => {
      const labels = { host, msg_type: msgType, channel };
      metrics.egressQueueLength.set(length, labels);
      metrics.egressQueueCapacity.set(capacity, labels);
    },
    egressStreams: (channel, count) => {
      metrics.egressStreamCount.set(count, { channel });
      // Each of our streams is drained by its own writer, as each of Fabric's by one worker.
      metrics.egressQueueWorkers.set(count, { channel });
    },
    tlsConnections: (count) => metrics.egressTlsConnectionCount.set(count),
    messageSent: (host, channel, seconds) => metrics.msgSendTime.observe(seconds, { host, channel }),
    messageDropped: (host, channel) => metrics.msgDroppedCount.add(1, { host, channel }),
  };
}

/** The Step service's onStreamCount hook for cluster_comm_ingress_stream_count. */
export function ingressStreamCounter(metrics: ClusterMetrics): (open: number) => void {
  return (open) => metrics.ingressStreamCount.set(open);
}
