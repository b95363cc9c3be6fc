// The yardstick is the mean of a measurement before and one after the load, and says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { combineVerifyRates, measureVerifyRate } from '../../../src/bench/verify-rate.js';

test('combineVerifyRates: the mean rate, both samples kept, durations added', () => {
  const combined = combineVerifyRates([
    { perSecond: 10_000, messageBytes: 2055, durationMs: 1000 },
    { perSecond: 14_000, messageBytes: 2055, durationMs: 1001 },
  ]);
  assert.deepEqual(combined, {
    perSecond: 12_000,
    messageBytes: 2055,
    durationMs: 2001,
    samples: [10_000, 14_000],
  });
  assert.throws(() => combineVerifyRates([]), /no verify rate measured/);
});

test('measureVerifyRate measures real verifications of the given message size', () => {
  const rate = measureVerifyRate(1024, 50);
  assert.equal(rate.messageBytes, 1024);
  assert.ok(rate.durationMs >= 50);
  assert.ok(rate.perSecond > 100, `${rate.perSecond} verifies/s`);
});
