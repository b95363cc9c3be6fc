#!/usr/bin/env -S node --max-semi-space-size=1
// The `orderer` command. Runs the compiled code in dist/ (built by `npm run build`, which `npm ci`
// runs through the prepare script).
//
// The V8 flag on the first line keeps the young generation at 1 MB per semi-space instead of 16:
// under Broadcast load that is about 30 MB less resident memory (a third of V8's default young
// generation sat in RSS) at no cost in throughput measured by `npm run bench`. V8 reads it only at
// start-up, so it cannot be set from here. `npm start` runs this file as a program; the benchmarks
// and the tests that run it with node pass the flags read from here (nodeFlagsOf in
// test/support/orderer-process.ts).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error('orderer: dist/ is missing; run `npm ci` (or `npm run build`) in the project folder first');
  process.exit(1);
}
const { runCli, finishProcess } = await import(main.href);
// finishProcess arrived with the exit codes; a dist/ built before it only has runCli.
const code = await runCli(process.argv);
if (typeof finishProcess === 'function') finishProcess(code);
else process.exitCode = code;
