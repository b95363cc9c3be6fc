// Block layout as Fabric's protoutil/blockutils.go defines it (spec §4).
import { createHash } from 'node:crypto';
import { common, asBuffer, toNumber } from '../protos/index.js';
import {
  blockDataHash,
  blockHeaderBytes as ledgerHeaderBytes,
  marshalBlock as marshalBlockParts,
} from '../ledger/index.js';
import type { ProtoLong } from '../protos/index.js';

export const BlockMetadataIndex = {
  SIGNATURES: 0,
  LAST_CONFIG: 1,
  TRANSACTIONS_FILTER: 2,
  ORDERER: 3,
  COMMIT_HASH: 4,
} as const;
export const METADATA_SLOTS = 5;

export interface HeaderFields {
  number?: ProtoLong;
  previousHash?: Uint8Array | null;
  dataHash?: Uint8Array | null;
}

// The DER header encoding and hashes live with the ledger, which checks the hash chain on append
// and recovery; here they take the header shapes the generated protobuf types use.
export function blockHeaderBytes(header: HeaderFields): Buffer {
  return ledgerHeaderBytes({
    number: toNumber(header.number),
    previousHash: header.previousHash ?? Buffer.alloc(0),
    dataHash: header.dataHash ?? Buffer.alloc(0),
  });
}

export function blockHeaderHash(header: HeaderFields): Buffer {
  return createHash('sha256').update(blockHeaderBytes(header)).digest();
}

export { blockDataHash };

/** A block with five empty metadata slots, as protoutil.NewBlock makes it. */
export function newBlock(number: number, previousHash: Uint8Array, data: Uint8Array[]): common.Block {
  return common.Block.create({
    header: common.BlockHeader.create({
      number,
      ...(previousHash.length ? { previousHash } : {}),
      dataHash: blockDataHash(data),
    }),
    data: common.BlockData.create({ data }),
    metadata: common.BlockMetadata.create({
      metadata: Array.from({ length: METADATA_SLOTS }, () => Buffer.alloc(0)),
    }),
  });
}

export function marshalBlock(block: common.IBlock): Buffer {
  const { header, data, metadata } = block;
  // The ledger's encoder writes a complete block in one buffer of the right size; protobufjs
  // grows its buffer as it goes and copies the whole block more than once on the way.
  if (!header || !data || !metadata) return asBuffer(common.Block.encode(block).finish());
  return marshalBlockParts({
    number: toNumber(header.number),
    previousHash: header.previousHash ?? EMPTY,
    dataHash: header.dataHash ?? EMPTY,
    data: data.data ?? [],
    metadata: metadata.metadata ?? [],
  });
}

const EMPTY = new Uint8Array(0);

/** LastConfig.index from a block's SIGNATURES metadata (OrdererBlockMetadata), as Fabric 2.x reads it. */
export function lastConfigIndexOf(block: common.IBlock): number {
  const slot = block.metadata?.metadata?.[BlockMetadataIndex.SIGNATURES];
  if (!slot || slot.length === 0) return 0;
  const metadata = common.Metadata.decode(slot);
  if (!metadata.value || metadata.value.length === 0) return 0;
  const ordererMetadata = common.OrdererBlockMetadata.decode(metadata.value);
  return toNumber(ordererMetadata.lastConfig?.index);
}

/** The consenter metadata (Metadata.value inside OrdererBlockMetadata.consenter_metadata), if any. */
export function consenterMetadataOf(block: common.IBlock): Buffer | undefined {
  const slot = block.metadata?.metadata?.[BlockMetadataIndex.SIGNATURES];
  if (!slot || slot.length === 0) return undefined;
  const metadata = common.Metadata.decode(slot);
  if (!metadata.value || metadata.value.length === 0) return undefined;
  const ordererMetadata = common.OrdererBlockMetadata.decode(metadata.value);
  if (!ordererMetadata.consenterMetadata || ordererMetadata.consenterMetadata.length === 0) return undefined;
  const inner = common.Metadata.decode(ordererMetadata.consenterMetadata);
  return inner.value && inner.value.length ? asBuffer(inner.value) : undefined;
}
