// `orderer channel list|join|remove`: a client of the channel participation API that takes the
// same flags as Fabric's `osnadmin channel ...` and prints what it prints (status line, then the
// JSON body indented with tabs), so operators' scripts can switch between the two. Without
// --orderer-address it talks to the dev orderer, found through its data folder's dev-info.json.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Command } from 'commander';
import { badRequest, errorMessage, unavailable } from '../errors.js';
import { devDataDir, devInfoPath, readDevInfo } from '../dev/index.js';
import { common } from '../protos/index.js';
import { channelIdOfBlock } from '../channelconfig/index.js';

const URL_BASE_V1_CHANNELS = '/participation/v1/channels';

export interface AdminConnectionOptions {
  /** host:port of the orderer's admin endpoint. */
  ordererAddress: string;
  /** PEM CA certificate(s) of the admin endpoint's TLS certificate: with it the client uses HTTPS. */
  caFile?: string;
  clientCert?: string;
  clientKey?: string;
}

export interface AdminResponse {
  status: number;
  body: Buffer;
}

export interface ChannelCommandIo {
  write(text: string): void;
  /** Where the dev data folder is looked for ($ORDERER_DEV_DATA_DIR, ./orderer-data). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

interface Connection {
  secure: boolean;
  host: string;
  port: number;
  tls?: { ca: Buffer; cert: Buffer; key: Buffer };
}

function readFlagFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw badRequest(`reading ${what}: ${errorMessage(err)}`);
  }
}

function connectionFor(options: AdminConnectionOptions): Connection {
  const address = options.ordererAddress;
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw badRequest(`--orderer-address '${address}' is not host:port (the orderer's Admin.ListenAddress)`);
  }
  let host = address.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (!options.caFile) return { secure: false, host, port };
  // As osnadmin: a CA file means TLS, and the admin endpoint always wants a client certificate.
  if (!options.clientCert || !options.clientKey) {
    throw badRequest(
      'loading client cert/key pair: --client-cert and --client-key are required with --ca-file (the admin endpoint requires mutual TLS)',
    );
  }
  return {
    secure: true,
    host,
    port,
    tls: {
      ca: readFlagFile(options.caFile, 'orderer CA certificate'),
      cert: readFlagFile(options.clientCert, 'client certificate'),
      key: readFlagFile(options.clientKey, 'client private key'),
    },
  };
}

/** A failed connection as an operator can act on: which endpoint, and what to check. */
function connectionError(connection: Connection, err: NodeJS.ErrnoException): Error {
  const endpoint = `${connection.host}:${connection.port}`;
  const scheme = connection.secure ? 'https' : 'http';
  const checks =
    `check that the orderer is running, that ChannelParticipation.Enabled is true and that its Admin.ListenAddress is ${endpoint}` +
    (connection.secure
      ? ''
      : ' (if Admin.TLS.Enabled is true, give --ca-file, --client-cert and --client-key)') +
    '; for the dev orderer (`orderer start --dev`, admin port 7053 by default) leave -o out to use its data folder';
  const what =
    err.code === 'ECONNREFUSED'
      ? `connection to the admin endpoint ${scheme}://${endpoint} was refused`
      : err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN'
        ? `the admin endpoint's host ${connection.host} was not found`
        : `request to the admin endpoint ${scheme}://${endpoint} failed: ${err.message}`;
  return unavailable(`${what}: ${checks}`, { endpoint, code: err.code }, { cause: err });
}

function request(
  connection: Connection,
  method: string,
  path: string,
  body?: { contentType: string; bytes: Buffer },
): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (body) {
      headers['Content-Type'] = body.contentType;
      headers['Content-Length'] = body.bytes.length;
    }
    const target = { host: connection.host, port: connection.port, method, path, headers };
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    };
    const req = connection.secure
      ? https.request({ ...target, ...connection.tls, agent: false }, onResponse)
      : http.request({ ...target, agent: false }, onResponse);
    req.on('error', (err: NodeJS.ErrnoException) => reject(connectionError(connection, err)));
    req.end(body?.bytes);
  });
}

/** GET /participation/v1/channels, or /channels/{id} with a channel ID. */
export function listChannels(options: AdminConnectionOptions, channelId?: string): Promise<AdminResponse> {
  const path = channelId ? `${URL_BASE_V1_CHANNELS}/${encodeURIComponent(channelId)}` : URL_BASE_V1_CHANNELS;
  return request(connectionFor(options), 'GET', path);
}

/** POST /participation/v1/channels with the block as the `config-block` file part, as osnadmin sends it. */
export function joinChannel(options: AdminConnectionOptions, blockBytes: Buffer): Promise<AdminResponse> {
  const boundary = randomBytes(30).toString('hex');
  const bytes = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="config-block"; filename="config.block"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    ),
    blockBytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return request(connectionFor(options), 'POST', URL_BASE_V1_CHANNELS, {
    contentType: `multipart/form-data; boundary=${boundary}`,
    bytes,
  });
}

/** DELETE /participation/v1/channels/{id}. */
export function removeChannel(options: AdminConnectionOptions, channelId: string): Promise<AdminResponse> {
  return request(
    connectionFor(options),
    'DELETE',
    `${URL_BASE_V1_CHANNELS}/${encodeURIComponent(channelId)}`,
  );
}

/** osnadmin's quick check that the block is for the channel the operator named. */
export function checkBlockChannelId(blockBytes: Buffer, channelId: string): void {
  let blockChannelId: string;
  try {
    blockChannelId = channelIdOfBlock(common.Block.decode(blockBytes));
  } catch (err) {
    throw badRequest(`unmarshalling block: ${errorMessage(err)}`);
  }
  if (blockChannelId !== channelId) {
    throw badRequest(
      `specified --channelID ${channelId} does not match channel ID ${blockChannelId} in config block`,
    );
  }
}

/** What osnadmin prints: "Status: N" and the JSON body indented with tabs (trailing whitespace kept). */
export function formatResponse(response: AdminResponse, showStatus = true): string {
  let output = showStatus ? `Status: ${response.status}\n` : '';
  const text = response.body.toString('utf8');
  if (text.length > 0) {
    const trailing = /\s*$/.exec(text)?.[0] ?? '';
    try {
      output += JSON.stringify(JSON.parse(text), null, '\t') + trailing;
    } catch {
      output += text;
    }
  }
  return output;
}

interface CommonFlags {
  ordererAddress?: string;
  dataDir?: string;
  caFile?: string;
  clientCert?: string;
  clientKey?: string;
  status: boolean;
}

/**
 * The admin endpoint to use: --orderer-address, else the running dev orderer's (from dev-info.json
 * in --data-dir, $ORDERER_DEV_DATA_DIR or ./orderer-data). Dev mode serves the admin API without
 * TLS, so no TLS material comes from there.
 */
export function resolveAdminAddress(
  flags: { ordererAddress?: string; dataDir?: string },
  env: NodeJS.ProcessEnv,
  cwd: string,
): string {
  if (flags.ordererAddress) return flags.ordererAddress;
  const dataDir = devDataDir(flags.dataDir, env, cwd);
  const dev = readDevInfo(dataDir);
  if (!dev) {
    throw badRequest(
      `no --orderer-address given and no dev orderer found (${devInfoPath(dataDir)} does not exist): give -o host:port (the orderer's Admin.ListenAddress), point --data-dir at a dev data folder, or start one with \`orderer start --dev\``,
    );
  }
  const runtime = dev.runtime;
  if (!runtime || runtime.stoppedAt || !runtime.adminAddress) {
    throw badRequest(
      `the dev orderer of ${dataDir} is not running (${runtime?.stoppedAt ? `stopped at ${runtime.stoppedAt}` : runtime ? 'no admin endpoint recorded' : 'never started'}): start it with \`orderer start --dev${flags.dataDir ? ` --data-dir ${flags.dataDir}` : ''}\` or give -o host:port`,
    );
  }
  return runtime.adminAddress;
}

function connectionOptions(flags: CommonFlags, env: NodeJS.ProcessEnv, cwd: string): AdminConnectionOptions {
  return {
    ordererAddress: resolveAdminAddress(flags, env, cwd),
    ...(flags.caFile ? { caFile: flags.caFile } : {}),
    ...(flags.clientCert ? { clientCert: flags.clientCert } : {}),
    ...(flags.clientKey ? { clientKey: flags.clientKey } : {}),
  };
}

function withConnectionFlags(command: Command): Command {
  return command
    .option(
      '-o, --orderer-address <host:port>',
      "admin endpoint of the orderer (Admin.ListenAddress; default: the running dev orderer's)",
    )
    .option(
      '--data-dir <dir>',
      'dev orderer data folder to find the admin endpoint in (default $ORDERER_DEV_DATA_DIR or ./orderer-data)',
    )
    .option(
      '--ca-file <path>',
      'PEM-encoded TLS CA certificate(s) of the orderer admin endpoint (enables TLS)',
    )
    .option('--client-cert <path>', 'PEM-encoded client certificate for mutual TLS with the orderer')
    .option('--client-key <path>', 'PEM-encoded private key of the client certificate')
    .option('--no-status', 'leave the HTTP status line out of the output');
}

/** Adds `channel list|join|remove` (Fabric's osnadmin channel commands) to the program. */
export function registerChannelCommand(
  program: Command,
  io: ChannelCommandIo = { write: (text) => process.stdout.write(text) },
): Command {
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  const connect = (flags: CommonFlags) => connectionOptions(flags, env, cwd);
  const print = (response: AdminResponse, flags: CommonFlags) =>
    io.write(formatResponse(response, flags.status) + '\n');

  const channel = program
    .command('channel')
    .description('channel participation: join, list and remove channels through an orderer admin endpoint')
    .addHelpText(
      'after',
      `
Examples:
  $ orderer channel list                                  # the dev orderer (./orderer-data; admin port 7053)
  $ orderer channel join --channelID mychannel --config-block ./mychannel.block --data-dir /tmp/dev
  $ orderer channel list -o 127.0.0.1:7053 --channelID devchannel
  $ orderer channel join -o 127.0.0.1:9443 --channelID mychannel --config-block ./mychannel.block \\
      --ca-file ./tls/ca.crt --client-cert ./admin/tls/client.crt --client-key ./admin/tls/client.key
  $ orderer channel remove -o 127.0.0.1:9443 --channelID mychannel [TLS flags]

Without -o the admin endpoint of the running dev orderer is used, read from dev-info.json in
--data-dir, $ORDERER_DEV_DATA_DIR or ./orderer-data (dev mode serves it without TLS). 127.0.0.1:9443
is Admin.ListenAddress in Fabric's sample orderer.yaml; the admin endpoint wants mutual TLS there.`,
    );

  withConnectionFlags(
    channel
      .command('join')
      .description('join the orderer to a channel with its genesis (or a config) block')
      .requiredOption('-c, --channelID <name>', 'channel ID')
      .requiredOption('-b, --config-block <path>', 'file holding the config block of the channel'),
  ).action(async (flags: CommonFlags & { channelID: string; configBlock: string }) => {
    const blockBytes = readFlagFile(flags.configBlock, 'config block');
    checkBlockChannelId(blockBytes, flags.channelID);
    print(await joinChannel(connect(flags), blockBytes), flags);
  });

  withConnectionFlags(
    channel
      .command('list')
      .description('list the channels of the orderer; with --channelID, details of that channel')
      .option('-c, --channelID <name>', 'channel ID'),
  ).action(async (flags: CommonFlags & { channelID?: string }) => {
    print(await listChannels(connect(flags), flags.channelID), flags);
  });

  withConnectionFlags(
    channel
      .command('remove')
      .description('remove the orderer from a channel (deletes its ledger of the channel)')
      .requiredOption('-c, --channelID <name>', 'channel ID'),
  ).action(async (flags: CommonFlags & { channelID: string }) => {
    print(await removeChannel(connect(flags), flags.channelID), flags);
  });

  return channel;
}
