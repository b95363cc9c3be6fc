// The per-connection stream budget that keeps the orderer ahead of nghttp2's rapid-reset limit:
// the same token bucket (whole seconds, refill up to burst), one token per stream.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/clock.js';
import {
  DEFAULT_STREAM_BUDGET,
  NGHTTP2_RESET_BURST,
  NGHTTP2_RESET_RATE_PER_SECOND,
  StreamBudget,
} from '../../../src/server/h2-streams.js';

function takeUntilDrain(budget: StreamBudget, limit: number): number {
  for (let taken = 1; taken <= limit; taken++) if (budget.take()) return taken;
  return -1;
}

describe('StreamBudget', () => {
  it('by default asks to drain after half of nghttp2 burst, far before nghttp2 would end the connection', () => {
    const budget = new StreamBudget(DEFAULT_STREAM_BUDGET, { clock: new ManualClock() });
    assert.equal(takeUntilDrain(budget, NGHTTP2_RESET_BURST), NGHTTP2_RESET_BURST / 2);
    assert.ok(NGHTTP2_RESET_BURST / 2 < NGHTTP2_RESET_BURST);
  });

  it('never drains a client that opens no more streams a second than the refill rate', () => {
    const clock = new ManualClock();
    const budget = new StreamBudget(DEFAULT_STREAM_BUDGET, { clock });
    for (let second = 0; second < 3600; second++) {
      for (let i = 0; i < NGHTTP2_RESET_RATE_PER_SECOND; i++) assert.equal(budget.take(), false);
      clock.advance(1000);
    }
    assert.ok(budget.remaining > DEFAULT_STREAM_BUDGET.drainAt);
  });

  it('refills by whole seconds, up to the burst', () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 0, 0, 0, 100));
    const budget = new StreamBudget({ burst: 10, ratePerSecond: 3, drainAt: 2 }, { clock });
    for (let i = 0; i < 6; i++) budget.take();
    assert.equal(budget.remaining, 4);
    clock.advance(899); // still the same second
    budget.take();
    assert.equal(budget.remaining, 3);
    clock.advance(1); // the next second: +3
    budget.take();
    assert.equal(budget.remaining, 5);
    clock.advance(60_000); // long idle: back to the burst, not beyond
    budget.take();
    assert.equal(budget.remaining, 9);
  });

  it('asks again for every stream once at the drain mark (the caller drains once)', () => {
    const budget = new StreamBudget({ burst: 4, ratePerSecond: 0, drainAt: 2 }, { clock: new ManualClock() });
    assert.deepEqual(
      [budget.take(), budget.take(), budget.take(), budget.take(), budget.take()],
      [false, true, true, true, true],
    );
    assert.equal(budget.remaining, 0);
  });

  it('refuses a drain mark outside the bucket, saying which', () => {
    assert.throws(
      () => new StreamBudget({ burst: 10, ratePerSecond: 1, drainAt: 10 }, { clock: new ManualClock() }),
      /drainAt \(10\) must be at least 0 and below burst \(10\)/,
    );
  });
});
