// The operations endpoint of the orderer as an operator runs it: `orderer start` in its own process
// (Fabric's sample orderer.yaml, ORDERER_* overrides, FABRIC_LOGGING_SPEC/FORMAT), so logging,
// metrics and health checks are the composition root's own wiring, not a test's. Then the same
// endpoint of an in-process orderer without a system channel, for the participation_* gauges
// across join and remove. Every metric asserted here moved because messages were broadcast,
// blocks cut, written and delivered.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FIXTURES,
  HeaderType,
  atomicBroadcastClient,
  broadcastAll,
  deliverOnce,
  loadIdentity,
  seekInfo,
  signChannelCreateTx,
  signedEnvelope,
} from '../support/fabric-clients.js';
import {
  channelGenesisBlock,
  freePort,
  startOrdererProcess,
  type OrdererProcess,
} from '../support/orderer-process.js';
import { ordererEnv, startTestOrderer, type TestOrderer } from '../support/orderer.js';
import { loadLocalConfig } from '../../src/config/index.js';
import { LoggingSystem } from '../../src/logging.js';
import { startOrderer, type RunningOrderer } from '../../src/server/orderer.js';
import { asBuffer, common, orderer as ordererProtos } from '../../src/protos/index.js';
import { marshalConfigEnvelope } from '../../src/channelconfig/index.js';
import { blockDataHash } from '../../src/protoutil/index.js';
import { systemClock } from '../../src/clock.js';

/** Fabric's Kafka system channel genesis block with its KafkaBrokers replaced. */
function kafkaSystemGenesis(brokers: string[]): Buffer {
  const original = common.Block.decode(readFileSync(join(FIXTURES, 'blocks/sys-kafka.block')));
  const envelope = common.Envelope.decode(asBuffer(original.data!.data![0]));
  const payload = common.Payload.decode(asBuffer(envelope.payload));
  const configEnvelope = common.ConfigEnvelope.decode(asBuffer(payload.data));
  const ordererGroup = configEnvelope.config!.channelGroup!.groups!['Orderer']!;
  ordererGroup.values!['KafkaBrokers']!.value = ordererProtos.KafkaBrokers.encode({ brokers }).finish();
  const envelopeBytes = common.Envelope.encode({
    payload: common.Payload.encode({
      header: payload.header,
      data: marshalConfigEnvelope(configEnvelope),
    }).finish(),
    signature: envelope.signature,
  }).finish();
  return asBuffer(
    common.Block.encode(
      common.Block.create({
        header: { number: 0, dataHash: blockDataHash([envelopeBytes]) },
        data: { data: [envelopeBytes] },
        metadata: original.metadata,
      }),
    ).finish(),
  );
}

interface Answer {
  status: number;
  body: string;
}

function request(port: number, path: string, method = 'GET', body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The value of one series in a Prometheus text exposition, or undefined when it is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Polls until check() returns a value that is not undefined, or fails at the deadline. */
async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface LogEvent {
  level: string;
  name?: string;
  module?: string;
  msg: string;
}

function jsonEvents(lines: readonly string[]): LogEvent[] {
  return lines.flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as LogEvent];
    } catch {
      return [];
    }
  });
}

const loggerOf = (event: LogEvent) => event.module ?? event.name;

describe('operations of `orderer start` in its own process', () => {
  let proc: OrdererProcess;
  let opsPort: number;
  let ledgerDir: string;
  let client: ReturnType<typeof atomicBroadcastClient>;
  const org1User = loadIdentity('org1User');

  before(async () => {
    ledgerDir = mkdtempSync(join(tmpdir(), 'orderer-ops-'));
    opsPort = await freePort();
    proc = await startOrdererProcess({
      ledgerDir,
      port: await freePort(),
      env: {
        ORDERER_OPERATIONS_LISTENADDRESS: `127.0.0.1:${opsPort}`,
        ORDERER_METRICS_PROVIDER: 'prometheus',
        FABRIC_LOGGING_SPEC: 'info',
        FABRIC_LOGGING_FORMAT: 'json',
      },
      startTimeoutMs: 60_000,
    });
    client = atomicBroadcastClient(proc.address);
  });

  after(async () => {
    client?.close();
    await proc?.stop();
    if (ledgerDir) rmSync(ledgerDir, { recursive: true, force: true });
  });

  it('logs through the logging system: Fabric logger names, JSON format, the spec from the environment', async () => {
    const events = jsonEvents(proc.output);
    assert.ok(events.length > 0, `no JSON log lines in:\n${proc.output.join('\n')}`);
    const names = new Set(events.map(loggerOf));
    assert.ok(names.has('orderer.common.server'), [...names].join(', '));
    assert.ok(names.has('orderer.operations'), [...names].join(', '));
    assert.ok(names.has('comm.grpc.server'), [...names].join(', '));
    assert.ok(!events.some((e) => e.level === 'debug'), 'FABRIC_LOGGING_SPEC=info logs no debug lines');
    const spec = await request(opsPort, '/logspec');
    assert.equal(spec.status, 200);
    assert.deepEqual(JSON.parse(spec.body), { spec: 'info' });
  });

  it('PUT /logspec turns on debug for the loggers the spec names, by prefix, and no others', async () => {
    const put = await request(
      opsPort,
      '/logspec',
      'PUT',
      JSON.stringify({ spec: 'info:orderer.common=debug' }),
    );
    assert.equal(put.status, 204);
    const from = proc.output.length;

    // The broadcast handler logs a rejected message at debug (orderer.common.broadcast); every
    // operations request is logged at debug too (orderer.operations, not under orderer.common).
    const rejected = await broadcastAll(client, [signedEnvelope(org1User, { channelId: 'nosuchchannel' })]);
    assert.equal(rejected[0]!.status, 404);
    assert.equal((await request(opsPort, '/healthz')).status, 200);

    const debugLine = await eventually('the broadcast debug line', async () =>
      jsonEvents(proc.output.slice(from)).find(
        (e) => e.level === 'debug' && loggerOf(e) === 'orderer.common.broadcast',
      ),
    );
    assert.equal(debugLine.msg, 'broadcast message rejected');
    const debugLoggers = new Set(
      jsonEvents(proc.output.slice(from))
        .filter((e) => e.level === 'debug')
        .map(loggerOf),
    );
    assert.ok(!debugLoggers.has('orderer.operations'), [...debugLoggers].join(', '));
    for (const name of debugLoggers) assert.match(String(name), /^orderer\.common\./);

    assert.equal((await request(opsPort, '/logspec', 'PUT', JSON.stringify({ spec: 'info' }))).status, 204);
    assert.deepEqual(JSON.parse((await request(opsPort, '/logspec')).body), { spec: 'info' });
  });

  it('/metrics moves as transactions are broadcast, blocks cut, written and delivered', async () => {
    const org1Admin = loadIdentity('org1Admin');
    const createTx = readFileSync(join(FIXTURES, 'blocks/mychannel-create.tx'));
    assert.deepEqual(await broadcastAll(client, [signChannelCreateTx(createTx, [org1Admin])]), [
      { status: 200, info: '' },
    ]);
    // The channel exists once its participation status is reported.
    await eventually('mychannel', async () => {
      const body = (await request(opsPort, '/metrics')).body;
      return sample(body, 'participation_status{channel="mychannel"}');
    });

    const txs = Array.from({ length: 5 }, (_, i) =>
      signedEnvelope(org1User, { channelId: 'mychannel', txId: `ops-process-${i}` }),
    );
    assert.deepEqual(
      (await broadcastAll(client, txs)).map((r) => r.status),
      [200, 200, 200, 200, 200],
    );
    // Block 1 is cut by the channel's BatchTimeout; Deliver waits for it.
    const delivered = await deliverOnce(
      client,
      signedEnvelope(org1User, {
        type: HeaderType.DELIVER_SEEK_INFO,
        channelId: 'mychannel',
        data: seekInfo(0, 1),
      }),
    );
    assert.equal(delivered.status, 200);
    assert.equal(delivered.blocks.length, 2);

    const scraped = await eventually('the deliver stream to be counted closed', async () => {
      const body = (await request(opsPort, '/metrics')).body;
      const opened = sample(body, 'deliver_streams_opened');
      return opened !== undefined && opened >= 1 && sample(body, 'deliver_streams_closed') === opened
        ? body
        : undefined;
    });
    const tx = 'channel="mychannel",type="ENDORSER_TRANSACTION",status="SUCCESS"';
    assert.equal(sample(scraped, `broadcast_processed_count{${tx}}`), 5);
    assert.equal(sample(scraped, `broadcast_validate_duration_count{${tx}}`), 5);
    assert.equal(sample(scraped, `broadcast_enqueue_duration_count{${tx}}`), 5);
    assert.match(
      scraped,
      /^broadcast_processed_count\{channel="[^"]+",type="CONFIG_UPDATE",status="SUCCESS"\} 1$/m,
    );
    const notFound = 'channel="nosuchchannel",type="ENDORSER_TRANSACTION",status="NOT_FOUND"';
    assert.equal(sample(scraped, `broadcast_processed_count{${notFound}}`), 1);
    assert.equal(sample(scraped, `broadcast_validate_duration_count{${notFound}}`), 1);
    // Rejected while validating: it never reached the consenter, so no enqueue time.
    assert.equal(sample(scraped, `broadcast_enqueue_duration_count{${notFound}}`), undefined);

    const deliverLabels = 'channel="mychannel",filtered="false",data_type="block"';
    assert.equal(sample(scraped, `deliver_requests_received{${deliverLabels}}`), 1);
    assert.equal(sample(scraped, `deliver_requests_completed{${deliverLabels},success="true"}`), 1);
    assert.equal(sample(scraped, `deliver_blocks_sent{${deliverLabels}}`), 2);
    assert.equal(sample(scraped, 'ledger_blockchain_height{channel="mychannel"}'), 2);
    assert.equal(sample(scraped, 'blockcutter_block_fill_duration_count{channel="mychannel"}'), 1);
    // Solo channels: relation "other" (0), status "active" (1), as Fabric reports them.
    assert.equal(sample(scraped, 'participation_status{channel="mychannel"}'), 1);
    assert.equal(sample(scraped, 'participation_consensus_relation{channel="mychannel"}'), 0);
    assert.ok((sample(scraped, 'logging_entries_written{level="info"}') ?? 0) > 0);
    assert.ok((sample(scraped, 'logging_entries_written{level="debug"}') ?? 0) > 0);
  });

  it('/healthz is 503 naming the failed check while the ledger folder is gone, 200 again after', async () => {
    const health = await request(opsPort, '/healthz');
    assert.equal(health.status, 200, health.body);
    assert.equal((JSON.parse(health.body) as { status: string }).status, 'OK');

    const moved = `${ledgerDir}.moved`;
    renameSync(ledgerDir, moved);
    try {
      const failed = await request(opsPort, '/healthz');
      assert.equal(failed.status, 503, failed.body);
      const body = JSON.parse(failed.body) as {
        status: string;
        failed_checks: { component: string; reason: string }[];
      };
      assert.equal(body.status, 'Service Unavailable');
      assert.deepEqual(
        body.failed_checks.map((c) => c.component),
        ['ledger'],
      );
      assert.match(body.failed_checks[0]!.reason, /is not writable: .*ENOENT/);
    } finally {
      renameSync(moved, ledgerDir);
    }
    assert.equal((await request(opsPort, '/healthz')).status, 200);
  });
});

describe('participation_* gauges across channel participation join and remove', () => {
  let node: TestOrderer;
  let client: ReturnType<typeof atomicBroadcastClient>;
  const org1User = loadIdentity('org1User');
  const scrape = async () => (await request(node.orderer.operationsPort, '/metrics')).body;

  before(async () => {
    node = await startTestOrderer({
      env: {
        ORDERER_GENERAL_BOOTSTRAPMETHOD: 'none',
        ORDERER_CHANNELPARTICIPATION_ENABLED: 'true',
        ORDERER_METRICS_PROVIDER: 'prometheus',
      },
    });
    client = atomicBroadcastClient(node.address);
  });

  after(async () => {
    client?.close();
    await node?.destroy();
  });

  it('reports a joined channel, counts its traffic, and drops its series when it is removed', async () => {
    const empty = await scrape();
    assert.doesNotMatch(empty, /^participation_status\{/m);
    const health = await request(node.orderer.operationsPort, '/healthz');
    assert.equal(health.status, 200, `no Kafka channel: the kafka check passes; ${health.body}`);

    const info = await node.orderer.registrar.joinChannel(
      channelGenesisBlock('opschannel', { maxMessageCount: 2, batchTimeout: '10s' }),
    );
    assert.equal(info.status, 'active');
    const joined = await scrape();
    assert.equal(sample(joined, 'participation_status{channel="opschannel"}'), 1);
    assert.equal(sample(joined, 'participation_consensus_relation{channel="opschannel"}'), 0);

    const txs = [0, 1].map((i) => signedEnvelope(org1User, { channelId: 'opschannel', txId: `join-${i}` }));
    assert.deepEqual(
      (await broadcastAll(client, txs)).map((r) => r.status),
      [200, 200],
    );
    const delivered = await deliverOnce(
      client,
      signedEnvelope(org1User, {
        type: HeaderType.DELIVER_SEEK_INFO,
        channelId: 'opschannel',
        data: seekInfo(1, 1),
      }),
    );
    assert.equal(delivered.status, 200);
    const traffic = await eventually('the deliver stream to be counted closed', async () => {
      const body = await scrape();
      return sample(body, 'deliver_streams_closed') === 1 ? body : undefined;
    });
    assert.equal(sample(traffic, 'deliver_streams_opened'), 1);
    assert.equal(
      sample(
        traffic,
        'broadcast_processed_count{channel="opschannel",type="ENDORSER_TRANSACTION",status="SUCCESS"}',
      ),
      2,
    );
    assert.equal(
      sample(traffic, 'deliver_blocks_sent{channel="opschannel",filtered="false",data_type="block"}'),
      1,
    );
    assert.equal(sample(traffic, 'ledger_blockchain_height{channel="opschannel"}'), 2);

    // A chain that stops is reported inactive at the next scrape, without any lifecycle event.
    await node.orderer.registrar.getChain('opschannel')!.chain.halt();
    const halted = await scrape();
    assert.equal(sample(halted, 'participation_status{channel="opschannel"}'), 0);

    await node.orderer.registrar.removeChannel('opschannel');
    const removed = await scrape();
    assert.equal(sample(removed, 'participation_status{channel="opschannel"}'), undefined);
    assert.equal(sample(removed, 'participation_consensus_relation{channel="opschannel"}'), undefined);
  });
});

describe('`orderer start` with a bad FABRIC_LOGGING_SPEC', () => {
  it('stops start-up with a message that names the variable and explains the syntax', async () => {
    const ledgerDir = mkdtempSync(join(tmpdir(), 'orderer-ops-bad-'));
    try {
      await assert.rejects(
        startOrdererProcess({
          ledgerDir,
          port: await freePort(),
          env: { FABRIC_LOGGING_SPEC: 'info:orderer.consensus=loud' },
          startTimeoutMs: 60_000,
        }),
        (err: Error) => {
          assert.match(err.message, /exited \(code 1/);
          assert.match(err.message, /invalid logging specification 'info:orderer.consensus=loud'/);
          assert.match(err.message, /FABRIC_LOGGING_SPEC/);
          return true;
        },
      );
    } finally {
      rmSync(ledgerDir, { recursive: true, force: true });
    }
  });
});

describe('the Kafka health check and logger of a running orderer', () => {
  let orderer: RunningOrderer | undefined;
  let dir: string;
  const lines: string[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'orderer-ops-kafka-'));
  });
  after(async () => {
    await orderer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('/healthz is 503 with component "kafka" naming the channel and its brokers when they are unreachable; the chain logs as orderer.consensus.kafka; Kafka.Verbose', async () => {
    // A port nothing listens on: the Kafka chain of the system channel cannot reach its broker.
    const broker = `127.0.0.1:${await freePort()}`;
    const genesis = join(dir, 'sys-kafka.block');
    writeFileSync(genesis, kafkaSystemGenesis([broker]));
    const env = ordererEnv(
      join(dir, 'ledger'),
      {
        ORDERER_GENERAL_BOOTSTRAPFILE: genesis,
        ORDERER_METRICS_PROVIDER: 'prometheus',
        ORDERER_KAFKA_RETRY_SHORTINTERVAL: '100ms',
        ORDERER_KAFKA_RETRY_SHORTTOTAL: '1s',
        ORDERER_KAFKA_RETRY_LONGINTERVAL: '1s',
        ORDERER_KAFKA_RETRY_LONGTOTAL: '1m',
        ORDERER_KAFKA_VERBOSE: 'true',
      },
      await freePort(),
    );
    const logging = new LoggingSystem(
      { spec: 'info', format: 'json' },
      {
        clock: systemClock,
        destination: { write: (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)) },
      },
    );
    orderer = await startOrderer(loadLocalConfig({ env, cwd: process.cwd() }).config, {
      logging,
      clock: systemClock,
    });
    const port = orderer.operationsPort;

    // Kafka.Verbose turns the Kafka client library's logger to debug, as Fabric does.
    const spec = JSON.parse((await request(port, '/logspec')).body) as { spec: string };
    assert.equal(spec.spec, 'info:orderer.consensus.kafka.sarama=debug');

    const res = await request(port, '/healthz');
    assert.equal(res.status, 503, res.body);
    const body = JSON.parse(res.body) as { failed_checks: { component: string; reason: string }[] };
    const kafka = body.failed_checks.find((c) => c.component === 'kafka');
    assert.ok(kafka, res.body);
    assert.ok(kafka.reason.includes(broker), kafka.reason);
    assert.match(kafka.reason, /channel \S+ \(Kafka brokers/);

    // The chain logs through its ConsenterSupport: named as Fabric's Kafka consenter, with the channel.
    const chainLine = jsonEvents(lines).find(
      (e) => loggerOf(e) === 'orderer.consensus.kafka' && (e as { channel?: string }).channel,
    );
    assert.ok(chainLine, lines.join('\n'));
  });
});
