// What start-up has opened, so that a failure part-way can undo it and a stop undoes it all: each
// resource registers how to close it right after it exists; closing runs in reverse order (the
// gRPC listener before the ledgers it reads, the ledgers before the operations server that reports
// on them) and goes on past a failing closer, so one stuck resource cannot keep the rest open.

export interface CloseFailure {
  name: string;
  error: unknown;
}

interface Entry {
  name: string;
  close: () => Promise<void> | void;
}

export class CloserStack {
  private readonly entries: Entry[] = [];
  private closing: Promise<CloseFailure[]> | undefined;

  /** Registers a resource; `name` appears in the failures closeAll reports. */
  push(name: string, close: () => Promise<void> | void): void {
    if (this.closing) {
      throw new Error(`cannot register ${name}: the resources are already being closed`);
    }
    this.entries.push({ name, close });
  }

  /** Names of the resources still open, oldest first. */
  names(): string[] {
    return this.entries.map((entry) => entry.name);
  }

  /**
   * Closes every registered resource, newest first, each once. Resolves (never rejects) with the
   * closers that failed; later calls return the same result.
   */
  closeAll(): Promise<CloseFailure[]> {
    this.closing ??= (async () => {
      const failures: CloseFailure[] = [];
      for (let entry = this.entries.pop(); entry; entry = this.entries.pop()) {
        try {
          await entry.close();
        } catch (error) {
          failures.push({ name: entry.name, error });
        }
      }
      return failures;
    })();
    return this.closing;
  }
}

/** `fn` run at most once; every call gets the first call's promise. */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => (result ??= fn());
}
