// The orderer's local configuration (orderer.yaml + ORDERER_* overrides), shaped like Fabric's
// localconfig.TopLevel with camelCase names. Durations are milliseconds (the `Ms` suffix), sizes are
// bytes, and file paths are absolute (or '' when unset) after Fabric's path translation.

export interface TlsConfig {
  enabled: boolean;
  privateKey: string;
  certificate: string;
  rootCAs: string[];
  clientAuthRequired: boolean;
  clientRootCAs: string[];
  /** Shifts "now" back when checking certificate validity during TLS handshakes (may be negative). */
  tlsHandshakeTimeShiftMs: number;
}

export interface KeepaliveConfig {
  serverMinIntervalMs: number;
  serverIntervalMs: number;
  serverTimeoutMs: number;
}

export interface ClusterConfig {
  /** A separate intra-cluster listener is used only when listenPort is non-zero. */
  listenAddress: string;
  listenPort: number;
  serverCertificate: string;
  serverPrivateKey: string;
  /** '' means: reuse General.TLS.Certificate / PrivateKey. */
  clientCertificate: string;
  clientPrivateKey: string;
  rootCAs: string[];
  dialTimeoutMs: number;
  rpcTimeoutMs: number;
  replicationBufferSize: number;
  replicationPullTimeoutMs: number;
  replicationRetryTimeoutMs: number;
  replicationBackgroundRefreshIntervalMs: number;
  replicationMaxRetries: number;
  sendBufferSize: number;
  certExpirationWarningThresholdMs: number;
  tlsHandshakeTimeShiftMs: number;
}

export type BootstrapMethod = 'file' | 'none';

export interface BccspConfig {
  /** Only the software provider is available; PKCS11 is rejected at load time. */
  default: 'SW';
  /** SW.FileKeyStore.KeyStore; '' means <LocalMSPDir>/keystore, as in Fabric. */
  keyStore: string;
}

export interface GeneralConfig {
  listenAddress: string;
  listenPort: number;
  tls: TlsConfig;
  keepalive: KeepaliveConfig;
  maxRecvMsgSize: number;
  maxSendMsgSize: number;
  cluster: ClusterConfig;
  connectionTimeoutMs: number;
  bootstrapMethod: BootstrapMethod;
  bootstrapFile: string;
  localMSPDir: string;
  localMSPID: string;
  bccsp: BccspConfig;
  authentication: { timeWindowMs: number; noExpirationChecks: boolean };
  /** Go pprof settings: accepted for compatibility, not served by this orderer. */
  profile: { enabled: boolean; address: string };
}

export interface FileLedgerConfig {
  location: string;
  /** Accepted for compatibility; unused since Fabric 2.0. */
  prefix: string;
}

export interface KafkaConfig {
  retry: {
    shortIntervalMs: number;
    shortTotalMs: number;
    longIntervalMs: number;
    longTotalMs: number;
    networkTimeouts: { dialTimeoutMs: number; readTimeoutMs: number; writeTimeoutMs: number };
    metadata: { retryBackoffMs: number; retryMax: number };
    producer: { retryBackoffMs: number; retryMax: number };
    consumer: { retryBackoffMs: number };
  };
  topic: { replicationFactor: number };
  verbose: boolean;
  tls: {
    enabled: boolean;
    /** PEM text (Fabric reads it inline or from {File: path}). */
    privateKey: string;
    certificate: string;
    /** PEM certificates. */
    rootCAs: string[];
    clientAuthRequired: boolean;
    clientRootCAs: string[];
    tlsHandshakeTimeShiftMs: number;
  };
  saslPlain: { enabled: boolean; user: string; password: string };
  /** Kafka protocol version, e.g. "0.10.2.0". */
  version: string;
}

export interface ConsensusConfig {
  /** etcdraft: write-ahead logs go to <walDir>/<channel>. '' when not configured. */
  walDir: string;
  /** etcdraft: snapshots go to <snapDir>/<channel>. '' when not configured. */
  snapDir: string;
  /** undefined: let the consenter apply its own default. */
  evictionSuspicionMs: number | undefined;
  tickIntervalOverrideMs: number | undefined;
  /**
   * Not in Fabric. etcdraft leader: cut a partial batch before BatchTimeout once no block is in
   * flight and no envelope came for this long. 0 (the default): Fabric's cutting only.
   */
  idleCutAfterMs: number;
}

export type MetricsProvider = 'prometheus' | 'statsd' | 'disabled';

export interface LocalConfig {
  general: GeneralConfig;
  fileLedger: FileLedgerConfig;
  kafka: KafkaConfig;
  /** Trace directories: accepted for compatibility, not written by this orderer. */
  debug: { broadcastTraceDir: string; deliverTraceDir: string };
  operations: { listenAddress: string; tls: TlsConfig };
  metrics: {
    provider: MetricsProvider;
    statsd: { network: 'udp' | 'tcp'; address: string; writeIntervalMs: number; prefix: string };
  };
  admin: { listenAddress: string; tls: TlsConfig };
  channelParticipation: { enabled: boolean; maxRequestBodySize: number };
  consensus: ConsensusConfig;
}

export interface LoadedLocalConfig {
  config: LocalConfig;
  /** Absolute path of the orderer.yaml that was read, or undefined when running on defaults only. */
  configFile: string | undefined;
  /** Base for Fabric's path translation: the config file's directory, or cwd without a file. */
  configDir: string;
  /** Accepted-but-ignored settings and deprecations, for the caller to log. */
  warnings: string[];
}
