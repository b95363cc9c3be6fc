// The general group-commit writer on its own: appends share commits, exclusive tasks run strictly
// between them in request order, groups are capped in bytes, and the first failure stops it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommitWriter, type GroupCommitTarget } from '../../../../../src/wal/index.js';
import { gate } from './recording-fs.js';

/** A target that records each commit and can hold the next one until the test lets it go. */
class RecordingTarget implements GroupCommitTarget<string> {
  readonly log: string[] = [];
  hold: { promise: Promise<void>; open: () => void } | undefined;
  reached = gate();
  fail: Error | undefined;

  async commit(chunks: readonly Uint8Array[], marks: readonly string[]): Promise<void> {
    const hold = this.hold;
    this.hold = undefined;
    this.reached.open();
    if (hold) await hold.promise;
    if (this.fail) throw this.fail;
    this.log.push(`commit ${marks.join(',')} (${chunks.reduce((n, c) => n + c.length, 0)} bytes)`);
  }
}

const bytes = (n: number) => Buffer.alloc(n, 1);

test('appends requested while a commit runs share the next one; exclusive tasks keep their place', async () => {
  const target = new RecordingTarget();
  const writer = new GroupCommitWriter<string>(
    {},
    { target, failure: (cause) => new Error(`stopped: ${cause}`) },
  );
  const held = (target.hold = gate());
  const done: string[] = [];
  const track = (name: string, p: Promise<unknown>) => p.then(() => done.push(name));
  const all = [track('a', writer.append([bytes(1)], 'a'))];
  await target.reached.promise;
  all.push(
    track('b', writer.append([bytes(2)], 'b')),
    track('c', writer.append([bytes(3), bytes(4)], 'c')),
    track(
      'x',
      writer.exclusive(async () => {
        target.log.push('exclusive');
      }),
    ),
    track('d', writer.append([bytes(5)], 'd')),
    track('e', writer.append([], 'e')),
  );
  held.open();
  await Promise.all(all);
  assert.deepEqual(target.log, [
    'commit a (1 bytes)',
    'commit b,c (9 bytes)',
    'exclusive',
    'commit d,e (5 bytes)',
  ]);
  assert.deepEqual(done, ['a', 'b', 'c', 'x', 'd', 'e']);
  assert.deepEqual(writer.stats, { commits: 3, appendsCommitted: 5, bytesCommitted: 15, exclusiveRuns: 1 });
});

test('a group stops growing at maxGroupBytes', async () => {
  const target = new RecordingTarget();
  const writer = new GroupCommitWriter<string>(
    { maxGroupBytes: 10 },
    { target, failure: (c) => new Error(String(c)) },
  );
  const held = (target.hold = gate());
  const first = writer.append([bytes(1)], 'a');
  await target.reached.promise;
  const rest = ['b', 'c', 'd', 'e'].map((mark) => writer.append([bytes(6)], mark));
  held.open();
  await Promise.all([first, ...rest]);
  assert.deepEqual(target.log, ['commit a (1 bytes)', 'commit b,c (12 bytes)', 'commit d,e (12 bytes)']);
});

test('after a failed commit or task every operation, queued or later, gets the same failure', async () => {
  const target = new RecordingTarget();
  const writer = new GroupCommitWriter<string>(
    {},
    { target, failure: (cause) => new Error(`stopped by ${cause}`) },
  );
  const held = (target.hold = gate());
  target.fail = new Error('EIO');
  const failing = writer.append([bytes(1)], 'a');
  await target.reached.promise;
  const queued = writer.exclusive(async () => 'never runs');
  held.open();
  await assert.rejects(failing, /stopped by Error: EIO/);
  await assert.rejects(queued, /stopped by Error: EIO/);
  target.fail = undefined;
  await assert.rejects(writer.append([bytes(1)], 'b'), /stopped by Error: EIO/);
  assert.deepEqual(target.log, []);
  assert.match(String(writer.failed), /EIO/);

  const other = new GroupCommitWriter<string>(
    {},
    { target, failure: (cause) => new Error(`stopped by ${cause}`) },
  );
  await assert.rejects(
    other.exclusive(async () => {
      throw new Error('rename failed');
    }),
    /stopped by Error: rename failed/,
  );
  await assert.rejects(other.append([bytes(1)], 'c'), /rename failed/);
});

test('close rejects what is queued with its reason and waits for the running commit', async () => {
  const target = new RecordingTarget();
  const writer = new GroupCommitWriter<string>({}, { target, failure: (c) => new Error(String(c)) });
  const held = (target.hold = gate());
  const running = writer.append([bytes(1)], 'a');
  await target.reached.promise;
  const queued = writer.append([bytes(1)], 'b');
  const closed = writer.close(new Error('closed for the test'));
  await assert.rejects(queued, /closed for the test/);
  held.open();
  await running;
  await closed;
  await assert.rejects(writer.append([bytes(1)], 'c'), /closed for the test/);
  assert.deepEqual(target.log, ['commit a (1 bytes)']);
});
