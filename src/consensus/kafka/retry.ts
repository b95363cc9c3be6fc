// Fabric's Kafka retry process (orderer/consensus/kafka/retry.go): try once; on failure try again every
// Kafka.Retry.ShortInterval until ShortTotal has passed, then every LongInterval until LongTotal has
// passed, then give up with the last error. Stops at once when the signal aborts (the chain halts).
import type { Clock } from '../../clock.js';

export interface RetryPolicy {
  shortIntervalMs: number;
  shortTotalMs: number;
  longIntervalMs: number;
  longTotalMs: number;
}

export interface RetryDependencies {
  clock: Clock;
  signal: AbortSignal;
  /** Told about each failed attempt before the wait. */
  onFailure?: (error: unknown, attempt: number) => void;
  /** False: give up at once with this error (it cannot pass by trying again). Default: always retry. */
  isRetriable?: (error: unknown) => boolean;
}

/** Thrown when the signal aborted the retries. */
export class RetryAborted extends Error {
  constructor(what: string) {
    super(`${what}: stopped because the chain is halting`);
    this.name = 'RetryAborted';
  }
}

/** Thrown when every attempt allowed by the policy failed; cause is the last failure. */
export class RetriesExhausted extends Error {
  readonly attempts: number;
  constructor(what: string, attempts: number, policy: RetryPolicy, cause: unknown) {
    super(
      `${what}: gave up after ${attempts} attempts over ${Math.round((policy.shortTotalMs + policy.longTotalMs) / 1000)} s ` +
        `(Kafka.Retry.ShortTotal + LongTotal); last error: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = 'RetriesExhausted';
    this.attempts = attempts;
  }
}

/** Resolves after ms on clock, or at once when signal aborts (never rejects). */
export function waitOrAbort(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      timer.cancel();
      resolve();
    };
    const timer = clock.setTimer(ms, () => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export async function retry<T>(
  what: string,
  policy: RetryPolicy,
  deps: RetryDependencies,
  attempt: () => Promise<T>,
): Promise<T> {
  const { clock, signal } = deps;
  let attempts = 0;
  let lastError: unknown;
  const run = async (): Promise<{ ok: true; value: T } | { ok: false }> => {
    if (signal.aborted) throw new RetryAborted(what);
    attempts++;
    try {
      return { ok: true, value: await attempt() };
    } catch (err) {
      if (signal.aborted) throw new RetryAborted(what);
      if (deps.isRetriable && !deps.isRetriable(err)) throw err;
      lastError = err;
      deps.onFailure?.(err, attempts);
      return { ok: false };
    }
  };

  const first = await run();
  if (first.ok) return first.value;
  for (const [intervalMs, totalMs] of [
    [policy.shortIntervalMs, policy.shortTotalMs],
    [policy.longIntervalMs, policy.longTotalMs],
  ] as const) {
    if (intervalMs <= 0 || totalMs <= 0) continue;
    // As Fabric's ticker: one attempt per interval that fits in the total.
    const rounds = Math.max(1, Math.floor(totalMs / intervalMs));
    for (let round = 0; round < rounds; round++) {
      await waitOrAbort(clock, intervalMs, signal);
      const result = await run();
      if (result.ok) return result.value;
    }
  }
  throw new RetriesExhausted(what, attempts, policy, lastError);
}
