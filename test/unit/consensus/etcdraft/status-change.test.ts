// EtcdraftChain.onStatusChange: a listener hears of every change errored() can show (running,
// a leader gained, the leader lost, halted) at the moment it happens, so a STRICT Deliver waiting
// at the tip needs no polling. Real chains over RaftWals and the in-memory cluster transport.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftChainNet } from '../../../support/raft-chain-net.js';

let net: RaftChainNet | undefined;
afterEach(async () => {
  await net?.close();
  net = undefined;
});

/** What errored() said each time the chain notified (undefined: serving). */
function recordStatus(chain: { errored(): Error | undefined; onStatusChange(l: () => void): () => void }) {
  const seen: (string | undefined)[] = [];
  const stop = chain.onStatusChange(() => seen.push(chain.errored()?.message));
  return { seen, stop };
}

test('etcdraft: running, leader elected, leader lost and halt are each told to the listeners', async () => {
  net = new RaftChainNet(3);
  await net.init();
  for (const id of net.ids) await net.start(id);
  const leader = await net.electLeader();
  const survivor = net.ids.find((id) => id !== leader)!;
  const { seen, stop } = recordStatus(net.chain(survivor));
  for (const id of net.ids) if (id !== survivor) await net.stop(id);
  await net.tick(30); // the survivor's election timeout passes; it campaigns and cannot win
  assert.equal(net.chain(survivor).leader, 0);
  assert.ok(seen.length > 0, 'the survivor told its listener');
  assert.match(seen.at(-1) ?? '', /no Raft leader/, 'and errored() said so when it did');

  const chain = net.chain(survivor);
  const before = seen.length;
  await net.stop(survivor);
  assert.ok(seen.length > before, 'halting tells the listener');
  assert.ok(seen.at(-1) !== undefined, 'a halted chain is errored');
  stop();
  assert.ok(chain.errored());
});

test('etcdraft: a starting node tells its listener when it has a leader and serves', async () => {
  net = new RaftChainNet(1);
  await net.init();
  const chain = await net.start(1);
  const { seen, stop } = recordStatus(chain);
  await net.electLeader();
  assert.equal(chain.errored(), undefined);
  assert.equal(seen.at(-1), undefined, 'the last notification saw a serving chain');
  stop();
  const count = seen.length;
  await net.tick(5);
  assert.equal(seen.length, count, 'a removed listener hears nothing more');
});
