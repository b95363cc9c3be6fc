// `orderer bench` on a terminal against the dev orderer: an unreported warm-up first (said in the
// report), progress drawn on the TTY's stderr, and nothing there with --json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevOrderer } from '../../src/dev/index.js';
import { silentLogger } from '../../src/logging.js';
import { benchFromFlags, benchSucceeded } from '../../src/cli/bench.js';
import { systemClock } from '../../src/clock.js';

class FakeTerminal {
  readonly isTTY = true;
  readonly columns = 120;
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

test(
  'orderer bench: warm-up run first, progress on a TTY, quiet with --json',
  { timeout: 240_000 },
  async () => {
    const root = mkdtempSync(join(tmpdir(), 'orderer-bench-tty-'));
    const dataDir = join(root, 'data');
    const dev = await startDevOrderer(
      { dataDir, port: 0, adminPort: 0, operationsPort: 0 },
      { logger: silentLogger(), clock: systemClock },
    );
    try {
      const flags = { dataDir, count: 300, size: 128, streams: 4, window: 8, timeout: 120, verify: false };
      const terminal = new FakeTerminal();
      let printed = '';
      const report = await benchFromFlags(
        { ...flags, warmup: 200 },
        { env: {}, cwd: root, stdout: (text) => (printed += text), stderr: terminal },
      );
      assert.ok(benchSucceeded(report));
      assert.equal(report.warmup, 200);
      assert.equal(report.count, 300, 'the warm-up is not counted');
      assert.equal(report.delivered, 300);
      // Block 0 is the genesis block; the warm-up's 200 envelopes are in the blocks before the report's.
      assert.ok(
        report.firstBlock! > 1,
        `the measured run starts after the warm-up's blocks: ${report.firstBlock}`,
      );
      assert.equal(dev.orderer.registrar.channelInfo('devchannel')?.height, report.lastBlock! + 1);
      assert.match(printed, /warm-up\s+200 envelopes sent first and not counted/);
      assert.match(terminal.text, /\rwarm-up \[/, 'the warm-up shows its progress');
      assert.match(
        terminal.text,
        /\r\[[#.]+\]\s+\d+% (sending|draining|signing)/,
        'the measured run shows its progress',
      );
      assert.ok(terminal.text.endsWith('\r\x1b[K'), 'the line is cleared before the report');

      const quiet = new FakeTerminal();
      let json = '';
      const jsonReport = await benchFromFlags(
        { ...flags, json: true, warmup: 0 },
        { env: {}, cwd: root, stdout: (text) => (json += text), stderr: quiet },
      );
      assert.equal(quiet.text, '', '--json draws no progress');
      assert.deepEqual(JSON.parse(json), JSON.parse(JSON.stringify(jsonReport)));
      assert.equal(jsonReport.warmup, undefined, 'no warm-up field when none ran');
    } finally {
      await dev.stop();
      rmSync(root, { recursive: true, force: true });
    }
  },
);
