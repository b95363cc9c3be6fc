// etcd raft v3.5.9 util.go's Describe* functions and raftpb.ConfChangesToString: the text the
// interaction scripts (testdata/*.txt) and logs show for states, entries, messages and Readys.
import type { Ready } from './rawnode.js';
import type { SoftState } from './raft.js';
import { stateTypeName } from './raft.js';
import type {
  ConfChange,
  ConfChangeSingle,
  ConfChangeV2,
  ConfState,
  Entry,
  HardState,
  Message,
  Snapshot,
} from './types.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  MessageType,
  isEmptyHardState,
  isEmptySnap,
} from './types.js';

export type EntryFormatter = (data: Uint8Array) => string;

// Go's %q of a byte slice for printable ASCII, control characters and other single bytes.
// Multi-byte UTF-8 is written as \x escapes, where Go would print the runes.
export function goQuote(data: Uint8Array): string {
  let out = '"';
  for (const b of data) {
    if (b === 0x22) out += '\\"';
    else if (b === 0x5c) out += '\\\\';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else if (b === 0x07) out += '\\a';
    else if (b === 0x08) out += '\\b';
    else if (b === 0x0c) out += '\\f';
    else if (b === 0x0a) out += '\\n';
    else if (b === 0x0d) out += '\\r';
    else if (b === 0x09) out += '\\t';
    else if (b === 0x0b) out += '\\v';
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return `${out}"`;
}

export function confChangesToString(ccs: ConfChangeSingle[]): string {
  const letter: Record<number, string> = {
    [ConfChangeType.AddNode]: 'v',
    [ConfChangeType.AddLearnerNode]: 'l',
    [ConfChangeType.RemoveNode]: 'r',
    [ConfChangeType.UpdateNode]: 'u',
  };
  return ccs.map((cc) => `${letter[cc.type] ?? 'unknown'}${cc.nodeId}`).join(' ');
}

const confChangeTypeName = (t: ConfChangeType): string =>
  ConfChangeType[t] === undefined ? String(t) : `ConfChange${ConfChangeType[t]}`;

const confChangeTransitionName = (t: ConfChangeTransition): string =>
  ConfChangeTransition[t] === undefined ? String(t) : `ConfChangeTransition${ConfChangeTransition[t]}`;

// Go's %v of a []byte: the bytes in decimal; a nil slice (undefined here) prints as [].
const goBytes = (b: Uint8Array | undefined): string => `[${b === undefined ? '' : [...b].join(' ')}]`;

// Go's %v of a raftpb.ConfChange or ConfChangeV2 value (a plain struct, fields in declaration
// order, enums by name), as raft's "ignoring conf change" log line prints it.
export function goFormatConfChange(cc: ConfChange | ConfChangeV2): string {
  if ('changes' in cc) {
    const changes = cc.changes.map((c) => `{${confChangeTypeName(c.type)} ${c.nodeId}}`).join(' ');
    return `{${confChangeTransitionName(cc.transition)} [${changes}] ${goBytes(cc.context)}}`;
  }
  return `{${confChangeTypeName(cc.type)} ${cc.nodeId} ${goBytes(cc.context)} ${cc.id}}`;
}

// The changes of an encoded ConfChange (v1: type field 2, node_id field 3) or ConfChangeV2
// (changes field 2, each with type field 1 and node_id field 2).
function decodeChanges(data: Uint8Array, v2: boolean): ConfChangeSingle[] {
  const fields = (buf: Uint8Array): Array<[number, number | Uint8Array]> => {
    const out: Array<[number, number | Uint8Array]> = [];
    let pos = 0;
    const varint = (): number => {
      let v = 0;
      let mul = 1;
      for (;;) {
        if (pos >= buf.length) throw new Error('unexpected EOF');
        const b = buf[pos++] as number;
        v += (b & 0x7f) * mul;
        if ((b & 0x80) === 0) return v;
        mul *= 128;
      }
    };
    while (pos < buf.length) {
      const key = varint();
      const field = Math.floor(key / 8);
      if ((key & 7) === 0) out.push([field, varint()]);
      else if ((key & 7) === 2) {
        const len = varint();
        if (pos + len > buf.length) throw new Error('unexpected EOF');
        out.push([field, buf.subarray(pos, pos + len)]);
        pos += len;
      } else throw new Error(`proto: illegal wireType ${key & 7}`);
    }
    return out;
  };
  if (!v2) {
    const cc: ConfChangeSingle = { type: ConfChangeType.AddNode, nodeId: 0 };
    for (const [f, v] of fields(data)) {
      if (f === 2 && typeof v === 'number') cc.type = v;
      if (f === 3 && typeof v === 'number') cc.nodeId = v;
    }
    return [cc];
  }
  const changes: ConfChangeSingle[] = [];
  for (const [f, v] of fields(data)) {
    if (f !== 2 || typeof v === 'number') continue;
    const cc: ConfChangeSingle = { type: ConfChangeType.AddNode, nodeId: 0 };
    for (const [g, w] of fields(v)) {
      if (g === 1 && typeof w === 'number') cc.type = w;
      if (g === 2 && typeof w === 'number') cc.nodeId = w;
    }
    changes.push(cc);
  }
  return changes;
}

const entryTypeName = (t: EntryType): string =>
  t === EntryType.Normal
    ? 'EntryNormal'
    : t === EntryType.ConfChange
      ? 'EntryConfChange'
      : t === EntryType.ConfChangeV2
        ? 'EntryConfChangeV2'
        : String(t);

const goSlice = (ids: number[]): string => `[${ids.join(' ')}]`;

export function describeHardState(hs: HardState): string {
  let buf = `Term:${hs.term}`;
  if (hs.vote !== 0) buf += ` Vote:${hs.vote}`;
  return `${buf} Commit:${hs.commit}`;
}

export const describeSoftState = (ss: SoftState): string =>
  `Lead:${ss.lead} State:${stateTypeName(ss.raftState)}`;

export const describeConfState = (s: ConfState): string =>
  `Voters:${goSlice(s.voters)} VotersOutgoing:${goSlice(s.votersOutgoing)} Learners:${goSlice(s.learners)} LearnersNext:${goSlice(s.learnersNext)} AutoLeave:${String(s.autoLeave)}`;

export const describeSnapshot = (snap: Snapshot): string =>
  `Index:${snap.metadata.index} Term:${snap.metadata.term} ConfState:${describeConfState(snap.metadata.confState)}`;

export function describeEntry(e: Entry, f: EntryFormatter = goQuote): string {
  let formatted = '';
  try {
    if (e.type === EntryType.Normal) formatted = f(e.data);
    else if (e.type === EntryType.ConfChange) formatted = confChangesToString(decodeChanges(e.data, false));
    else if (e.type === EntryType.ConfChangeV2) formatted = confChangesToString(decodeChanges(e.data, true));
  } catch (err) {
    formatted = err instanceof Error ? err.message : String(err);
  }
  if (formatted !== '') formatted = ` ${formatted}`;
  return `${e.term}/${e.index} ${entryTypeName(e.type)}${formatted}`;
}

export const describeEntries = (ents: Entry[], f?: EntryFormatter): string =>
  ents.map((e) => `${describeEntry(e, f)}\n`).join('');

export function describeMessage(m: Message, f?: EntryFormatter): string {
  let buf = `${m.from.toString(16)}->${m.to.toString(16)} ${MessageType[m.type]} Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) buf += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.commit !== 0) buf += ` Commit:${m.commit}`;
  if (m.entries.length > 0) buf += ` Entries:[${m.entries.map((e) => describeEntry(e, f)).join(', ')}]`;
  if (!isEmptySnap(m.snapshot) && m.snapshot !== undefined)
    buf += ` Snapshot: ${describeSnapshot(m.snapshot)}`;
  return buf;
}

export function describeReady(rd: Ready, f?: EntryFormatter): string {
  let buf = '';
  if (rd.softState !== undefined) buf += `${describeSoftState(rd.softState)}\n`;
  if (!isEmptyHardState(rd.hardState)) buf += `HardState ${describeHardState(rd.hardState)}\n`;
  if (rd.readStates.length > 0) {
    buf += `ReadStates [${rd.readStates.map((rs) => `{${rs.index} [${[...rs.requestCtx].join(' ')}]}`).join(' ')}]\n`;
  }
  if (rd.entries.length > 0) buf += `Entries:\n${describeEntries(rd.entries, f)}`;
  if (!isEmptySnap(rd.snapshot)) buf += `Snapshot ${describeSnapshot(rd.snapshot)}\n`;
  if (rd.committedEntries.length > 0) buf += `CommittedEntries:\n${describeEntries(rd.committedEntries, f)}`;
  if (rd.messages.length > 0)
    buf += `Messages:\n${rd.messages.map((m) => `${describeMessage(m, f)}\n`).join('')}`;
  if (buf.length > 0) return `Ready MustSync=${String(rd.mustSync)}:\n${buf}`;
  return '<empty Ready>';
}
