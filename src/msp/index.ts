// The public face of src/msp: channel MSPs, the MSP manager, the local MSP and expiry checks.
export type { Identity, IdentityDeserializer, MSP, MSPManager, NodeRole, SigningIdentity } from './types.js';
export {
  FabricMsp,
  UnsupportedMsp,
  MspType,
  mspFromConfig,
  collectPrincipals,
  type FabricMspOptions,
} from './fabricMsp.js';
export { X509Identity, type ValidationOutcome } from './identity.js';
export { ChannelMspManager, type ChannelMspManagerOptions } from './manager.js';
export {
  loadLocalMsp,
  buildVerifyingMspConfig,
  readMspFolderConfig,
  serializeIdentity,
  LocalSigningIdentity,
  expiryProblem,
  assertNotExpired,
  type LoadLocalMspOptions,
  type LocalMsp,
} from './localMsp.js';
export { LruCache } from '../lru.js';
