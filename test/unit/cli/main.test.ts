// The command line's front: every command listed with examples, flag values checked before anything
// runs, and where `orderer bench` takes its defaults from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProgram, runCli } from '../../../src/cli/main.js';
import { resolveBenchTarget } from '../../../src/cli/bench.js';
import { parseAddress, parseByteCount, parseCount, parsePort } from '../../../src/cli/options.js';
import type { DevInfo } from '../../../src/dev/index.js';
import { quantile, summarizeLatencies, formatReport, formatProgress } from '../../../src/bench/index.js';

test('orderer --help lists every command with examples', () => {
  const program = createProgram(() => {});
  let help = '';
  program.configureOutput({ writeOut: (text) => (help += text) });
  program.outputHelp();
  for (const command of ['start', 'version', 'bench', 'inspect', 'channel']) {
    assert.ok(
      program.commands.some((c) => c.name() === command),
      `command ${command}`,
    );
    assert.match(help, new RegExp(`\\$ orderer ${command}`), `example for ${command}`);
  }
});

test('flag parsers accept what they document and explain what they refuse', () => {
  assert.equal(parseCount('-n')('20000'), 20000);
  assert.equal(parseCount('-n')('20_000'), 20000);
  assert.equal(parseCount('-n')('20k'), 20000);
  assert.throws(() => parseCount('-n')('0'), /-n needs a whole number >= 1 \(got "0"\)/);
  assert.throws(() => parseCount('-n')('ten'), /whole number/);
  assert.equal(parseCount('--from', 0)('0'), 0);
  assert.equal(parseByteCount('--size')('1024'), 1024);
  assert.equal(parseByteCount('--size')('4k'), 4096);
  assert.equal(parseByteCount('--size')('1MB'), 1024 * 1024);
  assert.throws(() => parseByteCount('--size')('lots'), /size in bytes/);
  assert.equal(parsePort('--port')('0'), 0);
  assert.throws(() => parsePort('--port')('70000'), /0-65535/);
  assert.equal(parseAddress('--orderer')('127.0.0.1:7050'), '127.0.0.1:7050');
  assert.throws(() => parseAddress('--orderer')('localhost'), /host:port/);
});

test('bad flag values stop the command before it runs, with a non-zero status', async () => {
  const stderr = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    assert.notEqual(await runCli(['node', 'orderer', 'bench', '-n', 'abc']), 0);
    assert.notEqual(await runCli(['node', 'orderer', 'start', '--port', '99999']), 0);
    assert.notEqual(await runCli(['node', 'orderer', 'inspect']), 0);
    assert.notEqual(await runCli(['node', 'orderer', 'nosuchcommand']), 0);
  } finally {
    process.stderr.write = stderr;
  }
});

function devInfo(dataDir: string, runtime?: Partial<DevInfo['runtime']>): DevInfo {
  const id = (mspId: string, dir: string) => ({ mspId, dir, mspDir: join(dir, 'msp') });
  return {
    format: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    dataDir,
    channel: 'devchannel',
    genesisBlock: join(dataDir, 'devchannel-genesis.block'),
    ledgerDir: join(dataDir, 'ledger'),
    ordererEndpoint: '127.0.0.1:7050',
    orderer: {
      ...id('OrdererMSP', join(dataDir, 'o')),
      tlsDir: join(dataDir, 'o/tls'),
      tlsCaFile: join(dataDir, 'o/tls/ca.crt'),
    },
    ordererAdmin: id('OrdererMSP', join(dataDir, 'oa')),
    admin: id('Org1MSP', join(dataDir, 'a')),
    client: id('Org1MSP', join(dataDir, 'c')),
    ...(runtime
      ? {
          runtime: {
            pid: 999999999,
            address: '127.0.0.1:7050',
            tls: true,
            startedAt: '2026-01-01T00:00:00.000Z',
            ...runtime,
          },
        }
      : {}),
  };
}

test('bench defaults come from dev-info.json; explicit flags win; missing pieces are named', () => {
  const root = mkdtempSync(join(tmpdir(), 'bench-args-'));
  try {
    const dataDir = join(root, 'orderer-data');
    assert.throws(
      () => resolveBenchTarget({}, {}, root),
      /no --orderer, --channel, --msp-dir given and no dev orderer found/,
    );
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'dev-info.json'), JSON.stringify(devInfo(dataDir)));
    assert.throws(() => resolveBenchTarget({}, {}, root), /is not running \(never started\)/);

    writeFileSync(join(dataDir, 'dev-info.json'), JSON.stringify(devInfo(dataDir, {})));
    const target = resolveBenchTarget({}, {}, root);
    assert.equal(target.address, '127.0.0.1:7050');
    assert.equal(target.channel, 'devchannel');
    assert.equal(target.mspId, 'Org1MSP');
    assert.equal(target.mspDir, join(dataDir, 'c/msp'));
    assert.equal(target.tlsCaFile, join(dataDir, 'o/tls/ca.crt'), 'the dev orderer runs with TLS');
    assert.equal(target.pid, undefined, 'the recorded pid does not exist');

    // ORDERER_DEV_DATA_DIR names the folder when --data-dir does not.
    assert.equal(resolveBenchTarget({}, { ORDERER_DEV_DATA_DIR: dataDir }, '/').channel, 'devchannel');

    const explicit = resolveBenchTarget(
      { orderer: 'orderer.example.com:7050', channel: 'mychannel', mspDir: 'msp', mspId: 'Org2MSP', pid: 42 },
      {},
      root,
    );
    assert.deepEqual(
      { ...explicit },
      {
        address: 'orderer.example.com:7050',
        channel: 'mychannel',
        mspDir: join(root, 'msp'),
        mspId: 'Org2MSP',
        tlsCaFile: undefined,
        pid: 42,
        devInfoFile: undefined,
      },
    );
    assert.throws(
      () => resolveBenchTarget({ orderer: 'a:1', channel: 'c', mspDir: 'msp' }, {}, root),
      /--msp-dir needs --msp-id/,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('latency summary: nearest-rank percentiles, ordered', () => {
  const values = Float64Array.from({ length: 100 }, (_, i) => 100 - i);
  const summary = summarizeLatencies(values)!;
  assert.deepEqual(
    { p50: summary.p50, p90: summary.p90, p99: summary.p99, max: summary.max, mean: summary.mean },
    { p50: 50, p90: 90, p99: 99, max: 100, mean: 50.5 },
  );
  assert.equal(quantile([7], 0.99), 7);
  assert.equal(summarizeLatencies(new Float64Array(0)), undefined);
  assert.match(
    formatProgress({
      phase: 'sending',
      total: 10,
      signed: 10,
      sent: 8,
      acknowledged: 6,
      delivered: 5,
      elapsedMs: 1,
    }),
    /50% sending sent 8 acked 6 delivered 5\/10/,
  );
});

test('the report table shows the numbers and the targets', () => {
  const text = formatReport({
    address: '127.0.0.1:7050',
    channel: 'devchannel',
    count: 1000,
    size: 1024,
    envelopeBytes: 2050,
    streams: 64,
    window: 16,
    accepted: 998,
    rejected: { '403': 2 },
    rejectionSamples: ['403: forbidden'],
    unanswered: 0,
    streamErrors: [],
    delivered: 998,
    blocks: 2,
    firstBlock: 1,
    lastBlock: 2,
    timedOut: false,
    signingMs: 100,
    broadcastMs: 500,
    endToEndMs: 1000,
    broadcastTps: 1996,
    endToEndTps: 998,
    latencyMs: { p50: 10, p90: 20, p99: 30, max: 40, mean: 12 },
    orderer: {
      pid: 1,
      cpuSeconds: 1,
      cpuPercent: 100,
      rssStartBytes: 1,
      rssSteadyBytes: 300 * 1024 * 1024,
      rssMaxBytes: 1,
      rssEndBytes: 1,
      peakRssBytes: 1,
    },
    clientCpuPercent: 50,
    verify: { perSecond: 10000, messageBytes: 2050, durationMs: 1000 },
    endToEndToVerifyRatio: 0.0998,
  });
  assert.match(text, /rejected: 2 x 403/);
  assert.match(text, /998 tx\/s/);
  assert.match(text, /p50 10\.0 ms\s+p90 20\.0 ms\s+p99 30\.0 ms\s+max 40\.0 ms/);
  assert.match(text, /end-to-end \/ verify = 10% \(target >= 60%\)/);
  assert.match(text, /above the 250\.0 MB target/);
});
