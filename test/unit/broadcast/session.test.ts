// BroadcastSession: hand-over order, pipelining for consenters that order on call, in-order
// responses, and the stream ending at the first non-SUCCESS response.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BroadcastHandler, BroadcastSession, type BroadcastResponse } from '../../../src/broadcast/index.js';
import { common } from '../../../src/protos/index.js';
import { badRequest } from '../../../src/errors.js';
import type { ReceivedEnvelope } from '../../../src/consensus/types.js';
import type { BroadcastSupport } from '../../../src/broadcast/handler.js';
import { capturingLogger, deferred, makeEnvelope } from '../../support/solo.js';

interface FakeChain {
  ordersOnCall?: boolean;
  calls: string[];
  pending: Map<string, ReturnType<typeof deferred<void>>>;
}

/** A support whose chain records order() calls and settles each when the test says so. */
function setup(options: {
  ordersOnCall: boolean;
  invalid?: Set<string>;
  slowValidation?: Map<string, Promise<void>>;
}) {
  const fake: FakeChain = { calls: [], pending: new Map(), ordersOnCall: options.ordersOnCall };
  const chain = {
    ...(options.ordersOnCall ? { ordersOnCall: true } : {}),
    waitReady: () => Promise.resolve(),
    order: (env: ReceivedEnvelope) => {
      const id = env.channelHeader.txId;
      fake.calls.push(id);
      const d = deferred<void>();
      fake.pending.set(id, d);
      return d.promise;
    },
    configure: () => Promise.reject(new Error('unexpected config')),
  };
  const support: BroadcastSupport = {
    broadcastChannelSupport: (env) => ({
      channelHeader: env.channelHeader,
      isConfig: false,
      chain: {
        channelId: 'testchannel',
        chain,
        processor: {
          processNormalMsg: async (e: ReceivedEnvelope) => {
            const id = e.channelHeader.txId;
            await options.slowValidation?.get(id);
            if (options.invalid?.has(id)) throw badRequest(`bad ${id}`);
            return 0;
          },
        },
      } as never,
    }),
  };
  const handler = new BroadcastHandler({ support, logger: capturingLogger().logger });
  const sent: BroadcastResponse[] = [];
  let ended = false;
  const session = new BroadcastSession(handler, {
    send: (r) => sent.push(r),
    end: () => (ended = true),
    pause: () => {},
    resume: () => {},
  });
  return { fake, handler, session, sent, isEnded: () => ended };
}

const tick = () => new Promise((r) => setImmediate(r));

test('broadcast session: a consenter that orders on call gets the next message before the previous is durable', async () => {
  const { fake, session, sent } = setup({ ordersOnCall: true });
  for (const id of ['a', 'b', 'c']) session.push(makeEnvelope(id).raw);
  await tick();
  assert.deepEqual(fake.calls, ['a', 'b', 'c'], 'all handed over in stream order, none durable yet');
  assert.equal(sent.length, 0);
  // Durable out of order: the responses still go out in stream order.
  fake.pending.get('c')!.resolve();
  fake.pending.get('b')!.resolve();
  await tick();
  assert.equal(sent.length, 0, 'b and c wait for a');
  fake.pending.get('a')!.resolve();
  await session.drained();
  assert.deepEqual(
    sent.map((r) => r.status),
    [common.Status.SUCCESS, common.Status.SUCCESS, common.Status.SUCCESS],
  );
});

test('broadcast session: hand-over keeps stream order when validation finishes out of order', async () => {
  const slow = deferred();
  const { fake, session } = setup({ ordersOnCall: true, slowValidation: new Map([['a', slow.promise]]) });
  session.push(makeEnvelope('a').raw);
  session.push(makeEnvelope('b').raw);
  await tick();
  assert.deepEqual(fake.calls, [], 'b waits for a to be validated and handed over');
  slow.resolve();
  await tick();
  assert.deepEqual(fake.calls, ['a', 'b']);
  for (const d of fake.pending.values()) d.resolve();
  await session.drained();
});

test('broadcast session: without ordersOnCall each message waits until the previous one is answered', async () => {
  const { fake, session, sent } = setup({ ordersOnCall: false });
  session.push(makeEnvelope('a').raw);
  session.push(makeEnvelope('b').raw);
  await tick();
  assert.deepEqual(fake.calls, ['a']);
  fake.pending.get('a')!.resolve();
  await tick();
  assert.deepEqual(fake.calls, ['a', 'b']);
  fake.pending.get('b')!.resolve();
  await session.drained();
  assert.equal(sent.length, 2);
});

test('broadcast session: an invalid message stops hand-over of later ones and ends the stream after earlier answers', async () => {
  const { fake, session, sent, isEnded } = setup({ ordersOnCall: true, invalid: new Set(['b']) });
  for (const id of ['a', 'b', 'c']) session.push(makeEnvelope(id).raw);
  await tick();
  assert.deepEqual(fake.calls, ['a'], 'c is not handed over after the invalid b');
  assert.equal(sent.length, 0, "b's rejection waits for a's answer");
  fake.pending.get('a')!.resolve();
  await session.drained();
  assert.deepEqual(
    sent.map((r) => r.status),
    [common.Status.SUCCESS, common.Status.BAD_REQUEST],
  );
  assert.ok(isEnded());
});

test('broadcast session: a consenter refusal is SERVICE_UNAVAILABLE and ends the stream', async () => {
  const { fake, session, sent, isEnded } = setup({ ordersOnCall: true });
  for (const id of ['a', 'b']) session.push(makeEnvelope(id).raw);
  await tick();
  fake.pending.get('a')!.reject(new Error('disk gone'));
  fake.pending.get('b')!.reject(new Error('disk gone'));
  await session.drained();
  assert.deepEqual(
    sent.map((r) => r.status),
    [common.Status.SERVICE_UNAVAILABLE],
  );
  assert.match(sent[0]!.info, /disk gone/);
  assert.ok(isEnded());
});

test('broadcast session: pauses reading at maxInFlight unanswered messages and resumes below it', async () => {
  const { fake, handler } = setup({ ordersOnCall: true });
  const events: string[] = [];
  const sent: BroadcastResponse[] = [];
  const session = new BroadcastSession(
    handler,
    {
      send: (r) => sent.push(r),
      end: () => events.push('end'),
      pause: () => events.push('pause'),
      resume: () => events.push('resume'),
    },
    2,
  );
  await session.drained(); // nothing pushed: already drained
  session.push(makeEnvelope('a').raw);
  assert.deepEqual(events, []);
  session.push(makeEnvelope('b').raw);
  assert.deepEqual(events, ['pause'], 'paused once two are unanswered');
  await tick();
  fake.pending.get('b')!.resolve();
  await tick();
  assert.deepEqual(events, ['pause'], 'b is durable but waits for a: still two unanswered');
  fake.pending.get('a')!.resolve();
  await session.drained();
  assert.deepEqual(events, ['pause', 'resume']);
  assert.equal(sent.length, 2);
});
