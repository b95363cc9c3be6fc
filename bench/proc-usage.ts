// What the comparison reads off /proc (Linux) around each round: the machine's CPU time split into
// busy, idle and iowait (/proc/stat, first line), and each thread's CPU time of a process
// (/proc/<pid>/task/<tid>/stat), so the report can tell "one thread saturated" from "cores busy"
// from "waiting on the disk".
import { readdirSync, readFileSync } from 'node:fs';
import { sampleProcess, type ProcessSample } from '../src/bench/index.js';

/** Cumulative CPU ticks of the whole machine (all cores). */
export interface MachineTicks {
  readonly busy: number;
  readonly idle: number;
  readonly iowait: number;
}

export function readMachineTicks(): MachineTicks | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number) as number[];
    return {
      busy: user! + nice! + system! + irq! + softirq! + (steal ?? 0),
      idle: idle!,
      iowait: iowait!,
    };
  } catch {
    return undefined;
  }
}

/** CPU ticks (utime + stime) of each thread of pid, by thread ID. */
export function readThreadTicks(pid: number): Map<number, number> {
  const ticks = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return ticks;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks.set(Number(tid), Number(fields[11]) + Number(fields[12]));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return ticks;
}

/** One reading of everything a round compares, taken at the start and at the end of its load. */
export interface UsageReading {
  readonly atMs: number;
  readonly orderer: ProcessSample | undefined;
  readonly ordererThreads: Map<number, number>;
  readonly machine: MachineTicks | undefined;
  readonly client: NodeJS.CpuUsage;
}

/**
 * Reads the orderer processes of one side (one, or every node of a cluster): their CPU summed,
 * their largest RSS, every thread of each.
 */
export function readUsage(ordererPids: readonly number[], now: () => number): UsageReading {
  const samples = ordererPids.map(sampleProcess);
  const threads = new Map<number, number>();
  // Thread IDs are unique across the machine, so the nodes' threads share one map.
  for (const pid of ordererPids) for (const [tid, ticks] of readThreadTicks(pid)) threads.set(tid, ticks);
  const alive = samples.filter((s): s is ProcessSample => s !== undefined);
  return {
    atMs: now(),
    orderer:
      alive.length === samples.length && alive.length > 0
        ? {
            cpuSeconds: alive.reduce((sum, s) => sum + s.cpuSeconds, 0),
            rssBytes: Math.max(...alive.map((s) => s.rssBytes)),
            peakRssBytes: Math.max(...alive.map((s) => s.peakRssBytes)),
          }
        : undefined,
    ordererThreads: threads,
    machine: readMachineTicks(),
    client: process.cpuUsage(),
  };
}
