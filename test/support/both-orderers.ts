// Fabric v2.5.12's Go orderer or ours, started the same way: as a process, from Fabric's sample
// orderer.yaml plus the same ORDERER_* overrides (ordererEnv), on free ports and a temp ledger. A
// compatibility test runs over both kinds, so that it is checked against Fabric itself: a test that
// passes on ours and fails on Go's is a wrong test (unless the spec lets ours go beyond Fabric, and
// then the test says so).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { joinChannel, type AdminConnectionOptions } from '../../src/cli/channel.js';
import {
  CRYPTO,
  HeaderType,
  atomicBroadcastClient,
  deliver,
  loadIdentity,
  seekInfo,
  signedEnvelope,
  type ClientIdentity,
} from './fabric-clients.js';
import { fabricBin, skipWithoutFabricBin, type FabricBinary } from './fabric-fixtures.js';
import { ORDERER0_DIR, freePort, ordererEnv } from './orderer.js';
import { lines, ordererBin, startOrdererProcess } from './orderer-process.js';

export type OrdererKind = 'ours' | 'go';
/** The kinds a compatibility test runs against: `for (const kind of ORDERER_KINDS) describe(...)`. */
export const ORDERER_KINDS = ['ours', 'go'] as const satisfies readonly OrdererKind[];

export interface OrdererUnderTest {
  kind: OrdererKind;
  /** host:port of the AtomicBroadcast (gRPC) listener. */
  address: string;
  /** host:port of the channel participation (admin) endpoint, when started with `admin`. */
  adminAddress?: string;
  ledgerDir: string;
  /** Every line the process wrote to stdout and stderr so far. */
  output: string[];
  /** SIGTERM, waits for the exit, deletes the ledger (and the etcdraft folders). */
  stop(): Promise<void>;
  /**
   * SIGTERM, waits for the exit, and starts the same kind again on the same ports and folders
   * with these ORDERER_* overrides on top of the first start's; output goes on in `output`.
   */
  restart(env?: Record<string, string>): Promise<void>;
}

export interface OrdererUnderTestOptions {
  /** ORDERER_* overrides on top of ordererEnv's (sample config, orderer0's MSP, the temp ledger). */
  env?: Record<string, string>;
  /** Serve the channel participation API on a free port, over mutual TLS (see adminConnection). */
  admin?: boolean;
  /** Start without the fixtures' solo system channel (BootstrapMethod none); channels are joined. */
  noSystemChannel?: boolean;
  /** Writes the ledger the orderer starts on, into its (not yet created) ledger folder. */
  ledger?: (ledgerDir: string) => Promise<void>;
}

const ORDERER_TLS = join(ORDERER0_DIR, 'tls');
const ADMIN_TLS = join(CRYPTO, 'ordererOrganizations/example.com/users/Admin@example.com/tls');

/** The admin endpoint's settings: orderer0's TLS certificate, client certificates of the orderer org's CA. */
function adminEnv(port: number): Record<string, string> {
  return {
    ORDERER_ADMIN_LISTENADDRESS: `127.0.0.1:${port}`,
    ORDERER_CHANNELPARTICIPATION_ENABLED: 'true',
    ORDERER_ADMIN_TLS_ENABLED: 'true',
    ORDERER_ADMIN_TLS_CERTIFICATE: join(ORDERER_TLS, 'server.crt'),
    ORDERER_ADMIN_TLS_PRIVATEKEY: join(ORDERER_TLS, 'server.key'),
    ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED: 'true',
    ORDERER_ADMIN_TLS_CLIENTROOTCAS: `[${join(ADMIN_TLS, 'ca.crt')}]`,
  };
}

/**
 * Start-up without a system channel. Go's orderer then always sets up the cluster, and panics ("TLS
 * is required for running ordering nodes of cluster type") if the cluster would share the plaintext
 * client-facing listener; a cluster listener of its own, with orderer0's TLS pair, keeps that one
 * plaintext for both kinds. The etcdraft folders go under `root`, not the sample's /var.
 */
function noSystemChannelEnv(clusterPort: number, root: string): Record<string, string> {
  const tls = (file: string) => join(ORDERER_TLS, file);
  return {
    ORDERER_GENERAL_BOOTSTRAPMETHOD: 'none',
    ORDERER_GENERAL_CLUSTER_LISTENADDRESS: '127.0.0.1',
    ORDERER_GENERAL_CLUSTER_LISTENPORT: String(clusterPort),
    ORDERER_GENERAL_CLUSTER_SERVERCERTIFICATE: tls('server.crt'),
    ORDERER_GENERAL_CLUSTER_SERVERPRIVATEKEY: tls('server.key'),
    ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE: tls('server.crt'),
    ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY: tls('server.key'),
    ORDERER_CONSENSUS_WALDIR: join(root, 'etcdraft/wal'),
    ORDERER_CONSENSUS_SNAPDIR: join(root, 'etcdraft/snapshot'),
  };
}

/** How a client (osnadmin, `orderer channel`) reaches the admin endpoint of an orderer started with `admin`. */
export function adminConnection(node: OrdererUnderTest): AdminConnectionOptions {
  if (!node.adminAddress) throw new Error(`the ${node.kind} orderer was started without an admin endpoint`);
  return {
    ordererAddress: node.adminAddress,
    caFile: join(ORDERER_TLS, 'ca.crt'),
    clientCert: join(ADMIN_TLS, 'client.crt'),
    clientKey: join(ADMIN_TLS, 'client.key'),
  };
}

/** Joins the orderer (started with `admin`) to the channel of a genesis block, as osnadmin does. */
export async function joinThroughAdmin(node: OrdererUnderTest, genesisBlock: Buffer): Promise<void> {
  const answer = await joinChannel(adminConnection(node), genesisBlock);
  if (answer.status !== 201) {
    throw new Error(`the ${node.kind} orderer refused the join: ${answer.status} ${answer.body.toString()}`);
  }
}

/**
 * Resolves once the orderer delivers block 0 of `channelId` to `reader`: a channel created through
 * the system channel, or a joined raft channel once it has a leader (before, Deliver answers 404 or
 * 503). Asks again every 50 ms for at most `timeoutMs`.
 */
export async function untilDelivers(
  node: OrdererUnderTest,
  channelId: string,
  reader: ClientIdentity = loadIdentity('org1User'),
  timeoutMs = 15_000,
): Promise<void> {
  const client = atomicBroadcastClient(node.address);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const seek = signedEnvelope(reader, {
        type: HeaderType.DELIVER_SEEK_INFO,
        channelId,
        data: seekInfo(0, 0, 'fail'),
      });
      const result = await deliver(client, seek, { timeoutMs });
      if (result.status === 200) return;
      if (Date.now() > deadline) {
        throw new Error(
          `the ${node.kind} orderer still answers ${result.status ?? result.error?.message} for ${channelId}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    client.close();
  }
}

/**
 * The `skip` option for a test against `kind`: Go's needs Fabric's orderer binary (plus `also`),
 * ours only `also`. See skipWithoutFabricBin (never skips under CI).
 */
export function skipWithout(kind: OrdererKind, ...also: FabricBinary[]): string | false {
  const needed: FabricBinary[] = kind === 'go' ? ['orderer', ...also] : also;
  return needed.length > 0 ? skipWithoutFabricBin(...needed) : false;
}

/** Starts the orderer of `kind` and resolves once it serves. */
export async function startOrdererUnderTest(
  kind: OrdererKind,
  options: OrdererUnderTestOptions = {},
): Promise<OrdererUnderTest> {
  const port = await freePort();
  const adminPort = options.admin ? await freePort() : undefined;
  // The ledger, and the etcdraft folders when needed, under one folder stop() deletes.
  const root = mkdtempSync(join(tmpdir(), `${kind}-orderer-`));
  const ledgerDir = join(root, 'ledger');
  const overrides = {
    ...(adminPort !== undefined ? adminEnv(adminPort) : {}),
    ...(options.noSystemChannel ? noSystemChannelEnv(await freePort(), root) : {}),
    ...options.env,
  };
  const removeFolders = () => rmSync(root, { recursive: true, force: true });
  const started = { address: `127.0.0.1:${port}`, ledgerDir };
  const adminAddress = adminPort !== undefined ? { adminAddress: `127.0.0.1:${adminPort}` } : {};
  const output: string[] = [];
  const launch = async (env: Record<string, string>): Promise<() => Promise<void>> => {
    if (kind === 'go') {
      const go = await startGoOrderer(ordererEnv(ledgerDir, env, port), output);
      return () => go.stop();
    }
    const { bin } = await ordererBin();
    const ours = await startOrdererProcess({ ledgerDir, port, env, entry: 'bin', bin, output });
    return () => ours.stop();
  };
  try {
    await options.ledger?.(ledgerDir);
    let env = overrides;
    let stopProcess = await launch(env);
    return {
      kind,
      ...started,
      ...adminAddress,
      output,
      stop: () => stopProcess().then(removeFolders),
      restart: async (more = {}) => {
        await stopProcess();
        env = { ...env, ...more };
        stopProcess = await launch(env);
      },
    };
  } catch (err) {
    removeFolders();
    throw err;
  }
}

/** Go orderers still running, killed if the test process exits without stopping them. */
const goChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of goChildren) child.kill('SIGKILL');
});

/** Fabric's orderer as a child process, ready once it logs that it serves requests. */
async function startGoOrderer(
  env: Record<string, string>,
  output: string[] = [],
): Promise<{ output: string[]; stop(): Promise<void> }> {
  // First, so that without the binary (under CI) the test fails with how to get it.
  const bin = fabricBin('orderer');
  // The environment ours gets from startOrdererProcess: nothing of the test runner's but PATH and HOME.
  const child: ChildProcess = spawn(bin, [], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  goChildren.add(child);
  const exited = once(child, 'exit');
  void exited.then(() => goChildren.delete(child));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const ready = new Promise<void>((resolve, reject) => {
    const onLine = (line: string) => {
      output.push(line);
      if (line.includes('Beginning to serve requests')) resolve();
    };
    lines(child.stdout!, onLine);
    lines(child.stderr!, onLine);
    void exited.then(([code, signal]) =>
      reject(new Error(`Fabric's orderer exited (${code ?? signal}) before serving:\n${output.join('\n')}`)),
    );
  });
  try {
    await ready;
  } catch (err) {
    await stop();
    throw err;
  }
  return { output, stop };
}
