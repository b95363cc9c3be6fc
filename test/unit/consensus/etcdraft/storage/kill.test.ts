// A real crash: a child process saves entries and reports each durable one; SIGKILL it mid-run,
// reopen, and every entry it reported must be there, intact, with no gap before the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RaftWal } from '../../../../../src/consensus/etcdraft/storage/index.js';
import { withTempDir } from '../../../../support/ledger.js';
import { killTestEntry } from '../../../../support/raft-wal-kill.js';
import { plain } from './recording-fs.js';

const childScript = fileURLToPath(new URL('../../../../support/raft-wal-child.ts', import.meta.url));

async function saveUntilKilled(
  root: string,
  segmentSizeBytes: number,
  snapshotEvery: number,
  entryBytes: number,
  killAfter: number,
) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      childScript,
      root,
      String(segmentSizeBytes),
      String(snapshotEvery),
      String(entryBytes),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let highest = 0;
  let previous = 0;
  let stderr = '';
  let buffered = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      const match = /^durable (\d+)$/.exec(line);
      if (!match) continue;
      const index = Number(match[1]);
      // Saves resolve in the order they were made.
      assert.equal(index, previous + 1, `durable ${index} reported after ${previous}`);
      previous = index;
      highest = index;
    }
    if (highest >= killAfter && child.exitCode === null) child.kill('SIGKILL');
  });
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
    child.on('exit', (c, s) => resolve([c, s])),
  );
  assert.equal(signal, 'SIGKILL', `child ended with code ${code}: ${stderr}`);
  return highest;
}

for (const { name, segmentSizeBytes, snapshotEvery, entryBytes, killAfter } of [
  { name: 'in one segment', segmentSizeBytes: 64_000_000, snapshotEvery: 0, entryBytes: 400, killAfter: 400 },
  {
    name: 'while cutting small segments and pruning after snapshots',
    segmentSizeBytes: 4096,
    snapshotEvery: 25,
    entryBytes: 400,
    killAfter: 400,
  },
  {
    name: 'with entries of hundreds of KB (writes of many pages)',
    segmentSizeBytes: 2_000_000,
    snapshotEvery: 25,
    entryBytes: 200_000,
    killAfter: 80,
  },
]) {
  test(`kill -9 during saves ${name}: every save reported durable survives, nothing after a gap`, () =>
    withTempDir(async (root) => {
      const reported = await saveUntilKilled(root, segmentSizeBytes, snapshotEvery, entryBytes, killAfter);
      assert.ok(reported >= killAfter);

      const options = {
        walDir: `${root}/wal`,
        snapDir: `${root}/snap`,
        channel: 'killtest',
        segmentSizeBytes,
      };
      const { wal, recovered } = await RaftWal.open(options);
      const first = (recovered.snapshot?.metadata.index ?? 0) + 1;
      if (snapshotEvery > 0) assert.ok(first > 1, 'the child took snapshots');
      const last = first + recovered.entries.length - 1;
      assert.ok(last >= reported, `the log ends at ${last}, before the reported ${reported}`);
      const expected = [];
      for (let index = first; index <= last; index++) expected.push(killTestEntry(index, entryBytes));
      // Every entry from the snapshot to the end, consecutive and byte for byte what was saved.
      assert.deepEqual(recovered.entries, plain(expected));
      assert.ok(recovered.hardState.commit >= reported - 1, `commit ${recovered.hardState.commit}`);
      assert.ok(recovered.hardState.commit <= last);

      // The log goes on after the crash, and that survives a reopen too.
      await wal.save({
        entries: [killTestEntry(last + 1, entryBytes)],
        hardState: { term: 1, vote: 1, commit: last },
      });
      await wal.close();
      const again = await RaftWal.open(options);
      assert.deepEqual(again.recovered.entries.at(-1), plain([killTestEntry(last + 1, entryBytes)])[0]);
      await again.wal.close();
      if (snapshotEvery > 0) {
        assert.ok((await readdir(path.join(root, 'snap', 'killtest'))).length <= 4);
        assert.ok((await readdir(path.join(root, 'wal', 'killtest'))).length > 1);
      }
    }));
}
