// BroadcastSession: hand-over order, pipelining for consenters that order on call, in-order
// responses, the stream ending at the first non-SUCCESS response, and reading paused while too
// many messages are unanswered or the client leaves its answers unread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BroadcastHandler, BroadcastSession, type BroadcastResponse } from '../../../src/broadcast/index.js';
import { common } from '../../../src/protos/index.js';
import { badRequest } from '../../../src/errors.js';
import { ManualClock } from '../../../src/clock.js';
import type { ReceivedEnvelope } from '../../../src/consensus/types.js';
import type {
  BroadcastChannel,
  BroadcastConsenter,
  BroadcastSupport,
} from '../../../src/broadcast/handler.js';
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
  const consenter: BroadcastConsenter = {
    ordersOnCall: options.ordersOnCall,
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
  const channel: BroadcastChannel = {
    channelId: 'testchannel',
    chain: consenter,
    processNormalMsg: async (e: ReceivedEnvelope) => {
      const id = e.channelHeader.txId;
      await options.slowValidation?.get(id);
      if (options.invalid?.has(id)) throw badRequest(`bad ${id}`);
      return 0;
    },
    processConfigUpdateMsg: () => Promise.reject(new Error('unexpected config update')),
  };
  const support: BroadcastSupport = {
    broadcastChannelSupport: (env) => ({ channelHeader: env.channelHeader, isConfig: false, channel }),
  };
  const handler = new BroadcastHandler({
    support,
    logger: capturingLogger().logger,
    clock: new ManualClock(),
  });
  const sent: BroadcastResponse[] = [];
  let ended = false;
  const session = new BroadcastSession(handler, {
    send: (r) => {
      sent.push(r);
      return true;
    },
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
      send: (r) => {
        sent.push(r);
        return true;
      },
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

/**
 * A response stream like grpc-js's: send() reports full once `capacity` responses wait for the
 * client; take() lets the client read them and reports the stream writable again.
 */
function unreadStream(capacity: number) {
  const events: string[] = [];
  const queued: BroadcastResponse[] = [];
  let session: BroadcastSession | undefined;
  return {
    events,
    queued,
    io: {
      send: (r: BroadcastResponse) => {
        queued.push(r);
        return queued.length < capacity;
      },
      end: () => events.push('end'),
      pause: () => events.push('pause'),
      resume: () => events.push('resume'),
    },
    attach(s: BroadcastSession) {
      session = s;
    },
    take() {
      queued.splice(0);
      session!.writable();
    },
  };
}

test('broadcast session: stops reading while the client leaves its answers unread, resumes on drain', async () => {
  const { fake, handler } = setup({ ordersOnCall: true });
  const stream = unreadStream(2);
  const session = new BroadcastSession(handler, stream.io, 256);
  stream.attach(session);
  for (const id of ['a', 'b', 'c']) session.push(makeEnvelope(id).raw);
  await tick();
  fake.pending.get('a')!.resolve();
  await tick();
  assert.deepEqual(stream.events, [], 'one answer queued: the stream still has room');
  fake.pending.get('b')!.resolve();
  await tick();
  assert.equal(stream.queued.length, 2);
  assert.deepEqual(stream.events, ['pause'], 'the stream is full: no more envelopes are read');
  // Messages read before the pause are still handled and answered (into the full stream).
  fake.pending.get('c')!.resolve();
  await session.drained();
  assert.equal(stream.queued.length, 3);
  assert.deepEqual(stream.events, ['pause'], 'still paused until the client reads');
  stream.take();
  assert.deepEqual(stream.events, ['pause', 'resume']);
});

test('broadcast session: a drain does not resume reading while maxInFlight messages are unanswered', async () => {
  const { fake, handler } = setup({ ordersOnCall: true });
  const stream = unreadStream(2);
  const session = new BroadcastSession(handler, stream.io, 2);
  stream.attach(session);
  session.push(makeEnvelope('a').raw);
  session.push(makeEnvelope('b').raw);
  assert.deepEqual(stream.events, ['pause'], 'two unanswered');
  await tick();
  fake.pending.get('a')!.resolve();
  await tick();
  assert.deepEqual(stream.events, ['pause', 'resume'], 'one unanswered and room in the stream');
  fake.pending.get('b')!.resolve();
  await tick();
  assert.deepEqual(stream.events, ['pause', 'resume', 'pause'], "b's answer filled the stream");
  session.push(makeEnvelope('c').raw);
  session.push(makeEnvelope('d').raw);
  await tick();
  stream.take();
  assert.deepEqual(
    stream.events,
    ['pause', 'resume', 'pause'],
    'drained, but c and d are unanswered: reading stays paused',
  );
  fake.pending.get('c')!.resolve();
  await tick();
  assert.deepEqual(stream.events, ['pause', 'resume', 'pause', 'resume'], 'one unanswered, room again');
  fake.pending.get('d')!.resolve();
  await session.drained();
  assert.equal(stream.events.at(-1), 'pause', "d's answer filled the stream again");
});
