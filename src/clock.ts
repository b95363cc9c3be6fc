// Time is a dependency: block cutting, batch timers, Kafka time-to-cut, Raft ticks and
// certificate expiry all read it through a Clock so that tests never sleep. Every component takes
// its clock from the composition root (src/server/orderer.ts); none falls back to systemClock.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /**
   * Milliseconds on a monotonic clock with sub-millisecond resolution, for measuring durations
   * (wall-clock time can step and has whole milliseconds).
   */
  elapsed(): number;
  /** Calls fn once after ms milliseconds unless cancelled first. */
  setTimer(ms: number, fn: () => void): TimerHandle;
  /**
   * Calls fn every intervalMs milliseconds (first after one interval) until cancelled, e.g. Raft's
   * tick. intervalMs must be a positive finite number.
   */
  setTicker(intervalMs: number, fn: () => void): TimerHandle;
}

function checkInterval(intervalMs: number): void {
  // A zero interval would fire without end within one advance() (ManualClock) or spin the event
  // loop (setInterval rounds it up to 1 ms), so it is a caller's mistake, not a fast ticker.
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
    throw new RangeError(
      `a ticker interval must be a positive number of milliseconds (got ${intervalMs}); check the configured tick interval`,
    );
  }
}

/** Wall-clock time and Node's timers; unref'd, so a pending timer or ticker never keeps the process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  elapsed: () => performance.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
  setTicker(intervalMs, fn) {
    checkInterval(intervalMs);
    const t = setInterval(fn, intervalMs);
    t.unref?.();
    return { cancel: () => clearInterval(t) };
  },
};

interface ScheduledCall {
  due: number;
  /** Order among calls due at the same time: the one scheduled (or rescheduled) first fires first. */
  seq: number;
  readonly fn: () => void;
  /** Set for tickers: rescheduled this much later each time it fires. */
  readonly interval?: number;
}

/**
 * A clock for tests: time moves only when advance() is called; due timers and ticks fire in time
 * order (ties in the order they were scheduled).
 */
export class ManualClock implements Clock {
  private current: number;
  private nextId = 0;
  private nextSeq = 0;
  private readonly scheduled = new Map<number, ScheduledCall>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  /** Logical time is its own monotonic clock. */
  elapsed(): number {
    return this.current;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    return this.schedule({ due: this.current + Math.max(0, ms), seq: this.nextSeq++, fn });
  }

  setTicker(intervalMs: number, fn: () => void): TimerHandle {
    checkInterval(intervalMs);
    return this.schedule({ due: this.current + intervalMs, seq: this.nextSeq++, fn, interval: intervalMs });
  }

  /** Timers not yet fired or cancelled, and tickers not cancelled. */
  get pendingTimers(): number {
    return this.scheduled.size;
  }

  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let nextId: number | undefined;
      let next: ScheduledCall | undefined;
      for (const [id, call] of this.scheduled) {
        if (call.due > target) continue;
        if (!next || call.due < next.due || (call.due === next.due && call.seq < next.seq)) {
          next = call;
          nextId = id;
        }
      }
      if (next === undefined || nextId === undefined) break;
      this.current = next.due;
      if (next.interval === undefined) {
        this.scheduled.delete(nextId);
      } else {
        // Rescheduled before fn runs, so fn may cancel its own ticker.
        next.due += next.interval;
        next.seq = this.nextSeq++;
      }
      next.fn();
    }
    this.current = target;
  }

  private schedule(call: ScheduledCall): TimerHandle {
    const id = this.nextId++;
    this.scheduled.set(id, call);
    return { cancel: () => this.scheduled.delete(id) };
  }
}
