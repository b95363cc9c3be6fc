// The group-commit writer with refusesOnly: a failure the target declares whole (a full disk on a
// file that cut itself back) refuses only its group or task; any other failure still stops it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommitWriter, type GroupCommitTarget } from '../../../src/wal/index.js';

class FailingTarget implements GroupCommitTarget<string> {
  readonly log: string[] = [];
  /** Thrown by the next commit, then cleared. */
  failNext: Error | undefined;

  async commit(_chunks: readonly Uint8Array[], marks: readonly string[]): Promise<void> {
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure) throw failure;
    this.log.push(`commit ${marks.join(',')}`);
  }
}

const full = () => Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
const isFull = (err: unknown) => (err as { code?: string }).code === 'ENOSPC';
const bytes = (n: number) => Buffer.alloc(n, 1);

function newWriter(target: FailingTarget) {
  return new GroupCommitWriter<string>(
    {},
    { target, failure: (cause) => new Error(`stopped by ${String(cause)}`), refusesOnly: isFull },
  );
}

test('a refused commit rejects its group with the cause; the writer goes on', async () => {
  const target = new FailingTarget();
  const writer = newWriter(target);
  target.failNext = full();
  await assert.rejects(writer.append([bytes(1)], 'a'), (err: unknown) => {
    assert.ok(err instanceof Error && isFull(err), 'the cause itself, not a stopped-writer error');
    return true;
  });
  assert.equal(writer.failed, undefined);
  await writer.append([bytes(2)], 'b');
  assert.deepEqual(target.log, ['commit b']);
  assert.deepEqual(writer.stats, { commits: 1, appendsCommitted: 1, bytesCommitted: 2, exclusiveRuns: 0 });
});

test('a refused exclusive task rejects only itself; the appends queued behind it are written', async () => {
  const target = new FailingTarget();
  const writer = newWriter(target);
  const task = writer.exclusive(async () => {
    throw full();
  });
  const after = writer.append([bytes(1)], 'c');
  await assert.rejects(task, /no space left/);
  await after;
  assert.deepEqual(target.log, ['commit c']);
  assert.equal(writer.stats.exclusiveRuns, 0, 'a refused task did not run to the end');
});

test('with refusesOnly, any other failure still stops the writer for good', async () => {
  const target = new FailingTarget();
  const writer = newWriter(target);
  target.failNext = new Error('EIO');
  await assert.rejects(writer.append([bytes(1)], 'a'), /stopped by Error: EIO/);
  await assert.rejects(writer.append([bytes(1)], 'b'), /stopped by Error: EIO/);
  assert.deepEqual(target.log, []);
});

test('without refusesOnly a full disk stops the writer like any failure (Raft storage)', async () => {
  const target = new FailingTarget();
  const writer = new GroupCommitWriter<string>(
    {},
    { target, failure: (cause) => new Error(`stopped by ${String(cause)}`) },
  );
  target.failNext = full();
  await assert.rejects(writer.append([bytes(1)], 'a'), /stopped by Error: no space left/);
  await assert.rejects(writer.append([bytes(1)], 'b'), /stopped by Error: no space left/);
});
