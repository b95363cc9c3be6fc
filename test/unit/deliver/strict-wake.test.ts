// A Deliver request waiting at the tip of the ledger learns of the chain's errors from the chain
// (DeliverChain.onStatusChange), not by polling: STRICT ends with SERVICE_UNAVAILABLE at the
// notification, with no timer armed and the clock never moved; BEST_EFFORT keeps waiting and gets
// the next block. Real ledger (memory block store), real channel config (Fabric's appsolo genesis
// block, Readers policy) and real signatures; the chain is a switch the test flips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../../src/clock.js';
import { readConfigBlock } from '../../../src/channelconfig/index.js';
import { StatusListeners } from '../../../src/consensus/status-listeners.js';
import { DeliverHandler, type DeliverChain } from '../../../src/deliver/index.js';
import { MemoryBlockStore } from '../../../src/ledger/index.js';
import { CertificateExpiryCache } from '../../../src/msgprocessor/filters.js';
import { common } from '../../../src/protos/index.js';
import { channelResources } from '../../../src/server/orderer.js';
import { silentLogger } from '../../../src/logging.js';
import { unavailable } from '../../../src/errors.js';
import { blockHeaderHash } from '../../../src/protoutil/block.js';
import { makeBlock } from '../../support/ledger.js';
import {
  FIXTURES,
  HeaderType,
  loadIdentity,
  seekInfo,
  signedEnvelope,
} from '../../support/fabric-clients.js';

const genesisBytes = readFileSync(join(FIXTURES, 'blocks/appsolo-genesis.block'));
const { channelId, configEnvelope } = readConfigBlock(common.Block.decode(genesisBytes));
const bundle = channelResources().createBundle(channelId, configEnvelope.config!);
const org1User = loadIdentity('org1User');
const blockOne = makeBlock(1, blockHeaderHash(common.Block.decode(genesisBytes).header!));

/** A chain whose errored() the test sets; `notify` says whether the chain tells its listeners. */
class SwitchedChain implements DeliverChain {
  readonly listeners = new StatusListeners();
  private error: Error | undefined;
  constructor(readonly reader: MemoryBlockStore) {}
  bundle = () => bundle;
  errored = () => this.error;
  onStatusChange = (listener: () => void) => this.listeners.add(listener);
  set(error: Error | undefined, { notify = true } = {}): void {
    this.error = error;
    if (notify) this.listeners.notify();
  }
}

async function setup() {
  const store = new MemoryBlockStore({ channelId });
  await store.append({ number: 0, bytes: genesisBytes });
  const chain = new SwitchedChain(store);
  // Starts at the real time: the envelopes carry the real time (General.Authentication.TimeWindow).
  const clock = new ManualClock(Date.now());
  const handler = new DeliverHandler(
    { timeWindowMs: 15 * 60_000, mutualTls: false, noExpirationChecks: true },
    {
      chains: { getDeliverChain: (id) => (id === channelId ? chain : undefined) },
      clock,
      logger: silentLogger(),
      expiry: new CertificateExpiryCache(),
    },
  );
  const sent: Buffer[] = [];
  const tookBlock: (() => void)[] = [];
  const abort = new AbortController();
  /** Seeks from the newest block on, for ever; resolves with the status that ends the request. */
  const follow = (errorResponse: 'strict' | 'bestEffort', onSend?: () => void) =>
    handler.handle(
      signedEnvelope(org1User, {
        type: HeaderType.DELIVER_SEEK_INFO,
        channelId,
        data: seekInfo('newest', Number.MAX_SAFE_INTEGER, 'block', errorResponse),
      }),
      {
        signal: abort.signal,
        sendBlock: async (bytes) => {
          sent.push(bytes);
          onSend?.();
          for (const resolve of tookBlock.splice(0)) resolve();
        },
      },
    );
  /** Resolves once the stream took its next block. */
  const nextBlockSent = () => new Promise<void>((resolve) => tookBlock.push(resolve));
  return { store, chain, clock, follow, sent, nextBlockSent, abort };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};
const noLeader = () => unavailable('no Raft leader for channel appsolo');

test('STRICT at the tip ends with SERVICE_UNAVAILABLE when the chain says it errs; no timer, no time passed', async () => {
  const { chain, clock, follow, sent, nextBlockSent } = await setup();
  const startedAt = clock.now();
  const took = nextBlockSent();
  const status = follow('strict');
  await took;
  await settle();
  assert.equal(sent.length, 1, 'the newest block, then waiting');
  assert.equal(chain.listeners.size, 1, 'the waiting request listens to the chain');
  assert.equal(clock.pendingTimers, 0, 'nothing polls errored()');
  chain.set(noLeader());
  assert.equal(await status, common.Status.SERVICE_UNAVAILABLE);
  assert.equal(chain.listeners.size, 0, 'the listener is removed when the wait ends');
  assert.equal(clock.now(), startedAt, 'no time had to pass');
});

test('STRICT: a notification while the chain is fine keeps the request waiting for the next block', async () => {
  const { store, chain, follow, sent, nextBlockSent, abort } = await setup();
  let took = nextBlockSent();
  const status = follow('strict');
  await took;
  await settle();
  chain.set(undefined); // e.g. a new leader elected
  await settle();
  assert.equal(chain.listeners.size, 1, 'still waiting');
  took = nextBlockSent();
  await store.append(blockOne);
  await took;
  assert.equal(sent.length, 2);
  abort.abort();
  await assert.rejects(status);
  assert.equal(chain.listeners.size, 0);
});

test('STRICT: an error that came while the previous block was being sent is seen when the wait starts', async () => {
  const { chain, follow } = await setup();
  // The chain errs during the send without telling anyone (the notification was before the listener).
  const status = follow('strict', () => chain.set(noLeader(), { notify: false }));
  assert.equal(await status, common.Status.SERVICE_UNAVAILABLE);
  assert.equal(chain.listeners.size, 0);
});

test('BEST_EFFORT at the tip is not ended by the chain error and gets the next block', async () => {
  const { store, chain, follow, sent, nextBlockSent, abort } = await setup();
  let took = nextBlockSent();
  const status = follow('bestEffort');
  await took;
  await settle();
  assert.equal(chain.listeners.size, 0, 'BEST_EFFORT does not listen');
  chain.set(noLeader());
  await settle();
  took = nextBlockSent();
  await store.append(blockOne);
  await took;
  assert.equal(sent.length, 2);
  abort.abort();
  await assert.rejects(status);
});

test('STRICT: a client that went away while a block was being sent leaves no wait behind', async () => {
  const { chain, follow, abort } = await setup();
  const status = follow('strict', () => abort.abort());
  await assert.rejects(status, /aborted/);
  assert.equal(chain.listeners.size, 0);
});
