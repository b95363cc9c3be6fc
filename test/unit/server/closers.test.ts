// The closer stack start-up uses to undo a part-way start and stop() uses to close everything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloserStack, once } from '../../../src/server/closers.js';

test('closes newest first, each once, past a failing closer, and reports the failures', async () => {
  const closed: string[] = [];
  const stack = new CloserStack();
  stack.push('operations server', () => {
    closed.push('operations server');
  });
  stack.push('ledger', async () => {
    await Promise.resolve();
    closed.push('ledger');
  });
  stack.push('channels', () => {
    throw new Error('halt failed');
  });
  stack.push('admin server', async () => {
    closed.push('admin server');
  });
  assert.deepEqual(stack.names(), ['operations server', 'ledger', 'channels', 'admin server']);

  const failures = await stack.closeAll();
  assert.deepEqual(closed, ['admin server', 'ledger', 'operations server']);
  assert.equal(failures.length, 1);
  assert.equal(failures[0]!.name, 'channels');
  assert.match((failures[0]!.error as Error).message, /halt failed/);
  assert.deepEqual(stack.names(), []);

  // A second close (stop() after a failure, or twice) closes nothing again.
  assert.equal(await stack.closeAll(), failures);
  assert.deepEqual(closed, ['admin server', 'ledger', 'operations server']);
  assert.throws(
    () => stack.push('late', () => {}),
    /cannot register late: the resources are already being closed/,
  );
});

test('once runs the function a single time and shares its promise', async () => {
  let runs = 0;
  const stop = once(async () => {
    runs++;
  });
  const first = stop();
  assert.equal(stop(), first);
  await first;
  assert.equal(runs, 1);
});
