// orderer.Cluster/Step over real mutual TLS with Fabric's fixture certificates (orderer0..2 TLS
// pairs, the orderer org's TLS CA): the sender is known by its client certificate's key, every
// refusal ends the stream with Fabric's reason and the next message opens a new stream, the dialer
// accepts only the consenter's server_tls_cert, and a full queue drops consensus messages.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { ClusterClient, type ClusterClientObserver } from '../../src/cluster/comm.js';
import { ClusterService, clusterServiceDefinition, type ClusterChannel } from '../../src/cluster/service.js';
import { MemberMapping, type ClusterMember } from '../../src/cluster/members.js';
import { systemClock } from '../../src/clock.js';
import { OrdererError } from '../../src/errors.js';
import type { orderer } from '../../src/protos/index.js';
import { CRYPTO } from '../support/fabric-clients.js';

const ORDERERS = join(CRYPTO, 'ordererOrganizations/example.com');
const tlsOf = (name: string) => ({
  cert: readFileSync(join(ORDERERS, 'orderers', `${name}.example.com/tls/server.crt`)),
  key: readFileSync(join(ORDERERS, 'orderers', `${name}.example.com/tls/server.key`)),
});
const tlsCa = readFileSync(join(ORDERERS, 'tlsca/tlsca.example.com-cert.pem'));
const nodes = ['orderer0', 'orderer1', 'orderer2'].map(tlsOf);
const admin = {
  cert: readFileSync(join(ORDERERS, 'users/Admin@example.com/tls/client.crt')),
  key: readFileSync(join(ORDERERS, 'users/Admin@example.com/tls/client.key')),
};
const silent = pino({ level: 'silent' });

interface Received {
  kind: 'consensus' | 'submit';
  channel: string;
  from: number;
  payload: Buffer;
}

/** Node 1's cluster listener (orderer0's TLS pair), with a recording chain on channel appraft. */
async function startNode1() {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  let refuseNext: string | undefined;
  // Known once the listener is bound (the members' port).
  const mapping: { members?: MemberMapping } = {};
  const endpoint = {
    async consensus(request: orderer.IConsensusRequest, from: number) {
      if (refuseNext) {
        const reason = refuseNext;
        refuseNext = undefined;
        throw new OrdererError('bad-request', reason);
      }
      received.push({
        kind: 'consensus',
        channel: request.channel!,
        from,
        payload: Buffer.from(request.payload!),
      });
      waiters.splice(0).forEach((wake) => wake());
    },
    async submit(request: orderer.ISubmitRequest, from: number) {
      received.push({
        kind: 'submit',
        channel: request.channel!,
        from,
        payload: Buffer.from(request.payload!.payload!),
      });
      waiters.splice(0).forEach((wake) => wake());
    },
  };
  const streamCounts: number[] = [];
  const service = new ClusterService({
    channel: (name): ClusterChannel | undefined =>
      name === 'appraft' && mapping.members ? { members: mapping.members, endpoint } : undefined,
    logger: silent,
    onStreamCount: (open) => streamCounts.push(open),
  });
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 100 * 1024 * 1024 });
  server.addService(clusterServiceDefinition, service.implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      '127.0.0.1:0',
      grpc.ServerCredentials.createSsl(
        tlsCa,
        [{ cert_chain: nodes[0]!.cert, private_key: nodes[0]!.key }],
        true,
      ),
      (err, bound) => (err ? reject(err) : resolve(bound)),
    ),
  );
  const member = (id: number, serverIndex = id - 1): ClusterMember => ({
    id,
    host: '127.0.0.1',
    port,
    clientTlsCert: nodes[id - 1]!.cert,
    serverTlsCert: nodes[serverIndex]!.cert,
  });
  mapping.members = new MemberMapping([member(1), member(2), member(3)]);
  return {
    server,
    port,
    member,
    received,
    streamCounts,
    refuse: (reason: string) => (refuseNext = reason),
    /** Resolves once `count` messages have arrived. */
    until: async (count: number) => {
      while (received.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

type Node1 = Awaited<ReturnType<typeof startNode1>>;

function clientAs(
  identity: { cert: Buffer; key: Buffer },
  options: { sendBufferSize?: number; dialTimeoutMs?: number } = {},
) {
  const unreachable: { channel: string; to: number; reason: string }[] = [];
  const waiters: (() => void)[] = [];
  const observed = {
    queues: [] as { host: string; msgType: string; channel: string; length: number; capacity: number }[],
    streams: [] as { channel: string; count: number }[],
    connections: [] as number[],
    sendTimes: [] as { host: string; channel: string; seconds: number }[],
    dropped: [] as { host: string; channel: string }[],
  };
  const observer: ClusterClientObserver = {
    queueOccupancy: (host, msgType, channel, length, capacity) =>
      observed.queues.push({ host, msgType, channel, length, capacity }),
    egressStreams: (channel, count) => observed.streams.push({ channel, count }),
    tlsConnections: (count) => observed.connections.push(count),
    messageSent: (host, channel, seconds) => observed.sendTimes.push({ host, channel, seconds }),
    messageDropped: (host, channel) => observed.dropped.push({ host, channel }),
  };
  const client = new ClusterClient(
    {
      dialTimeoutMs: options.dialTimeoutMs ?? 5000,
      rpcTimeoutMs: 7000,
      sendBufferSize: options.sendBufferSize ?? 100,
      maxSendMsgSize: 100 * 1024 * 1024,
      maxRecvMsgSize: 100 * 1024 * 1024,
    },
    {
      clientCertificatePem: identity.cert,
      clientPrivateKeyPem: identity.key,
      rootCasPem: () => [tlsCa],
      clock: systemClock,
      logger: silent,
      observer,
      onUnreachable: (channel, to, reason) => {
        unreachable.push({ channel, to, reason });
        waiters.splice(0).forEach((wake) => wake());
      },
    },
  );
  return {
    client,
    unreachable,
    observed,
    /** Resolves with the first unreachable report. */
    nextUnreachable: async () => {
      while (unreachable.length === 0) await new Promise<void>((resolve) => waiters.push(resolve));
      return unreachable[0]!;
    },
  };
}

const consensus = (channel: string, text: string): orderer.IConsensusRequest => ({
  channel,
  payload: Buffer.from(text),
});

describe('cluster Step service and client over mutual TLS', () => {
  let node1: Node1;
  before(async () => {
    node1 = await startNode1();
  });
  after(() => node1.server.forceShutdown());

  test('consensus and submit messages from node 2 arrive in order, with the sender known by its certificate', async () => {
    node1.received.length = 0;
    const { client, unreachable, observed } = clientAs(nodes[1]!);
    const to = node1.member(1);
    for (let i = 0; i < 20; i++) assert.equal(client.sendConsensus(to, consensus('appraft', `m${i}`)), true);
    await client.sendSubmit(to, {
      channel: 'appraft',
      lastValidationSeq: 3,
      payload: { payload: Buffer.from('tx') },
    });
    await node1.until(21);
    assert.deepEqual(
      node1.received.filter((r) => r.kind === 'consensus').map((r) => r.payload.toString()),
      Array.from({ length: 20 }, (_, i) => `m${i}`),
    );
    assert.ok(node1.received.every((r) => r.from === 2 && r.channel === 'appraft'));
    assert.equal(node1.received.find((r) => r.kind === 'submit')?.payload.toString(), 'tx');
    // What cluster_comm_* report: one TLS connection, a consensus and a submit stream on the
    // channel, queues of SendBufferSize labelled by the consenter's endpoint, 21 messages sent.
    const host = `${to.host}:${to.port}`;
    assert.deepEqual(observed.connections, [1]);
    assert.deepEqual(observed.streams, [
      { channel: 'appraft', count: 1 },
      { channel: 'appraft', count: 2 },
    ]);
    assert.ok(observed.queues.every((q) => q.host === host && q.channel === 'appraft' && q.capacity === 100));
    assert.deepEqual([...new Set(observed.queues.map((q) => q.msgType))].sort(), [
      'consensus',
      'transaction',
    ]);
    assert.ok(observed.queues.some((q) => q.length > 0));
    assert.equal(observed.sendTimes.length, 21);
    assert.ok(observed.sendTimes.every((t) => t.host === host && t.seconds >= 0));
    assert.deepEqual(observed.dropped, []);
    client.close();
    assert.deepEqual(observed.connections, [1, 0]);
    assert.deepEqual(unreachable, []);
  });

  const refusals: {
    name: string;
    identity: { cert: Buffer; key: Buffer };
    channel: string;
    reason: RegExp;
  }[] = [
    {
      name: 'a channel this node does not have',
      identity: nodes[1]!,
      channel: 'nochannel',
      reason: /channel nochannel doesn't exist/,
    },
    {
      name: 'a certificate that is no consenter of the channel',
      identity: admin,
      channel: 'appraft',
      reason: /certificate extracted from TLS connection isn't authorized/,
    },
    {
      name: 'a message with no channel',
      identity: nodes[1]!,
      channel: '',
      reason: /badly formatted message, cannot extract channel/,
    },
  ];
  for (const refusal of refusals) {
    test(`the server ends the stream for ${refusal.name}, and the sender hears why`, async () => {
      const { client, nextUnreachable } = clientAs(refusal.identity);
      const before = node1.received.length;
      client.sendConsensus(node1.member(1), consensus(refusal.channel, 'x'));
      const report = await nextUnreachable();
      assert.equal(report.to, 1);
      assert.match(report.reason, refusal.reason);
      assert.equal(node1.received.length, before);
      client.close();
    });
  }

  test("a chain's refusal ends the stream; the next message opens a new one and arrives", async () => {
    const { client, nextUnreachable } = clientAs(nodes[2]!);
    const to = node1.member(1);
    node1.refuse('raft message from a removed node');
    client.sendConsensus(to, consensus('appraft', 'refused'));
    assert.match((await nextUnreachable()).reason, /raft message from a removed node/);
    const before = node1.received.length;
    client.sendConsensus(to, consensus('appraft', 'after'));
    await node1.until(before + 1);
    assert.deepEqual(node1.received.at(-1), {
      kind: 'consensus',
      channel: 'appraft',
      from: 3,
      payload: Buffer.from('after'),
    });
    client.close();
  });

  test("the dialer refuses a server whose key is not the consenter's server_tls_cert", async () => {
    // The handshake is retried until the dial timeout: keep it short.
    const { client, nextUnreachable } = clientAs(nodes[1]!, { dialTimeoutMs: 300 });
    // Node 1 is listed with orderer2's server certificate, but the listener presents orderer0's.
    const pinnedWrong = node1.member(1, 2);
    client.sendConsensus(pinnedWrong, consensus('appraft', 'x'));
    await assert.rejects(client.sendSubmit(pinnedWrong, { channel: 'appraft', payload: {} }), OrdererError);
    const report = await nextUnreachable();
    assert.match(report.reason, /cannot connect to consenter 1 .* within General\.Cluster\.DialTimeout/);
    client.close();
  });

  test('a consensus message that finds the queue full is dropped and the stream cancelled; submits are not dropped', async () => {
    const { client, nextUnreachable, observed } = clientAs(nodes[1]!, { sendBufferSize: 2 });
    const to = node1.member(1);
    // Before the connection is up nothing is taken by the transport: the third message overflows.
    assert.equal(client.sendConsensus(to, consensus('appraft', 'a')), true);
    assert.equal(client.sendConsensus(to, consensus('appraft', 'b')), true);
    assert.equal(client.sendConsensus(to, consensus('appraft', 'c')), false);
    assert.match((await nextUnreachable()).reason, /General\.Cluster\.SendBufferSize \(2\) .* full/);
    assert.deepEqual(observed.dropped, [{ host: `${to.host}:${to.port}`, channel: 'appraft' }]);
    // The cancelled stream's queue reads empty and the channel has no stream left.
    assert.deepEqual(observed.queues.at(-1)?.length, 0);
    assert.deepEqual(observed.streams.at(-1), { channel: 'appraft', count: 0 });
    // Three submits through a queue of two: the third waits for room instead of being dropped.
    const before = node1.received.length;
    await Promise.all(
      ['s1', 's2', 's3'].map((tx) =>
        client.sendSubmit(to, { channel: 'appraft', payload: { payload: Buffer.from(tx) } }),
      ),
    );
    await node1.until(before + 3);
    assert.deepEqual(
      node1.received.slice(before).map((r) => r.payload.toString()),
      ['s1', 's2', 's3'],
    );
    client.close();
  });

  test('submits far beyond SendBufferSize wait their turn and arrive in the order they were sent', async () => {
    // A follower under load forwards thousands of envelopes at once: each freed slot goes to the
    // oldest waiting submit (not to all of them at once), so they arrive in order.
    const { client } = clientAs(nodes[1]!, { sendBufferSize: 10 });
    const to = node1.member(1);
    const before = node1.received.length;
    const texts = Array.from({ length: 2000 }, (_, i) => `q${i}`);
    await Promise.all(
      texts.map((tx) => client.sendSubmit(to, { channel: 'appraft', payload: { payload: Buffer.from(tx) } })),
    );
    await node1.until(before + texts.length);
    assert.deepEqual(
      node1.received.slice(before).map((r) => r.payload.toString()),
      texts,
    );
    client.close();
  });
});
