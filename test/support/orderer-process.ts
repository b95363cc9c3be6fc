// Runs the orderer as an operator does: the real CLI (`orderer start`) in its own process, configured
// by Fabric's sample orderer.yaml plus ORDERER_* variables, so a test can SIGKILL it and restart it on
// the same ledger. Also makes genesis blocks of application channels with test-sized batch settings
// (what an operator would do with configtxgen), derived from Fabric's appsolo genesis block.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { etcdraft, orderer as ordererProtos, asBuffer, type common } from '../../src/protos/index.js';
import { FIXTURES } from './fabric-clients.js';
import { ORDERER0_DIR, ordererEnv } from './orderer.js';
import { ordererGroupOf, rewriteGenesisBlock } from './genesis.js';

export const REPO_ROOT = new URL('../../', import.meta.url).pathname;
/** The CLI's TypeScript entry point, run through tsx. */
export const CLI_SOURCE = join(REPO_ROOT, 'src/cli/main.ts');
/** The package's `orderer` command (package.json "bin"), which runs the built dist/. */
export const ORDERER_BIN = join(REPO_ROOT, 'bin/orderer.js');

/** Every process started here, so a failing test cannot leave one behind. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Why dist/ may not be the code in src/ right now (undefined when it is current): missing, built
 * from another commit, or older than a source file. bin/orderer.js runs dist/ as it is.
 */
export function distStaleness(): string | undefined {
  const main = join(REPO_ROOT, 'dist/cli/main.js');
  const info = join(REPO_ROOT, 'dist/build-info.json');
  if (!existsSync(main) || !existsSync(info)) return 'dist/ is missing (run npm run build)';
  const built = statSync(main).mtimeMs;
  const { commit } = JSON.parse(readFileSync(info, 'utf8')) as { commit?: string };
  let head = 'unknown';
  try {
    head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: REPO_ROOT }).toString().trim();
  } catch {
    // Not a git checkout.
  }
  if (commit && head !== 'unknown' && commit !== head) return `dist/ was built at ${commit}, HEAD is ${head}`;
  const newer = (dir: string): string | undefined => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name === 'generated') continue;
        const found = newer(path);
        if (found) return found;
      } else if (entry.name.endsWith('.ts') && statSync(path).mtimeMs > built) return path;
    }
    return undefined;
  };
  const changed = newer(join(REPO_ROOT, 'src'));
  return changed ? `${changed.slice(REPO_ROOT.length)} is newer than dist/` : undefined;
}

/** A port reserved for this process (see ports.ts: no bind-then-release race). */
export { freePort } from './ports.js';

let packageCopy: Promise<string> | undefined;

/**
 * The `orderer` command to run: bin/orderer.js of this package when dist/ is current. When dist/ is
 * stale (see distStaleness) — routine while src/ is being edited, never after `npm ci` — the same
 * bin/orderer.js file is copied into a temporary package whose dist/ is compiled from the current
 * sources exactly as scripts/build.mjs does (tsc -p tsconfig.build.json, generated protos copied,
 * build info), so the test still runs the packaged command on the code under test without touching
 * the working tree's dist/.
 */
export function ordererBin(): Promise<{ bin: string; note?: string }> {
  const stale = distStaleness();
  if (!stale) return Promise.resolve({ bin: ORDERER_BIN });
  packageCopy ??= (async () => {
    const root = mkdtempSync(join(tmpdir(), 'orderer-pkg-'));
    process.once('exit', () => rmSync(root, { recursive: true, force: true }));
    mkdirSync(join(root, 'bin'));
    copyFileSync(ORDERER_BIN, join(root, 'bin/orderer.js'));
    copyFileSync(join(REPO_ROOT, 'package.json'), join(root, 'package.json'));
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
    const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    const outDir = join(root, 'dist');
    try {
      await promisify(execFile)(
        process.execPath,
        [tsc, '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', outDir],
        {
          cwd: REPO_ROOT,
        },
      );
    } catch (err) {
      // tsc emits even with type errors (another file being edited); the run itself will tell.
      if (!existsSync(join(outDir, 'cli/main.js'))) throw err;
    }
    mkdirSync(join(outDir, 'protos/generated'), { recursive: true });
    cpSync(join(REPO_ROOT, 'src/protos/generated/fabric.js'), join(outDir, 'protos/generated/fabric.js'));
    writeFileSync(
      join(outDir, 'build-info.json'),
      JSON.stringify({ version: 'test', commit: 'working-tree' }) + '\n',
    );
    return join(root, 'bin/orderer.js');
  })();
  return packageCopy.then((bin) => ({
    bin,
    note: `${stale}; running a byte-identical copy of bin/orderer.js over a dist/ compiled from the current sources`,
  }));
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
  return rewriteGenesisBlock(readFileSync(join(FIXTURES, 'blocks/appsolo-genesis.block')), {
    channelHeader: (channelHeader) => {
      channelHeader.channelId = channelId;
    },
    config: (configEnvelope) => setBatchSettings(ordererGroupOf(configEnvelope), batch),
  });
}

/**
 * As channelGenesisBlock, but from Fabric's appraft genesis (etcdraft) with orderer0 as the one
 * consenter and a 100 ms tick, so an orderer with orderer0's cluster TLS certificate that joins it
 * elects itself leader within a second. Fabric's own orderer joins channels only of a cluster
 * consensus (it refuses solo ones), so this is the channel both kinds can be joined to.
 */
export function singleRaftChannelGenesisBlock(channelId: string, batch: BatchSettings = {}): Buffer {
  const orderer0Cert = readFileSync(join(ORDERER0_DIR, 'tls/server.crt'));
  return rewriteGenesisBlock(readFileSync(join(FIXTURES, 'blocks/appraft-genesis.block')), {
    channelHeader: (channelHeader) => {
      channelHeader.channelId = channelId;
    },
    config: (configEnvelope) => {
      const ordererGroup = ordererGroupOf(configEnvelope);
      setBatchSettings(ordererGroup, batch);
      const consensusTypeValue = ordererGroup.values!['ConsensusType']!;
      const consensusType = ordererProtos.ConsensusType.decode(asBuffer(consensusTypeValue.value));
      const raft = etcdraft.ConfigMetadata.decode(asBuffer(consensusType.metadata));
      raft.consenters = raft.consenters.filter((c) => asBuffer(c.serverTlsCert).equals(orderer0Cert));
      if (raft.consenters.length !== 1) throw new Error('appraft genesis: orderer0 is not a consenter');
      raft.options!.tickInterval = '100ms';
      consensusType.metadata = etcdraft.ConfigMetadata.encode(raft).finish();
      consensusTypeValue.value = ordererProtos.ConsensusType.encode(consensusType).finish();
    },
  });
}

/** Replaces the BatchSize / BatchTimeout values of an Orderer config group with the given settings. */
function setBatchSettings(ordererGroup: common.IConfigGroup, batch: BatchSettings): void {
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
  /**
   * What to run: 'bin' is the package's own `bin/orderer.js start` (the built dist/), 'source' the
   * same CLI from src/ through tsx (default; always the code under test).
   */
  entry?: 'bin' | 'source';
  /** With entry 'bin': which bin/orderer.js to run (default: this package's; see ordererBin). */
  bin?: string;
  /** Where the output lines go (a restarted orderer's continue the first run's); a new array by default. */
  output?: string[];
}

/**
 * Starts `orderer start`, from the sources (node --import tsx src/cli/main.ts start, exactly the
 * code bin/orderer.js runs once built) or as bin/orderer.js itself, and resolves once it logs that
 * the AtomicBroadcast server listens.
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
  const args =
    options.entry === 'bin'
      ? [options.bin ?? ORDERER_BIN, 'start']
      : ['--import', 'tsx', CLI_SOURCE, 'start'];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const output: string[] = options.output ?? [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
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

/** Calls onLine with every complete line the stream writes (utf8, without the newline). */
export function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
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

/**
 * The log entries among a process's output, as {level, logger, msg, ...fields}: pino JSON lines, or
 * Fabric's console format (`<date> <time> UTC <seq> INFO [logger] message key=value ...`), whichever
 * FABRIC_LOGGING_FORMAT the orderer uses. Field values are JSON-decoded when they are JSON.
 */
export function logEntries(output: readonly string[]): Record<string, unknown>[] {
  const entries: Record<string, unknown>[] = [];
  for (const line of output) {
    if (line.startsWith('{')) {
      try {
        entries.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // Not a log entry.
      }
      continue;
    }
    const console = /^\S+ \S+ \S+ [0-9a-f]+ ([A-Z]+) \[([^\]]+)\] (.*)$/.exec(line);
    if (!console) continue;
    const [, level = '', logger = '', rest = ''] = console;
    const field = / ([A-Za-z_][\w.]*)=("(?:[^"\\]|\\.)*"|\[[^\]]*\]|\{[^}]*\}|\S+)/g;
    const firstField = rest.search(/ [A-Za-z_][\w.]*=/);
    const entry: Record<string, unknown> = {
      level,
      logger,
      msg: firstField < 0 ? rest : rest.slice(0, firstField),
    };
    for (const match of rest.slice(Math.max(firstField, 0)).matchAll(field)) {
      const [, key = '', raw = ''] = match;
      try {
        entry[key] = JSON.parse(raw);
      } catch {
        entry[key] = raw;
      }
    }
    entries.push(entry);
  }
  return entries;
}

/** Waits (polling, bounded) until a log entry matches. */
export async function waitForLog(
  proc: OrdererProcess,
  matches: (entry: Record<string, unknown>) => boolean,
  timeoutMs = 15_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = logEntries(proc.output).find(matches);
    if (found) return found;
    if (Date.now() > deadline) {
      throw new Error(`no matching log entry within ${timeoutMs} ms:\n${proc.output.slice(-30).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
