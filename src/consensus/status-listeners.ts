// The listeners of one chain's Chain.onStatusChange: a chain calls notify() right after anything
// errored() reads has changed (started, failed, halted, leader gained or lost, consumer error), so
// a waiting STRICT Deliver re-reads errored() at once instead of polling it.

export class StatusListeners {
  private readonly listeners = new Set<() => void>();

  /** Adds a listener; the returned function removes it (calling it twice is harmless). */
  add(listener: () => void): () => void {
    // A wrapper per registration, so the same function registered twice is removed once per call.
    const registration = () => listener();
    this.listeners.add(registration);
    return () => void this.listeners.delete(registration);
  }

  /**
   * Tells every listener registered now, synchronously. A listener that throws is a bug in it; it
   * must not stop the others or the chain's own state change, so, as EventTarget does, the error
   * is reported as uncaught on a later turn, after every listener was called.
   */
  notify(): void {
    let firstError: unknown;
    let failed = false;
    for (const listener of [...this.listeners]) {
      try {
        listener();
      } catch (err) {
        if (!failed) firstError = err;
        failed = true;
      }
    }
    if (failed)
      queueMicrotask(() => {
        throw firstError;
      });
  }

  get size(): number {
    return this.listeners.size;
  }
}
