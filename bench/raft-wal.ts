// Benchmark of the Raft WAL alone: saves per second and fsyncs per save when N saves are in flight
// at once (one entry + a HardState each, as a Ready on a busy leader), which shows what group
// commit buys. Not a test: numbers depend on the disk and the machine's load.
//
//   node --import tsx bench/raft-wal.ts                       1 KiB entries, 2 s per concurrency level
//   node --import tsx bench/raft-wal.ts --entry 4096 --seconds 5 --dir /data/bench
//   node --import tsx bench/raft-wal.ts --concurrency 1,16,256
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EntryType, RaftWal } from '../src/consensus/etcdraft/storage/index.js';

interface Args {
  entryBytes: number;
  seconds: number;
  dir: string | undefined;
  concurrency: number[];
}

function parseArgs(argv: string[]): Args {
  const args: Args = { entryBytes: 1024, seconds: 2, dir: undefined, concurrency: [1, 8, 64, 256] };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === '--entry' && value) args.entryBytes = Number(argv[++i]);
    else if (argv[i] === '--seconds' && value) args.seconds = Number(argv[++i]);
    else if (argv[i] === '--dir' && value) args.dir = argv[++i];
    else if (argv[i] === '--concurrency' && value) args.concurrency = argv[++i]!.split(',').map(Number);
    else throw new Error(`unknown argument ${argv[i]}; see the comment at the top of bench/raft-wal.ts`);
  }
  return args;
}

async function run(root: string, entryBytes: number, seconds: number, concurrency: number) {
  const { wal } = await RaftWal.open({
    walDir: path.join(root, 'wal'),
    snapDir: path.join(root, 'snap'),
    channel: 'bench',
  });
  const data = Buffer.alloc(entryBytes, 7);
  let index = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  const worker = async () => {
    while (performance.now() < deadline) {
      index++;
      await wal.save({
        entries: [{ index, term: 1, type: EntryType.Normal, data }],
        hardState: { term: 1, vote: 1, commit: index - 1 },
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  const { saves, commits, segmentsCut } = wal.stats;
  await wal.close();
  return { concurrency, saves, perSecond: saves / elapsed, fsyncsPerSave: commits / saves, segmentsCut };
}

const args = parseArgs(process.argv.slice(2));
console.log(
  `Raft WAL: one ${args.entryBytes}-byte entry + HardState per save, ${args.seconds} s per level, in ${args.dir ?? tmpdir()}`,
);
console.log('in flight | saves/s  | fsyncs/save | saves  | segments cut');
for (const concurrency of args.concurrency) {
  const root = mkdtempSync(path.join(args.dir ?? tmpdir(), 'raft-wal-bench-'));
  try {
    const r = await run(root, args.entryBytes, args.seconds, concurrency);
    console.log(
      `${String(r.concurrency).padStart(9)} | ${r.perSecond.toFixed(0).padStart(8)} | ${r.fsyncsPerSave
        .toFixed(3)
        .padStart(11)} | ${String(r.saves).padStart(6)} | ${r.segmentsCut}`,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
