// consensus_etcdraft_* and cluster_comm_*: Fabric v2.5's names, help texts, types and labels
// (orderer/consensus/etcdraft/metrics.go, orderer/common/cluster/metrics.go), and what the chain
// observer and the cluster client observer write to them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  OrdererMetrics,
  PrometheusProvider,
  clusterClientObserver,
  etcdraftChainObserver,
  ingressStreamCounter,
} from '../../../src/metrics/index.js';

function setup() {
  const provider = new PrometheusProvider({ processMetrics: false });
  const metrics = new OrdererMetrics({ version: '2.5.0-test' }, { provider });
  return { provider, metrics };
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test("the etcdraft and cluster families carry Fabric's names, help texts and types", async () => {
  const { provider } = setup();
  const text = await provider.scrape();
  const expected: [string, string, string][] = [
    ['consensus_etcdraft_cluster_size', 'gauge', 'Number of nodes in this channel.'],
    [
      'consensus_etcdraft_is_leader',
      'gauge',
      'The leadership status of the current node: 1 if it is the leader else 0.',
    ],
    ['consensus_etcdraft_active_nodes', 'gauge', 'Number of active nodes in this channel.'],
    ['consensus_etcdraft_committed_block_number', 'gauge', 'The block number of the latest block committed.'],
    ['consensus_etcdraft_snapshot_block_number', 'gauge', 'The block number of the latest snapshot.'],
    ['consensus_etcdraft_leader_changes', 'counter', 'The number of leader changes since process start.'],
    ['consensus_etcdraft_proposal_failures', 'counter', 'The number of proposal failures.'],
    [
      'consensus_etcdraft_data_persist_duration',
      'histogram',
      'The time taken for etcd/raft data to be persisted in storage (in seconds).',
    ],
    [
      'consensus_etcdraft_normal_proposals_received',
      'counter',
      'The total number of proposals received for normal type transactions.',
    ],
    [
      'consensus_etcdraft_config_proposals_received',
      'counter',
      'The total number of proposals received for config type transactions.',
    ],
    ['cluster_comm_egress_queue_length', 'gauge', 'Length of the egress queue.'],
    ['cluster_comm_egress_queue_capacity', 'gauge', 'Capacity of the egress queue.'],
    ['cluster_comm_egress_queue_workers', 'gauge', 'Count of egress queue workers.'],
    ['cluster_comm_ingress_stream_count', 'gauge', 'Count of streams from other nodes.'],
    ['cluster_comm_egress_stream_count', 'gauge', 'Count of streams to other nodes.'],
    ['cluster_comm_egress_tls_connection_count', 'gauge', 'Count of TLS connections to other nodes.'],
    ['cluster_comm_msg_send_time', 'histogram', 'The time it takes to send a message in seconds.'],
    ['cluster_comm_msg_dropped_count', 'counter', 'Count of messages dropped.'],
  ];
  for (const [name, type, help] of expected) {
    assert.ok(text.includes(`# HELP ${name} ${help}\n`), `help of ${name}`);
    assert.ok(text.includes(`# TYPE ${name} ${type}\n`), `type of ${name}`);
  }
});

test('the chain observer writes each event to its channel series', async () => {
  const { provider, metrics } = setup();
  const observer = etcdraftChainObserver(metrics.etcdraft, 'mychannel');
  const other = etcdraftChainObserver(metrics.etcdraft, 'other');
  observer.clusterSize(3);
  observer.leadership(true);
  other.leadership(false);
  observer.leaderChanged();
  observer.leaderChanged();
  observer.activeNodes(2);
  observer.committedBlock(7);
  observer.snapshotBlock(5);
  observer.proposalFailed();
  observer.dataPersisted(0.003);
  observer.proposalReceived(false);
  observer.proposalReceived(false);
  observer.proposalReceived(true);
  const text = await provider.scrape();
  const ch = '{channel="mychannel"}';
  assert.equal(sample(text, `consensus_etcdraft_cluster_size${ch}`), 3);
  assert.equal(sample(text, `consensus_etcdraft_is_leader${ch}`), 1);
  assert.equal(sample(text, 'consensus_etcdraft_is_leader{channel="other"}'), 0);
  assert.equal(sample(text, `consensus_etcdraft_leader_changes${ch}`), 2);
  assert.equal(sample(text, `consensus_etcdraft_active_nodes${ch}`), 2);
  assert.equal(sample(text, `consensus_etcdraft_committed_block_number${ch}`), 7);
  assert.equal(sample(text, `consensus_etcdraft_snapshot_block_number${ch}`), 5);
  assert.equal(sample(text, `consensus_etcdraft_proposal_failures${ch}`), 1);
  assert.equal(sample(text, `consensus_etcdraft_data_persist_duration_count${ch}`), 1);
  assert.equal(sample(text, `consensus_etcdraft_data_persist_duration_sum${ch}`), 0.003);
  assert.equal(
    sample(text, 'consensus_etcdraft_data_persist_duration_bucket{le="0.005",channel="mychannel"}'),
    1,
  );
  assert.equal(sample(text, `consensus_etcdraft_normal_proposals_received${ch}`), 2);
  assert.equal(sample(text, `consensus_etcdraft_config_proposals_received${ch}`), 1);
});

test('the cluster client observer and the ingress counter write Fabric labels', async () => {
  const { provider, metrics } = setup();
  const observer = clusterClientObserver(metrics.cluster);
  observer.queueOccupancy('orderer2:7051', 'consensus', 'mychannel', 4, 100);
  observer.queueOccupancy('orderer2:7051', 'transaction', 'mychannel', 1, 100);
  observer.egressStreams('mychannel', 2);
  observer.tlsConnections(1);
  observer.messageSent('orderer2:7051', 'mychannel', 0.02);
  observer.messageDropped('orderer2:7051', 'mychannel');
  ingressStreamCounter(metrics.cluster)(3);
  const text = await provider.scrape();
  const queue = (type: string) => `{host="orderer2:7051",msg_type="${type}",channel="mychannel"}`;
  assert.equal(sample(text, `cluster_comm_egress_queue_length${queue('consensus')}`), 4);
  assert.equal(sample(text, `cluster_comm_egress_queue_length${queue('transaction')}`), 1);
  assert.equal(sample(text, `cluster_comm_egress_queue_capacity${queue('consensus')}`), 100);
  assert.equal(sample(text, 'cluster_comm_egress_stream_count{channel="mychannel"}'), 2);
  assert.equal(sample(text, 'cluster_comm_egress_queue_workers{channel="mychannel"}'), 2);
  assert.equal(sample(text, 'cluster_comm_egress_tls_connection_count'), 1);
  assert.equal(sample(text, 'cluster_comm_ingress_stream_count'), 3);
  const hostChannel = '{host="orderer2:7051",channel="mychannel"}';
  assert.equal(sample(text, `cluster_comm_msg_send_time_count${hostChannel}`), 1);
  assert.equal(sample(text, `cluster_comm_msg_send_time_sum${hostChannel}`), 0.02);
  assert.equal(sample(text, `cluster_comm_msg_dropped_count${hostChannel}`), 1);
});
