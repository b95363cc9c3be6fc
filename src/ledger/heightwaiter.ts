// Wakes readers waiting for the chain to grow. One shared promise per height step: an append
// resolves it once and replaces it, so a thousand idle Deliver streams cost one resolution,
// not a thousand timers or polls.

export class LedgerAbortError extends Error {
  override readonly name = 'AbortError';
  readonly code = 'ABORT_ERR';
}

export class HeightWaiter {
  private step = newStep();
  private closedError: LedgerAbortError | undefined;

  constructor(
    private readonly channelId: string,
    private readonly currentHeight: () => number,
  ) {}

  /** Call after height() grew. */
  notify(): void {
    const done = this.step;
    this.step = newStep();
    done.resolve();
  }

  /** Rejects every current and future wait. */
  close(): void {
    this.closedError ??= new LedgerAbortError(`the ledger of channel ${this.channelId} was closed`);
    this.notify();
  }

  async waitForBlock(number: number, signal?: AbortSignal): Promise<void> {
    while (this.currentHeight() <= number) {
      if (this.closedError) throw this.closedError;
      if (signal?.aborted) throw abortError(this.channelId, number, signal);
      await this.nextStep(number, signal);
    }
  }

  private nextStep(number: number, signal: AbortSignal | undefined): Promise<void> {
    const step = this.step.promise;
    if (!signal) return step;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(abortError(this.channelId, number, signal));
      signal.addEventListener('abort', onAbort, { once: true });
      void step.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}

function abortError(channelId: string, number: number, signal: AbortSignal): LedgerAbortError {
  return new LedgerAbortError(`waiting for block ${number} of channel ${channelId} was aborted`, {
    cause: signal.reason,
  });
}

function newStep(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
