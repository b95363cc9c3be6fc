// Block layout as Fabric's protoutil/blockutils.go defines it (spec §4).
import { createHash } from 'node:crypto';
import { common, asBuffer, toNumber } from '../protos/index.js';
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

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function derInteger(value: bigint): Buffer {
  const bytes: number[] = [];
  for (let v = value; v > 0n; v >>= 8n) bytes.unshift(Number(v & 0xffn));
  if (bytes.length === 0) bytes.push(0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return Buffer.concat([Buffer.from([0x02]), derLength(bytes.length), Buffer.from(bytes)]);
}

function derOctetString(value: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([0x04]), derLength(value.length), value]);
}

/** DER SEQUENCE { INTEGER number, OCTET STRING previous_hash, OCTET STRING data_hash }. */
export function blockHeaderBytes(header: HeaderFields): Buffer {
  const number = typeof header.number === 'bigint' ? header.number : BigInt(toNumber(header.number));
  const body = Buffer.concat([
    derInteger(number),
    derOctetString(header.previousHash ?? Buffer.alloc(0)),
    derOctetString(header.dataHash ?? Buffer.alloc(0)),
  ]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

export function blockHeaderHash(header: HeaderFields): Buffer {
  return createHash('sha256').update(blockHeaderBytes(header)).digest();
}

/** SHA-256 over the concatenation of the data entries (BlockDataHashingStructure width 2^32-1). */
export function blockDataHash(data: readonly Uint8Array[]): Buffer {
  const hash = createHash('sha256');
  for (const entry of data) hash.update(entry);
  return hash.digest();
}

/** A block with five empty metadata slots, as protoutil.NewBlock makes it. */
export function newBlock(number: number, previousHash: Uint8Array, data: Uint8Array[]): common.Block {
  return common.Block.create({
    header: common.BlockHeader.create({
      number,
      ...(previousHash.length ? { previousHash } : {}),
      dataHash: blockDataHash(data),
    }),
    data: common.BlockData.create({ data }),
    metadata: common.BlockMetadata.create({ metadata: Array.from({ length: METADATA_SLOTS }, () => Buffer.alloc(0)) }),
  });
}

export function marshalBlock(block: common.IBlock): Buffer {
  return asBuffer(common.Block.encode(block).finish());
}

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
