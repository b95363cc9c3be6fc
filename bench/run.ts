// `npm run bench`: starts a zero-config dev orderer in a child process on a temp folder, runs the
// standard scenarios against it with the load generator of `orderer bench`, prints one table each.
//
//   npm run bench                       both scenarios, 20000 envelopes each
//   npm run bench -- -n 50000           more envelopes
//   npm run bench -- --json out.json    also write the reports as JSON
//   npm run bench -- --profile DIR      run the orderer under node --cpu-prof (profile in DIR)
//   npm run bench -- --tsx              run the orderer from the TypeScript sources through tsx
//
// The orderer runs as `npm start` runs it: compiled JavaScript. The sources are compiled into
// .cache/bench-build (never into dist/, which other work may be using) when they changed since
// the last bench; tsx would add its transpiler and source maps to the orderer's memory and CPU.
import { execFileSync, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatReport, runBench, type BenchReport } from '../src/bench/index.js';
import { readDevInfo, type DevInfo } from '../src/dev/index.js';
import { loadLocalMsp } from '../src/msp/index.js';

interface Scenario {
  readonly name: string;
  readonly size: number;
  readonly streams: number;
}

const SCENARIOS: readonly Scenario[] = [
  {
    name: '1 KB envelopes x 64 streams (the issue target: e2e >= 60% of ECDSA verify, RSS < 250 MB)',
    size: 1024,
    streams: 64,
  },
  { name: 'small envelopes (64 B data) x 64 streams', size: 64, streams: 64 },
];

interface Args {
  count: number;
  json?: string;
  profile?: string;
  tsx?: boolean;
}

function parseArgs(argv: string[]): Args {
  const out: Args = { count: 20_000 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = argv[i + 1];
    if ((arg === '-n' || arg === '--count') && value) {
      out.count = Number(value);
      i++;
    } else if (arg === '--json' && value) {
      out.json = resolve(value);
      i++;
    } else if (arg === '--profile' && value) {
      out.profile = resolve(value);
      i++;
    } else if (arg === '--tsx') {
      out.tsx = true;
    } else {
      throw new Error(`unknown argument ${arg}; use -n N, --json FILE, --profile DIR, --tsx`);
    }
  }
  if (!Number.isInteger(out.count) || out.count <= 0) throw new Error('-n needs a positive whole number');
  return out;
}

/** Newest modification time (ms) of the files under dir (recursively) that pass keep. */
function newestMtime(dir: string, keep: (name: string) => boolean): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path, keep));
    else if (keep(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * The orderer's CLI entry compiled to JavaScript in .cache/bench-build, rebuilt when a source
 * changed; undefined (run through tsx) when the compiler emitted nothing usable.
 */
function compiledOrderer(root: string): string | undefined {
  const outDir = join(root, '.cache', 'bench-build');
  const entry = join(outDir, 'cli', 'main.js');
  const stampFile = join(outDir, 'bench-build.json');
  const stamp = String(
    Math.max(
      newestMtime(join(root, 'src'), (name) => name.endsWith('.ts') || name.endsWith('.js')),
      statSync(join(root, 'tsconfig.json')).mtimeMs,
      statSync(join(root, 'tsconfig.build.json')).mtimeMs,
    ),
  );
  try {
    if (existsSync(entry) && readFileSync(stampFile, 'utf8') === stamp) return entry;
  } catch {
    // no stamp yet
  }
  console.log('compiling the orderer into .cache/bench-build ...');
  rmSync(outDir, { recursive: true, force: true });
  try {
    execFileSync(
      process.execPath,
      [
        join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        join(root, 'tsconfig.build.json'),
        '--outDir',
        outDir,
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch {
    // Type errors still emit JavaScript (noEmitOnError is off); a missing entry is checked below.
  }
  const generated = join(root, 'src', 'protos', 'generated', 'fabric.js');
  if (!existsSync(entry) || !existsSync(generated)) return undefined;
  mkdirSync(join(outDir, 'protos', 'generated'), { recursive: true });
  cpSync(generated, join(outDir, 'protos', 'generated', 'fabric.js'));
  // What scripts/build.mjs writes beside the code, for `orderer version` and /version.
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  writeFileSync(
    join(outDir, 'build-info.json'),
    JSON.stringify({ version: pkg.version, commit: 'bench-build' }, null, 2) + '\n',
  );
  writeFileSync(stampFile, stamp);
  return entry;
}

async function waitForDevOrderer(
  dataDir: string,
  pid: number,
  exited: () => string | undefined,
): Promise<DevInfo> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const failure = exited();
    if (failure) throw new Error(`the dev orderer exited before it was ready:\n${failure}`);
    let info: DevInfo | undefined;
    try {
      info = readDevInfo(dataDir);
    } catch {
      info = undefined; // being written
    }
    if (info?.runtime?.pid === pid && !info.runtime.stoppedAt) return info;
    if (Date.now() > deadline) throw new Error('the dev orderer did not come up within 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const compiled = args.tsx ? undefined : compiledOrderer(root);
  if (!args.tsx && !compiled) console.log('could not compile the orderer; running it through tsx');
  const dataDir = mkdtempSync(join(tmpdir(), 'orderer-bench-'));
  const nodeArgs = [
    ...(args.profile ? ['--cpu-prof', '--cpu-prof-dir', args.profile] : []),
    ...(compiled ? [compiled] : ['--import', 'tsx', join(root, 'src/cli/main.ts')]),
    'start',
    '--dev',
    '--data-dir',
    dataDir,
    '--port',
    '0',
    '--admin-port',
    '0',
    '--operations-port',
    '0',
  ];
  const child = spawn(process.execPath, nodeArgs, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8000);
  });
  let exitStatus: string | undefined;
  const exitedPromise = new Promise<void>((resolveExit) =>
    child.on('exit', (code, signal) => {
      exitStatus = `exit ${code ?? signal}\n${stderr}`;
      resolveExit();
    }),
  );
  const reports: { scenario: string; report: BenchReport }[] = [];
  try {
    const info = await waitForDevOrderer(dataDir, child.pid!, () => exitStatus);
    const signer = loadLocalMsp({ dir: info.client.mspDir, mspId: info.client.mspId }).signer;
    console.log(
      `dev orderer pid ${child.pid} at ${info.runtime!.address} (data in ${dataDir}; ${compiled ? 'compiled JavaScript' : 'TypeScript through tsx'})\n`,
    );
    for (const scenario of SCENARIOS) {
      const report = await runBench({
        address: info.runtime!.address,
        channel: info.channel,
        signer,
        count: args.count,
        size: scenario.size,
        streams: scenario.streams,
        pid: child.pid!,
      });
      reports.push({ scenario: scenario.name, report });
      console.log(formatReport(report, scenario.name));
    }
    if (args.json) writeFileSync(args.json, JSON.stringify(reports, null, 2) + '\n');
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exitedPromise;
    clearTimeout(timer);
    rmSync(dataDir, { recursive: true, force: true });
  }
  const failed = reports.filter(
    ({ report }) => report.accepted !== report.count || report.delivered !== report.count,
  );
  if (failed.length) {
    console.error(
      `not every envelope was accepted and delivered in: ${failed.map((f) => f.scenario).join('; ')}`,
    );
    process.exitCode = 1;
  }
  if (args.profile) console.log(`CPU profile of the orderer written to ${args.profile}`);
}

await main();
