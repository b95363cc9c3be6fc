#!/usr/bin/env node
// The `orderer` command. Runs the compiled code in dist/ (built by `npm run build`, which `npm ci`
// runs through the prepare script).
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
