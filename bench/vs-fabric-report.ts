// The pure half of `npm run bench -- --vs-fabric`: what one round measured (from the load
// generator's report and two /proc readings), where its limit lay, the rounds of a scenario summed
// up per side with min/median/max, the ratios ours/Fabric, and the table and JSON a reader gets.
import type { BenchReport } from '../src/bench/index.js';
import type { UsageReading } from './proc-usage.js';

export type Side = 'ours' | 'fabric';
export const SIDES: readonly Side[] = ['ours', 'fabric'];
export const SIDE_NAMES: Readonly<Record<Side, string>> = { ours: 'ours', fabric: 'Fabric v2.5.12' };

/** Linux's USER_HZ, the unit of /proc's CPU times. */
const TICKS_PER_SECOND = 100;

/** Where a round's throughput was capped, as far as the readings show. */
export type LimitKind = 'machine-cpu' | 'orderer-thread' | 'client-cpu' | 'disk' | 'waiting';

export interface RoundMeasurement {
  readonly side: Side;
  readonly round: number;
  /** 0 when this side went first in its round, 1 when second (rounds alternate). */
  readonly position: number;
  readonly count: number;
  readonly accepted: number;
  readonly delivered: number;
  readonly blocks: number;
  readonly endToEndTps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Orderer CPU (utime + stime, all threads) over the load, per delivered transaction. */
  readonly cpuUsPerTx: number;
  /** Orderer CPU over the load; 100 = one core busy. */
  readonly ordererCpuPercent: number;
  /** The orderer's busiest thread over the load; 100 = that thread never rested. */
  readonly busiestThreadPercent: number;
  /** The load generator (this process); 100 = one core. */
  readonly clientCpuPercent: number;
  /** The whole machine; 100 = every core busy. */
  readonly machineBusyPercent: number;
  /** CPU time waiting for I/O, as a share of the machine's; 100 = every core waiting. */
  readonly iowaitPercent: number;
  /** Everything else on the machine (other work sharing it); 100 = one core. */
  readonly otherCpuPercent: number;
  /** VmRSS of the orderer right after the round. */
  readonly rssBytes: number;
  readonly limit: LimitKind;
  readonly limitText: string;
  readonly streamErrors: readonly string[];
}

const ratio = (part: number, whole: number) => (whole > 0 ? part / whole : 0);

/** A round's numbers from the load generator's report and the readings at the start and end of its load. */
export function measureRound(input: {
  side: Side;
  round: number;
  position: number;
  report: BenchReport;
  start: UsageReading;
  end: UsageReading;
  rssAfterBytes: number;
  cores: number;
}): RoundMeasurement {
  const { report, start, end, cores } = input;
  const wallSeconds = Math.max(1e-9, (end.atMs - start.atMs) / 1000);
  const ordererCpuSeconds =
    start.orderer && end.orderer ? end.orderer.cpuSeconds - start.orderer.cpuSeconds : 0;
  let busiestTicks = 0;
  for (const [tid, ticks] of end.ordererThreads) {
    busiestTicks = Math.max(busiestTicks, ticks - (start.ordererThreads.get(tid) ?? 0));
  }
  const clientCpuSeconds =
    (end.client.user - start.client.user + end.client.system - start.client.system) / 1e6;
  const machine =
    start.machine && end.machine
      ? {
          busy: end.machine.busy - start.machine.busy,
          idle: end.machine.idle - start.machine.idle,
          iowait: end.machine.iowait - start.machine.iowait,
        }
      : undefined;
  const machineTotal = machine ? machine.busy + machine.idle + machine.iowait : 0;
  const ordererCpuPercent = (100 * ordererCpuSeconds) / wallSeconds;
  const clientCpuPercent = (100 * clientCpuSeconds) / wallSeconds;
  const machineBusyCores = machine ? machine.busy / TICKS_PER_SECOND / wallSeconds : 0;
  const partial = {
    side: input.side,
    round: input.round,
    position: input.position,
    count: report.count,
    accepted: report.accepted,
    delivered: report.delivered,
    blocks: report.blocks,
    endToEndTps: report.endToEndTps,
    p50Ms: report.latencyMs?.p50 ?? NaN,
    p99Ms: report.latencyMs?.p99 ?? NaN,
    cpuUsPerTx: report.delivered > 0 ? (ordererCpuSeconds * 1e6) / report.delivered : NaN,
    ordererCpuPercent,
    busiestThreadPercent: (100 * busiestTicks) / TICKS_PER_SECOND / wallSeconds,
    clientCpuPercent,
    machineBusyPercent: machine ? 100 * ratio(machine.busy, machineTotal) : NaN,
    iowaitPercent: machine ? 100 * ratio(machine.iowait, machineTotal) : NaN,
    otherCpuPercent: Math.max(0, 100 * machineBusyCores - ordererCpuPercent - clientCpuPercent),
    rssBytes: input.rssAfterBytes,
    streamErrors: report.streamErrors,
  };
  return { ...partial, ...diagnoseLimit(partial, cores) };
}

/**
 * The first cap that the readings show, in this order: every core busy (the orderer and the load
 * generator share the machine, so the orderer's share of it is what the ratio compares); one
 * orderer thread never resting (Node's main thread); the load generator's own thread; the disk
 * (fsync: iowait); else nothing was saturated and the run waited (on fsync latency, BatchTimeout
 * or the streams x window in flight).
 */
export function diagnoseLimit(
  m: Pick<
    RoundMeasurement,
    | 'machineBusyPercent'
    | 'busiestThreadPercent'
    | 'ordererCpuPercent'
    | 'clientCpuPercent'
    | 'iowaitPercent'
    | 'otherCpuPercent'
  >,
  cores: number,
): { limit: LimitKind; limitText: string } {
  const pct = (value: number) => `${Math.round(value)}%`;
  const shares = `orderer ${pct(m.ordererCpuPercent)}, client ${pct(m.clientCpuPercent)}, other work ${pct(m.otherCpuPercent)} of a core`;
  if (m.machineBusyPercent >= 90)
    return {
      limit: 'machine-cpu',
      limitText: `machine CPU saturated: ${cores} cores ${pct(m.machineBusyPercent)} busy (${shares})`,
    };
  if (m.busiestThreadPercent >= 90)
    return {
      limit: 'orderer-thread',
      limitText: `one orderer thread saturated (${pct(m.busiestThreadPercent)}; ${shares})`,
    };
  if (m.clientCpuPercent >= 90)
    return { limit: 'client-cpu', limitText: `load generator CPU saturated (${shares})` };
  if (m.iowaitPercent >= 10)
    return {
      limit: 'disk',
      limitText: `disk: iowait ${pct(m.iowaitPercent)} of the machine, fsync-bound (${shares})`,
    };
  return {
    limit: 'waiting',
    limitText: `nothing saturated (machine ${pct(m.machineBusyPercent)} busy, iowait ${pct(m.iowaitPercent)}; ${shares}): waits on fsync latency, BatchTimeout or the window`,
  };
}

export interface Spread {
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

/** min / median / max of the finite values (median of an even count: the mean of the middle two). */
export function spread(values: readonly number[]): Spread {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return { min: NaN, median: NaN, max: NaN };
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { min: sorted[0]!, median, max: sorted[sorted.length - 1]! };
}

/** The compared metrics: how to read each off a round, and the issue's target for ours/Fabric. */
export const METRICS = {
  endToEndTps: { label: 'end-to-end tx/s', better: 'higher', target: 2.0 },
  p50Ms: { label: 'latency p50 ms', better: 'lower', target: undefined },
  p99Ms: { label: 'latency p99 ms', better: 'lower', target: undefined },
  cpuUsPerTx: { label: 'orderer CPU µs/tx', better: 'lower', target: 0.5 },
  rssBytes: { label: 'steady RSS MB', better: 'lower', target: 1.5 },
} as const;
export type MetricName = keyof typeof METRICS;
const METRIC_NAMES = Object.keys(METRICS) as MetricName[];

export interface ScenarioSummary {
  readonly scenario: string;
  readonly rounds: readonly RoundMeasurement[];
  /** Per side, per metric: min / median / max over the rounds. */
  readonly sides: Readonly<Record<Side, Readonly<Record<MetricName, Spread>>>>;
  /** Per metric: ours / Fabric of each round, min / median / max. */
  readonly ratios: Readonly<Record<MetricName, Spread>>;
  /** Per side: the limit seen in most rounds, with its text from the median round. */
  readonly limits: Readonly<Record<Side, { kind: LimitKind; text: string; rounds: number }>>;
  /** Whether both sides ordered every envelope of every round. */
  readonly complete: boolean;
}

export function summarizeScenario(scenario: string, rounds: readonly RoundMeasurement[]): ScenarioSummary {
  const of = (side: Side) => rounds.filter((r) => r.side === side).sort((a, b) => a.round - b.round);
  const sideSpread = (side: Side) =>
    Object.fromEntries(METRIC_NAMES.map((name) => [name, spread(of(side).map((r) => r[name]))])) as Record<
      MetricName,
      Spread
    >;
  const ratios = Object.fromEntries(
    METRIC_NAMES.map((name) => {
      const values: number[] = [];
      for (const ours of of('ours')) {
        const fabric = of('fabric').find((r) => r.round === ours.round);
        if (fabric && fabric[name] > 0) values.push(ours[name] / fabric[name]);
      }
      return [name, spread(values)];
    }),
  ) as Record<MetricName, Spread>;
  const limitOf = (side: Side) => {
    const counts = new Map<LimitKind, RoundMeasurement[]>();
    for (const r of of(side)) counts.set(r.limit, [...(counts.get(r.limit) ?? []), r]);
    const [kind, seen] = [...counts.entries()].sort((a, b) => b[1].length - a[1].length)[0] ?? [
      'waiting' as LimitKind,
      [],
    ];
    const byTps = [...seen].sort((a, b) => a.endToEndTps - b.endToEndTps);
    return { kind, text: byTps[byTps.length >> 1]?.limitText ?? 'no round ran', rounds: seen.length };
  };
  return {
    scenario,
    rounds,
    sides: { ours: sideSpread('ours'), fabric: sideSpread('fabric') },
    ratios,
    limits: { ours: limitOf('ours'), fabric: limitOf('fabric') },
    complete:
      rounds.length > 0 &&
      SIDES.every((side) => of(side).length > 0) &&
      rounds.every((r) => r.accepted === r.count && r.delivered === r.count),
  };
}

function formatValue(name: MetricName, value: number): string {
  if (!Number.isFinite(value)) return '-';
  if (name === 'rssBytes') return (value / (1024 * 1024)).toFixed(0);
  if (name === 'endToEndTps' || name === 'cpuUsPerTx') return Math.round(value).toLocaleString('en-US');
  return value < 100 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US');
}

const formatSpread = (name: MetricName, s: Spread) =>
  `${formatValue(name, s.median)} (${formatValue(name, s.min)}–${formatValue(name, s.max)})`;

/** One scenario's table: median (min–max) per side, the ratio, the target, and the limits. */
export function formatScenario(summary: ScenarioSummary): string {
  const header = ['', SIDE_NAMES.ours, SIDE_NAMES.fabric, 'ours / Fabric', 'target'];
  const rows = METRIC_NAMES.map((name) => {
    const r = summary.ratios[name];
    const target = METRICS[name].target;
    const meets =
      target === undefined || !Number.isFinite(r.median)
        ? ''
        : (METRICS[name].better === 'higher' ? r.median >= target : r.median <= target)
          ? ' ok'
          : ' MISSED';
    return [
      METRICS[name].label,
      formatSpread(name, summary.sides.ours[name]),
      formatSpread(name, summary.sides.fabric[name]),
      Number.isFinite(r.median) ? `${r.median.toFixed(2)} (${r.min.toFixed(2)}–${r.max.toFixed(2)})` : '-',
      target === undefined ? '' : `${METRICS[name].better === 'higher' ? '≥' : '≤'} ${target}${meets}`,
    ];
  });
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => row[i]!.length)));
  const line = (row: string[]) =>
    '  ' +
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rounds = summary.rounds.length / 2;
  const out = [
    `${summary.scenario}: ${rounds} alternating round${rounds === 1 ? '' : 's'}, median (min–max)`,
    line(header),
    ...rows.map(line),
  ];
  for (const side of SIDES) {
    const limit = summary.limits[side];
    out.push(
      `  limit, ${SIDE_NAMES[side]}: ${limit.text}${limit.rounds < rounds ? ` (${limit.rounds} of ${rounds} rounds)` : ''}`,
    );
  }
  if (!summary.complete) {
    for (const r of summary.rounds.filter((r) => r.accepted !== r.count || r.delivered !== r.count)) {
      out.push(
        `  INCOMPLETE: ${SIDE_NAMES[r.side]} round ${r.round + 1} accepted ${r.accepted}, delivered ${r.delivered} of ${r.count}` +
          (r.streamErrors.length ? `: ${r.streamErrors.slice(0, 3).join('; ')}` : ''),
      );
    }
  }
  return out.join('\n') + '\n';
}

/** What the Deliver readers cost each side: the readers scenario against plain solo of the same run. */
export interface FanOutCost {
  readonly readers: number;
  readonly sides: Readonly<
    Record<
      Side,
      {
        /** Median end-to-end tx/s with the readers over without, minus 1 (-0.2 = 20% fewer). */
        readonly throughputChange: number;
        /** Median orderer CPU per transaction with the readers over without, minus 1. */
        readonly ordererCpuPerTxChange: number;
        /** Median load-generator CPU (100 = a core) without and with the readers, who run in it. */
        readonly clientCpuPercent: { readonly without: number; readonly with: number };
      }
    >
  >;
}

export function fanOutCost(
  plain: ScenarioSummary,
  withReaders: ScenarioSummary,
  readers: number,
): FanOutCost {
  const median = (summary: ScenarioSummary, side: Side, pick: (r: RoundMeasurement) => number) =>
    spread(summary.rounds.filter((r) => r.side === side).map(pick)).median;
  const sideCost = (side: Side) => ({
    throughputChange: withReaders.sides[side].endToEndTps.median / plain.sides[side].endToEndTps.median - 1,
    ordererCpuPerTxChange:
      withReaders.sides[side].cpuUsPerTx.median / plain.sides[side].cpuUsPerTx.median - 1,
    clientCpuPercent: {
      without: median(plain, side, (r) => r.clientCpuPercent),
      with: median(withReaders, side, (r) => r.clientCpuPercent),
    },
  });
  return { readers, sides: { ours: sideCost('ours'), fabric: sideCost('fabric') } };
}

export function formatFanOutCost(cost: FanOutCost): string {
  const pct = (change: number) => `${change >= 0 ? '+' : '−'}${Math.abs(100 * change).toFixed(0)}%`;
  const lines = [
    `Deliver fan-out to ${cost.readers} readers (the readers scenario against solo, medians; target: throughput −10% at most)`,
  ];
  for (const side of SIDES) {
    const s = cost.sides[side];
    lines.push(
      `  ${SIDE_NAMES[side].padEnd(14)} throughput ${pct(s.throughputChange).padStart(4)}   orderer CPU per tx ` +
        `${pct(s.ordererCpuPerTxChange).padStart(4)}   load generator (where the readers run) ` +
        `${s.clientCpuPercent.without.toFixed(0)}% -> ${s.clientCpuPercent.with.toFixed(0)}% of a core`,
    );
  }
  lines.push(
    '  On a machine the readers share with the orderers, their own CPU takes throughput from both sides; ' +
      "the orderer's CPU per transaction is what the fan-out costs the orderer itself.",
  );
  return lines.join('\n') + '\n';
}
