// `npm run bench -- --vs-fabric`: Fabric's Go orderer and ours, started side by side per scenario
// (vs-fabric-orderers.ts), both warmed up, then driven in alternating rounds (ours first in even
// rounds, Fabric first in odd ones, so drift on a shared machine hits both) by the same load
// generator with the same envelopes, streams and window; each round read off /proc around its load
// (proc-usage.ts) and summed up per scenario (vs-fabric-report.ts).
import { availableParallelism, loadavg } from 'node:os';
import { runBench, type BenchOptions, type BenchReport } from '../src/bench/index.js';
import { readUsage, type UsageReading } from './proc-usage.js';
import {
  SIDES,
  SIDE_NAMES,
  fanOutCost,
  formatFanOutCost,
  formatScenario,
  measureRound,
  summarizeScenario,
  type FanOutCost,
  type RoundMeasurement,
  type ScenarioSummary,
  type Side,
} from './vs-fabric-report.js';
import {
  FAN_OUT_READERS,
  SCENARIO_TITLES,
  startScenario as startScenarioProcesses,
  type ScenarioName,
  type ScenarioSetup,
  type ScenarioStartOptions,
} from './vs-fabric-orderers.js';

export interface VsFabricOptions {
  readonly scenarios: readonly ScenarioName[];
  readonly rounds: number;
  /** Envelopes per side per round. */
  readonly count: number;
  /** Envelopes sent to each side before the first round, not reported. */
  readonly warmup: number;
  /** Payload data bytes per envelope. */
  readonly size: number;
  readonly streams: number;
  /** Envelopes in flight per stream. */
  readonly window: number;
  /** The project folder (bin/orderer.js). */
  readonly root: string;
  /** Our `orderer` command; default <root>/bin/orderer.js. */
  readonly oursBin?: string;
  /** Run ours under node --cpu-prof, profiles written here. */
  readonly profileDir?: string;
  /** Per round and side; default 300 s. */
  readonly timeoutMs?: number;
  /** etcdraft: Consensus.IdleCutAfter for ours (unset: Fabric's cutting on both sides). */
  readonly oursIdleCutAfter?: string;
}

export interface VsFabricDependencies {
  readonly log: (text: string) => void;
  /** Monotonic milliseconds, for the CPU and machine shares of a round. */
  readonly now: () => number;
  readonly startScenario?: (name: ScenarioName, options: ScenarioStartOptions) => Promise<ScenarioSetup>;
}

export interface VsFabricResult {
  readonly startedAt: string;
  readonly machine: { cores: number; loadAverageAtStart: number[]; note: string };
  readonly settings: Omit<VsFabricOptions, 'root' | 'oursBin' | 'profileDir'> & {
    batchSize: string;
    batchTimeout: string;
    durability: string;
  };
  readonly scenarios: readonly (ScenarioSummary & { title: string; environment: string })[];
  /** With both the solo and the solo-readers scenarios: what the readers cost each side. */
  readonly fanOut?: FanOutCost;
  /** Whether both sides ordered every envelope in every round of every scenario. */
  readonly complete: boolean;
}

const DURABILITY =
  'both at their defaults on the same file system: Fabric fsyncs each block file append; ours fsyncs its solo WAL and ledger the same way';

export async function runVsFabric(
  options: VsFabricOptions,
  deps: VsFabricDependencies,
): Promise<VsFabricResult> {
  const startScenario = deps.startScenario ?? startScenarioProcesses;
  const cores = availableParallelism();
  const result: VsFabricResult = {
    startedAt: new Date().toISOString(),
    machine: {
      cores,
      loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
      note: 'the load generator runs on the same machine as the orderer it measures, one side at a time',
    },
    settings: {
      scenarios: options.scenarios,
      rounds: options.rounds,
      count: options.count,
      warmup: options.warmup,
      size: options.size,
      streams: options.streams,
      window: options.window,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.oursIdleCutAfter ? { oursIdleCutAfter: options.oursIdleCutAfter } : {}),
      batchSize: 'MaxMessageCount 500, PreferredMaxBytes 2 MB, AbsoluteMaxBytes 10 MB',
      batchTimeout: '2s',
      durability: DURABILITY,
    },
    scenarios: [],
    complete: false,
  };
  const scenarios: (ScenarioSummary & { title: string; environment: string })[] = [];
  deps.log(
    `vs Fabric: ${options.rounds} alternating rounds of ${options.count.toLocaleString('en-US')} envelopes ` +
      `(${options.size} B data) x ${options.streams} streams x ${options.window} in flight per side, ` +
      `after ${options.warmup.toLocaleString('en-US')} warm-up envelopes each; ${cores} cores, ` +
      `load average ${result.machine.loadAverageAtStart.join(' ')}\n`,
  );
  for (const name of options.scenarios) {
    deps.log(`${SCENARIO_TITLES[name]}: starting both orderers ...`);
    const setup = await startScenario(name, {
      root: options.root,
      ...(options.oursBin ? { oursBin: options.oursBin } : {}),
      ...(options.profileDir ? { profileDir: options.profileDir } : {}),
      ...(options.oursIdleCutAfter ? { oursIdleCutAfter: options.oursIdleCutAfter } : {}),
      log: deps.log,
    });
    try {
      const rounds = await runRounds(setup, options, deps, cores);
      const summary = summarizeScenario(SCENARIO_TITLES[name], rounds);
      scenarios.push({ ...summary, title: SCENARIO_TITLES[name], environment: setup.environment });
      deps.log('\n' + formatScenario(summary));
    } finally {
      await setup.stop();
    }
  }
  const plain = scenarios.find((s) => s.title === SCENARIO_TITLES.solo);
  const withReaders = scenarios.find((s) => s.title === SCENARIO_TITLES['solo-readers']);
  const fanOut = plain && withReaders ? fanOutCost(plain, withReaders, FAN_OUT_READERS) : undefined;
  if (fanOut) deps.log(formatFanOutCost(fanOut));
  return {
    ...result,
    scenarios,
    ...(fanOut ? { fanOut } : {}),
    complete: scenarios.every((s) => s.complete),
  };
}

async function runRounds(
  setup: ScenarioSetup,
  options: VsFabricOptions,
  deps: VsFabricDependencies,
  cores: number,
): Promise<RoundMeasurement[]> {
  const benchOptions = (side: Side, count: number): BenchOptions => ({
    address: setup.orderers[side].address,
    channel: setup.orderers[side].channel,
    signer: setup.signer,
    ...(setup.tlsCaPem ? { tlsCaPem: setup.tlsCaPem } : {}),
    count,
    size: options.size,
    streams: options.streams,
    window: options.window,
    timeoutMs: options.timeoutMs ?? 300_000,
    verifyMs: 0,
    ...(setup.readers ? { readers: setup.readers } : {}),
  });
  if (options.warmup > 0) {
    // A fresh process runs unoptimised (JIT) and grows its heaps first; Go's warms its pools.
    for (const side of SIDES) {
      const warmup = await runBench(benchOptions(side, options.warmup));
      deps.log(
        `  warm-up ${SIDE_NAMES[side]}: ${warmup.delivered.toLocaleString('en-US')} of ${warmup.count.toLocaleString('en-US')} delivered, not reported`,
      );
    }
  }
  const rounds: RoundMeasurement[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const order: Side[] = round % 2 === 0 ? ['ours', 'fabric'] : ['fabric', 'ours'];
    for (const [position, side] of order.entries()) {
      const pids = setup.orderers[side].pids;
      let start: UsageReading | undefined;
      let end: UsageReading | undefined;
      // The readings frame the load itself (first send to last delivery), not signing or connecting.
      const report: BenchReport = await runBench(benchOptions(side, options.count), {
        onProgress: (progress) => {
          if (progress.phase === 'sending') start ??= readUsage(pids, deps.now);
          if (progress.phase === 'draining') end ??= readUsage(pids, deps.now);
        },
      });
      const fallback = readUsage(pids, deps.now);
      const measured = measureRound({
        side,
        round,
        position,
        report,
        start: start ?? fallback,
        end: end ?? fallback,
        rssAfterBytes: readUsage(pids, deps.now).orderer?.rssBytes ?? NaN,
        cores,
      });
      rounds.push(measured);
      deps.log(formatRoundLine(measured));
      if (report.readers) {
        const { streams, fewestBlocksAtEnd, caughtUpAfterMs } = report.readers;
        deps.log(
          `    ${streams} readers: the slowest had ${fewestBlocksAtEnd} of ${report.blocks} blocks when the round ended, ` +
            (caughtUpAfterMs === undefined
              ? 'not all blocks within the timeout'
              : `every block ${(caughtUpAfterMs / 1000).toFixed(1)} s later`),
        );
      }
    }
  }
  return rounds;
}

function formatRoundLine(m: RoundMeasurement): string {
  const n = (value: number) => Math.round(value).toLocaleString('en-US');
  return (
    `  round ${m.round + 1} ${SIDE_NAMES[m.side].padEnd(14)} ${n(m.endToEndTps).padStart(6)} tx/s  ` +
    `p50 ${n(m.p50Ms)} ms  p99 ${n(m.p99Ms)} ms  CPU ${n(m.cpuUsPerTx)} µs/tx  RSS ${n(m.rssBytes / 1048576)} MB  ` +
    `${m.delivered === m.count ? '' : `delivered ${m.delivered}/${m.count}  `}| ${m.limitText}`
  );
}
