// Deliver's writes to a response stream, bounded by the bytes the transport has not taken yet.
//
// A grpc-js call is an object-mode Writable: write() reports "full" only once 16 messages are
// queued, whatever their size, so waiting for 'drain' alone lets a client that stopped reading
// pin 16 blocks per stream in memory (40 such streams of 1 MB blocks held about 600 MB). This
// counts the bytes of every message until the transport took it (its write callback, which grpc-js
// calls once HTTP/2 flow control let the frame out) and lets the sender go on only while fewer
// than `maxPendingBytes` are outstanding, so a stalled stream holds about one block.

/** What the writer needs of a stream: grpc-js's ServerDuplexStream fits. */
export interface FlowControlledStream {
  write(chunk: Buffer, callback: (error?: Error | null) => void): boolean;
  once(event: 'drain', listener: () => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
}

export interface StreamWriterOptions {
  /**
   * Bytes written but not yet taken by the transport above which write() waits. Small blocks
   * still pipeline up to this; a block larger than it goes alone.
   */
  maxPendingBytes: number;
}

/** The default bound: one 1 MiB block in flight per stream, many small ones. */
export const DEFAULT_MAX_PENDING_BYTES = 1024 * 1024;

export class StreamWriter {
  private pendingBytes = 0;
  /** The stream's own buffer said full: wait for its 'drain' as well. */
  private full = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly stream: FlowControlledStream,
    private readonly options: StreamWriterOptions = { maxPendingBytes: DEFAULT_MAX_PENDING_BYTES },
  ) {}

  /** Bytes written that the transport has not taken yet. */
  get pending(): number {
    return this.pendingBytes;
  }

  /**
   * Writes `data` and resolves once the stream has room for more: at once while little is
   * outstanding, otherwise when the transport took enough. Rejects with the signal's reason when
   * it aborts first (a cancelled call never calls back, so the signal is what ends the wait).
   */
  async write(data: Buffer, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw signal.reason;
    const length = data.length;
    this.pendingBytes += length;
    const hasRoom = this.stream.write(data, () => {
      this.pendingBytes -= length;
      this.notify();
    });
    if (!hasRoom) {
      this.full = true;
      const onDrain = () => {
        this.full = false;
        this.notify();
      };
      this.stream.once('drain', onDrain);
      try {
        await this.until(() => !this.full, signal);
      } finally {
        this.stream.off('drain', onDrain);
      }
    }
    await this.until(() => this.pendingBytes < this.options.maxPendingBytes, signal);
  }

  private notify(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private async until(ready: () => boolean, signal: AbortSignal): Promise<void> {
    while (!ready()) {
      if (signal.aborted) throw signal.reason;
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          this.waiters.delete(wake);
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          this.waiters.delete(wake);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        this.waiters.add(wake);
      });
    }
  }
}
