// Round trips through the Raft WAL: what is saved comes back on reopen, with raft's log rules
// (an entry at index i replaces every entry >= i; a restore snapshot replaces the whole log; a
// compaction snapshot keeps what follows it), and saves the log cannot represent are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  RaftWal,
  RaftStorageError,
  isRaftStorageError,
  type Snapshot,
} from '../../../../../src/consensus/etcdraft/storage/index.js';
import { withTempDir } from '../../../../support/ledger.js';
import { entries, hardState, plain } from './recording-fs.js';

function options(root: string) {
  return { walDir: path.join(root, 'wal'), snapDir: path.join(root, 'snap'), channel: 'mychannel' };
}

function snapshot(index: number, term: number, data = `block at ${index}`): Snapshot {
  return {
    data: Buffer.from(data),
    metadata: {
      index,
      term,
      confState: { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    },
  };
}

async function reopen(root: string) {
  const opened = await RaftWal.open(options(root));
  await opened.wal.close();
  return opened.recovered;
}

test('a fresh channel opens empty, with its directories under WALDir and SnapDir', () =>
  withTempDir(async (root) => {
    const { wal, recovered } = await RaftWal.open(options(root));
    assert.deepEqual(recovered, { hardState: hardState(0, 0, 0), snapshot: undefined, entries: [] });
    assert.deepEqual(await readdir(path.join(root, 'wal', 'mychannel')), [
      '0000000000000000-0000000000000001.wal',
    ]);
    assert.deepEqual(await readdir(path.join(root, 'snap', 'mychannel')), []);
    await wal.close();
  }));

test('hard state and entries come back on reopen; a conflicting entry replaces every entry after it', () =>
  withTempDir(async (root) => {
    const { wal } = await RaftWal.open(options(root));
    await wal.save({ hardState: hardState(1, 1, 0), entries: entries(1, 5, 1) });
    await wal.save({ hardState: hardState(1, 1, 3) });
    assert.deepEqual(await reopenAfter(wal, root), {
      hardState: hardState(1, 1, 3),
      snapshot: undefined,
      entries: plain(entries(1, 5, 1)),
    });

    const again = await RaftWal.open(options(root));
    // A new leader at term 2 overwrites the uncommitted tail 4..5 with 4..6.
    await again.wal.save({ hardState: hardState(2, 2, 3), entries: entries(4, 6, 2, 100) });
    await again.wal.save({ entries: entries(7, 7, 2) });
    assert.deepEqual(await reopenAfter(again.wal, root), {
      hardState: hardState(2, 2, 3),
      snapshot: undefined,
      entries: plain([...entries(1, 3, 1), ...entries(4, 6, 2, 100), ...entries(7, 7, 2)]),
    });
  }));

test('an installed snapshot replaces the whole log; a compaction snapshot keeps the entries after it', () =>
  withTempDir(async (root) => {
    const { wal } = await RaftWal.open(options(root));
    await wal.save({ hardState: hardState(1, 1, 2), entries: entries(1, 4, 1) });
    // raft installs a snapshot at 10 from the leader: entries 3..4 (uncommitted, older term) are gone.
    await wal.save({
      snapshot: snapshot(10, 3),
      entries: entries(11, 12, 3),
      hardState: hardState(3, 0, 11),
    });
    let recovered = await reopenAfter(wal, root);
    assert.deepEqual(recovered.snapshot, { ...snapshot(10, 3), data: Buffer.from('block at 10') });
    assert.deepEqual(recovered.entries, plain(entries(11, 12, 3)));
    assert.deepEqual(recovered.hardState, hardState(3, 0, 11));
    assert.deepEqual(await readdir(path.join(root, 'snap', 'mychannel')), [
      '0000000000000003-000000000000000a.snap',
    ]);

    const again = await RaftWal.open(options(root));
    await again.wal.save({ entries: entries(13, 15, 3), hardState: hardState(3, 0, 14) });
    await again.wal.saveSnapshot(snapshot(13, 3, 'block 13'));
    recovered = await reopenAfter(again.wal, root);
    assert.equal(recovered.snapshot?.metadata.index, 13);
    assert.deepEqual(Buffer.from(recovered.snapshot!.data), Buffer.from('block 13'));
    assert.deepEqual(recovered.entries, plain(entries(14, 15, 3)));
    assert.deepEqual(recovered.hardState, hardState(3, 0, 14));
  }));

test('entries written before a snap file with no WAL marker are kept; the orphan snap file is removed', () =>
  withTempDir(async (root) => {
    const { wal } = await RaftWal.open(options(root));
    await wal.save({ entries: entries(1, 3, 1), hardState: hardState(1, 1, 3) });
    await wal.saveSnapshot(snapshot(2, 1));
    await wal.close();
    // As if the process died after writing a snap file but before its marker reached the WAL.
    const snapDir = path.join(root, 'snap', 'mychannel');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(
      path.join(snapDir, '0000000000000001-0000000000000003.snap'),
      await readFile(path.join(snapDir, '0000000000000001-0000000000000002.snap')),
    );
    await writeFile(path.join(snapDir, 'leftover.snap.tmp'), 'partial');
    const recovered = await reopen(root);
    assert.equal(recovered.snapshot?.metadata.index, 2);
    assert.deepEqual(recovered.entries, plain(entries(3, 3, 1)));
    assert.deepEqual(await readdir(snapDir), ['0000000000000001-0000000000000002.snap']);
  }));

test('saves the log cannot represent are refused with a typed error, and the log keeps working', () =>
  withTempDir(async (root) => {
    const { wal } = await RaftWal.open(options(root));
    await wal.save({ entries: entries(1, 3, 1), hardState: hardState(1, 1, 1) });
    const refusals: [string, Promise<void>][] = [
      ['gap', wal.save({ entries: entries(5, 6, 1) })],
      ['not consecutive', wal.save({ entries: [...entries(4, 4, 1), ...entries(6, 6, 1)] })],
      ['commit beyond the log', wal.save({ hardState: hardState(1, 1, 9) })],
      ['snapshot of uncommitted entries', wal.saveSnapshot(snapshot(3, 1))],
      ['unsafe integer', wal.save({ hardState: hardState(2 ** 53, 1, 1) })],
    ];
    for (const [what, refusal] of refusals)
      await assert.rejects(refusal, (err: unknown) => {
        assert.ok(isRaftStorageError(err, 'invalid-save'), `${what}: ${String(err)}`);
        assert.match((err as Error).message, /channel mychannel/);
        return true;
      });
    await wal.saveSnapshot(snapshot(1, 1));
    await assert.rejects(wal.saveSnapshot(snapshot(1, 1)), /not newer than the one already saved at index 1/);
    await wal.save({ entries: entries(4, 4, 1), hardState: hardState(1, 1, 4) });
    await wal.close();
    await assert.rejects(wal.save({ hardState: hardState(1, 1, 4) }), (err: unknown) => {
      assert.ok(err instanceof RaftStorageError && err.code === 'wal-closed');
      return true;
    });
    const recovered = await reopen(root);
    assert.deepEqual(recovered.entries, plain(entries(2, 4, 1)));
    assert.deepEqual(recovered.hardState, hardState(1, 1, 4));
  }));

test('a channel name that is not one is refused before anything is created', () =>
  withTempDir(async (root) => {
    await assert.rejects(
      RaftWal.open({ ...options(root), channel: '../escape' }),
      /not a valid channel name/,
    );
    assert.deepEqual(await readdir(root), []);
  }));

async function reopenAfter(wal: RaftWal, root: string) {
  await wal.close();
  return reopen(root);
}
