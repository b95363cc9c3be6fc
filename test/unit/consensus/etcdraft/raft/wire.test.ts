// raftpb encoding against bytes Fabric's Go orderer (gogoproto, etcd raft v3.5.9) produced.
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { RaftError } from '../../../../../src/consensus/etcdraft/raft/errors.js';
import {
  decodeConfChange,
  decodeConfChangeV2,
  decodeConfState,
  decodeEntry,
  decodeHardState,
  decodeMessage,
  decodeSnapshot,
  encodeConfChange,
  encodeConfChangeV2,
  encodeConfState,
  encodeEntry,
  encodeHardState,
  encodeMessage,
  encodeSnapshot,
} from '../../../../../src/consensus/etcdraft/raft/wire.js';
import { entrySize } from '../../../../../src/consensus/etcdraft/raft/entry-size.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  MessageType,
  newEntry,
  newMessage,
} from '../../../../../src/consensus/etcdraft/raft/types.js';

const hex = (text: string): Uint8Array => Uint8Array.from(text.split(' ').map((byte) => parseInt(byte, 16)));
const toHex = (bytes: Uint8Array): string => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');

describe('raftpb wire encoding (gogoproto-compatible)', () => {
  // etcdraft.md §2.1: a heartbeat from the Go leader 1 to 2 at term 2, commit 12.
  const HEARTBEAT =
    '08 08 10 02 18 01 20 02 28 00 30 00 40 0c 4a 0a 12 08 0a 02 28 00 10 00 18 00 50 00 58 00';

  it("decodes the Go leader's heartbeat and re-encodes it to the same bytes", () => {
    const message = decodeMessage(hex(HEARTBEAT));
    assert.equal(message.type, MessageType.MsgHeartbeat);
    assert.equal(message.to, 2);
    assert.equal(message.from, 1);
    assert.equal(message.term, 2);
    assert.equal(message.commit, 12);
    assert.equal(message.logTerm, 0);
    assert.equal(message.index, 0);
    assert.equal(message.reject, false);
    assert.equal(message.rejectHint, 0);
    assert.equal(message.snapshot, undefined);
    assert.equal(message.context, undefined);
    assert.deepEqual(message.entries, []);
    assert.equal(toHex(encodeMessage(message)), HEARTBEAT);
  });

  it('encodes a heartbeat built from fields exactly as Go does', () => {
    const message = newMessage({ type: MessageType.MsgHeartbeat, to: 2, from: 1, term: 2, commit: 12 });
    assert.equal(toHex(encodeMessage(message)), HEARTBEAT);
  });

  // etcdraft.md §2.6: the bootstrap ConfChange{Type: AddNode, NodeID: id}.
  it('encodes the bootstrap AddNode ConfChange as 08 00 10 00 18 <id>', () => {
    for (const id of [1, 2, 3]) {
      const bytes = encodeConfChange({ id: 0, type: ConfChangeType.AddNode, nodeId: id, context: undefined });
      assert.equal(toHex(bytes), `08 00 10 00 18 0${id}`);
      assert.deepEqual(decodeConfChange(bytes), {
        id: 0,
        type: ConfChangeType.AddNode,
        nodeId: id,
        context: undefined,
      });
    }
  });

  it('round-trips a MsgApp with entries, reject hint and context', () => {
    const message = newMessage({
      type: MessageType.MsgApp,
      to: 3,
      from: 1,
      term: 7,
      logTerm: 6,
      index: 300,
      commit: 299,
      entries: [
        newEntry({ term: 7, index: 301, data: Uint8Array.of(1, 2, 3) }),
        newEntry({
          term: 7,
          index: 302,
          type: EntryType.ConfChange,
          data: Uint8Array.of(8, 0, 16, 0, 24, 4),
        }),
        newEntry({ term: 7, index: 303 }),
      ],
      reject: true,
      rejectHint: 250,
      context: new TextEncoder().encode('CampaignTransfer'),
    });
    const bytes = encodeMessage(message);
    assert.deepEqual(decodeMessage(bytes), message);
  });

  it('writes nested entries whose length varint takes 1, 2, 3 and 4 bytes', () => {
    // Entry bodies of 10 B, ~200 B, ~20 KB and ~2.1 MB: each Message.entries field must be
    // tag 0x3a, the body's length as a varint, then exactly the bytes encodeEntry gives.
    const entries = [10, 200, 20_000, 2_100_000].map((size, i) =>
      newEntry({ term: 2, index: 10 + i, data: new Uint8Array(size).fill(i + 1) }),
    );
    const message = newMessage({ type: MessageType.MsgApp, to: 2, from: 1, term: 2, entries });
    const bytes = encodeMessage(message);
    assert.deepEqual(decodeMessage(bytes), message);
    const varint = (value: number): number[] => {
      const out: number[] = [];
      while (value >= 128) {
        out.push((value % 128) | 128);
        value = Math.floor(value / 128);
      }
      return [...out, value];
    };
    const body = Buffer.from(bytes);
    let searchFrom = 0;
    entries.forEach((entry, i) => {
      const encoded = encodeEntry(entry);
      const field = Buffer.from([0x3a, ...varint(encoded.length), ...encoded]);
      assert.equal(varint(encoded.length).length, i + 1);
      const at = body.indexOf(field, searchFrom);
      assert.ok(at >= 0, `entry ${i} (${entry.data.length} B) not written as one length-delimited field`);
      searchFrom = at + field.length;
    });
  });

  it('writes an empty but present context (Go non-nil) and omits an absent one', () => {
    const withEmpty = encodeMessage(newMessage({ type: MessageType.MsgVote, context: new Uint8Array(0) }));
    assert.ok(toHex(withEmpty).endsWith('62 00'));
    assert.deepEqual(decodeMessage(withEmpty).context, new Uint8Array(0));
  });

  it('round-trips a MsgSnap with a snapshot and ConfState', () => {
    const snapshot = {
      data: Uint8Array.of(9, 9),
      metadata: {
        index: 40,
        term: 3,
        confState: {
          voters: [1, 2, 3],
          learners: [4],
          votersOutgoing: [1, 2],
          learnersNext: [5],
          autoLeave: true,
        },
      },
    };
    const message = newMessage({ type: MessageType.MsgSnap, to: 2, from: 1, term: 3, snapshot });
    assert.deepEqual(decodeMessage(encodeMessage(message)).snapshot, snapshot);
    assert.deepEqual(decodeSnapshot(encodeSnapshot(snapshot)), snapshot);
  });

  it('writes ConfState voters unpacked (proto2) and reads packed ones too', () => {
    const cs = { voters: [1, 2], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    assert.equal(toHex(encodeConfState(cs)), '08 01 08 02 28 00');
    assert.deepEqual(decodeConfState(hex('0a 02 01 02')).voters, [1, 2]);
  });

  it('round-trips HardState and Entry with gogoproto field order', () => {
    assert.equal(toHex(encodeHardState({ term: 2, vote: 1, commit: 5 })), '08 02 10 01 18 05');
    assert.deepEqual(decodeHardState(hex('08 02 10 01 18 05')), { term: 2, vote: 1, commit: 5 });
    const entry = newEntry({ term: 1, index: 1, type: EntryType.ConfChange, data: hex('08 00 10 00 18 01') });
    const bytes = encodeEntry(entry);
    assert.equal(toHex(bytes), '08 01 10 01 18 01 22 06 08 00 10 00 18 01');
    assert.deepEqual(decodeEntry(bytes), entry);
    assert.equal(entrySize(entry), bytes.length);
    assert.equal(
      entrySize(newEntry({ term: 300, index: 70000 })),
      encodeEntry(newEntry({ term: 300, index: 70000 })).length,
    );
  });

  it('round-trips ConfChangeV2', () => {
    const cc = {
      transition: ConfChangeTransition.JointExplicit,
      changes: [
        { type: ConfChangeType.AddNode, nodeId: 4 },
        { type: ConfChangeType.RemoveNode, nodeId: 1 },
      ],
      context: Uint8Array.of(1),
    };
    assert.deepEqual(decodeConfChangeV2(encodeConfChangeV2(cc)), cc);
  });

  it('refuses a term above 2^53-1 with a typed error instead of rounding it', () => {
    // term = 2^53 (varint 80 80 80 80 80 80 80 10)
    const bytes = hex('08 08 10 02 18 01 20 80 80 80 80 80 80 80 10');
    assert.throws(
      () => decodeMessage(bytes),
      (err: unknown) =>
        err instanceof RaftError &&
        err.code === 'wire-uint64-overflow' &&
        /Message\.Term is above 2\^53-1/.test(err.message),
    );
    // the largest uint64 is refused too, and the largest safe integer is accepted
    assert.throws(() => decodeHardState(hex('08 ff ff ff ff ff ff ff ff ff 01')), /above 2\^53-1/);
    assert.equal(
      decodeHardState(encodeHardState({ term: Number.MAX_SAFE_INTEGER, vote: 0, commit: 0 })).term,
      Number.MAX_SAFE_INTEGER,
    );
    assert.throws(
      () => encodeHardState({ term: 2 ** 53, vote: 0, commit: 0 }),
      (err: unknown) => err instanceof RaftError && err.code === 'wire-uint64-overflow',
    );
  });

  it('refuses truncated input with a decode error naming the message', () => {
    assert.throws(
      () => decodeMessage(hex(HEARTBEAT).slice(0, 20)),
      (err: unknown) =>
        err instanceof RaftError && err.code === 'wire-decode' && /raftpb\.Message/.test(err.message),
    );
  });

  it('skips unknown fields', () => {
    assert.deepEqual(decodeHardState(hex('08 02 78 05 10 01 18 05')), { term: 2, vote: 1, commit: 5 });
  });

  it('keeps an enum value raft.proto does not name instead of reading it as the zero value', () => {
    // protobufjs moves an unnamed enum value to the unknown fields; the Go decoder keeps any int32.
    assert.equal(decodeEntry(hex('08 07 10 01 18 01')).type, 7);
    const message = decodeMessage(hex('08 13 10 02 18 01'));
    assert.equal(message.type, 19);
    assert.equal(toHex(encodeMessage(message).subarray(0, 2)), '08 13');
    assert.equal(decodeConfChange(hex('08 00 10 09 18 01')).type, 9);
    assert.equal(decodeConfChangeV2(hex('08 05')).transition, 5);
    // a negative enum (a 10-byte varint) is refused, naming the message
    assert.throws(
      () => decodeEntry(hex('08 ff ff ff ff ff ff ff ff ff 01')),
      (err: unknown) =>
        err instanceof RaftError &&
        err.code === 'wire-decode' &&
        /raftpb\.Entry: Type is not a known enum/.test(err.message),
    );
  });

  it('refuses a known field with the wrong wire type, as gogoproto does', () => {
    assert.throws(
      () => decodeHardState(hex('0a 01 05')),
      (err: unknown) =>
        err instanceof RaftError &&
        err.code === 'wire-decode' &&
        /raftpb\.HardState: field Term has wire type 2, want 0/.test(err.message),
    );
    assert.throws(
      () => decodeMessage(hex('38 01')),
      (err: unknown) => err instanceof RaftError && err.code === 'wire-decode' && /Entries/.test(err.message),
    );
  });

  it('names the nested message and field of a uint64 above 2^53-1', () => {
    // Message{entries: [Entry{Term: 2^53}]}
    assert.throws(
      () => decodeMessage(hex('3a 0b 10 80 80 80 80 80 80 80 10 18 01')),
      (err: unknown) =>
        err instanceof RaftError &&
        err.code === 'wire-uint64-overflow' &&
        /raftpb\.Entry\.Term/.test(err.message),
    );
    assert.throws(
      () => encodeMessage(newMessage({ type: MessageType.MsgApp, entries: [newEntry({ index: -1 })] })),
      (err: unknown) => err instanceof RaftError && err.code === 'wire-uint64-overflow',
    );
  });

  it('decodes bytes fields into fresh Uint8Arrays, also when reading from a Buffer', () => {
    const source = Buffer.from(encodeEntry(newEntry({ term: 1, index: 1, data: Uint8Array.of(1, 2, 3) })));
    const entry = decodeEntry(source);
    source.fill(0);
    assert.equal(Object.getPrototypeOf(entry.data), Uint8Array.prototype);
    assert.deepEqual(entry.data, Uint8Array.of(1, 2, 3));
    const message = decodeMessage(
      Buffer.from(encodeMessage(newMessage({ type: 0, context: Uint8Array.of(9) }))),
    );
    assert.equal(Object.getPrototypeOf(message.context), Uint8Array.prototype);
  });

  it('returns encodings that own their memory (not a slice of a shared pool)', () => {
    const bytes = encodeEntry(newEntry({ term: 1, index: 1 }));
    assert.equal(bytes.byteOffset, 0);
    assert.equal(bytes.buffer.byteLength, bytes.length);
  });

  it('is generated from the pristine etcd v3.5.9 raft.proto', () => {
    const proto = readFileSync(new URL('../../../../../protos/etcd-raft-v3.5.9/raft.proto', import.meta.url));
    assert.equal(
      createHash('sha256').update(proto).digest('hex'),
      '52d6bb24a84a297050474e538bb49cd3d19f80950c32b4da024419feebc7153d',
    );
  });
});
