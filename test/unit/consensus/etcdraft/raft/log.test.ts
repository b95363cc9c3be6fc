// Port of etcd raft v3.5.9 log_test.go (the tests listed in the describe block; the rest of
// log_test.go is not ported yet). Entries are written [index, term].
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NO_LIMIT } from '../../../../../src/consensus/etcdraft/raft/entry-size.js';
import { RaftInvariantError } from '../../../../../src/consensus/etcdraft/raft/errors.js';
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
});
