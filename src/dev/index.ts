// Zero-config dev mode: a data folder with its own CAs, identities and a solo channel, and the
// orderer started on it.
export {
  ensureDevNetwork,
  readDevInfo,
  writeDevInfo,
  devInfoPath,
  DEV_INFO_FILE,
  DEFAULT_DEV_CHANNEL,
  type DevInfo,
  type DevIdentityInfo,
  type DevRuntimeInfo,
  type DevNetwork,
  type DevNetworkOptions,
} from './network.js';
export {
  startDevOrderer,
  devLocalConfig,
  devDataDir,
  formatDevBanner,
  DEFAULT_DEV_DATA_DIR,
  DEFAULT_DEV_PORTS,
  DEV_LISTEN_ADDRESS,
  type DevStartOptions,
  type RunningDevOrderer,
} from './start.js';
