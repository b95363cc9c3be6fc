// The solo loop's Fabric semantics (spec §3.3), without a WAL, driven by a ManualClock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../../src/clock.js';
import { OrdererError } from '../../../../src/errors.js';
import { SoloConsenter, type SoloChain } from '../../../../src/consensus/solo/index.js';
import {
  FakeConsenterSupport,
  capturingLogger,
  deferred,
  makeEnvelope,
  type FakeSupportOptions,
} from '../../../support/solo.js';

const TIMEOUT = 2000;

function setup(options: FakeSupportOptions = {}) {
  const clock = new ManualClock();
  const { logger, lines } = capturingLogger();
  const support = new FakeConsenterSupport({ clock, logger, batchTimeoutMs: TIMEOUT, ...options });
  const chain = new SoloConsenter().handleChain(support, undefined);
  chain.start();
  return { clock, support, chain, lines };
}

async function orderAll(chain: SoloChain, ids: string[], configSeq = 0): Promise<void> {
  for (const id of ids) await chain.order(makeEnvelope(id), configSeq);
  await chain.whenIdle();
}

async function advance(clock: ManualClock, chain: SoloChain, ms: number): Promise<void> {
  clock.advance(ms);
  await chain.whenIdle();
}

test('solo: the first pending message starts the batch timer; a timeout cuts the batch', async () => {
  const { clock, support, chain } = setup();
  await orderAll(chain, ['a']);
  assert.equal(clock.pendingTimers, 1);
  assert.deepEqual(support.txIds, []);
  await advance(clock, chain, TIMEOUT - 1);
  assert.deepEqual(support.txIds, []);
  await advance(clock, chain, 1);
  assert.deepEqual(support.txIds, [['a']]);
  assert.equal(clock.pendingTimers, 0);
  assert.equal(support.blocks[0]!.kind, 'normal');
  assert.equal(support.blocks[0]!.consenterMetadata, undefined, 'solo blocks carry no consenter metadata');
});

test('solo: a running batch timer is not reset by later messages', async () => {
  const { clock, support, chain } = setup();
  await orderAll(chain, ['a']);
  await advance(clock, chain, 1500);
  await orderAll(chain, ['b']);
  assert.equal(clock.pendingTimers, 1);
  await advance(clock, chain, 500); // 2000 ms after a, 500 after b
  assert.deepEqual(support.txIds, [['a', 'b']]);
});

test('solo: MaxMessageCount cuts at once and stops the timer', async () => {
  const { clock, support, chain } = setup();
  await orderAll(chain, ['a', 'b']);
  assert.equal(clock.pendingTimers, 1);
  await orderAll(chain, ['c']);
  assert.deepEqual(support.txIds, [['a', 'b', 'c']]);
  assert.equal(clock.pendingTimers, 0);
  await advance(clock, chain, 10 * TIMEOUT);
  assert.deepEqual(support.txIds, [['a', 'b', 'c']], 'no empty block afterwards');
  await orderAll(chain, ['d']);
  assert.equal(clock.pendingTimers, 1, 'the next pending message starts a new timer');
});

test('solo: the batch timeout is read from the current config when the timer starts', async () => {
  const { clock, support, chain } = setup();
  support.config = { ...support.config, batchTimeoutMs: 50 };
  await orderAll(chain, ['a']);
  await advance(clock, chain, 50);
  assert.deepEqual(support.txIds, [['a']]);
});

test('solo: a timer that fires after its batch was cut makes no block', async () => {
  const { clock, support, chain } = setup({ sequence: 1 });
  await orderAll(chain, ['a'], 1);
  const gate = deferred();
  support.validateNormal = () => gate.promise;
  const b = chain.order(makeEnvelope('b'), 0); // stale: held in re-validation
  await b;
  const c = chain.order(makeEnvelope('c'), 1);
  await c;
  clock.advance(TIMEOUT); // fires while b is being re-validated; queued behind c
  gate.resolve();
  await chain.whenIdle();
  assert.deepEqual(
    support.txIds,
    [['a', 'b', 'c']],
    'c completed the batch; the stale timer event cut nothing',
  );
  assert.equal(clock.pendingTimers, 0);
});

test('solo: a timer expiring with nothing pending writes no block and warns', async () => {
  const { clock, support, chain, lines } = setup();
  await orderAll(chain, ['a']);
  support.blockCutter.cut(); // emptied behind the chain's back
  await advance(clock, chain, TIMEOUT);
  assert.deepEqual(support.txIds, []);
  assert.ok(lines.some((l) => l.level === 40 && /Batch timer expired with no pending requests/.test(l.msg)));
});

test('solo: a config message cuts the pending batch first, then a block with only the config envelope', async () => {
  const { clock, support, chain } = setup();
  await orderAll(chain, ['a', 'b']);
  await chain.configure(makeEnvelope('config-1', { type: 1 }), 0);
  await chain.whenIdle();
  assert.deepEqual(support.txIds, [['a', 'b'], ['config-1']]);
  assert.deepEqual(
    support.blocks.map((b) => b.kind),
    ['normal', 'config'],
  );
  assert.equal(clock.pendingTimers, 0, 'nothing pending, no timer');
  assert.equal(support.seq, 1);
});

test('solo: a config message with nothing pending writes only the config block', async () => {
  const { support, chain } = setup();
  await chain.configure(makeEnvelope('config-1', { type: 1 }), 0);
  await chain.whenIdle();
  assert.deepEqual(support.txIds, [['config-1']]);
});

test('solo: a normal message validated at a stale configSeq is re-validated', async (t) => {
  const cases = [
    { name: 'still valid: kept', valid: true, configSeq: 1, expectValidations: 1, expect: [['a', 'm', 'z']] },
    {
      name: 'now invalid: dropped with a warning',
      valid: false,
      configSeq: 1,
      expectValidations: 1,
      expect: [],
    },
    {
      name: 'current configSeq: not re-validated',
      valid: false,
      configSeq: 2,
      expectValidations: 0,
      expect: [['a', 'm', 'z']],
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const { clock, support, chain, lines } = setup({ sequence: 2 });
      support.validateNormal = () => {
        if (!c.valid) throw new Error('creator is no longer a writer');
      };
      await orderAll(chain, ['a'], 2);
      await orderAll(chain, ['m'], c.configSeq);
      await orderAll(chain, ['z'], 2);
      await advance(clock, chain, TIMEOUT);
      assert.equal(support.normalValidations, c.expectValidations);
      const expected = c.expect.length ? c.expect : [['a', 'z']];
      assert.deepEqual(support.txIds, expected);
      const warned = lines.some((l) => l.level === 40 && /Discarding bad normal message/.test(l.msg));
      assert.equal(warned, !c.valid && c.configSeq < 2);
    });
  }
});

test('solo: a config message at a stale configSeq is re-processed; invalid ones are dropped', async () => {
  const { support, chain, lines } = setup({ sequence: 1 });
  support.reprocessConfig = () => makeEnvelope('config-rewrapped', { type: 1 });
  await chain.configure(makeEnvelope('config-original', { type: 1 }), 0);
  await chain.whenIdle();
  assert.deepEqual(support.txIds, [['config-rewrapped']]);

  support.reprocessConfig = () => {
    throw new Error('config update no longer applies');
  };
  await orderAll(chain, ['a']);
  await chain.configure(makeEnvelope('config-stale', { type: 1 }), 0);
  await chain.whenIdle();
  assert.deepEqual(support.txIds, [['config-rewrapped']], 'dropped before cutting: a stays pending');
  assert.equal(support.blockCutter.pendingCount, 1);
  assert.ok(lines.some((l) => l.level === 40 && /Discarding bad config message/.test(l.msg)));
});

test('solo: blocks are written one at a time; messages arriving meanwhile queue in order', async () => {
  const { support, chain } = setup();
  const gate = deferred();
  support.beforeWrite = (n) => (n === 0 ? gate.promise : undefined);
  for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) await chain.order(makeEnvelope(id), 0);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(support.txIds, [], 'block 0 still being written');
  assert.equal(support.writesInFlight, 1);
  gate.resolve();
  await chain.whenIdle();
  assert.deepEqual(support.txIds, [
    ['a', 'b', 'c'],
    ['d', 'e', 'f'],
  ]);
  assert.equal(support.maxWritesInFlight, 1);
  assert.equal(support.blockCutter.pendingCount, 1);
});

test('solo: readiness, halt and errored', async () => {
  const { clock, support, chain } = setup();
  await chain.waitReady();
  assert.equal(chain.errored(), undefined);
  await orderAll(chain, ['a']);
  await chain.halt();
  assert.equal(clock.pendingTimers, 0, 'halt stops the batch timer');

  for (const attempt of [
    () => chain.order(makeEnvelope('b'), 0),
    () => chain.configure(makeEnvelope('c', { type: 1 }), 0),
    () => chain.waitReady(),
  ]) {
    await assert.rejects(attempt(), (err: unknown) => {
      assert.ok(err instanceof OrdererError);
      assert.equal(err.kind, 'unavailable');
      assert.match(err.message, /solo chain for channel testchannel is halted/);
      return true;
    });
  }
  assert.ok(chain.errored() instanceof OrdererError);
  assert.deepEqual(support.txIds, []);
  await chain.halt(); // idempotent
});

test('solo: a chain that was never started refuses messages', async () => {
  const support = new FakeConsenterSupport();
  const chain = new SoloConsenter().handleChain(support, undefined);
  await assert.rejects(chain.order(makeEnvelope('a'), 0), (err: unknown) => {
    assert.ok(err instanceof OrdererError && err.kind === 'unavailable');
    assert.match(err.message, /has not been started/);
    return true;
  });
});

test('solo: a failed block write stops the chain with an unavailable error', async () => {
  const { support, chain } = setup();
  support.beforeWrite = () => {
    throw new Error('disk full');
  };
  await orderAll(chain, ['a', 'b', 'c']);
  const err = chain.errored();
  assert.ok(err instanceof OrdererError && err.kind === 'unavailable');
  assert.match(err.message, /could not write normal block 0: disk full/);
  await assert.rejects(chain.order(makeEnvelope('d'), 0), /could not write normal block 0/);
  await chain.halt();
});
