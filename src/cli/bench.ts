// `orderer bench`: flags -> BenchOptions (defaults from a dev orderer's dev-info.json) -> runBench ->
// a table (or JSON). The load generator itself lives in src/bench.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  TerminalProgress,
  formatReport,
  processExists,
  runBench,
  type BenchOptions,
  type BenchReport,
  type ProgressWriter,
} from '../bench/index.js';
import { loadLocalMsp } from '../msp/index.js';
import { devDataDir, devInfoPath, readDevInfo, type DevInfo } from '../dev/index.js';
import { parseAddress, parseByteCount, parseCount } from './options.js';
import { systemClock } from '../clock.js';

export interface BenchFlags {
  orderer?: string;
  channel?: string;
  mspDir?: string;
  mspId?: string;
  tlsCa?: string;
  dataDir?: string;
  count: number;
  size: number;
  streams: number;
  window: number;
  pid?: number;
  timeout: number;
  json?: boolean;
  verify: boolean;
  /** Envelopes of an unreported run first (the command's default is 10000; absent here means none). */
  warmup?: number;
  /** Extra Deliver streams reading every block, as peers do (absent: none). */
  readers?: number;
}

export interface BenchTarget {
  address: string;
  channel: string;
  mspDir: string;
  mspId: string;
  tlsCaFile: string | undefined;
  pid: number | undefined;
  /** Where the defaults came from, when a dev-info.json was used. */
  devInfoFile: string | undefined;
}

/**
 * Where to send and as whom: explicit flags first, the rest from the dev orderer's dev-info.json
 * (--data-dir, else $ORDERER_DEV_DATA_DIR, else ./orderer-data).
 */
export function resolveBenchTarget(
  flags: Partial<BenchFlags>,
  env: NodeJS.ProcessEnv,
  cwd: string,
): BenchTarget {
  const needDev = !flags.orderer || !flags.channel || !flags.mspDir;
  const dataDir = devDataDir(flags.dataDir, env, cwd);
  let dev: DevInfo | undefined;
  if (needDev) {
    dev = readDevInfo(dataDir);
    if (!dev) {
      const missing = [
        !flags.orderer && '--orderer',
        !flags.channel && '--channel',
        !flags.mspDir && '--msp-dir',
      ]
        .filter(Boolean)
        .join(', ');
      throw new Error(
        `no ${missing} given and no dev orderer found (${devInfoPath(dataDir)} does not exist): start one with \`orderer start --dev\`, point --data-dir at its folder, or give --orderer, --channel, --msp-dir and --msp-id`,
      );
    }
  }
  if (flags.mspDir && !flags.mspId)
    throw new Error('--msp-dir needs --msp-id (the MSP ID of that identity, e.g. Org1MSP)');
  const runtime = dev?.runtime;
  const devRunning = !!runtime && !runtime.stoppedAt;
  if (!flags.orderer && !devRunning) {
    throw new Error(
      `the dev orderer of ${dataDir} is not running (${runtime ? `stopped at ${runtime.stoppedAt}` : 'never started'}): start it with \`orderer start --dev${flags.dataDir ? ` --data-dir ${flags.dataDir}` : ''}\` or give --orderer`,
    );
  }
  const address = flags.orderer ?? runtime!.address;
  // The dev orderer's CPU and memory can be watched when it is the target and runs here.
  const devPid =
    devRunning && address === runtime!.address && processExists(runtime!.pid) ? runtime!.pid : undefined;
  const tlsCaFile =
    flags.tlsCa ??
    (devRunning && address === runtime!.address && runtime!.tls ? dev!.orderer.tlsCaFile : undefined);
  return {
    address,
    channel: flags.channel ?? dev!.channel,
    mspDir: resolve(cwd, flags.mspDir ?? dev!.client.mspDir),
    mspId: flags.mspId ?? dev!.client.mspId,
    tlsCaFile: tlsCaFile ? resolve(cwd, tlsCaFile) : undefined,
    pid: flags.pid ?? devPid,
    devInfoFile: dev ? devInfoPath(dataDir) : undefined,
  };
}

/** Runs the benchmark the flags describe; prints progress on a terminal's stderr. */
export async function benchFromFlags(
  flags: BenchFlags,
  io: {
    env: NodeJS.ProcessEnv;
    cwd: string;
    stdout: (text: string) => void;
    /** Progress goes here when it is a TTY (and --json is not given). */
    stderr: ProgressWriter | undefined;
    /** Monotonic milliseconds for progress timing (default performance.now). */
    now?: () => number;
  },
): Promise<BenchReport> {
  const target = resolveBenchTarget(flags, io.env, io.cwd);
  const signer = loadLocalMsp({ dir: target.mspDir, mspId: target.mspId, clock: systemClock }).signer;
  const options: BenchOptions = {
    address: target.address,
    channel: target.channel,
    signer,
    ...(target.tlsCaFile ? { tlsCaPem: readFileSync(target.tlsCaFile) } : {}),
    count: flags.count,
    size: flags.size,
    streams: flags.streams,
    window: flags.window,
    ...(target.pid !== undefined ? { pid: target.pid } : {}),
    timeoutMs: flags.timeout * 1000,
    verifyMs: flags.verify ? 1000 : 0,
    ...(flags.readers ? { readers: flags.readers } : {}),
  };
  const showProgress = !flags.json && io.stderr?.isTTY === true;
  const progressFor = (label: string | undefined) =>
    showProgress
      ? new TerminalProgress(label ? { label } : {}, {
          writer: io.stderr!,
          now: io.now ?? (() => performance.now()),
        })
      : undefined;
  const warmup = flags.warmup ?? 0;
  if (warmup > 0) {
    // The first load on a fresh orderer runs unoptimised code; an unreported run takes that cost.
    const warmupProgress = progressFor('warm-up');
    const { pid: _pid, ...unwatched } = options;
    await runBench(
      { ...unwatched, count: warmup, verifyMs: 0 },
      warmupProgress ? { onProgress: (p) => warmupProgress.update(p) } : {},
    ).finally(() => warmupProgress?.finish());
  }
  const progress = progressFor(undefined);
  const measured = await runBench(options, progress ? { onProgress: (p) => progress.update(p) } : {}).finally(
    () => progress?.finish(),
  );
  const report: BenchReport = warmup > 0 ? { ...measured, warmup } : measured;
  io.stdout(flags.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
  return report;
}

/** Exit status of a run: 0 only when every envelope was accepted and seen delivered. */
export function benchSucceeded(report: BenchReport): boolean {
  return !report.timedOut && report.accepted === report.count && report.delivered === report.accepted;
}

export function registerBenchCommand(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('bench')
    .description(
      'load-test an orderer: N signed envelopes over K Broadcast streams, blocks read back over Deliver',
    )
    .option(
      '--orderer <host:port>',
      'orderer to load (default: the dev orderer in dev-info.json)',
      parseAddress('--orderer'),
    )
    .option('--channel <id>', 'channel to send to (default: the dev channel)')
    .option('--msp-dir <dir>', 'MSP folder of the signing client identity (default: the dev client)')
    .option('--msp-id <id>', 'MSP ID of that identity')
    .option('--tls-ca <file>', "PEM of the CA that issued the orderer's TLS certificate (turns TLS on)")
    .option(
      '--data-dir <dir>',
      'dev orderer data folder to take defaults from (default $ORDERER_DEV_DATA_DIR or ./orderer-data)',
    )
    .option('-n, --count <n>', 'envelopes to send', parseCount('--count'), 10_000)
    .option('--size <bytes>', 'payload data bytes per envelope', parseByteCount('--size'), 1024)
    .option('-c, --streams <k>', 'concurrent Broadcast streams', parseCount('--streams'), 64)
    .option('--window <w>', 'envelopes in flight per stream', parseCount('--window'), 16)
    .option(
      '--pid <pid>',
      'watch CPU and RSS of this local orderer process (default: the dev orderer)',
      parseCount('--pid'),
    )
    .option('--timeout <seconds>', 'give up waiting after this long', parseCount('--timeout'), 120)
    .option('--no-verify', 'skip measuring the ECDSA verify rate')
    .option(
      '--warmup <n>',
      'envelopes of an unreported run first, so the orderer is warm (0 skips it)',
      parseCount('--warmup', 0),
      10_000,
    )
    .option(
      '--readers <n>',
      'extra Deliver streams reading every block of the run, each on its own connection, as peers do',
      parseCount('--readers', 0),
    )
    .option('--json', 'print the report as JSON (and no progress on stderr)')
    .addHelpText(
      'after',
      `
Examples:
  $ orderer start --dev &                 # a dev orderer in ./orderer-data
  $ orderer bench -n 20000                # 1 KB envelopes over 64 streams to it
  $ orderer bench -n 50000 --size 128 -c 16 --json
  $ orderer bench --orderer orderer.example.com:7050 --channel mychannel \\
      --msp-dir ./users/User1@org1.example.com/msp --msp-id Org1MSP --tls-ca ./tlsca.example.com-cert.pem

The report shows accepted/rejected by status, broadcast and end-to-end throughput (first send to
last transaction delivered), latency from send to delivery, the orderer's CPU and RSS when it runs
on this machine, and this machine's single-thread ECDSA P-256 verify rate as a yardstick.
An unreported warm-up run (--warmup, default 10000 envelopes) goes first: a fresh orderer runs
unoptimised code at first and would read low. On a terminal, progress (sent, acknowledged,
delivered, rate) is shown on stderr about once a second; not with --json or when stderr is not a TTY.`,
    )
    .action(async (flags: BenchFlags) => {
      const report = await benchFromFlags(flags, {
        env: process.env,
        cwd: process.cwd(),
        stdout: (text) => process.stdout.write(text),
        stderr: process.stderr,
      });
      if (!benchSucceeded(report)) setExitCode(1);
    });
}
