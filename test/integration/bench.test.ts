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
import { common } from '../../src/protos/index.js';
import { systemClock } from '../../src/clock.js';

test('orderer bench: 500 envelopes over 8 streams to the dev orderer, a report that matches the orderer', async () => {
  const root = mkdtempSync(join(tmpdir(), 'orderer-bench-'));
  const dev = await startDevOrderer(
    { dataDir: join(root, 'data'), port: 0, adminPort: 0, operationsPort: 0 },
    { logger: silentLogger(), clock: systemClock },
  );
  try {
    const accepted =
      'broadcast_processed_count{channel="devchannel",type="ENDORSER_TRANSACTION",status="SUCCESS"}';
    const acceptedBefore = (await scrape(dev.orderer.operationsPort)).get(accepted) ?? 0;
    const heightBefore = dev.orderer.registrar.channelInfo('devchannel')!.height;
    const cpuBefore = process.cpuUsage();
    let printed = '';
    const wallStart = performance.now();
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
    const wallMs = performance.now() - wallStart;
    const cpu = process.cpuUsage(cpuBefore);
    assert.deepEqual(JSON.parse(printed), JSON.parse(JSON.stringify(report)), '--json prints the report');
    assert.equal(report.address, `127.0.0.1:${dev.orderer.port}`);
    assert.equal(report.channel, 'devchannel');
    assert.equal(report.accepted, 500);
    assert.deepEqual(report.rejected, {});
    assert.equal(report.unanswered, 0);
    assert.equal(report.delivered, 500);
    assert.equal(report.timedOut, false);
    assert.ok(benchSucceeded(report));

    // What the orderer itself saw: it accepted exactly as many envelopes as the report says ...
    const acceptedAfter = (await scrape(dev.orderer.operationsPort)).get(accepted)!;
    assert.equal(acceptedAfter - acceptedBefore, report.accepted, 'broadcast_processed_count SUCCESS');
    // ... and its ledger holds them in the blocks the report names, each of the reported size.
    const chain = dev.orderer.registrar.getChain('devchannel')!;
    assert.equal(report.firstBlock, heightBefore, 'the first block after the ones already there');
    assert.equal(chain.height(), report.lastBlock! + 1, 'the last block is the newest');
    assert.equal(report.blocks, report.lastBlock! - report.firstBlock! + 1);
    const txIds = new Set<string>();
    let envelopes = 0;
    for (let n = report.firstBlock!; n <= report.lastBlock!; n++) {
      const block = common.Block.decode((await chain.store.getBlock(n))!.bytes);
      for (const data of block.data!.data!) {
        envelopes++;
        // envelopeBytes is the last envelope's size; DER signatures vary by a byte or two.
        assert.ok(
          Math.abs(data.length - report.envelopeBytes) <= 2,
          `envelope of ${data.length} B in block ${n}`,
        );
        const payload = common.Payload.decode(common.Envelope.decode(data).payload!);
        assert.equal(payload.data.length, report.size, `data bytes of an envelope in block ${n}`);
        txIds.add(common.ChannelHeader.decode(payload.header!.channelHeader!).txId);
      }
    }
    assert.equal(envelopes, report.delivered, 'envelopes in the reported blocks');
    assert.equal(txIds.size, envelopes, 'every envelope once');

    // Times and rates against the test's own clock: nothing took longer than the whole call.
    assert.ok(report.endToEndMs > 0 && report.endToEndMs <= wallMs, `${report.endToEndMs} ms of ${wallMs}`);
    assert.ok(
      report.broadcastMs > 0 && report.broadcastMs <= wallMs,
      `${report.broadcastMs} ms of ${wallMs}`,
    );
    assert.ok(report.endToEndTps >= (500 / wallMs) * 1000, `${report.endToEndTps} tx/s in ${wallMs} ms`);
    const l = report.latencyMs!;
    assert.ok(l.p50 > 0 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max, JSON.stringify(l));
    assert.ok(l.max <= wallMs, `latency ${l.max} ms beyond the ${wallMs} ms the call took`);
    // The dev orderer runs in this process: found through dev-info.json and watched; its usage is
    // this process's, so it is bounded by what the process measured itself.
    assert.equal(report.orderer?.pid, process.pid);
    assert.ok(report.orderer!.rssMaxBytes > 0);
    assert.ok(
      report.orderer!.rssMaxBytes <= process.resourceUsage().maxRSS * 1024 + 1,
      'rss beyond the maximum',
    );
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    assert.ok(
      report.orderer!.cpuSeconds >= 0 && report.orderer!.cpuSeconds <= cpuSeconds + 0.05,
      `orderer CPU ${report.orderer!.cpuSeconds} s, the process used ${cpuSeconds} s`,
    );
    assert.ok(report.verify!.perSecond > 100, `verify rate ${report.verify!.perSecond}`);
    assert.ok(report.endToEndToVerifyRatio! > 0);
  } finally {
    await dev.stop();
    rmSync(root, { recursive: true, force: true });
  }
});

test('orderer bench --readers 3: three more Deliver streams read every block of the run', async () => {
  const root = mkdtempSync(join(tmpdir(), 'orderer-bench-'));
  const dev = await startDevOrderer(
    { dataDir: join(root, 'data'), port: 0, adminPort: 0, operationsPort: 0 },
    { logger: silentLogger(), clock: systemClock },
  );
  try {
    const sent = 'deliver_blocks_sent{channel="devchannel",filtered="false",data_type="block"}';
    const sentBefore = (await scrape(dev.orderer.operationsPort)).get(sent) ?? 0;
    const report: BenchReport = await benchFromFlags(
      {
        dataDir: join(root, 'data'),
        count: 400,
        size: 128,
        streams: 4,
        window: 8,
        timeout: 60,
        verify: false,
        json: true,
        readers: 3,
      },
      { env: {}, cwd: root, stdout: () => {}, stderr: undefined },
    );
    assert.equal(report.delivered, 400);
    assert.equal(report.readers?.streams, 3);
    assert.ok(report.readers.fewestBlocksAtEnd <= report.blocks, JSON.stringify(report.readers));
    assert.notEqual(report.readers.caughtUpAfterMs, undefined, 'every reader had every block');
    // The orderer sent each block of the run four times (the measuring stream and three readers),
    // plus the newest block once for the probe that finds where the run starts.
    const sentDuring = (await scrape(dev.orderer.operationsPort)).get(sent)! - sentBefore;
    assert.equal(sentDuring, 4 * report.blocks + 1, `blocks sent for ${report.blocks} blocks`);
  } finally {
    await dev.stop();
    rmSync(root, { recursive: true, force: true });
  }
});

/** The samples of a Prometheus scrape of the operations server, by series. */
async function scrape(port: number): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(response.status, 200);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

test('orderer bench against a channel the orderer does not have fails up front with the Deliver status', async () => {
  const root = mkdtempSync(join(tmpdir(), 'orderer-bench-'));
  const dev = await startDevOrderer(
    { dataDir: join(root, 'data'), port: 0, adminPort: 0, operationsPort: 0 },
    { logger: silentLogger(), clock: systemClock },
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
    { logger: silentLogger(), clock: systemClock },
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
