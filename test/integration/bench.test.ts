// `orderer bench` against the zero-config orderer: every envelope accepted and delivered, and the
// report's numbers hang together. Defaults (address, channel, identity) come from dev-info.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevOrderer } from '../../src/dev/index.js';
import { silentLogger } from '../../src/logging.js';
import { benchFromFlags, benchSucceeded } from '../../src/cli/bench.js';
import type { BenchReport } from '../../src/bench/index.js';

test('orderer bench: 500 envelopes over 8 streams to the dev orderer, consistent report', async () => {
  const root = mkdtempSync(join(tmpdir(), 'orderer-bench-'));
  const dev = await startDevOrderer(
    { dataDir: join(root, 'data'), port: 0, adminPort: 0, operationsPort: 0 },
    { logger: silentLogger() },
  );
  try {
    let printed = '';
    const report: BenchReport = await benchFromFlags(
      {
        dataDir: join(root, 'data'),
        count: 500,
        size: 256,
        streams: 8,
        window: 8,
        timeout: 60,
        verify: true,
        json: true,
      },
      { env: {}, cwd: root, stdout: (text) => (printed += text), stderr: undefined },
    );
    assert.deepEqual(JSON.parse(printed), JSON.parse(JSON.stringify(report)), '--json prints the report');
    assert.equal(report.address, `127.0.0.1:${dev.orderer.port}`);
    assert.equal(report.channel, 'devchannel');
    assert.equal(report.accepted, 500);
    assert.deepEqual(report.rejected, {});
    assert.equal(report.unanswered, 0);
    assert.equal(report.delivered, 500);
    assert.equal(report.timedOut, false);
    assert.ok(benchSucceeded(report));
    assert.ok(report.blocks >= 1 && report.firstBlock === 1, `blocks from #1: ${report.firstBlock}`);
    assert.equal(dev.orderer.registrar.channelInfo('devchannel')?.height, report.lastBlock! + 1);
    assert.ok(report.endToEndTps > 0 && report.broadcastTps > 0);
    assert.ok(report.endToEndMs > 0 && report.broadcastMs > 0);
    const l = report.latencyMs!;
    assert.ok(l.p50 > 0 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max, JSON.stringify(l));
    assert.ok(l.max <= report.endToEndMs + 1, 'no latency exceeds the whole run');
    // The dev orderer runs in this process: it was found through dev-info.json and watched.
    assert.equal(report.orderer?.pid, process.pid);
    assert.ok(report.orderer!.rssMaxBytes > 0 && report.orderer!.cpuSeconds >= 0);
    assert.ok(report.verify!.perSecond > 100, `verify rate ${report.verify!.perSecond}`);
    const [before, after] = report.verify!.samples!;
    assert.equal(report.verify!.perSecond, (before! + after!) / 2, 'the mean of before and after the load');
    assert.ok(report.endToEndToVerifyRatio! > 0);
  } finally {
    await dev.stop();
    rmSync(root, { recursive: true, force: true });
  }
});

test('orderer bench against a channel the orderer does not have fails up front with the Deliver status', async () => {
  const root = mkdtempSync(join(tmpdir(), 'orderer-bench-'));
  const dev = await startDevOrderer(
    { dataDir: join(root, 'data'), port: 0, adminPort: 0, operationsPort: 0 },
    { logger: silentLogger() },
  );
  try {
    await assert.rejects(
      benchFromFlags(
        {
          dataDir: join(root, 'data'),
          channel: 'nochannel',
          count: 10,
          size: 10,
          streams: 1,
          window: 1,
          timeout: 10,
          verify: false,
        },
        { env: {}, cwd: root, stdout: () => {}, stderr: undefined },
      ),
      /status 404: the channel does not exist there/,
    );
  } finally {
    await dev.stop();
    rmSync(root, { recursive: true, force: true });
  }
});

test('orderer bench over TLS: the dev orderer with --tls, its CA taken from dev-info.json', async () => {
  const root = mkdtempSync(join(tmpdir(), 'orderer-bench-tls-'));
  const dev = await startDevOrderer(
    { dataDir: join(root, 'data'), port: 0, adminPort: 0, operationsPort: 0, tls: true },
    { logger: silentLogger() },
  );
  try {
    const report = await benchFromFlags(
      {
        dataDir: join(root, 'data'),
        count: 300,
        size: 128,
        streams: 4,
        window: 4,
        timeout: 60,
        verify: false,
        json: true,
      },
      { env: {}, cwd: root, stdout: () => {}, stderr: undefined },
    );
    assert.equal(report.accepted, 300);
    assert.equal(report.delivered, 300);
    assert.deepEqual(report.streamErrors, []);
  } finally {
    await dev.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
