// The /healthz etcdraft check over the chains of an in-memory Raft channel: passing while a
// leader is known, failing with the chain's reason (naming the channel and the unreachable
// consenters) once two of three consenters are gone.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { etcdraftLeaderCheck, runHealthChecks } from '../../../src/operations/index.js';
import { RaftChainNet } from '../../support/raft-chain-net.js';

let net: RaftChainNet | undefined;
afterEach(async () => {
  await net?.close();
  net = undefined;
});

/** The consenter's leaderlessChannels() for one member of the net (its only channel). */
function sourceFor(n: RaftChainNet, id: number) {
  return {
    leaderlessChannels: () => {
      const chain = n.chain(id);
      return chain.leader === 0 ? [{ channel: 'testchannel', reason: chain.errored()!.message }] : [];
    },
  };
}

test('etcdraft check: passes with a leader, fails naming the channel and why without one', async () => {
  const n = new RaftChainNet(3);
  net = n;
  await n.init();
  for (const id of n.ids) await n.start(id);
  const leader = await n.electLeader();
  const survivor = n.ids.find((id) => id !== leader)!;
  const check = etcdraftLeaderCheck(sourceFor(n, survivor));
  assert.equal(check.component, 'etcdraft');
  assert.deepEqual(await runHealthChecks([check]), []);

  for (const id of n.ids.filter((i) => i !== survivor)) await n.stop(id);
  await n.tick(40);
  const failed = await runHealthChecks([check]);
  assert.equal(failed.length, 1);
  assert.equal(failed[0]!.component, 'etcdraft');
  assert.match(failed[0]!.reason, /^no Raft leader for channel testchannel: no quorum reachable/);
});

test('etcdraft check: one reason per leaderless channel, the channel named once', async () => {
  const check = etcdraftLeaderCheck({
    leaderlessChannels: () => [
      { channel: 'a', reason: 'no Raft leader for channel a: an election is in progress' },
      { channel: 'b', reason: 'the chain is still starting' },
    ],
  });
  const [failed] = await runHealthChecks([check]);
  assert.equal(
    failed?.reason,
    'no Raft leader for channel a: an election is in progress; channel b: the chain is still starting',
  );
});
