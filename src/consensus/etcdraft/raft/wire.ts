// raftpb (etcd raft v3.5.9 raftpb/raft.proto) encoded as gogoproto does, so that etcd decodes
// our messages and we produce the bytes it produces: every non-nullable field is written even
// when zero, fields in ascending number order, repeated uint64 unpacked (proto2), nullable bytes
// (Entry.Data, Snapshot.data, Message.context, ConfChange.context) written only when present.
// An empty Entry/Snapshot data array stands for Go's nil; an undefined context for a nil one.
// Decoding accepts any field order, packed or unpacked repeated fields and skips unknown fields;
// a uint64 above Number.MAX_SAFE_INTEGER is refused with a RaftError('wire-uint64-overflow').
import { RaftError } from './errors.js';
import type {
  ConfChange,
  ConfChangeSingle,
  ConfChangeV2,
  ConfState,
  Entry,
  HardState,
  Message,
  Snapshot,
  SnapshotMetadata,
} from './types.js';
import { emptyConfState, newEntry, newMessage } from './types.js';

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

class ByteWriter {
  private buffer = new Uint8Array(64);
  length = 0;

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + extra) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RaftError(
        'wire-uint64-overflow',
        `cannot encode ${value} as a uint64: not a safe non-negative integer`,
        {
          value,
        },
      );
    }
    this.ensure(10);
    while (value >= 128) {
      this.buffer[this.length++] = (value % 128) | 128;
      value = Math.floor(value / 128);
    }
    this.buffer[this.length++] = value;
  }

  tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.ensure(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
  }

  /**
   * Writes a length-delimited field whose body `write` puts straight into this buffer: room for
   * the longest length varint a body can need is kept before the body, which then moves back over
   * what the actual varint did not use. One buffer for a whole message, instead of one writer and
   * two copies per nested message (the cost that dominated encoding MsgApp with many entries).
   */
  nested(write: () => void): void {
    this.ensure(MAX_LENGTH_VARINT);
    const lengthAt = this.length;
    const bodyAt = lengthAt + MAX_LENGTH_VARINT;
    this.length = bodyAt;
    write();
    const bodyLength = this.length - bodyAt;
    this.length = lengthAt;
    this.varint(bodyLength);
    if (this.length !== bodyAt) this.buffer.copyWithin(this.length, bodyAt, bodyAt + bodyLength);
    this.length += bodyLength;
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

// A length below 2^35 (32 GiB) fits in 5 varint bytes; protobuf messages are limited to 2 GiB.
const MAX_LENGTH_VARINT = 5;

class ByteReader {
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly what: string,
  ) {}

  done(): boolean {
    return this.pos >= this.bytes.length;
  }

  private fail(problem: string): RaftError {
    return new RaftError('wire-decode', `cannot decode raftpb.${this.what}: ${problem} at byte ${this.pos}`, {
      message: this.what,
      offset: this.pos,
    });
  }

  // A varint as a safe integer; throws wire-uint64-overflow above Number.MAX_SAFE_INTEGER.
  uint64(field: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.bytes.length) throw this.fail('truncated varint');
      const byte = this.bytes[this.pos++] as number;
      value += (byte & 127) * scale;
      scale *= 128;
      if (byte < 128) {
        if (!Number.isSafeInteger(value)) {
          throw new RaftError(
            'wire-uint64-overflow',
            `raftpb.${this.what}.${field} is above 2^53-1, the largest value this orderer handles exactly; refusing it rather than rounding`,
            { message: this.what, field },
          );
        }
        return value;
      }
    }
    throw this.fail('varint longer than 10 bytes');
  }

  bool(field: string): boolean {
    return this.uint64(field) !== 0;
  }

  // An int32 enum; negative values are written as 10-byte varints and kept as read.
  enumValue(field: string): number {
    const start = this.pos;
    try {
      return this.uint64(field);
    } catch (err) {
      if (!(err instanceof RaftError) || err.code !== 'wire-uint64-overflow') throw err;
      this.pos = start;
      throw this.fail(`${field} is not a known enum value`);
    }
  }

  /** A bytes field, copied: the value may outlive the buffer it was read from. */
  lengthDelimited(): Uint8Array {
    return this.lengthDelimitedView().slice();
  }

  /** A nested message's bytes as a view into this buffer, for decoding at once (no copy). */
  lengthDelimitedView(): Uint8Array {
    const length = this.uint64('length');
    if (this.pos + length > this.bytes.length) throw this.fail(`length ${length} runs past the end`);
    const value = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return value;
  }

  tag(): { field: number; wireType: number } {
    const key = this.uint64('tag');
    const field = Math.floor(key / 8);
    if (field === 0) throw this.fail('field number 0');
    return { field, wireType: key % 8 };
  }

  skip(wireType: number): void {
    switch (wireType) {
      case VARINT:
        this.uint64WithoutCheck();
        return;
      case FIXED64:
        this.advance(8);
        return;
      case LENGTH_DELIMITED:
        this.lengthDelimitedView();
        return;
      case FIXED32:
        this.advance(4);
        return;
      default:
        throw this.fail(`unsupported wire type ${wireType}`);
    }
  }

  expect(wireType: number, actual: number, field: string): void {
    if (wireType !== actual) throw this.fail(`field ${field} has wire type ${actual}, want ${wireType}`);
  }

  private uint64WithoutCheck(): void {
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.bytes.length) throw this.fail('truncated varint');
      if ((this.bytes[this.pos++] as number) < 128) return;
    }
    throw this.fail('varint longer than 10 bytes');
  }

  private advance(n: number): void {
    if (this.pos + n > this.bytes.length) throw this.fail('truncated fixed-width field');
    this.pos += n;
  }
}

const writeVarintField = (w: ByteWriter, field: number, value: number) => {
  w.tag(field, VARINT);
  w.varint(value);
};
const writeBytesField = (w: ByteWriter, field: number, value: Uint8Array) => {
  w.tag(field, LENGTH_DELIMITED);
  w.bytes(value);
};

// Repeated uint64: unpacked when written; packed or unpacked when read.
function readRepeatedUint64(r: ByteReader, wireType: number, field: string, into: number[]): void {
  if (wireType === LENGTH_DELIMITED) {
    const packed = new ByteReader(r.lengthDelimitedView(), r.what);
    while (!packed.done()) into.push(packed.uint64(field));
    return;
  }
  r.expect(VARINT, wireType, field);
  into.push(r.uint64(field));
}

// --- Entry ---

function writeEntry(w: ByteWriter, entry: Entry): void {
  writeVarintField(w, 1, entry.type);
  writeVarintField(w, 2, entry.term);
  writeVarintField(w, 3, entry.index);
  if (entry.data.length > 0) writeBytesField(w, 4, entry.data);
}

export const encodeEntry = (entry: Entry): Uint8Array => {
  const w = new ByteWriter();
  writeEntry(w, entry);
  return w.finish();
};

export function decodeEntry(bytes: Uint8Array): Entry {
  const r = new ByteReader(bytes, 'Entry');
  const entry = newEntry({});
  while (!r.done()) {
    const { field, wireType } = r.tag();
    switch (field) {
      case 1:
        r.expect(VARINT, wireType, 'Type');
        entry.type = r.enumValue('Type');
        break;
      case 2:
        r.expect(VARINT, wireType, 'Term');
        entry.term = r.uint64('Term');
        break;
      case 3:
        r.expect(VARINT, wireType, 'Index');
        entry.index = r.uint64('Index');
        break;
      case 4:
        r.expect(LENGTH_DELIMITED, wireType, 'Data');
        entry.data = r.lengthDelimited();
        break;
      default:
        r.skip(wireType);
    }
  }
  return entry;
}

// --- ConfState, SnapshotMetadata, Snapshot ---

function writeConfState(w: ByteWriter, cs: ConfState): void {
  for (const id of cs.voters) writeVarintField(w, 1, id);
  for (const id of cs.learners) writeVarintField(w, 2, id);
  for (const id of cs.votersOutgoing) writeVarintField(w, 3, id);
  for (const id of cs.learnersNext) writeVarintField(w, 4, id);
  writeVarintField(w, 5, cs.autoLeave ? 1 : 0);
}

export const encodeConfState = (cs: ConfState): Uint8Array => {
  const w = new ByteWriter();
  writeConfState(w, cs);
  return w.finish();
};

export function decodeConfState(bytes: Uint8Array): ConfState {
  const r = new ByteReader(bytes, 'ConfState');
  const cs = emptyConfState();
  while (!r.done()) {
    const { field, wireType } = r.tag();
    switch (field) {
      case 1:
        readRepeatedUint64(r, wireType, 'Voters', cs.voters);
        break;
      case 2:
        readRepeatedUint64(r, wireType, 'Learners', cs.learners);
        break;
      case 3:
        readRepeatedUint64(r, wireType, 'VotersOutgoing', cs.votersOutgoing);
        break;
      case 4:
        readRepeatedUint64(r, wireType, 'LearnersNext', cs.learnersNext);
        break;
      case 5:
        r.expect(VARINT, wireType, 'AutoLeave');
        cs.autoLeave = r.bool('AutoLeave');
        break;
      default:
        r.skip(wireType);
    }
  }
  return cs;
}

function writeNested(w: ByteWriter, field: number, write: (inner: ByteWriter) => void): void {
  w.tag(field, LENGTH_DELIMITED);
  w.nested(() => write(w));
}

function writeSnapshotMetadata(w: ByteWriter, metadata: SnapshotMetadata): void {
  writeNested(w, 1, (inner) => writeConfState(inner, metadata.confState));
  writeVarintField(w, 2, metadata.index);
  writeVarintField(w, 3, metadata.term);
}

function decodeSnapshotMetadata(bytes: Uint8Array): SnapshotMetadata {
  const r = new ByteReader(bytes, 'SnapshotMetadata');
  const metadata: SnapshotMetadata = { confState: emptyConfState(), index: 0, term: 0 };
  while (!r.done()) {
    const { field, wireType } = r.tag();
    switch (field) {
      case 1:
        r.expect(LENGTH_DELIMITED, wireType, 'ConfState');
        metadata.confState = decodeConfState(r.lengthDelimitedView());
        break;
      case 2:
        r.expect(VARINT, wireType, 'Index');
        metadata.index = r.uint64('Index');
        break;
      case 3:
        r.expect(VARINT, wireType, 'Term');
        metadata.term = r.uint64('Term');
        break;
      default:
        r.skip(wireType);
    }
  }
  return metadata;
}

function writeSnapshot(w: ByteWriter, snapshot: Snapshot): void {
  if (snapshot.data.length > 0) writeBytesField(w, 1, snapshot.data);
  writeNested(w, 2, (inner) => writeSnapshotMetadata(inner, snapshot.metadata));
}

export const encodeSnapshot = (snapshot: Snapshot): Uint8Array => {
  const w = new ByteWriter();
  writeSnapshot(w, snapshot);
  return w.finish();
};

export function decodeSnapshot(bytes: Uint8Array): Snapshot {
  const r = new ByteReader(bytes, 'Snapshot');
  const snapshot: Snapshot = {
    data: new Uint8Array(0),
    metadata: { confState: emptyConfState(), index: 0, term: 0 },
  };
  while (!r.done()) {
    const { field, wireType } = r.tag();
    switch (field) {
      case 1:
        r.expect(LENGTH_DELIMITED, wireType, 'Data');
        snapshot.data = r.lengthDelimited();
        break;
      case 2:
        r.expect(LENGTH_DELIMITED, wireType, 'Metadata');
        snapshot.metadata = decodeSnapshotMetadata(r.lengthDelimitedView());
        break;
      default:
        r.skip(wireType);
    }
  }
  return snapshot;
}

// --- Message ---

// gogoproto's Message marshalling: snapshot is non-nullable, so a message without one still
// carries an empty Snapshot submessage (`4a 0a 12 08 0a 02 28 00 10 00 18 00`).
const EMPTY_SNAPSHOT: Snapshot = {
  data: new Uint8Array(0),
  metadata: { confState: emptyConfState(), index: 0, term: 0 },
};

export function encodeMessage(m: Message): Uint8Array {
  const w = new ByteWriter();
  writeVarintField(w, 1, m.type);
  writeVarintField(w, 2, m.to);
  writeVarintField(w, 3, m.from);
  writeVarintField(w, 4, m.term);
  writeVarintField(w, 5, m.logTerm);
  writeVarintField(w, 6, m.index);
  for (const entry of m.entries) writeNested(w, 7, (inner) => writeEntry(inner, entry));
  writeVarintField(w, 8, m.commit);
  writeNested(w, 9, (inner) => writeSnapshot(inner, m.snapshot ?? EMPTY_SNAPSHOT));
  writeVarintField(w, 10, m.reject ? 1 : 0);
  writeVarintField(w, 11, m.rejectHint);
  if (m.context !== undefined) writeBytesField(w, 12, m.context);
  return w.finish();
}

// Decodes a Message. An empty snapshot submessage (index 0) decodes to snapshot undefined, the
// form the Raft core uses for "no snapshot".
export function decodeMessage(bytes: Uint8Array): Message {
  const r = new ByteReader(bytes, 'Message');
  const m = newMessage({ type: 0 });
  while (!r.done()) {
    const { field, wireType } = r.tag();
    switch (field) {
      case 1:
        r.expect(VARINT, wireType, 'Type');
        m.type = r.enumValue('Type');
        break;
      case 2:
        r.expect(VARINT, wireType, 'To');
        m.to = r.uint64('To');
        break;
      case 3:
        r.expect(VARINT, wireType, 'From');
        m.from = r.uint64('From');
        break;
      case 4:
        r.expect(VARINT, wireType, 'Term');
        m.term = r.uint64('Term');
        break;
      case 5:
        r.expect(VARINT, wireType, 'LogTerm');
        m.logTerm = r.uint64('LogTerm');
        break;
      case 6:
        r.expect(VARINT, wireType, 'Index');
        m.index = r.uint64('Index');
        break;
      case 7:
        r.expect(LENGTH_DELIMITED, wireType, 'Entries');
        m.entries.push(decodeEntry(r.lengthDelimitedView()));
        break;
      case 8:
        r.expect(VARINT, wireType, 'Commit');
        m.commit = r.uint64('Commit');
        break;
      case 9: {
        r.expect(LENGTH_DELIMITED, wireType, 'Snapshot');
        const snapshot = decodeSnapshot(r.lengthDelimitedView());
        m.snapshot = snapshot.metadata.index === 0 && snapshot.data.length === 0 ? undefined : snapshot;
        break;
      }
      case 10:
        r.expect(VARINT, wireType, 'Reject');
        m.reject = r.bool('Reject');
        break;
      case 11:
        r.expect(VARINT, wireType, 'RejectHint');
        m.rejectHint = r.uint64('RejectHint');
        break;
      case 12:
        r.expect(LENGTH_DELIMITED, wireType, 'Context');
        m.context = r.lengthDelimited();
        break;
      default:
        r.skip(wireType);
    }
  }
  return m;
}

// --- HardState ---

export function encodeHardState(state: HardState): Uint8Array {
  const w = new ByteWriter();
  writeVarintField(w, 1, state.term);
  writeVarintField(w, 2, state.vote);
  writeVarintField(w, 3, state.commit);
  return w.finish();
}

export function decodeHardState(bytes: Uint8Array): HardState {
  const r = new ByteReader(bytes, 'HardState');
  const state: HardState = { term: 0, vote: 0, commit: 0 };
  while (!r.done()) {
    const { field, wireType } = r.tag();
    if (field >= 1 && field <= 3) r.expect(VARINT, wireType, ['Term', 'Vote', 'Commit'][field - 1] as string);
    switch (field) {
      case 1:
        state.term = r.uint64('Term');
        break;
      case 2:
        state.vote = r.uint64('Vote');
        break;
      case 3:
        state.commit = r.uint64('Commit');
        break;
      default:
        r.skip(wireType);
    }
  }
  return state;
}

// --- ConfChange (v1) ---

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const w = new ByteWriter();
  writeVarintField(w, 1, cc.id);
  writeVarintField(w, 2, cc.type);
  writeVarintField(w, 3, cc.nodeId);
  if (cc.context !== undefined) writeBytesField(w, 4, cc.context);
  return w.finish();
}

export function decodeConfChange(bytes: Uint8Array): ConfChange {
  const r = new ByteReader(bytes, 'ConfChange');
  const cc: ConfChange = { id: 0, type: 0, nodeId: 0, context: undefined };
  while (!r.done()) {
    const { field, wireType } = r.tag();
    switch (field) {
      case 1:
        r.expect(VARINT, wireType, 'ID');
        cc.id = r.uint64('ID');
        break;
      case 2:
        r.expect(VARINT, wireType, 'Type');
        cc.type = r.enumValue('Type');
        break;
      case 3:
        r.expect(VARINT, wireType, 'NodeID');
        cc.nodeId = r.uint64('NodeID');
        break;
      case 4:
        r.expect(LENGTH_DELIMITED, wireType, 'Context');
        cc.context = r.lengthDelimited();
        break;
      default:
        r.skip(wireType);
    }
  }
  return cc;
}

// --- ConfChangeV2 ---

function writeConfChangeSingle(w: ByteWriter, cc: ConfChangeSingle): void {
  writeVarintField(w, 1, cc.type);
  writeVarintField(w, 2, cc.nodeId);
}

function decodeConfChangeSingle(bytes: Uint8Array): ConfChangeSingle {
  const r = new ByteReader(bytes, 'ConfChangeSingle');
  const cc: ConfChangeSingle = { type: 0, nodeId: 0 };
  while (!r.done()) {
    const { field, wireType } = r.tag();
    switch (field) {
      case 1:
        r.expect(VARINT, wireType, 'Type');
        cc.type = r.enumValue('Type');
        break;
      case 2:
        r.expect(VARINT, wireType, 'NodeID');
        cc.nodeId = r.uint64('NodeID');
        break;
      default:
        r.skip(wireType);
    }
  }
  return cc;
}

export function encodeConfChangeV2(cc: ConfChangeV2): Uint8Array {
  const w = new ByteWriter();
  writeVarintField(w, 1, cc.transition);
  for (const change of cc.changes) writeNested(w, 2, (inner) => writeConfChangeSingle(inner, change));
  if (cc.context !== undefined) writeBytesField(w, 3, cc.context);
  return w.finish();
}

export function decodeConfChangeV2(bytes: Uint8Array): ConfChangeV2 {
  const r = new ByteReader(bytes, 'ConfChangeV2');
  const cc: ConfChangeV2 = { transition: 0, changes: [], context: undefined };
  while (!r.done()) {
    const { field, wireType } = r.tag();
    switch (field) {
      case 1:
        r.expect(VARINT, wireType, 'Transition');
        cc.transition = r.enumValue('Transition');
        break;
      case 2:
        r.expect(LENGTH_DELIMITED, wireType, 'Changes');
        cc.changes.push(decodeConfChangeSingle(r.lengthDelimitedView()));
        break;
      case 3:
        r.expect(LENGTH_DELIMITED, wireType, 'Context');
        cc.context = r.lengthDelimited();
        break;
      default:
        r.skip(wireType);
    }
  }
  return cc;
}
