// Fabric's Kafka retry schedule (retry.go): one attempt, then ShortInterval attempts for ShortTotal,
// then LongInterval attempts for LongTotal; halting stops it at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../../src/clock.js';
import { RetriesExhausted, RetryAborted, retry } from '../../../../src/consensus/kafka/index.js';

const POLICY = { shortIntervalMs: 100, shortTotalMs: 300, longIntervalMs: 1000, longTotalMs: 2000 };

async function settle() {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

test('attempts at 0, every short interval for ShortTotal, then every long interval for LongTotal', async () => {
  const clock = new ManualClock();
  const start = clock.now();
  const times: number[] = [];
  const outcome = retry('step', POLICY, { clock, signal: new AbortController().signal }, async () => {
    times.push(clock.now() - start);
    throw new Error('down');
  });
  const settled = outcome.catch((e: unknown) => e);
  for (let i = 0; i < 40; i++) {
    await settle();
    clock.advance(100);
  }
  const error = await settled;
  assert.deepEqual(times, [0, 100, 200, 300, 1300, 2300]);
  assert.ok(error instanceof RetriesExhausted);
  assert.equal(error.attempts, 6);
  assert.match(error.message, /step: gave up after 6 attempts.*last error: down/);
});

test('succeeds as soon as an attempt does, reporting each failure', async () => {
  const clock = new ManualClock();
  const failures: number[] = [];
  let calls = 0;
  const outcome = retry(
    'step',
    POLICY,
    { clock, signal: new AbortController().signal, onFailure: (_e, n) => failures.push(n) },
    async () => {
      if (++calls < 3) throw new Error('not yet');
      return 'ok';
    },
  );
  for (let i = 0; i < 5; i++) {
    await settle();
    clock.advance(100);
  }
  assert.equal(await outcome, 'ok');
  assert.deepEqual(failures, [1, 2]);
});

test('a failure that cannot pass is thrown at once; an abort stops waiting', async () => {
  const clock = new ManualClock();
  const fatal = new Error('bad config');
  await assert.rejects(
    retry(
      'step',
      POLICY,
      { clock, signal: new AbortController().signal, isRetriable: () => false },
      async () => {
        throw fatal;
      },
    ),
    (e) => e === fatal,
  );
  const stop = new AbortController();
  const outcome = retry('step', POLICY, { clock, signal: stop.signal }, async () => {
    throw new Error('down');
  });
  await settle();
  stop.abort();
  await assert.rejects(outcome, (e) => e instanceof RetryAborted && /halting/.test(e.message));
  assert.equal(clock.pendingTimers, 0);
});
