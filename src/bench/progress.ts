// Live progress of `orderer bench` on a terminal: one line, rewritten in place about once a second.
// The bench core reports every ~100 ms; redrawing that often flickers and floods a slow terminal.
import type { BenchProgress } from './run.js';

/** Where progress goes: a terminal's stderr in the CLI, a recording fake in tests. */
export interface ProgressWriter {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

export interface TerminalProgressOptions {
  /** Shortest time between two redraws (default 1000 ms); phase changes redraw at once. */
  readonly intervalMs?: number;
  /** Put before each line, e.g. "warm-up". */
  readonly label?: string;
}

export interface TerminalProgressDependencies {
  readonly writer: ProgressWriter;
  /** Milliseconds, monotonic. */
  readonly now: () => number;
}

/** Delivered envelopes per second over the interval since the previous redraw. */
export function deliveryRate(
  previous: { delivered: number; atMs: number } | undefined,
  current: { delivered: number; atMs: number },
): number | undefined {
  if (!previous || current.atMs <= previous.atMs) return undefined;
  return ((current.delivered - previous.delivered) * 1000) / (current.atMs - previous.atMs);
}

export function formatProgressLine(p: BenchProgress, rate: number | undefined, columns = 80): string {
  const done = p.phase === 'signing' ? p.signed : p.delivered;
  const fraction = p.total ? Math.min(1, done / p.total) : 0;
  const rateText = rate === undefined ? '' : ` ${Math.round(rate).toLocaleString('en-US')} tx/s`;
  const label =
    p.phase === 'signing'
      ? `signing ${p.signed}/${p.total}`
      : `${p.phase} sent ${p.sent} acked ${p.acknowledged} delivered ${p.delivered}/${p.total}${rateText}`;
  const barWidth = Math.max(10, Math.min(40, columns - label.length - 12));
  const filled = Math.round(fraction * barWidth);
  return `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${label}`;
}

/**
 * Draws bench progress on a terminal. Writes nothing at all when the writer is not a TTY, so
 * piped or logged stderr never gets carriage returns and escape codes.
 */
export class TerminalProgress {
  private readonly intervalMs: number;
  private readonly label: string;
  private lastDraw: { delivered: number; atMs: number; phase: string } | undefined;
  private drawn = false;

  constructor(
    options: TerminalProgressOptions,
    private readonly deps: TerminalProgressDependencies,
  ) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.label = options.label ? `${options.label} ` : '';
  }

  get active(): boolean {
    return this.deps.writer.isTTY === true;
  }

  update(progress: BenchProgress): void {
    if (!this.active) return;
    const atMs = this.deps.now();
    const last = this.lastDraw;
    if (last && last.phase === progress.phase && atMs - last.atMs < this.intervalMs) return;
    const rate =
      last && progress.phase !== 'signing'
        ? deliveryRate(last, { delivered: progress.delivered, atMs })
        : undefined;
    const columns = this.deps.writer.columns ?? 80;
    this.deps.writer.write(
      `\r${this.label}${formatProgressLine(progress, rate, columns - this.label.length)}\x1b[K`,
    );
    this.drawn = true;
    this.lastDraw = { delivered: progress.delivered, atMs, phase: progress.phase };
  }

  /** Clears the line, so the report that follows starts on a clean line. */
  finish(): void {
    if (this.drawn) this.deps.writer.write('\r\x1b[K');
    this.drawn = false;
    this.lastDraw = undefined;
  }
}
