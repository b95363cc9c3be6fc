// The Raft node driver over the real core and a real WAL: elections on ticks of a ManualClock,
// replication applied once and in order everywhere, leader loss, restart from the WAL without
// re-applying, partition and heal, and the persist-before-send order etcd requires.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ManualClock } from '../../../../src/clock.js';
import {
  RaftNode,
  initialCampaigner,
  isRaftNodeError,
  type RaftNodeWal,
} from '../../../../src/consensus/etcdraft/node.js';
import {
  ConfChangeType,
  ErrProposalDropped,
  MessageType,
  emptyHardState,
  newEntry,
  newMessage,
  type Message,
} from '../../../../src/consensus/etcdraft/raft/index.js';
import { RaftWal, type RaftSave } from '../../../../src/consensus/etcdraft/storage/index.js';
import { withTempDir } from '../../../support/ledger.js';
import {
  CHANNEL,
  RaftNodeNet,
  TICK_MS,
  payload,
  recordingWal,
  snapshotData,
  text,
  type OrderEvent,
} from '../../../support/raft-node-net.js';

async function withNet(
  size: number,
  run: (net: RaftNodeNet) => Promise<void>,
  settings: ConstructorParameters<typeof RaftNodeNet>[1] = {},
): Promise<void> {
  const net = new RaftNodeNet(size, settings);
  await net.init();
  try {
    await run(net);
  } finally {
    await net.close();
  }
}

const appliedTexts = (net: RaftNodeNet, id: number): string[] => net.ledgers.get(id)!.applied.map(text);

function assertDeliveredOnce(net: RaftNodeNet, id: number): void {
  const delivered = net.ledgers.get(id)!.delivered;
  for (let i = 1; i < delivered.length; i++)
    assert.ok(
      delivered[i]! > delivered[i - 1]!,
      `node ${id} was handed index ${delivered[i]} after ${delivered[i - 1]}: an entry applied twice or out of order`,
    );
}

test('initialCampaigner is Fabric varint(sha256(channel)[24:]) % n + 1', () => {
  for (const channel of ['ch', 'mychannel', 'system-channel', 'a']) {
    const tail = createHash('sha256').update(channel).digest().subarray(24);
    // An independent decoding: a varint is the little-endian base-128 digits up to the first byte < 0x80.
    const end = [...tail].findIndex((b) => b < 0x80);
    const digits = end < 0 ? [] : [...tail].slice(0, end + 1);
    const value = digits.reduceRight((acc, b) => acc * 128n + BigInt(b & 0x7f), 0n);
    for (const n of [1, 3, 5]) assert.equal(initialCampaigner(channel, n), Number(value % BigInt(n)) + 1);
  }
});

test('a fresh 3-node group elects the picked campaigner early and applies 100 proposals in the same order once', async () => {
  await withNet(3, async (net) => {
    for (const id of net.ids) await net.start(id);
    const picked = initialCampaigner(CHANNEL, 3);
    // The picked node campaigns after 2×HeartbeatTick = 2 ticks, long before any election timeout
    // (10..19 ticks) could fire elsewhere.
    await net.tick(3);
    assert.equal(net.leader(), picked, 'the node Fabric picks campaigns first and wins');
    const payloads = Array.from({ length: 100 }, (_, i) => payload(i));
    await net.proposeAll(picked, payloads);
    // Followers learn the last commit index from the next heartbeat.
    await net.tick(2);
    const expected = payloads.map((p) => new TextDecoder().decode(p));
    for (const id of net.ids) {
      assert.deepEqual(appliedTexts(net, id), expected, `node ${id} applied every proposal in order`);
      assertDeliveredOnce(net, id);
      // 3 bootstrap conf changes, the leader's empty entry, then the 100 proposals.
      assert.equal(net.node(id).appliedIndex, 104);
      assert.deepEqual([...net.node(id).confState().voters].sort(), [1, 2, 3]);
    }
    const changes = net.leaderChanges.filter((c) => c.leader === picked);
    assert.deepEqual(changes.map((c) => c.id).sort(), [1, 2, 3], 'every node reported the new leader');
    const term = net.node(picked).status().hardState.term;
    assert.deepEqual(
      changes.map((c) => c.term),
      [term, term, term],
      'with the term it was elected in',
    );
    assert.deepEqual(net.errors, []);
  });
});

test('a follower rejects proposals with ErrProposalDropped (no proposal forwarding)', async () => {
  await withNet(3, async (net) => {
    for (const id of net.ids) await net.start(id);
    const leader = await net.electLeader();
    const follower = net.ids.find((id) => id !== leader)!;
    assert.throws(
      () => net.node(follower).propose(payload(1)),
      (err) => err === ErrProposalDropped,
    );
  });
});

test('when the leader stops, a new leader is elected and proposals continue', async () => {
  await withNet(3, async (net) => {
    for (const id of net.ids) await net.start(id);
    const first = await net.electLeader();
    await net.proposeAll(first, [payload(0), payload(1)]);
    await net.tick(1);
    await net.stop(first);
    const second = await net.electLeader();
    assert.notEqual(second, first);
    await net.proposeAll(second, [payload(2), payload(3)]);
    await net.tick(2);
    for (const id of net.running()) {
      assert.deepEqual(appliedTexts(net, id), ['block-0', 'block-1', 'block-2', 'block-3']);
      assertDeliveredOnce(net, id);
    }
    // The old leader comes back from its WAL as a follower and catches up.
    await net.start(first);
    await net.tick(3);
    assert.equal(net.leader(), second);
    assert.deepEqual(appliedTexts(net, first), ['block-0', 'block-1', 'block-2', 'block-3']);
    assertDeliveredOnce(net, first);
    assert.deepEqual(net.errors, []);
  });
});

test('a node restarted from its WAL does not bootstrap again, re-applies nothing and catches up', async () => {
  await withNet(3, async (net) => {
    for (const id of net.ids) await net.start(id);
    const leader = await net.electLeader();
    await net.proposeAll(leader, [payload(0), payload(1), payload(2)]);
    await net.tick(1);
    const follower = net.ids.find((id) => id !== leader)!;
    const appliedBefore = net.node(follower).appliedIndex;
    const termBefore = net.node(follower).status().hardState.term;
    await net.stop(follower);
    await net.proposeAll(leader, [payload(3), payload(4)]);

    const restarted = await net.start(follower);
    // Restarted from the WAL: its term and commit are back before any message arrives.
    assert.equal(restarted.status().hardState.term, termBefore);
    assert.ok(restarted.status().hardState.commit >= appliedBefore);
    await net.tick(3);
    assert.deepEqual(appliedTexts(net, follower), ['block-0', 'block-1', 'block-2', 'block-3', 'block-4']);
    assertDeliveredOnce(net, follower);
    assert.equal(restarted.appliedIndex, net.node(leader).appliedIndex);
    // Membership was rebuilt from the replayed conf changes (the WAL has no snapshot).
    assert.deepEqual([...restarted.confState().voters].sort(), [1, 2, 3]);
    assert.deepEqual(net.errors, []);
  });
});

test('a restart with an applied index below the commit hands over exactly the entries after it', async () => {
  await withNet(3, async (net) => {
    for (const id of net.ids) await net.start(id);
    const leader = await net.electLeader();
    await net.proposeAll(leader, [payload(0), payload(1), payload(2)]);
    await net.tick(1);
    const follower = net.ids.find((id) => id !== leader)!;
    await net.stop(follower);
    // The application had written only up to block-0 when it died (its raft_index says so).
    const ledger = net.ledgers.get(follower)!;
    const block0 = ledger.applied[0]!.index;
    ledger.applied.splice(1);
    ledger.delivered.splice(ledger.delivered.indexOf(block0) + 1);
    ledger.lastIndex = block0;
    const restarted = await net.start(follower);
    await net.settle();
    assert.deepEqual(appliedTexts(net, follower), ['block-0', 'block-1', 'block-2']);
    assertDeliveredOnce(net, follower);
    assert.equal(restarted.appliedIndex, net.node(leader).appliedIndex);
  });
});

test('a partitioned follower catches up after the partition heals', async () => {
  await withNet(3, async (net) => {
    for (const id of net.ids) await net.start(id);
    const leader = await net.electLeader();
    await net.proposeAll(leader, [payload(0)]);
    await net.tick(1);
    const follower = net.ids.find((id) => id !== leader)!;
    net.isolate(follower);
    const during = Array.from({ length: 20 }, (_, i) => payload(i + 1));
    await net.proposeAll(leader, during);
    // Long enough for the isolated node to time out and pre-campaign (PreVote keeps its term).
    await net.tick(30);
    assert.equal(appliedTexts(net, follower).length, 1, 'nothing reaches an isolated follower');
    const termDuring = net.node(follower).status().hardState.term;
    net.heal(follower);
    await net.tick(5);
    assert.equal(net.leader(), leader, 'PreVote: the healed follower did not disrupt the leader');
    assert.equal(net.node(follower).status().hardState.term, termDuring);
    const all = ['block-0', ...during.map((p) => new TextDecoder().decode(p))];
    for (const id of net.ids) {
      assert.deepEqual(appliedTexts(net, id), all);
      assertDeliveredOnce(net, id);
    }
  });
});

interface Durable {
  term: number;
  vote: number;
  lastIndex: number;
}

function applySave(d: Durable, save: RaftSave): void {
  if (save.snapshot) d.lastIndex = save.snapshot.metadata.index;
  if (save.entries && save.entries.length > 0) d.lastIndex = save.entries.at(-1)!.index;
  if (save.hardState) {
    d.term = save.hardState.term;
    d.vote = save.hardState.vote;
  }
}

// What a message claims about its sender's state must be durable when it is sent.
function checkCovered(d: Durable, from: number, m: Message): string | undefined {
  if (m.type === MessageType.MsgPreVote || m.type === MessageType.MsgPreVoteResp) return undefined;
  if (m.term > d.term) return `term ${m.term} sent while durable term is ${d.term}`;
  if (m.type === MessageType.MsgVote && (d.vote !== from || d.term !== m.term))
    return `vote request at term ${m.term} before its self-vote was durable`;
  if (m.type === MessageType.MsgVoteResp && !m.reject && (d.vote !== m.to || d.term !== m.term))
    return `vote for ${m.to} at term ${m.term} before it was durable (durable vote ${d.vote} at ${d.term})`;
  if (m.type === MessageType.MsgApp && m.entries.length > 0 && m.entries.at(-1)!.index > d.lastIndex)
    return `append up to ${m.entries.at(-1)!.index} sent while the durable log ends at ${d.lastIndex}`;
  if (m.type === MessageType.MsgAppResp && !m.reject && m.index > d.lastIndex)
    return `ack of index ${m.index} while the durable log ends at ${d.lastIndex}`;
  return undefined;
}

test('every message is sent only after the state it carries is durable (leader and followers)', async () => {
  const events: OrderEvent[] = [];
  await withNet(
    3,
    async (net) => {
      for (const id of net.ids) await net.start(id);
      const leader = await net.electLeader();
      await net.proposeAll(leader, [payload(0), payload(1)]);
      // Proposals in flight together: one Ready carries several entries while steps keep arriving.
      for (let i = 2; i < 12; i++) net.node(leader).propose(payload(i));
      await net.settle();
      await net.stop(leader);
      await net.electLeader();
      await net.tick(2);
    },
    { wrapWal: recordingWal(events), onSend: (id, message) => events.push({ id, kind: 'send', message }) },
  );
  const durable = new Map<number, Durable>();
  const outstanding = new Map<number, number>();
  let sends = 0;
  for (const e of events) {
    const d = durable.get(e.id) ?? { term: 0, vote: 0, lastIndex: 0 };
    durable.set(e.id, d);
    if (e.kind === 'save-start') outstanding.set(e.id, (outstanding.get(e.id) ?? 0) + 1);
    else if (e.kind === 'save-done') {
      outstanding.set(e.id, outstanding.get(e.id)! - 1);
      applySave(d, e.save);
    } else if (e.kind === 'send') {
      sends++;
      assert.equal(outstanding.get(e.id) ?? 0, 0, `node ${e.id} sent while a save was not yet durable`);
      const problem = checkCovered(d, e.id, e.message);
      assert.equal(problem, undefined, `node ${e.id}: ${problem}`);
    }
  }
  assert.ok(sends > 50, `the run exercised the check (${sends} sends)`);
});

test('a Ready whose save is held sends nothing until the save is durable', async () => {
  const held: { release: () => void }[] = [];
  let holding = 0;
  const sends: number[] = [];
  let signalHeld = () => {};
  const firstHeld = new Promise<void>((resolve) => (signalHeld = resolve));
  const wrapWal = (id: number, wal: RaftNodeWal): RaftNodeWal => ({
    async save(update) {
      await wal.save(update);
      if (id === holding)
        await new Promise<void>((resolve) => {
          held.push({ release: resolve });
          signalHeld();
        });
    },
    saveSnapshot: (s) => wal.saveSnapshot(s),
  });
  await withNet(
    3,
    async (net) => {
      for (const id of net.ids) await net.start(id);
      const leader = await net.electLeader();
      const follower = net.ids.find((id) => id !== leader)!;
      holding = follower;
      sends.length = 0;
      net.node(leader).propose(payload(0));
      // Deliver the leader's append to the follower; its save then hangs (or, if it is never
      // held, settling ends and the assertion below says so).
      const settling = net.settle();
      const releaseAll = () => {
        holding = 0;
        for (const h of held.splice(0)) h.release();
      };
      try {
        await Promise.race([firstHeld, settling]);
        assert.equal(held.length, 1, "the follower is persisting the leader's append");
        assert.ok(!sends.includes(follower), 'the follower sent nothing while its save was not durable');
      } finally {
        releaseAll();
      }
      await settling;
      assert.ok(sends.includes(follower), 'the follower acked once its save was durable');
      await net.tick(1);
      for (const id of net.ids) assert.deepEqual(appliedTexts(net, id), ['block-0']);
    },
    { wrapWal, onSend: (id) => sends.push(id) },
  );
});

test('steps arriving while a Ready is persisting are handled in the next Ready', async () => {
  await withNet(3, async (net) => {
    for (const id of net.ids) await net.start(id);
    const leader = await net.electLeader();
    // Many proposals back to back: the first starts a save, the rest arrive during it.
    const payloads = Array.from({ length: 30 }, (_, i) => payload(i));
    for (const p of payloads) net.node(leader).propose(p);
    await net.settle();
    await net.tick(2);
    for (const id of net.ids) {
      assert.deepEqual(
        appliedTexts(net, id),
        payloads.map((p) => new TextDecoder().decode(p)),
      );
      assertDeliveredOnce(net, id);
    }
  });
});

test('a fresh start over a WAL that holds state is refused with a typed error', () => {
  const clock = new ManualClock();
  assert.throws(
    () =>
      new RaftNode(
        {
          id: 1,
          channel: CHANNEL,
          peers: [1, 2, 3],
          electionTick: 10,
          heartbeatTick: 1,
          maxSizePerMsg: 1024,
          maxInflightMsgs: 5,
          tickIntervalMs: TICK_MS,
          fresh: true,
        },
        {
          wal: { save: async () => {}, saveSnapshot: async () => {} },
          recovered: {
            hardState: { ...emptyHardState(), term: 2, commit: 1 },
            snapshot: undefined,
            entries: [newEntry({ term: 1, index: 1 })],
          },
          clock,
          transport: { send: () => {} },
          handler: { onCommitted: () => {} },
        },
      ),
    (err) => isRaftNodeError(err, 'invalid-options') && /restart it from the WAL/.test(err.message),
  );
});

test('a failed WAL save halts the node before anything is sent, with a typed error', async () => {
  const clock = new ManualClock();
  const sent: Message[] = [];
  const halts: Error[] = [];
  const node = new RaftNode(
    {
      id: 1,
      channel: CHANNEL,
      peers: [1, 2, 3],
      electionTick: 10,
      heartbeatTick: 1,
      maxSizePerMsg: 1024,
      maxInflightMsgs: 5,
      tickIntervalMs: TICK_MS,
    },
    {
      wal: {
        save: async () => {
          throw new Error('EIO: disk on fire');
        },
        saveSnapshot: async () => {},
      },
      recovered: { hardState: emptyHardState(), snapshot: undefined, entries: [] },
      clock,
      transport: { send: (m) => void sent.push(...m) },
      handler: { onCommitted: () => {}, onHalt: (e) => halts.push(e) },
    },
  );
  node.start();
  await node.whenIdle();
  assert.equal(halts.length, 1);
  assert.ok(isRaftNodeError(halts[0], 'halted') && /EIO: disk on fire/.test(halts[0].message));
  assert.deepEqual(sent, []);
  assert.throws(
    () => node.propose(payload(0)),
    (err) => isRaftNodeError(err, 'halted'),
  );
  assert.equal(clock.pendingTimers, 0, 'a halted node stops ticking');
  assert.throws(
    () => node.step(newMessage({ type: MessageType.MsgHeartbeat, from: 2, to: 1, term: 2 })),
    (err) => isRaftNodeError(err, 'halted'),
  );
});

test('stop() cancels the tick timers and refuses further input', async () => {
  await withNet(3, async (net) => {
    for (const id of net.ids) await net.start(id);
    await net.electLeader();
    const node = net.node(1);
    await node.stop();
    assert.throws(
      () => node.propose(payload(0)),
      (err) => isRaftNodeError(err, 'stopped'),
    );
    await net.stop(1);
    await net.stop(2);
    await net.stop(3);
    assert.equal(net.clock.pendingTimers, 0);
  });
});

test('a follower behind a compacted leader log catches up from a MsgSnap, and restarts from it', async () => {
  await withNet(3, async (net) => {
    for (const id of net.ids) await net.start(id);
    const leader = await net.electLeader();
    await net.proposeAll(leader, [payload(0)]);
    await net.tick(1);
    const follower = net.ids.find((id) => id !== leader)!;
    net.isolate(follower);
    const during = Array.from({ length: 12 }, (_, i) => payload(i + 1));
    await net.proposeAll(leader, during);
    await net.tick(1);
    const leaderNode = net.node(leader);
    const snapIndex = leaderNode.appliedIndex;
    await leaderNode.takeSnapshot(
      snapIndex,
      leaderNode.confState(),
      snapshotData(net.ledgers.get(leader)!.applied),
    );
    // The leader keeps only 4 entries behind the snapshot: the follower's next entry is gone.
    assert.ok(leaderNode.memoryStorage.firstIndex() > net.ledgers.get(follower)!.lastIndex + 1);
    const ledger = net.ledgers.get(follower)!;
    const deliveredBefore = ledger.delivered.length;
    net.heal(follower);
    await net.tick(3);
    const snaps = net.sent.filter((s) => s.message.type === MessageType.MsgSnap);
    assert.equal(snaps.length, 1, 'the leader sent one snapshot');
    assert.equal(snaps[0]!.message.to, follower);
    assert.equal(snaps[0]!.message.snapshot!.metadata.index, snapIndex);
    await net.proposeAll(leader, [payload(13)]);
    await net.tick(2);
    assert.deepEqual(ledger.snapshots, [snapIndex], 'the follower was told to catch up to the snapshot');
    const all = Array.from({ length: 14 }, (_, i) => `block-${i}`);
    assert.deepEqual(appliedTexts(net, follower), all);
    assertDeliveredOnce(net, follower);
    assert.ok(
      ledger.delivered.slice(deliveredBefore).every((i) => i > snapIndex),
      'entries covered by the snapshot were not handed over one by one',
    );
    assert.deepEqual([...net.node(follower).confState().voters].sort(), [1, 2, 3]);

    // Restarted, it recovers the snapshot from its WAL and hands over neither it nor its entries again.
    await net.stop(follower);
    const restarted = await net.start(follower);
    await net.tick(2);
    assert.deepEqual(ledger.snapshots, [snapIndex]);
    assert.deepEqual(appliedTexts(net, follower), all);
    assertDeliveredOnce(net, follower);
    assert.deepEqual([...restarted.confState().voters].sort(), [1, 2, 3]);
    assert.equal(restarted.status().softState.lead, leader);
    assert.deepEqual(net.errors, []);
  });
});

test('a node added by a conf change joins with an empty log and catches up from the leader', async () => {
  await withNet(
    4,
    async (net) => {
      for (const id of [1, 2, 3]) await net.start(id);
      const leader = await net.electLeader();
      await net.proposeAll(leader, [payload(0)]);
      net
        .node(leader)
        .proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 4, context: undefined, id: 0 });
      await net.settle();
      await net.tick(1);
      for (const id of [1, 2, 3]) assert.deepEqual([...net.node(id).confState().voters].sort(), [1, 2, 3, 4]);
      const joined = await net.start(4, { join: true });
      assert.equal(joined.status().hardState.term, 0, 'a joining node does not bootstrap');
      await net.tick(3);
      await net.proposeAll(leader, [payload(1)]);
      await net.tick(2);
      assert.deepEqual(appliedTexts(net, 4), ['block-0', 'block-1']);
      assert.deepEqual([...joined.confState().voters].sort(), [1, 2, 3, 4]);
      assertDeliveredOnce(net, 4);
      assert.equal(joined.appliedIndex, net.node(leader).appliedIndex);
      assert.deepEqual(net.errors, []);
    },
    { options: { peers: [1, 2, 3] } },
  );
});

test('a node stopped while a save is in flight neither sends nor applies that Ready, and hands it over after restart', async () => {
  let hold: (() => void) | undefined;
  let holding = 0;
  let signalHeld = () => {};
  const firstHeld = new Promise<void>((resolve) => (signalHeld = resolve));
  const wrapWal = (id: number, wal: RaftNodeWal): RaftNodeWal => ({
    async save(update) {
      await wal.save(update);
      if (id === holding && update.entries?.some((e) => e.data.length > 0) === true)
        await new Promise<void>((resolve) => {
          hold = resolve;
          signalHeld();
        });
    },
    saveSnapshot: (s) => wal.saveSnapshot(s),
  });
  await withNet(
    3,
    async (net) => {
      for (const id of net.ids) await net.start(id);
      const leader = await net.electLeader();
      const follower = net.ids.find((id) => id !== leader)!;
      await net.proposeAll(leader, [payload(0)]);
      await net.tick(1);
      const appliedBefore = net.ledgers.get(follower)!.applied.length;
      // The follower's save of block-1 is held, then the follower is stopped.
      holding = follower;
      net.node(leader).propose(payload(1));
      const sentBefore = net.sent.filter((s) => s.from === follower).length;
      const settling = net.settle();
      await Promise.race([firstHeld, settling]);
      assert.ok(hold !== undefined, 'the follower is persisting block-1');
      const stopping = net.stop(follower);
      holding = 0;
      hold();
      await stopping;
      await settling;
      await net.tick(1);
      assert.equal(
        net.sent.filter((s) => s.from === follower).length,
        sentBefore,
        'the stopped follower never acked block-1',
      );
      assert.equal(
        net.ledgers.get(follower)!.applied.length,
        appliedBefore,
        'a stopped node applies nothing',
      );
      await net.start(follower);
      await net.tick(2);
      assert.deepEqual(appliedTexts(net, follower), ['block-0', 'block-1']);
      assertDeliveredOnce(net, follower);
    },
    { wrapWal },
  );
});

test('a one-node channel elects itself on its campaign tick and commits alone', async () => {
  await withNet(1, async (net) => {
    const node = await net.start(1);
    await net.tick(2);
    assert.equal(net.leader(), 1);
    await net.proposeAll(1, [payload(0), payload(1)]);
    assert.deepEqual(appliedTexts(net, 1), ['block-0', 'block-1']);
    assert.equal(node.appliedIndex, 4);
  });
});

test('an application that fails to apply halts the node; the entries are handed over again after restart', async () => {
  await withTempDir(async (root) => {
    const open = () => RaftWal.open({ walDir: `${root}/wal`, snapDir: `${root}/snap`, channel: CHANNEL });
    const options = {
      id: 1,
      channel: CHANNEL,
      peers: [1],
      electionTick: 10,
      heartbeatTick: 1,
      maxSizePerMsg: 1024,
      maxInflightMsgs: 5,
      tickIntervalMs: TICK_MS,
    };
    const clock = new ManualClock();
    const first = await open();
    const halts: Error[] = [];
    const node = new RaftNode(options, {
      ...first,
      clock,
      transport: { send: () => {} },
      handler: {
        onCommitted: () => {
          throw new Error('ledger write failed: ENOSPC');
        },
        onHalt: (e) => halts.push(e),
      },
    });
    node.start();
    await node.whenIdle();
    assert.equal(halts.length, 1);
    assert.ok(isRaftNodeError(halts[0], 'halted'));
    assert.match(halts[0].message, /applying committed entries 1-1 failed \(ledger write failed: ENOSPC\)/);
    assert.equal(node.appliedIndex, 0, 'nothing counts as applied');
    await first.wal.close();

    const second = await open();
    const delivered: number[] = [];
    const again = new RaftNode(
      { ...options, appliedIndex: 0 },
      {
        ...second,
        clock,
        transport: { send: () => {} },
        handler: { onCommitted: (entries) => void delivered.push(...entries.map((e) => e.index)) },
      },
    );
    again.start();
    await again.whenIdle();
    assert.deepEqual(delivered, [1], 'the bootstrap entry is handed over after the restart');
    await again.stop();
    await second.wal.close();
  });
});

test('a MsgSnap that fails to send is reported failed, and the leader sends it again', async () => {
  let snapFailures = 0;
  await withNet(
    3,
    async (net) => {
      for (const id of net.ids) await net.start(id);
      const leader = await net.electLeader();
      const follower = net.ids.find((id) => id !== leader)!;
      net.isolate(follower);
      await net.proposeAll(
        leader,
        Array.from({ length: 10 }, (_, i) => payload(i)),
      );
      await net.tick(1);
      const leaderNode = net.node(leader);
      await leaderNode.takeSnapshot(
        leaderNode.appliedIndex,
        leaderNode.confState(),
        snapshotData(net.ledgers.get(leader)!.applied),
      );
      net.heal(follower);
      await net.tick(6);
      const snaps = net.sent.filter(
        (s) => s.message.type === MessageType.MsgSnap && s.message.to === follower,
      );
      assert.equal(snapFailures, 1);
      assert.ok(snaps.length >= 2, `the snapshot was sent again after the failure (${snaps.length} sends)`);
      assert.deepEqual(
        appliedTexts(net, follower),
        Array.from({ length: 10 }, (_, i) => `block-${i}`),
      );
      assert.deepEqual(net.errors, []);
    },
    {
      failSend: (_from, m) => {
        if (m.type !== MessageType.MsgSnap || snapFailures > 0) return false;
        snapFailures++;
        return true;
      },
    },
  );
});

test('transferLeadership hands leadership to the transferee, which then takes proposals', async () => {
  await withNet(3, async (net) => {
    for (const id of net.ids) await net.start(id);
    const leader = await net.electLeader();
    await net.proposeAll(leader, [payload(0)]);
    await net.tick(1);
    const transferee = net.ids.find((id) => id !== leader)!;
    net.node(leader).transferLeadership(transferee);
    await net.settle();
    assert.equal(net.leader(), transferee);
    for (const id of net.ids)
      assert.equal(net.node(id).leaderId, transferee, `node ${id} knows the new leader`);
    await net.proposeAll(transferee, [payload(1)]);
    await net.tick(1);
    for (const id of net.ids) assert.deepEqual(appliedTexts(net, id), ['block-0', 'block-1']);
  });
});
