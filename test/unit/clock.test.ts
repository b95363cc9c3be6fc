import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, systemClock, type Clock, type TimerHandle } from '../../src/clock.js';

const START = Date.UTC(2026, 0, 1);

/** One step of a scenario: schedule, cancel or advance; `fired` is what advance() must fire, in order. */
type Step =
  | { timer: string; ms: number }
  | { ticker: string; every: number; cancelAfter?: number }
  | { cancel: string }
  | { advance: number; fired: string[] };

interface Case {
  readonly name: string;
  readonly steps: Step[];
}

// Every fired call is recorded as "<name>@<elapsed ms>", so the expectations say both the order
// and the time the clock showed when it fired.
const cases: Case[] = [
  {
    name: 'a ticker fires once per interval, first after one interval',
    steps: [
      { ticker: 't', every: 10 },
      { advance: 9, fired: [] },
      { advance: 1, fired: ['t@10'] },
      { advance: 10, fired: ['t@20'] },
    ],
  },
  {
    name: 'one advance across several intervals fires each tick at its own time',
    steps: [
      { ticker: 't', every: 10 },
      { advance: 35, fired: ['t@10', 't@20', 't@30'] },
      { advance: 5, fired: ['t@40'] },
    ],
  },
  {
    name: 'ticks interleave with timers in time order',
    steps: [
      { ticker: 't', every: 10 },
      { timer: 'a', ms: 15 },
      { timer: 'b', ms: 5 },
      { timer: 'c', ms: 31 },
      { advance: 40, fired: ['b@5', 't@10', 'a@15', 't@20', 't@30', 'c@31', 't@40'] },
    ],
  },
  {
    name: 'two tickers interleave; at the same time the one whose tick was scheduled first fires first',
    steps: [
      { ticker: 'fast', every: 10 },
      { ticker: 'slow', every: 15 },
      // slow's tick at 30 was scheduled at 15, fast's at 20.
      { advance: 30, fired: ['fast@10', 'slow@15', 'fast@20', 'slow@30', 'fast@30'] },
    ],
  },
  {
    name: 'a timer due with a tick fires in the order the two were scheduled',
    steps: [
      { timer: 'early', ms: 10 },
      { ticker: 't', every: 10 },
      { timer: 'late', ms: 10 },
      { advance: 10, fired: ['early@10', 't@10', 'late@10'] },
    ],
  },
  {
    name: 'cancel stops a ticker',
    steps: [
      { ticker: 't', every: 10 },
      { advance: 20, fired: ['t@10', 't@20'] },
      { cancel: 't' },
      { advance: 100, fired: [] },
    ],
  },
  {
    name: 'a ticker cancelled from its own callback fires no more, within the same advance too',
    steps: [
      { ticker: 't', every: 10, cancelAfter: 2 },
      { advance: 100, fired: ['t@10', 't@20'] },
    ],
  },
  {
    name: 'cancelling one ticker leaves the others and the timers running',
    steps: [
      { ticker: 'x', every: 10 },
      { ticker: 'y', every: 10 },
      { timer: 'a', ms: 25 },
      { advance: 10, fired: ['x@10', 'y@10'] },
      { cancel: 'x' },
      { advance: 20, fired: ['y@20', 'a@25', 'y@30'] },
    ],
  },
  {
    name: 'a ticker started after time moved counts its interval from then',
    steps: [
      { advance: 7, fired: [] },
      { ticker: 't', every: 10 },
      { advance: 20, fired: ['t@17', 't@27'] },
    ],
  },
];

for (const c of cases) {
  test(`ManualClock: ${c.name}`, () => {
    const clock = new ManualClock(START);
    const handles = new Map<string, TimerHandle>();
    let fired: string[] = [];
    const record = (name: string) => fired.push(`${name}@${clock.now() - START}`);
    for (const step of c.steps) {
      if ('timer' in step) {
        handles.set(
          step.timer,
          clock.setTimer(step.ms, () => record(step.timer)),
        );
      } else if ('ticker' in step) {
        let count = 0;
        const handle = clock.setTicker(step.every, () => {
          record(step.ticker);
          if (++count === step.cancelAfter) handle.cancel();
        });
        handles.set(step.ticker, handle);
      } else if ('cancel' in step) {
        handles.get(step.cancel)!.cancel();
      } else {
        const before = clock.now();
        clock.advance(step.advance);
        assert.deepEqual(fired, step.fired);
        assert.equal(clock.now(), before + step.advance, 'advance() ends at the target time');
        fired = [];
      }
    }
  });
}

test('ManualClock: pendingTimers counts live tickers until they are cancelled', () => {
  const clock = new ManualClock(START);
  const ticker = clock.setTicker(10, () => {});
  clock.setTimer(5, () => {});
  assert.equal(clock.pendingTimers, 2);
  clock.advance(50);
  assert.equal(clock.pendingTimers, 1, 'the timer fired; the ticker is still scheduled');
  ticker.cancel();
  assert.equal(clock.pendingTimers, 0);
});

const badIntervals = [0, -5, Number.NaN, Number.POSITIVE_INFINITY];
for (const [name, clock] of [
  ['ManualClock', new ManualClock(START)],
  ['systemClock', systemClock],
] as [string, Clock][]) {
  test(`${name}: a ticker interval that is not a positive number is refused with the value named`, () => {
    for (const interval of badIntervals) {
      assert.throws(
        () => clock.setTicker(interval, () => {}),
        (err: Error) =>
          err instanceof RangeError &&
          err.message.includes(`(got ${interval})`) &&
          /positive/.test(err.message),
        String(interval),
      );
    }
  });
}

/** Resolves after `count` ticks of a new systemClock ticker, which it then cancels. */
function ticks(count: number, onTick: () => void = () => {}): Promise<void> {
  return new Promise<void>((resolve) => {
    let seen = 0;
    const handle = systemClock.setTicker(1, () => {
      onTick();
      if (++seen === count) {
        handle.cancel();
        resolve();
      }
    });
  });
}

test('systemClock: a ticker fires repeatedly until cancelled', async () => {
  // systemClock's tickers are unref'd: this ref'd handle keeps the test's event loop alive while it
  // waits on ticks (it never fires; nothing here waits on a duration).
  const keepAlive = setInterval(() => {}, 60_000);
  try {
    let first = 0;
    await ticks(3, () => first++);
    assert.equal(first, 3);
    // A second ticker at the same interval ticks three more times; the cancelled one would have
    // ticked along with it.
    await ticks(3);
    assert.equal(first, 3, 'no tick after cancel');
  } finally {
    clearInterval(keepAlive);
  }
});
