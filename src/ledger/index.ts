// The ledger: append-only block storage per channel, in Fabric's on-disk format.
export type { BlockReader, BlockStore, BlockWriterStore, LedgerFactory, StoredBlock } from './types.js';
export { blockDataHash, blockHeaderBytes, blockHeaderHash, type BlockHeaderFields } from './blockhash.js';
export { marshalBlock, unmarshalCanonicalBlock, type BlockParts } from './blockcodec.js';
export { FileBlockStore } from './filestore.js';
export type {
  CommitEvent,
  FileBlockStoreDependencies,
  FileBlockStoreOptions,
  FileBlockStoreStats,
} from './filestore.js';
export { FileLedgerFactory, chainsDirectory } from './fileledger.js';
export type { FileLedgerFactoryDependencies, FileLedgerFactoryOptions } from './fileledger.js';
export { MemoryBlockStore, MemoryLedgerFactory } from './memory.js';
export { LedgerAbortError } from './heightwaiter.js';
export { isValidChannelId, assertValidChannelId } from './channelid.js';
export { defaultMaxBlockFileSize } from './blockfiles.js';
export { ledgerChannelIds, readChannelBlocks, type ReadOnlyChannel } from './readonly.js';
export { diskFullCode, isDiskFull } from './diskfull.js';
