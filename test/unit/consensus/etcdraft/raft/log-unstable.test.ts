// Port of etcd raft v3.5.9 log_unstable_test.go. Entries are written [index, term] and
// snapshots [index, term] (or null for Go's nil) to keep the tables as compact as etcd's.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Unstable } from '../../../../../src/consensus/etcdraft/raft/log-unstable.js';
import { silentRaftLogger } from '../../../../../src/consensus/etcdraft/raft/logger.js';
import type { Entry, Snapshot } from '../../../../../src/consensus/etcdraft/raft/types.js';
import { emptyConfState, newEntry } from '../../../../../src/consensus/etcdraft/raft/types.js';

type E = [number, number];
type S = [number, number] | null;
const ents = (list: E[]): Entry[] => list.map(([index, term]) => newEntry({ index, term }));
const snap = (s: S): Snapshot | undefined =>
  s === null
    ? undefined
    : { data: new Uint8Array(0), metadata: { index: s[0], term: s[1], confState: emptyConfState() } };
const unstable = (entries: E[], offset: number, snapshot: S): Unstable => {
  const u = new Unstable(silentRaftLogger, offset);
  u.entries = ents(entries);
  u.snapshot = snap(snapshot);
  return u;
};

describe('Unstable (etcd log_unstable_test.go)', () => {
  it('TestUnstableMaybeFirstIndex', () => {
    const tests: [E[], number, S, number | undefined][] = [
      // no snapshot
      [[[5, 1]], 5, null, undefined],
      [[], 0, null, undefined],
      // has snapshot
      [[[5, 1]], 5, [4, 1], 5],
      [[], 5, [4, 1], 5],
    ];
    tests.forEach(([entries, offset, s, windex], i) => {
      assert.equal(unstable(entries, offset, s).maybeFirstIndex(), windex, `#${i}`);
    });
  });

  it('TestMaybeLastIndex', () => {
    const tests: [E[], number, S, number | undefined][] = [
      // last in entries
      [[[5, 1]], 5, null, 5],
      [[[5, 1]], 5, [4, 1], 5],
      // last in snapshot
      [[], 5, [4, 1], 4],
      // empty unstable
      [[], 0, null, undefined],
    ];
    tests.forEach(([entries, offset, s, windex], i) => {
      assert.equal(unstable(entries, offset, s).maybeLastIndex(), windex, `#${i}`);
    });
  });

  it('TestUnstableMaybeTerm', () => {
    const tests: [E[], number, S, number, number | undefined][] = [
      // term from entries
      [[[5, 1]], 5, null, 5, 1],
      [[[5, 1]], 5, null, 6, undefined],
      [[[5, 1]], 5, null, 4, undefined],
      [[[5, 1]], 5, [4, 1], 5, 1],
      [[[5, 1]], 5, [4, 1], 6, undefined],
      // term from snapshot
      [[[5, 1]], 5, [4, 1], 4, 1],
      [[[5, 1]], 5, [4, 1], 3, undefined],
      [[], 5, [4, 1], 5, undefined],
      [[], 5, [4, 1], 4, 1],
      [[], 0, null, 5, undefined],
    ];
    tests.forEach(([entries, offset, s, index, wterm], i) => {
      assert.equal(unstable(entries, offset, s).maybeTerm(index), wterm, `#${i}`);
    });
  });

  it('TestUnstableRestore', () => {
    const u = unstable([[5, 1]], 5, [4, 1]);
    const s = snap([6, 2]) as Snapshot;
    u.restore(s);
    assert.equal(u.offset, s.metadata.index + 1);
    assert.equal(u.entries.length, 0);
    assert.deepEqual(u.snapshot, s);
  });

  it('TestUnstableStableTo', () => {
    const tests: [E[], number, S, number, number, number, number][] = [
      [[], 0, null, 5, 1, 0, 0],
      [[[5, 1]], 5, null, 5, 1, 6, 0], // stable to the first entry
      [
        [
          [5, 1],
          [6, 1],
        ],
        5,
        null,
        5,
        1,
        6,
        1,
      ], // stable to the first entry
      [[[6, 2]], 6, null, 6, 1, 6, 1], // stable to the first entry and term mismatch
      [[[5, 1]], 5, null, 4, 1, 5, 1], // stable to old entry
      [[[5, 1]], 5, null, 4, 2, 5, 1], // stable to old entry
      // with snapshot
      [[[5, 1]], 5, [4, 1], 5, 1, 6, 0], // stable to the first entry
      [
        [
          [5, 1],
          [6, 1],
        ],
        5,
        [4, 1],
        5,
        1,
        6,
        1,
      ], // stable to the first entry
      [[[6, 2]], 6, [5, 1], 6, 1, 6, 1], // stable to the first entry and term mismatch
      [[[5, 1]], 5, [4, 1], 4, 1, 5, 1], // stable to snapshot
      [[[5, 2]], 5, [4, 2], 4, 1, 5, 1], // stable to old entry
    ];
    tests.forEach(([entries, offset, s, index, term, woffset, wlen], i) => {
      const u = unstable(entries, offset, s);
      u.stableTo(index, term);
      assert.equal(u.offset, woffset, `#${i}`);
      assert.equal(u.entries.length, wlen, `#${i}`);
    });
  });

  it('TestUnstableTruncateAndAppend', () => {
    const tests: [E[], number, S, E[], number, E[]][] = [
      // append to the end
      [
        [[5, 1]],
        5,
        null,
        [
          [6, 1],
          [7, 1],
        ],
        5,
        [
          [5, 1],
          [6, 1],
          [7, 1],
        ],
      ],
      // replace the unstable entries
      [
        [[5, 1]],
        5,
        null,
        [
          [5, 2],
          [6, 2],
        ],
        5,
        [
          [5, 2],
          [6, 2],
        ],
      ],
      [
        [[5, 1]],
        5,
        null,
        [
          [4, 2],
          [5, 2],
          [6, 2],
        ],
        4,
        [
          [4, 2],
          [5, 2],
          [6, 2],
        ],
      ],
      // truncate the existing entries and append
      [
        [
          [5, 1],
          [6, 1],
          [7, 1],
        ],
        5,
        null,
        [[6, 2]],
        5,
        [
          [5, 1],
          [6, 2],
        ],
      ],
      [
        [
          [5, 1],
          [6, 1],
          [7, 1],
        ],
        5,
        null,
        [
          [7, 2],
          [8, 2],
        ],
        5,
        [
          [5, 1],
          [6, 1],
          [7, 2],
          [8, 2],
        ],
      ],
    ];
    tests.forEach(([entries, offset, s, toappend, woffset, wentries], i) => {
      const u = unstable(entries, offset, s);
      u.truncateAndAppend(ents(toappend));
      assert.equal(u.offset, woffset, `#${i}`);
      assert.deepEqual(u.entries, ents(wentries), `#${i}`);
    });
  });
});
