// Segment rotation and pruning: the log is cut into segments at the configured size and reads back
// whole across them; after a snapshot, segments wholly at or below its index and snap files beyond
// the newest N go, and the log reopens from what is left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RaftWal, type Snapshot } from '../../../../../src/consensus/etcdraft/storage/index.js';
import { parseSegmentName } from '../../../../../src/consensus/etcdraft/storage/segments.js';
import { withTempDir } from '../../../../support/ledger.js';
import { entries, hardState, plain } from './recording-fs.js';

function options(root: string) {
  return {
    walDir: path.join(root, 'wal'),
    snapDir: path.join(root, 'snap'),
    channel: 'ch',
    segmentSizeBytes: 1000,
    maxSnapshotFiles: 4,
  };
}

function snapshot(index: number, term: number): Snapshot {
  return {
    data: Buffer.from(`block at ${index}`),
    metadata: {
      index,
      term,
      confState: { voters: [1, 2, 3], learners: [4], votersOutgoing: [], learnersNext: [], autoLeave: false },
    },
  };
}

const walFiles = async (root: string) => (await readdir(path.join(root, 'wal', 'ch'))).sort();
const snapFiles = async (root: string) => (await readdir(path.join(root, 'snap', 'ch'))).sort();

test('the log is cut into segments at the configured size and reads back whole across them', () =>
  withTempDir(async (root) => {
    const { wal } = await RaftWal.open(options(root));
    for (let index = 1; index <= 60; index++)
      await wal.save({ entries: entries(index, index, 1, 150), hardState: hardState(1, 1, index - 1) });
    // A leader change rewrites 55..60 from the middle of an older segment's range.
    await wal.save({ entries: entries(55, 58, 2, 10), hardState: hardState(2, 2, 54) });
    await wal.close();
    const files = await walFiles(root);
    assert.ok(files.length >= 8, `segments: ${files.join(', ')}`);
    const infos = files.map((name) => parseSegmentName(name)!);
    assert.deepEqual(
      infos.map((info) => info.seq),
      infos.map((_, i) => i),
    );
    // Each segment is named after the index the next entry was expected at when it was cut.
    for (let i = 1; i < infos.length; i++) assert.ok(infos[i]!.firstIndex > infos[i - 1]!.firstIndex);

    const reopened = await RaftWal.open(options(root));
    assert.deepEqual(
      reopened.recovered.entries,
      plain([...entries(1, 54, 1, 150), ...entries(55, 58, 2, 10)]),
    );
    assert.deepEqual(reopened.recovered.hardState, hardState(2, 2, 54));
    await reopened.wal.close();
  }));

test('after snapshots, segments wholly below the snapshot and snap files beyond the newest 4 are removed', () =>
  withTempDir(async (root) => {
    const { wal } = await RaftWal.open(options(root));
    let index = 0;
    const snapshotAt: number[] = [];
    for (let round = 1; round <= 6; round++) {
      for (let i = 0; i < 10; i++) {
        index++;
        await wal.save({ entries: entries(index, index, 1, 150), hardState: hardState(1, 1, index) });
      }
      // As Fabric's chain: snapshot at the applied index once enough data has been applied.
      const at = index - 2;
      await wal.saveSnapshot(snapshot(at, 1));
      snapshotAt.push(at);
      await wal.flush();
      const segments = wal.segmentFiles();
      // Every segment left holds an entry above the snapshot, except the one being written.
      for (let i = 0; i + 1 < segments.length; i++)
        assert.ok(
          segments[i + 1]!.firstIndex - 1 > at,
          `segment ${segments[i]!.name} is below snapshot ${at}`,
        );
      assert.ok(segments[0]!.firstIndex <= at + 1, 'the entries after the snapshot are all still there');
    }
    assert.ok(wal.stats.segmentsPruned > 0);
    assert.equal(wal.stats.snapFilesPruned, 2);
    assert.deepEqual(
      await snapFiles(root),
      snapshotAt.slice(-4).map((at) => `0000000000000001-${at.toString(16).padStart(16, '0')}.snap`),
    );
    const onDisk = await walFiles(root);
    assert.deepEqual(
      onDisk,
      wal.segmentFiles().map((s) => s.name),
    );
    await wal.close();

    const reopened = await RaftWal.open(options(root));
    const last = snapshotAt.at(-1)!;
    assert.equal(reopened.recovered.snapshot?.metadata.index, last);
    assert.deepEqual(reopened.recovered.snapshot?.metadata.confState.learners, [4]);
    assert.deepEqual(reopened.recovered.entries, plain(entries(last + 1, index, 1, 150)));
    assert.deepEqual(reopened.recovered.hardState, hardState(1, 1, index));
    await reopened.wal.save({ entries: entries(index + 1, index + 1, 1) });
    await reopened.wal.close();
  }));

test('a segment temp file left by a crash while cutting is removed and the previous segment goes on', () =>
  withTempDir(async (root) => {
    const { wal } = await RaftWal.open(options(root));
    await wal.save({ entries: entries(1, 2, 1), hardState: hardState(1, 1, 2) });
    await wal.close();
    const dir = path.join(root, 'wal', 'ch');
    await writeFile(path.join(dir, '0000000000000001-0000000000000003.wal.tmp'), Buffer.alloc(40));
    const reopened = await RaftWal.open(options(root));
    assert.deepEqual(reopened.recovered.entries, plain(entries(1, 2, 1)));
    await reopened.wal.save({ entries: entries(3, 3, 1) });
    await reopened.wal.close();
    assert.deepEqual(await walFiles(root), ['0000000000000000-0000000000000001.wal']);
  }));
