// Three of our orderer processes form an etcdraft channel (joined through the channel
// participation API, every port picked free) and report it as Fabric's orderers do on /metrics:
// exactly one node has consensus_etcdraft_is_leader 1, every node counts cluster_size 3 and,
// once the leader has spread it, active_nodes 3; committed_block_number moves with traffic; the
// cluster_comm_* series count the streams between them. Killing the leader increments
// leader_changes on the survivors; with two of three down, /healthz fails its etcdraft check
// naming the channel and the consenters the survivor cannot reach, and Broadcast says the same.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdraft, orderer as ordererProtos } from '../../src/protos/index.js';
import { ordererGroupOf, rewriteGenesisBlock } from '../support/genesis.js';
import { FIXTURES } from '../support/certs.js';
import { freePort, startOrdererProcess, type OrdererProcess } from '../support/orderer-process.js';
import {
  CRYPTO,
  atomicBroadcastClient,
  broadcastAll,
  loadIdentity,
  signedEnvelope,
} from '../support/fabric-clients.js';

const CHANNEL = 'metricschannel';
const ORDERERS = join(CRYPTO, 'ordererOrganizations/example.com/orderers');
const org1User = loadIdentity('org1User');
// 100 ms ticks, ElectionTick 10: a leader within about a second, and a lost one noticed as fast.
const TICK_INTERVAL = '100ms';

interface Node {
  readonly index: number;
  readonly process: OrdererProcess;
  readonly operations: string;
  readonly caPem: Buffer;
}

const nodes: Node[] = [];
const root = mkdtempSync(join(tmpdir(), 'etcdraft-metrics-'));
after(async () => {
  await Promise.all(nodes.map((node) => node.process.kill()));
  rmSync(root, { recursive: true, force: true });
});

const tlsFile = (index: number, name: string) => join(ORDERERS, `orderer${index}.example.com`, 'tls', name);

/** The fixtures' appraft genesis block with its consenters moved to these cluster ports. */
function genesisFor(clusterPorts: readonly number[]): Buffer {
  return rewriteGenesisBlock(readFileSync(join(FIXTURES, 'blocks/appraft-genesis.block')), {
    channelHeader: (header) => {
      header.channelId = CHANNEL;
    },
    config: (configEnvelope) => {
      const group = ordererGroupOf(configEnvelope);
      const consensusType = ordererProtos.ConsensusType.decode(group.values!['ConsensusType']!.value!);
      const metadata = etcdraft.ConfigMetadata.decode(consensusType.metadata);
      metadata.consenters = clusterPorts.map((port, i) => ({
        host: '127.0.0.1',
        port,
        clientTlsCert: readFileSync(tlsFile(i, 'server.crt')),
        serverTlsCert: readFileSync(tlsFile(i, 'server.crt')),
      }));
      metadata.options!.tickInterval = TICK_INTERVAL;
      consensusType.metadata = etcdraft.ConfigMetadata.encode(metadata).finish();
      group.values!['ConsensusType']!.value = ordererProtos.ConsensusType.encode(consensusType).finish();
      group.values!['BatchTimeout']!.value = ordererProtos.BatchTimeout.encode({ timeout: '200ms' }).finish();
    },
  });
}

async function startNode(index: number, clusterPort: number): Promise<{ node: Node; admin: string }> {
  const [port, adminPort, operationsPort] = [await freePort(), await freePort(), await freePort()];
  const dir = join(root, `o${index}`);
  const child = await startOrdererProcess({
    ledgerDir: join(dir, 'ledger'),
    port,
    env: {
      FABRIC_LOGGING_SPEC: 'info',
      ORDERER_GENERAL_BOOTSTRAPMETHOD: 'none',
      ORDERER_GENERAL_LOCALMSPDIR: join(ORDERERS, `orderer${index}.example.com`, 'msp'),
      ORDERER_GENERAL_TLS_ENABLED: 'true',
      ORDERER_GENERAL_TLS_CERTIFICATE: tlsFile(index, 'server.crt'),
      ORDERER_GENERAL_TLS_PRIVATEKEY: tlsFile(index, 'server.key'),
      ORDERER_GENERAL_TLS_ROOTCAS: `[${tlsFile(index, 'ca.crt')}]`,
      ORDERER_GENERAL_CLUSTER_LISTENADDRESS: '127.0.0.1',
      ORDERER_GENERAL_CLUSTER_LISTENPORT: String(clusterPort),
      ORDERER_GENERAL_CLUSTER_SERVERCERTIFICATE: tlsFile(index, 'server.crt'),
      ORDERER_GENERAL_CLUSTER_SERVERPRIVATEKEY: tlsFile(index, 'server.key'),
      ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE: tlsFile(index, 'server.crt'),
      ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY: tlsFile(index, 'server.key'),
      ORDERER_GENERAL_CLUSTER_ROOTCAS: `[${tlsFile(index, 'ca.crt')}]`,
      // A killed peer is redialled quickly, so the survivor's reasons are current.
      ORDERER_GENERAL_CLUSTER_DIALTIMEOUT: '1s',
      ORDERER_CONSENSUS_WALDIR: join(dir, 'wal'),
      ORDERER_CONSENSUS_SNAPDIR: join(dir, 'snap'),
      ORDERER_CHANNELPARTICIPATION_ENABLED: 'true',
      ORDERER_ADMIN_LISTENADDRESS: `127.0.0.1:${adminPort}`,
      ORDERER_ADMIN_TLS_ENABLED: 'false',
      ORDERER_OPERATIONS_LISTENADDRESS: `127.0.0.1:${operationsPort}`,
      ORDERER_METRICS_PROVIDER: 'prometheus',
    },
  });
  const node: Node = {
    index,
    process: child,
    operations: `http://127.0.0.1:${operationsPort}`,
    caPem: readFileSync(tlsFile(index, 'ca.crt')),
  };
  nodes.push(node);
  return { node, admin: `http://127.0.0.1:${adminPort}` };
}

async function joinChannel(admin: string, block: Buffer): Promise<void> {
  const form = new FormData();
  form.append('config-block', new Blob([block]), 'config.block');
  const response = await fetch(`${admin}/participation/v1/channels`, { method: 'POST', body: form });
  assert.equal(response.status, 201, await response.text());
}

/** Every sample of the node's /metrics, by series (name{labels}). */
async function scrape(node: Node): Promise<Map<string, number>> {
  const text = await (await fetch(`${node.operations}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

const raft = (name: string) => `consensus_etcdraft_${name}{channel="${CHANNEL}"}`;

/** Polls (bounded) until `check` returns a value, with the last failure in the error. */
async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what} not reached within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The one node whose is_leader is 1 while every other running node reports 0; undefined otherwise. */
async function soleLeader(running: readonly Node[]): Promise<Node | undefined> {
  const flags = await Promise.all(running.map(async (node) => (await scrape(node)).get(raft('is_leader'))));
  if (flags.some((flag) => flag !== 0 && flag !== 1)) return undefined;
  const leaders = running.filter((_, i) => flags[i] === 1);
  return leaders.length === 1 ? leaders[0] : undefined;
}

async function broadcast(node: Node, count: number, prefix: string) {
  const client = atomicBroadcastClient(node.process.address, { caPem: node.caPem });
  try {
    return await broadcastAll(
      client,
      Array.from({ length: count }, (_, i) =>
        signedEnvelope(org1User, { channelId: CHANNEL, txId: `${prefix}-${i}-${Date.now()}` }),
      ),
      20_000,
    );
  } finally {
    client.close();
  }
}

describe('etcdraft metrics and health of three orderer processes', () => {
  it('one leader, cluster size, active nodes, committed blocks, leader changes, /healthz without quorum', async () => {
    const clusterPorts = [await freePort(), await freePort(), await freePort()];
    const block = genesisFor(clusterPorts);
    const started = await Promise.all(clusterPorts.map((port, i) => startNode(i, port)));
    for (const { admin } of started) await joinChannel(admin, block);
    const all = started.map(({ node }) => node);

    const leader = await eventually('exactly one leader', () => soleLeader(all));
    for (const node of all) {
      const samples = await scrape(node);
      assert.equal(samples.get(raft('cluster_size')), 3, `cluster_size on node ${node.index}`);
    }
    await eventually('active_nodes 3 everywhere', async () => {
      const counts = await Promise.all(
        all.map(async (node) => (await scrape(node)).get(raft('active_nodes'))),
      );
      return counts.every((count) => count === 3) ? true : undefined;
    });

    // Traffic through a follower: every node's committed block number moves past the genesis block.
    const before = await Promise.all(
      all.map(async (node) => (await scrape(node)).get(raft('committed_block_number'))),
    );
    assert.deepEqual(before, [0, 0, 0]);
    const follower = all.find((node) => node !== leader)!;
    const responses = await broadcast(follower, 10, 'metrics');
    assert.deepEqual(
      responses.map((r) => r.status),
      responses.map(() => 200),
      JSON.stringify(responses),
    );
    await eventually('committed_block_number past 0 on every node', async () => {
      const numbers = await Promise.all(
        all.map(async (node) => (await scrape(node)).get(raft('committed_block_number'))),
      );
      return numbers.every((n) => n !== undefined && n >= 1) ? numbers : undefined;
    });
    const leaderSamples = await scrape(leader);
    assert.equal(leaderSamples.get(raft('normal_proposals_received')), 10);
    assert.ok(
      (leaderSamples.get(`consensus_etcdraft_data_persist_duration_count{channel="${CHANNEL}"}`) ?? 0) > 0,
    );
    const followerSamples = await scrape(follower);
    assert.ok((followerSamples.get('cluster_comm_egress_tls_connection_count') ?? 0) >= 1);
    assert.ok((followerSamples.get('cluster_comm_ingress_stream_count') ?? 0) >= 1);
    assert.ok((followerSamples.get(`cluster_comm_egress_stream_count{channel="${CHANNEL}"}`) ?? 0) >= 1);
    const sendTimes = [...followerSamples].filter(([series]) =>
      series.startsWith('cluster_comm_msg_send_time_count{'),
    );
    assert.ok(
      sendTimes.some(([, count]) => count > 0),
      'msg_send_time observed',
    );

    // The leader dies: the survivors elect another and count the change.
    const survivors = all.filter((node) => node !== leader);
    const changesBefore = await Promise.all(
      survivors.map(async (node) => (await scrape(node)).get(raft('leader_changes'))!),
    );
    await leader.process.kill();
    const newLeader = await eventually('a new leader among the survivors', () => soleLeader(survivors));
    assert.notEqual(newLeader, leader);
    for (const [i, node] of survivors.entries()) {
      const changes = (await scrape(node)).get(raft('leader_changes'))!;
      assert.ok(
        changes > changesBefore[i]!,
        `leader_changes on node ${node.index}: ${changesBefore[i]} -> ${changes}`,
      );
    }
    const healthy = await fetch(`${newLeader.operations}/healthz`);
    assert.equal(healthy.status, 200, await healthy.text());

    // Two of three down: the last node has no quorum, and /healthz and Broadcast say why.
    await newLeader.process.kill();
    const last = survivors.find((node) => node !== newLeader)!;
    const failure = await eventually('/healthz failing the etcdraft check', async () => {
      const response = await fetch(`${last.operations}/healthz`);
      if (response.status !== 503) return undefined;
      const body = (await response.json()) as { failed_checks?: { component: string; reason: string }[] };
      const check = body.failed_checks?.find((c) => c.component === 'etcdraft');
      return check?.reason.includes('no quorum reachable') ? check : undefined;
    });
    assert.match(failure.reason, new RegExp(`^no Raft leader for channel ${CHANNEL}: no quorum reachable`));
    for (const gone of [leader, newLeader])
      assert.ok(
        failure.reason.includes(`at 127.0.0.1:${clusterPorts[gone.index]}`),
        `names consenter ${gone.index + 1}: ${failure.reason}`,
      );
    assert.match(failure.reason, /retry in about 1s$/);
    const [refused] = await broadcast(last, 1, 'no-quorum');
    assert.equal(refused?.status, 503);
    assert.match(refused!.info, /no Raft leader for channel metricschannel: no quorum reachable/);
    assert.equal((await scrape(last)).get(raft('is_leader')), 0);
  });
});
