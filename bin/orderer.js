#!/usr/bin/env node
// The `orderer` command. Runs the compiled code in dist/ (built by `npm run build`, which `npm ci`
// runs through the prepare script).
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

// Signature checks run on libuv's threadpool (default 4 threads). Threads beyond the cores the
// event loop leaves free only push the event loop off the CPU: one core for it, the rest for the
// pool. Measured with `npm run bench` on 2 cores (1 KB x 64 streams, two runs each): 1 thread
// 44%/42% of the verify rate end to end, 2 threads 39%/37%, 4 threads 31-37%. libuv reads this at
// its first use, so it is set before anything runs; an operator's own setting wins.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(1, availableParallelism() - 1));

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error('orderer: dist/ is missing; run `npm ci` (or `npm run build`) in the project folder first');
  process.exit(1);
}
const { runCli } = await import(main.href);
process.exitCode = await runCli(process.argv);
