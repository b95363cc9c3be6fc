// The operations endpoint over HTTPS with client certificates, on a real orderer's registrar: a
// LoggingSystem, prometheus metrics fed by the Broadcast and Deliver observers, health checks on
// the ledger folder and on every channel's consenter. It serves AtomicBroadcast a second time
// from handlers built on the running orderer's registrar, with its own registry, so that the TLS
// rules can be checked on a known set of values. The composition root's own wiring (what
// `orderer start` runs) is tested in operations-process.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as https from 'node:https';
import { common as hlCommon } from '@hyperledger/fabric-protos';
import { systemClock } from '../../src/clock.js';
import { freePort } from '../support/ports.js';
import { LoggingSystem } from '../../src/logging.js';
import { OrdererMetrics, PrometheusProvider } from '../../src/metrics/index.js';
import {
  OperationsServer,
  chainHealthCheck,
  ledgerWritableCheck,
  type OperationsTlsOptions,
} from '../../src/operations/index.js';
import { BroadcastHandler } from '../../src/broadcast/index.js';
import { DeliverHandler } from '../../src/deliver/index.js';
import { CertificateExpiryCache } from '../../src/msgprocessor/index.js';
import { AtomicBroadcastServer } from '../../src/server/grpc.js';
import { versionInfo } from '../../src/version.js';
import {
  CRYPTO,
  FIXTURES,
  HeaderType,
  atomicBroadcastClient,
  broadcastAll,
  loadIdentity,
  seekInfo,
  signChannelCreateTx,
  signedEnvelope,
} from '../support/fabric-clients.js';
import { ORDERER0_DIR, startTestOrderer, type TestOrderer } from '../support/orderer.js';

const SERVER_TLS = join(ORDERER0_DIR, 'tls');
const ORDERER_ADMIN_TLS = join(CRYPTO, 'ordererOrganizations/example.com/users/Admin@example.com/tls');
// Issued by Org1's TLS CA, which the operations endpoint does not trust.
const ORG1_USER_TLS = join(CRYPTO, 'peerOrganizations/org1.example.com/users/User1@org1.example.com/tls');

type ClientCert = 'trusted' | 'untrusted' | 'none';

interface Response {
  status: number;
  type: string | undefined;
  body: string;
}

function call(
  port: number,
  path: string,
  cert: ClientCert,
  method = 'GET',
  body?: string,
): Promise<Response> {
  const certDir = cert === 'trusted' ? ORDERER_ADMIN_TLS : cert === 'untrusted' ? ORG1_USER_TLS : undefined;
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        ca: readFileSync(join(SERVER_TLS, 'ca.crt')),
        ...(certDir
          ? {
              cert: readFileSync(join(certDir, 'client.crt')),
              key: readFileSync(join(certDir, 'client.key')),
            }
          : {}),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers['content-type'],
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function operationsTls(clientAuthRequired: boolean): OperationsTlsOptions {
  return {
    enabled: true,
    certificate: join(SERVER_TLS, 'server.crt'),
    privateKey: join(SERVER_TLS, 'server.key'),
    clientAuthRequired,
    clientRootCAs: [join(ORDERER_ADMIN_TLS, 'ca.crt')],
  };
}

describe('operations endpoint of a running orderer', () => {
  let node: TestOrderer;
  let logging: LoggingSystem;
  let provider: PrometheusProvider;
  let observed: AtomicBroadcastServer;
  let client: ReturnType<typeof atomicBroadcastClient>;
  let operations: OperationsServer;
  let port: number;
  const lines: string[] = [];

  /** One Deliver request; resolves as soon as its status arrives (the stream is then closed). */
  function deliverUntilStatus(envelope: Buffer): Promise<{ status: number; blocks: number }> {
    return new Promise((resolve, reject) => {
      const stream = client.deliver();
      let blocks = 0;
      stream.on('data', (response: { hasBlock(): boolean; getStatus(): number }) => {
        if (response.hasBlock()) blocks++;
        else {
          resolve({ status: response.getStatus(), blocks });
          stream.cancel();
        }
      });
      stream.on('error', (err: Error & { code?: number }) => {
        if (err.code !== 1) reject(err); // 1 = CANCELLED, by us after the status
      });
      stream.write(hlCommon.Envelope.deserializeBinary(envelope));
    });
  }

  before(async () => {
    node = await startTestOrderer({ env: { ORDERER_GENERAL_LISTENPORT: String(await freePort()) } });
    logging = new LoggingSystem(
      { spec: 'info', format: 'json' },
      { clock: systemClock, destination: { write: (chunk: string) => lines.push(chunk) } },
    );
    const logger = logging.logger('orderer');
    provider = new PrometheusProvider();
    const metrics = new OrdererMetrics({ version: versionInfo().version }, { provider });
    logging.observeEntries(metrics.loggingObserver());

    const registrar = node.orderer.registrar;
    const broadcast = new BroadcastHandler({
      support: registrar,
      logger: logger.child({ module: 'broadcast' }),
      observer: metrics.broadcastObserver(),
      clock: systemClock,
    });
    const deliverHandler = new DeliverHandler(
      { timeWindowMs: 15 * 60_000, mutualTls: false, noExpirationChecks: false },
      {
        chains: {
          getDeliverChain(channelId) {
            const chain = registrar.getChain(channelId);
            return chain
              ? {
                  reader: chain.store,
                  bundle: () => chain.bundle(),
                  errored: () => chain.chain.errored(),
                  onStatusChange: (listener: () => void) => chain.chain.onStatusChange(listener),
                }
              : undefined;
          },
        },
        clock: systemClock,
        logger: logger.child({ module: 'deliver' }),
        expiry: new CertificateExpiryCache(),
        observer: metrics.deliverObserver(),
      },
    );
    observed = new AtomicBroadcastServer(
      {
        listenAddress: '127.0.0.1',
        listenPort: 0,
        maxRecvMsgSize: 100 * 1024 * 1024,
        maxSendMsgSize: 100 * 1024 * 1024,
        keepalive: { serverMinIntervalMs: 60_000, serverIntervalMs: 7_200_000, serverTimeoutMs: 20_000 },
      },
      { broadcast, deliver: deliverHandler, logger: logger.child({ module: 'grpc' }), clock: systemClock },
    );
    await observed.start();
    client = atomicBroadcastClient(observed.address);

    operations = new OperationsServer(
      { listenAddress: '127.0.0.1:0', tls: operationsTls(true) },
      {
        logging,
        metrics: provider,
        healthChecks: [ledgerWritableCheck({ location: node.ledgerDir }), chainHealthCheck(registrar)],
        version: versionInfo(),
        clock: systemClock,
        logger: logger.child({ module: 'operations' }),
      },
    );
    port = await operations.start();
  });

  after(async () => {
    client?.close();
    await operations?.stop();
    await observed?.stop();
    await node?.destroy();
  });

  it('serves /healthz, /version and /logspec to a client with a trusted certificate', async () => {
    const health = await call(port, '/healthz', 'trusted');
    assert.equal(health.status, 200);
    const body = JSON.parse(health.body) as { status: string; time: string };
    assert.equal(body.status, 'OK');
    assert.ok(Math.abs(Date.parse(body.time) - Date.now()) < 60_000);

    const version = await call(port, '/version', 'trusted');
    assert.equal(version.status, 200);
    assert.deepEqual(JSON.parse(version.body), {
      CommitSHA: versionInfo().commit,
      Version: versionInfo().version,
    });

    assert.deepEqual(JSON.parse((await call(port, '/logspec', 'trusted')).body), { spec: 'info' });
  });

  it('refuses clients without a certificate or with one from an untrusted CA (ClientAuthRequired)', async () => {
    for (const path of ['/healthz', '/version', '/metrics', '/logspec']) {
      await assert.rejects(call(port, path, 'none'), path);
      await assert.rejects(call(port, path, 'untrusted'), path);
    }
  });

  it('PUT /logspec changes the effective level of live loggers', async () => {
    const deliverLogger = logging
      .logger('orderer')
      .child({ module: 'deliver' })
      .child({ channel: 'mychannel' });
    assert.equal(deliverLogger.isLevelEnabled('debug'), false);
    const put = await call(
      port,
      '/logspec',
      'trusted',
      'PUT',
      JSON.stringify({ spec: 'warn:deliver=debug' }),
    );
    assert.equal(put.status, 204);
    assert.equal(deliverLogger.isLevelEnabled('debug'), true);
    assert.equal(logging.logger('orderer').child({ module: 'broadcast' }).isLevelEnabled('info'), false);
    assert.deepEqual(JSON.parse((await call(port, '/logspec', 'trusted')).body), {
      spec: 'warn:deliver=debug',
    });

    const bad = await call(port, '/logspec', 'trusted', 'PUT', JSON.stringify({ spec: 'deliver=shout' }));
    assert.equal(bad.status, 400);
    assert.match((JSON.parse(bad.body) as { Error: string }).Error, /invalid logging specification/);
    await call(port, '/logspec', 'trusted', 'PUT', JSON.stringify({ spec: 'info' }));
  });

  it('metrics move when transactions are broadcast, blocks cut and delivered', async () => {
    const before = await call(port, '/metrics', 'trusted');
    assert.equal(before.status, 200);
    assert.match(before.type ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(before.body, new RegExp(`^fabric_version\\{version="${versionInfo().version}"\\} 1$`, 'm'));
    assert.match(before.body, /^process_resident_memory_bytes \d+/m);

    const org1Admin = loadIdentity('org1Admin');
    const org1User = loadIdentity('org1User');
    const createTx = readFileSync(join(FIXTURES, 'blocks/mychannel-create.tx'));
    assert.deepEqual(await broadcastAll(client, [signChannelCreateTx(createTx, [org1Admin])]), [
      { status: 200, info: '' },
    ]);
    const deadline = Date.now() + 10_000;
    while (!node.orderer.registrar.getChain('mychannel')) {
      assert.ok(Date.now() < deadline, 'mychannel was not created');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const txs = Array.from({ length: 5 }, (_, i) =>
      signedEnvelope(org1User, { channelId: 'mychannel', txId: `ops-${i}` }),
    );
    const responses = await broadcastAll(client, txs);
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 200, 200, 200, 200],
    );
    const rejected = await broadcastAll(client, [signedEnvelope(org1User, { channelId: 'nosuchchannel' })]);
    assert.equal(rejected[0]!.status, 404);

    // Block 1 is cut by the 2 s BatchTimeout; Deliver blocks until it is there.
    const delivered = await deliverUntilStatus(
      signedEnvelope(org1User, {
        type: HeaderType.DELIVER_SEEK_INFO,
        channelId: 'mychannel',
        data: seekInfo(0, 1),
      }),
    );
    assert.deepEqual(delivered, { status: 200, blocks: 2 });

    const scraped = (await call(port, '/metrics', 'trusted')).body;
    const tx = 'channel="mychannel",type="ENDORSER_TRANSACTION",status="SUCCESS"';
    assert.equal(sample(scraped, `broadcast_processed_count{${tx}}`), 5);
    assert.equal(sample(scraped, `broadcast_validate_duration_count{${tx}}`), 5);
    assert.equal(sample(scraped, `broadcast_enqueue_duration_count{${tx}}`), 5);
    assert.match(
      scraped,
      /^broadcast_processed_count\{channel="[a-z-]+",type="CONFIG_UPDATE",status="SUCCESS"\} 1$/m,
    );
    assert.equal(
      sample(
        scraped,
        'broadcast_processed_count{channel="nosuchchannel",type="ENDORSER_TRANSACTION",status="NOT_FOUND"}',
      ),
      1,
    );
    const deliverLabels = 'channel="mychannel",filtered="false",data_type="block"';
    assert.equal(sample(scraped, `deliver_requests_received{${deliverLabels}}`), 1);
    assert.equal(sample(scraped, `deliver_blocks_sent{${deliverLabels}}`), 2);
    assert.equal(sample(scraped, `deliver_requests_completed{${deliverLabels},success="true"}`), 1);
    assert.ok((sample(scraped, 'logging_entries_written{level="info"}') ?? 0) >= 1);
  });

  it('/healthz turns 503 naming the channel when a chain halts', async () => {
    await node.orderer.registrar.getChain('mychannel')!.chain.halt();
    const res = await call(port, '/healthz', 'trusted');
    assert.equal(res.status, 503);
    const body = JSON.parse(res.body) as {
      status: string;
      failed_checks: { component: string; reason: string }[];
    };
    assert.equal(body.status, 'Service Unavailable');
    assert.equal(body.failed_checks.length, 1);
    assert.equal(body.failed_checks[0]!.component, 'consensus');
    assert.match(body.failed_checks[0]!.reason, /^channel mychannel: .*halted/);
  });
});

describe('operations endpoint with TLS but without ClientAuthRequired (as Fabric)', () => {
  let operations: OperationsServer;
  let port: number;
  let ledgerPath: string;

  before(async () => {
    const logging = new LoggingSystem(
      { spec: 'info' },
      { clock: systemClock, destination: { write: () => {} } },
    );
    const provider = new PrometheusProvider({ processMetrics: false });
    new OrdererMetrics({ version: '1.0.0' }, { provider });
    ledgerPath = join(FIXTURES, 'configtx.yaml'); // a file, not a folder: the ledger check fails
    operations = new OperationsServer(
      { listenAddress: '127.0.0.1:0', tls: operationsTls(false) },
      {
        logging,
        metrics: provider,
        healthChecks: [ledgerWritableCheck({ location: ledgerPath })],
        version: { version: '1.0.0', commit: 'abc' },
        clock: systemClock,
        logger: logging.logger('operations'),
      },
    );
    port = await operations.start();
  });
  after(() => operations?.stop());

  it('/healthz and /version are open; /metrics and /logspec need a trusted client certificate', async () => {
    const health = await call(port, '/healthz', 'none');
    assert.equal(health.status, 503);
    const failed = (JSON.parse(health.body) as { failed_checks: { component: string; reason: string }[] })
      .failed_checks;
    assert.equal(failed[0]!.component, 'ledger');
    assert.match(failed[0]!.reason, /is not writable: .*ENOTDIR/);
    assert.equal((await call(port, '/version', 'none')).status, 200);
    assert.equal((await call(port, '/metrics', 'none')).status, 401);
    assert.equal((await call(port, '/logspec', 'none')).status, 401);
    assert.equal((await call(port, '/logspec', 'none', 'PUT', '{"spec":"debug"}')).status, 401);
    assert.equal((await call(port, '/metrics', 'trusted')).status, 200);
    assert.equal((await call(port, '/logspec', 'trusted')).status, 200);
    // A certificate that is presented must verify (Go's VerifyClientCertIfGiven).
    await assert.rejects(call(port, '/version', 'untrusted'));
  });
});
