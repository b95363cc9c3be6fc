// A real process is SIGKILLed while it orders; every envelope it acknowledged must end up in
// exactly one block after recovery, across two crashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../../../../src/clock.js';
import { SoloConsenter } from '../../../../src/consensus/solo/index.js';
import { FakeConsenterSupport, FileBlockLog, asWrittenBlocks, txIdsOfBlock } from '../../../support/solo.js';

const CHILD = fileURLToPath(new URL('./fixtures/crash-child.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../../../', import.meta.url));

/** Runs the child until it has acknowledged `target` envelopes, then kills it with SIGKILL. */
async function runAndKill(dir: string, tag: string, target: number): Promise<string[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, tag], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const acked: string[] = [];
  let stderr = '';
  let buffered = '';
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!; // a line cut by the kill is not an acknowledgement
      for (const line of lines) if (line.startsWith('ACK ')) acked.push(line.slice(4));
      if (acked.length >= target) resolve();
    });
    void exited.then((how) => reject(new Error(`child exited early (${String(how)}): ${stderr}`)));
  });
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  // Whatever was already in the pipe was acknowledged before the kill.
  const rest = buffered.split('\n').slice(0, -1);
  for (const line of rest) if (line.startsWith('ACK ')) acked.push(line.slice(4));
  return acked;
}

test(
  'solo WAL: kill -9 while ordering loses and duplicates no acknowledged envelope',
  { timeout: 60_000 },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'solo-kill9-'));
    t.after(() => rm(dir, { recursive: true, force: true }));

    const acked = [...(await runAndKill(dir, 'r1', 400)), ...(await runAndKill(dir, 'r2', 400))];

    const log = new FileBlockLog(join(dir, 'blocks.log'));
    const clock = new ManualClock();
    const support = new FakeConsenterSupport({
      clock,
      blocks: asWrittenBlocks(await log.truncateToIntact()),
      store: log,
      batchTimeoutMs: 20,
      batchSize: { maxMessageCount: 10, absoluteMaxBytes: 1 << 20, preferredMaxBytes: 1 << 19 },
    });
    const chain = new SoloConsenter({ walDir: join(dir, 'wal') }).handleChain(support, undefined);
    chain.start();
    await chain.whenIdle();
    clock.advance(20);
    await chain.whenIdle();
    await chain.halt();

    const inLedger = (await log.readBlocks()).flatMap(txIdsOfBlock);
    const counts = new Map<string, number>();
    for (const id of inLedger) counts.set(id, (counts.get(id) ?? 0) + 1);
    const duplicated = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    const missing = acked.filter((id) => !counts.has(id));
    t.diagnostic(`${acked.length} acknowledged, ${inLedger.length} in ${support.height()} blocks`);
    assert.deepEqual(duplicated, [], 'no envelope is in two blocks');
    assert.deepEqual(missing, [], 'every acknowledged envelope is in a block');
  },
);
