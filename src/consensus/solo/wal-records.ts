// The solo write-ahead log's record format and recovery plan. Pure: bytes in, records and
// decisions out; the file I/O lives in wal.ts.
//
// Record framing: u32 body length | u32 CRC-32 of body | body. A record whose frame or CRC does
// not check out ends the log: after a kill -9 mid-write only the tail can be torn, and an
// unacknowledged torn record is exactly what must be dropped.
//
// Bodies:
//   ENVELOPE: u8 1 | u8 kind (0 normal, 1 config) | u64 seq | u64 configSeq | raw envelope bytes
//   BATCH:    u8 2 | u64 blockNumber | u64 firstSeq | u64 lastSeq
// A BATCH record is made durable before its block is handed to the ledger, so a block in the
// ledger always has its BATCH in the log; a BATCH whose block never reached the ledger is ignored.
import { crc32 } from 'node:zlib';

export type MessageKind = 'normal' | 'config';

export interface EnvelopeRecord {
  readonly type: 'envelope';
  readonly seq: number;
  readonly kind: MessageKind;
  /** The config sequence the envelope was validated at. */
  readonly configSeq: number;
  /** The marshalled Envelope as received. */
  readonly raw: Buffer;
}

export interface BatchRecord {
  readonly type: 'batch';
  readonly blockNumber: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
}

export type WalRecord = EnvelopeRecord | BatchRecord;

const FRAME_BYTES = 8;
const ENVELOPE_TYPE = 1;
const BATCH_TYPE = 2;
const ENVELOPE_FIXED_BYTES = 1 + 1 + 8 + 8;
const BATCH_BYTES = 1 + 8 + 8 + 8;

/** A framed record with room for a body of bodyLength bytes; call seal() once the body is written. */
function allocateRecord(bodyLength: number): { record: Buffer; body: Buffer } {
  const record = Buffer.allocUnsafe(FRAME_BYTES + bodyLength);
  record.writeUInt32BE(bodyLength, 0);
  return { record, body: record.subarray(FRAME_BYTES) };
}

function seal(record: Buffer): Buffer {
  record.writeUInt32BE(crc32(record.subarray(FRAME_BYTES)), 4);
  return record;
}

function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeBigUInt64BE(BigInt(value), offset);
}

function readU64(buf: Buffer, offset: number): number {
  return Number(buf.readBigUInt64BE(offset));
}

/**
 * An ENVELOPE record as [frame and fixed fields, the raw envelope]: for a writev, so the envelope
 * is not copied into a record buffer of its own. encodeEnvelopeRecord is their concatenation.
 */
export function encodeEnvelopeRecordChunks(record: Omit<EnvelopeRecord, 'type'>): [Buffer, Buffer] {
  const head = Buffer.allocUnsafe(FRAME_BYTES + ENVELOPE_FIXED_BYTES);
  head.writeUInt32BE(ENVELOPE_FIXED_BYTES + record.raw.length, 0);
  head.writeUInt8(ENVELOPE_TYPE, FRAME_BYTES);
  head.writeUInt8(record.kind === 'config' ? 1 : 0, FRAME_BYTES + 1);
  writeU64(head, record.seq, FRAME_BYTES + 2);
  writeU64(head, record.configSeq, FRAME_BYTES + 10);
  const headCrc = crc32(head.subarray(FRAME_BYTES));
  // Node 20's crc32 answers 0, not the running value, for some empty buffers: no chaining for those.
  head.writeUInt32BE(record.raw.length > 0 ? crc32(record.raw, headCrc) : headCrc, 4);
  return [head, record.raw];
}

export function encodeEnvelopeRecord(record: Omit<EnvelopeRecord, 'type'>): Buffer {
  return Buffer.concat(encodeEnvelopeRecordChunks(record));
}

export function encodeBatchRecord(record: Omit<BatchRecord, 'type'>): Buffer {
  const { record: framed, body } = allocateRecord(BATCH_BYTES);
  body.writeUInt8(BATCH_TYPE, 0);
  writeU64(body, record.blockNumber, 1);
  writeU64(body, record.firstSeq, 9);
  writeU64(body, record.lastSeq, 17);
  return seal(framed);
}

/** Any record, in the chunks it is written as. */
export function encodeRecordChunks(record: WalRecord): Buffer[] {
  return record.type === 'envelope' ? encodeEnvelopeRecordChunks(record) : [encodeBatchRecord(record)];
}

export interface DecodedWal {
  records: WalRecord[];
  /** Bytes from the start that hold whole, intact records. */
  validBytes: number;
  /** Bytes after validBytes that were dropped. */
  droppedBytes: number;
  /** Why the dropped bytes were dropped; undefined when nothing was. */
  dropReason: 'torn-tail' | 'corrupt-record' | undefined;
}

function decodeBody(body: Buffer): WalRecord | undefined {
  const type = body.length > 0 ? body.readUInt8(0) : -1;
  if (type === ENVELOPE_TYPE && body.length >= ENVELOPE_FIXED_BYTES) {
    const kindByte = body.readUInt8(1);
    if (kindByte > 1) return undefined;
    return {
      type: 'envelope',
      kind: kindByte === 1 ? 'config' : 'normal',
      seq: readU64(body, 2),
      configSeq: readU64(body, 10),
      // A copy, so the replayed envelope does not pin the whole log buffer in memory.
      raw: Buffer.from(body.subarray(ENVELOPE_FIXED_BYTES)),
    };
  }
  if (type === BATCH_TYPE && body.length === BATCH_BYTES) {
    return {
      type: 'batch',
      blockNumber: readU64(body, 1),
      firstSeq: readU64(body, 9),
      lastSeq: readU64(body, 17),
    };
  }
  return undefined;
}

/** Reads records until the end or the first record that is incomplete or fails its CRC. */
export function decodeWal(bytes: Buffer): DecodedWal {
  const records: WalRecord[] = [];
  let offset = 0;
  let dropReason: DecodedWal['dropReason'];
  while (offset < bytes.length) {
    if (bytes.length - offset < FRAME_BYTES) {
      dropReason = 'torn-tail';
      break;
    }
    const length = bytes.readUInt32BE(offset);
    const end = offset + FRAME_BYTES + length;
    if (end > bytes.length) {
      dropReason = 'torn-tail';
      break;
    }
    const body = bytes.subarray(offset + FRAME_BYTES, end);
    const record = crc32(body) === bytes.readUInt32BE(offset + 4) ? decodeBody(body) : undefined;
    if (!record) {
      // A bad record that is the last one is a torn write; one followed by more bytes is damage.
      dropReason = end === bytes.length ? 'torn-tail' : 'corrupt-record';
      break;
    }
    records.push(record);
    offset = end;
  }
  return { records, validBytes: offset, droppedBytes: bytes.length - offset, dropReason };
}

export interface RecoveryPlan {
  /** Envelopes acknowledged but not in any block of the ledger, in log order: to be ordered again. */
  replay: EnvelopeRecord[];
  /** Every envelope with seq <= this is in the ledger (or was dropped as invalid). 0 when none. */
  committedThroughSeq: number;
  /** The seq to give the next envelope. */
  nextSeq: number;
  /** BATCH records whose block never reached the ledger (their envelopes are re-cut). */
  uncommittedBatches: number;
}

/**
 * Decides what a restarted chain must order again, given the ledger height. A later BATCH for the
 * same or a lower block number supersedes earlier ones (a block re-cut after an earlier recovery).
 */
export function planRecovery(records: readonly WalRecord[], ledgerHeight: number): RecoveryPlan {
  let batches: BatchRecord[] = [];
  let maxSeq = 0;
  for (const record of records) {
    if (record.type === 'batch') {
      batches = batches.filter((b) => b.blockNumber < record.blockNumber);
      batches.push(record);
      maxSeq = Math.max(maxSeq, record.lastSeq);
    } else {
      maxSeq = Math.max(maxSeq, record.seq);
    }
  }
  let committedThroughSeq = 0;
  let uncommittedBatches = 0;
  for (const batch of batches) {
    if (batch.blockNumber < ledgerHeight) committedThroughSeq = Math.max(committedThroughSeq, batch.lastSeq);
    else uncommittedBatches++;
  }
  const seen = new Set<number>();
  const replay: EnvelopeRecord[] = [];
  for (const record of records) {
    if (record.type !== 'envelope' || record.seq <= committedThroughSeq || seen.has(record.seq)) continue;
    seen.add(record.seq);
    replay.push(record);
  }
  replay.sort((a, b) => a.seq - b.seq);
  return { replay, committedThroughSeq, nextSeq: maxSeq + 1, uncommittedBatches };
}
