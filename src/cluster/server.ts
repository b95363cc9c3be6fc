// The separate cluster listener (General.Cluster.ListenAddress/ListenPort with its own
// ServerCertificate/ServerPrivateKey; Fabric's configureClusterListener): a gRPC server that
// serves only orderer.Cluster, always over TLS with a client certificate required, trusting
// General.Cluster.RootCAs and the orderer orgs' TLS CAs of every channel (updated as configs
// change). Go senders push blocks of up to AbsoluteMaxBytes in one message, so the receive limit
// is General.MaxRecvMsgSize, not grpc-js's 4 MiB default; pings are allowed as often as Go's
// keepalive sends them.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../logging.js';
import { ServerTlsCertificates } from '../server/tls-certificates.js';
import { shutdownWithin } from '../server/grpc.js';
import { clusterServiceDefinition, type ClusterService } from './service.js';

export interface ClusterServerOptions {
  readonly listenAddress: string;
  readonly listenPort: number;
  readonly certificatePem: Buffer;
  readonly privateKeyPem: Buffer;
  /** General.Cluster.RootCAs and, through setClientRootCas, the channels' TLS CAs. */
  readonly clientRootCasPem: readonly Buffer[];
  readonly maxRecvMsgSize: number;
  readonly maxSendMsgSize: number;
  readonly keepalive: { serverMinIntervalMs: number; serverIntervalMs: number; serverTimeoutMs: number };
}

export interface ClusterServerDependencies {
  readonly service: ClusterService;
  readonly logger: Logger;
}

export class ClusterServer {
  private readonly server: grpc.Server;
  private readonly certificates: ServerTlsCertificates;
  private boundPort = 0;

  constructor(
    private readonly options: ClusterServerOptions,
    private readonly deps: ClusterServerDependencies,
  ) {
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': options.maxRecvMsgSize,
      'grpc.max_send_message_length': options.maxSendMsgSize,
      'grpc.keepalive_time_ms': options.keepalive.serverIntervalMs,
      'grpc.keepalive_timeout_ms': options.keepalive.serverTimeoutMs,
      'grpc.http2.min_ping_interval_without_data_ms': options.keepalive.serverMinIntervalMs,
      'grpc.keepalive_permit_without_calls': 1,
    });
    this.server.addService(clusterServiceDefinition, deps.service.implementation);
    this.certificates = new ServerTlsCertificates(
      options.certificatePem,
      options.privateKeyPem,
      options.clientRootCasPem,
    );
  }

  get port(): number {
    return this.boundPort;
  }

  get address(): string {
    return `${this.options.listenAddress}:${this.boundPort}`;
  }

  /** The CAs a sender's certificate must chain to from now on (new connections). */
  setClientRootCas(pems: readonly Buffer[]): void {
    this.certificates.updateClientCas([...this.options.clientRootCasPem, ...pems]);
  }

  async start(): Promise<void> {
    const credentials = grpc.experimental.createCertificateProviderServerCredentials(
      this.certificates,
      this.certificates,
      true,
    );
    const target = `${this.options.listenAddress}:${this.options.listenPort}`;
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(target, credentials, (err, port) =>
        err ? reject(new Error(`cannot listen on ${target}: ${err.message}`)) : resolve(port),
      );
    });
    this.deps.logger.info({ address: this.address }, 'cluster server listening');
  }

  async stop(graceMs = 2000): Promise<void> {
    await shutdownWithin(this.server, graceMs);
  }
}
