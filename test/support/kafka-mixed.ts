// A Kafka ordering cluster of mixed implementations: Fabric's Go orderer (v2.5.12, from
// fabric-fixtures.ts) and ours, each as a separate process that a test can SIGKILL and restart on
// its ledger, both booted from the same system channel genesis block and ordering through the same
// broker. What the mixed test compares: the blocks as each side delivers them, with the consenter
// metadata bytes (KafkaMetadata offsets) that each side wrote.
import { spawn, type ChildProcess } from 'node:child_process';
import { common as hlCommon } from '@hyperledger/fabric-protos';
import { asBuffer, common, orderer as ordererProtos, toNumber } from '../../src/protos/index.js';
import { BlockMetadataIndex, consenterMetadataOf } from '../../src/protoutil/block.js';
import { HeaderType, signConfigUpdate, signedEnvelope, type ClientIdentity } from './fabric-clients.js';
import { fabricBin } from './fabric-fixtures.js';
import { kafkaOrdererEnv, type LedgerBlock } from './kafka-cluster.js';
import { broadcastKeepingAcks, startKafkaOrdererProcess } from './kafka-processes.js';
import { ordererEnv } from './orderer.js';
import { REPO_ROOT, freePort, lines } from './orderer-process.js';

export type OrdererImplementation = 'go' | 'ours';

export interface MixedKafkaOrderer {
  readonly implementation: OrdererImplementation;
  readonly index: number;
  readonly address: string;
  readonly operationsPort: number;
  readonly ledgerDir: string;
  /** Every line the process wrote, of this run and the ones before it. */
  readonly output: string[];
  running(): boolean;
  /** SIGKILL: no shutdown code runs. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM: the orderer's orderly shutdown. Resolves once the process is gone. */
  stop(): Promise<void>;
  /**
   * Starts the process again on the same ledger and ports (after kill or stop; a running one is
   * killed first), with `env` added to its ORDERER_* settings from then on.
   */
  restart(env?: Record<string, string>): Promise<void>;
  /** A name for messages: "go orderer0", "ours orderer1". */
  readonly name: string;
}

export interface MixedKafkaOrdererOptions {
  implementation: OrdererImplementation;
  /** Which orderer MSP of the fixtures (orderer<index>.example.com). */
  index: number;
  ledgerDir: string;
  /** The system channel genesis block both implementations boot from. */
  genesisFile: string;
  /** More ORDERER_* settings, the same for both implementations. */
  env?: Record<string, string>;
  startTimeoutMs?: number;
}

/** Starts one orderer of either implementation and resolves once it serves AtomicBroadcast. */
export async function startMixedKafkaOrderer(options: MixedKafkaOrdererOptions): Promise<MixedKafkaOrderer> {
  const name = `${options.implementation} orderer${options.index}`;
  if (options.implementation === 'ours') {
    const ours = await startKafkaOrdererProcess({
      index: options.index,
      ledgerDir: options.ledgerDir,
      env: { ORDERER_GENERAL_BOOTSTRAPFILE: options.genesisFile, ...options.env },
      ...(options.startTimeoutMs !== undefined ? { startTimeoutMs: options.startTimeoutMs } : {}),
    });
    return {
      implementation: 'ours',
      index: ours.index,
      address: ours.address,
      operationsPort: ours.operationsPort,
      ledgerDir: ours.ledgerDir,
      output: ours.output,
      running: () => ours.running(),
      kill: () => ours.kill(),
      stop: () => ours.stop(),
      restart: async (env) => {
        if (ours.running()) await ours.kill();
        await ours.restart(env);
      },
      name,
    };
  }
  return startGoKafkaOrderer(options, name);
}

/**
 * Fabric's Go orderer with the same settings as ours (kafkaOrdererEnv: the fixtures' orderer MSP,
 * replication factor 1, short retries), which Fabric reads from the same ORDERER_* variables.
 */
async function startGoKafkaOrderer(
  options: MixedKafkaOrdererOptions,
  name: string,
): Promise<MixedKafkaOrderer> {
  const binary = fabricBin('orderer');
  const port = await freePort();
  const operationsPort = await freePort();
  const adminPort = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    FABRIC_LOGGING_SPEC: 'info',
    ...ordererEnv(
      options.ledgerDir,
      kafkaOrdererEnv(options.index, {
        ORDERER_GENERAL_BOOTSTRAPFILE: options.genesisFile,
        ORDERER_OPERATIONS_LISTENADDRESS: `127.0.0.1:${operationsPort}`,
        ORDERER_ADMIN_LISTENADDRESS: `127.0.0.1:${adminPort}`,
        ...options.env,
      }),
      port,
    ),
  };
  const output: string[] = [];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const killOnExit = () => child?.kill('SIGKILL');

  async function start(): Promise<void> {
    const spawned = spawn(binary, ['start'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = spawned;
    process.on('exit', killOnExit);
    exited = new Promise((resolve) =>
      spawned.once('exit', () => {
        if (child === spawned) child = undefined;
        process.off('exit', killOnExit);
        resolve();
      }),
    );
    const timeoutMs = options.startTimeoutMs ?? 60_000;
    const from = output.length;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`did not serve within ${timeoutMs} ms`)), timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(new Error(`${name}: ${err.message}:\n${output.slice(from).slice(-40).join('\n')}`));
      };
      const onLine = (line: string) => {
        output.push(line);
        // Fabric's orderer logs this right before grpcServer.Start().
        if (line.includes('Beginning to serve requests')) {
          clearTimeout(timer);
          resolve();
        }
      };
      lines(spawned.stdout!, onLine);
      lines(spawned.stderr!, onLine);
      spawned.once('exit', (code, signal) =>
        fail(new Error(`exited (code ${code}, signal ${signal}) before serving`)),
      );
    }).catch(async (err: unknown) => {
      spawned.kill('SIGKILL');
      await exited;
      throw err;
    });
  }

  async function signal(name: NodeJS.Signals): Promise<void> {
    const running = child;
    if (!running) return;
    running.kill(name);
    await exited;
  }
  const kill = () => signal('SIGKILL');

  await start();
  return {
    implementation: 'go',
    index: options.index,
    address: `127.0.0.1:${port}`,
    operationsPort,
    ledgerDir: options.ledgerDir,
    output,
    running: () => child !== undefined,
    kill,
    stop: () => signal('SIGTERM'),
    async restart(more = {}) {
      await kill();
      Object.assign(env, more);
      await start();
    },
    name,
  };
}

/**
 * What two orderers of a Kafka cluster must agree on for one block, byte for byte: the header hash
 * (number, previous hash, data hash), the envelopes (as the data hash covers them) and the consenter
 * metadata, which holds the KafkaMetadata offsets. The signatures differ (each orderer signs with its
 * own identity) and are not part of it.
 */
export function agreedContent(block: LedgerBlock): {
  number: number;
  headerHash: string;
  consenterMetadata: string;
  ordererSlot: string;
} {
  const ordererSlot = block.block.metadata?.metadata?.[BlockMetadataIndex.ORDERER];
  return {
    number: block.number,
    headerHash: block.headerHash,
    consenterMetadata: consenterMetadataOf(block.block)?.toString('hex') ?? '',
    ordererSlot: Buffer.from(ordererSlot ?? []).toString('hex'),
  };
}

export interface Load {
  /** Transaction IDs answered SUCCESS, in the order the answers arrived. */
  readonly acknowledged: string[];
  /** How many each orderer (by position in the list given) acknowledged. */
  readonly acknowledgedBy: number[];
  readonly refused: { orderer: string; status: number; info: string }[];
  stop(): Promise<void>;
}

/**
 * Broadcast load on every running orderer of the list, `perRound` envelopes on a fresh stream per
 * orderer per round, until stopped. An orderer that is down is skipped; a stream cut by a kill keeps
 * the answers that arrived before it.
 */
export function startLoad(
  orderers: readonly MixedKafkaOrderer[],
  channelId: string,
  prefix: string,
  perRound = 5,
): Load {
  const acknowledged: string[] = [];
  const acknowledgedBy = orderers.map(() => 0);
  const refused: Load['refused'] = [];
  let stopped = false;
  let round = 0;
  const done = (async () => {
    while (!stopped) {
      const batch = await Promise.all(
        orderers.map((o, i) =>
          o.running()
            ? broadcastKeepingAcks(o.address, channelId, `${prefix}${round}-${i}`, perRound).then((sent) =>
                sent.map((s) => ({ ...s, position: i })),
              )
            : [],
        ),
      );
      round++;
      for (const s of batch.flat()) {
        if (s.status === 200) {
          acknowledged.push(s.txId);
          acknowledgedBy[s.position]!++;
        } else refused.push({ orderer: orderers[s.position]!.name, status: s.status, info: s.info });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    acknowledged,
    acknowledgedBy,
    refused,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/**
 * A CONFIG_UPDATE envelope setting Orderer/BatchSize.MaxMessageCount of a channel, as
 * `configtxlator compute_update` and `peer channel update` make it: the Channel and Orderer groups at
 * their versions in both sets, BatchSize at its version + 1 with its mod policy, signed by `admin`
 * (the Orderer group's Admins) for the config signature and the envelope. `configBlock` is the
 * channel's latest config block.
 */
export function maxMessageCountUpdate(
  configBlock: common.IBlock,
  channelId: string,
  maxMessageCount: number,
  admin: ClientIdentity,
): Buffer {
  const envelope = common.Envelope.decode(asBuffer(configBlock.data!.data![0]));
  const payload = common.Payload.decode(asBuffer(envelope.payload));
  const config = common.ConfigEnvelope.decode(asBuffer(payload.data)).config!;
  const channelGroup = config.channelGroup!;
  const ordererGroup = channelGroup.groups!['Orderer']!;
  const current = ordererGroup.values!['BatchSize']!;
  const batchSize = ordererProtos.BatchSize.decode(asBuffer(current.value));
  batchSize.maxMessageCount = maxMessageCount;
  const groupAt = (group: common.IConfigGroup) => ({ version: toNumber(group.version) });
  const update: common.IConfigUpdate = {
    channelId,
    readSet: { ...groupAt(channelGroup), groups: { Orderer: groupAt(ordererGroup) } },
    writeSet: {
      ...groupAt(channelGroup),
      groups: {
        Orderer: {
          ...groupAt(ordererGroup),
          values: {
            BatchSize: {
              version: toNumber(current.version) + 1,
              modPolicy: current.modPolicy,
              value: ordererProtos.BatchSize.encode(batchSize).finish(),
            },
          },
        },
      },
    },
  };
  const cue = new hlCommon.ConfigUpdateEnvelope();
  cue.setConfigUpdate(common.ConfigUpdate.encode(update).finish());
  signConfigUpdate(cue, [admin]);
  return signedEnvelope(admin, { type: HeaderType.CONFIG_UPDATE, channelId, data: cue.serializeBinary() });
}

/** Orderer/BatchSize.MaxMessageCount of a config block. */
export function maxMessageCountOf(configBlock: common.IBlock): number {
  const envelope = common.Envelope.decode(asBuffer(configBlock.data!.data![0]));
  const payload = common.Payload.decode(asBuffer(envelope.payload));
  const config = common.ConfigEnvelope.decode(asBuffer(payload.data)).config!;
  const value = config.channelGroup!.groups!['Orderer']!.values!['BatchSize']!.value;
  return ordererProtos.BatchSize.decode(asBuffer(value)).maxMessageCount;
}
