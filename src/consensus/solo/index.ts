export { SoloConsenter } from './consenter.js';
export type { SoloConsenterOptions, SoloConsenterDependencies } from './consenter.js';
export { SoloChain, DEFAULT_WAL_COMPACT_THRESHOLD_BYTES } from './chain.js';
export type { SoloChainOptions, SoloChainDependencies } from './chain.js';
export { FsWalStorage } from './wal.js';
export type { WalFile, WalStorage } from './wal.js';
export type { WalWriterStats } from './wal-writer.js';
export { SoloCore } from './core.js';
export type {
  SoloContext,
  SoloCoreDependencies,
  SoloCoreOptions,
  SoloEffect,
  SoloEvent,
  SoloMessage,
} from './core.js';
