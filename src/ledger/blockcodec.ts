// The two encodings of a block that the ledger deals with:
//
// - the wire encoding: a marshalled common.Block, as Deliver sends it. Fabric's Go orderer
//   serves proto.Marshal(block), which is canonical: fields in order, header number 0 and empty
//   hashes omitted, header/data/metadata always present. marshalBlock() produces exactly that.
// - the block file record (common/ledger/blkstorage/block_serialization.go): Fabric does not store
//   the marshalled block but its own layout, varint(number) rawbytes(data_hash) rawbytes(previous_hash)
//   varint(#data) rawbytes(data)... varint(#metadata) rawbytes(metadata)..., each record preceded
//   by a varint length. Writing the same layout keeps a ledger folder interchangeable with Fabric's
//   Go orderer in both directions.
//
// Converting between them is lossless for canonical wire bytes (the data and metadata entries are
// kept byte for byte; only the outer framing is rebuilt), which is why append() insists on them.
import { common, asBuffer, toNumber } from '../protos/index.js';
import { internal } from '../errors.js';
import { varintSize, writeVarint } from '../protos/varint.js';

export interface BlockParts {
  number: number;
  previousHash: Uint8Array;
  dataHash: Uint8Array;
  data: Uint8Array[];
  metadata: Uint8Array[];
}

export class BlockFormatError extends Error {
  override readonly name = 'BlockFormatError';
}

// ---------------------------------------------------------------- varints

export function encodeVarint(value: number): Buffer {
  const out = Buffer.allocUnsafe(varintSize(value));
  writeVarint(out, 0, value);
  return out;
}

/**
 * Reads a varint at offset. Returns undefined when the buffer ends inside it (a torn tail), throws
 * BlockFormatError when it is not a varint a ledger could have written (> 2^53 or over 10 bytes).
 */
export function readVarint(source: Uint8Array, offset: number): { value: number; next: number } | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (offset + i >= source.length) return undefined;
    const byte = source[offset + i]!;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) {
      if (!Number.isSafeInteger(value)) throw new BlockFormatError(`varint at offset ${offset} is too large`);
      return { value, next: offset + i + 1 };
    }
    scale *= 128;
  }
  throw new BlockFormatError(`varint at offset ${offset} is longer than 10 bytes`);
}

// ---------------------------------------------------------------- wire encoding

/** Go's proto.Marshal of a common.Block built from these parts. */
export function marshalBlock(parts: BlockParts): Buffer {
  const headerSize = headerFieldsSize(parts);
  const dataSize = repeatedBytesSize(parts.data);
  const metadataSize = repeatedBytesSize(parts.metadata);
  const total =
    1 +
    varintSize(headerSize) +
    headerSize +
    1 +
    varintSize(dataSize) +
    dataSize +
    1 +
    varintSize(metadataSize) +
    metadataSize;
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  out[at++] = 0x0a;
  at = writeVarint(out, at, headerSize);
  if (parts.number !== 0) {
    out[at++] = 0x08;
    at = writeVarint(out, at, parts.number);
  }
  if (parts.previousHash.length > 0) at = writeTaggedBytes(out, at, 0x12, parts.previousHash);
  if (parts.dataHash.length > 0) at = writeTaggedBytes(out, at, 0x1a, parts.dataHash);
  out[at++] = 0x12;
  at = writeVarint(out, at, dataSize);
  for (const entry of parts.data) at = writeTaggedBytes(out, at, 0x0a, entry);
  out[at++] = 0x1a;
  at = writeVarint(out, at, metadataSize);
  for (const entry of parts.metadata) at = writeTaggedBytes(out, at, 0x0a, entry);
  return out;
}

/**
 * Decodes marshalled block bytes into parts (views into bytes, no copies) and checks that they
 * are canonical, i.e. that marshalBlock(parts) gives back the very same bytes.
 */
export function unmarshalCanonicalBlock(bytes: Uint8Array): BlockParts {
  // Every block the ledger appends passes here: reading the canonical layout directly spares
  // the decode and the re-encoding (a copy of the whole block) that the general check costs.
  return readCanonicalLayout(bytes) ?? decodeAndCheckCanonical(bytes);
}

/**
 * The parts of bytes laid out exactly as marshalBlock writes them (minimal varints, zero number
 * and empty hashes omitted, nothing else); undefined for anything else, which the general check
 * then decodes, and refuses with the reason.
 */
export function readCanonicalLayout(bytes: Uint8Array): BlockParts | undefined {
  const buffer = asBuffer(bytes);
  let at = 0;
  const minimalVarint = (end: number): number | undefined => {
    let read: { value: number; next: number } | undefined;
    try {
      read = readVarint(buffer, at);
    } catch {
      return undefined;
    }
    if (!read || read.next > end || read.next - at !== varintSize(read.value)) return undefined;
    at = read.next;
    return read.value;
  };
  /** Where the content of the length-delimited field with this tag at `at` ends. */
  const lengthDelimited = (tag: number, end: number): number | undefined => {
    if (at >= end || buffer[at] !== tag) return undefined;
    at++;
    const length = minimalVarint(end);
    if (length === undefined || at + length > end) return undefined;
    return at + length;
  };
  const entriesUntil = (end: number): Buffer[] | undefined => {
    const entries: Buffer[] = [];
    while (at < end) {
      const entryEnd = lengthDelimited(0x0a, end);
      if (entryEnd === undefined) return undefined;
      entries.push(buffer.subarray(at, entryEnd));
      at = entryEnd;
    }
    return entries;
  };
  // A hash is written only when it is not empty.
  const hashUntil = (tag: number, end: number): Buffer | undefined => {
    if (at >= end || buffer[at] !== tag) return buffer.subarray(0, 0);
    const hashEnd = lengthDelimited(tag, end);
    if (hashEnd === undefined || hashEnd === at) return undefined;
    const hash = buffer.subarray(at, hashEnd);
    at = hashEnd;
    return hash;
  };

  const headerEnd = lengthDelimited(0x0a, buffer.length);
  if (headerEnd === undefined) return undefined;
  let number = 0;
  if (at < headerEnd && buffer[at] === 0x08) {
    at++;
    const value = minimalVarint(headerEnd);
    if (value === undefined || value === 0) return undefined;
    number = value;
  }
  const previousHash = hashUntil(0x12, headerEnd);
  const dataHash = previousHash && hashUntil(0x1a, headerEnd);
  if (!previousHash || !dataHash || at !== headerEnd) return undefined;
  const dataEnd = lengthDelimited(0x12, buffer.length);
  const data = dataEnd === undefined ? undefined : entriesUntil(dataEnd);
  const metadataEnd = data && lengthDelimited(0x1a, buffer.length);
  const metadata = metadataEnd === undefined ? undefined : entriesUntil(metadataEnd);
  if (!data || !metadata || at !== buffer.length) return undefined;
  return { number, previousHash, dataHash, data, metadata };
}

/** The general check: decode, marshal again, compare (exported for the tests of the fast path). */
export function decodeAndCheckCanonical(bytes: Uint8Array): BlockParts {
  let block: common.Block;
  try {
    block = common.Block.decode(bytes);
  } catch (err) {
    throw internal(
      `block bytes do not decode as a common.Block: ${(err as Error).message}`,
      {},
      { cause: err },
    );
  }
  const parts: BlockParts = {
    number: toNumber(block.header?.number),
    previousHash: asBuffer(block.header?.previousHash),
    dataHash: asBuffer(block.header?.dataHash),
    data: (block.data?.data ?? []).map(asBuffer),
    metadata: (block.metadata?.metadata ?? []).map(asBuffer),
  };
  const canonical = marshalBlock(parts);
  if (!block.header || !block.data || !block.metadata || !asBuffer(bytes).equals(canonical)) {
    throw internal(
      `block ${parts.number} is not in Fabric's canonical encoding (Go proto.Marshal: header, data and metadata ` +
        'present, zero number and empty hashes omitted), so it could not be stored and served byte for byte; ' +
        'marshal blocks with marshalBlock() from src/ledger, or common.Block.encode() with header, data and ' +
        'metadata all set',
      { blockNumber: parts.number },
    );
  }
  return parts;
}

// ---------------------------------------------------------------- block file record

/** The record Fabric's blockfile manager writes for a block, without the length prefix. */
export function serializeFileRecord(parts: BlockParts): Buffer {
  return Buffer.concat(fileRecordChunks(parts));
}

/**
 * The same record as pieces to write one after the other (writev): the data and metadata entries
 * are the parts' own bytes, not copies, so appending a block copies it no more.
 */
export function fileRecordChunks(parts: BlockParts): Uint8Array[] {
  const headSize =
    varintSize(parts.number) +
    rawBytesSize(parts.dataHash) +
    rawBytesSize(parts.previousHash) +
    varintSize(parts.data.length);
  let prefixesSize = varintSize(parts.metadata.length);
  for (const entry of parts.data) prefixesSize += varintSize(entry.length);
  for (const entry of parts.metadata) prefixesSize += varintSize(entry.length);
  // One buffer for the head and every length prefix; the chunks are views into it and the entries.
  const small = Buffer.allocUnsafe(headSize + prefixesSize);
  let at = writeVarint(small, 0, parts.number);
  at = writeRawBytes(small, at, parts.dataHash);
  at = writeRawBytes(small, at, parts.previousHash);
  at = writeVarint(small, at, parts.data.length);
  const chunks: Uint8Array[] = [];
  let pending = 0;
  const entry = (bytes: Uint8Array) => {
    at = writeVarint(small, at, bytes.length);
    chunks.push(small.subarray(pending, at));
    pending = at;
    if (bytes.length > 0) chunks.push(bytes);
  };
  for (const bytes of parts.data) entry(bytes);
  at = writeVarint(small, at, parts.metadata.length);
  for (const bytes of parts.metadata) entry(bytes);
  if (pending < at) chunks.push(small.subarray(pending, at));
  return chunks;
}

/** Length prefix + record, ready to append to a block file. */
export function frameFileRecord(record: Buffer): Buffer {
  return Buffer.concat([encodeVarint(record.length), record]);
}

/** Parses a record (without its length prefix); it must be consumed exactly. Throws BlockFormatError. */
export function deserializeFileRecord(record: Uint8Array): BlockParts {
  const reader = new RecordReader(record);
  const number = reader.varint('block number');
  const dataHash = reader.rawBytes('data hash');
  const previousHash = reader.rawBytes('previous hash');
  const dataCount = reader.varint('data count');
  const data: Uint8Array[] = [];
  for (let i = 0; i < dataCount; i++) data.push(reader.rawBytes(`data entry ${i}`));
  const metadataCount = reader.varint('metadata count');
  const metadata: Uint8Array[] = [];
  for (let i = 0; i < metadataCount; i++) metadata.push(reader.rawBytes(`metadata entry ${i}`));
  if (reader.offset !== record.length) {
    throw new BlockFormatError(`${record.length - reader.offset} unexpected bytes after block ${number}`);
  }
  return { number, previousHash, dataHash, data, metadata };
}

/** Only the header of a record, for scans that need not look at the data. */
export function deserializeFileRecordHeader(record: Uint8Array): Omit<BlockParts, 'data' | 'metadata'> {
  const reader = new RecordReader(record);
  const number = reader.varint('block number');
  const dataHash = reader.rawBytes('data hash');
  const previousHash = reader.rawBytes('previous hash');
  return { number, previousHash, dataHash };
}

class RecordReader {
  offset = 0;
  constructor(private readonly source: Uint8Array) {}

  varint(what: string): number {
    const result = readVarint(this.source, this.offset);
    if (!result) throw new BlockFormatError(`record ends inside the ${what}`);
    this.offset = result.next;
    return result.value;
  }

  rawBytes(what: string): Uint8Array {
    const length = this.varint(`length of the ${what}`);
    if (this.offset + length > this.source.length)
      throw new BlockFormatError(`record ends inside the ${what}`);
    const bytes = this.source.subarray(this.offset, this.offset + length);
    this.offset += length;
    return bytes;
  }
}

function headerFieldsSize(parts: BlockParts): number {
  let size = 0;
  if (parts.number !== 0) size += 1 + varintSize(parts.number);
  if (parts.previousHash.length > 0) size += 1 + rawBytesSize(parts.previousHash);
  if (parts.dataHash.length > 0) size += 1 + rawBytesSize(parts.dataHash);
  return size;
}

function repeatedBytesSize(entries: readonly Uint8Array[]): number {
  let size = 0;
  for (const entry of entries) size += 1 + rawBytesSize(entry);
  return size;
}

function rawBytesSize(bytes: Uint8Array): number {
  return varintSize(bytes.length) + bytes.length;
}

function writeRawBytes(target: Buffer, offset: number, bytes: Uint8Array): number {
  offset = writeVarint(target, offset, bytes.length);
  target.set(bytes, offset);
  return offset + bytes.length;
}

function writeTaggedBytes(target: Buffer, offset: number, tag: number, bytes: Uint8Array): number {
  target[offset++] = tag;
  return writeRawBytes(target, offset, bytes);
}
