// The Raft WAL's record format. Pure: values in, bytes out, and bytes in, records and a verdict on
// the tail out; the files live in segments.ts and snapshots.ts.
//
// Frame: u32 LE body length | u32 LE CRC-32 of the 4 length bytes | u32 LE CRC-32 of the body | body
// The length has a checksum of its own so that a damaged length in the middle of the log is seen
// as damage, not mistaken for a record that runs past the end of the file (a torn tail), which
// would silently drop every acknowledged record after it.
//
// Bodies (integers u64 LE unless said otherwise):
//   SEGMENT_HEADER  u8 1 | seq | firstIndex | hardState term, vote, commit | snapshot term, index
//                   The first record of every segment: with it a segment can be read without the
//                   ones before it, so those can be deleted once a snapshot covers them.
//   ENTRY           u8 2 | term | index | u8 entry type | data
//   HARD_STATE      u8 3 | term | vote | commit
//   SNAPSHOT_MARKER u8 4 | u8 kind (0 compaction, 1 restore) | term | index
//                   compaction: the application compacted its log at index; entries after stay.
//                   restore: raft replaced its whole log with a received snapshot (Ready.Snapshot).
//   SNAPSHOT        u8 5 | term | index | u8 autoLeave | 4 x (u32 LE count, count x u64 node id)
//                   for voters, learners, votersOutgoing, learnersNext | data
//                   Only in snap files, never in the WAL.
import { crc32 } from 'node:zlib';
import type { Entry, HardState, Snapshot } from './types.js';
import { EntryType } from './types.js';

export const FRAME_BYTES = 12;

const SEGMENT_HEADER = 1;
const ENTRY = 2;
const HARD_STATE = 3;
const SNAPSHOT_MARKER = 4;
const SNAPSHOT = 5;

const SEGMENT_HEADER_BYTES = 1 + 7 * 8;
const ENTRY_FIXED_BYTES = 1 + 8 + 8 + 1;
const HARD_STATE_BYTES = 1 + 3 * 8;
const SNAPSHOT_MARKER_BYTES = 1 + 1 + 8 + 8;

/** etcd's torn-write test looks at 512-byte sectors: a sector of zeros was never written. */
const SECTOR_BYTES = 512;

export type SnapshotMarkerKind = 'compaction' | 'restore';

export interface SegmentHeaderRecord {
  readonly type: 'segment-header';
  readonly seq: number;
  /** The index the next entry was expected at when the segment was cut (last index + 1). */
  readonly firstIndex: number;
  readonly hardState: HardState;
  readonly snapshotTerm: number;
  readonly snapshotIndex: number;
}

export interface EntryRecord {
  readonly type: 'entry';
  readonly entry: Entry;
}

export interface HardStateRecord {
  readonly type: 'hard-state';
  readonly hardState: HardState;
}

export interface SnapshotMarkerRecord {
  readonly type: 'snapshot-marker';
  readonly kind: SnapshotMarkerKind;
  readonly term: number;
  readonly index: number;
}

export type WalRecord = SegmentHeaderRecord | EntryRecord | HardStateRecord | SnapshotMarkerRecord;

export class RecordEncodingError extends Error {
  override readonly name = 'RecordEncodingError';
}

function checkedU64(value: number, what: string): bigint {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RecordEncodingError(`${what} ${value} is not a non-negative safe integer`);
  return BigInt(value);
}

/** u64 fields come back as numbers; above 2^53 they would lose bits, so they are refused. */
class BodyReader {
  offset = 0;
  constructor(private readonly body: Buffer) {}

  remaining(): number {
    return this.body.length - this.offset;
  }

  u8(): number {
    return this.body.readUInt8(this.offset++);
  }

  u32(): number {
    const value = this.body.readUInt32LE(this.offset);
    this.offset += 4;
    return value;
  }

  u64(what: string): number {
    const value = this.body.readBigUInt64LE(this.offset);
    this.offset += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new BodyFormatError(`${what} ${value} exceeds 2^53-1`);
    return Number(value);
  }

  rest(): Buffer {
    // A copy, so a replayed entry does not pin the whole segment buffer in memory.
    const rest = Buffer.from(this.body.subarray(this.offset));
    this.offset = this.body.length;
    return rest;
  }
}

class BodyFormatError extends Error {}

function frameHead(bodyLength: number, bodyCrc: number): Buffer {
  const head = Buffer.allocUnsafe(FRAME_BYTES);
  head.writeUInt32LE(bodyLength, 0);
  head.writeUInt32LE(crc32(head.subarray(0, 4)), 4);
  head.writeUInt32LE(bodyCrc, 8);
  return head;
}

function frame(body: Buffer): Buffer {
  return Buffer.concat([frameHead(body.length, crc32(body)), body]);
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export function encodeSegmentHeader(record: Omit<SegmentHeaderRecord, 'type'>): Buffer {
  const body = Buffer.allocUnsafe(SEGMENT_HEADER_BYTES);
  body.writeUInt8(SEGMENT_HEADER, 0);
  body.writeBigUInt64LE(checkedU64(record.seq, 'segment seq'), 1);
  body.writeBigUInt64LE(checkedU64(record.firstIndex, 'segment first index'), 9);
  body.writeBigUInt64LE(checkedU64(record.hardState.term, 'hard state term'), 17);
  body.writeBigUInt64LE(checkedU64(record.hardState.vote, 'hard state vote'), 25);
  body.writeBigUInt64LE(checkedU64(record.hardState.commit, 'hard state commit'), 33);
  body.writeBigUInt64LE(checkedU64(record.snapshotTerm, 'snapshot term'), 41);
  body.writeBigUInt64LE(checkedU64(record.snapshotIndex, 'snapshot index'), 49);
  return frame(body);
}

/** An entry as [frame and fixed fields, data]: written with writev, so the data is not copied. */
export function encodeEntryChunks(entry: Entry): Buffer[] {
  const fixed = Buffer.allocUnsafe(ENTRY_FIXED_BYTES);
  fixed.writeUInt8(ENTRY, 0);
  fixed.writeBigUInt64LE(checkedU64(entry.term, 'entry term'), 1);
  fixed.writeBigUInt64LE(checkedU64(entry.index, 'entry index'), 9);
  if (!(entry.type in EntryType))
    throw new RecordEncodingError(`entry ${entry.index} has unknown type ${entry.type}`);
  fixed.writeUInt8(entry.type, 17);
  const data = asBuffer(entry.data);
  const fixedCrc = crc32(fixed);
  // Node 20's crc32 answers 0, not the running value, for some empty buffers: no chaining for those.
  const bodyCrc = data.length > 0 ? crc32(data, fixedCrc) : fixedCrc;
  const head = Buffer.concat([frameHead(ENTRY_FIXED_BYTES + data.length, bodyCrc), fixed]);
  return data.length > 0 ? [head, data] : [head];
}

export function encodeHardState(hardState: HardState): Buffer {
  const body = Buffer.allocUnsafe(HARD_STATE_BYTES);
  body.writeUInt8(HARD_STATE, 0);
  body.writeBigUInt64LE(checkedU64(hardState.term, 'hard state term'), 1);
  body.writeBigUInt64LE(checkedU64(hardState.vote, 'hard state vote'), 9);
  body.writeBigUInt64LE(checkedU64(hardState.commit, 'hard state commit'), 17);
  return frame(body);
}

export function encodeSnapshotMarker(kind: SnapshotMarkerKind, term: number, index: number): Buffer {
  const body = Buffer.allocUnsafe(SNAPSHOT_MARKER_BYTES);
  body.writeUInt8(SNAPSHOT_MARKER, 0);
  body.writeUInt8(kind === 'restore' ? 1 : 0, 1);
  body.writeBigUInt64LE(checkedU64(term, 'snapshot term'), 2);
  body.writeBigUInt64LE(checkedU64(index, 'snapshot index'), 10);
  return frame(body);
}

function decodeBody(body: Buffer): WalRecord {
  const reader = new BodyReader(body);
  const type = reader.u8();
  const expectLength = (length: number) => {
    if (body.length !== length)
      throw new BodyFormatError(`record of type ${type} has ${body.length} bytes, expected ${length}`);
  };
  switch (type) {
    case SEGMENT_HEADER: {
      expectLength(SEGMENT_HEADER_BYTES);
      return {
        type: 'segment-header',
        seq: reader.u64('segment seq'),
        firstIndex: reader.u64('segment first index'),
        hardState: { term: reader.u64('term'), vote: reader.u64('vote'), commit: reader.u64('commit') },
        snapshotTerm: reader.u64('snapshot term'),
        snapshotIndex: reader.u64('snapshot index'),
      };
    }
    case ENTRY: {
      if (body.length < ENTRY_FIXED_BYTES) throw new BodyFormatError(`entry record of ${body.length} bytes`);
      const term = reader.u64('entry term');
      const index = reader.u64('entry index');
      const entryType = reader.u8();
      if (!(entryType in EntryType))
        throw new BodyFormatError(`entry ${index} has unknown type ${entryType}`);
      return { type: 'entry', entry: { term, index, type: entryType as EntryType, data: reader.rest() } };
    }
    case HARD_STATE: {
      expectLength(HARD_STATE_BYTES);
      return {
        type: 'hard-state',
        hardState: { term: reader.u64('term'), vote: reader.u64('vote'), commit: reader.u64('commit') },
      };
    }
    case SNAPSHOT_MARKER: {
      expectLength(SNAPSHOT_MARKER_BYTES);
      const kindByte = reader.u8();
      if (kindByte > 1) throw new BodyFormatError(`snapshot marker of unknown kind ${kindByte}`);
      return {
        type: 'snapshot-marker',
        kind: kindByte === 1 ? 'restore' : 'compaction',
        term: reader.u64('snapshot term'),
        index: reader.u64('snapshot index'),
      };
    }
    default:
      throw new BodyFormatError(`unknown record type ${type}`);
  }
}

export interface PositionedRecord {
  readonly record: WalRecord;
  /** Byte offset of the record's frame in its file. */
  readonly offset: number;
}

export type TailVerdict =
  | { readonly kind: 'clean' }
  /** The file ends inside a record that was never completely written: safe to cut off. */
  | { readonly kind: 'torn'; readonly offset: number }
  /** Damage that a crash during a write cannot produce: refuse to guess. */
  | { readonly kind: 'corrupt'; readonly offset: number; readonly reason: string };

export interface DecodedRecords {
  readonly records: PositionedRecord[];
  /** Bytes from the start that hold whole, intact records. */
  readonly validBytes: number;
  readonly tail: TailVerdict;
}

function allZero(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/**
 * etcd's isTornEntry: a write that did not reach the disk leaves sectors of zeros (space the file
 * system allocated but never filled), so a record with such a chunk is torn, not damaged. bytes is
 * the whole file, so positions in it are file offsets and sectors are aligned to them.
 */
function hasZeroSector(bytes: Buffer, start: number, end: number): boolean {
  let chunkStart = start;
  while (chunkStart < end) {
    const chunkEnd = Math.min(end, (Math.floor(chunkStart / SECTOR_BYTES) + 1) * SECTOR_BYTES);
    if (allZero(bytes.subarray(chunkStart, chunkEnd))) return true;
    chunkStart = chunkEnd;
  }
  return false;
}

/**
 * Reads records until the end of bytes or the first one that does not check out, and says whether
 * what follows is a torn tail (a kill -9 or power loss in the middle of an unacknowledged write)
 * or damage. Which of those is acceptable depends on where the file is; the caller decides.
 */
export function decodeRecords(bytes: Buffer): DecodedRecords {
  const records: PositionedRecord[] = [];
  let offset = 0;
  const stop = (tail: TailVerdict): DecodedRecords => ({ records, validBytes: offset, tail });
  while (offset < bytes.length) {
    if (bytes.length - offset < FRAME_BYTES) return stop({ kind: 'torn', offset });
    const lengthBytes = bytes.subarray(offset, offset + 4);
    if (crc32(lengthBytes) !== bytes.readUInt32LE(offset + 4)) {
      if (allZero(bytes.subarray(offset))) return stop({ kind: 'torn', offset });
      return stop({ kind: 'corrupt', offset, reason: 'the record length fails its checksum' });
    }
    const bodyStart = offset + FRAME_BYTES;
    const end = bodyStart + lengthBytes.readUInt32LE(0);
    if (end > bytes.length) return stop({ kind: 'torn', offset });
    const body = bytes.subarray(bodyStart, end);
    if (crc32(body) !== bytes.readUInt32LE(offset + 8)) {
      // Torn only if nothing but zeros follows: a record followed by real data was written whole.
      if (allZero(bytes.subarray(end)) && hasZeroSector(bytes, bodyStart, end))
        return stop({ kind: 'torn', offset });
      return stop({ kind: 'corrupt', offset, reason: 'the record body fails its CRC-32 check' });
    }
    try {
      records.push({ record: decodeBody(body), offset });
    } catch (err) {
      if (!(err instanceof BodyFormatError) && !(err instanceof RangeError)) throw err;
      return stop({
        kind: 'corrupt',
        offset,
        reason: `the record passes its CRC but is malformed: ${err.message}`,
      });
    }
    offset = end;
  }
  return stop({ kind: 'clean' });
}

export function encodeSnapshotFile(snapshot: Snapshot): Buffer {
  const { metadata } = snapshot;
  const { confState } = metadata;
  const lists = [confState.voters, confState.learners, confState.votersOutgoing, confState.learnersNext];
  const fixedBytes = 1 + 8 + 8 + 1 + lists.reduce((n, list) => n + 4 + 8 * list.length, 0);
  const fixed = Buffer.allocUnsafe(fixedBytes);
  fixed.writeUInt8(SNAPSHOT, 0);
  fixed.writeBigUInt64LE(checkedU64(metadata.term, 'snapshot term'), 1);
  fixed.writeBigUInt64LE(checkedU64(metadata.index, 'snapshot index'), 9);
  fixed.writeUInt8(confState.autoLeave ? 1 : 0, 17);
  let at = 18;
  for (const list of lists) {
    fixed.writeUInt32LE(list.length, at);
    at += 4;
    for (const id of list) {
      fixed.writeBigUInt64LE(checkedU64(id, 'node id'), at);
      at += 8;
    }
  }
  return frame(Buffer.concat([fixed, asBuffer(snapshot.data)]));
}

/** The snapshot in a snap file, or why the file cannot be one. */
export function decodeSnapshotFile(bytes: Buffer): Snapshot | string {
  const decoded =
    bytes.length >= FRAME_BYTES ? decodeFrameOnly(bytes) : 'the file is shorter than a record frame';
  if (typeof decoded === 'string') return decoded;
  const reader = new BodyReader(decoded);
  try {
    if (reader.u8() !== SNAPSHOT) return 'the file does not hold a snapshot record';
    const term = reader.u64('snapshot term');
    const index = reader.u64('snapshot index');
    const autoLeave = reader.u8() === 1;
    const readList = () => {
      const count = reader.u32();
      if (count * 8 > reader.remaining())
        throw new BodyFormatError(`a node list of ${count} ids does not fit`);
      const ids: number[] = [];
      for (let i = 0; i < count; i++) ids.push(reader.u64('node id'));
      return ids;
    };
    const confState = {
      voters: readList(),
      learners: readList(),
      votersOutgoing: readList(),
      learnersNext: readList(),
      autoLeave,
    };
    return { data: reader.rest(), metadata: { confState, index, term } };
  } catch (err) {
    if (err instanceof BodyFormatError || err instanceof RangeError)
      return `the snapshot record is malformed: ${err.message}`;
    throw err;
  }
}

function decodeFrameOnly(bytes: Buffer): Buffer | string {
  if (crc32(bytes.subarray(0, 4)) !== bytes.readUInt32LE(4)) return 'the record length fails its checksum';
  const end = FRAME_BYTES + bytes.readUInt32LE(0);
  if (end !== bytes.length)
    return `the record says ${end - FRAME_BYTES} bytes but the file holds ${bytes.length - FRAME_BYTES}`;
  const body = bytes.subarray(FRAME_BYTES);
  if (crc32(body) !== bytes.readUInt32LE(8)) return 'the snapshot fails its CRC-32 check';
  return body;
}
