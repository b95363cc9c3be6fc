import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, systemClock } from '../../../src/clock.js';
import { OrdererError } from '../../../src/errors.js';
import { LoggingSystem } from '../../../src/logging.js';
import { DisabledProvider, OrdererMetrics, PrometheusProvider } from '../../../src/metrics/index.js';
import {
  OperationsServer,
  chainHealthCheck,
  ledgerWritableCheck,
  type HealthCheck,
} from '../../../src/operations/index.js';

const NO_TLS = {
  enabled: false,
  certificate: '',
  privateKey: '',
  clientAuthRequired: false,
  clientRootCAs: [],
};
const quietLogging = () =>
  new LoggingSystem({ spec: 'info' }, { clock: systemClock, destination: { write: () => {} } });

async function request(port: number, path: string, init: RequestInit = {}) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    text,
    json: () => JSON.parse(text) as unknown,
  };
}

describe('operations server over HTTP', () => {
  const clock = new ManualClock(Date.UTC(2026, 4, 1, 12, 0, 0));
  const logging = quietLogging();
  const provider = new PrometheusProvider({ processMetrics: false });
  new OrdererMetrics({ version: '9.9.9' }, { provider });
  let failing: Error | undefined;
  const toggled: HealthCheck = {
    component: 'toggled',
    async check() {
      if (failing) throw failing;
    },
  };
  let server: OperationsServer;
  let port: number;

  before(async () => {
    server = new OperationsServer(
      { listenAddress: '127.0.0.1:0', tls: NO_TLS },
      {
        logging,
        metrics: provider,
        healthChecks: [toggled],
        version: { version: '9.9.9', commit: 'abc123' },
        logger: logging.logger('operations'),
        clock,
      },
    );
    port = await server.start();
  });
  after(() => server.stop());

  test('GET /healthz is 200 OK with the time, or 503 naming the failed checks', async () => {
    const ok = await request(port, '/healthz');
    assert.equal(ok.status, 200);
    assert.equal(ok.type, 'application/json');
    assert.deepEqual(ok.json(), { status: 'OK', time: '2026-05-01T12:00:00.000Z' });

    failing = new Error('solo chain halted');
    let syncFailure = true;
    server.registerHealthCheck({
      component: 'another',
      check: () => {
        if (syncFailure) throw new Error('synchronous failure');
        return Promise.resolve();
      },
    });
    const bad = await request(port, '/healthz');
    failing = undefined;
    syncFailure = false;
    assert.equal(bad.status, 503);
    assert.deepEqual(bad.json(), {
      status: 'Service Unavailable',
      time: '2026-05-01T12:00:00.000Z',
      failed_checks: [
        { component: 'another', reason: 'synchronous failure' },
        { component: 'toggled', reason: 'solo chain halted' },
      ],
    });
    assert.throws(
      () => server.registerHealthCheck({ component: 'toggled', check: async () => {} }),
      (err: unknown) => err instanceof OrdererError && /already registered/.test(err.message),
    );
    assert.equal((await request(port, '/healthz', { method: 'POST' })).status, 405);
  });

  test('GET /version', async () => {
    const res = await request(port, '/version');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { CommitSHA: 'abc123', Version: '9.9.9' });
    const post = await request(port, '/version', { method: 'POST' });
    assert.equal(post.status, 400);
    assert.deepEqual(post.json(), { Error: 'invalid request method: POST' });
  });

  test('GET and PUT /logspec change the levels of live loggers', async () => {
    const ledger = logging.logger('orderer').child({ module: 'ledger' });
    assert.deepEqual((await request(port, '/logspec')).json(), { spec: 'info' });
    const put = await request(port, '/logspec', {
      method: 'PUT',
      body: JSON.stringify({ spec: 'warn:ledger=debug' }),
    });
    assert.equal(put.status, 204);
    assert.equal(put.text, '');
    assert.equal(ledger.level, 'debug');
    assert.deepEqual((await request(port, '/logspec')).json(), { spec: 'warn:ledger=debug' });

    const invalid = await request(port, '/logspec', {
      method: 'PUT',
      body: JSON.stringify({ spec: 'ledger=chatty' }),
    });
    assert.equal(invalid.status, 400);
    assert.match(
      (invalid.json() as { Error: string }).Error,
      /invalid logging specification 'ledger=chatty'/,
    );
    assert.equal(logging.spec(), 'warn:ledger=debug');

    const notJson = await request(port, '/logspec', { method: 'PUT', body: 'spec=debug' });
    assert.equal(notJson.status, 400);
    assert.match((notJson.json() as { Error: string }).Error, /must be JSON/);
    const noSpec = await request(port, '/logspec', { method: 'PUT', body: '{}' });
    assert.equal(noSpec.status, 400);
    const tooLarge = await request(port, '/logspec', {
      method: 'PUT',
      body: JSON.stringify({ spec: 'x'.repeat(70 * 1024) }),
    });
    assert.equal(tooLarge.status, 413);
    assert.equal((await request(port, '/logspec', { method: 'DELETE' })).status, 400);
  });

  test('GET /metrics in the Prometheus text format; unknown paths are 404', async () => {
    const res = await request(port, '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.type ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(res.text, /^fabric_version\{version="9\.9\.9"\} 1$/m);
    assert.equal((await request(port, '/nothing')).status, 404);
    assert.equal((await request(port, '/healthz/')).status, 404);
    assert.equal((await request(port, '/healthz?verbose=1')).status, 200);
  });
});

test('/metrics is 404 when metrics are disabled; /healthz answers 408 when checks hang', async () => {
  const logging = quietLogging();
  const server = new OperationsServer(
    { listenAddress: '', tls: NO_TLS, healthCheckTimeoutMs: 50 },
    {
      logging,
      metrics: new DisabledProvider(),
      healthChecks: [{ component: 'stuck', check: () => new Promise(() => {}) }],
      version: { version: '1', commit: 'c' },
      logger: logging.logger('operations'),
      clock: new ManualClock(),
    },
  );
  const port = await server.start();
  try {
    assert.ok(port > 0);
    assert.equal((await request(port, '/metrics')).status, 404);
    assert.equal((await request(port, '/healthz')).status, 408);
  } finally {
    await server.stop();
  }
});

test('beforeScrape brings gauges up to date before every /metrics scrape; its errors do not fail the scrape', async () => {
  const logging = quietLogging();
  const provider = new PrometheusProvider({ processMetrics: false });
  const metrics = new OrdererMetrics({ version: '1' }, { provider });
  const report = metrics.participationObserver();
  let status: 'active' | 'inactive' | 'boom' = 'active';
  const server = new OperationsServer(
    { listenAddress: '127.0.0.1:0', tls: NO_TLS },
    {
      logging,
      metrics: provider,
      beforeScrape: () => {
        if (status === 'boom') throw new Error('boom');
        report('mychannel', { consensusRelation: 'other', status });
      },
      version: { version: '1', commit: 'c' },
      logger: logging.logger('operations'),
      clock: new ManualClock(),
    },
  );
  const port = await server.start();
  try {
    assert.match((await request(port, '/metrics')).text, /^participation_status\{channel="mychannel"\} 1$/m);
    status = 'inactive';
    assert.match((await request(port, '/metrics')).text, /^participation_status\{channel="mychannel"\} 0$/m);
    status = 'boom';
    const res = await request(port, '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.text, /^participation_status\{channel="mychannel"\} 0$/m);
  } finally {
    await server.stop();
  }
});

test('a listen address in use is reported with the setting to change', async () => {
  const logging = quietLogging();
  const deps = {
    logging,
    metrics: new DisabledProvider(),
    version: { version: '1', commit: 'c' },
    logger: logging.logger('operations'),
    clock: new ManualClock(),
  };
  const first = new OperationsServer({ listenAddress: '127.0.0.1:0', tls: NO_TLS }, deps);
  const port = await first.start();
  try {
    const second = new OperationsServer({ listenAddress: `127.0.0.1:${port}`, tls: NO_TLS }, deps);
    await assert.rejects(
      second.start(),
      /cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE.*Operations\.ListenAddress/,
    );
  } finally {
    await first.stop();
  }
});

test('TLS files that cannot be read are reported at construction', () => {
  const logging = quietLogging();
  assert.throws(
    () =>
      new OperationsServer(
        {
          listenAddress: '127.0.0.1:0',
          tls: {
            ...NO_TLS,
            enabled: true,
            certificate: '/nonexistent/server.crt',
            privateKey: '/nonexistent/key',
          },
        },
        {
          logging,
          metrics: new DisabledProvider(),
          version: { version: '1', commit: 'c' },
          logger: logging.logger('o'),
          clock: new ManualClock(),
        },
      ),
    /cannot read TLS certificate \/nonexistent\/server\.crt \(Operations\.TLS\)/,
  );
});

test('ledger writable check: passes on a folder and leaves nothing behind; fails on a file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ops-ledger-'));
  try {
    await ledgerWritableCheck({ location: dir }).check();
    assert.deepEqual(readdirSync(dir), []);
    const file = join(dir, 'not-a-folder');
    writeFileSync(file, 'x');
    const check = ledgerWritableCheck({ location: file });
    assert.equal(check.component, 'ledger');
    await assert.rejects(check.check(), /ledger folder .*not-a-folder is not writable: .*ENOTDIR/);
    await assert.rejects(ledgerWritableCheck({ location: join(dir, 'missing') }).check(), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('chain health check names each errored channel and skips channels without a consenter', async () => {
  const errors = new Map<string, Error | undefined>([
    ['a', undefined],
    ['b', new Error('solo chain for channel b is halted')],
    ['c', new Error('kafka brokers unreachable')],
  ]);
  const registrar = {
    channelIds: () => ['a', 'b', 'c', 'joining'],
    getChain: (id: string) =>
      id === 'joining'
        ? {
            get chain(): { errored(): Error | undefined } {
              throw new OrdererError('unavailable', 'channel joining has no running consenter');
            },
          }
        : { chain: { errored: () => errors.get(id) } },
  };
  const check = chainHealthCheck(registrar);
  await assert.rejects(
    check.check(),
    (err: Error) =>
      err.message === 'channel b: solo chain for channel b is halted; channel c: kafka brokers unreachable',
  );
  errors.clear();
  await check.check();
});
