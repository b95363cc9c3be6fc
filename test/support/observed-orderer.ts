// A real orderer in-process, as startTestOrderer starts it, whose log lines a test can wait for: the
// orderer's own LoggingSystem (so logging metrics count as in production) writes JSON lines into
// memory, and logged() resolves when a line that matches has been written, before or after the call.
// Tests wait on what the orderer says it did instead of polling its state with sleeps.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLocalConfig } from '../../src/config/index.js';
import { LoggingSystem } from '../../src/logging.js';
import { startOrderer } from '../../src/server/orderer.js';
import { freePort, ordererEnv, type TestOrderer } from './orderer.js';
import { systemClock } from '../../src/clock.js';

export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

export interface ObservedOrderer extends TestOrderer {
  readonly lines: readonly LogLine[];
  /** Resolves with the first line (already written or still to come) that matches; rejects after
   *  timeoutMs, a safety net that names what never happened (nothing waits that long normally). */
  logged(what: string, match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

export async function startObservedOrderer(
  options: { ledgerDir?: string; env?: Record<string, string>; spec?: string } = {},
): Promise<ObservedOrderer> {
  const ledgerDir = options.ledgerDir ?? mkdtempSync(join(tmpdir(), 'orderer-it-'));
  const env = ordererEnv(ledgerDir, options.env, await freePort());
  const lines: LogLine[] = [];
  const waiters = new Set<(line: LogLine) => void>();
  const logging = new LoggingSystem(
    { spec: options.spec ?? 'info', format: 'json' },
    {
      clock: systemClock,
      destination: {
        write(chunk: string) {
          for (const text of chunk.split('\n')) {
            if (text.trim() === '') continue;
            const line = JSON.parse(text) as LogLine;
            lines.push(line);
            for (const waiter of [...waiters]) waiter(line);
          }
        },
      },
    },
  );
  const loaded = loadLocalConfig({ env, cwd: process.cwd() });
  const orderer = await startOrderer(loaded.config, { logging, clock: systemClock });
  return {
    orderer,
    address: `127.0.0.1:${orderer.port}`,
    ledgerDir,
    env,
    lines,
    logged(what, match, timeoutMs = 20000) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`the orderer never logged ${what} within ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter = (line: LogLine) => {
          if (!match(line)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(line);
        };
        waiters.add(waiter);
      });
    },
    stop: () => orderer.stop(),
    async destroy() {
      await orderer.stop();
      rmSync(ledgerDir, { recursive: true, force: true });
    },
  };
}
