// Block hashing exactly as Fabric's protoutil does it (protoutil/blockutils.go):
// the header hash is SHA-256 of the ASN.1 DER encoding of the header, the data hash is SHA-256
// of the concatenated data entries. Both are part of the chain, so they must match Go bit for bit.
import { createHash } from 'node:crypto';

export interface BlockHeaderFields {
  /** uint64; a bigint is accepted so that the full range can be hashed. */
  number: number | bigint;
  previousHash: Uint8Array;
  dataHash: Uint8Array;
}

/** DER of SEQUENCE { INTEGER number, OCTET STRING previous_hash, OCTET STRING data_hash } (Go's asn1.Marshal). */
export function blockHeaderBytes(header: BlockHeaderFields): Buffer {
  const number = derInteger(toUint64(header.number));
  const previous = derElement(0x04, header.previousHash);
  const data = derElement(0x04, header.dataHash);
  return derElement(0x30, Buffer.concat([number, previous, data]));
}

export function blockHeaderHash(header: BlockHeaderFields): Buffer {
  return createHash('sha256').update(blockHeaderBytes(header)).digest();
}

/** SHA-256 over data[0] || data[1] || ... (BlockDataHashingStructure width 2^32-1). */
export function blockDataHash(data: readonly Uint8Array[]): Buffer {
  const hash = createHash('sha256');
  for (const entry of data) hash.update(entry);
  return hash.digest();
}

function toUint64(value: number | bigint): bigint {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new RangeError(`block number ${value} is not a safe integer; pass it as a bigint`);
  }
  const big = BigInt(value);
  if (big < 0n || big > 0xffffffffffffffffn) throw new RangeError(`block number ${big} is not a uint64`);
  return big;
}

/** Minimal two's-complement big-endian content, as Go encodes a non-negative big.Int. */
function derInteger(value: bigint): Buffer {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = '0' + hex;
  let content = Buffer.from(hex, 'hex');
  if (content[0]! & 0x80) content = Buffer.concat([Buffer.from([0]), content]);
  return derElement(0x02, content);
}

function derElement(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
