// Channel config: the typed, validated view of a channel's config (the bundle), how to read it
// out of a config block, and Go durations as the config spells them.
export * from './types.js';
export { buildBundle, buildBundleFromConfigBlock, GroupKeys } from './bundle.js';
export type { BundleDependencies, MspSetupContext } from './bundle.js';
export {
  readConfigBlock,
  configEnvelopeFromBlock,
  channelIdOfBlock,
  headerTypeOfBlock,
  isConfigBlock,
} from './configblock.js';
export type { ConfigBlockContents } from './configblock.js';
export {
  knownCapabilities,
  checkCapabilitiesSupported,
  channelCapabilityFacts,
  ordererCapabilityFacts,
  applicationCapabilityFacts,
} from './capabilities.js';
export type { CapabilityLevel, MspVersion } from './capabilities.js';
export { parseDurationNanos, parseDurationMs, formatDurationNanos, formatDurationMs } from '../duration.js';
export {
  proposeConfigUpdate,
  decodeConfigUpdate,
  configUpdateSignedData,
  describeSigner,
  computeDeltaSet,
  configSequence,
} from './update.js';
export type { ConfigUpdateTarget, DecodedConfigUpdate } from './update.js';
export { createChannelConfig, newChannelTemplate } from './creation.js';
export type { ChannelCreationDependencies, ChannelTemplate } from './creation.js';
export { marshalConfigGroup, marshalConfig, marshalConfigEnvelope } from './configtx-marshal.js';
export { checkConfigTransition, orgMspId } from './configtx-transition.js';
export {
  DEFAULT_SNAPSHOT_INTERVAL_SIZE,
  checkEtcdraftMetadata,
  etcdraftConfigOf,
  ordererTlsAuthorities,
  parseEtcdraftConfig,
} from './etcdraft.js';
export type {
  ConsenterCertificateAuthorities,
  EtcdraftConfig,
  EtcdraftConsenter,
  EtcdraftMetadataCheck,
  EtcdraftOptions,
} from './etcdraft.js';
