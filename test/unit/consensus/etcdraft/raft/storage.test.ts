// Port of etcd raft v3.5.9 storage_test.go (MemoryStorage), table by table.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ErrCompacted,
  ErrSnapOutOfDate,
  ErrUnavailable,
} from '../../../../../src/consensus/etcdraft/raft/errors.js';
import type { RaftError } from '../../../../../src/consensus/etcdraft/raft/errors.js';
import { NO_LIMIT, entrySize } from '../../../../../src/consensus/etcdraft/raft/entry-size.js';
import { MemoryStorage } from '../../../../../src/consensus/etcdraft/raft/storage.js';
import type { Entry } from '../../../../../src/consensus/etcdraft/raft/types.js';
import { newEntry } from '../../../../../src/consensus/etcdraft/raft/types.js';

const ent = (index: number, term: number): Entry => newEntry({ index, term });
const storageWith = (ents: Entry[]): MemoryStorage => {
  const s = new MemoryStorage();
  s.ents = ents.slice();
  return s;
};
// Go's (value, err) for a call that throws a RaftError sentinel.
function attempt<T>(f: () => T): { value: T | undefined; err: RaftError | undefined } {
  try {
    return { value: f(), err: undefined };
  } catch (err) {
    if (err === ErrCompacted || err === ErrUnavailable || err === ErrSnapOutOfDate) {
      return { value: undefined, err: err as RaftError };
    }
    throw err;
  }
}

describe('MemoryStorage (etcd storage_test.go)', () => {
  it('TestStorageTerm', () => {
    const ents = [ent(3, 3), ent(4, 4), ent(5, 5)];
    const tests: [number, RaftError | undefined, number | undefined][] = [
      [2, ErrCompacted, undefined],
      [3, undefined, 3],
      [4, undefined, 4],
      [5, undefined, 5],
      [6, ErrUnavailable, undefined],
    ];
    for (const [i, werr, wterm] of tests) {
      const { value, err } = attempt(() => storageWith(ents).term(i));
      assert.equal(err, werr, `#${i}`);
      assert.equal(value, wterm, `#${i}`);
    }
  });

  it('TestStorageEntries', () => {
    const ents = [ent(3, 3), ent(4, 4), ent(5, 5), ent(6, 6)];
    const size = (i: number) => entrySize(ents[i] as Entry);
    const tests: [number, number, number, RaftError | undefined, Entry[] | undefined][] = [
      [2, 6, NO_LIMIT, ErrCompacted, undefined],
      [3, 4, NO_LIMIT, ErrCompacted, undefined],
      [4, 5, NO_LIMIT, undefined, [ent(4, 4)]],
      [4, 6, NO_LIMIT, undefined, [ent(4, 4), ent(5, 5)]],
      [4, 7, NO_LIMIT, undefined, [ent(4, 4), ent(5, 5), ent(6, 6)]],
      // even if maxsize is zero, the first entry should be returned
      [4, 7, 0, undefined, [ent(4, 4)]],
      // limit to 2
      [4, 7, size(1) + size(2), undefined, [ent(4, 4), ent(5, 5)]],
      // limit to 2
      [4, 7, size(1) + size(2) + Math.floor(size(3) / 2), undefined, [ent(4, 4), ent(5, 5)]],
      [4, 7, size(1) + size(2) + size(3) - 1, undefined, [ent(4, 4), ent(5, 5)]],
      // all
      [4, 7, size(1) + size(2) + size(3), undefined, [ent(4, 4), ent(5, 5), ent(6, 6)]],
    ];
    tests.forEach(([lo, hi, maxsize, werr, wentries], i) => {
      const { value, err } = attempt(() => storageWith(ents).entries(lo, hi, maxsize));
      assert.equal(err, werr, `#${i}`);
      assert.deepEqual(value, wentries, `#${i}`);
    });
  });

  it('TestStorageLastIndex', () => {
    const s = storageWith([ent(3, 3), ent(4, 4), ent(5, 5)]);
    assert.equal(s.lastIndex(), 5);
    s.append([ent(6, 5)]);
    assert.equal(s.lastIndex(), 6);
  });

  it('TestStorageFirstIndex', () => {
    const s = storageWith([ent(3, 3), ent(4, 4), ent(5, 5)]);
    assert.equal(s.firstIndex(), 4);
    s.compact(4);
    assert.equal(s.firstIndex(), 5);
  });

  it('TestStorageCompact', () => {
    const ents = [ent(3, 3), ent(4, 4), ent(5, 5)];
    const tests: [number, RaftError | undefined, number, number, number][] = [
      [2, ErrCompacted, 3, 3, 3],
      [3, ErrCompacted, 3, 3, 3],
      [4, undefined, 4, 4, 2],
      [5, undefined, 5, 5, 1],
    ];
    tests.forEach(([i, werr, windex, wterm, wlen], n) => {
      const s = storageWith(ents);
      assert.equal(attempt(() => s.compact(i)).err, werr, `#${n}`);
      assert.equal(s.ents[0]?.index, windex, `#${n}`);
      assert.equal(s.ents[0]?.term, wterm, `#${n}`);
      assert.equal(s.ents.length, wlen, `#${n}`);
    });
  });

  it('TestStorageCreateSnapshot', () => {
    const ents = [ent(3, 3), ent(4, 4), ent(5, 5)];
    const cs = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    const data = new TextEncoder().encode('data');
    for (const i of [4, 5]) {
      const snap = storageWith(ents).createSnapshot(i, cs, data);
      assert.deepEqual(snap, { data, metadata: { index: i, term: i, confState: cs } });
    }
  });

  it('TestStorageAppend', () => {
    const ents = [ent(3, 3), ent(4, 4), ent(5, 5)];
    const tests: [Entry[], Entry[]][] = [
      [
        [ent(1, 1), ent(2, 2)],
        [ent(3, 3), ent(4, 4), ent(5, 5)],
      ],
      [
        [ent(3, 3), ent(4, 4), ent(5, 5)],
        [ent(3, 3), ent(4, 4), ent(5, 5)],
      ],
      [
        [ent(3, 3), ent(4, 6), ent(5, 6)],
        [ent(3, 3), ent(4, 6), ent(5, 6)],
      ],
      [
        [ent(3, 3), ent(4, 4), ent(5, 5), ent(6, 5)],
        [ent(3, 3), ent(4, 4), ent(5, 5), ent(6, 5)],
      ],
      // truncate incoming entries, truncate the existing entries and append
      [
        [ent(2, 3), ent(3, 3), ent(4, 5)],
        [ent(3, 3), ent(4, 5)],
      ],
      // truncate the existing entries and append
      [[ent(4, 5)], [ent(3, 3), ent(4, 5)]],
      // direct append
      [[ent(6, 5)], [ent(3, 3), ent(4, 4), ent(5, 5), ent(6, 5)]],
    ];
    tests.forEach(([entries, wentries], i) => {
      const s = storageWith(ents);
      s.append(entries);
      assert.deepEqual(s.ents, wentries, `#${i}`);
    });
  });

  it('TestStorageApplySnapshot', () => {
    const cs = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    const data = new TextEncoder().encode('data');
    const s = new MemoryStorage();
    // Apply Snapshot successful
    s.applySnapshot({ data, metadata: { index: 4, term: 4, confState: cs } });
    // Apply Snapshot fails due to ErrSnapOutOfDate
    assert.equal(
      attempt(() => s.applySnapshot({ data, metadata: { index: 3, term: 3, confState: cs } })).err,
      ErrSnapOutOfDate,
    );
  });
});
