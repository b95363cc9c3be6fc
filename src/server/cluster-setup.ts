// Which listener serves orderer.Cluster and with which TLS identities (Fabric's main.go:
// reuseListener, configureClusterListener, initializeClusterClientConfig): a separate listener
// when General.Cluster.ListenPort is set (its own server pair, client certificates required),
// else the general listener, which must then use TLS; the cluster client dials with
// General.Cluster.ClientCertificate/ClientPrivateKey, or the general TLS pair when those are unset.
import { join } from 'node:path';
import type { LocalConfig } from '../config/index.js';
import type { Clock } from '../clock.js';
import { LOGGER_NAMES, type Logger } from '../logging.js';
import {
  clusterClientObserver,
  etcdraftChainObserver,
  ingressStreamCounter,
  type OrdererMetrics,
} from '../metrics/index.js';
import { ClusterClient } from '../cluster/comm.js';
import { ClusterService } from '../cluster/service.js';
import { ClusterServer } from '../cluster/server.js';
import { EtcdraftConsenter, type PulledChannel } from '../consensus/etcdraft/consenter.js';
import {
  BlockPuller,
  DeliverBlockSource,
  ordererTlsRootsPem,
  replicationEndpoints,
} from '../replication/index.js';
import type { SigningIdentity } from '../msp/types.js';
import { envVariableOf, readSettingFile } from './startupError.js';
import type { TlsMaterial } from './grpc.js';

export interface ClusterTlsSetup {
  /** True: a listener of its own on General.Cluster.ListenAddress:ListenPort. */
  readonly separateListener: boolean;
  /** The certificate the cluster listener presents: how this node finds its Raft ID. */
  readonly serverCertificatePem: Buffer;
  readonly serverPrivateKeyPem: Buffer;
  /** The pair this node dials other consenters with (their client_tls_cert for this node). */
  readonly clientCertificatePem: Buffer;
  readonly clientPrivateKeyPem: Buffer;
  /** General.Cluster.RootCAs (the channels' orderer TLS CAs are added as configs are applied). */
  readonly rootCasPem: readonly Buffer[];
}

/**
 * The cluster's TLS setup, or undefined when this orderer has none (no cluster listener and no
 * TLS on the general listener): solo and Kafka channels still run; etcdraft channels are refused
 * with what to configure. Throws a StartupError for a configured file that cannot be read.
 */
export function clusterTlsSetup(
  config: LocalConfig,
  tls: TlsMaterial | undefined,
): ClusterTlsSetup | undefined {
  const cluster = config.general.cluster;
  const read = (path: string, setting: string): Buffer =>
    readSettingFile(
      path,
      setting,
      `point ${setting} (${envVariableOf(setting)}) at a PEM file this process can read`,
    );
  const rootCasPem = cluster.rootCAs.map((path) => read(path, 'General.Cluster.RootCAs'));
  const clientPair = (fallback: { cert: Buffer; key: Buffer } | undefined) => {
    if (cluster.clientCertificate && cluster.clientPrivateKey)
      return {
        cert: read(cluster.clientCertificate, 'General.Cluster.ClientCertificate'),
        key: read(cluster.clientPrivateKey, 'General.Cluster.ClientPrivateKey'),
      };
    return fallback;
  };
  if (cluster.listenPort !== 0) {
    const serverCertificatePem = read(cluster.serverCertificate, 'General.Cluster.ServerCertificate');
    const serverPrivateKeyPem = read(cluster.serverPrivateKey, 'General.Cluster.ServerPrivateKey');
    const client = clientPair(tls ? { cert: tls.certificatePem, key: tls.privateKeyPem } : undefined) ?? {
      cert: serverCertificatePem,
      key: serverPrivateKeyPem,
    };
    return {
      separateListener: true,
      serverCertificatePem,
      serverPrivateKeyPem,
      clientCertificatePem: client.cert,
      clientPrivateKeyPem: client.key,
      rootCasPem,
    };
  }
  if (!tls) return undefined;
  const client = clientPair({ cert: tls.certificatePem, key: tls.privateKeyPem })!;
  return {
    separateListener: false,
    serverCertificatePem: tls.certificatePem,
    serverPrivateKeyPem: tls.privateKeyPem,
    clientCertificatePem: client.cert,
    clientPrivateKeyPem: client.key,
    rootCasPem: [...rootCasPem, ...tls.clientRootCasPem],
  };
}

export interface ClusterDependencies {
  readonly clock: Clock;
  /** A component logger named as Fabric names it. */
  readonly named: (name: string) => Logger;
  readonly metrics: OrdererMetrics;
  /** The TLS CAs of every channel's orgs now (read at each dial: configs change). */
  readonly channelTlsCas: () => Buffer[];
  /** Signs the Deliver seeks of the block puller. */
  readonly signer: SigningIdentity;
}

/**
 * The client that dials other consenters, the etcdraft consenter, and the Step service that
 * routes what they send to its chains; sharedClusterListener: the service goes on the general
 * listener.
 */
export function createCluster(
  config: LocalConfig,
  clusterTls: ClusterTlsSetup | undefined,
  deps: ClusterDependencies,
) {
  const { general } = config;
  const { clock, named, metrics } = deps;
  const clusterClient: ClusterClient = new ClusterClient(
    {
      dialTimeoutMs: general.cluster.dialTimeoutMs,
      rpcTimeoutMs: general.cluster.rpcTimeoutMs,
      sendBufferSize: general.cluster.sendBufferSize,
      maxSendMsgSize: general.maxSendMsgSize,
      maxRecvMsgSize: general.maxRecvMsgSize,
    },
    {
      clientCertificatePem: clusterTls?.clientCertificatePem ?? Buffer.alloc(0),
      clientPrivateKeyPem: clusterTls?.clientPrivateKeyPem ?? Buffer.alloc(0),
      rootCasPem: () => [...(clusterTls?.rootCasPem ?? []), ...deps.channelTlsCas()],
      clock,
      logger: named(LOGGER_NAMES.cluster),
      observer: clusterClientObserver(metrics.cluster),
      // The consenter is made below; a stream can only fail after it exists.
      onUnreachable: (channel, to, reason) => etcdraft.reportUnreachable(channel, to, reason),
    },
  );
  const etcdraft: EtcdraftConsenter = new EtcdraftConsenter(
    {
      walDir: config.consensus.walDir || join(config.fileLedger.location, 'etcdraft', 'wal'),
      snapDir: config.consensus.snapDir || join(config.fileLedger.location, 'etcdraft', 'snapshot'),
      tickIntervalOverrideMs: config.consensus.tickIntervalOverrideMs,
      evictionSuspicionMs: config.consensus.evictionSuspicionMs,
      idleCutAfterMs: config.consensus.idleCutAfterMs,
    },
    {
      serverCertificatePem: clusterTls?.serverCertificatePem,
      client: clusterClient,
      clock,
      logger: named(LOGGER_NAMES.etcdraft),
      chainObserver: (channelId) => etcdraftChainObserver(metrics.etcdraft, channelId),
      pullerFor: (support) => blockPullerFor(config, clusterTls, support, deps),
    },
  );
  const clusterService = new ClusterService({
    channel: (name) => etcdraft.clusterChannel(name),
    logger: named(LOGGER_NAMES.clusterStep),
    onStreamCount: ingressStreamCounter(metrics.cluster),
  });
  return {
    clusterClient,
    etcdraft,
    clusterService,
    sharedClusterListener: clusterTls !== undefined && !clusterTls.separateListener,
  };
}

/** The separate cluster listener (not started) for General.Cluster.ListenAddress:ListenPort. */
export function clusterServerFor(
  config: LocalConfig,
  clusterTls: ClusterTlsSetup,
  deps: { service: ClusterService; logger: Logger },
): ClusterServer {
  const { general } = config;
  return new ClusterServer(
    {
      listenAddress: general.cluster.listenAddress,
      listenPort: general.cluster.listenPort,
      certificatePem: clusterTls.serverCertificatePem,
      privateKeyPem: clusterTls.serverPrivateKeyPem,
      clientRootCasPem: clusterTls.rootCasPem,
      maxRecvMsgSize: general.maxRecvMsgSize,
      maxSendMsgSize: general.maxSendMsgSize,
      keepalive: general.keepalive,
    },
    deps,
  );
}

/**
 * Fabric's etcdraft BlockPuller for one channel: Deliver from the channel's orderer endpoints with
 * this node's cluster client identity, trusting General.Cluster.RootCAs and the channel's orderer
 * TLS CAs, within General.Cluster.Replication* limits.
 */
function blockPullerFor(
  config: LocalConfig,
  clusterTls: ClusterTlsSetup | undefined,
  support: PulledChannel,
  deps: ClusterDependencies,
): BlockPuller {
  const cluster = config.general.cluster;
  const source = new DeliverBlockSource(
    {
      clientCertificatePem: clusterTls?.clientCertificatePem ?? Buffer.alloc(0),
      clientPrivateKeyPem: clusterTls?.clientPrivateKeyPem ?? Buffer.alloc(0),
      bufferSize: cluster.replicationBufferSize,
      maxRecvMsgSize: config.general.maxRecvMsgSize,
    },
    {
      signer: deps.signer,
      clock: deps.clock,
      rootCasPem: () => [...(clusterTls?.rootCasPem ?? []), ...ordererTlsRootsPem(support.bundle())],
    },
  );
  return new BlockPuller(
    {
      channelId: support.channelId,
      maxRetries: cluster.replicationMaxRetries,
      retryTimeoutMs: cluster.replicationRetryTimeoutMs,
      pullTimeoutMs: cluster.replicationPullTimeoutMs,
    },
    {
      source,
      clock: deps.clock,
      logger: support.logger,
      endpoints: () => replicationEndpoints(support.bundle()),
    },
  );
}
