// The solo chain on a full disk: the block write is retried (backoff on the injected clock, or at
// once when a request re-checks); the chain keeps serving and nothing is lost or written twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../../src/clock.js';
import { OrdererError } from '../../../../src/errors.js';
import { SoloConsenter, type SoloChain } from '../../../../src/consensus/solo/index.js';
import { FakeConsenterSupport, MemoryWalStorage, makeEnvelope } from '../../../support/solo.js';
import { enospc } from '../../../support/disk-full-fault.js';

/** Polls cond between turns of the event loop (no timer), failing after a generous deadline. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function setup() {
  const clock = new ManualClock();
  const walStorage = new MemoryWalStorage();
  const support = new FakeConsenterSupport({ clock, batchTimeoutMs: 2000 });
  let full = false;
  let failedWrites = 0;
  support.beforeWrite = () => {
    if (!full) return;
    failedWrites++;
    throw enospc();
  };
  const consenter = new SoloConsenter({ walDir: '/wal' }, { walStorage });
  const chain = consenter.handleChain(support, undefined);
  chain.start();
  return {
    clock,
    walStorage,
    support,
    chain,
    consenter,
    setFull: (value: boolean) => (full = value),
    failedWrites: () => failedWrites,
  };
}

async function orderAll(chain: SoloChain, ids: string[]): Promise<void> {
  await chain.waitReady();
  await Promise.all(ids.map((id) => chain.order(makeEnvelope(id), 0)));
}

test('solo: a block that fails on a full disk is retried with backoff on the clock and written exactly once', async () => {
  const { clock, support, chain, setFull, failedWrites } = setup();
  setFull(true);
  await orderAll(chain, ['a', 'b', 'c']); // acknowledged: durable in the WAL
  await until(() => chain.stalled() !== undefined, 'the chain to stall');
  assert.match(chain.stalled()!.message, /disk is full \(ENOSPC\)/);
  assert.equal(chain.errored(), undefined, 'a stalled chain still serves: Deliver must not refuse');
  assert.equal(failedWrites(), 1);

  clock.advance(200);
  await until(() => failedWrites() === 2, 'the first retry');
  // Doubling backoff: 200 ms is not enough for the next one.
  clock.advance(200);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(failedWrites(), 2);
  setFull(false);
  clock.advance(200);
  await until(() => chain.stalled() === undefined, 'the chain to resume');
  await chain.whenIdle();
  assert.deepEqual(support.txIds, [['a', 'b', 'c']]);

  await orderAll(chain, ['d', 'e', 'f']);
  await chain.whenIdle();
  assert.deepEqual(support.txIds, [
    ['a', 'b', 'c'],
    ['d', 'e', 'f'],
  ]);
  await chain.halt();
});

test('solo: while stalled each request re-checks the disk; refused with ENOSPC while full, accepted once there is space', async () => {
  const { support, chain, setFull, failedWrites } = setup();
  setFull(true);
  await orderAll(chain, ['a', 'b', 'c']);
  await until(() => chain.stalled() !== undefined, 'the chain to stall');

  const refusal = await chain.waitReady().then(
    () => undefined,
    (err: unknown) => err as OrdererError,
  );
  assert.ok(refusal instanceof OrdererError);
  assert.equal(refusal.kind, 'unavailable');
  assert.match(refusal.message, /ENOSPC/);
  assert.equal(failedWrites(), 2, 'the request ran a retry without waiting for the backoff');

  setFull(false);
  await chain.waitReady(); // this request's re-check writes the block
  assert.equal(chain.stalled(), undefined);
  await chain.whenIdle();
  assert.deepEqual(support.txIds, [['a', 'b', 'c']]);
  await chain.halt();
});

test('solo: a WAL append that fails on a full disk refuses only that message; the chain keeps going', async () => {
  const { walStorage, support, chain } = setup();
  await chain.waitReady();
  walStorage.failNextAppend = enospc();
  await assert.rejects(chain.order(makeEnvelope('lost'), 0), (err: unknown) => {
    assert.ok(err instanceof OrdererError);
    assert.equal(err.kind, 'unavailable');
    assert.match(err.message, /disk is full \(ENOSPC\)/);
    return true;
  });
  assert.equal(chain.errored(), undefined);
  await orderAll(chain, ['a', 'b', 'c']);
  await chain.whenIdle();
  assert.deepEqual(support.txIds, [['a', 'b', 'c']], 'the refused message is not ordered');
  await chain.halt();
});

test('solo: after a stall and recovery a restarted chain replays nothing already in a block', async () => {
  const { clock, walStorage, support, chain, setFull, consenter } = setup();
  setFull(true);
  await orderAll(chain, ['a', 'b', 'c', 'd']);
  await until(() => chain.stalled() !== undefined, 'the chain to stall');
  setFull(false);
  clock.advance(200);
  await until(() => chain.stalled() === undefined, 'the chain to resume');
  await chain.whenIdle();
  await chain.halt();
  assert.deepEqual(support.txIds, [['a', 'b', 'c']]);

  const restartedSupport = new FakeConsenterSupport({ clock, batchTimeoutMs: 2000, blocks: support.blocks });
  const restarted = consenter.handleChain(restartedSupport, undefined);
  restarted.start();
  await restarted.waitReady();
  clock.advance(2000);
  await until(() => restartedSupport.blocks.length === 2, 'the pending message to be cut');
  await restarted.whenIdle();
  assert.deepEqual(restartedSupport.txIds, [['a', 'b', 'c'], ['d']]);
  assert.ok(walStorage.files.size > 0);
  await restarted.halt();
});

test('solo: halting a stalled chain ends the stall and refuses the requests waiting on it', async () => {
  const { chain, setFull } = setup();
  setFull(true);
  await orderAll(chain, ['a', 'b', 'c']);
  await until(() => chain.stalled() !== undefined, 'the chain to stall');
  await chain.halt();
  await assert.rejects(chain.waitReady(), /halted/);
});
