// The orderer's logger names, as Fabric v2.5's orderer names its flogging loggers, so that a
// FABRIC_LOGGING_SPEC written for Fabric ("info:orderer.consensus.kafka=debug",
// "warn:orderer.common.broadcast=debug") means the same here. Fabric's own spellings are kept,
// "commmon" included (orderer/common/multichannel and orderer/common/channelparticipation use it):
// operators copy these names from Fabric's documentation and logs.
export const LOGGER_NAMES = {
  /** The composition root and `orderer start` (orderer/common/server). */
  server: 'orderer.common.server',
  broadcast: 'orderer.common.broadcast',
  /** common/deliver: Fabric's Deliver service logger is not under "orderer". */
  deliver: 'common.deliver',
  /** The registrar and each channel's chain support (orderer/common/multichannel). */
  multichannel: 'orderer.commmon.multichannel',
  channelParticipation: 'orderer.commmon.channelparticipation',
  solo: 'orderer.consensus.solo',
  kafka: 'orderer.consensus.kafka',
  etcdraft: 'orderer.consensus.etcdraft',
  /** The cluster service and client (orderer/common/cluster); Step messages at debug. */
  cluster: 'orderer.common.cluster',
  clusterStep: 'orderer.common.cluster.step',
  /** The Kafka client library (Fabric: sarama's logger); Kafka.Verbose turns it to debug. */
  kafkaClient: 'orderer.consensus.kafka.sarama',
  /** Block storage (common/ledger/blkstorage). */
  ledger: 'blkstorage',
  operations: 'orderer.operations',
  /** The gRPC server (internal/pkg/comm). */
  grpc: 'comm.grpc.server',
} as const;

export type LoggerName = (typeof LOGGER_NAMES)[keyof typeof LOGGER_NAMES];
