// CPU time and memory of a local process from /proc (Linux): /proc/<pid>/stat fields 14-15 (utime,
// stime in clock ticks) and /proc/<pid>/status VmRSS / VmHWM.
import { existsSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ; 100 on every mainstream kernel configuration. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcessSample {
  /** user + system CPU seconds since the process started. */
  readonly cpuSeconds: number;
  readonly rssBytes: number;
  /** Peak RSS (VmHWM). */
  readonly peakRssBytes: number;
}

export function processExists(pid: number): boolean {
  return existsSync(`/proc/${pid}/stat`);
}

/** One sample, or undefined when the process is gone (or /proc is not there). */
export function sampleProcess(pid: number): ProcessSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after its closing ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return {
      cpuSeconds: (utime + stime) / CLOCK_TICKS_PER_SECOND,
      rssBytes: kb('VmRSS'),
      peakRssBytes: kb('VmHWM'),
    };
  } catch {
    return undefined;
  }
}

/** Samples a process periodically while a run goes on. */
export class ProcessMonitor {
  private readonly samples: { atMs: number; sample: ProcessSample }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly pid: number,
    private readonly intervalMs = 250,
  ) {}

  start(): void {
    this.take();
    this.timer = setInterval(() => this.take(), this.intervalMs);
    this.timer.unref();
  }

  stop(): ProcessUsage | undefined {
    if (this.timer) clearInterval(this.timer);
    this.take();
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.atMs === first.atMs) return undefined;
    const rss = this.samples.map((s) => s.sample.rssBytes);
    // "Steady" RSS: the median over the second half of the run, after warm-up.
    const secondHalf = rss.slice(Math.floor(rss.length / 2)).sort((a, b) => a - b);
    return {
      pid: this.pid,
      cpuSeconds: last.sample.cpuSeconds - first.sample.cpuSeconds,
      cpuPercent:
        (100 * (last.sample.cpuSeconds - first.sample.cpuSeconds)) / ((last.atMs - first.atMs) / 1000),
      rssStartBytes: first.sample.rssBytes,
      rssSteadyBytes: secondHalf[Math.floor(secondHalf.length / 2)] ?? last.sample.rssBytes,
      rssMaxBytes: Math.max(...rss),
      rssEndBytes: last.sample.rssBytes,
      peakRssBytes: last.sample.peakRssBytes,
    };
  }

  private take(): void {
    const sample = sampleProcess(this.pid);
    if (sample) this.samples.push({ atMs: performance.now(), sample });
  }
}

export interface ProcessUsage {
  readonly pid: number;
  readonly cpuSeconds: number;
  /** 100 = one core fully busy. */
  readonly cpuPercent: number;
  readonly rssStartBytes: number;
  readonly rssSteadyBytes: number;
  readonly rssMaxBytes: number;
  readonly rssEndBytes: number;
  /** VmHWM: the process's peak RSS since it started. */
  readonly peakRssBytes: number;
}
