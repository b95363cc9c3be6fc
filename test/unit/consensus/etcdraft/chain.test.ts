// EtcdraftChain end to end over real RaftWals, an in-memory cluster transport and recording
// ledgers: what Broadcast would see (order() answered only once the envelope is in a written
// block) and what Deliver would see (every ledger the same, each envelope exactly once).
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { OrdererError } from '../../../../src/errors.js';
import type { ReceivedEnvelope } from '../../../../src/consensus/types.js';
import { common, orderer } from '../../../../src/protos/index.js';
import { HeaderType } from '../../../../src/protoutil/envelope.js';
import { ClusterChainTransport } from '../../../../src/consensus/etcdraft/chain-transport.js';
import type { ClusterMember } from '../../../../src/cluster/members.js';
import { MessageType } from '../../../../src/consensus/etcdraft/raft/index.js';
import { encodeMessage } from '../../../../src/consensus/etcdraft/raft/wire.js';
import { EtcdraftChain } from '../../../../src/consensus/etcdraft/chain.js';
import { FakeConsenterSupport, makeEnvelope } from '../../../support/solo.js';
import {
  BATCH_TIMEOUT_MS,
  CHANNEL,
  TICK_MS,
  RaftChainNet,
  genesisBlock,
  headerHash,
  raftMetadataOf,
} from '../../../support/raft-chain-net.js';

let net: RaftChainNet | undefined;
afterEach(async () => {
  await net?.close();
  net = undefined;
});

async function newNet(size: number): Promise<RaftChainNet> {
  net = new RaftChainNet(size);
  await net.init();
  return net;
}

interface Outcome {
  txId: string;
  on: number;
  settled: 'pending' | 'ok' | 'refused';
  error?: OrdererError;
  /** Whether the tx was in that node's ledger when order() resolved. */
  inLedgerWhenAcked?: boolean;
}

/** order() on chain `on`, recording when and how it was answered. */
function order(
  n: RaftChainNet,
  on: number,
  txId: string,
  options: { configSeq?: number; config?: boolean; env?: ReceivedEnvelope } = {},
): Outcome {
  const env: ReceivedEnvelope =
    options.env ??
    makeEnvelope(txId, {
      channelId: CHANNEL,
      ...(options.config ? { type: HeaderType.CONFIG } : {}),
    });
  const outcome: Outcome = { txId, on, settled: 'pending' };
  const support = n.support(on);
  const chain = n.chain(on);
  const configSeq = options.configSeq ?? 0;
  (options.config ? chain.configure(env, configSeq) : chain.order(env, configSeq)).then(
    () => {
      outcome.settled = 'ok';
      outcome.inLedgerWhenAcked = support.txIds.some((ids) => ids.includes(txId));
    },
    (err: unknown) => {
      outcome.settled = 'refused';
      outcome.error = err as OrdererError;
    },
  );
  return outcome;
}

function allTxIds(n: RaftChainNet, id: number): string[] {
  return n.ledgers.get(id)!.flatMap((b) => (b.number === 0 ? [] : b.txIds));
}

/** Every listed ledger holds the same blocks (header hashes and data), with raft_index increasing. */
function assertSameLedgers(n: RaftChainNet, ids: number[]): void {
  const [first, ...rest] = ids.map((id) => n.ledgers.get(id)!);
  for (const [i, other] of rest.entries()) {
    assert.deepEqual(other.map(headerHash), first!.map(headerHash), `ledger of ${ids[i + 1]} differs`);
    assert.deepEqual(
      other.map((b) => b.txIds),
      first!.map((b) => b.txIds),
    );
  }
  for (const id of ids) {
    const indexes = n.ledgers
      .get(id)!
      .slice(1)
      .map((b) => raftMetadataOf(b)!.raftIndex);
    for (let i = 1; i < indexes.length; i++)
      assert.ok(indexes[i]! > indexes[i - 1]!, `raft_index not increasing on ${id}: ${indexes.join(',')}`);
    for (const b of n.ledgers.get(id)!.slice(1))
      assert.deepEqual(raftMetadataOf(b)!.consenterIds, n.ids, 'consenter IDs in the block metadata');
  }
}

function assertNoDuplicates(txIds: string[]): void {
  assert.equal(new Set(txIds).size, txIds.length, `duplicates in ${txIds.join(',')}`);
}

describe('EtcdraftChain', () => {
  test('a one-node channel orders, writes blocks with etcdraft metadata and answers only after the write', async () => {
    const n = await newNet(1);
    await n.start(1);
    assert.ok(n.chain(1).errored(), 'errored() before a leader is known');
    await n.electLeader();
    await n.chain(1).waitReady();
    assert.equal(n.chain(1).errored(), undefined);
    assert.deepEqual(n.chain(1).statusReport(), { consensusRelation: 'consenter', status: 'active' });

    const full = ['a', 'b', 'c'].map((tx) => order(n, 1, tx));
    await n.settle();
    for (const o of full) assert.deepEqual([o.settled, o.inLedgerWhenAcked], ['ok', true], o.txId);
    assert.deepEqual(n.support(1).txIds, [['genesis'], ['a', 'b', 'c']]);

    // A partial batch waits for the batch timer.
    const partial = order(n, 1, 'd');
    await n.settle();
    assert.equal(partial.settled, 'pending');
    n.clock.advance(BATCH_TIMEOUT_MS);
    await n.settle();
    assert.deepEqual([partial.settled, partial.inLedgerWhenAcked], ['ok', true]);
    assert.deepEqual(n.support(1).txIds.at(-1), ['d']);
    const written = n.support(1).blocks.slice(1);
    assert.ok(written.every((b) => b.kind === 'normal'));
    assert.ok(raftMetadataOf(written[0]!)!.raftIndex > 0);
    assertSameLedgers(n, [1]);
  });

  test('with IdleCutAfter a partial batch is answered once intake is quiet, not after BatchTimeout', async () => {
    const n = await newNet(3);
    n.idleCutAfterMs = 20;
    for (const id of n.ids) await n.start(id);
    const leader = await n.electLeader();
    const follower = n.ids.find((id) => id !== leader)!;
    // Through the leader and forwarded by a follower: both wait in the leader's cutter.
    const partial = [order(n, leader, 'a'), order(n, follower, 'b')];
    await n.settle();
    assert.deepEqual(
      partial.map((o) => o.settled),
      ['pending', 'pending'],
    );
    n.clock.advance(20);
    await n.settle();
    for (const o of partial) assert.deepEqual([o.settled, o.inLedgerWhenAcked], ['ok', true], o.txId);
    assert.deepEqual(n.support(leader).txIds.slice(1), [['a', 'b']]);
    assertSameLedgers(n, n.ids);
  });

  test('three chains: Broadcast through every node is answered once in a block, ledgers identical', async () => {
    const n = await newNet(3);
    for (const id of n.ids) await n.start(id);
    const leader = await n.electLeader();
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 4; i++) for (const id of n.ids) outcomes.push(order(n, id, `tx-${id}-${i}`));
    await n.settle();
    n.clock.advance(BATCH_TIMEOUT_MS);
    await n.settle();
    await n.tick(2); // heartbeats carry the commit index of the last block to the followers
    for (const o of outcomes)
      assert.deepEqual([o.txId, o.settled, o.inLedgerWhenAcked], [o.txId, 'ok', true]);
    assertSameLedgers(n, n.ids);
    const ordered = allTxIds(n, leader);
    assertNoDuplicates(ordered);
    assert.deepEqual([...ordered].sort(), outcomes.map((o) => o.txId).sort());
    assert.deepEqual(n.deliveryErrors, []);
  });

  // 1 round: the leader proposed, nobody else has the blocks; 2-3: the followers hold them in
  // their logs, uncommitted, so the new leader commits them and must drop the re-forwarded copies.
  for (const rounds of [1, 2, 3])
    test(`the leader halted with envelopes in flight (${rounds} delivery rounds): a new leader orders every kept envelope exactly once`, async () => {
      const n = await newNet(3);
      for (const id of n.ids) await n.start(id);
      const oldLeader = await n.electLeader();
      const followers = n.ids.filter((id) => id !== oldLeader);
      const outcomes: Outcome[] = [];
      for (let i = 0; i < 5; i++) for (const id of n.ids) outcomes.push(order(n, id, `tx-${id}-${i}`));
      // The forwards reach the leader and it proposes, but the followers have not acked them yet.
      n.deliverRound();
      await Promise.all(n.running().map((id) => n.chain(id).whenIdle()));
      for (let round = 1; round < rounds; round++) {
        n.deliverRound();
        await Promise.all(n.running().map((id) => n.chain(id).whenIdle()));
      }
      const pending = outcomes.filter((o) => o.on !== oldLeader && o.settled === 'pending');
      assert.ok(pending.length > 0, 'some forwarded envelopes are still unanswered when the leader stops');
      await n.stop(oldLeader);

      const newLeader = await n.electLeader();
      assert.notEqual(newLeader, oldLeader);
      await n.settle();
      n.clock.advance(BATCH_TIMEOUT_MS);
      await n.settle();
      await n.tick(2);

      for (const o of outcomes) {
        if (o.on === oldLeader) {
          // The halted node's own clients were answered, one way or the other.
          assert.notEqual(o.settled, 'pending', o.txId);
          if (o.settled === 'refused') assert.equal(o.error?.kind, 'unavailable');
        } else {
          assert.deepEqual([o.txId, o.settled, o.inLedgerWhenAcked], [o.txId, 'ok', true]);
        }
      }
      assertSameLedgers(n, followers);
      const ordered = allTxIds(n, newLeader);
      assertNoDuplicates(ordered);
      const acknowledged = outcomes.filter((o) => o.settled === 'ok').map((o) => o.txId);
      for (const tx of acknowledged) assert.ok(ordered.includes(tx), `${tx} acknowledged but not in a block`);
      for (const tx of ordered)
        assert.ok(
          outcomes.some((o) => o.txId === tx),
          `${tx} was never submitted`,
        );

      // The old leader comes back on its WAL and ledger and catches up without writing a block twice.
      await n.start(oldLeader);
      await n.tick(5);
      await n.settle();
      assertSameLedgers(n, n.ids);
      assert.deepEqual(n.deliveryErrors, []);
    });

  test('a chain restarted on its WAL writes no block twice, and rewrites a block its ledger lost', async () => {
    const n = await newNet(3);
    for (const id of n.ids) await n.start(id);
    let leader = await n.electLeader();
    for (let i = 0; i < 6; i++) order(n, leader, `first-${i}`);
    await n.settle();
    await n.tick(2);
    assertSameLedgers(n, n.ids);
    const heightBefore = n.ledgers.get(1)!.length;
    assert.equal(heightBefore, 3);

    // Every chain stops and starts again on the same WAL and ledger.
    for (const id of n.ids) await n.stop(id);
    for (const id of n.ids) await n.start(id);
    for (const id of n.ids) {
      // The Raft node starts from the raft_index of the ledger's last block: entries up to it are
      // not handed over again (not even to be skipped as old blocks).
      assert.equal(n.chain(id).raftNode!.appliedIndex, raftMetadataOf(n.ledgers.get(id)!.at(-1)!)!.raftIndex);
    }
    leader = await n.electLeader();
    await n.tick(3);
    for (const id of n.ids) {
      assert.equal(n.ledgers.get(id)!.length, heightBefore, `height of ${id}`);
      assert.deepEqual(
        n.logs.get(id)!.filter((l) => /forced to catch up/.test(l.msg)),
        [],
        `chain ${id} was handed blocks it had written`,
      );
    }
    for (const id of n.ids) assert.equal(n.chain(id).errored(), undefined);

    // A follower whose ledger lost its last block (written to Raft's WAL, not yet to the block
    // store) writes exactly that block again from the WAL.
    const follower = n.ids.find((id) => id !== leader)!;
    const lost = n.ledgers.get(follower)!.at(-1)!;
    await n.stop(follower);
    n.truncateLedger(follower, 1);
    await n.start(follower);
    await n.tick(3);
    assert.equal(headerHash(n.ledgers.get(follower)!.at(-1)!), headerHash(lost));

    const later = order(n, follower, 'after-restart');
    await n.settle();
    n.clock.advance(BATCH_TIMEOUT_MS);
    await n.settle();
    await n.tick(2);
    assert.deepEqual([later.settled, later.inLedgerWhenAcked], ['ok', true]);
    assertSameLedgers(n, n.ids);
    assertNoDuplicates(allTxIds(n, leader));
    assert.deepEqual(n.deliveryErrors, []);
  });

  test('snapshots every SnapshotIntervalSize; a member down meanwhile catches up by pulling blocks', async () => {
    const n = await newNet(3);
    // A snapshot after every block: the leader's log soon no longer reaches a stopped member.
    n.snapshotIntervalSize = 1;
    for (const id of n.ids) await n.start(id);
    const leader = await n.electLeader();
    const lagging = n.ids.find((id) => id !== leader)!;
    for (let i = 0; i < 3; i++) order(n, leader, `before-${i}`);
    await n.settle();
    await n.tick(2);
    await n.stop(lagging);
    const outcomes = Array.from({ length: 30 }, (_, i) => order(n, leader, `meanwhile-${i}`));
    await n.settle();
    await n.tick(3);
    assert.ok(outcomes.every((o) => o.settled === 'ok'));
    assert.ok(
      n.logs.get(leader)!.some((l) => /took a Raft snapshot at block \[11\]/.test(l.msg)),
      'the leader snapshots after each block',
    );
    assert.ok(readdirSync(n.dir(`n${leader}/snap/${CHANNEL}`)).some((f) => f.endsWith('.snap')));

    await n.start(lagging);
    await n.tick(5);
    assert.deepEqual(n.pulled, [{ by: lagging, from: 2, to: 11 }]);
    assertSameLedgers(n, n.ids);
    assert.equal(n.chain(lagging).errored(), undefined);

    // The caught-up member orders again, and restarts on its WAL (now resting on the snapshot).
    const after = order(n, lagging, 'after-catch-up');
    await n.settle();
    n.clock.advance(BATCH_TIMEOUT_MS);
    await n.settle();
    await n.tick(2);
    assert.deepEqual([after.settled, after.inLedgerWhenAcked], ['ok', true]);
    await n.stop(lagging);
    await n.start(lagging);
    await n.tick(3);
    assert.equal(n.chain(lagging).errored(), undefined);
    assertSameLedgers(n, n.ids);
    assertNoDuplicates(allTxIds(n, leader));
    assert.equal(allTxIds(n, lagging).length, 34);
    assert.deepEqual(n.deliveryErrors, []);
  });

  test('a config block adds a fourth consenter, which joins and votes; another removes one, which halts', async () => {
    const n = await newNet(3);
    for (const id of n.ids) await n.start(id);
    let leader = await n.electLeader();
    for (let i = 0; i < 3; i++) order(n, leader, `before-${i}`);
    await n.settle();
    await n.tick(2);

    // The config block adding node 4: written everywhere with IDs [1,2,3,4] and next ID 5; its
    // ConfChange is committed before anything else is ordered.
    const add = order(n, leader, 'add-4', { config: true, env: n.consenterSetConfig([1, 2, 3, 4], 'add-4') });
    const during = order(n, leader, 'during-add');
    await n.settle();
    await n.tick(3);
    assert.equal(add.settled, 'ok');
    const addBlock = n.ledgers.get(leader)!.find((b) => b.txIds.includes('add-4'))!;
    assert.deepEqual(raftMetadataOf(addBlock), {
      consenterIds: [1, 2, 3, 4],
      nextConsenterId: 5,
      raftIndex: raftMetadataOf(addBlock)!.raftIndex,
    });
    for (const id of [1, 2, 3]) assert.deepEqual(n.chain(id).raftNode!.confState().voters, [1, 2, 3, 4]);
    assert.ok(n.logs.get(leader)!.some((l) => /adds node 4, pause accepting transactions/.test(l.msg)));

    // Node 4 onboards its ledger up to that block (as a follower would by pulling) and joins.
    n.consenters = [1, 2, 3, 4].map((id) => n.consenterOf(id));
    n.onboard(4, leader, addBlock.number);
    await n.start(4, { join: true });
    n.clock.advance(BATCH_TIMEOUT_MS);
    await n.settle();
    await n.tick(5);
    assert.equal(during.settled, 'ok');
    const viaNew = order(n, 4, 'via-4');
    await n.settle();
    n.clock.advance(BATCH_TIMEOUT_MS);
    await n.settle();
    await n.tick(3);
    assert.deepEqual([viaNew.settled, viaNew.inLedgerWhenAcked], ['ok', true]);
    for (const id of [1, 2, 3])
      assert.deepEqual(n.ledgers.get(id)!.map(headerHash), n.ledgers.get(leader)!.map(headerHash));
    assert.deepEqual(
      n.ledgers.get(4)!.map(headerHash),
      n.ledgers.get(leader)!.map(headerHash),
      'the new node holds the same chain',
    );

    // Removing a follower other than 4: the others go on with three, the removed one halts.
    const removed = [1, 2, 3].find((id) => id !== leader)!;
    const rest = [1, 2, 3, 4].filter((id) => id !== removed);
    const removedChain = n.chain(removed);
    const remove = order(n, leader, 'remove', { config: true, env: n.consenterSetConfig(rest, 'remove') });
    await n.settle();
    await n.tick(5);
    assert.equal(remove.settled, 'ok');
    await n.settle();
    assert.match(removedChain.errored()?.message ?? '', /removed from the consenters/);
    assert.deepEqual(n.evicted, [removed], 'the consenter is told, to make it a follower');
    for (const id of rest) assert.deepEqual(n.chain(id).raftNode!.confState().voters, rest);
    leader = await n.electLeader();
    const after = order(
      n,
      rest.find((id) => id !== leader)!,
      'after-remove',
    );
    await n.settle();
    n.clock.advance(BATCH_TIMEOUT_MS);
    await n.settle();
    await n.tick(3);
    assert.equal(after.settled, 'ok');
    for (const id of rest)
      assert.deepEqual(n.ledgers.get(id)!.map(headerHash), n.ledgers.get(leader)!.map(headerHash));
    assertNoDuplicates(allTxIds(n, leader));
    assert.deepEqual(n.deliveryErrors, []);
  });

  test('a leader asked to order its own removal hands leadership over first; the new leader orders it', async () => {
    const n = await newNet(3);
    for (const id of n.ids) await n.start(id);
    const leader = await n.electLeader();
    const leaderChain = n.chain(leader);
    order(n, leader, 'before');
    await n.settle();
    n.clock.advance(BATCH_TIMEOUT_MS);
    await n.settle();
    const rest = n.ids.filter((id) => id !== leader);
    const removal = order(n, leader, 'remove-leader', {
      config: true,
      env: n.consenterSetConfig(rest, 'remove-leader'),
    });
    await n.settle();
    await n.tick(20);
    assert.ok(
      n.logs.get(leader)!.some((l) => /removes or rotates the certificate of this leader/.test(l.msg)),
    );
    assert.equal(removal.settled, 'ok');
    const block = n.ledgers.get(rest[0]!)!.find((b) => b.txIds.includes('remove-leader'))!;
    const newLeader = rest.find((id) => n.chain(id).leader === id)!;
    assert.ok(newLeader !== undefined, 'one of the others leads');
    assert.deepEqual(raftMetadataOf(block)!.consenterIds, rest);
    await n.settle();
    assert.match(leaderChain.errored()?.message ?? '', /removed from the consenters/);
    assert.deepEqual(n.evicted, [leader]);
    for (const id of rest) assert.deepEqual(n.chain(id).raftNode!.confState().voters, rest);
    const after = order(
      n,
      rest.find((id) => id !== newLeader)!,
      'after',
    );
    await n.settle();
    n.clock.advance(BATCH_TIMEOUT_MS);
    await n.settle();
    await n.tick(3);
    assert.equal(after.settled, 'ok');
    assertNoDuplicates(allTxIds(n, newLeader));
  });

  test('a member removed while down suspects its eviction once leaderless, pulls up to the removal and halts', async () => {
    const n = await newNet(3);
    n.evictionSuspicionMs = 3_000;
    for (const id of n.ids) await n.start(id);
    const leader = await n.electLeader();
    const removed = n.ids.find((id) => id !== leader)!;
    order(n, leader, 'before');
    await n.settle();
    n.clock.advance(BATCH_TIMEOUT_MS);
    await n.settle();
    await n.tick(2);
    await n.stop(removed);
    const rest = n.ids.filter((id) => id !== removed);
    const removal = order(n, leader, 'remove', { config: true, env: n.consenterSetConfig(rest, 'remove') });
    await n.settle();
    await n.tick(5);
    assert.equal(removal.settled, 'ok');
    order(n, leader, 'after-removal');
    await n.settle();
    n.clock.advance(BATCH_TIMEOUT_MS);
    await n.settle();
    await n.tick(2);
    const removalBlock = n.ledgers.get(leader)!.find((b) => b.txIds.includes('remove'))!;

    // Back up, the removed member hears from no leader (the others no longer talk to it).
    n.isolate(removed);
    const chain = await n.start(removed);
    await n.tick(25);
    assert.deepEqual(n.evicted, [], 'not before EvictionSuspicion has passed');
    await n.tick(10);
    assert.deepEqual(n.evicted, [removed]);
    const logs = n.logs.get(removed)!.map((l) => l.msg);
    assert.ok(logs.some((m) => /Suspecting our own eviction from the channel for 3s/.test(m)), logs.join('\n'));
    assert.ok(logs.some((m) => m === `Last config block was found to be block [${removalBlock.number}]`));
    assert.ok(logs.some((m) => /being removed from replica set/.test(m)));
    assert.deepEqual(n.pulled.at(-1), { by: removed, from: 2, to: removalBlock.number });
    // It holds the chain up to and with the block that removed it, verified as pulled.
    assert.deepEqual(
      n.ledgers.get(removed)!.map(headerHash),
      n.ledgers.get(leader)!.slice(0, removalBlock.number + 1).map(headerHash),
    );
    assert.match(chain.errored()?.message ?? '', /removed from the consenters/);
    assert.equal(chain.raftNode, undefined, 'halted');
  });

  test('a member that applied its removal but missed the ConfChange finds its eviction in its own ledger', async () => {
    const n = await newNet(3);
    n.evictionSuspicionMs = 2_000;
    for (const id of n.ids) await n.start(id);
    const leader = await n.electLeader();
    const removed = n.ids.find((id) => id !== leader)!;
    const chain = n.chain(removed);
    const rest = n.ids.filter((id) => id !== removed);
    order(n, leader, 'remove', { config: true, env: n.consenterSetConfig(rest, 'remove') });
    // Deliver round by round until the removed member wrote the config block, then cut it off:
    // the ConfChange that follows never reaches it.
    for (let round = 0; !n.ledgers.get(removed)!.some((b) => b.txIds.includes('remove')); round++) {
      assert.ok(round < 200, 'the removal block reached the member');
      await Promise.all(n.running().map((id) => n.chain(id).whenIdle()));
      n.deliverRound();
      if (round % 5 === 4) n.clock.advance(TICK_MS);
    }
    n.isolate(removed);
    await n.tick(40);
    assert.deepEqual(n.evicted, [removed]);
    assert.ok(
      n.logs.get(removed)!.some((l) => /Detected our own eviction/.test(l.msg)),
      n.logs.get(removed)!.map((l) => l.msg).join('\n'),
    );
    assert.match(chain.errored()?.message ?? '', /removed from the consenters/);
    for (const id of rest) assert.deepEqual(n.chain(id).raftNode!.confState().voters, rest);
  });

  test('a leaderless member that is still a consenter says it cannot confirm its eviction, and goes on', async () => {
    const n = await newNet(3);
    n.evictionSuspicionMs = 2_000;
    for (const id of n.ids) await n.start(id);
    const leader = await n.electLeader();
    const cutOff = n.ids.find((id) => id !== leader)!;
    n.isolate(cutOff);
    await n.tick(90);
    const checks = n.logs.get(cutOff)!.filter((l) => /Cannot confirm our own eviction/.test(l.msg));
    assert.ok(checks.length >= 2, `checked every 2 s of leaderlessness, not only once: ${checks.length}`);
    assert.deepEqual(n.evicted, []);
    n.heal(cutOff);
    await n.electLeader();
    const after = order(n, cutOff, 'after-heal');
    await n.settle();
    n.clock.advance(BATCH_TIMEOUT_MS);
    await n.settle();
    await n.tick(2);
    assert.deepEqual([after.settled, after.inLedgerWhenAcked], ['ok', true]);
  });

  test('with two of three stopped, order() is refused unavailable: no Raft leader', async () => {
    const n = await newNet(3);
    for (const id of n.ids) await n.start(id);
    const leader = await n.electLeader();
    const survivor = n.ids.find((id) => id !== leader)!;
    for (const id of n.ids) if (id !== survivor) await n.stop(id);
    // The survivor's election timeout passes; it campaigns and cannot win.
    await n.tick(30);
    assert.equal(n.chain(survivor).leader, 0);
    const refused = order(n, survivor, 'lonely');
    await n.settle();
    assert.equal(refused.settled, 'refused');
    assert.ok(refused.error instanceof OrdererError);
    assert.equal(refused.error.kind, 'unavailable');
    assert.match(refused.error.message, /no Raft leader/);
    assert.equal(n.chain(survivor).errored()?.message.includes('no Raft leader'), true);
    await assert.rejects(n.chain(survivor).waitReady(), /no Raft leader/);
  });

  test('a config message is cut alone and written as a config block; stale messages are re-validated', async () => {
    const n = await newNet(3);
    for (const id of n.ids) await n.start(id);
    const leader = await n.electLeader();
    const follower = n.ids.find((id) => id !== leader)!;
    const before = order(n, follower, 'before');
    const config = order(n, follower, 'config-1', { config: true });
    await n.settle();
    await n.tick(2);
    assert.deepEqual([before.settled, config.settled], ['ok', 'ok']);
    for (const id of n.ids) {
      assert.deepEqual(n.support(id).txIds.slice(1), [['before'], ['config-1']]);
      assert.deepEqual(
        n.support(id).blocks.map((b) => b.kind),
        ['config', 'normal', 'config'],
      );
      assert.equal(n.support(id).sequence(), 1, `config sequence of ${id}`);
    }

    // Validated at sequence 0, ordered at 1: the leader re-validates; one passes, one is refused.
    n.support(leader).validateNormal = (env) => {
      if (env.channelHeader.txId === 'stale-bad')
        throw new Error('creator no longer satisfies /Channel/Writers');
    };
    const good = order(n, follower, 'stale-good', { configSeq: 0 });
    const bad = order(n, follower, 'stale-bad', { configSeq: 0 });
    await n.settle();
    n.clock.advance(BATCH_TIMEOUT_MS);
    await n.settle();
    await n.tick(2);
    assert.equal(n.support(leader).normalValidations, 2);
    assert.deepEqual([good.settled, good.inLedgerWhenAcked], ['ok', true]);
    // The leader drops a forwarded envelope that fails re-validation and cannot tell the follower
    // (Step has no answers): the follower does not send that leader a copy (a Go leader would order
    // a copy twice), and after twenty election timeouts refuses it as unavailable, never
    // acknowledged, so no Broadcast waits without end.
    assert.equal(bad.settled, 'pending');
    const validationsBefore = n.support(leader).normalValidations;
    await n.tick(10 * 22);
    assert.equal(bad.settled, 'refused');
    assert.equal(bad.error?.kind, 'unavailable');
    assert.match(bad.error!.message, /not ordered within 20000 ms .*it was not acknowledged/);
    assert.equal(n.support(leader).normalValidations, validationsBefore, 'no copy sent to the same leader');
    assert.ok(!allTxIds(n, leader).includes('stale-bad'));
    // The leader's own client hears why.
    const ownBad = order(n, leader, 'stale-bad', { configSeq: 0 });
    await n.settle();
    assert.equal(ownBad.settled, 'refused');
    assert.equal(ownBad.error?.kind, 'bad-request');
    assert.match(ownBad.error!.message, /no longer satisfies/);
    assertSameLedgers(n, n.ids);
  });

  test('ClusterChainTransport maps Raft IDs to cluster members and keeps the envelope bytes', async () => {
    const member = (id: number): ClusterMember => ({
      id,
      host: `orderer${id}`,
      port: 7050,
      clientTlsCert: Buffer.alloc(0),
      serverTlsCert: Buffer.alloc(0),
    });
    const consensus: { to: number; request: orderer.IConsensusRequest }[] = [];
    const submits: { to: number; bytes: Buffer }[] = [];
    const transport = new ClusterChainTransport(
      { channel: CHANNEL, members: [member(2), member(3)] },
      {
        client: {
          sendConsensus: (to, request) => {
            consensus.push({ to: to.id, request });
            return to.id === 2;
          },
          sendSubmit: async (to, request) => {
            submits.push({ to: to.id, bytes: Buffer.from(orderer.SubmitRequest.encode(request).finish()) });
          },
        },
      },
    );
    assert.equal(transport.sendConsensus(2, Uint8Array.of(1, 2)), true);
    assert.equal(transport.sendConsensus(3, Uint8Array.of(3)), false);
    assert.equal(transport.sendConsensus(9, Uint8Array.of(4)), false, 'unknown ID');
    assert.deepEqual(
      consensus.map((c) => [c.to, c.request.channel, [...c.request.payload!]]),
      [
        [2, CHANNEL, [1, 2]],
        [3, CHANNEL, [3]],
      ],
    );
    const env = makeEnvelope('fwd', { channelId: CHANNEL });
    await transport.sendSubmit(3, env.raw, 4);
    const sent = orderer.SubmitRequest.decode(submits[0]!.bytes);
    assert.equal(submits[0]!.to, 3);
    assert.equal(Number(sent.lastValidationSeq), 4);
    assert.deepEqual(Buffer.from(common.Envelope.encode(sent.payload!).finish()), env.raw);
    await assert.rejects(transport.sendSubmit(7, env.raw, 0), /not a known consenter/);
  });

  test('a failed block write halts the chain: its clients are refused unavailable, errored() says why', async () => {
    const n = await newNet(1);
    await n.start(1);
    await n.electLeader();
    n.support(1).beforeWrite = () => {
      throw new Error('ENOSPC: no space left on device');
    };
    const outcomes = ['a', 'b', 'c'].map((tx) => order(n, 1, tx));
    await n.settle();
    for (const o of outcomes) {
      assert.equal(o.settled, 'refused', o.txId);
      assert.equal(o.error?.kind, 'unavailable');
      assert.match(o.error!.message, /ENOSPC/);
    }
    assert.match(n.chain(1).errored()?.message ?? '', /halted.*ENOSPC/);
    assert.deepEqual(n.support(1).txIds, [['genesis']]);
    const after = order(n, 1, 'd');
    await n.settle();
    assert.equal(after.settled, 'refused');
  });

  test('cluster.consensus refuses a Raft message whose sender is not the authenticated consenter', async () => {
    const n = await newNet(3);
    for (const id of n.ids) await n.start(id);
    await n.electLeader();
    const node = n.chain(1).raftNode!;
    const status = node.status();
    const spoofed = encodeMessage({
      type: MessageType.MsgHeartbeat,
      from: 2,
      to: 1,
      term: status.hardState.term,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
      snapshot: undefined,
      context: undefined,
    });
    await assert.rejects(
      n.chain(1).cluster.consensus({ channel: CHANNEL, payload: spoofed }, 3),
      (err: unknown) => err instanceof OrdererError && err.kind === 'forbidden',
    );
    await assert.rejects(
      n.chain(1).cluster.consensus({ channel: CHANNEL, payload: Uint8Array.of(0xff, 0xff) }, 2),
      (err: unknown) => err instanceof OrdererError && err.kind === 'bad-request',
    );
  });

  test('a forward the transport cannot send is refused unavailable at once, naming the leader', async () => {
    const n = await newNet(3);
    for (const id of n.ids) await n.start(id);
    const leader = await n.electLeader();
    const follower = n.ids.find((id) => id !== leader)!;
    n.isolate(leader);
    const env = makeEnvelope('cut-off', { channelId: CHANNEL });
    const outcome = order(n, follower, 'cut-off', { env });
    await n.settle();
    assert.equal(outcome.settled, 'refused');
    assert.equal(outcome.error?.kind, 'unavailable');
    assert.match(
      outcome.error!.message,
      new RegExp(`failed to forward the envelope to the Raft leader ${leader}`),
    );

    // The follower keeps it for the next leader; the client's retry of the same bytes is
    // answered once it is in a block, and it is there once.
    n.heal(leader);
    const newLeader = await n.electLeader();
    const retry = order(n, follower, 'cut-off', { env });
    await n.settle();
    n.clock.advance(BATCH_TIMEOUT_MS);
    await n.settle();
    await n.tick(2);
    assert.deepEqual([retry.settled, retry.inLedgerWhenAcked], ['ok', true]);
    assert.deepEqual(
      allTxIds(n, newLeader).filter((tx) => tx === 'cut-off'),
      ['cut-off'],
    );
    assertSameLedgers(n, n.ids);
  });

  test('a chain that cannot start says why in errored(), waitReady() and order()', async () => {
    const n = await newNet(1);
    const support = new FakeConsenterSupport({ channelId: CHANNEL, blocks: [genesisBlock()] });
    const chain = new EtcdraftChain(
      {
        raftId: 1,
        blockMetadata: { consenterIds: [1], nextConsenterId: 2, raftIndex: 0 },
        consenters: [],
        // ElectionTick must exceed HeartbeatTick: RaftNode refuses these options.
        raftOptions: {
          tickIntervalMs: 100,
          electionTick: 1,
          heartbeatTick: 1,
          maxInflightBlocks: 5,
          snapshotIntervalSize: 1 << 24,
        },
        walDir: n.dir('bad/wal'),
        snapDir: n.dir('bad/snap'),
      },
      {
        support,
        transport: { sendConsensus: () => false, sendSubmit: () => Promise.resolve() },
      },
    );
    chain.start();
    await chain.whenStarted();
    assert.match(chain.errored()?.message ?? '', /failed to start.*electionTick/);
    await assert.rejects(chain.waitReady(), /failed to start/);
    await assert.rejects(chain.order(makeEnvelope('x', { channelId: CHANNEL }), 0), (err: unknown) => {
      return err instanceof OrdererError && err.kind === 'unavailable';
    });
    await chain.halt();
  });

  test('a Raft ID outside the consenter IDs is refused at construction', () => {
    assert.throws(
      () =>
        new EtcdraftChain(
          {
            raftId: 4,
            blockMetadata: { consenterIds: [1, 2, 3], nextConsenterId: 4, raftIndex: 0 },
            consenters: [],
            raftOptions: {
              tickIntervalMs: 100,
              electionTick: 10,
              heartbeatTick: 1,
              maxInflightBlocks: 5,
              snapshotIntervalSize: 1 << 24,
            },
            walDir: '/nonexistent',
            snapDir: '/nonexistent',
          },
          {
            support: new FakeConsenterSupport({ channelId: CHANNEL }),
            transport: { sendConsensus: () => false, sendSubmit: () => Promise.resolve() },
          },
        ),
      /Raft ID 4 is not one of the consenter IDs \[1, 2, 3\]/,
    );
  });
});
