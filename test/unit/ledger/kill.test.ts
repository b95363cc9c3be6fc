// A real crash: a child process appends blocks and reports each committed one; SIGKILL it mid-run,
// reopen, and every block it reported must be there, intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileBlockStore } from '../../../src/ledger/index.js';
import { makeBlock, withTempDir } from '../../support/ledger.js';
import { systemClock } from '../../../src/clock.js';

const childScript = fileURLToPath(new URL('../../support/ledger-append-child.ts', import.meta.url));

async function appendUntilKilled(
  directory: string,
  maxBlockFileSize: number,
  killAfter: number,
): Promise<number> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', childScript, directory, String(maxBlockFileSize)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let highest = -1;
  let stderr = '';
  let buffered = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      const match = /^committed (\d+)$/.exec(line);
      if (match) highest = Math.max(highest, Number(match[1]));
    }
    if (highest >= killAfter && child.exitCode === null) child.kill('SIGKILL');
  });
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
    child.on('exit', (c, s) => resolve([c, s])),
  );
  assert.equal(signal, 'SIGKILL', `child ended with code ${code}: ${stderr}`);
  return highest;
}

for (const { name, maxBlockFileSize, killAfter } of [
  { name: 'in one block file', maxBlockFileSize: 64 * 1024 * 1024, killAfter: 150 },
  { name: 'while rolling over small block files', maxBlockFileSize: 9000, killAfter: 120 },
]) {
  test(`kill -9 during appends ${name}: every reported block survives intact`, () =>
    withTempDir(async (root) => {
      const directory = path.join(root, 'killtest');
      await mkdir(directory);
      const reported = await appendUntilKilled(directory, maxBlockFileSize, killAfter);
      assert.ok(reported >= killAfter);

      const store = await FileBlockStore.open(
        {
          channelId: 'killtest',
          directory,
          maxBlockFileSize,
          cachedBlocks: 0,
        },
        { clock: systemClock },
      );
      assert.ok(store.height() > reported, `height ${store.height()} lost reported block ${reported}`);
      let previous: Uint8Array = Buffer.alloc(0);
      for (let number = 0; number < store.height(); number++) {
        const expected = makeBlock(number, previous, { seed: 'kill', transactions: 3, transactionSize: 700 });
        assert.deepEqual((await store.getBlock(number))?.bytes, expected.bytes, `block ${number}`);
        previous = expected.headerHash;
      }
      assert.equal(await store.getBlock(store.height()), undefined);
      await store.append(
        makeBlock(store.height(), previous, { seed: 'kill', transactions: 3, transactionSize: 700 }),
      );
      await store.close();
      if (maxBlockFileSize < 10_000) assert.ok((await readdir(directory)).length > 5);
    }));
}
