// SoloChain.onStatusChange: the chain tells its listeners when errored() starts reporting an error
// (a failed block write, a halt), so a STRICT Deliver waiting at the tip ends at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../../src/clock.js';
import { SoloConsenter } from '../../../../src/consensus/solo/index.js';
import { FakeConsenterSupport, capturingLogger, makeEnvelope } from '../../../support/solo.js';

function setup() {
  const clock = new ManualClock();
  const { logger } = capturingLogger();
  const support = new FakeConsenterSupport({ clock, logger, batchTimeoutMs: 2000 });
  const chain = new SoloConsenter().handleChain(support, undefined);
  chain.start();
  const seen: (string | undefined)[] = [];
  const stopListening = chain.onStatusChange(() => seen.push(chain.errored()?.message));
  return { support, chain, seen, stopListening };
}

test('solo: a failed block write is told to the listeners with errored() already set', async () => {
  const { support, chain, seen } = setup();
  support.beforeWrite = () => {
    throw new Error('disk full');
  };
  for (const id of ['a', 'b', 'c']) await chain.order(makeEnvelope(id), 0);
  await chain.whenIdle();
  assert.equal(seen.length, 1);
  assert.match(seen[0] ?? '', /could not write normal block 0: disk full/);
  await chain.halt();
  assert.equal(seen.length, 1, 'halting a failed chain changes nothing errored() says');
});

test('solo: halt is told to the listeners; a removed listener hears nothing', async () => {
  const first = setup();
  await first.chain.halt();
  assert.equal(first.seen.length, 1);
  assert.match(first.seen[0] ?? '', /is halted/);

  const second = setup();
  second.stopListening();
  await second.chain.halt();
  assert.deepEqual(second.seen, []);
});
