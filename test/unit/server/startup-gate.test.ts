// Calls that reach the gRPC listener while the orderer is still opening its channels (it binds
// first) wait for start-up instead of being answered before the channels exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../../src/clock.js';
import { silentLogger } from '../../../src/logging.js';
import { CertificateExpiryCache } from '../../../src/msgprocessor/index.js';
import { GatedBroadcastHandler, GatedDeliverHandler, StartupGate } from '../../../src/server/startupGate.js';
import { common } from '../../../src/protos/index.js';

/** Settles to 'pending' when `promise` has not settled after every queued callback ran. */
async function state(promise: Promise<unknown>): Promise<'pending' | 'settled'> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return settled ? 'settled' : 'pending';
}

function deliverHandler(gate: StartupGate, lookups: string[]) {
  return new GatedDeliverHandler(
    { timeWindowMs: 15 * 60_000, mutualTls: false, noExpirationChecks: false },
    {
      chains: {
        getDeliverChain(channelId) {
          lookups.push(channelId);
          return undefined;
        },
      },
      clock: systemClock,
      logger: silentLogger(),
      expiry: new CertificateExpiryCache(),
    },
    gate,
  );
}

test('a Deliver request waits for start-up, then is served', async () => {
  const gate = new StartupGate();
  const lookups: string[] = [];
  const handler = deliverHandler(gate, lookups);
  const ctx = { signal: new AbortController().signal, sendBlock: async () => {} };
  const served = handler.handle(Buffer.from('not an envelope'), ctx);
  assert.equal(await state(served), 'pending', 'served before the channels are open');
  gate.open();
  assert.equal(await served, common.Status.BAD_REQUEST, 'then handled as any request');
});

test('a Deliver request whose client goes away stops waiting', async () => {
  const gate = new StartupGate();
  const handler = deliverHandler(gate, []);
  const abort = new AbortController();
  const served = handler.handle(Buffer.from('x'), { signal: abort.signal, sendBlock: async () => {} });
  assert.equal(await state(served), 'pending');
  abort.abort(new Error('client cancelled'));
  assert.equal(await state(served), 'settled');
});

test('Broadcast messages wait for start-up, and go on (to be validated) when it is abandoned', async () => {
  const gate = new StartupGate();
  const handler = new GatedBroadcastHandler(
    {
      support: {
        broadcastChannelSupport() {
          throw new Error('no registrar');
        },
      },
      logger: silentLogger(),
      clock: systemClock,
    },
    gate,
  );
  const validated = handler.validate(Buffer.from('not an envelope'));
  assert.equal(await state(validated), 'pending');
  gate.abandon();
  const result = await validated;
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.response.status, common.Status.BAD_REQUEST);
});
