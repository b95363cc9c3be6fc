// The pure half of `npm run bench -- --vs-fabric`: a round's numbers from the load generator's
// report and two /proc readings, the limit it names, the summary over alternating rounds, the
// table, and the flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BenchReport } from '../../../src/bench/index.js';
import type { UsageReading } from '../../../bench/proc-usage.js';
import {
  diagnoseLimit,
  fanOutCost,
  formatFanOutCost,
  formatScenario,
  measureRound,
  spread,
  summarizeScenario,
  type RoundMeasurement,
  type Side,
} from '../../../bench/vs-fabric-report.js';
import { parseArgs } from '../../../bench/args.js';

function benchReport(overrides: Partial<BenchReport> = {}): BenchReport {
  return {
    address: '127.0.0.1:1',
    channel: 'bench',
    count: 1000,
    size: 1024,
    envelopeBytes: 2000,
    streams: 64,
    window: 16,
    accepted: 1000,
    rejected: {},
    rejectionSamples: [],
    unanswered: 0,
    streamErrors: [],
    delivered: 1000,
    blocks: 2,
    firstBlock: 1,
    lastBlock: 2,
    timedOut: false,
    signingMs: 10,
    broadcastMs: 400,
    endToEndMs: 500,
    broadcastTps: 2500,
    endToEndTps: 2000,
    latencyMs: { p50: 100, p90: 150, p99: 180, max: 190, mean: 105 },
    orderer: undefined,
    clientCpuPercent: 30,
    verify: undefined,
    endToEndToVerifyRatio: undefined,
    ...overrides,
  };
}

/** A reading: CPU in ticks (1/100 s) for the orderer and its threads, machine ticks, client µs. */
function reading(
  atMs: number,
  ordererTicks: number,
  threads: [number, number][],
  machine: [number, number, number],
  clientUs: number,
): UsageReading {
  return {
    atMs,
    orderer: { cpuSeconds: ordererTicks / 100, rssBytes: 0, peakRssBytes: 0 },
    ordererThreads: new Map(threads),
    machine: { busy: machine[0], idle: machine[1], iowait: machine[2] },
    client: { user: clientUs, system: 0 },
  };
}

test('measureRound: CPU per transaction, shares of a core, machine busy and iowait over the load', () => {
  // 2 s of load on 2 cores (400 machine ticks): orderer 120 ticks (60% of a core) of which the
  // busiest thread 80 (40%), client 0.4 s (20%), machine 240 busy (60%), 40 iowait (10%).
  const start = reading(
    1000,
    500,
    [
      [1, 300],
      [2, 100],
    ],
    [10_000, 5000, 100],
    1_000_000,
  );
  const end = reading(
    3000,
    620,
    [
      [1, 380],
      [2, 130],
      [3, 10],
    ],
    [10_240, 5120, 140],
    1_400_000,
  );
  const m = measureRound({
    side: 'ours',
    round: 0,
    position: 0,
    report: benchReport(),
    start,
    end,
    rssAfterBytes: 200 << 20,
    cores: 2,
  });
  assert.ok(Math.abs(m.cpuUsPerTx - 1200) < 1e-6, '1.2 s of orderer CPU over 1000 transactions');
  assert.ok(Math.abs(m.ordererCpuPercent - 60) < 1e-9);
  assert.ok(Math.abs(m.busiestThreadPercent - 40) < 1e-9);
  assert.ok(Math.abs(m.clientCpuPercent - 20) < 1e-9);
  assert.ok(Math.abs(m.machineBusyPercent - 60) < 1e-9);
  assert.ok(Math.abs(m.iowaitPercent - 10) < 1e-9);
  assert.ok(Math.abs(m.otherCpuPercent - 40) < 1e-9, '120% of a core busy minus orderer 60 and client 20');
  assert.equal(m.rssBytes, 200 << 20);
  assert.equal(m.endToEndTps, 2000);
  assert.equal(m.p99Ms, 180);
  assert.equal(m.limit, 'disk');
});

test('diagnoseLimit names the first cap: machine, orderer thread, client, disk, else waiting', () => {
  const base = {
    machineBusyPercent: 50,
    busiestThreadPercent: 50,
    ordererCpuPercent: 60,
    clientCpuPercent: 30,
    iowaitPercent: 0,
    otherCpuPercent: 10,
  };
  assert.equal(
    diagnoseLimit({ ...base, machineBusyPercent: 95, busiestThreadPercent: 99 }, 2).limit,
    'machine-cpu',
  );
  assert.match(
    diagnoseLimit({ ...base, machineBusyPercent: 95 }, 2).limitText,
    /2 cores 95% busy \(orderer 60%, client 30%, other work 10% of a core\)/,
  );
  assert.equal(diagnoseLimit({ ...base, busiestThreadPercent: 97 }, 2).limit, 'orderer-thread');
  assert.equal(diagnoseLimit({ ...base, clientCpuPercent: 92 }, 2).limit, 'client-cpu');
  assert.equal(diagnoseLimit({ ...base, iowaitPercent: 25 }, 2).limit, 'disk');
  assert.equal(diagnoseLimit(base, 2).limit, 'waiting');
});

test('spread: min, median (mean of the middle two when even), max; NaN ignored', () => {
  assert.deepEqual(spread([3, 1, 2]), { min: 1, median: 2, max: 3 });
  assert.deepEqual(spread([4, 1, 3, 2, NaN]), { min: 1, median: 2.5, max: 4 });
  assert.ok(Number.isNaN(spread([]).median));
});

function round(
  side: Side,
  index: number,
  tps: number,
  extra: Partial<RoundMeasurement> = {},
): RoundMeasurement {
  return {
    side,
    round: index,
    position: side === 'ours' ? index % 2 : 1 - (index % 2),
    count: 1000,
    accepted: 1000,
    delivered: 1000,
    blocks: 2,
    endToEndTps: tps,
    p50Ms: 100,
    p99Ms: 200,
    cpuUsPerTx: side === 'ours' ? 100 : 300,
    ordererCpuPercent: 50,
    busiestThreadPercent: 40,
    clientCpuPercent: 20,
    machineBusyPercent: 95,
    iowaitPercent: 0,
    otherCpuPercent: 0,
    rssBytes: (side === 'ours' ? 150 : 75) * 1048576,
    limit: 'machine-cpu',
    limitText: `machine CPU saturated (${side} ${index})`,
    streamErrors: [],
    ...extra,
  };
}

test('summarizeScenario: per-side spreads, ratios of the same round, the most common limit', () => {
  const rounds = [
    round('ours', 0, 6000),
    round('fabric', 0, 3000),
    round('ours', 1, 8000),
    round('fabric', 1, 5000),
    round('ours', 2, 7000),
    round('fabric', 2, 2000, { limit: 'waiting', limitText: 'waited' }),
  ];
  const summary = summarizeScenario('solo', rounds);
  assert.deepEqual(summary.sides.ours.endToEndTps, { min: 6000, median: 7000, max: 8000 });
  assert.deepEqual(summary.sides.fabric.endToEndTps, { min: 2000, median: 3000, max: 5000 });
  // Per round: 2.0, 1.6, 3.5.
  assert.deepEqual(summary.ratios.endToEndTps, { min: 1.6, median: 2, max: 3.5 });
  assert.deepEqual(summary.ratios.rssBytes, { min: 2, median: 2, max: 2 });
  assert.equal(summary.limits.fabric.kind, 'machine-cpu');
  assert.equal(summary.limits.fabric.rounds, 2);
  assert.equal(summary.complete, true);

  const table = formatScenario(summary);
  assert.match(table, /^solo: 3 alternating rounds, median \(min–max\)$/m);
  assert.match(
    table,
    /end-to-end tx\/s +7,000 \(6,000–8,000\) +3,000 \(2,000–5,000\) +2\.00 \(1\.60–3\.50\) +≥ 2 ok/,
  );
  assert.match(
    table,
    /orderer CPU µs\/tx +100 \(100–100\) +300 \(300–300\) +0\.33 \(0\.33–0\.33\) +≤ 0\.5 ok/,
  );
  assert.match(table, /steady RSS MB +150 \(150–150\) +75 \(75–75\) +2\.00 \(2\.00–2\.00\) +≤ 1\.5 MISSED/);
  assert.match(table, /limit, Fabric v2\.5\.12: machine CPU saturated \(fabric \d\) \(2 of 3 rounds\)/);
  assert.doesNotMatch(table, /INCOMPLETE/);
});

test('fanOutCost: throughput and orderer CPU per transaction with the readers against plain solo, per side', () => {
  const plain = summarizeScenario('solo', [
    round('ours', 0, 10_000),
    round('fabric', 0, 8000),
    round('ours', 1, 12_000),
    round('fabric', 1, 8000),
  ]);
  const withReaders = summarizeScenario('solo-readers', [
    round('ours', 0, 8000, { cpuUsPerTx: 110, clientCpuPercent: 60 }),
    round('fabric', 0, 6000, { cpuUsPerTx: 390, clientCpuPercent: 50 }),
    round('ours', 1, 10_000, { cpuUsPerTx: 110, clientCpuPercent: 62 }),
    round('fabric', 1, 6000, { cpuUsPerTx: 390, clientCpuPercent: 50 }),
  ]);
  const cost = fanOutCost(plain, withReaders, 10);
  assert.equal(cost.readers, 10);
  assert.ok(Math.abs(cost.sides.ours.throughputChange - (9000 / 11_000 - 1)) < 1e-9);
  assert.ok(Math.abs(cost.sides.ours.ordererCpuPerTxChange - 0.1) < 1e-9);
  assert.deepEqual(cost.sides.ours.clientCpuPercent, { without: 20, with: 61 });
  assert.ok(Math.abs(cost.sides.fabric.throughputChange + 0.25) < 1e-9);
  assert.ok(Math.abs(cost.sides.fabric.ordererCpuPerTxChange - 0.3) < 1e-9);
  const text = formatFanOutCost(cost);
  assert.match(text, /^Deliver fan-out to 10 readers/);
  assert.match(
    text,
    /ours +throughput −18% +orderer CPU per tx +\+10% +load generator \(where the readers run\) 20% -> 61% of a core/,
  );
  assert.match(text, /Fabric v2\.5\.12 throughput −25% +orderer CPU per tx +\+30%/);
});

test('summarizeScenario: a round that lost envelopes makes the scenario incomplete and says so', () => {
  const summary = summarizeScenario('solo', [
    round('ours', 0, 6000, { delivered: 990, streamErrors: ['Deliver ended with status 503'] }),
    round('fabric', 0, 3000),
  ]);
  assert.equal(summary.complete, false);
  assert.match(
    formatScenario(summary),
    /INCOMPLETE: ours round 1 accepted 1000, delivered 990 of 1000: Deliver ended with status 503/,
  );
});

test('parseArgs: --vs-fabric defaults, scenarios, and refusals', () => {
  const defaults = parseArgs(['--vs-fabric']);
  assert.equal(defaults.vsFabric, true);
  assert.deepEqual(
    [
      defaults.count,
      defaults.warmup,
      defaults.rounds,
      defaults.size,
      defaults.streams,
      defaults.window,
      defaults.scenarios,
    ],
    [20_000, 5_000, 3, 1024, 64, 16, ['solo', 'solo-tls']],
  );
  const custom = parseArgs([
    '--vs-fabric',
    '--scenario',
    'solo,kafka',
    '--rounds',
    '1',
    '-n',
    '500',
    '--warmup',
    '0',
  ]);
  assert.deepEqual(
    [custom.scenarios, custom.rounds, custom.count, custom.warmup],
    [['solo', 'kafka'], 1, 500, 0],
  );
  assert.equal(parseArgs([]).count, 40_000, 'the standard scenarios keep their default');
  assert.throws(() => parseArgs(['--vs-fabric', '--scenario', 'pbft']), /unknown scenario pbft/);
  assert.throws(() => parseArgs(['--rounds', '2']), /go with --vs-fabric/);
  assert.throws(() => parseArgs(['--vs-fabric', '--rounds', '0']), /--rounds needs a whole number >= 1/);
  assert.throws(() => parseArgs(['--vs-fabric', '--kafka']), /--scenario kafka/);
});
