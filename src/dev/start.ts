// `orderer start --dev` (and `orderer start` with no configuration at all): a ready-to-use orderer
// on 127.0.0.1 with its own identities and a solo channel joined through channel participation.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { badRequest } from '../errors.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logging.js';
import { loadLocalConfig, type LocalConfig } from '../config/index.js';
import { startOrderer, type RunningOrderer } from '../server/orderer.js';
import { ensureDevNetwork, readDevInfo, writeDevInfo, type DevInfo, type DevRuntimeInfo } from './network.js';

export const DEV_LISTEN_ADDRESS = '127.0.0.1';
export const DEFAULT_DEV_PORTS = { orderer: 7050, admin: 7053, operations: 8443 } as const;
export const DEFAULT_DEV_DATA_DIR = 'orderer-data';

export interface DevStartOptions {
  /** Default: $ORDERER_DEV_DATA_DIR or ./orderer-data (see devDataDir). */
  readonly dataDir: string;
  readonly channel?: string;
  /** gRPC port; 0 = any free port. Default: the port of the channel's orderer endpoint, else 7050 (or a free one if taken). */
  readonly port?: number;
  /** Channel participation API port; 0 = any free port. Default 7053 (or a free one if taken). */
  readonly adminPort?: number;
  /** Operations (/healthz, /metrics) port; 0 = any free port. Default 8443 (or a free one if taken). */
  readonly operationsPort?: number;
  /** TLS on the gRPC listener (server TLS only). Default off. */
  readonly tls?: boolean;
}

export interface DevStartDependencies {
  readonly logger: Logger;
  readonly clock: Clock;
}

export interface RunningDevOrderer {
  readonly orderer: RunningOrderer;
  readonly info: DevInfo;
  /** First start: the data folder was created now. */
  readonly created: boolean;
  /** The channel was joined by this start (false: it was already there). */
  readonly joined: boolean;
  readonly config: LocalConfig;
  /** Things the person starting it should know (a port that was taken, ignored variables). */
  readonly notes: readonly string[];
  stop(): Promise<void>;
}

/** The dev data folder: the explicit one, else $ORDERER_DEV_DATA_DIR, else ./orderer-data. */
export function devDataDir(explicit: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string {
  return resolve(cwd, explicit || env.ORDERER_DEV_DATA_DIR || DEFAULT_DEV_DATA_DIR);
}

function listenOn(port: number): Promise<number | undefined> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(undefined));
    server.listen({ host: DEV_LISTEN_ADDRESS, port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => resolvePort(bound));
    });
  });
}

/**
 * The port to use: an explicit non-zero one as given; 0 -> a free port; no preference -> the
 * preferred one when free, else a free one (with a note).
 */
async function choosePort(
  explicit: number | undefined,
  preferred: number,
  what: string,
  notes: string[],
): Promise<number> {
  if (explicit !== undefined && explicit !== 0) return explicit;
  if (explicit === undefined && (await listenOn(preferred)) !== undefined) return preferred;
  const free = await listenOn(0);
  if (free === undefined) throw badRequest(`no free TCP port on ${DEV_LISTEN_ADDRESS} for the ${what}`);
  if (explicit === undefined) notes.push(`port ${preferred} is taken, so the ${what} uses ${free}`);
  return free;
}

function portOf(endpoint: string | undefined): number | undefined {
  const port = Number(endpoint?.split(':').pop());
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

/** The local configuration of dev mode: Fabric's defaults with the dev network's paths and ports. */
export function devLocalConfig(
  info: DevInfo,
  ports: { orderer: number; admin: number; operations: number },
  tls: boolean,
): LocalConfig {
  const { config } = loadLocalConfig({ env: {}, cwd: info.dataDir });
  const general = config.general;
  general.listenAddress = DEV_LISTEN_ADDRESS;
  general.listenPort = ports.orderer;
  general.localMSPDir = info.orderer.mspDir;
  general.localMSPID = info.orderer.mspId;
  general.bccsp = { ...general.bccsp, keyStore: '' };
  general.bootstrapMethod = 'none';
  general.bootstrapFile = '';
  general.tls = {
    ...general.tls,
    enabled: tls,
    certificate: join(info.orderer.tlsDir, 'server.crt'),
    privateKey: join(info.orderer.tlsDir, 'server.key'),
    rootCAs: [info.orderer.tlsCaFile],
    clientAuthRequired: false,
    clientRootCAs: [],
  };
  config.fileLedger.location = info.ledgerDir;
  config.channelParticipation.enabled = true;
  config.admin = { ...config.admin, listenAddress: `${DEV_LISTEN_ADDRESS}:${ports.admin}` };
  config.admin.tls = { ...config.admin.tls, enabled: false, clientAuthRequired: false };
  config.operations = { ...config.operations, listenAddress: `${DEV_LISTEN_ADDRESS}:${ports.operations}` };
  config.operations.tls = { ...config.operations.tls, enabled: false, clientAuthRequired: false };
  config.metrics.provider = 'prometheus';
  config.consensus = {
    ...config.consensus,
    walDir: join(info.dataDir, 'etcdraft', 'wal'),
    snapDir: join(info.dataDir, 'etcdraft', 'snapshot'),
  };
  return config;
}

/**
 * Where the admin and operations servers really listen (their ports may have been 0, any free
 * one): `orderer channel` and `orderer bench` find them here through dev-info.json.
 */
function listenerAddresses(orderer: RunningOrderer): { adminAddress?: string; operationsAddress?: string } {
  return {
    ...(orderer.adminPort ? { adminAddress: `${DEV_LISTEN_ADDRESS}:${orderer.adminPort}` } : {}),
    ...(orderer.operationsPort
      ? { operationsAddress: `${DEV_LISTEN_ADDRESS}:${orderer.operationsPort}` }
      : {}),
  };
}

/**
 * Creates (first time) or reuses the dev network in options.dataDir, starts the orderer on it and
 * joins the dev channel through the channel participation code path unless it already exists.
 */
export async function startDevOrderer(
  options: DevStartOptions,
  deps: DevStartDependencies,
): Promise<RunningDevOrderer> {
  const dataDir = resolve(options.dataDir);
  const notes: string[] = [];
  const previous = readDevInfo(dataDir);
  const ports = {
    orderer: await choosePort(
      options.port,
      portOf(previous?.ordererEndpoint) ?? DEFAULT_DEV_PORTS.orderer,
      'orderer (gRPC)',
      notes,
    ),
    admin: await choosePort(
      options.adminPort,
      DEFAULT_DEV_PORTS.admin,
      'admin (channel participation) API',
      notes,
    ),
    operations: await choosePort(
      options.operationsPort,
      DEFAULT_DEV_PORTS.operations,
      'operations API',
      notes,
    ),
  };
  const endpoint = `${DEV_LISTEN_ADDRESS}:${ports.orderer}`;
  const network = ensureDevNetwork(
    { dataDir, ordererEndpoint: endpoint, ...(options.channel ? { channel: options.channel } : {}) },
    { clock: deps.clock },
  );
  const info = network.info;
  if (info.ordererEndpoint !== endpoint) {
    notes.push(
      `the channel config names ${info.ordererEndpoint} as the orderer endpoint but this run listens on ${endpoint}; peers that follow the channel config will look for the old address`,
    );
  }

  const tls = options.tls ?? false;
  const config = devLocalConfig(info, ports, tls);
  const orderer = await startOrderer(config, {
    logger: deps.logger,
    clock: deps.clock,
  });
  let joined = false;
  try {
    if (!orderer.registrar.channelIds().includes(info.channel)) {
      await orderer.registrar.joinChannel(readFileSync(info.genesisBlock));
      joined = true;
    }
  } catch (err) {
    await orderer.stop();
    throw err;
  }

  const { adminAddress, operationsAddress } = listenerAddresses(orderer);
  const runtime: DevRuntimeInfo = {
    pid: process.pid,
    address: `${DEV_LISTEN_ADDRESS}:${orderer.port}`,
    tls,
    ...(adminAddress ? { adminAddress } : {}),
    ...(operationsAddress ? { operationsAddress } : {}),
    startedAt: new Date().toISOString(),
  };
  const running: DevInfo = { ...info, runtime };
  writeDevInfo(running);

  let stopping: Promise<void> | undefined;
  return {
    orderer,
    info: running,
    created: network.created,
    joined,
    config,
    notes,
    stop() {
      stopping ??= (async () => {
        await orderer.stop();
        writeDevInfo({ ...running, runtime: { ...runtime, stoppedAt: new Date().toISOString() } });
      })();
      return stopping;
    },
  };
}

/** What `orderer start --dev` prints: endpoints, channel, identities and a first command to try. */
export function formatDevBanner(dev: RunningDevOrderer, cwd = process.cwd()): string {
  const { info } = dev;
  const runtime = info.runtime!;
  const shown = (path: string) => {
    const rel = relative(cwd, path);
    return rel && !rel.startsWith('..') && rel.length < path.length ? rel : path;
  };
  const height = dev.orderer.registrar.channelInfo(info.channel)?.height ?? 0;
  const lines = [
    `Fabric orderer running in dev mode (${dev.created ? 'new data folder created' : 'reusing the data folder'})`,
    `  data folder   ${shown(info.dataDir)}   (delete it to start from scratch)`,
    `  orderer       ${runtime.address}   gRPC AtomicBroadcast, TLS ${
      runtime.tls ? 'on (server TLS; CA below)' : 'off (start with --tls to turn it on)'
    }`,
    `  admin API     ${runtime.adminAddress ?? dev.config.admin.listenAddress}   channel participation (/participation/v1/channels)`,
    `  operations    ${runtime.operationsAddress ?? dev.config.operations.listenAddress}   /healthz /metrics /version`,
    `  channel       ${info.channel}   solo, ${dev.joined ? 'joined now' : 'already joined'}, height ${height}`,
    `  client        ${info.client.mspId}   MSP folder ${shown(info.client.mspDir)}`,
    `  org admin     ${info.admin.mspId}   MSP folder ${shown(info.admin.mspDir)}`,
    `  orderer admin ${info.ordererAdmin.mspId}   MSP folder ${shown(info.ordererAdmin.mspDir)}`,
    `  TLS CA        ${shown(info.orderer.tlsCaFile)}`,
    ...dev.notes.map((note) => `  note: ${note}`),
    '',
    `Try it:  npx orderer bench${dev.info.dataDir === resolve(cwd, DEFAULT_DEV_DATA_DIR) ? '' : ` --data-dir ${shown(info.dataDir)}`} -n 2000    (signs as the client above and sends to ${info.channel})`,
    `   peer: CORE_PEER_LOCALMSPID=${info.client.mspId} CORE_PEER_MSPCONFIGPATH=${shown(info.client.mspDir)} peer channel fetch newest -o ${runtime.address} -c ${info.channel}${runtime.tls ? ` --tls --cafile ${shown(info.orderer.tlsCaFile)}` : ''}`,
  ];
  return lines.join('\n') + '\n';
}
