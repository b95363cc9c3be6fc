// KafkaCore against Fabric's rules (orderer/consensus/kafka/chain.go processRegular, processTimeToCut,
// processConnect and the batch timer), event by event. The properties over whole histories (several
// orderers, restarts, re-submissions) are in core-history.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockCutter } from '../../../../src/blockcutter/index.js';
import type { BatchSize } from '../../../../src/channelconfig/types.js';
import { decodeEnvelope } from '../../../../src/protoutil/index.js';
import { orderer as ordererProtos } from '../../../../src/protos/index.js';
import {
  KafkaCore,
  encodeConnect,
  encodeRegular,
  encodeTimeToCut,
  type CoreContext,
  type KafkaCoreState,
  type KafkaEffect,
} from '../../../../src/consensus/kafka/index.js';
import { makeEnvelope } from '../../../support/solo.js';

const CTX: CoreContext = { sequence: 0, resubmission: true, batchTimeoutMs: 2000 };
const FRESH: KafkaCoreState = {
  lastOffsetPersisted: -1,
  lastOriginalOffsetProcessed: 0,
  lastResubmittedConfigOffset: 0,
  lastCutBlockNumber: 0,
};

function newCore(state: Partial<KafkaCoreState> = {}, batch: Partial<BatchSize> = {}) {
  const batchSize: BatchSize = {
    maxMessageCount: 3,
    absoluteMaxBytes: 1 << 20,
    preferredMaxBytes: 1 << 19,
    ...batch,
  };
  const cutter = new BlockCutter({ batchSize: () => batchSize });
  return { core: new KafkaCore({ ...FRESH, ...state }, { blockCutter: cutter, decodeEnvelope }), cutter };
}

const normal = (id: string, configSeq = 0, originalOffset = 0, dataBytes = 16) =>
  encodeRegular('normal', makeEnvelope(id, { dataBytes }).raw, configSeq, originalOffset);
const config = (id: string, configSeq = 0, originalOffset = 0) =>
  encodeRegular('config', makeEnvelope(id, { type: 1 }).raw, configSeq, originalOffset);

/** Effects with envelopes replaced by their tx IDs, for readable comparisons. */
function summary(effects: KafkaEffect[]): unknown[] {
  return effects.map((e) => {
    switch (e.type) {
      case 'write-block':
        return { ...e, batch: e.batch.map((env) => env.channelHeader.txId) };
      case 'resubmit-normal':
      case 'resubmit-config':
        return { type: e.type, txId: e.env.channelHeader.txId, originalOffset: e.originalOffset };
      case 'validate':
        return {
          type: e.type,
          kind: e.kind,
          txId: e.env.channelHeader.txId,
          receivedOffset: e.receivedOffset,
        };
      case 'discard':
      case 'fatal':
        return { type: e.type, offset: e.offset };
      default:
        return e;
    }
  });
}

const meta = (
  lastOffsetPersisted: number,
  lastOriginalOffsetProcessed = 0,
  lastResubmittedConfigOffset = 0,
) => ({
  lastOffsetPersisted,
  lastOriginalOffsetProcessed,
  lastResubmittedConfigOffset,
});

test('CONNECT messages change nothing', () => {
  const { core } = newCore();
  assert.deepEqual(core.consumed(0, encodeConnect(), CTX), []);
  assert.deepEqual(core.state, FRESH);
});

test('undecodable messages are discarded, not fatal', () => {
  const { core } = newCore();
  assert.deepEqual(summary(core.consumed(4, Buffer.from([0xff, 0xff, 0xff]), CTX)), [
    { type: 'discard', offset: 4 },
  ]);
  const notAnEnvelope = encodeRegular('normal', Buffer.from([0x0a, 0x05, 0x01]), 0, 0);
  assert.deepEqual(summary(core.consumed(5, notAnEnvelope, CTX)), [{ type: 'discard', offset: 5 }]);
});

test('normal messages: the first pending one arms the timer, a full batch is cut with its offset', () => {
  const { core } = newCore({ lastCutBlockNumber: 4 });
  assert.deepEqual(summary(core.consumed(10, normal('a'), CTX)), [
    { type: 'arm-timer', generation: 1, timeoutMs: 2000 },
  ]);
  assert.deepEqual(summary(core.consumed(11, normal('b'), CTX)), [], 'a running timer is not reset');
  assert.deepEqual(summary(core.consumed(12, normal('c'), CTX)), [
    { type: 'cancel-timer' },
    { type: 'write-block', kind: 'normal', blockNumber: 5, batch: ['a', 'b', 'c'], metadata: meta(12) },
  ]);
  assert.equal(core.state.lastCutBlockNumber, 5);
  assert.equal(core.isTimerArmed, false);
});

test('normal messages: a batch cut because of size leaves the new message pending (offset - 1)', () => {
  const { core } = newCore({}, { preferredMaxBytes: 700, maxMessageCount: 100 });
  core.consumed(1, normal('a', 0, 0, 150), CTX);
  core.consumed(2, normal('b', 0, 0, 150), CTX);
  assert.deepEqual(summary(core.consumed(3, normal('c', 0, 0, 150), CTX)), [
    { type: 'write-block', kind: 'normal', blockNumber: 1, batch: ['a', 'b'], metadata: meta(2) },
  ]);
  assert.equal(core.isTimerArmed, true, 'the timer keeps running for the still pending message');
});

test('normal messages: an oversized message with a pending batch cuts two blocks', () => {
  const { core } = newCore({}, { preferredMaxBytes: 400, maxMessageCount: 100 });
  core.consumed(7, normal('small'), CTX);
  assert.deepEqual(summary(core.consumed(8, normal('big', 0, 0, 1000), CTX)), [
    { type: 'cancel-timer' },
    { type: 'write-block', kind: 'normal', blockNumber: 1, batch: ['small'], metadata: meta(7) },
    { type: 'write-block', kind: 'normal', blockNumber: 2, batch: ['big'], metadata: meta(8) },
  ]);
});

test('the batch timer posts TIME_TO_CUT for the next block instead of cutting locally', () => {
  const { core } = newCore({ lastCutBlockNumber: 2 });
  core.consumed(1, normal('a'), CTX);
  assert.deepEqual(core.timerFired(99), [], 'a stale generation is ignored');
  assert.deepEqual(core.timerFired(1), [{ type: 'post-time-to-cut', blockNumber: 3 }]);
  assert.deepEqual(core.timerFired(1), [], 'fires once');
  assert.equal(
    core.state.lastCutBlockNumber,
    2,
    'nothing cut before the TIME_TO_CUT comes back through Kafka',
  );
});

test('TIME_TO_CUT: right number cuts, stale is ignored, future is fatal, nothing pending is fatal', () => {
  const cases: { name: string; pending: string[]; ttc: number; expected: unknown[] }[] = [
    {
      name: 'right block number',
      pending: ['a', 'b'],
      ttc: 3,
      // Unlike Fabric's processTimeToCut, LastResubmittedConfigOffset is kept in this block's metadata.
      expected: [
        { type: 'cancel-timer' },
        { type: 'write-block', kind: 'normal', blockNumber: 3, batch: ['a', 'b'], metadata: meta(20, 1, 1) },
      ],
    },
    { name: 'stale', pending: ['a'], ttc: 2, expected: [{ type: 'discard', offset: 20 }] },
    { name: 'future', pending: ['a'], ttc: 4, expected: [{ type: 'fatal', offset: 20 }] },
    {
      name: 'nothing pending',
      pending: [],
      ttc: 3,
      expected: [{ type: 'cancel-timer' }, { type: 'fatal', offset: 20 }],
    },
  ];
  for (const c of cases) {
    const { core } = newCore({
      lastCutBlockNumber: 2,
      lastResubmittedConfigOffset: 1,
      lastOriginalOffsetProcessed: 1,
    });
    c.pending.forEach((id, i) => core.consumed(10 + i, normal(id), CTX));
    assert.deepEqual(summary(core.consumed(20, encodeTimeToCut(c.ttc), CTX)), c.expected, c.name);
  }
});

test('config messages: pending messages are cut first (offset - 1), then the config block alone', () => {
  const { core } = newCore({ lastCutBlockNumber: 1 });
  core.consumed(5, normal('a'), CTX);
  assert.deepEqual(summary(core.consumed(6, config('cfg'), CTX)), [
    { type: 'write-block', kind: 'normal', blockNumber: 2, batch: ['a'], metadata: meta(5) },
    { type: 'write-block', kind: 'config', blockNumber: 3, batch: ['cfg'], metadata: meta(6) },
    { type: 'cancel-timer' },
  ]);
  assert.deepEqual(summary(core.consumed(7, config('cfg2'), CTX)), [
    { type: 'write-block', kind: 'config', blockNumber: 4, batch: ['cfg2'], metadata: meta(7) },
  ]);
});

test('stale normal message: re-validate and re-submit with its offset as original offset, nothing cut', () => {
  const { core, cutter } = newCore();
  assert.deepEqual(summary(core.consumed(9, normal('old', 0), { ...CTX, sequence: 1 })), [
    { type: 'resubmit-normal', txId: 'old', originalOffset: 9 },
  ]);
  assert.equal(cutter.pendingCount, 0);
  assert.equal(core.isTimerArmed, false);
});

test('re-submitted normal message: committed once, advancing lastOriginalOffsetProcessed; copies discarded', () => {
  const { core } = newCore({}, { maxMessageCount: 1 });
  const ctx = { ...CTX, sequence: 1 };
  assert.deepEqual(summary(core.consumed(12, normal('old', 1, 9), ctx)), [
    { type: 'write-block', kind: 'normal', blockNumber: 1, batch: ['old'], metadata: meta(12, 9) },
  ]);
  // Every orderer re-submitted it: the other copies carry the same original offset.
  assert.deepEqual(summary(core.consumed(13, normal('old', 1, 9), ctx)), [{ type: 'discard', offset: 13 }]);
  assert.deepEqual(summary(core.consumed(14, normal('older', 1, 8), ctx)), [{ type: 'discard', offset: 14 }]);
  // A first-time message keeps lastOriginalOffsetProcessed where it is.
  assert.deepEqual(summary(core.consumed(15, normal('new', 1), ctx)), [
    { type: 'write-block', kind: 'normal', blockNumber: 2, batch: ['new'], metadata: meta(15, 9) },
  ]);
});

test('re-submitted normal message left pending: lastOriginalOffsetProcessed goes into the block that holds it', () => {
  const { core } = newCore();
  const ctx = { ...CTX, sequence: 1 };
  core.consumed(12, normal('old', 1, 9), ctx);
  assert.equal(core.state.lastOriginalOffsetProcessed, 9);
  core.consumed(13, normal('b', 1), ctx);
  const [, block] = summary(core.consumed(14, normal('c', 1), ctx)) as { metadata: unknown }[];
  assert.deepEqual(block!.metadata, meta(14, 9));
});

test('re-submitted normal message pending after a size cut: its other copies are still discarded (Fabric bug fixed)', () => {
  // Fabric's commitNormalMsg does not advance lastOriginalOffsetProcessed in this case, so the next
  // copy of the same re-submission would be ordered a second time.
  const { core } = newCore({}, { preferredMaxBytes: 700, maxMessageCount: 100 });
  const ctx = { ...CTX, sequence: 1 };
  core.consumed(10, normal('a', 1, 0, 150), ctx);
  core.consumed(11, normal('b', 1, 0, 150), ctx);
  assert.deepEqual(summary(core.consumed(12, normal('old', 1, 9, 150), ctx)), [
    { type: 'write-block', kind: 'normal', blockNumber: 1, batch: ['a', 'b'], metadata: meta(11, 0) },
  ]);
  assert.equal(core.state.lastOriginalOffsetProcessed, 9);
  assert.deepEqual(summary(core.consumed(13, normal('old', 1, 9, 150), ctx)), [
    { type: 'discard', offset: 13 },
  ]);
});

test('re-submitted normal message still stale: re-submitted again with the new offset', () => {
  const { core } = newCore();
  assert.deepEqual(summary(core.consumed(12, normal('old', 1, 9), { ...CTX, sequence: 2 })), [
    { type: 'resubmit-normal', txId: 'old', originalOffset: 12 },
  ]);
});

test('stale config message: re-submitted; ingress blocked until it comes back, then unblocked and committed', () => {
  const { core } = newCore({ lastCutBlockNumber: 3 });
  const ctx = { ...CTX, sequence: 1 };
  assert.deepEqual(summary(core.consumed(20, config('cfg', 0), ctx)), [
    { type: 'resubmit-config', txId: 'cfg', originalOffset: 20 },
  ]);
  assert.equal(core.isIngressBlocked, false, 'blocked only once the re-submission is in Kafka');
  assert.deepEqual(core.configResubmitted(20), [{ type: 'block-ingress' }]);
  assert.equal(core.isIngressBlocked, true);
  assert.equal(core.state.lastResubmittedConfigOffset, 20);
  // Another orderer's copy comes first; ours afterwards is a duplicate.
  assert.deepEqual(summary(core.consumed(22, config('cfg', 1, 20), ctx)), [
    { type: 'unblock-ingress' },
    { type: 'write-block', kind: 'config', blockNumber: 4, batch: ['cfg'], metadata: meta(22, 20, 20) },
  ]);
  assert.equal(core.isIngressBlocked, false);
  assert.deepEqual(summary(core.consumed(23, config('cfg', 1, 20), ctx)), [{ type: 'discard', offset: 23 }]);
});

test('re-submitted config message from another orderer advances lastResubmittedConfigOffset', () => {
  // We judged the message invalid on re-validation; another orderer did not and re-submitted it.
  const { core } = newCore();
  const ctx = { ...CTX, sequence: 1 };
  assert.deepEqual(summary(core.consumed(31, config('cfg', 1, 30), ctx)), [
    { type: 'write-block', kind: 'config', blockNumber: 1, batch: ['cfg'], metadata: meta(31, 30, 30) },
  ]);
  assert.equal(core.isIngressBlocked, false);
});

test('re-submitted config message stale again: re-submitted with the new offset; ingress stays blocked', () => {
  const { core } = newCore({ lastResubmittedConfigOffset: 20 });
  assert.equal(core.isIngressBlocked, true, 'restarted with a re-submitted config message in flight');
  assert.deepEqual(summary(core.consumed(25, config('cfg', 1, 20), { ...CTX, sequence: 2 })), [
    { type: 'resubmit-config', txId: 'cfg', originalOffset: 25 },
  ]);
  assert.deepEqual(core.configResubmitted(25), [], 'already blocked');
  assert.equal(core.state.lastResubmittedConfigOffset, 25);
});

test('re-submitted config message rejected on re-validation: ingress waiting for it is unblocked, also after a restart', () => {
  // Fabric keeps Broadcast blocked for good here: nothing with this original offset can come back.
  const { core } = newCore({ lastResubmittedConfigOffset: 20, lastOriginalOffsetProcessed: 5 });
  assert.equal(core.isIngressBlocked, true);
  assert.deepEqual(summary(core.consumed(25, config('cfg', 1, 20), { ...CTX, sequence: 2 })), [
    { type: 'resubmit-config', txId: 'cfg', originalOffset: 25 },
  ]);
  assert.deepEqual(core.configRejected(25), [{ type: 'unblock-ingress' }]);
  assert.equal(core.isIngressBlocked, false);
  assert.equal(core.state.lastResubmittedConfigOffset, 0, 'no re-submission in flight any more');
  assert.equal(
    newCore(core.state).core.isIngressBlocked,
    false,
    'a restart from the next block is not blocked',
  );
});

test('config message rejected on re-validation that ingress is not waiting for: still blocked', () => {
  const { core } = newCore({ lastCutBlockNumber: 3 });
  const ctx = { ...CTX, sequence: 1 };
  core.consumed(20, config('a', 0), ctx);
  core.configResubmitted(20);
  // A first-time config message validated before the change is rejected: ingress still waits for 'a'.
  assert.deepEqual(summary(core.consumed(21, config('b', 0), ctx)), [
    { type: 'resubmit-config', txId: 'b', originalOffset: 21 },
  ]);
  assert.deepEqual(core.configRejected(21), []);
  assert.equal(core.isIngressBlocked, true);
  assert.equal(core.state.lastResubmittedConfigOffset, 20);
  // An older copy of 'a' re-submitted again is rejected while ingress waits for the newer one.
  core.consumed(22, config('c', 0), ctx);
  core.configResubmitted(22);
  core.consumed(23, config('a', 0, 20), { ...CTX, sequence: 2 });
  assert.deepEqual(core.configRejected(23), []);
  assert.equal(core.isIngressBlocked, true);
  assert.deepEqual(core.configRejected(99), [], 'an offset no resubmit-config effect named');
});

test('ingress at start: blocked only while the last re-submitted config message is not processed', () => {
  const cases: [number, number, boolean][] = [
    [0, 0, false],
    [0, 7, false],
    [7, 7, false],
    [7, 9, false],
    [9, 7, true],
  ];
  for (const [resubmitted, processed, blocked] of cases) {
    const { core } = newCore({
      lastResubmittedConfigOffset: resubmitted,
      lastOriginalOffsetProcessed: processed,
    });
    assert.equal(core.isIngressBlocked, blocked, `resubmitted ${resubmitted}, processed ${processed}`);
  }
});

test('compatibility mode (no resubmission capability, or class UNKNOWN): validate, then commit without re-ordering', () => {
  const { core } = newCore({ lastOriginalOffsetProcessed: 4 }, { maxMessageCount: 1 });
  const compat = { ...CTX, resubmission: false, sequence: 3 };
  assert.deepEqual(summary(core.consumed(10, normal('n', 0), compat)), [
    { type: 'validate', kind: 'normal', txId: 'n', receivedOffset: 10 },
  ]);
  assert.deepEqual(summary(core.consumed(11, config('c', 0), compat)), [
    { type: 'validate', kind: 'config', txId: 'c', receivedOffset: 11 },
  ]);
  const update = encodeRegular('normal', makeEnvelope('u', { type: 2 }).raw, 0, 0);
  assert.deepEqual(summary(core.consumed(12, update, compat)), [{ type: 'discard', offset: 12 }]);
  // A v1.0 orderer's message (class UNKNOWN) on a channel with the capability is handled the same way.
  const unknown = Buffer.from(
    ordererProtos.KafkaMessage.encode({ regular: { payload: makeEnvelope('x').raw } }).finish(),
  );
  assert.deepEqual(summary(core.consumed(13, unknown, CTX)), [
    { type: 'validate', kind: 'normal', txId: 'x', receivedOffset: 13 },
  ]);

  const env = makeEnvelope('n');
  assert.deepEqual(summary(core.commitValidated('normal', env, 10, compat)), [
    { type: 'write-block', kind: 'normal', blockNumber: 1, batch: ['n'], metadata: meta(10, 4) },
  ]);
});

test('a failed TIME_TO_CUT post re-arms the timer while the batch is still pending', () => {
  const { core } = newCore();
  core.consumed(1, normal('a'), CTX);
  core.timerFired(1);
  assert.deepEqual(core.timeToCutPostFailed(1, CTX), [{ type: 'arm-timer', generation: 2, timeoutMs: 2000 }]);
  assert.deepEqual(core.timeToCutPostFailed(1, CTX), [], 'already armed');
  core.consumed(2, normal('b'), CTX);
  core.consumed(3, normal('c'), CTX); // batch full: block 1 cut
  assert.deepEqual(core.timeToCutPostFailed(1, CTX), [], 'block 1 already cut');
});
