import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockCutter, messageSizeBytes } from '../../../src/blockcutter/index.js';
import { ManualClock } from '../../../src/clock.js';
import type { BatchSize } from '../../../src/channelconfig/types.js';
import { common } from '../../../src/protos/index.js';
import { makeEnvelope, sizedEnvelope, txIdOf } from '../../support/solo.js';

const BASE: BatchSize = { maxMessageCount: 3, absoluteMaxBytes: 1000, preferredMaxBytes: 100 };

type Step =
  | {
      order: [id: string, size: number];
      batchSize?: Partial<BatchSize>;
      batches: string[][];
      pending: boolean;
    }
  | { cut: true; batch: string[] };

interface Case {
  name: string;
  steps: Step[];
}

// spec §3.1-3.2; the expectations are Fabric's blockcutter.go results for the same inputs.
const cases: Case[] = [
  {
    name: 'below the preferred size stays pending',
    steps: [{ order: ['a', 10], batches: [], pending: true }],
  },
  {
    name: 'exactly the preferred size in total does not cut',
    steps: [
      { order: ['a', 50], batches: [], pending: true },
      { order: ['b', 50], batches: [], pending: true },
      { cut: true, batch: ['a', 'b'] },
    ],
  },
  {
    name: 'a single message of exactly the preferred size is not oversized',
    steps: [{ order: ['a', 100], batches: [], pending: true }],
  },
  {
    name: 'overflowing the preferred size cuts the pending batch first',
    steps: [
      { order: ['a', 50], batches: [], pending: true },
      { order: ['b', 50], batches: [], pending: true },
      { order: ['c', 1], batches: [['a', 'b']], pending: true },
      { cut: true, batch: ['c'] },
    ],
  },
  {
    name: 'an oversized message with nothing pending is a batch of its own',
    steps: [
      { order: ['big', 101], batches: [['big']], pending: false },
      { cut: true, batch: [] },
    ],
  },
  {
    name: 'an oversized message with pending messages: pending first, then it alone (two batches)',
    steps: [
      { order: ['a', 10], batches: [], pending: true },
      { order: ['big', 500], batches: [['a'], ['big']], pending: false },
      { cut: true, batch: [] },
    ],
  },
  {
    name: 'MaxMessageCount cuts when reached',
    steps: [
      { order: ['a', 1], batches: [], pending: true },
      { order: ['b', 1], batches: [], pending: true },
      { order: ['c', 1], batches: [['a', 'b', 'c']], pending: false },
      { order: ['d', 1], batches: [], pending: true },
    ],
  },
  {
    name: 'MaxMessageCount of 1 cuts every message',
    steps: [
      { order: ['a', 1], batchSize: { maxMessageCount: 1 }, batches: [['a']], pending: false },
      { order: ['b', 1], batchSize: { maxMessageCount: 1 }, batches: [['b']], pending: false },
    ],
  },
  {
    name: 'overflow and count limit in one call give two batches',
    steps: [
      { order: ['a', 60], batches: [], pending: true },
      { order: ['b', 50], batchSize: { maxMessageCount: 1 }, batches: [['a'], ['b']], pending: false },
    ],
  },
  {
    name: 'a lowered MaxMessageCount applies on the next call',
    steps: [
      { order: ['a', 1], batches: [], pending: true },
      { order: ['b', 1], batches: [], pending: true },
      { order: ['c', 1], batchSize: { maxMessageCount: 2 }, batches: [['a', 'b', 'c']], pending: false },
    ],
  },
  {
    name: 'a lowered PreferredMaxBytes applies on the next call',
    steps: [
      { order: ['a', 50], batches: [], pending: true },
      { order: ['b', 10], batchSize: { preferredMaxBytes: 40 }, batches: [['a']], pending: true },
      { order: ['c', 41], batchSize: { preferredMaxBytes: 40 }, batches: [['b'], ['c']], pending: false },
    ],
  },
  {
    name: 'a raised PreferredMaxBytes lets a formerly oversized message batch normally',
    steps: [
      { order: ['a', 150], batchSize: { preferredMaxBytes: 200 }, batches: [], pending: true },
      { order: ['b', 50], batchSize: { preferredMaxBytes: 200 }, batches: [], pending: true },
      { order: ['c', 1], batchSize: { preferredMaxBytes: 200 }, batches: [['a', 'b']], pending: true },
    ],
  },
  {
    name: 'cut returns and clears the pending batch; a second cut is empty',
    steps: [
      { order: ['a', 1], batches: [], pending: true },
      { cut: true, batch: ['a'] },
      { cut: true, batch: [] },
      { order: ['b', 99], batches: [], pending: true },
      { order: ['c', 1], batches: [], pending: true },
      { cut: true, batch: ['b', 'c'] },
    ],
  },
];

for (const c of cases) {
  test(`block cutter: ${c.name}`, () => {
    let current: BatchSize = BASE;
    const cutter = new BlockCutter({ batchSize: () => current });
    c.steps.forEach((step, i) => {
      if ('cut' in step) {
        assert.deepEqual(cutter.cut().map(txIdOf), step.batch, `step ${i}: cut`);
        return;
      }
      current = { ...BASE, ...step.batchSize };
      const [id, size] = step.order;
      const result = cutter.ordered(sizedEnvelope(id, size));
      assert.deepEqual(
        result.batches.map((b) => b.map(txIdOf)),
        step.batches,
        `step ${i}: batches after ordering ${id}`,
      );
      assert.equal(result.pending, step.pending, `step ${i}: pending after ordering ${id}`);
    });
  });
}

test('block cutter: message size is len(payload) + len(signature) of the envelope, not its marshalled size', () => {
  // A real envelope, decoded as the orderer decodes what it receives; the sizes are read back from
  // its wire bytes independently (Fabric's messageSizeBytes: len(Payload) + len(Signature)).
  const env = makeEnvelope('a', { dataBytes: 300 });
  const wire = common.Envelope.decode(env.raw);
  const size = wire.payload.length + wire.signature.length;
  assert.equal(messageSizeBytes(env), size);
  assert.ok(env.raw.length > size, 'the marshalled envelope also holds field tags and lengths');

  // And the cutter judges by that size: exactly preferredMaxBytes is not oversized, one byte less is.
  const exact = new BlockCutter({ batchSize: () => ({ ...BASE, preferredMaxBytes: size }) });
  assert.deepEqual(exact.ordered(env), { batches: [], pending: true });
  const smaller = new BlockCutter({ batchSize: () => ({ ...BASE, preferredMaxBytes: size - 1 }) });
  const { batches, pending } = smaller.ordered(env);
  assert.deepEqual([batches.map((b) => b.map(txIdOf)), pending], [[['a']], false]);
});

test('block cutter: block fill duration runs from the first pending message to the cut', () => {
  const clock = new ManualClock();
  const observed: number[] = [];
  const cutter = new BlockCutter(
    { batchSize: () => BASE },
    { clock, observeBlockFillDuration: (s) => observed.push(s) },
  );
  cutter.ordered(sizedEnvelope('a', 1));
  clock.advance(250);
  cutter.ordered(sizedEnvelope('b', 1));
  clock.advance(250);
  cutter.ordered(sizedEnvelope('c', 1)); // count cut
  assert.deepEqual(observed, [0.5]);

  cutter.ordered(sizedEnvelope('d', 60));
  clock.advance(100);
  cutter.ordered(sizedEnvelope('e', 60)); // overflow: d cut after 0.1 s; e starts a new fill now
  clock.advance(300);
  assert.deepEqual(cutter.cut().map(txIdOf), ['e']);
  cutter.ordered(sizedEnvelope('big', 101)); // an oversized batch took no time to fill
  assert.deepEqual(observed, [0.5, 0.1, 0.3, 0]);

  assert.deepEqual(cutter.cut(), []);
  assert.equal(observed.length, 4, 'an empty cut observes nothing');
});
