// Kafka orderers as separate processes (the real CLI, `orderer start`, run from the sources exactly as
// bin/orderer.js runs the built code), so a test can SIGKILL one and restart it on the same ledger,
// plus what the Kafka tests need around them: /healthz, a ledger read over Deliver, genesis blocks
// naming another broker address, and channel creation transactions for other channel names.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { common as hlCommon } from '@hyperledger/fabric-protos';
import { asBuffer, common, orderer as ordererProtos } from '../../src/protos/index.js';
import {
  FIXTURES,
  HeaderType,
  atomicBroadcastClient,
  broadcastAll,
  deliver,
  seekInfo,
  signChannelCreateTx,
  signedEnvelope,
  type ClientIdentity,
} from './fabric-clients.js';
import { ordererEnv, freePort } from './orderer.js';
import { CLI_SOURCE, REPO_ROOT, lines } from './orderer-process.js';
import { ordererGroupOf, rewriteGenesisBlock } from './genesis.js';
import {
  SYS_KAFKA_BLOCK,
  describeBlock,
  kafkaOrdererEnv,
  org1Admin,
  org1User,
  type LedgerBlock,
} from './kafka-cluster.js';

export interface KafkaOrdererProcess {
  readonly index: number;
  readonly address: string;
  readonly operationsPort: number;
  readonly ledgerDir: string;
  /** Every log line (JSON, FABRIC_LOGGING_FORMAT=json) of the current run and the ones before it. */
  readonly output: string[];
  pid(): number | undefined;
  running(): boolean;
  /** SIGKILL: no shutdown code runs. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>;
  /**
   * Starts the process again on the same ledger and ports (after kill or stop), with `env` added to
   * its ORDERER_* settings from then on (e.g. the cluster listener a migration to etcdraft needs).
   */
  restart(env?: Record<string, string>): Promise<void>;
  /** Log records (parsed JSON lines) whose msg is `msg`, from output. */
  logs(msg: string): Record<string, unknown>[];
}

export interface KafkaOrdererProcessOptions {
  /** Which orderer MSP of the fixtures (orderer<index>.example.com). */
  index: number;
  ledgerDir: string;
  /** ORDERER_* overrides on top of kafkaOrdererEnv(index). */
  env?: Record<string, string>;
  startTimeoutMs?: number;
}

/** Starts `orderer start` for orderer<index> on free ports and resolves once it listens. */
export async function startKafkaOrdererProcess(
  options: KafkaOrdererProcessOptions,
): Promise<KafkaOrdererProcess> {
  let port = 0;
  let operationsPort = 0;
  let env: Record<string, string> = {};
  const choosePorts = async () => {
    port = await freePort();
    operationsPort = await freePort();
    env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      FABRIC_LOGGING_FORMAT: 'json',
      ...ordererEnv(
        options.ledgerDir,
        kafkaOrdererEnv(options.index, {
          ORDERER_GENERAL_LISTENPORT: String(port),
          ORDERER_OPERATIONS_LISTENADDRESS: `127.0.0.1:${operationsPort}`,
          ...options.env,
        }),
      ),
    };
  };
  const output: string[] = [];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const killOnExit = () => child?.kill('SIGKILL');

  async function start(): Promise<void> {
    const spawned = spawn(process.execPath, ['--import', 'tsx', CLI_SOURCE, 'start'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = spawned;
    process.on('exit', killOnExit);
    exited = new Promise((resolve) =>
      spawned.once('exit', () => {
        if (child === spawned) child = undefined;
        process.off('exit', killOnExit);
        resolve();
      }),
    );
    const timeoutMs = options.startTimeoutMs ?? 120_000;
    const from = output.length;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`did not listen within ${timeoutMs} ms`)), timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(
          new Error(`orderer${options.index}: ${err.message}:\n${output.slice(from).slice(-40).join('\n')}`),
        );
      };
      const onLine = (line: string) => {
        output.push(line);
        if (line.includes('AtomicBroadcast server listening')) {
          clearTimeout(timer);
          resolve();
        }
      };
      lines(spawned.stdout!, onLine);
      lines(spawned.stderr!, onLine);
      spawned.once('exit', (code, signal) =>
        fail(new Error(`exited (code ${code}, signal ${signal}) before listening`)),
      );
    }).catch(async (err: unknown) => {
      spawned.kill('SIGKILL');
      await exited;
      throw err;
    });
  }

  async function signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const running = child;
    if (!running) return;
    running.kill(signal);
    const escalate = signal === 'SIGTERM' ? setTimeout(() => running.kill('SIGKILL'), 10_000) : undefined;
    await exited;
    if (escalate) clearTimeout(escalate);
  }

  // A port freePort() saw free can be taken before the child binds it (by another process's
  // outgoing connection, say): the first start picks new ports when that is why it failed.
  for (let attempt = 1; ; attempt++) {
    await choosePorts();
    try {
      await start();
      break;
    } catch (err) {
      if (attempt === 3 || !/EADDRINUSE/.test(String(err))) throw err;
    }
  }
  return {
    index: options.index,
    address: `127.0.0.1:${port}`,
    operationsPort,
    ledgerDir: options.ledgerDir,
    output,
    pid: () => child?.pid,
    running: () => child !== undefined,
    kill: () => signalAndWait('SIGKILL'),
    stop: () => signalAndWait('SIGTERM'),
    async restart(extra?: Record<string, string>) {
      await signalAndWait('SIGTERM');
      if (extra) env = { ...env, ...extra };
      await start();
    },
    logs(msg: string) {
      const records: Record<string, unknown>[] = [];
      for (const line of output) {
        if (!line.startsWith('{') || !line.includes(msg)) continue;
        try {
          const record = JSON.parse(line) as Record<string, unknown>;
          if (record['msg'] === msg) records.push(record);
        } catch {
          // not a log record
        }
      }
      return records;
    },
  };
}

/**
 * Sends `count` transactions on one Broadcast stream and resolves with every response that arrived,
 * also when the stream fails part way (the orderer was killed): an envelope answered SUCCESS before
 * that counts as acknowledged.
 */
export function broadcastKeepingAcks(
  address: string,
  channelId: string,
  prefix: string,
  count: number,
  timeoutMs = 30_000,
): Promise<{ txId: string; status: number; info: string }[]> {
  const client = atomicBroadcastClient(address);
  const txIds = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  return new Promise((resolve) => {
    const stream = client.broadcast();
    const responses: { txId: string; status: number; info: string }[] = [];
    const finish = () => {
      clearTimeout(timer);
      client.close();
      resolve(responses);
    };
    const timer = setTimeout(() => stream.cancel(), timeoutMs);
    stream.on('data', (r: { getStatus(): number; getInfo(): string }) => {
      responses.push({ txId: txIds[responses.length]!, status: r.getStatus(), info: r.getInfo() });
      if (responses.length === count) stream.end();
    });
    stream.on('error', finish);
    stream.on('end', finish);
    for (const txId of txIds) {
      stream.write(hlCommon.Envelope.deserializeBinary(signedEnvelope(org1User, { channelId, txId })));
    }
  });
}

/** GET /healthz of an operations server: status code and parsed body. */
export function healthz(
  operationsPort: number,
  timeoutMs = 40_000,
): Promise<{ status: number; body: HealthzBody }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port: operationsPort, path: '/healthz', timeout: timeoutMs },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let body: HealthzBody;
          try {
            body = JSON.parse(text) as HealthzBody;
          } catch {
            body = { status: text };
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`/healthz on port ${operationsPort} timed out`)));
    req.on('error', reject);
  });
}

export interface HealthzBody {
  status: string;
  time?: string;
  failed_checks?: { component: string; reason: string }[];
}

/** One Deliver request (oldest to newest) over gRPC: the blocks and the status. */
export async function deliverLedger(
  address: string,
  channelId: string,
  errorResponse: 'strict' | 'bestEffort' = 'strict',
  signer: ClientIdentity = org1User,
): Promise<{ status: number | undefined; blocks: LedgerBlock[] }> {
  const client = atomicBroadcastClient(address);
  try {
    const result = await deliver(
      client,
      signedEnvelope(signer, {
        type: HeaderType.DELIVER_SEEK_INFO,
        channelId,
        data: seekInfo('oldest', 'newest', 'block', errorResponse),
      }),
      { timeoutMs: 20_000 },
    );
    return { status: result.status, blocks: result.blockBytes.map((b) => describeBlock(b)) };
  } finally {
    client.close();
  }
}

/** The status a STRICT Deliver for the newest block gets right now (undefined: no status, e.g. unreachable). */
export async function strictDeliverStatus(address: string, channelId: string): Promise<number | undefined> {
  const client = atomicBroadcastClient(address);
  try {
    const result = await deliver(
      client,
      signedEnvelope(org1User, {
        type: HeaderType.DELIVER_SEEK_INFO,
        channelId,
        data: seekInfo('newest', 'newest'),
      }),
      { timeoutMs: 10_000 },
    );
    return result.status;
  } finally {
    client.close();
  }
}

/**
 * sys-kafka.block with other KafkaBrokers (and optionally another system channel name), re-wrapped
 * as configtxgen writes a genesis block: the same envelope signature and metadata, a new data hash.
 */
export function kafkaGenesisBlock(options: { brokers: string[]; channelId?: string }): Buffer {
  return rewriteGenesisBlock(readFileSync(SYS_KAFKA_BLOCK), {
    ...(options.channelId !== undefined
      ? {
          channelHeader: (channelHeader: common.ChannelHeader) => {
            channelHeader.channelId = options.channelId!;
          },
        }
      : {}),
    config: (configEnvelope) => {
      const brokersValue = ordererGroupOf(configEnvelope).values!['KafkaBrokers'];
      if (!brokersValue) throw new Error('sys-kafka.block has no Orderer/KafkaBrokers value');
      brokersValue.value = ordererProtos.KafkaBrokers.encode({ brokers: options.brokers }).finish();
    },
  });
}

/** The system channel's KafkaBrokers and channel header of a genesis block. */
export function genesisBlockSummary(block: Buffer): {
  brokers: string[];
  channelHeader: common.ChannelHeader;
} {
  const decoded = common.Block.decode(block);
  const envelope = common.Envelope.decode(asBuffer(decoded.data!.data![0]));
  const payload = common.Payload.decode(asBuffer(envelope.payload));
  const configEnvelope = common.ConfigEnvelope.decode(asBuffer(payload.data));
  const value = configEnvelope.config!.channelGroup!.groups!['Orderer']!.values!['KafkaBrokers']!;
  return {
    brokers: ordererProtos.KafkaBrokers.decode(asBuffer(value.value)).brokers,
    channelHeader: common.ChannelHeader.decode(asBuffer(payload.header!.channelHeader)),
  };
}

/** `peer channel create`'s transaction of the fixtures (mychannel, Org1) for another channel name. */
export function channelCreateTx(channelId: string): Buffer {
  const original = readFileSync(join(FIXTURES, 'blocks/mychannel-create.tx'));
  const envelope = common.Envelope.decode(original);
  const payload = common.Payload.decode(asBuffer(envelope.payload));
  const channelHeader = common.ChannelHeader.decode(asBuffer(payload.header!.channelHeader));
  channelHeader.channelId = channelId;
  const cue = common.ConfigUpdateEnvelope.decode(asBuffer(payload.data));
  const update = common.ConfigUpdate.decode(asBuffer(cue.configUpdate));
  update.channelId = channelId;
  const newPayload = common.Payload.encode({
    header: {
      channelHeader: common.ChannelHeader.encode(channelHeader).finish(),
      signatureHeader: payload.header!.signatureHeader,
    },
    data: common.ConfigUpdateEnvelope.encode({
      configUpdate: common.ConfigUpdate.encode(update).finish(),
    }).finish(),
  }).finish();
  return signChannelCreateTx(asBuffer(common.Envelope.encode({ payload: newPayload }).finish()), [org1Admin]);
}

/** Broadcasts a channel creation transaction for `channelId` to one orderer; throws unless SUCCESS. */
export async function createChannel(address: string, channelId: string): Promise<void> {
  const client = atomicBroadcastClient(address);
  try {
    const [response] = await broadcastAll(client, [channelCreateTx(channelId)], 30_000);
    if (response?.status !== 200)
      throw new Error(`creating channel ${channelId} refused: ${JSON.stringify(response)}`);
  } finally {
    client.close();
  }
}
