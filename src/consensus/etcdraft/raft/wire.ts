// raftpb (etcd raft v3.5.9 raftpb/raft.proto) over the protobufjs code that scripts/build-protos.mjs
// generates from etcd's own raft.proto (namespace `raftpb` in src/protos/generated/fabric.js),
// encoded as gogoproto does so that etcd decodes our messages and we produce the bytes it
// produces. The generated encoders write fields in ascending number order and a field only when
// it is set on the object, repeated uint64 unpacked (proto2 without [packed=true]); so this layer
// always sets every non-nullable field, even when zero (gogoproto's `nullable = false` writes
// them), and leaves the nullable bytes (Entry.Data, Snapshot.data, Message.context,
// ConfChange.context, ConfChangeV2.context) unset when absent. An empty Entry/Snapshot data array
// stands for Go's nil; an undefined context for a nil one.
// Decoding accepts any field order, packed or unpacked repeated fields and skips unknown fields; a
// known field with the wrong wire type is refused, an enum value the proto does not name is kept as
// read, and a uint64 above Number.MAX_SAFE_INTEGER is refused with RaftError('wire-uint64-overflow').
import $protobuf from 'protobufjs/minimal.js';
import { raftpb } from '../../../protos/generated/fabric.js';
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

type Long = ReturnType<$protobuf.Reader['uint64']>;

// Plain protobufjs Reader/Writer instances, not subclasses: overriding their methods made the
// generated code's call sites polymorphic and small messages 3-5x slower to code. So checks are
// done here, around the generated code, instead of inside the reader and writer.

/** A uint64 to encode: protobufjs would silently write a rounded or negative number. */
function safe(value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RaftError(
      'wire-uint64-overflow',
      `cannot encode ${String(value)} as a uint64: not a safe non-negative integer`,
      { value },
    );
  }
  return value;
}

/**
 * An enum value to encode. The Raft core only produces named, non-negative ones; anything else is
 * refused rather than written as a 10-byte negative varint that etcd would read as something else.
 */
const safeEnum = (value: number): number => safe(value);

const overflowOnRead = (what: string, field: string) =>
  new RaftError(
    'wire-uint64-overflow',
    `raftpb.${what}.${field} is above 2^53-1, the largest value this orderer handles exactly; refusing it rather than rounding`,
    { message: what, field },
  );

/**
 * A decoded uint64 (a Long, as protobufjs has the long package) as an exact number. An absent
 * field reads the generated prototype's default, a Long zero.
 */
function u64(value: number | Long | null | undefined, what: string, field: string): number {
  if (value == null) return 0;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw overflowOnRead(what, field);
    return value;
  }
  const high = value.high >>> 0;
  if (high > 0x1fffff) throw overflowOnRead(what, field);
  return high * 4294967296 + (value.low >>> 0);
}

function u64s(values: (number | Long)[] | null | undefined, what: string, field: string): number[] {
  if (values == null) return [];
  return values.map((v) => u64(v, what, field));
}

/**
 * A bytes field: undefined when absent (the prototype default is not a value that was sent), else
 * a copy as a plain Uint8Array, as protobufjs returns a view into the buffer read and the value
 * may outlive it.
 */
const ownBytes = (obj: object, key: string): Uint8Array | undefined =>
  Object.prototype.hasOwnProperty.call(obj, key)
    ? new Uint8Array((obj as Record<string, Uint8Array>)[key] as Uint8Array)
    : undefined;

// Per message: known fields by number, with name, wire type, and whether it is an enum.
type FieldTable = Record<number, readonly [name: string, wireType: number, isEnum?: boolean]>;

/**
 * The generated decoders put what they do not take into `$unknowns`: unknown fields (skipped, as
 * gogoproto does), but also a known field with the wrong wire type (gogoproto refuses it, and so
 * do we) and an enum value the proto does not name (Go keeps any int32; we keep a non-negative one
 * and return it so it is not silently read as the zero value).
 */
function checkUnknowns(decoded: object, what: string, fields: FieldTable): Map<string, number> | undefined {
  const unknowns = (decoded as { $unknowns?: Uint8Array[] }).$unknowns;
  if (unknowns === undefined) return undefined;
  let enums: Map<string, number> | undefined;
  for (const raw of unknowns) {
    const r = new $protobuf.Reader(raw);
    const tag = r.uint32();
    const known = fields[tag >>> 3];
    if (known === undefined) continue;
    const [name, wireType, isEnum] = known;
    if ((tag & 7) !== wireType) {
      throw decodeError(what, `field ${name} has wire type ${tag & 7}, want ${wireType}`);
    }
    if (isEnum) {
      const value = r.uint64();
      if (value.high !== 0 || value.low < 0) throw decodeError(what, `${name} is not a known enum value`);
      (enums ??= new Map()).set(name, value.low);
    }
  }
  return enums;
}

function decodeError(what: string, problem: string, offset?: number): RaftError {
  return new RaftError(
    'wire-decode',
    `cannot decode raftpb.${what}: ${problem}${offset === undefined ? '' : ` (at byte ${offset})`}`,
    offset === undefined ? { message: what } : { message: what, offset },
  );
}

/** Runs a generated decoder, turning protobufjs's plain errors into wire-decode naming the message. */
function decodeWith<T>(what: string, bytes: Uint8Array, decode: (r: $protobuf.Reader) => T): T {
  // A plain Reader even for a Buffer (Reader.create would pick BufferReader): bytes fields are
  // copied into plain Uint8Arrays either way.
  const reader = new $protobuf.Reader(bytes);
  // Unknown fields are kept for checkUnknowns (protobufjs drops them by default).
  reader.discardUnknown = false;
  try {
    return decode(reader);
  } catch (err) {
    if (err instanceof RaftError) throw err;
    throw decodeError(what, err instanceof Error ? err.message : String(err), reader.pos);
  }
}

function encodeWith(write: (w: $protobuf.Writer) => void): Uint8Array {
  // A plain Writer (Writer.create would give a BufferWriter and a Buffer).
  const w = new $protobuf.Writer();
  write(w);
  const bytes = w.finish();
  // protobufjs hands out small results as slices of a shared 8 KiB slab; encoded entries are kept
  // in the log and in storage, so a result owns its memory rather than pinning a slab.
  return bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length ? bytes : bytes.slice();
}

const VARINT = 0;
const LENGTH_DELIMITED = 2;

// --- Entry ---

const ENTRY_FIELDS: FieldTable = {
  1: ['Type', VARINT, true],
  2: ['Term', VARINT],
  3: ['Index', VARINT],
  4: ['Data', LENGTH_DELIMITED],
};

const toPbEntry = (entry: Entry): raftpb.Entry.$Properties => ({
  Type: safeEnum(entry.type),
  Term: safe(entry.term),
  Index: safe(entry.index),
  Data: entry.data.length > 0 ? entry.data : undefined,
});

function fromPbEntry(pb: raftpb.Entry.$Properties): Entry {
  const enums = checkUnknowns(pb, 'Entry', ENTRY_FIELDS);
  return newEntry({
    type: enums?.get('Type') ?? pb.Type ?? 0,
    term: u64(pb.Term, 'Entry', 'Term'),
    index: u64(pb.Index, 'Entry', 'Index'),
    data: ownBytes(pb, 'Data') ?? new Uint8Array(0),
  });
}

export const encodeEntry = (entry: Entry): Uint8Array =>
  encodeWith((w) => raftpb.Entry.encode(toPbEntry(entry), w));

export const decodeEntry = (bytes: Uint8Array): Entry =>
  decodeWith('Entry', bytes, (r) => fromPbEntry(raftpb.Entry.decode(r)));

// --- ConfState, SnapshotMetadata, Snapshot ---

const CONF_STATE_FIELDS: FieldTable = {
  // Repeated uint64 fields come either packed or not, so no wire type is wrong for them here.
  5: ['AutoLeave', VARINT],
};

const toPbConfState = (cs: ConfState): raftpb.ConfState.$Properties => ({
  voters: cs.voters.map(safe),
  learners: cs.learners.map(safe),
  votersOutgoing: cs.votersOutgoing.map(safe),
  learnersNext: cs.learnersNext.map(safe),
  autoLeave: cs.autoLeave,
});

function fromPbConfState(pb: raftpb.ConfState.$Properties | null | undefined): ConfState {
  if (pb == null) return emptyConfState();
  checkUnknowns(pb, 'ConfState', CONF_STATE_FIELDS);
  return {
    voters: u64s(pb.voters, 'ConfState', 'Voters'),
    learners: u64s(pb.learners, 'ConfState', 'Learners'),
    votersOutgoing: u64s(pb.votersOutgoing, 'ConfState', 'VotersOutgoing'),
    learnersNext: u64s(pb.learnersNext, 'ConfState', 'LearnersNext'),
    autoLeave: pb.autoLeave === true,
  };
}

export const encodeConfState = (cs: ConfState): Uint8Array =>
  encodeWith((w) => raftpb.ConfState.encode(toPbConfState(cs), w));

export const decodeConfState = (bytes: Uint8Array): ConfState =>
  decodeWith('ConfState', bytes, (r) => fromPbConfState(raftpb.ConfState.decode(r)));

const SNAPSHOT_METADATA_FIELDS: FieldTable = {
  1: ['ConfState', LENGTH_DELIMITED],
  2: ['Index', VARINT],
  3: ['Term', VARINT],
};

const SNAPSHOT_FIELDS: FieldTable = {
  1: ['Data', LENGTH_DELIMITED],
  2: ['Metadata', LENGTH_DELIMITED],
};

const toPbSnapshot = (snapshot: Snapshot): raftpb.Snapshot.$Properties => ({
  data: snapshot.data.length > 0 ? snapshot.data : undefined,
  metadata: {
    confState: toPbConfState(snapshot.metadata.confState),
    index: safe(snapshot.metadata.index),
    term: safe(snapshot.metadata.term),
  },
});

function fromPbSnapshotMetadata(
  pb: raftpb.SnapshotMetadata.$Properties | null | undefined,
): SnapshotMetadata {
  if (pb == null) return { confState: emptyConfState(), index: 0, term: 0 };
  checkUnknowns(pb, 'SnapshotMetadata', SNAPSHOT_METADATA_FIELDS);
  return {
    confState: fromPbConfState(pb.confState),
    index: u64(pb.index, 'SnapshotMetadata', 'Index'),
    term: u64(pb.term, 'SnapshotMetadata', 'Term'),
  };
}

function fromPbSnapshot(pb: raftpb.Snapshot.$Properties): Snapshot {
  checkUnknowns(pb, 'Snapshot', SNAPSHOT_FIELDS);
  return {
    data: ownBytes(pb, 'data') ?? new Uint8Array(0),
    metadata: fromPbSnapshotMetadata(pb.metadata),
  };
}

export const encodeSnapshot = (snapshot: Snapshot): Uint8Array =>
  encodeWith((w) => raftpb.Snapshot.encode(toPbSnapshot(snapshot), w));

export const decodeSnapshot = (bytes: Uint8Array): Snapshot =>
  decodeWith('Snapshot', bytes, (r) => fromPbSnapshot(raftpb.Snapshot.decode(r)));

// --- Message ---

// gogoproto's Message marshalling: snapshot is non-nullable, so a message without one still
// carries an empty Snapshot submessage (`4a 0a 12 08 0a 02 28 00 10 00 18 00`).
const EMPTY_SNAPSHOT: Snapshot = {
  data: new Uint8Array(0),
  metadata: { confState: emptyConfState(), index: 0, term: 0 },
};

// Only read by the generated encoder, so one shared instance is safe.
const EMPTY_PB_SNAPSHOT = toPbSnapshot(EMPTY_SNAPSHOT);

const MESSAGE_FIELDS: FieldTable = {
  1: ['Type', VARINT, true],
  2: ['To', VARINT],
  3: ['From', VARINT],
  4: ['Term', VARINT],
  5: ['LogTerm', VARINT],
  6: ['Index', VARINT],
  7: ['Entries', LENGTH_DELIMITED],
  8: ['Commit', VARINT],
  9: ['Snapshot', LENGTH_DELIMITED],
  10: ['Reject', VARINT],
  11: ['RejectHint', VARINT],
  12: ['Context', LENGTH_DELIMITED],
};

export function encodeMessage(m: Message): Uint8Array {
  const pb: raftpb.Message.$Properties = {
    type: safeEnum(m.type),
    to: safe(m.to),
    from: safe(m.from),
    term: safe(m.term),
    logTerm: safe(m.logTerm),
    index: safe(m.index),
    entries: m.entries.map(toPbEntry),
    commit: safe(m.commit),
    snapshot: m.snapshot === undefined ? EMPTY_PB_SNAPSHOT : toPbSnapshot(m.snapshot),
    reject: m.reject,
    rejectHint: safe(m.rejectHint),
    context: m.context,
  };
  return encodeWith((w) => raftpb.Message.encode(pb, w));
}

// Decodes a Message. An empty snapshot submessage (index 0) decodes to snapshot undefined, the
// form the Raft core uses for "no snapshot".
export const decodeMessage = (bytes: Uint8Array): Message =>
  decodeWith('Message', bytes, (r) => {
    const pb = raftpb.Message.decode(r);
    const enums = checkUnknowns(pb, 'Message', MESSAGE_FIELDS);
    const m = newMessage({ type: enums?.get('Type') ?? pb.type });
    m.to = u64(pb.to, 'Message', 'To');
    m.from = u64(pb.from, 'Message', 'From');
    m.term = u64(pb.term, 'Message', 'Term');
    m.logTerm = u64(pb.logTerm, 'Message', 'LogTerm');
    m.index = u64(pb.index, 'Message', 'Index');
    m.entries = pb.entries.map(fromPbEntry);
    m.commit = u64(pb.commit, 'Message', 'Commit');
    if (pb.snapshot != null) {
      const snapshot = fromPbSnapshot(pb.snapshot);
      m.snapshot = snapshot.metadata.index === 0 && snapshot.data.length === 0 ? undefined : snapshot;
    }
    m.reject = pb.reject === true;
    m.rejectHint = u64(pb.rejectHint, 'Message', 'RejectHint');
    m.context = ownBytes(pb, 'context');
    return m;
  });

// --- HardState ---

const HARD_STATE_FIELDS: FieldTable = { 1: ['Term', VARINT], 2: ['Vote', VARINT], 3: ['Commit', VARINT] };

export const encodeHardState = (state: HardState): Uint8Array =>
  encodeWith((w) =>
    raftpb.HardState.encode(
      { term: safe(state.term), vote: safe(state.vote), commit: safe(state.commit) },
      w,
    ),
  );

export const decodeHardState = (bytes: Uint8Array): HardState =>
  decodeWith('HardState', bytes, (r) => {
    const pb = raftpb.HardState.decode(r);
    checkUnknowns(pb, 'HardState', HARD_STATE_FIELDS);
    return {
      term: u64(pb.term, 'HardState', 'Term'),
      vote: u64(pb.vote, 'HardState', 'Vote'),
      commit: u64(pb.commit, 'HardState', 'Commit'),
    };
  });

// --- ConfChange (v1) ---

const CONF_CHANGE_FIELDS: FieldTable = {
  1: ['ID', VARINT],
  2: ['Type', VARINT, true],
  3: ['NodeID', VARINT],
  4: ['Context', LENGTH_DELIMITED],
};

export const encodeConfChange = (cc: ConfChange): Uint8Array =>
  encodeWith((w) =>
    raftpb.ConfChange.encode(
      { id: safe(cc.id), type: safeEnum(cc.type), nodeId: safe(cc.nodeId), context: cc.context },
      w,
    ),
  );

export const decodeConfChange = (bytes: Uint8Array): ConfChange =>
  decodeWith('ConfChange', bytes, (r) => {
    const pb = raftpb.ConfChange.decode(r);
    const enums = checkUnknowns(pb, 'ConfChange', CONF_CHANGE_FIELDS);
    return {
      id: u64(pb.id, 'ConfChange', 'ID'),
      type: enums?.get('Type') ?? pb.type,
      nodeId: u64(pb.nodeId, 'ConfChange', 'NodeID'),
      context: ownBytes(pb, 'context'),
    };
  });

// --- ConfChangeV2 ---

const CONF_CHANGE_SINGLE_FIELDS: FieldTable = { 1: ['Type', VARINT, true], 2: ['NodeID', VARINT] };

const CONF_CHANGE_V2_FIELDS: FieldTable = {
  1: ['Transition', VARINT, true],
  2: ['Changes', LENGTH_DELIMITED],
  3: ['Context', LENGTH_DELIMITED],
};

function fromPbConfChangeSingle(pb: raftpb.ConfChangeSingle.$Properties): ConfChangeSingle {
  const enums = checkUnknowns(pb, 'ConfChangeSingle', CONF_CHANGE_SINGLE_FIELDS);
  return { type: enums?.get('Type') ?? pb.type ?? 0, nodeId: u64(pb.nodeId, 'ConfChangeSingle', 'NodeID') };
}

export const encodeConfChangeV2 = (cc: ConfChangeV2): Uint8Array =>
  encodeWith((w) =>
    raftpb.ConfChangeV2.encode(
      {
        transition: safeEnum(cc.transition),
        changes: cc.changes.map((c) => ({ type: safeEnum(c.type), nodeId: safe(c.nodeId) })),
        context: cc.context,
      },
      w,
    ),
  );

export const decodeConfChangeV2 = (bytes: Uint8Array): ConfChangeV2 =>
  decodeWith('ConfChangeV2', bytes, (r) => {
    const pb = raftpb.ConfChangeV2.decode(r);
    const enums = checkUnknowns(pb, 'ConfChangeV2', CONF_CHANGE_V2_FIELDS);
    return {
      transition: enums?.get('Transition') ?? pb.transition,
      changes: pb.changes.map(fromPbConfChangeSingle),
      context: ownBytes(pb, 'context'),
    };
  });
