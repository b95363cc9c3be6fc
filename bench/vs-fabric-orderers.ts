// The I/O half of `npm run bench -- --vs-fabric`: Fabric's Go orderer and ours started side by side
// for one scenario, each as an operator runs it (its own process, Fabric's sample orderer.yaml plus
// the same ORDERER_* variables, a fresh ledger folder on the same file system, so the same
// durability: both at their defaults), each with a channel created through its system channel from
// the fixtures' creation transaction (BatchSize 500 / 2 MB preferred, BatchTimeout 2 s). The
// 3-node etcdraft clusters are started by vs-fabric-raft.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientSigner } from '../src/bench/index.js';
import {
  HeaderType,
  atomicBroadcastClient,
  broadcastAll,
  deliver,
  loadIdentity,
  seekInfo,
  signedEnvelope,
} from '../test/support/fabric-clients.js';
import { fabricBin } from '../test/support/fabric-fixtures.js';
import { channelCreateTx, kafkaGenesisBlock } from '../test/support/kafka-processes.js';
import { kafkaOrdererEnv } from '../test/support/kafka-cluster.js';
import { freePort, ordererEnv, ORDERER0_DIR } from '../test/support/orderer.js';
import { lines } from '../test/support/orderer-process.js';
import type { Side } from './vs-fabric-report.js';
import { org1UserSigner } from './signer.js';

export const SCENARIO_NAMES = ['solo', 'solo-readers', 'solo-tls', 'kafka', 'raft-tls'] as const;

/** Extra Deliver readers in the Deliver fan-out scenario (each reads every block, as a peer). */
export const FAN_OUT_READERS = 10;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export const SCENARIO_TITLES: Readonly<Record<ScenarioName, string>> = {
  solo: 'solo, no TLS',
  'solo-readers': `solo, no TLS, ${FAN_OUT_READERS} more Deliver readers`,
  'solo-tls': 'solo, TLS',
  kafka: 'Kafka (one KRaft broker, replication factor 1)',
  'raft-tls': '3-node etcdraft, TLS',
};

/** One orderer of a scenario, on this machine, watched by pid. */
export interface ComparedOrderer {
  readonly side: Side;
  /** Every orderer process of this side (the nodes of a cluster): CPU is summed, RSS the largest. */
  readonly pids: readonly number[];
  /** host:port of its Broadcast/Deliver service (the node the load goes to). */
  readonly address: string;
  /** The channel the load goes to. */
  readonly channel: string;
  readonly describe: string;
  stop(): Promise<void>;
}

/** Both sides of one scenario, ready for load. */
export interface ScenarioSetup {
  readonly name: ScenarioName;
  readonly signer: ClientSigner;
  /** The orderers' TLS CA when the scenario runs TLS. */
  readonly tlsCaPem?: Buffer;
  readonly orderers: Readonly<Record<Side, ComparedOrderer>>;
  /** What else runs (a broker), for the header of the report. */
  readonly environment: string;
  /** Extra Deliver readers during each round (the fan-out scenario). */
  readonly readers?: number;
  stop(): Promise<void>;
}

export interface ScenarioStartOptions {
  readonly root: string;
  /** Our `orderer` command; default <root>/bin/orderer.js (tests pass a copy over a current dist/). */
  readonly oursBin?: string;
  /** Run ours under node --cpu-prof, writing the profile here. */
  readonly profileDir?: string;
  /** etcdraft: Consensus.IdleCutAfter for ours. */
  readonly oursIdleCutAfter?: string;
  /** Log lines to the console as orderers come up. */
  readonly log: (line: string) => void;
}

const ORDERER0_TLS = join(ORDERER0_DIR, 'tls');

/** Server TLS on the Broadcast/Deliver listener with orderer0's certificate, as grpc-tls.test does. */
const TLS_ENV: Record<string, string> = {
  ORDERER_GENERAL_TLS_ENABLED: 'true',
  ORDERER_GENERAL_TLS_CERTIFICATE: join(ORDERER0_TLS, 'server.crt'),
  ORDERER_GENERAL_TLS_PRIVATEKEY: join(ORDERER0_TLS, 'server.key'),
  // The sample config's RootCAs (tls/ca.crt next to orderer.yaml) does not exist in the fixtures.
  ORDERER_GENERAL_TLS_ROOTCAS: `[${join(ORDERER0_TLS, 'ca.crt')}]`,
};

/** A child process with the tail of its output kept for messages. */
export interface Spawned {
  readonly child: ChildProcess;
  readonly output: string[];
  exitStatus(): string | undefined;
  stop(): Promise<void>;
}

export function spawnLogged(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Spawned {
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (line: string) => {
    output.push(line);
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  lines(child.stdout!, keep);
  lines(child.stderr!, keep);
  let exitStatus: string | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exitStatus = `exit ${code ?? signal}`;
      resolve();
    }),
  );
  return {
    child,
    output,
    exitStatus: () => exitStatus && `${exitStatus}:\n${output.slice(-40).join('\n')}`,
    async stop() {
      if (exitStatus) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Creates `channel` through the system channel, retrying until the orderer answers, then waits for its block 0. */
async function createChannelWhenUp(
  address: string,
  channel: string,
  tlsCaPem: Buffer | undefined,
  spawned: Spawned,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const client = atomicBroadcastClient(address, tlsCaPem ? { caPem: tlsCaPem } : undefined);
  const reader = loadIdentity('org1User');
  try {
    const retry = async (what: string, attempt: () => Promise<string | undefined>) => {
      for (;;) {
        const exited = spawned.exitStatus();
        if (exited) throw new Error(`the orderer at ${address} exited before ${what}: ${exited}`);
        let failure: string | undefined;
        try {
          failure = await attempt();
        } catch (err) {
          failure = err instanceof Error ? err.message : String(err);
        }
        if (failure === undefined) return;
        if (Date.now() > deadline)
          throw new Error(
            `${what} at ${address} failed for ${timeoutMs / 1000} s: ${failure}\n${spawned.output.slice(-20).join('\n')}`,
          );
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    await retry(`creating channel ${channel}`, async () => {
      const [response] = await broadcastAll(client, [channelCreateTx(channel)], 5_000);
      return response?.status === 200 ? undefined : `answered ${JSON.stringify(response)}`;
    });
    // SUCCESS means queued: the channel serves once the system channel has cut its creation.
    await retry(`channel ${channel} serving Deliver`, async () => {
      const seek = signedEnvelope(reader, {
        type: HeaderType.DELIVER_SEEK_INFO,
        channelId: channel,
        data: seekInfo(0, 0, 'fail'),
      });
      const result = await deliver(client, seek, { timeoutMs: 5_000 });
      return result.status === 200 && result.blocks.length === 1
        ? undefined
        : `status ${result.status}${result.error ? `, ${result.error.message}` : ''}`;
    });
  } finally {
    client.close();
  }
}

export interface SideLaunch {
  readonly side: Side;
  readonly env: Record<string, string>;
  readonly channel: string;
}

export async function launchSide(
  launch: SideLaunch,
  options: ScenarioStartOptions,
  tlsCaPem: Buffer | undefined,
): Promise<ComparedOrderer> {
  const ledgerDir = mkdtempSync(join(tmpdir(), `vs-fabric-${launch.side}-`));
  const port = await freePort();
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    FABRIC_LOGGING_SPEC: 'info',
    ...ordererEnv(ledgerDir, launch.env, port),
  };
  const spawned =
    launch.side === 'fabric'
      ? spawnLogged(fabricBin('orderer'), [], env, ledgerDir)
      : spawnLogged(
          process.execPath,
          [
            ...(options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir] : []),
            options.oursBin ?? join(options.root, 'bin/orderer.js'),
            'start',
          ],
          env,
          options.root,
        );
  const address = `127.0.0.1:${port}`;
  const stop = async () => {
    await spawned.stop();
    rmSync(ledgerDir, { recursive: true, force: true });
  };
  try {
    await createChannelWhenUp(address, launch.channel, tlsCaPem, spawned, 120_000);
  } catch (err) {
    await stop();
    throw err;
  }
  const what =
    launch.side === 'fabric' ? `Fabric's orderer (${fabricBin('orderer')})` : 'ours (bin/orderer.js start)';
  options.log(
    `  ${what}: pid ${spawned.child.pid} at ${address}, channel ${launch.channel}, ledger ${ledgerDir}`,
  );
  return {
    side: launch.side,
    pids: [spawned.child.pid!],
    address,
    channel: launch.channel,
    describe: what,
    stop,
  };
}

/** Starts both sides of a scenario (ours first, then Fabric's); stops what started when one fails. */
export async function startScenario(
  name: ScenarioName,
  options: ScenarioStartOptions,
): Promise<ScenarioSetup> {
  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    let sideEnv: (side: Side) => Record<string, string> = () => ({});
    let environment =
      name === 'raft-tls'
        ? 'three nodes per side, Raft traffic over TLS on loopback' +
          (options.oursIdleCutAfter
            ? `; ours with Consensus.IdleCutAfter ${options.oursIdleCutAfter}`
            : "; ours with Fabric's cutting (no Consensus.IdleCutAfter)")
        : name === 'solo-readers'
          ? `no other services; ${FAN_OUT_READERS} more Deliver streams, each on its own connection, read every block of each round (from this load generator, so their client CPU is in the machine's share)`
          : 'no other services';
    // Every fixture orderer's TLS certificate is issued by the same CA as orderer0's.
    const tlsCaPem =
      name === 'solo-tls' || name === 'raft-tls' ? readFileSync(join(ORDERER0_TLS, 'ca.crt')) : undefined;
    if (name === 'solo-tls') sideEnv = () => TLS_ENV;
    if (name === 'kafka') {
      const { startKafkaBroker } = await import('../test/support/kafka-broker.js');
      const broker = await startKafkaBroker({ plaintextPort: 0 });
      cleanups.push(() => broker.dispose());
      environment = `Kafka broker ${broker.bootstrap} (pid ${broker.pid()})`;
      // Each side its own system channel and so its own topics on the one broker.
      const blocksDir = mkdtempSync(join(tmpdir(), 'vs-fabric-blocks-'));
      cleanups.push(async () => rmSync(blocksDir, { recursive: true, force: true }));
      sideEnv = (side) => {
        const block = join(blocksDir, `sys-${side}.block`);
        writeFileSync(block, kafkaGenesisBlock({ brokers: [broker.bootstrap], channelId: `sys-${side}` }));
        return kafkaOrdererEnv(0, {
          ORDERER_GENERAL_BOOTSTRAPFILE: block,
          ORDERER_METRICS_PROVIDER: 'disabled',
        });
      };
    }
    const orderers = {} as Record<Side, ComparedOrderer>;
    for (const side of ['ours', 'fabric'] as const) {
      const { startRaftSide } = await import('./vs-fabric-raft.js');
      const launched =
        name === 'raft-tls'
          ? await startRaftSide(side, options)
          : await launchSide(
              { side, env: sideEnv(side), channel: name === 'kafka' ? `bench${side}` : 'bench' },
              options,
              tlsCaPem,
            );
      cleanups.push(() => launched.stop());
      orderers[side] = launched;
    }
    return {
      name,
      signer: org1UserSigner(),
      ...(tlsCaPem ? { tlsCaPem } : {}),
      orderers,
      environment,
      ...(name === 'solo-readers' ? { readers: FAN_OUT_READERS } : {}),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
