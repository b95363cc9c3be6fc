// SoloCore event by event: Fabric's solo loop (orderer/consensus/solo/consensus.go main()) plus the
// write-ahead log's needs (BATCH seqs, compaction between messages) and the disk-full stall. Each
// case is a script of events with the effects each must produce, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockCutter } from '../../../../src/blockcutter/index.js';
import type { BatchSize } from '../../../../src/channelconfig/types.js';
import { OrdererError } from '../../../../src/errors.js';
import type { BlockCutterLike, ReceivedEnvelope } from '../../../../src/consensus/types.js';
import {
  SoloCore,
  type SoloContext,
  type SoloEffect,
  type SoloEvent,
} from '../../../../src/consensus/solo/core.js';
import { makeEnvelope } from '../../../support/solo.js';

const CTX: SoloContext = { sequence: 0, batchTimeoutMs: 2000, wal: undefined };

function newCore(batch: Partial<BatchSize> = {}, cutter?: BlockCutterLike) {
  const batchSize: BatchSize = {
    maxMessageCount: 3,
    absoluteMaxBytes: 1 << 20,
    preferredMaxBytes: 1 << 19,
    ...batch,
  };
  return new SoloCore(
    { channelId: 'testchannel', compactThresholdBytes: 1000, retryMinMs: 200, retryMaxMs: 10_000 },
    { blockCutter: cutter ?? new BlockCutter({ batchSize: () => batchSize }) },
  );
}

const envelopes = new Map<string, ReceivedEnvelope>();
/** The same envelope object for the same id, as the chain hands the cutter what it received. */
function env(id: string, options: { type?: number; dataBytes?: number } = {}): ReceivedEnvelope {
  let e = envelopes.get(id);
  if (!e) envelopes.set(id, (e = makeEnvelope(id, options)));
  return e;
}

let nextSeq = 1;
function durable(id: string, configSeq = 0, seq = nextSeq++): SoloEvent {
  return { type: 'envelope-durable', kind: 'normal', seq, env: env(id), configSeq };
}
function durableConfig(id: string, configSeq = 0, seq = nextSeq++): SoloEvent {
  return { type: 'envelope-durable', kind: 'config', seq, env: env(id, { type: 1 }), configSeq };
}

const written: SoloEvent = { type: 'block-written' };
const diskFull = (): SoloEvent => ({
  type: 'block-write-failed',
  error: Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }),
  diskFullCode: 'ENOSPC',
});

/** Effects with envelopes replaced by their tx IDs, for readable comparisons. */
function summary(effects: readonly SoloEffect[]): unknown[] {
  return effects.map((e) => {
    switch (e.type) {
      case 'write-block':
        return `write ${e.kind} [${e.batch.map((b) => b.channelHeader.txId).join(' ')}] seqs ${e.firstSeq}-${e.lastSeq}`;
      case 'revalidate':
        return `revalidate ${e.kind} ${e.env.channelHeader.txId}`;
      case 'discard':
        return `discard ${e.kind}`;
      case 'arm-timer':
        return `arm-timer #${e.generation} ${e.timeoutMs}ms`;
      case 'arm-retry-timer':
        return `arm-retry-timer ${e.delayMs}ms`;
      case 'stall':
        return `stall ${e.diskFullCode}${e.newly ? ' (newly)' : ''}`;
      case 'fail':
        return `fail: ${e.error.message}`;
      default:
        return e.type;
    }
  });
}

interface Beat {
  readonly event: SoloEvent;
  readonly ctx?: Partial<SoloContext>;
  readonly expect: readonly string[];
}

function play(core: SoloCore, beats: readonly Beat[]): void {
  beats.forEach((beat, i) => {
    const effects = core.step(beat.event, { ...CTX, ...beat.ctx });
    assert.deepEqual(summary(effects), beat.expect, `beat ${i} (${beat.event.type})`);
  });
}

const cases: {
  name: string;
  batch?: Partial<BatchSize>;
  beats: () => Beat[];
  after?: (core: SoloCore) => void;
}[] = [
  {
    name: 'the first pending message arms the timer with the current BatchTimeout; its expiry cuts the batch',
    beats: () => [
      { event: durable('a', 0, 1), ctx: { batchTimeoutMs: 50 }, expect: ['arm-timer #1 50ms'] },
      { event: durable('b', 0, 2), expect: [] },
      { event: { type: 'timer-fired', generation: 1 }, expect: ['write normal [a b] seqs 1-2'] },
      { event: written, expect: [] },
    ],
    after: (core) => {
      assert.equal(core.isTimerArmed, false);
      assert.equal(core.busy, false);
    },
  },
  {
    name: 'MaxMessageCount cuts at once; the timer is cancelled once the block is written',
    beats: () => [
      { event: durable('a', 0, 1), expect: ['arm-timer #1 2000ms'] },
      { event: durable('b', 0, 2), expect: [] },
      { event: durable('c', 0, 3), expect: ['write normal [a b c] seqs 1-3'] },
      { event: written, expect: ['cancel-timer'] },
      { event: durable('d', 0, 4), expect: ['arm-timer #3 2000ms'] },
    ],
  },
  {
    name: 'a timer that fires after its batch was cut makes no block (it queued behind the message that cut)',
    beats: () => [
      { event: durable('a', 0, 1), expect: ['arm-timer #1 2000ms'] },
      { event: durable('b', 0, 2), ctx: { sequence: 1 }, expect: ['revalidate normal b'] },
      { event: durable('c', 1, 3), ctx: { sequence: 1 }, expect: [] },
      { event: { type: 'timer-fired', generation: 1 }, ctx: { sequence: 1 }, expect: [] },
      {
        event: { type: 'revalidated', ok: true, env: env('b') },
        ctx: { sequence: 1 },
        expect: ['write normal [a b c] seqs 1-3'],
      },
      { event: written, ctx: { sequence: 1 }, expect: ['cancel-timer'] },
    ],
    after: (core) => assert.equal(core.busy, false),
  },
  {
    name: 'a timer expiring with nothing pending writes no block',
    beats: () => [{ event: { type: 'timer-fired', generation: 0 }, expect: [] }],
  },
  {
    name: 'a config message cuts the pending batch first, then a block with only the config envelope',
    beats: () => [
      { event: durable('a', 0, 1), expect: ['arm-timer #1 2000ms'] },
      { event: durable('b', 0, 2), expect: [] },
      { event: durableConfig('config-1', 0, 3), expect: ['write normal [a b] seqs 1-2'] },
      { event: durable('c', 0, 4), expect: [] },
      { event: written, expect: ['write config [config-1] seqs 3-3'] },
      // c is handled under the config the block made current.
      { event: written, ctx: { sequence: 1 }, expect: ['cancel-timer', 'revalidate normal c'] },
    ],
  },
  {
    name: 'a config message with nothing pending writes only the config block',
    beats: () => [
      { event: durableConfig('config-1', 0, 1), expect: ['write config [config-1] seqs 1-1'] },
      { event: written, expect: ['cancel-timer'] },
    ],
  },
  {
    name: 'a stale normal message still valid is cut; one no longer valid is discarded',
    beats: () => [
      { event: durable('a', 2, 1), ctx: { sequence: 2 }, expect: ['arm-timer #1 2000ms'] },
      { event: durable('m', 1, 2), ctx: { sequence: 2 }, expect: ['revalidate normal m'] },
      { event: { type: 'revalidated', ok: true, env: env('m') }, ctx: { sequence: 2 }, expect: [] },
      { event: durable('x', 1, 3), ctx: { sequence: 2 }, expect: ['revalidate normal x'] },
      { event: durable('z', 2, 4), ctx: { sequence: 2 }, expect: [] },
      {
        event: { type: 'revalidated', ok: false, cause: new Error('creator is no longer a writer') },
        ctx: { sequence: 2 },
        expect: ['discard normal', 'write normal [a m z] seqs 1-4'],
      },
    ],
  },
  {
    name: 'a stale config message is written as re-processed; an invalid one is dropped before cutting',
    beats: () => [
      {
        event: durableConfig('config-original', 0, 1),
        ctx: { sequence: 1 },
        expect: ['revalidate config config-original'],
      },
      {
        event: { type: 'revalidated', ok: true, env: env('config-rewrapped', { type: 1 }) },
        ctx: { sequence: 1 },
        expect: ['write config [config-rewrapped] seqs 1-1'],
      },
      { event: written, ctx: { sequence: 2 }, expect: ['cancel-timer'] },
      { event: durable('a', 2, 2), ctx: { sequence: 2 }, expect: ['arm-timer #2 2000ms'] },
      {
        event: durableConfig('config-stale', 1, 3),
        ctx: { sequence: 2 },
        expect: ['revalidate config config-stale'],
      },
      {
        event: { type: 'revalidated', ok: false, cause: new Error('config update no longer applies') },
        ctx: { sequence: 2 },
        expect: ['discard config'],
      },
    ],
    after: (core) => assert.equal(core.isTimerArmed, true, 'a stays pending'),
  },
  {
    name: 'blocks are written one at a time; messages arriving meanwhile queue in order',
    beats: () => [
      { event: durable('a', 0, 1), expect: ['arm-timer #1 2000ms'] },
      { event: durable('b', 0, 2), expect: [] },
      { event: durable('c', 0, 3), expect: ['write normal [a b c] seqs 1-3'] },
      { event: durable('d', 0, 4), expect: [] },
      { event: durable('e', 0, 5), expect: [] },
      { event: durable('f', 0, 6), expect: [] },
      { event: durable('g', 0, 7), expect: [] },
      { event: written, expect: ['cancel-timer', 'arm-timer #3 2000ms', 'write normal [d e f] seqs 4-6'] },
      { event: written, expect: ['cancel-timer', 'arm-timer #5 2000ms'] },
    ],
  },
  {
    name: 'a message larger than PreferredMaxBytes cuts the pending batch and then goes alone',
    batch: { preferredMaxBytes: 200 },
    beats: () => [
      { event: durable('a', 0, 1), expect: ['arm-timer #1 2000ms'] },
      {
        event: {
          type: 'envelope-durable',
          kind: 'normal',
          seq: 2,
          env: env('big', { dataBytes: 500 }),
          configSeq: 0,
        },
        expect: ['write normal [a] seqs 1-1'],
      },
      { event: written, expect: ['write normal [big] seqs 2-2'] },
      { event: written, expect: ['cancel-timer'] },
    ],
  },
  {
    name: 'a full disk stalls; the same block is retried with doubling backoff, capped, and resumes',
    beats: () => [
      { event: durable('a', 0, 1), expect: ['arm-timer #1 2000ms'] },
      { event: durable('b', 0, 2), expect: [] },
      { event: durable('c', 0, 3), expect: ['write normal [a b c] seqs 1-3'] },
      { event: durable('d', 0, 4), expect: [] },
      { event: diskFull(), expect: ['stall ENOSPC (newly)', 'arm-retry-timer 200ms'] },
      { event: { type: 'retry-timer-fired' }, expect: ['write normal [a b c] seqs 1-3'] },
      { event: diskFull(), expect: ['stall ENOSPC', 'arm-retry-timer 400ms'] },
      ...[800, 1600, 3200, 6400, 10_000, 10_000].flatMap((ms): Beat[] => [
        { event: { type: 'retry-timer-fired' }, expect: ['write normal [a b c] seqs 1-3'] },
        { event: diskFull(), expect: ['stall ENOSPC', `arm-retry-timer ${ms}ms`] },
      ]),
      { event: { type: 'retry-timer-fired' }, expect: ['write normal [a b c] seqs 1-3'] },
      { event: written, expect: ['resume', 'cancel-timer', 'arm-timer #3 2000ms'] },
    ],
    after: (core) => assert.equal(core.isStalled, false),
  },
  {
    name: 'a request re-checks a stalled write at once; nothing while an attempt runs or when not stalled',
    beats: () => [
      { event: { type: 'retry-requested' }, expect: [] },
      { event: durableConfig('config-1', 0, 1), expect: ['write config [config-1] seqs 1-1'] },
      { event: { type: 'retry-requested' }, expect: [] },
      { event: diskFull(), expect: ['stall ENOSPC (newly)', 'arm-retry-timer 200ms'] },
      {
        event: { type: 'retry-requested' },
        expect: ['cancel-retry-timer', 'write config [config-1] seqs 1-1'],
      },
      { event: { type: 'retry-requested' }, expect: [] },
      { event: { type: 'retry-timer-fired' }, expect: [] },
      { event: diskFull(), expect: ['stall ENOSPC', 'arm-retry-timer 400ms'] },
      {
        event: { type: 'retry-requested' },
        expect: ['cancel-retry-timer', 'write config [config-1] seqs 1-1'],
      },
      { event: written, expect: ['resume', 'cancel-timer'] },
      // The next stall starts the backoff from the beginning.
      { event: durableConfig('config-2', 0, 2), expect: ['write config [config-2] seqs 2-2'] },
      { event: diskFull(), expect: ['stall ENOSPC (newly)', 'arm-retry-timer 200ms'] },
    ],
  },
  {
    name: 'a block write failing for another reason stops the chain; later events do nothing',
    beats: () => [
      { event: durableConfig('config-1', 0, 1), expect: ['write config [config-1] seqs 1-1'] },
      { event: durable('a', 0, 2), expect: [] },
      {
        event: { type: 'block-write-failed', error: new Error('could not write config block 0: EIO') },
        expect: ['fail: could not write config block 0: EIO'],
      },
      { event: durable('b', 0, 3), expect: [] },
      { event: written, expect: [] },
      { event: { type: 'stop' }, expect: [] },
    ],
    after: (core) => assert.equal(core.busy, false),
  },
  {
    name: 'stop cancels the batch timer and a stall retry; the queue is left to the WAL',
    beats: () => [
      { event: durable('a', 0, 1), expect: ['arm-timer #1 2000ms'] },
      { event: durableConfig('config-1', 0, 2), expect: ['write normal [a] seqs 1-1'] },
      { event: diskFull(), expect: ['stall ENOSPC (newly)', 'arm-retry-timer 200ms'] },
      { event: durable('b', 0, 3), expect: [] },
      { event: { type: 'stop' }, expect: ['cancel-timer', 'cancel-retry-timer'] },
      { event: { type: 'retry-timer-fired' }, expect: [] },
      { event: { type: 'timer-fired', generation: 1 }, expect: [] },
    ],
    after: (core) => {
      assert.equal(core.busy, false);
      assert.deepEqual(
        core.unsettledRecords().map((r) => r.seq),
        [3],
        'only b was still queued: config-1 was being handled (its pending batch being written)',
      );
    },
  },
];

for (const c of cases) {
  test(`solo core: ${c.name}`, () => {
    const core = newCore(c.batch);
    play(core, c.beats());
    c.after?.(core);
  });
}

test('solo core: compaction runs between messages once the WAL is over the threshold and twice its last compacted size', () => {
  const core = newCore();
  const small = { wal: { sizeBytes: 999, compactedBytes: 0 } };
  const big = { wal: { sizeBytes: 1000, compactedBytes: 0 } };
  play(core, [
    { event: durable('a', 0, 1), ctx: small, expect: ['arm-timer #1 2000ms'] },
    { event: durable('b', 0, 2), ctx: small, expect: [] },
    // Over the threshold, but not while the block of c is being written.
    { event: durable('c', 0, 3), ctx: big, expect: ['write normal [a b c] seqs 1-3'] },
    { event: durable('d', 0, 4), ctx: big, expect: [] },
    { event: durable('e', 0, 5), ctx: big, expect: [] },
    { event: written, ctx: big, expect: ['cancel-timer', 'compact'] },
  ]);
  assert.deepEqual(
    core.unsettledRecords().map((r) => [r.seq, r.kind, r.raw === env(`${'de'[r.seq - 4]}`).raw]),
    [
      [4, 'normal', true],
      [5, 'normal', true],
    ],
  );
  assert.equal(core.busy, true, 'd and e wait behind the compaction');
  play(core, [
    { event: durable('f', 0, 6), ctx: big, expect: [] },
    // The log was compacted to 600 bytes; 1100 is not twice that, so d, e and f are handled.
    {
      event: { type: 'compacted' },
      ctx: { wal: { sizeBytes: 1100, compactedBytes: 600 } },
      expect: ['arm-timer #3 2000ms', 'write normal [d e f] seqs 4-6'],
    },
    {
      event: written,
      ctx: { wal: { sizeBytes: 1200, compactedBytes: 600 } },
      expect: ['cancel-timer', 'compact'],
    },
  ]);
  assert.deepEqual(core.unsettledRecords(), []);
});

test('solo core: without a WAL nothing is compacted', () => {
  const core = newCore({ maxMessageCount: 1 });
  play(core, [
    { event: durable('a', 0, 1), expect: ['write normal [a] seqs 1-1'] },
    { event: written, expect: [] },
  ]);
});

test('solo core: unsettled records are those in the block cutter, then those queued, in order', () => {
  const core = newCore({ maxMessageCount: 2 });
  play(core, [
    { event: durable('a', 0, 1), expect: ['arm-timer #1 2000ms'] },
    { event: durable('b', 0, 2), expect: ['write normal [a b] seqs 1-2'] },
    { event: durable('c', 0, 3), expect: [] },
    { event: written, expect: ['cancel-timer', 'arm-timer #3 2000ms'] },
    { event: durableConfig('config-1', 0, 4), expect: ['write normal [c] seqs 3-3'] },
    { event: durable('d', 0, 5), expect: [] },
  ]);
  assert.deepEqual(
    core.unsettledRecords().map((r) => `${r.seq} ${r.kind}`),
    ['5 normal'],
    'c is being written, config-1 is being handled: neither needs the log after a crash once written',
  );
});

test('solo core: a block cutter that returns messages out of arrival order stops the chain', () => {
  const a = env('a');
  const b = env('b');
  const cutter: BlockCutterLike = {
    ordered: (e) => (e === b ? { batches: [[b, a]], pending: false } : { batches: [], pending: true }),
    cut: () => [],
  };
  const core = newCore({}, cutter);
  play(core, [
    { event: durable('a', 0, 1), expect: ['arm-timer #1 2000ms'] },
    {
      event: durable('b', 0, 2),
      expect: [
        'cancel-timer',
        'fail: solo chain for channel testchannel: the block cutter returned messages out of arrival order; ' +
          'the write-ahead log cannot track them, restart the orderer to re-order them from the log',
      ],
    },
  ]);
  assert.equal(core.busy, false);
});

test('solo core: a block cutter that throws stops the chain with an internal error naming the channel', () => {
  const cutter: BlockCutterLike = {
    ordered: () => {
      throw new Error('batch size config missing');
    },
    cut: () => [],
  };
  const core = newCore({}, cutter);
  const effects = core.step(durable('a', 0, 1), CTX);
  assert.equal(effects.length, 1);
  const fail = effects[0]!;
  assert.equal(fail.type, 'fail');
  assert.ok(fail.type === 'fail' && fail.error instanceof OrdererError && fail.error.kind === 'internal');
  assert.match(fail.error.message, /solo chain for channel testchannel failed: batch size config missing/);
});

test('solo core: same events, same effects (deterministic)', () => {
  const script = (): Beat[] => [
    { event: durable('a', 0, 1), expect: ['arm-timer #1 2000ms'] },
    { event: durableConfig('config-1', 0, 2), expect: ['write normal [a] seqs 1-1'] },
    { event: diskFull(), expect: ['stall ENOSPC (newly)', 'arm-retry-timer 200ms'] },
    { event: { type: 'retry-timer-fired' }, expect: ['write normal [a] seqs 1-1'] },
    { event: written, expect: ['resume', 'write config [config-1] seqs 2-2'] },
    { event: written, expect: ['cancel-timer'] },
  ];
  play(newCore(), script());
  play(newCore(), script());
});
