// Every way Broadcast can fail answers with the status of an error code from the one table
// (src/status.ts): validation failures keep their code (Fabric's ClassifyError), an unclassified
// one is message-rejected (BAD_REQUEST), and anything that keeps the consenter from taking a
// message is not-accepted (SERVICE_UNAVAILABLE), as Fabric's ProcessMessage answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BroadcastHandler } from '../../../src/broadcast/index.js';
import type {
  BroadcastChannel,
  BroadcastConsenter,
  BroadcastSupport,
} from '../../../src/broadcast/handler.js';
import { common } from '../../../src/protos/index.js';
import { internal, OrdererError, type ErrorCode } from '../../../src/errors.js';
import { STATUS_BY_CODE } from '../../../src/status.js';
import { ManualClock } from '../../../src/clock.js';
import type { ReceivedEnvelope } from '../../../src/consensus/types.js';
import { capturingLogger, makeEnvelope } from '../../support/solo.js';

const S = common.Status;

type FailingStep =
  | 'channel-support'
  | 'normal-validation'
  | 'config-update-validation'
  | 'wait-ready'
  | 'order'
  | 'order-on-call';

/** A handler whose channel fails at `step` with `failure`, and records what the observer saw. */
function failingAt(step: FailingStep, failure: unknown) {
  const fail = (at: FailingStep) => (step === at ? Promise.reject(failure) : Promise.resolve());
  const consenter: BroadcastConsenter = {
    ordersOnCall: step === 'order-on-call',
    waitReady: () => fail('wait-ready'),
    order: () => (step === 'order-on-call' ? Promise.reject(failure) : fail('order')),
    configure: () => Promise.resolve(),
  };
  const channel: BroadcastChannel = {
    channelId: 'testchannel',
    chain: consenter,
    processNormalMsg: () => fail('normal-validation').then(() => 0),
    processConfigUpdateMsg: (env: ReceivedEnvelope) =>
      fail('config-update-validation').then(() => ({ config: env, configSeq: 0 })),
  };
  const support: BroadcastSupport = {
    broadcastChannelSupport: (env) => {
      if (step === 'channel-support') throw failure;
      return {
        channelHeader: env.channelHeader,
        isConfig: step === 'config-update-validation',
        channel,
      };
    },
  };
  const observed: number[] = [];
  const handler = new BroadcastHandler({
    support,
    logger: capturingLogger().logger,
    clock: new ManualClock(),
    observer: { processed: (info) => observed.push(info.status) },
  });
  return { handler, observed };
}

const coded = (code: ErrorCode) => new OrdererError(code, `failed with ${code}`);

// [step, what is thrown, status answered]
const cases: [FailingStep, unknown, number][] = [
  // Validation keeps the code it failed with.
  ['channel-support', coded('no-system-channel'), S.BAD_REQUEST],
  ['channel-support', coded('channel-not-found'), S.NOT_FOUND],
  ['normal-validation', coded('channel-not-found'), S.NOT_FOUND],
  ['normal-validation', coded('permission-denied'), S.FORBIDDEN],
  ['normal-validation', coded('identity-expired'), S.FORBIDDEN],
  ['normal-validation', coded('maintenance-mode'), S.SERVICE_UNAVAILABLE],
  ['normal-validation', coded('empty-message'), S.BAD_REQUEST],
  ['normal-validation', coded('too-large'), S.REQUEST_ENTITY_TOO_LARGE],
  ['config-update-validation', coded('permission-denied'), S.FORBIDDEN],
  ['config-update-validation', coded('bad-request'), S.BAD_REQUEST],
  // ... and what no code classifies is the message's fault.
  ['normal-validation', new Error('unexpected'), S.BAD_REQUEST],
  ['normal-validation', internal('a bug'), S.BAD_REQUEST],
  ['config-update-validation', new TypeError('x is undefined'), S.BAD_REQUEST],
  // Whatever keeps the consenter from taking it is SERVICE_UNAVAILABLE.
  ['wait-ready', coded('unavailable'), S.SERVICE_UNAVAILABLE],
  ['wait-ready', coded('no-leader'), S.SERVICE_UNAVAILABLE],
  ['order', coded('not-a-consenter'), S.SERVICE_UNAVAILABLE],
  ['order', coded('bad-request'), S.SERVICE_UNAVAILABLE],
  ['order', new Error('disk gone'), S.SERVICE_UNAVAILABLE],
  ['order-on-call', coded('forbidden'), S.SERVICE_UNAVAILABLE],
  ['order-on-call', new Error('disk gone'), S.SERVICE_UNAVAILABLE],
];

for (const [step, failure, status] of cases) {
  const name = failure instanceof OrdererError ? failure.errorCode : String(failure);
  test(`broadcast: a failure at ${step} (${name}) answers ${S[status]}`, async () => {
    const { handler, observed } = failingAt(step, failure);
    const validated = await handler.validate(makeEnvelope('tx').raw);
    const response =
      step === 'order-on-call' ? await handler.submit(validated) : await handler.enqueue(validated);
    assert.equal(response.status, status);
    assert.equal(response.info, (failure as Error).message, 'the message is answered as it was');
    assert.deepEqual(observed, [status], 'the observer sees the status answered');
  });
}

test('broadcast: the validation statuses are the table entries of the codes kept or given', async () => {
  for (const code of ['channel-not-found', 'permission-denied', 'maintenance-mode'] as const) {
    const { handler } = failingAt('normal-validation', coded(code));
    const response = await handler.processMessage(makeEnvelope('tx').raw);
    assert.equal(response.status, STATUS_BY_CODE[code].common, code);
  }
  const { handler } = failingAt('normal-validation', new Error('unexpected'));
  assert.equal(
    (await handler.processMessage(makeEnvelope('tx').raw)).status,
    STATUS_BY_CODE['message-rejected'].common,
  );
  const ordering = failingAt('order', coded('channel-not-found'));
  assert.equal(
    (await ordering.handler.processMessage(makeEnvelope('tx').raw)).status,
    STATUS_BY_CODE['not-accepted'].common,
  );
});

test('broadcast: bytes that are not an envelope are a bad request', async () => {
  const { handler } = failingAt('order', new Error('not reached'));
  const response = await handler.processMessage(Buffer.from([0xff, 0xff, 0xff]));
  assert.equal(response.status, S.BAD_REQUEST);
  assert.notEqual(response.info, '');
});
