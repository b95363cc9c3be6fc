// Crash and damage on disk: a torn last record (cut at every byte offset) is cut off and the log
// reopens to the state before it; damage anywhere else is refused with a typed error that names
// the file, the offset and what to do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, cp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  RaftWal,
  isRaftStorageError,
  type RecoveredRaftState,
} from '../../../../../src/consensus/etcdraft/storage/index.js';
import { decodeRecords } from '../../../../../src/consensus/etcdraft/storage/records.js';
import { withTempDir } from '../../../../support/ledger.js';
import { entries, hardState, plain } from './recording-fs.js';

function options(root: string) {
  return { walDir: path.join(root, 'wal'), snapDir: path.join(root, 'snap'), channel: 'ch' };
}

const segmentPath = (root: string) => path.join(root, 'wal', 'ch', '0000000000000000-0000000000000001.wal');

async function reopen(root: string): Promise<RecoveredRaftState> {
  const { wal, recovered } = await RaftWal.open(options(root));
  await wal.close();
  return recovered;
}

/** Writes a few saves, then the last one; returns the segment size before it and the states. */
async function logWithLastSave(root: string, last: 'entry' | 'hard-state') {
  const { wal } = await RaftWal.open(options(root));
  await wal.save({ hardState: hardState(1, 1, 0), entries: entries(1, 3, 1) });
  await wal.save({ hardState: hardState(1, 1, 2), entries: entries(4, 4, 1, 600) });
  const before = (await stat(segmentPath(root))).size;
  if (last === 'entry') await wal.save({ entries: entries(5, 5, 1, 700) });
  else await wal.save({ hardState: hardState(1, 1, 4) });
  await wal.close();
  const after = (await stat(segmentPath(root))).size;
  return {
    before,
    after,
    durableBefore: {
      hardState: hardState(1, 1, 2),
      snapshot: undefined,
      entries: plain([...entries(1, 3, 1), ...entries(4, 4, 1, 600)]),
    },
  };
}

for (const last of ['entry', 'hard-state'] as const) {
  test(`the last record (${last}) torn at every byte offset reopens to the state before it, and the log goes on`, () =>
    withTempDir(async (root) => {
      const pristine = path.join(root, 'pristine');
      const { before, after, durableBefore } = await logWithLastSave(pristine, last);
      assert.ok(after - before > 12, 'the last record has a frame and a body');
      const scratch = path.join(root, 'scratch');
      for (let length = before; length < after; length++) {
        await rm(scratch, { recursive: true, force: true });
        await cp(pristine, scratch, { recursive: true });
        await truncate(segmentPath(scratch), length);
        const { wal, recovered } = await RaftWal.open(options(scratch));
        assert.deepEqual(recovered, durableBefore, `cut at byte ${length}`);
        assert.equal((await stat(segmentPath(scratch))).size, before, `torn bytes removed at ${length}`);
        // The log takes saves after the cut, and they survive another reopen.
        await wal.save({ entries: entries(5, 5, 2), hardState: hardState(2, 2, 5) });
        await wal.close();
        const again = await reopen(scratch);
        assert.deepEqual(again.entries.at(-1), plain(entries(5, 5, 2))[0], `save after the cut at ${length}`);
        assert.deepEqual(again.hardState, hardState(2, 2, 5));
      }
    }));
}

test('a tail of zeros (space allocated but never written, as after a power loss) counts as torn', () =>
  withTempDir(async (root) => {
    const { durableBefore, before } = await logWithLastSave(root, 'entry');
    await truncate(segmentPath(root), before + 20);
    await appendFile(segmentPath(root), Buffer.alloc(1500));
    assert.deepEqual(await reopen(root), durableBefore);
  }));

/** Offsets and sizes of the records in the channel's first segment. */
async function recordSpans(root: string): Promise<{ offset: number; end: number }[]> {
  const bytes = await readFile(segmentPath(root));
  const { records } = decodeRecords(bytes);
  return records.map((r, i) => ({ offset: r.offset, end: records[i + 1]?.offset ?? bytes.length }));
}

async function flipByte(file: string, at: number): Promise<void> {
  const bytes = await readFile(file);
  bytes[at] = bytes[at]! ^ 0x5a;
  await writeFile(file, bytes);
}

test('a flipped byte anywhere in a middle record is refused with a typed error naming file and offset', () =>
  withTempDir(async (root) => {
    const pristine = path.join(root, 'pristine');
    await logWithLastSave(pristine, 'entry');
    const spans = await recordSpans(pristine);
    const middle = spans[Math.floor(spans.length / 2)]!;
    const scratch = path.join(root, 'scratch');
    for (let at = middle.offset; at < middle.end; at++) {
      await rm(scratch, { recursive: true, force: true });
      await cp(pristine, scratch, { recursive: true });
      await flipByte(segmentPath(scratch), at);
      await assert.rejects(RaftWal.open(options(scratch)), (err: unknown) => {
        assert.ok(isRaftStorageError(err, 'wal-corrupt'), String(err));
        assert.equal(err.details.file, segmentPath(scratch));
        assert.equal(err.details.offset, middle.offset, `flip at ${at}`);
        assert.ok(
          err.message.includes(`${segmentPath(scratch)} at byte offset ${middle.offset}`),
          err.message,
        );
        assert.match(err.message, /Restore .* from a backup/);
        return true;
      });
      // Refusing is all it does: the damaged file is left as it was for the operator.
      assert.equal((await stat(segmentPath(scratch))).size, spans.at(-1)!.end);
    }
  }));

test('a flipped byte in the last record is damage too, not a torn write', () =>
  withTempDir(async (root) => {
    await logWithLastSave(root, 'entry');
    const last = (await recordSpans(root)).at(-1)!;
    await flipByte(segmentPath(root), last.offset + 40);
    await assert.rejects(RaftWal.open(options(root)), (err: unknown) => {
      assert.ok(isRaftStorageError(err, 'wal-corrupt'));
      assert.equal(err.details.offset, last.offset);
      return true;
    });
  }));

test('missing segments and a damaged snap file are refused with typed errors', () =>
  withTempDir(async (root) => {
    const { wal } = await RaftWal.open({ ...options(root), segmentSizeBytes: 300 });
    for (let index = 1; index <= 16; index++)
      await wal.save({ entries: entries(index, index, 1, 100), hardState: hardState(1, 1, index) });
    await wal.saveSnapshot({
      data: Buffer.from('the block'),
      metadata: {
        index: 6,
        term: 1,
        confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      },
    });
    await wal.flush();
    await wal.close();
    const walDir = path.join(root, 'wal', 'ch');
    const snapFile = path.join(root, 'snap', 'ch', '0000000000000001-0000000000000006.snap');

    const snapBytes = await readFile(snapFile);
    await flipByte(snapFile, snapBytes.length - 3);
    await assert.rejects(RaftWal.open(options(root)), (err: unknown) => {
      assert.ok(isRaftStorageError(err, 'snapshot-corrupt'), String(err));
      assert.equal(err.details.file, snapFile);
      assert.match(err.message, /fails its CRC-32 check/);
      return true;
    });
    await rm(snapFile);
    await assert.rejects(RaftWal.open(options(root)), /cannot be used: the file does not exist/);
    await writeFile(snapFile, snapBytes);
    assert.equal((await reopen(root)).snapshot?.metadata.index, 6);

    const segments = (await readdir(walDir)).sort();
    assert.ok(segments.length >= 4, `segments: ${segments.join(', ')}`);
    const pristine = path.join(root, 'pristine');
    await cp(root + '/wal', pristine, { recursive: true });
    await rm(path.join(walDir, segments[1]!));
    await assert.rejects(RaftWal.open(options(root)), (err: unknown) => {
      assert.ok(isRaftStorageError(err, 'wal-corrupt'), String(err));
      assert.match(err.message, /segment seq \d+ is missing before it/);
      return true;
    });
    // Without its oldest segment, entries after the snapshot are in no file.
    await rm(path.join(root, 'wal'), { recursive: true });
    await cp(pristine, path.join(root, 'wal'), { recursive: true });
    await rm(path.join(walDir, segments[0]!));
    await assert.rejects(RaftWal.open(options(root)), (err: unknown) => {
      assert.ok(isRaftStorageError(err, 'wal-corrupt'), String(err));
      assert.match(err.message, /entries 7\.\.\d+ are in no segment/);
      return true;
    });
  }));
