// consensus_etcdraft_*: Fabric v2.5's orderer/consensus/etcdraft/metrics.go names, help texts,
// types and the {channel} label, and the adapter from a chain's EtcdraftChainObserver to them.
import type { EtcdraftChainObserver } from '../consensus/etcdraft/observer.js';
import type { Counter, Gauge, Histogram, MetricsProvider } from './provider.js';

export interface EtcdraftMetrics {
  readonly clusterSize: Gauge;
  readonly isLeader: Gauge;
  readonly activeNodes: Gauge;
  readonly committedBlockNumber: Gauge;
  readonly snapshotBlockNumber: Gauge;
  readonly leaderChanges: Counter;
  readonly proposalFailures: Counter;
  readonly dataPersistDuration: Histogram;
  readonly normalProposalsReceived: Counter;
  readonly configProposalsReceived: Counter;
}

export function newEtcdraftMetrics(provider: MetricsProvider): EtcdraftMetrics {
  const raft = { namespace: 'consensus', subsystem: 'etcdraft', labelNames: ['channel'] };
  return {
    clusterSize: provider.newGauge({
      ...raft,
      name: 'cluster_size',
      help: 'Number of nodes in this channel.',
    }),
    isLeader: provider.newGauge({
      ...raft,
      name: 'is_leader',
      help: 'The leadership status of the current node: 1 if it is the leader else 0.',
    }),
    activeNodes: provider.newGauge({
      ...raft,
      name: 'active_nodes',
      help: 'Number of active nodes in this channel.',
    }),
    committedBlockNumber: provider.newGauge({
      ...raft,
      name: 'committed_block_number',
      help: 'The block number of the latest block committed.',
    }),
    snapshotBlockNumber: provider.newGauge({
      ...raft,
      name: 'snapshot_block_number',
      help: 'The block number of the latest snapshot.',
    }),
    leaderChanges: provider.newCounter({
      ...raft,
      name: 'leader_changes',
      help: 'The number of leader changes since process start.',
    }),
    proposalFailures: provider.newCounter({
      ...raft,
      name: 'proposal_failures',
      help: 'The number of proposal failures.',
    }),
    dataPersistDuration: provider.newHistogram({
      ...raft,
      name: 'data_persist_duration',
      help: 'The time taken for etcd/raft data to be persisted in storage (in seconds).',
    }),
    normalProposalsReceived: provider.newCounter({
      ...raft,
      name: 'normal_proposals_received',
      help: 'The total number of proposals received for normal type transactions.',
    }),
    configProposalsReceived: provider.newCounter({
      ...raft,
      name: 'config_proposals_received',
      help: 'The total number of proposals received for config type transactions.',
    }),
  };
}

/** One channel's chain observer writing to the etcdraft metrics; the label object is made once. */
export function etcdraftChainObserver(metrics: EtcdraftMetrics, channel: string): EtcdraftChainObserver {
  const labels = Object.freeze({ channel });
  return {
    clusterSize: (size) => metrics.clusterSize.set(size, labels),
    leadership: (isLeader) => metrics.isLeader.set(isLeader ? 1 : 0, labels),
    leaderChanged: () => metrics.leaderChanges.add(1, labels),
    activeNodes: (count) => metrics.activeNodes.set(count, labels),
    committedBlock: (blockNumber) => metrics.committedBlockNumber.set(blockNumber, labels),
    snapshotBlock: (blockNumber) => metrics.snapshotBlockNumber.set(blockNumber, labels),
    proposalFailed: () => metrics.proposalFailures.add(1, labels),
    dataPersisted: (seconds) => metrics.dataPersistDuration.observe(seconds, labels),
    proposalReceived: (isConfig) =>
      (isConfig ? metrics.configProposalsReceived : metrics.normalProposalsReceived).add(1, labels),
  };
}
