// The `orderer` process entry points end with the command's status even when a failed command
// left a handle open (start-up should not: the integration tests check that it does not), so a
// supervisor always sees the failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { REPO_ROOT } from '../../support/orderer-process.js';

function run(script: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

const IMPORT = `import { finishProcess } from './src/cli/main.ts';`;

test('a failed command that left a handle open still exits with its status, saying so', async () => {
  const ended = await run(`${IMPORT} setInterval(() => {}, 1000); finishProcess(1);`);
  assert.equal(ended.code, 1, ended.stderr);
  assert.match(
    ended.stderr,
    /orderer: still running 5000 ms after failing \(a handle was left open\); exiting with status 1/,
  );
});

test('a failed command that closed everything exits at once, without the notice', async () => {
  const ended = await run(`${IMPORT} finishProcess(2);`);
  assert.equal(ended.code, 2, ended.stderr);
  assert.equal(ended.stderr, '');
});
