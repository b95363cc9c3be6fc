// Fabric v2.5 defaults: localconfig.Defaults as applied by completeInitialization when a value is
// missing or zero, plus the gRPC keepalive defaults (internal/pkg/comm DefaultKeepaliveOptions) that
// the orderer's main.go applies to zero keepalive settings.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

export const DEFAULTS = {
  general: {
    listenAddress: '127.0.0.1',
    listenPort: 7050,
    bootstrapMethod: 'file',
    bootstrapFile: 'genesisblock',
    maxRecvMsgSize: 100 * 1024 * 1024,
    maxSendMsgSize: 100 * 1024 * 1024,
    keepalive: { serverMinIntervalMs: MINUTE, serverIntervalMs: 2 * HOUR, serverTimeoutMs: 20 * SECOND },
    cluster: {
      replicationMaxRetries: 12,
      rpcTimeoutMs: 7 * SECOND,
      dialTimeoutMs: 5 * SECOND,
      replicationBufferSize: 20971520,
      sendBufferSize: 10,
      replicationBackgroundRefreshIntervalMs: 5 * MINUTE,
      replicationRetryTimeoutMs: 5 * SECOND,
      replicationPullTimeoutMs: 5 * SECOND,
      certExpirationWarningThresholdMs: 7 * 24 * HOUR,
    },
    profileAddress: '0.0.0.0:6060',
    localMSPDir: 'msp',
    localMSPID: 'SampleOrg',
    authenticationTimeWindowMs: 15 * MINUTE,
  },
  fileLedger: { location: '/var/hyperledger/production/orderer' },
  kafka: {
    retry: {
      shortIntervalMs: 1 * MINUTE,
      shortTotalMs: 10 * MINUTE,
      longIntervalMs: 10 * MINUTE,
      longTotalMs: 12 * HOUR,
      networkTimeouts: {
        dialTimeoutMs: 30 * SECOND,
        readTimeoutMs: 30 * SECOND,
        writeTimeoutMs: 30 * SECOND,
      },
      metadata: { retryBackoffMs: 250, retryMax: 3 },
      producer: { retryBackoffMs: 100, retryMax: 3 },
      consumer: { retryBackoffMs: 2 * SECOND },
    },
    topic: { replicationFactor: 3 },
    version: '0.10.2.0',
  },
  metrics: { provider: 'disabled', statsdNetwork: 'udp' },
  channelParticipation: { maxRequestBodySize: 1024 * 1024 },
} as const;
