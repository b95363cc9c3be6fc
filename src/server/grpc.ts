// gRPC adapter for orderer.AtomicBroadcast: raw bytes in, raw bytes out, so envelopes are decoded
// exactly once (by the broadcast/deliver handlers) and blocks are sent as stored.
import * as grpc from '@grpc/grpc-js';
import { orderer } from '../protos/index.js';
import { errorMessage } from '../errors.js';
import { BroadcastSession, type BroadcastHandler } from '../broadcast/index.js';
import {
  StreamWriter,
  RecentBlockResponses,
  deliverStatusResponse,
  type DeliverHandler,
} from '../deliver/index.js';
import type { Logger } from '../logging.js';
import type { Clock } from '../clock.js';
import { ServerTlsCertificates } from './tls-certificates.js';
import {
  DEFAULT_STREAM_BUDGET,
  Http2StreamGuard,
  http2ServersOf,
  type StreamBudgetOptions,
} from './h2-streams.js';

const rawBytes = {
  requestSerialize: (value: Buffer) => value,
  requestDeserialize: (value: Buffer) => value,
  responseSerialize: (value: Buffer) => value,
  responseDeserialize: (value: Buffer) => value,
};

export const atomicBroadcastService: grpc.ServiceDefinition = {
  Broadcast: {
    path: '/orderer.AtomicBroadcast/Broadcast',
    requestStream: true,
    responseStream: true,
    ...rawBytes,
  },
  Deliver: {
    path: '/orderer.AtomicBroadcast/Deliver',
    requestStream: true,
    responseStream: true,
    ...rawBytes,
  },
};

const SUCCESS_RESPONSE = Buffer.from(orderer.BroadcastResponse.encode({ status: 200 }).finish());

/** Nearly every response is SUCCESS with no info: those share one encoding. */
function encodeBroadcastResponse(response: { status: number; info: string }): Buffer {
  if (response.status === 200 && response.info === '') return SUCCESS_RESPONSE;
  return Buffer.from(orderer.BroadcastResponse.encode(response).finish());
}

export interface TlsMaterial {
  certificatePem: Buffer;
  privateKeyPem: Buffer;
  /** CAs whose client certificates are accepted (mutual TLS). */
  clientRootCasPem: Buffer[];
  clientAuthRequired: boolean;
}

export interface GrpcServerOptions {
  listenAddress: string;
  listenPort: number;
  tls?: TlsMaterial;
  maxRecvMsgSize: number;
  maxSendMsgSize: number;
  keepalive: { serverMinIntervalMs: number; serverIntervalMs: number; serverTimeoutMs: number };
  /**
   * When a connection is drained because its client opens streams too fast to reset them all
   * within Node's limit (see h2-streams.ts). Default: nghttp2's limit, draining at half of it.
   */
  streamBudget?: StreamBudgetOptions;
  /**
   * Ask TLS clients for a certificate even without client authentication (Fabric's
   * tls.RequestClientCert): the cluster service, when it shares this listener, identifies
   * consenters by the certificate; it is verified only when tls.clientAuthRequired.
   */
  requestClientCertificate?: boolean;
}

/** Told of every Deliver stream (deliver_streams_opened / deliver_streams_closed). */
export interface DeliverStreamObserver {
  opened(): void;
  closed(): void;
}

export interface GrpcServerDeps {
  broadcast: BroadcastHandler;
  deliver: DeliverHandler;
  logger: Logger;
  deliverStreams?: DeliverStreamObserver;
  /** Times the graceful drain of busy HTTP/2 connections. */
  clock: Clock;
  /** More services on the same listener (orderer.Cluster without a cluster listener of its own). */
  services?: readonly {
    definition: grpc.ServiceDefinition;
    implementation: grpc.UntypedServiceImplementation;
  }[];
}

export class AtomicBroadcastServer {
  private readonly server: grpc.Server;
  private readonly activeCalls = new Set<grpc.ServerDuplexStream<Buffer, Buffer>>();
  private readonly shutdown = new AbortController();
  private readonly blockResponses = new RecentBlockResponses();
  private boundPort = 0;
  private certificates: ServerTlsCertificates | undefined;

  constructor(
    private readonly options: GrpcServerOptions,
    private readonly deps: GrpcServerDeps,
  ) {
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': options.maxRecvMsgSize,
      'grpc.max_send_message_length': options.maxSendMsgSize,
      'grpc.keepalive_time_ms': options.keepalive.serverIntervalMs,
      'grpc.keepalive_timeout_ms': options.keepalive.serverTimeoutMs,
      'grpc.http2.min_ping_interval_without_data_ms': options.keepalive.serverMinIntervalMs,
      'grpc.keepalive_permit_without_calls': 1,
    });
    this.server.addService(atomicBroadcastService, {
      Broadcast: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => this.broadcast(call),
      Deliver: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => void this.deliver(call),
    });
    for (const service of deps.services ?? [])
      this.server.addService(service.definition, service.implementation);
  }

  get port(): number {
    return this.boundPort;
  }

  get address(): string {
    return `${this.options.listenAddress}:${this.boundPort}`;
  }

  /**
   * Mutual TLS: the CAs whose client certificates are accepted from now on (new connections), as
   * Fabric's updateTrustedRoots does when channel configs change. No effect without client auth.
   */
  setClientRootCas(pems: readonly Buffer[]): void {
    this.certificates?.updateClientCas(pems);
  }

  async start(): Promise<void> {
    const tls = this.options.tls;
    let credentials: grpc.ServerCredentials;
    if (!tls) credentials = grpc.ServerCredentials.createInsecure();
    else if (!tls.clientAuthRequired && !this.options.requestClientCertificate) {
      credentials = grpc.ServerCredentials.createSsl(null, [
        { private_key: tls.privateKeyPem, cert_chain: tls.certificatePem },
      ]);
    } else {
      this.certificates = new ServerTlsCertificates(
        tls.certificatePem,
        tls.privateKeyPem,
        tls.clientRootCasPem,
      );
      credentials = grpc.experimental.createCertificateProviderServerCredentials(
        this.certificates,
        this.certificates,
        tls.clientAuthRequired,
      );
    }
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(
        `${this.options.listenAddress}:${this.options.listenPort}`,
        credentials,
        (err, port) =>
          err
            ? reject(
                new Error(
                  `cannot listen on ${this.options.listenAddress}:${this.options.listenPort}: ${err.message}`,
                ),
              )
            : resolve(port),
      );
    });
    const guard = new Http2StreamGuard(
      { streamBudget: this.options.streamBudget ?? DEFAULT_STREAM_BUDGET },
      { clock: this.deps.clock, logger: this.deps.logger },
    );
    for (const http2Server of http2ServersOf(this.server)) guard.guard(http2Server);
    this.deps.logger.info(
      { address: this.address, tls: !!this.options.tls },
      'AtomicBroadcast server listening',
    );
  }

  /** Stops accepting calls, ends open streams, and waits (bounded) for them to finish. */
  async stop(graceMs = 5000): Promise<void> {
    this.shutdown.abort(new Error('orderer shutting down'));
    for (const call of this.activeCalls) call.end();
    await shutdownWithin(this.server, graceMs);
  }

  private track(call: grpc.ServerDuplexStream<Buffer, Buffer>): void {
    this.activeCalls.add(call);
    const untrack = () => this.activeCalls.delete(call);
    call.on('close', untrack);
    call.on('finish', untrack);
    call.on('error', untrack);
  }

  private broadcast(call: grpc.ServerDuplexStream<Buffer, Buffer>): void {
    this.track(call);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      call.end();
    };
    const session = new BroadcastSession(this.deps.broadcast, {
      send: (response) => (ended ? true : call.write(encodeBroadcastResponse(response))),
      end: () => end(),
      pause: () => call.pause(),
      resume: () => call.resume(),
    });
    call.on('drain', () => session.writable());
    call.on('data', (raw: Buffer) => session.push(raw));
    call.on('end', () => void session.drained().then(end));
    call.on('error', (err) => {
      this.deps.logger.debug({ err: errorMessage(err) }, 'broadcast stream error');
      session.close();
    });
    call.on('cancelled', () => session.close());
  }

  private async deliver(call: grpc.ServerDuplexStream<Buffer, Buffer>): Promise<void> {
    this.track(call);
    // As Fabric's deliver Handle: opened when the stream's handler starts, closed when it returns
    // or, for a client that went away while the handler waits for a request, when the call closes.
    const streams = this.deps.deliverStreams;
    let closeStream: (() => void) | undefined;
    if (streams) {
      streams.opened();
      let open = true;
      closeStream = () => {
        if (!open) return;
        open = false;
        call.off('close', closeStream!);
        streams.closed();
      };
      call.once('close', closeStream);
    }
    const abort = new AbortController();
    const onShutdown = () => abort.abort(this.shutdown.signal.reason);
    this.shutdown.signal.addEventListener('abort', onShutdown, { once: true });
    call.on('cancelled', () => abort.abort(new Error('client cancelled')));
    call.on('error', () => abort.abort(new Error('stream error')));
    // A write the transport never takes (the call went away) must not hold its handler and block.
    call.on('close', () => abort.abort(new Error('stream closed')));
    const clientCertDer = peerCertificate(call);
    const writer = new StreamWriter(call);
    try {
      // Not `for await (... of call)`: its iterator destroys the stream when the loop ends, and a
      // destroyed call never sends its OK trailers, so the client would wait until it cancels.
      for await (const raw of call.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        const status = await this.deps.deliver.handle(raw, {
          signal: abort.signal,
          ...(clientCertDer ? { clientCertDer } : {}),
          sendBlock: (blockBytes) => writer.write(this.blockResponses.responseFor(blockBytes), abort.signal),
        });
        await writer.write(deliverStatusResponse(status), abort.signal);
        if (status !== 200) break;
      }
    } catch (err) {
      if (!abort.signal.aborted)
        this.deps.logger.debug({ err: errorMessage(err) }, 'deliver stream ended with error');
    } finally {
      this.shutdown.signal.removeEventListener('abort', onShutdown);
      if (!call.writableEnded) call.end();
      closeStream?.();
    }
  }
}

/** Lets a gRPC server finish its calls for up to graceMs, then cuts what is left. */
export function shutdownWithin(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function peerCertificate(call: grpc.ServerDuplexStream<Buffer, Buffer>): Buffer | undefined {
  const auth = call.getAuthContext?.();
  const raw = auth?.sslPeerCertificate?.raw;
  return raw && raw.length ? raw : undefined;
}
