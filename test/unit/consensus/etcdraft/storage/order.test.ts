// The order of file-system calls, seen through a recording file system: a save resolves only after
// the fsync of its data, concurrent saves share one fsync, a snapshot's file is durable before its
// WAL marker is written, and a failed fsync rejects and stops every later save.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  RaftWal,
  isRaftStorageError,
  type Snapshot,
} from '../../../../../src/consensus/etcdraft/storage/index.js';
import { encodeEntryChunks, encodeHardState } from '../../../../../src/consensus/etcdraft/storage/records.js';
import { withTempDir } from '../../../../support/ledger.js';
import { RecordingFs, entries, gate, hardState, plain } from './recording-fs.js';

const SEGMENT = 'wal/ch/0000000000000000-0000000000000001.wal';

function options(root: string) {
  return { walDir: path.join(root, 'wal'), snapDir: path.join(root, 'snap'), channel: 'ch' };
}

function snapshot(index: number, term: number): Snapshot {
  return {
    data: Buffer.from(`block ${index}`),
    metadata: {
      index,
      term,
      confState: { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    },
  };
}

/** Resolves when the hook sees operation on file; the call is then held until release(). */
function holdNext(fs: RecordingFs, operation: string, file: string) {
  const held = gate();
  const reached = gate();
  let armed = true;
  fs.hooks = {
    before: async (op, name) => {
      if (armed && op === operation && name === file) {
        armed = false;
        reached.open();
        await held.promise;
      }
    },
  };
  return { reached: reached.promise, release: held.open };
}

test('a save resolves only after the fsync of its data has completed', () =>
  withTempDir(async (root) => {
    const fs = new RecordingFs(root);
    const { wal } = await RaftWal.open(options(root), { fs });
    fs.events.length = 0;
    const hold = holdNext(fs, 'fsync', SEGMENT);
    let resolved = false;
    const saved = wal
      .save({ hardState: hardState(1, 1, 0), entries: entries(1, 2, 1) })
      .then(() => (resolved = true));
    await hold.reached;
    assert.deepEqual(fs.events, [`write ${SEGMENT} ${FIRST_SAVE_BYTES}`]);
    // A later save, on a Ready with messages, waits behind the held fsync too.
    let laterResolved = false;
    const later = wal.save({ entries: entries(3, 3, 1) }).then(() => (laterResolved = true));
    // Let every callback that could run, run: the saves still must not have resolved.
    await new Promise(setImmediate);
    assert.equal(resolved, false, 'resolved while its fsync had not completed');
    assert.equal(laterResolved, false);
    hold.release();
    await saved;
    await later;
    assert.deepEqual(fs.events.slice(0, 2), [`write ${SEGMENT} ${FIRST_SAVE_BYTES}`, `fsync ${SEGMENT}`]);
    assert.equal(fs.events.at(-1), `fsync ${SEGMENT}`);
    await wal.close();
  }));

/** Bytes of the first save's records: the two entries and the hard state. */
const FIRST_SAVE_BYTES =
  entries(1, 2, 1)
    .flatMap(encodeEntryChunks)
    .reduce((n, chunk) => n + chunk.length, 0) + encodeHardState(hardState(1, 1, 0)).length;

test('saves made while an fsync runs share the next fsync (group commit)', () =>
  withTempDir(async (root) => {
    const fs = new RecordingFs(root);
    const { wal } = await RaftWal.open(options(root), { fs });
    fs.events.length = 0;
    const hold = holdNext(fs, 'fsync', SEGMENT);
    const first = wal.save({ entries: entries(1, 1, 1) });
    await hold.reached;
    const rest: Promise<void>[] = [];
    for (let index = 2; index <= 50; index++)
      rest.push(wal.save({ entries: entries(index, index, 1), hardState: hardState(1, 1, index - 1) }));
    hold.release();
    await Promise.all([first, ...rest]);
    assert.deepEqual(
      fs.events.filter((e) => e.startsWith('fsync')),
      [`fsync ${SEGMENT}`, `fsync ${SEGMENT}`],
      'one fsync for the first save and one for the 49 made meanwhile',
    );
    assert.equal(wal.stats.commits, 2);
    assert.equal(wal.stats.appendsCommitted, 50);
    await wal.close();
    const reopened = await RaftWal.open(options(root));
    assert.deepEqual(reopened.recovered.entries, plain(entries(1, 50, 1)));
    assert.deepEqual(reopened.recovered.hardState, hardState(1, 1, 49));
    await reopened.wal.close();
  }));

test("a snapshot is written to a temp file, fsync'd, renamed and its directory fsync'd before its WAL marker", () =>
  withTempDir(async (root) => {
    const fs = new RecordingFs(root);
    const { wal } = await RaftWal.open(options(root), { fs });
    await wal.save({ entries: entries(1, 3, 1), hardState: hardState(1, 1, 3) });
    fs.events.length = 0;
    await wal.saveSnapshot(snapshot(3, 1));
    const snap = 'snap/ch/0000000000000001-0000000000000003.snap';
    assert.deepEqual(fs.events.slice(0, 7), [
      `open ${snap}.tmp create`,
      `write ${snap}.tmp ${fs.events[1]!.split(' ').at(-1)}`,
      `fsync ${snap}.tmp`,
      `rename ${snap}.tmp -> ${snap}`,
      'fsync-dir snap/ch',
      `write ${SEGMENT} 30`,
      `fsync ${SEGMENT}`,
    ]);
    await wal.close();
  }));

test('a failed fsync rejects its saves and every later one with a typed error; nothing more is written', () =>
  withTempDir(async (root) => {
    const fs = new RecordingFs(root);
    const { wal } = await RaftWal.open(options(root), { fs });
    await wal.save({ entries: entries(1, 1, 1), hardState: hardState(1, 1, 1) });
    const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    fs.hooks = {
      before: (op, name) => {
        if (op === 'fsync' && name === SEGMENT) throw eio;
      },
    };
    const check = (err: unknown) => {
      assert.ok(isRaftStorageError(err, 'wal-failed'), String(err));
      assert.match(err.message, /EIO: i\/o error, fdatasync/);
      assert.match(err.message, /takes no more saves/);
      assert.match(err.message, /restart the orderer/);
      assert.equal(err.cause, eio);
      return true;
    };
    // Its own fsync fails: rejected, never resolved; the save queued behind it fails the same way.
    const failing = wal.save({ entries: entries(2, 2, 1) });
    const queued = wal.save({ entries: entries(3, 3, 1) });
    await assert.rejects(failing, check);
    await assert.rejects(queued, check);
    // The disk "recovers", but the log stays stopped: the failed fsync may have dropped pages.
    fs.hooks = {};
    const eventsBefore = fs.events.length;
    await assert.rejects(wal.save({ entries: entries(2, 2, 1) }), check);
    await assert.rejects(wal.saveSnapshot(snapshot(1, 1)), check);
    assert.equal(fs.events.length, eventsBefore, 'no file-system call after the failure');
    await wal.close();
    // What was durable before the failure is what a restart finds.
    const reopened = await RaftWal.open(options(root));
    assert.deepEqual(reopened.recovered.hardState, hardState(1, 1, 1));
    assert.equal(reopened.recovered.entries[0]?.index, 1);
    await reopened.wal.close();
  }));

test("cutting a segment writes the new one as a temp file with its header, fsync'd, renamed, directory fsync'd", () =>
  withTempDir(async (root) => {
    const fs = new RecordingFs(root);
    const { wal } = await RaftWal.open({ ...options(root), segmentSizeBytes: 200 }, { fs });
    fs.events.length = 0;
    await wal.save({ entries: entries(1, 3, 1, 100), hardState: hardState(1, 1, 2) });
    const next = 'wal/ch/0000000000000001-0000000000000004.wal';
    assert.deepEqual(fs.events.slice(1), [
      `fsync ${SEGMENT}`,
      `open ${next}.tmp create`,
      `write ${next}.tmp 69`,
      `fsync ${next}.tmp`,
      `rename ${next}.tmp -> ${next}`,
      'fsync-dir wal/ch',
      `open ${next} append`,
    ]);
    await wal.close();
  }));
