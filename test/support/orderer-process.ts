// Runs the orderer as an operator does: the real CLI (`orderer start`) in its own process, configured
// by Fabric's sample orderer.yaml plus ORDERER_* variables, so a test can SIGKILL it and restart it on
// the same ledger. Also makes genesis blocks of application channels with test-sized batch settings
// (what an operator would do with configtxgen), derived from Fabric's appsolo genesis block.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { common, orderer as ordererProtos, asBuffer } from '../../src/protos/index.js';
import { marshalConfigEnvelope } from '../../src/channelconfig/index.js';
import { blockDataHash } from '../../src/protoutil/index.js';
import { FIXTURES } from './fabric-clients.js';
import { ordererEnv } from './orderer.js';

const REPO_ROOT = new URL('../../', import.meta.url).pathname;
const CLI_SOURCE = join(REPO_ROOT, 'src/cli/main.ts');

/** A port that was free a moment ago (bind to 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface BatchSettings {
  maxMessageCount?: number;
  absoluteMaxBytes?: number;
  preferredMaxBytes?: number;
  /** A Go duration string, e.g. "200ms". */
  batchTimeout?: string;
}

/**
 * The genesis block of an application channel `channelId`: Fabric's appsolo genesis (Org1MSP, Org2MSP,
 * OrdererOrg, solo) with the channel ID and the Orderer group's BatchSize / BatchTimeout replaced.
 * Block 0 as configtxgen writes it: unsigned, no previous hash, the original metadata.
 */
export function channelGenesisBlock(channelId: string, batch: BatchSettings = {}): Buffer {
  const original = common.Block.decode(readFileSync(join(FIXTURES, 'blocks/appsolo-genesis.block')));
  const envelope = common.Envelope.decode(asBuffer(original.data!.data![0]));
  const payload = common.Payload.decode(asBuffer(envelope.payload));
  const channelHeader = common.ChannelHeader.decode(asBuffer(payload.header!.channelHeader));
  channelHeader.channelId = channelId;
  const configEnvelope = common.ConfigEnvelope.decode(asBuffer(payload.data));

  const ordererGroup = configEnvelope.config!.channelGroup!.groups!['Orderer']!;
  const batchSizeValue = ordererGroup.values!['BatchSize']!;
  const batchSize = ordererProtos.BatchSize.decode(asBuffer(batchSizeValue.value));
  if (batch.maxMessageCount !== undefined) batchSize.maxMessageCount = batch.maxMessageCount;
  if (batch.absoluteMaxBytes !== undefined) batchSize.absoluteMaxBytes = batch.absoluteMaxBytes;
  if (batch.preferredMaxBytes !== undefined) batchSize.preferredMaxBytes = batch.preferredMaxBytes;
  batchSizeValue.value = ordererProtos.BatchSize.encode(batchSize).finish();
  if (batch.batchTimeout !== undefined) {
    ordererGroup.values!['BatchTimeout']!.value = ordererProtos.BatchTimeout.encode({
      timeout: batch.batchTimeout,
    }).finish();
  }

  const newPayload = common.Payload.encode({
    header: {
      channelHeader: common.ChannelHeader.encode(channelHeader).finish(),
      signatureHeader: payload.header!.signatureHeader,
    },
    data: marshalConfigEnvelope(configEnvelope),
  }).finish();
  const envelopeBytes = common.Envelope.encode({
    payload: newPayload,
    signature: envelope.signature,
  }).finish();
  const block = common.Block.create({
    header: { number: 0, dataHash: blockDataHash([envelopeBytes]) },
    data: { data: [envelopeBytes] },
    metadata: original.metadata,
  });
  return asBuffer(common.Block.encode(block).finish());
}

export interface OrdererProcess {
  readonly pid: number;
  readonly port: number;
  readonly address: string;
  /** Every line the process wrote to stdout and stderr so far. */
  readonly output: string[];
  /** Settles when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL: no shutdown code runs, as with a power cut or the OOM killer. */
  kill(): Promise<void>;
  /** SIGTERM: the orderer's own orderly shutdown. */
  stop(): Promise<void>;
}

export interface OrdererProcessOptions {
  ledgerDir: string;
  port: number;
  /** ORDERER_* overrides on top of the sample config, test MSP and ledger. */
  env?: Record<string, string>;
  /** How long to wait for the server to listen. */
  startTimeoutMs?: number;
}

/**
 * Starts `orderer start` from the sources (node --import tsx src/cli/main.ts start, exactly the code
 * bin/orderer.js runs once built) and resolves once it logs that the AtomicBroadcast server listens.
 */
export async function startOrdererProcess(options: OrdererProcessOptions): Promise<OrdererProcess> {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    ...ordererEnv(options.ledgerDir, {
      ORDERER_GENERAL_LISTENPORT: String(options.port),
      ...options.env,
    }),
  };
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CLI_SOURCE, 'start'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });

  const listening = new Promise<void>((resolve, reject) => {
    const timeoutMs = options.startTimeoutMs ?? 30_000;
    const timer = setTimeout(
      () => reject(new Error(`orderer did not listen within ${timeoutMs} ms:\n${output.join('\n')}`)),
      timeoutMs,
    );
    const onLine = (line: string) => {
      output.push(line);
      if (line.includes('AtomicBroadcast server listening')) {
        clearTimeout(timer);
        resolve();
      }
    };
    lines(child.stdout!, onLine);
    lines(child.stderr!, onLine);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new Error(`orderer exited (code ${code}, signal ${signal}) before listening:\n${output.join('\n')}`),
      );
    });
  });
  try {
    await listening;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }

  const signalAndWait = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    pid: child.pid!,
    port: options.port,
    address: `127.0.0.1:${options.port}`,
    output,
    exited,
    kill: () => signalAndWait('SIGKILL'),
    stop: () => signalAndWait('SIGTERM'),
  };
}

function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      onLine(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
    }
  });
}
