export { KafkaConsenter, kafkaConsenterOptions, kafkaVersionAtLeast } from './consenter.js';
export type { KafkaConsenterOptions, KafkaConsenterDependencies, KafkaHealthCheck } from './consenter.js';
export { KafkaChain, KAFKA_PARTITION, resumePoint } from './chain.js';
export type { KafkaChainOptions, KafkaChainDependencies } from './chain.js';
export { KafkaCore } from './core.js';
export type { CoreContext, KafkaEffect, KafkaCoreState, KafkaCoreDependencies } from './core.js';
export {
  decodeKafkaMessage,
  decodeKafkaMetadata,
  encodeConnect,
  encodeKafkaMetadata,
  encodeRegular,
  encodeTimeToCut,
} from './messages.js';
export type { DecodedKafkaMessage, KafkaMetadataValues } from './messages.js';
export { retry, RetriesExhausted, RetryAborted } from './retry.js';
export type { RetryPolicy } from './retry.js';
export type * from './client.js';
export { LazyKafkaClient } from './client-lazy.js';
