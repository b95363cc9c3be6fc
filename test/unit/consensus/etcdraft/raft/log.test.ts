// Port of etcd raft v3.5.9 log_test.go, every test. Entries are written [index, term].
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NO_LIMIT, entrySize } from '../../../../../src/consensus/etcdraft/raft/entry-size.js';
import { ErrCompacted, RaftInvariantError } from '../../../../../src/consensus/etcdraft/raft/errors.js';
import { RaftLog } from '../../../../../src/consensus/etcdraft/raft/log.js';
import { silentRaftLogger } from '../../../../../src/consensus/etcdraft/raft/logger.js';
import { MemoryStorage } from '../../../../../src/consensus/etcdraft/raft/storage.js';
import type { Entry } from '../../../../../src/consensus/etcdraft/raft/types.js';
import { emptyConfState, newEntry } from '../../../../../src/consensus/etcdraft/raft/types.js';

type E = [number, number];
const ents = (list: E[]): Entry[] => list.map(([index, term]) => newEntry({ index, term }));
const newLog = (storage = new MemoryStorage()) => new RaftLog(storage, silentRaftLogger);

describe('RaftLog (etcd log_test.go)', () => {
  it('TestFindConflict', () => {
    const previousEnts = ents([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    const tests: [E[], number][] = [
      // no conflict, empty ent
      [[], 0],
      // no conflict
      [
        [
          [1, 1],
          [2, 2],
          [3, 3],
        ],
        0,
      ],
      [
        [
          [2, 2],
          [3, 3],
        ],
        0,
      ],
      [[[3, 3]], 0],
      // no conflict, but has new entries
      [
        [
          [1, 1],
          [2, 2],
          [3, 3],
          [4, 4],
          [5, 4],
        ],
        4,
      ],
      [
        [
          [2, 2],
          [3, 3],
          [4, 4],
          [5, 4],
        ],
        4,
      ],
      [
        [
          [3, 3],
          [4, 4],
          [5, 4],
        ],
        4,
      ],
      [
        [
          [4, 4],
          [5, 4],
        ],
        4,
      ],
      // conflicts with existing entries
      [
        [
          [1, 4],
          [2, 4],
        ],
        1,
      ],
      [
        [
          [2, 1],
          [3, 4],
          [4, 4],
        ],
        2,
      ],
      [
        [
          [3, 1],
          [4, 2],
          [5, 4],
          [6, 4],
        ],
        3,
      ],
    ];
    tests.forEach(([entries, wconflict], i) => {
      const raftLog = newLog();
      raftLog.append(previousEnts);
      assert.equal(raftLog.findConflict(ents(entries)), wconflict, `#${i}`);
    });
  });

  it('TestIsUpToDate', () => {
    const raftLog = newLog();
    raftLog.append(
      ents([
        [1, 1],
        [2, 2],
        [3, 3],
      ]),
    );
    const last = raftLog.lastIndex();
    const tests: [number, number, boolean][] = [
      // greater term, ignore lastIndex
      [last - 1, 4, true],
      [last, 4, true],
      [last + 1, 4, true],
      // smaller term, ignore lastIndex
      [last - 1, 2, false],
      [last, 2, false],
      [last + 1, 2, false],
      // equal term, equal or lager lastIndex wins
      [last - 1, 3, false],
      [last, 3, true],
      [last + 1, 3, true],
    ];
    tests.forEach(([lastIndex, term, wUpToDate], i) => {
      assert.equal(raftLog.isUpToDate(lastIndex, term), wUpToDate, `#${i}`);
    });
  });

  it('TestAppend', () => {
    const previousEnts = ents([
      [1, 1],
      [2, 2],
    ]);
    const tests: [E[], number, E[], number][] = [
      [
        [],
        2,
        [
          [1, 1],
          [2, 2],
        ],
        3,
      ],
      [
        [[3, 2]],
        3,
        [
          [1, 1],
          [2, 2],
          [3, 2],
        ],
        3,
      ],
      // conflicts with index 1
      [[[1, 2]], 1, [[1, 2]], 1],
      // conflicts with index 2
      [
        [
          [2, 3],
          [3, 3],
        ],
        3,
        [
          [1, 1],
          [2, 3],
          [3, 3],
        ],
        2,
      ],
    ];
    tests.forEach(([entries, windex, wents, wunstable], i) => {
      const storage = new MemoryStorage();
      storage.append(previousEnts);
      const raftLog = newLog(storage);
      assert.equal(raftLog.append(ents(entries)), windex, `#${i}`);
      assert.deepEqual(raftLog.entries(1, NO_LIMIT), ents(wents), `#${i}`);
      assert.equal(raftLog.unstable.offset, wunstable, `#${i}`);
    });
  });

  it('TestCommitTo', () => {
    const previousEnts = ents([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    const commit = 2;
    const tests: [number, number, boolean][] = [
      [3, 3, false],
      [1, 2, false], // never decrease
      [4, 0, true], // commit out of range -> panic
    ];
    tests.forEach(([tocommit, wcommit, wpanic], i) => {
      const raftLog = newLog();
      raftLog.append(previousEnts);
      raftLog.committed = commit;
      if (wpanic) {
        assert.throws(() => raftLog.commitTo(tocommit), RaftInvariantError, `#${i}`);
        return;
      }
      raftLog.commitTo(tocommit);
      assert.equal(raftLog.committed, wcommit, `#${i}`);
    });
  });

  it('TestStableTo', () => {
    const tests: [number, number, number][] = [
      [1, 1, 2],
      [2, 2, 3],
      [2, 1, 1], // bad term
      [3, 1, 1], // bad index
    ];
    tests.forEach(([stablei, stablet, wunstable], i) => {
      const raftLog = newLog();
      raftLog.append(
        ents([
          [1, 1],
          [2, 2],
        ]),
      );
      raftLog.stableTo(stablei, stablet);
      assert.equal(raftLog.unstable.offset, wunstable, `#${i}`);
    });
  });

  it('TestStableToWithSnap', () => {
    const snapi = 5;
    const snapt = 2;
    const tests: [number, number, E[], number][] = [
      [snapi + 1, snapt, [], snapi + 1],
      [snapi, snapt, [], snapi + 1],
      [snapi - 1, snapt, [], snapi + 1],
      [snapi + 1, snapt + 1, [], snapi + 1],
      [snapi, snapt + 1, [], snapi + 1],
      [snapi - 1, snapt + 1, [], snapi + 1],
      [snapi + 1, snapt, [[snapi + 1, snapt]], snapi + 2],
      [snapi, snapt, [[snapi + 1, snapt]], snapi + 1],
      [snapi - 1, snapt, [[snapi + 1, snapt]], snapi + 1],
      [snapi + 1, snapt + 1, [[snapi + 1, snapt]], snapi + 1],
      [snapi, snapt + 1, [[snapi + 1, snapt]], snapi + 1],
      [snapi - 1, snapt + 1, [[snapi + 1, snapt]], snapi + 1],
    ];
    tests.forEach(([stablei, stablet, newEnts, wunstable], i) => {
      const s = new MemoryStorage();
      s.applySnapshot({
        data: new Uint8Array(0),
        metadata: { index: snapi, term: snapt, confState: emptyConfState() },
      });
      const raftLog = newLog(s);
      raftLog.append(ents(newEnts));
      raftLog.stableTo(stablei, stablet);
      assert.equal(raftLog.unstable.offset, wunstable, `#${i}`);
    });
  });

  it('TestLogMaybeAppend', () => {
    const previousEnts = ents([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    const lastindex = 3;
    const lastterm = 3;
    const commit = 1;
    // logTerm, index, committed, ents, wlasti (0 = not appended), wappend, wcommit, wpanic
    const tests: [number, number, number, E[], number, boolean, number, boolean][] = [
      // not match: term is different
      [lastterm - 1, lastindex, lastindex, [[lastindex + 1, 4]], 0, false, commit, false],
      // not match: index out of bound
      [lastterm, lastindex + 1, lastindex, [[lastindex + 2, 4]], 0, false, commit, false],
      // match with the last existing entry
      [lastterm, lastindex, lastindex, [], lastindex, true, lastindex, false],
      [lastterm, lastindex, lastindex + 1, [], lastindex, true, lastindex, false], // do not increase commit higher than lastnewi
      [lastterm, lastindex, lastindex - 1, [], lastindex, true, lastindex - 1, false], // commit up to the commit in the message
      [lastterm, lastindex, 0, [], lastindex, true, commit, false], // commit do not decrease
      [0, 0, lastindex, [], 0, true, commit, false], // commit do not decrease
      [lastterm, lastindex, lastindex, [[lastindex + 1, 4]], lastindex + 1, true, lastindex, false],
      [lastterm, lastindex, lastindex + 1, [[lastindex + 1, 4]], lastindex + 1, true, lastindex + 1, false],
      [lastterm, lastindex, lastindex + 2, [[lastindex + 1, 4]], lastindex + 1, true, lastindex + 1, false], // do not increase commit higher than lastnewi
      [
        lastterm,
        lastindex,
        lastindex + 2,
        [
          [lastindex + 1, 4],
          [lastindex + 2, 4],
        ],
        lastindex + 2,
        true,
        lastindex + 2,
        false,
      ],
      // match with the the entry in the middle
      [lastterm - 1, lastindex - 1, lastindex, [[lastindex, 4]], lastindex, true, lastindex, false],
      [
        lastterm - 2,
        lastindex - 2,
        lastindex,
        [[lastindex - 1, 4]],
        lastindex - 1,
        true,
        lastindex - 1,
        false,
      ],
      [
        lastterm - 3,
        lastindex - 3,
        lastindex,
        [[lastindex - 2, 4]],
        lastindex - 2,
        true,
        lastindex - 2,
        true,
      ], // conflict with existing committed entry
      [
        lastterm - 2,
        lastindex - 2,
        lastindex,
        [
          [lastindex - 1, 4],
          [lastindex, 4],
        ],
        lastindex,
        true,
        lastindex,
        false,
      ],
    ];
    tests.forEach(([logTerm, index, committed, entries, wlasti, wappend, wcommit, wpanic], i) => {
      const raftLog = newLog();
      raftLog.append(previousEnts);
      raftLog.committed = commit;
      if (wpanic) {
        assert.throws(
          () => raftLog.maybeAppend(index, logTerm, committed, ents(entries)),
          RaftInvariantError,
          `#${i}`,
        );
        return;
      }
      const glasti = raftLog.maybeAppend(index, logTerm, committed, ents(entries));
      assert.equal(glasti !== undefined, wappend, `#${i}`);
      assert.equal(glasti ?? 0, wlasti, `#${i}`);
      assert.equal(raftLog.committed, wcommit, `#${i}`);
      if (glasti !== undefined && entries.length !== 0) {
        const gents = raftLog.slice(
          raftLog.lastIndex() - entries.length + 1,
          raftLog.lastIndex() + 1,
          NO_LIMIT,
        );
        assert.deepEqual(gents, ents(entries), `#${i}`);
      }
    });
  });

  // All the log related functionality works correctly after a compaction.
  it('TestCompactionSideEffects', () => {
    // Populate the log with 1000 entries; 750 in stable storage and 250 in unstable.
    const lastIndex = 1000;
    const unstableIndex = 750;
    const lastTerm = lastIndex;
    const storage = new MemoryStorage();
    for (let i = 1; i <= unstableIndex; i++) storage.append([newEntry({ term: i, index: i })]);
    const raftLog = newLog(storage);
    for (let i = unstableIndex; i < lastIndex; i++) raftLog.append([newEntry({ term: i + 1, index: i + 1 })]);
    assert.ok(raftLog.maybeCommit(lastIndex, lastTerm), 'maybeCommit returned false');
    raftLog.appliedTo(raftLog.committed);
    const offset = 500;
    storage.compact(offset);
    assert.equal(raftLog.lastIndex(), lastIndex);
    for (let j = offset; j <= raftLog.lastIndex(); j++) assert.equal(raftLog.term(j), j, `term(${j})`);
    for (let j = offset; j <= raftLog.lastIndex(); j++) assert.ok(raftLog.matchTerm(j, j), `matchTerm(${j})`);
    const unstableEnts = raftLog.unstableEntries();
    assert.equal(unstableEnts.length, 250);
    assert.equal(unstableEnts[0]?.index, 751);
    const prev = raftLog.lastIndex();
    raftLog.append([newEntry({ index: raftLog.lastIndex() + 1, term: raftLog.lastIndex() + 1 })]);
    assert.equal(raftLog.lastIndex(), prev + 1);
    assert.equal(raftLog.entries(raftLog.lastIndex(), NO_LIMIT).length, 1);
  });

  const snapAt3 = () => ({
    data: new Uint8Array(0),
    metadata: { term: 1, index: 3, confState: emptyConfState() },
  });

  it('TestHasNextEnts', () => {
    const tests: [number, boolean][] = [
      [0, true],
      [3, true],
      [4, true],
      [5, false],
    ];
    tests.forEach(([applied, hasNext], i) => {
      const storage = new MemoryStorage();
      storage.applySnapshot(snapAt3());
      const raftLog = newLog(storage);
      raftLog.append(
        ents([
          [4, 1],
          [5, 1],
          [6, 1],
        ]),
      );
      raftLog.maybeCommit(5, 1);
      raftLog.appliedTo(applied);
      assert.equal(raftLog.hasNextEnts(), hasNext, `#${i}`);
    });
  });

  it('TestNextEnts', () => {
    const all: E[] = [
      [4, 1],
      [5, 1],
      [6, 1],
    ];
    const tests: [number, E[]][] = [
      [0, all.slice(0, 2)],
      [3, all.slice(0, 2)],
      [4, all.slice(1, 2)],
      [5, []],
    ];
    tests.forEach(([applied, wents], i) => {
      const storage = new MemoryStorage();
      storage.applySnapshot(snapAt3());
      const raftLog = newLog(storage);
      raftLog.append(ents(all));
      raftLog.maybeCommit(5, 1);
      raftLog.appliedTo(applied);
      assert.deepEqual(raftLog.nextEnts(), ents(wents), `#${i}`);
    });
  });

  // unstableEntries returns the unstable part of the entries correctly.
  it('TestUnstableEnts', () => {
    const previousEnts = ents([
      [1, 1],
      [2, 2],
    ]);
    const tests: [number, Entry[]][] = [
      [3, []],
      [1, previousEnts],
    ];
    tests.forEach(([unstable, wents], i) => {
      // append stable entries to storage
      const storage = new MemoryStorage();
      storage.append(previousEnts.slice(0, unstable - 1));
      // append unstable entries to raftlog
      const raftLog = newLog(storage);
      raftLog.append(previousEnts.slice(unstable - 1));
      const got = raftLog.unstableEntries();
      const last = got[got.length - 1];
      if (last !== undefined) raftLog.stableTo(last.index, last.term);
      assert.deepEqual(got, wents, `#${i}`);
      assert.equal(
        raftLog.unstable.offset,
        (previousEnts[previousEnts.length - 1] as Entry).index + 1,
        `#${i}`,
      );
    });
  });

  const snapshotAt = (index: number, term: number) => ({
    data: new Uint8Array(0),
    metadata: { index, term, confState: emptyConfState() },
  });
  // Go's slice/mustCheckOutOfBounds return ErrCompacted; a thrown invariant is Go's panic.
  const outcome = (f: () => unknown): 'ok' | 'compacted' | 'panic' => {
    try {
      f();
      return 'ok';
    } catch (err) {
      if (err === ErrCompacted) return 'compacted';
      if (err instanceof RaftInvariantError) return 'panic';
      throw err;
    }
  };

  // The number of log entries is correct after compactions.
  it('TestCompaction', () => {
    const tests: [number, number[], number[], boolean][] = [
      // out of upper bound
      [1000, [1001], [-1], false],
      [1000, [300, 500, 800, 900], [700, 500, 200, 100], true],
      // out of lower bound
      [1000, [300, 299], [700, -1], false],
    ];
    tests.forEach(([lastIndex, compact, wleft, wallow], i) => {
      const storage = new MemoryStorage();
      for (let k = 1; k <= lastIndex; k++) storage.append([newEntry({ index: k })]);
      const raftLog = newLog(storage);
      raftLog.maybeCommit(lastIndex, 0);
      raftLog.appliedTo(raftLog.committed);
      for (let j = 0; j < compact.length; j++) {
        const result = outcome(() => storage.compact(compact[j] as number));
        if (result === 'panic') {
          // Go recovers the panic and reports it only when compaction was to be allowed.
          assert.equal(wallow, false, `#${i}.${j}: unexpected panic`);
          return;
        }
        if (result === 'compacted') {
          assert.equal(wallow, false, `#${i}.${j}: unexpected compaction error`);
          continue;
        }
        assert.equal(raftLog.allEntries().length, wleft[j], `#${i}.${j}`);
      }
    });
  });

  it('TestLogRestore', () => {
    const index = 1000;
    const term = 1000;
    const storage = new MemoryStorage();
    storage.applySnapshot(snapshotAt(index, term));
    const raftLog = newLog(storage);
    assert.equal(raftLog.allEntries().length, 0);
    assert.equal(raftLog.firstIndex(), index + 1);
    assert.equal(raftLog.committed, index);
    assert.equal(raftLog.unstable.offset, index + 1);
    assert.equal(raftLog.term(index), term);
  });

  it('TestIsOutOfBounds', () => {
    const offset = 100;
    const num = 100;
    const storage = new MemoryStorage();
    storage.applySnapshot(snapshotAt(offset, 0));
    const l = newLog(storage);
    for (let i = 1; i <= num; i++) l.append([newEntry({ index: i + offset })]);
    const first = offset + 1;
    const tests: [number, number, 'ok' | 'compacted' | 'panic'][] = [
      [first - 2, first + 1, 'compacted'],
      [first - 1, first + 1, 'compacted'],
      [first, first, 'ok'],
      [first + num / 2, first + num / 2, 'ok'],
      [first + num - 1, first + num - 1, 'ok'],
      [first + num, first + num, 'ok'],
      [first + num, first + num + 1, 'panic'],
      [first + num + 1, first + num + 1, 'panic'],
    ];
    tests.forEach(([lo, hi, want], i) => {
      assert.equal(
        outcome(() => l.mustCheckOutOfBounds(lo, hi)),
        want,
        `#${i}`,
      );
    });
  });

  it('TestTerm', () => {
    const offset = 100;
    const num = 100;
    const storage = new MemoryStorage();
    storage.applySnapshot(snapshotAt(offset, 1));
    const l = newLog(storage);
    for (let i = 1; i < num; i++) l.append([newEntry({ index: offset + i, term: i })]);
    const tests: [number, number][] = [
      [offset - 1, 0],
      [offset, 1],
      [offset + num / 2, num / 2],
      [offset + num - 1, num - 1],
      [offset + num, 0],
    ];
    tests.forEach(([index, w], j) => assert.equal(l.term(index), w, `#${j}`));
  });

  it('TestTermWithUnstableSnapshot', () => {
    const storagesnapi = 100;
    const unstablesnapi = storagesnapi + 5;
    const storage = new MemoryStorage();
    storage.applySnapshot(snapshotAt(storagesnapi, 1));
    const l = newLog(storage);
    l.restore(snapshotAt(unstablesnapi, 1));
    const tests: [number, number][] = [
      // cannot get term from storage
      [storagesnapi, 0],
      // cannot get term from the gap between storage ents and unstable snapshot
      [storagesnapi + 1, 0],
      [unstablesnapi - 1, 0],
      // get term from unstable snapshot index
      [unstablesnapi, 1],
    ];
    tests.forEach(([index, w], i) => assert.equal(l.term(index), w, `#${i}`));
  });

  it('TestSlice', () => {
    const offset = 100;
    const num = 100;
    const last = offset + num;
    const half = offset + num / 2;
    const halfSize = entrySize(newEntry({ index: half, term: half }));
    const storage = new MemoryStorage();
    storage.applySnapshot(snapshotAt(offset, 0));
    for (let i = 1; i < num / 2; i++) storage.append([newEntry({ index: offset + i, term: offset + i })]);
    const l = newLog(storage);
    for (let i = num / 2; i < num; i++) l.append([newEntry({ index: offset + i, term: offset + i })]);
    const tests: [number, number, number, E[], boolean][] = [
      // test no limit
      [offset - 1, offset + 1, NO_LIMIT, [], false],
      [offset, offset + 1, NO_LIMIT, [], false],
      [
        half - 1,
        half + 1,
        NO_LIMIT,
        [
          [half - 1, half - 1],
          [half, half],
        ],
        false,
      ],
      [half, half + 1, NO_LIMIT, [[half, half]], false],
      [last - 1, last, NO_LIMIT, [[last - 1, last - 1]], false],
      [last, last + 1, NO_LIMIT, [], true],
      // test limit
      [half - 1, half + 1, 0, [[half - 1, half - 1]], false],
      [half - 1, half + 1, halfSize + 1, [[half - 1, half - 1]], false],
      [half - 2, half + 1, halfSize + 1, [[half - 2, half - 2]], false],
      [
        half - 1,
        half + 1,
        halfSize * 2,
        [
          [half - 1, half - 1],
          [half, half],
        ],
        false,
      ],
      [
        half - 1,
        half + 2,
        halfSize * 3,
        [
          [half - 1, half - 1],
          [half, half],
          [half + 1, half + 1],
        ],
        false,
      ],
      [half, half + 2, halfSize, [[half, half]], false],
      [
        half,
        half + 2,
        halfSize * 2,
        [
          [half, half],
          [half + 1, half + 1],
        ],
        false,
      ],
    ];
    tests.forEach(([from, to, limit, w, wpanic], j) => {
      if (wpanic) {
        assert.equal(
          outcome(() => l.slice(from, to, limit)),
          'panic',
          `#${j}`,
        );
        return;
      }
      if (from <= offset) {
        assert.equal(
          outcome(() => l.slice(from, to, limit)),
          'compacted',
          `#${j}`,
        );
        return;
      }
      assert.deepEqual(l.slice(from, to, limit), ents(w), `#${j}`);
    });
  });
});
