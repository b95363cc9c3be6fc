// The sending side of orderer.Cluster/Step (Fabric's cluster/comm.go, rpc.go, connections.go):
// one TLS connection per remote server certificate, shared by every channel; one stream per
// (channel, destination, kind), opened lazily and dropped on any failure so that the next message
// opens a new one. Each stream has a queue of SendBufferSize messages not yet taken by the
// transport: a consensus message that finds it full is dropped and the stream cancelled (Raft
// retransmits; a stalled stream must not hold the node back), a submit waits for room. A message
// the transport has not taken within RPCTimeout cancels its stream.
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { asBuffer, orderer } from '../protos/index.js';
import { varintSize, writeVarint } from '../protos/varint.js';
import { errorMessage, unavailable } from '../errors.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logging.js';
import { publicKeyOf, type ClusterMember } from './members.js';
import { STEP_PATH } from './service.js';

export type StepKind = 'consensus' | 'submit';

export interface ClusterClientOptions {
  /** General.Cluster.DialTimeout (Fabric default 5 s). */
  dialTimeoutMs: number;
  /** General.Cluster.RPCTimeout (Fabric default 7 s): the longest one message may wait for the transport. */
  rpcTimeoutMs: number;
  /** General.Cluster.SendBufferSize (Fabric default 100): messages queued per stream. */
  sendBufferSize: number;
  /** General.MaxSendMsgSize / MaxRecvMsgSize (Fabric default 100 MiB). */
  maxSendMsgSize: number;
  maxRecvMsgSize: number;
}

/** Fabric's client keepalive (internal/pkg/comm/config.go): a Go server refuses pings more often than 60 s. */
export const CLUSTER_KEEPALIVE = { intervalMs: 60_000, timeoutMs: 20_000 } as const;

export interface ClusterClientDeps {
  /** General.Cluster.ClientCertificate / ClientPrivateKey (PEM). */
  clientCertificatePem: Buffer;
  clientPrivateKeyPem: Buffer;
  /** CAs a remote server certificate must chain to (General.Cluster.RootCAs and the orderer orgs' TLS CAs). */
  rootCasPem: () => Buffer[];
  clock: Clock;
  logger: Logger;
  /** Told when a stream to a node failed or a message to it was dropped (Raft's ReportUnreachable). */
  onUnreachable?: (channel: string, to: number, reason: string) => void;
  /** Told what the cluster_comm_* metrics report (queues, streams, connections, send times, drops). */
  observer?: ClusterClientObserver;
}

/** Fabric's msg_type label: a forwarded envelope is a "transaction". */
export type ClusterMessageType = 'consensus' | 'transaction';

/** What the client reports as it runs; hosts are "host:port" of the remote consenter. */
export interface ClusterClientObserver {
  /** A stream's queue (messages not yet taken by the transport) changed. */
  queueOccupancy(
    host: string,
    msgType: ClusterMessageType,
    channel: string,
    length: number,
    capacity: number,
  ): void;
  /** The number of open streams of a channel changed. */
  egressStreams(channel: string, count: number): void;
  /** The number of connected TLS connections changed. */
  tlsConnections(count: number): void;
  /** The transport took a message this many seconds after it was handed to the stream. */
  messageSent(host: string, channel: string, seconds: number): void;
  /** A consensus message found its stream's queue full and was dropped. */
  messageDropped(host: string, channel: string): void;
}

interface QueuedWrite {
  bytes: Buffer;
  /** Clock.elapsed() when it was queued, for msg_send_time. */
  queuedAt: number;
  /** Settles the sender's promise; later calls do nothing. */
  settle: (err?: Error) => void;
  timer?: TimerHandle;
}

/** One Step stream to one node for one channel and kind. */
class Stream {
  private call: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
  private readonly waiting: QueuedWrite[] = [];
  /** Written to the call, transport not done with them yet. */
  private readonly inTransport = new Set<QueuedWrite>();
  closed = false;

  constructor(
    readonly key: string,
    readonly channel: string,
    readonly to: ClusterMember,
    readonly kind: StepKind,
    private readonly client: ClusterClient,
  ) {}

  get length(): number {
    return this.waiting.length + this.inTransport.size;
  }

  /** The stream is connected (or being connected) on `connection`. */
  open(connection: Promise<grpc.Client>): void {
    connection.then(
      (grpcClient) => {
        if (this.closed) return;
        const call = grpcClient.makeBidiStreamRequest<Buffer, Buffer>(
          STEP_PATH,
          (value) => value,
          (value) => value,
        );
        this.call = call;
        // The server never answers; reading keeps the stream's flow control open.
        call.on('data', () => {});
        call.on('error', (err: grpc.ServiceError) =>
          this.fail(`stream to node ${this.to.id} ended: ${err.details || err.message}`),
        );
        call.on('end', () => this.fail(`stream to node ${this.to.id} was closed by the remote node`));
        for (const write of this.waiting.splice(0)) this.write(write);
      },
      (err: unknown) => this.fail(errorMessage(err)),
    );
  }

  enqueue(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const write: QueuedWrite = {
        bytes,
        queuedAt: this.client.clock.elapsed(),
        settle: (err) => {
          if (settled) return;
          settled = true;
          if (err) reject(err);
          else resolve();
        },
      };
      if (this.call) this.write(write);
      else this.waiting.push(write);
      this.client.queueLengthChanged(this);
    });
  }

  private write(write: QueuedWrite): void {
    this.inTransport.add(write);
    write.timer = this.client.clock.setTimer(this.client.options.rpcTimeoutMs, () =>
      this.fail(
        `a message to node ${this.to.id} was not sent within General.Cluster.RPCTimeout (${this.client.options.rpcTimeoutMs} ms)`,
      ),
    );
    this.call!.write(write.bytes, (err?: Error | null) => {
      if (!this.inTransport.delete(write)) return;
      write.timer?.cancel();
      this.client.queueLengthChanged(this);
      if (!err) this.client.messageSent(this, write.queuedAt);
      write.settle(err ? unavailable(`sending to node ${this.to.id} failed: ${err.message}`) : undefined);
    });
  }

  /** Ends the stream; every message not yet taken by the transport fails with the reason. */
  fail(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.call?.cancel();
    const error = unavailable(reason);
    for (const write of [...this.waiting.splice(0), ...this.inTransport]) {
      write.timer?.cancel();
      write.settle(error);
    }
    this.inTransport.clear();
    this.client.streamFailed(this, reason);
  }
}

export class ClusterClient {
  private readonly streams = new Map<string, Stream>();
  /** By remote address and server public key: one TLS connection per remote server certificate. */
  private readonly connections = new Map<string, Promise<grpc.Client>>();
  /** Dials that succeeded and were not closed (cluster_comm_egress_tls_connection_count). */
  private connected = 0;
  private closed = false;

  constructor(
    readonly options: ClusterClientOptions,
    private readonly deps: ClusterClientDeps,
  ) {}

  get clock(): Clock {
    return this.deps.clock;
  }

  /**
   * Queues a consensus message for a node. Returns false when it was dropped: the stream's queue
   * was full (the stream is then cancelled, as Fabric does) or the client is closed. A failure
   * after queueing is reported through onUnreachable.
   */
  sendConsensus(to: ClusterMember, request: orderer.IConsensusRequest): boolean {
    if (this.closed) return false;
    const stream = this.stream(request.channel ?? '', to, 'consensus');
    if (stream.length >= this.options.sendBufferSize) {
      this.deps.observer?.messageDropped(hostOf(to), stream.channel);
      stream.fail(
        `the queue of General.Cluster.SendBufferSize (${this.options.sendBufferSize}) messages to node ${to.id} is full; dropped a consensus message`,
      );
      return false;
    }
    stream.enqueue(encodeConsensusStep(request)).catch(() => {});
    return true;
  }

  /**
   * Sends a forwarded envelope to the leader; resolves once the transport took it, rejects with
   * OrdererError('unavailable') when the stream failed or RPCTimeout passed. Waits for room in
   * the queue rather than dropping.
   */
  async sendSubmit(to: ClusterMember, request: orderer.ISubmitRequest): Promise<void> {
    if (this.closed) throw unavailable('the cluster client is closed');
    const bytes = asBuffer(orderer.StepRequest.encode({ submitRequest: request }).finish());
    for (;;) {
      const stream = this.stream(request.channel ?? '', to, 'submit');
      if (stream.length < this.options.sendBufferSize) return stream.enqueue(bytes);
      await this.roomIn(stream);
    }
  }

  /** Ends the streams to a node (it left the consenter set or changed its certificate). */
  disconnect(channel: string, id: number): void {
    for (const stream of [...this.streams.values()]) {
      if (stream.channel === channel && stream.to.id === id)
        stream.fail(`node ${id} was removed from channel ${channel}`);
    }
  }

  close(): void {
    this.closed = true;
    for (const stream of [...this.streams.values()]) stream.fail('the cluster client is closing');
    for (const connection of this.connections.values())
      void connection.then(
        (c) => c.close(),
        () => {},
      );
    this.connections.clear();
    if (this.connected > 0) {
      this.connected = 0;
      this.deps.observer?.tlsConnections(0);
    }
  }

  /** @internal */
  queueLengthChanged(stream: Stream): void {
    this.reportQueue(stream, stream.length);
    // Only as many waiting senders as there is room for, oldest first: waking them all would
    // make every freed slot cost one retry per waiting sender.
    const waiters = this.roomWaiters.get(stream);
    let room = this.options.sendBufferSize - stream.length;
    while (waiters && waiters.length > 0 && room > 0) {
      waiters.shift()!();
      room--;
    }
    if (waiters?.length === 0) this.roomWaiters.delete(stream);
  }

  /** @internal */
  streamFailed(stream: Stream, reason: string): void {
    if (this.streams.get(stream.key) === stream) this.streams.delete(stream.key);
    this.deps.logger.debug(
      { channel: stream.channel, to: stream.to.id, kind: stream.kind, reason },
      'cluster stream failed',
    );
    const waiters = this.roomWaiters.get(stream);
    this.roomWaiters.delete(stream);
    for (const wake of waiters ?? []) wake();
    this.reportQueue(stream, 0);
    this.reportStreams(stream.channel);
    if (!this.closed) this.deps.onUnreachable?.(stream.channel, stream.to.id, reason);
  }

  /** @internal */
  messageSent(stream: Stream, queuedAt: number): void {
    this.deps.observer?.messageSent(
      hostOf(stream.to),
      stream.channel,
      (this.clock.elapsed() - queuedAt) / 1000,
    );
  }

  private reportQueue(stream: Stream, length: number): void {
    this.deps.observer?.queueOccupancy(
      hostOf(stream.to),
      stream.kind === 'consensus' ? 'consensus' : 'transaction',
      stream.channel,
      length,
      this.options.sendBufferSize,
    );
  }

  private reportStreams(channel: string): void {
    const observer = this.deps.observer;
    if (!observer) return;
    let count = 0;
    for (const stream of this.streams.values()) if (stream.channel === channel) count++;
    observer.egressStreams(channel, count);
  }

  private readonly roomWaiters = new Map<Stream, (() => void)[]>();

  /** The public key of a member's server certificate, parsed once per member (every send needs it). */
  private readonly serverKeys = new WeakMap<ClusterMember, string>();

  private serverKeyOf(to: ClusterMember): string {
    let key = this.serverKeys.get(to);
    if (key === undefined) {
      key = publicKeyOf(to.serverTlsCert);
      this.serverKeys.set(to, key);
    }
    return key;
  }

  private roomIn(stream: Stream): Promise<void> {
    return new Promise((resolve) => {
      const waiters = this.roomWaiters.get(stream) ?? [];
      waiters.push(resolve);
      this.roomWaiters.set(stream, waiters);
    });
  }

  private stream(channel: string, to: ClusterMember, kind: StepKind): Stream {
    const key = `${channel}\u0000${to.id}\u0000${kind}\u0000${this.serverKeyOf(to)}`;
    let stream = this.streams.get(key);
    if (!stream) {
      stream = new Stream(key, channel, to, kind, this);
      this.streams.set(key, stream);
      this.reportStreams(channel);
      stream.open(this.connection(to));
    }
    return stream;
  }

  private connectionKey(to: ClusterMember): string {
    return `${to.host}:${to.port}\u0000${this.serverKeyOf(to)}`;
  }

  private connection(to: ClusterMember): Promise<grpc.Client> {
    const key = this.connectionKey(to);
    let connection = this.connections.get(key);
    if (!connection) {
      const dialed = this.dial(to);
      connection = dialed;
      this.connections.set(key, dialed);
      // A failed dial is forgotten so that the next message dials again.
      dialed.then(
        () => {
          if (this.closed || this.connections.get(key) !== dialed) return;
          this.deps.observer?.tlsConnections(++this.connected);
        },
        () => {
          if (this.connections.get(key) === dialed) this.connections.delete(key);
        },
      );
    }
    return connection;
  }

  /** A TLS connection to the node that accepts only its server_tls_cert's key, within DialTimeout. */
  private dial(to: ClusterMember): Promise<grpc.Client> {
    const address = `${to.host}:${to.port}`;
    const expectedKey = publicKeyOf(to.serverTlsCert);
    const credentials = grpc.credentials.createSsl(
      Buffer.concat(this.deps.rootCasPem().map((pem) => Buffer.concat([pem, Buffer.from('\n')]))),
      this.deps.clientPrivateKeyPem,
      this.deps.clientCertificatePem,
      {
        checkServerIdentity: (host: string, certificate: PeerCertificate) => {
          const hostError = checkServerIdentity(host, certificate);
          if (hostError) return hostError;
          if (publicKeyOf(certificate.raw) !== expectedKey) {
            return new Error(
              `the certificate presented by ${address} is not the server_tls_cert of consenter ${to.id} in the channel config`,
            );
          }
          return undefined;
        },
      },
    );
    const client = new grpc.Client(address, credentials, {
      'grpc.max_send_message_length': this.options.maxSendMsgSize,
      'grpc.max_receive_message_length': this.options.maxRecvMsgSize,
      'grpc.keepalive_time_ms': CLUSTER_KEEPALIVE.intervalMs,
      'grpc.keepalive_timeout_ms': CLUSTER_KEEPALIVE.timeoutMs,
      'grpc.keepalive_permit_without_calls': 1,
    });
    return new Promise((resolve, reject) => {
      // grpc's deadline is wall-clock time; a dial is real network I/O, not logical time.
      client.waitForReady(Date.now() + this.options.dialTimeoutMs, (err) => {
        if (!err) return resolve(client);
        client.close();
        reject(
          unavailable(
            `cannot connect to consenter ${to.id} at ${address} within General.Cluster.DialTimeout (${this.options.dialTimeoutMs} ms): ${err.message}`,
          ),
        );
      });
    });
  }
}

/** The host label of Fabric's cluster metrics: the consenter's endpoint. */
function hostOf(member: ClusterMember): string {
  return `${member.host}:${member.port}`;
}

/**
 * StepRequest{consensus_request} as protobuf encodes it, in one buffer of its size: the payload
 * (a Raft message, a whole block for an append) is copied once, where the generated encoder
 * grows its buffer and copies it several times.
 */
export function encodeConsensusStep(request: orderer.IConsensusRequest): Buffer {
  const channel = request.channel ? Buffer.from(request.channel, 'utf8') : undefined;
  const payload = request.payload?.length ? request.payload : undefined;
  const metadata = request.metadata?.length ? request.metadata : undefined;
  const fieldSize = (bytes: Uint8Array | undefined) =>
    bytes ? 1 + varintSize(bytes.length) + bytes.length : 0;
  const innerSize = fieldSize(channel) + fieldSize(payload) + fieldSize(metadata);
  const out = Buffer.allocUnsafe(1 + varintSize(innerSize) + innerSize);
  out[0] = 0x0a;
  let at = writeVarint(out, 1, innerSize);
  for (const [tag, bytes] of [
    [0x0a, channel],
    [0x12, payload],
    [0x1a, metadata],
  ] as const) {
    if (!bytes) continue;
    out[at++] = tag;
    at = writeVarint(out, at, bytes.length);
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}
