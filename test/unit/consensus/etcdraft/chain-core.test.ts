// The etcdraft chain's decisions event by event: who orders (only a leader that applied its log),
// how blocks are cut and kept in flight, config blocks alone and pausing intake, re-validation at a
// stale sequence, and acknowledgement only once a block holding the envelope is applied, with
// re-forwarding to every new leader and copies of committed envelopes dropped.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../../src/clock.js';
import { BlockCutter } from '../../../../src/blockcutter/index.js';
import { ChainedBlockCreator } from '../../../../src/multichannel/blockcreator.js';
import { newBlock, blockHeaderHash } from '../../../../src/protoutil/block.js';
import { common } from '../../../../src/protos/index.js';
import {
  RaftChainCore,
  type RaftChainContext,
  type RaftChainEffect,
} from '../../../../src/consensus/etcdraft/chain-core.js';
import { StateType } from '../../../../src/consensus/etcdraft/raft/raft.js';
import { EntryType, newEntry, type Entry } from '../../../../src/consensus/etcdraft/raft/types.js';
import type { ReceivedEnvelope } from '../../../../src/consensus/types.js';
import { makeEnvelope, txIdsOfBlock } from '../../../support/solo.js';
import type { EtcdraftConsenter } from '../../../../src/channelconfig/etcdraft.js';
import { etcdraft, orderer } from '../../../../src/protos/index.js';

const LEADER = StateType.StateLeader;
const FOLLOWER = StateType.StateFollower;
const genesis = newBlock(0, Buffer.alloc(0), [makeEnvelope('genesis', { type: 1 }).raw]);

function setup(
  options: {
    raftId?: number;
    maxMessageCount?: number;
    lastBlock?: common.IBlock;
    appliedIndex?: number;
    snapshotIntervalSize?: number;
    consenters?: EtcdraftConsenter[];
    idleCutAfterMs?: number;
  } = {},
) {
  const clock = new ManualClock();
  const batchSize = {
    maxMessageCount: options.maxMessageCount ?? 3,
    absoluteMaxBytes: 1 << 20,
    preferredMaxBytes: 1 << 19,
  };
  const core = new RaftChainCore(
    {
      raftId: options.raftId ?? 1,
      lastBlock: options.lastBlock ?? genesis,
      appliedIndex: options.appliedIndex ?? 4,
      snapshotIntervalSize: options.snapshotIntervalSize ?? 1 << 24,
      blockMetadata: { consenterIds: [1, 2, 3], nextConsenterId: 4, raftIndex: options.appliedIndex ?? 4 },
      consenters: options.consenters ?? [],
      ...(options.idleCutAfterMs !== undefined ? { idleCutAfterMs: options.idleCutAfterMs } : {}),
    },
    {
      blockCutter: new BlockCutter({ batchSize: () => batchSize }, { clock }),
      newBlockCreator: (after) => new ChainedBlockCreator(after),
    },
  );
  const ctx: RaftChainContext = {
    sequence: 0,
    batchTimeoutMs: 2000,
    maxInflightBlocks: 5,
    raftLastIndex: 4,
    voters: [1, 2, 3],
    activeNodes: [1, 2, 3],
    now: 0,
  };
  return { core, ctx };
}

const of = <T extends RaftChainEffect['type']>(effects: RaftChainEffect[], type: T) =>
  effects.filter((e): e is Extract<RaftChainEffect, { type: T }> => e.type === type);

const local = (ticket: number, env: ReceivedEnvelope, configSeq = 0, isConfig = false) => ({
  ticket,
  env,
  configSeq,
  isConfig,
});
const forwarded = (env: ReceivedEnvelope, configSeq = 0) => ({
  ticket: undefined,
  env,
  configSeq,
  isConfig: false,
});

/** Raft entries carrying these proposed blocks, from index `first`. */
const entriesOf = (blocks: common.Block[], first: number): Entry[] =>
  blocks.map((block, i) =>
    newEntry({
      index: first + i,
      term: 2,
      type: EntryType.Normal,
      data: common.Block.encode(block).finish(),
    }),
  );

/** A new leader's empty entry at this index and term. */
const emptyEntry = (index: number, term: number): Entry =>
  newEntry({ index, term, type: EntryType.Normal, data: new Uint8Array(0) });

/** Makes the core leader with its log applied (ready to order). */
function elect(core: RaftChainCore, ctx: RaftChainContext): RaftChainEffect[] {
  return core.leaderChanged(1, LEADER, 2, ctx);
}

describe('etcdraft chain core', () => {
  test('without a leader a submission is refused at once, saying why', () => {
    const { core, ctx } = setup();
    const table: [StateType, RegExp][] = [
      [FOLLOWER, /no Raft leader: this node has not heard from a leader; check that a majority/],
      [StateType.StatePreCandidate, /no Raft leader: an election is in progress/],
      [StateType.StateCandidate, /an election is in progress/],
    ];
    for (const [state, reason] of table) {
      core.leaderChanged(0, state, 2, ctx);
      const [refusal] = of(core.submit(local(1, makeEnvelope('a')), ctx), 'refuse');
      assert.equal(refusal?.status, 'unavailable');
      assert.match(refusal!.reason, reason);
    }
  });

  test('a follower forwards to the leader and acknowledges only when the block holding it is applied', () => {
    const { core, ctx } = setup({ raftId: 2 });
    core.leaderChanged(1, FOLLOWER, 2, ctx);
    const env = makeEnvelope('a');
    const effects = core.submit(local(7, env), ctx);
    assert.deepEqual(effects, [{ type: 'forward', to: 1, env, configSeq: 0, tickets: [7] }]);
    assert.equal(core.unacknowledgedCount, 1);
    // The leader's block 1 (with another envelope first) comes back through Raft.
    const block = new ChainedBlockCreator(genesis).createNextBlock([makeEnvelope('b'), env]);
    const applied = core.committedEntries(entriesOf([block], 5), { ...ctx, raftLastIndex: 5 });
    const [write] = of(applied, 'write-block');
    assert.equal(write?.raftIndex, 5);
    assert.equal(write?.isConfig, false);
    assert.deepEqual(of(applied, 'acknowledge'), [{ type: 'acknowledge', tickets: [7] }]);
    assert.equal(core.unacknowledgedCount, 0);
    assert.equal(core.applied, 5);
  });

  test('what a follower has not seen applied goes to every new leader once an entry of its term is applied', () => {
    const { core, ctx } = setup({ raftId: 3 });
    core.leaderChanged(1, FOLLOWER, 2, ctx);
    const [a, b] = [makeEnvelope('a'), makeEnvelope('b')];
    core.submit(local(1, a), ctx);
    core.submit(local(2, b), ctx);
    // Leader 2 of term 3: nothing goes to it until an entry of term 3 is applied here.
    assert.deepEqual(of(core.leaderChanged(2, FOLLOWER, 3, ctx), 'forward'), []);
    const block = new ChainedBlockCreator(genesis).createNextBlock([a]);
    const oldTerm = core.committedEntries(entriesOf([block], 5), ctx);
    assert.deepEqual(of(oldTerm, 'acknowledge'), [{ type: 'acknowledge', tickets: [1] }]);
    assert.deepEqual(of(oldTerm, 'forward'), []);
    const toTwo = of(core.committedEntries([emptyEntry(6, 3)], ctx), 'forward');
    assert.deepEqual(
      toTwo.map((f) => [f.to, f.env]),
      [[2, b]],
    );
    core.leaderChanged(0, StateType.StatePreCandidate, 4, ctx);
    assert.deepEqual(of(core.leaderChanged(1, FOLLOWER, 4, ctx), 'forward'), []);
    const toOne = of(core.committedEntries([emptyEntry(7, 4)], ctx), 'forward');
    assert.deepEqual(
      toOne.map((f) => [f.to, f.env]),
      [[1, b]],
    );
  });

  test("an envelope the old leader's block holds is not sent to the new leader, which would order it again", () => {
    const { core, ctx } = setup({ raftId: 3 });
    core.leaderChanged(1, FOLLOWER, 2, ctx);
    const [x, y] = [makeEnvelope('x'), makeEnvelope('y')];
    core.submit(local(1, x), ctx);
    core.submit(local(2, y), ctx);
    // Leader 1 cut x into a block that reached a quorum; then leader 2 of term 3 commits it.
    core.leaderChanged(2, FOLLOWER, 3, ctx);
    const policy = { resendAfterMs: 1000, giveUpAfterMs: 60_000 };
    assert.deepEqual(of(core.resendUnanswered(policy, { ...ctx, now: 5000 }), 'forward'), []);
    // A new submission meanwhile goes to the new leader at once: no other leader has it.
    const z = makeEnvelope('z');
    assert.deepEqual(
      of(core.submit(local(3, z), ctx), 'forward').map((f) => [f.to, f.env]),
      [[2, z]],
    );
    const block = new ChainedBlockCreator(genesis).createNextBlock([x]);
    const applied = core.committedEntries([...entriesOf([block], 5), emptyEntry(6, 3)], ctx);
    assert.deepEqual(of(applied, 'acknowledge'), [{ type: 'acknowledge', tickets: [1] }]);
    assert.deepEqual(
      of(applied, 'forward').map((f) => [f.to, f.env]),
      [[2, y]],
    );
    assert.deepEqual(of(core.resendUnanswered(policy, { ...ctx, now: 10_000 }), 'forward'), []);
  });

  test('a new leader orders nothing until it applied its whole log, then orders what it kept', () => {
    const { core, ctx } = setup({ raftId: 1, appliedIndex: 4 });
    core.leaderChanged(2, FOLLOWER, 2, ctx);
    const env = makeEnvelope('kept');
    core.submit(local(1, env), ctx);
    // Elected with entries 5..6 in its log not yet applied.
    const behind = { ...ctx, raftLastIndex: 6 };
    const onElection = core.leaderChanged(1, LEADER, 2, behind);
    assert.deepEqual(of(onElection, 'propose-block'), []);
    assert.equal(core.acceptingAsLeader, false);
    assert.equal(of(core.submit(local(2, makeEnvelope('new')), behind), 'propose-block').length, 0);
    const creator = new ChainedBlockCreator(genesis);
    const earlier = [
      creator.createNextBlock([makeEnvelope('x')]),
      creator.createNextBlock([makeEnvelope('y')]),
    ];
    const effects = core.committedEntries(entriesOf(earlier, 5), behind);
    assert.deepEqual(
      of(effects, 'write-block').map((w) => Number(w.block.header!.number)),
      [1, 2],
    );
    assert.equal(core.acceptingAsLeader, true);
    // Both waiting envelopes are ordered now, into a block chained on block 2.
    assert.equal(of(effects, 'arm-timer').length, 1);
    const [proposal] = of(core.timerFired(of(effects, 'arm-timer')[0]!.generation, behind), 'propose-block');
    assert.equal(Number(proposal!.block.header!.number), 3);
    assert.ok(
      Buffer.from(proposal!.block.header!.previousHash!).equals(blockHeaderHash(earlier[1]!.header!)),
    );
    assert.deepEqual(txIdsOfBlock(proposal!.block), ['kept', 'new']);
  });

  test('a leader cuts full batches at once and the rest on the batch timer; a stale timer does nothing', () => {
    const { core, ctx } = setup({ maxMessageCount: 2 });
    elect(core, ctx);
    const first = [1, 2, 3].flatMap((i) => core.submit(local(i, makeEnvelope(`t${i}`)), ctx));
    const proposals = of(first, 'propose-block');
    assert.deepEqual(
      proposals.map((p) => txIdsOfBlock(p.block)),
      [['t1', 't2']],
    );
    // t1 arms the timer, the full batch cancels it, t3 arms it again: only the last one counts.
    assert.deepEqual(
      first.filter((e) => e.type === 'arm-timer' || e.type === 'cancel-timer').map((e) => e.type),
      ['arm-timer', 'cancel-timer', 'arm-timer'],
    );
    const armed = of(first, 'arm-timer').at(-1);
    assert.equal(armed?.timeoutMs, 2000);
    assert.deepEqual(core.timerFired(armed!.generation - 1, ctx), []);
    const fired = of(core.timerFired(armed!.generation, ctx), 'propose-block');
    assert.deepEqual(
      fired.map((p) => txIdsOfBlock(p.block)),
      [['t3']],
    );
    assert.deepEqual(core.timerFired(armed!.generation, ctx), [], 'fires once');
    assert.equal(core.inflightBlocks, 2);
  });

  test('without Consensus.IdleCutAfter only BatchSize and BatchTimeout cut (Fabric)', () => {
    const { core, ctx } = setup({ maxMessageCount: 2 });
    elect(core, ctx);
    const effects = [1, 2, 3].flatMap((i) => core.submit(local(i, makeEnvelope(`t${i}`)), ctx));
    const [block] = of(effects, 'propose-block');
    const applied = core.committedEntries(entriesOf([block!.block], 5), {
      ...ctx,
      now: 50,
      raftLastIndex: 5,
    });
    assert.equal(of([...effects, ...applied], 'arm-idle-timer').length, 0);
    assert.equal(core.isIdleTimerArmed, false);
  });

  test('with IdleCutAfter a partial batch is cut once no block is in flight and intake was quiet that long', () => {
    const { core, ctx } = setup({ maxMessageCount: 3, idleCutAfterMs: 20 });
    elect(core, ctx);
    // Nothing in flight: the first envelope arms both the batch timer and the idle timer.
    const first = core.submit(local(1, makeEnvelope('t1')), ctx);
    assert.deepEqual(
      first.filter((e) => e.type === 'arm-timer' || e.type === 'arm-idle-timer').map((e) => e.type),
      ['arm-timer', 'arm-idle-timer'],
    );
    const [idle] = of(first, 'arm-idle-timer');
    assert.equal(idle!.timeoutMs, 20);
    // t3 fills the batch (a block in flight now), t4 is pending behind it: no early cut while a
    // block is in flight, since its acknowledgements will bring more envelopes.
    const more = [2, 3, 4].flatMap((i) => core.submit(local(i, makeEnvelope(`t${i}`)), { ...ctx, now: 5 }));
    const [inFlight] = of(more, 'propose-block');
    assert.deepEqual(txIdsOfBlock(inFlight!.block), ['t1', 't2', 't3']);
    assert.deepEqual(core.idleTimerFired(idle!.generation, { ...ctx, now: 20 }), []);
    assert.equal(core.isIdleTimerArmed, false);
    // The block applied at 40 answers t1 to t3; the quiet is counted from then.
    const applied = core.committedEntries(entriesOf([inFlight!.block], 5), {
      ...ctx,
      now: 40,
      raftLastIndex: 5,
    });
    assert.deepEqual(of(applied, 'acknowledge'), [{ type: 'acknowledge', tickets: [1, 2, 3] }]);
    const [rearmed] = of(applied, 'arm-idle-timer');
    assert.equal(rearmed!.timeoutMs, 20);
    // Another envelope at 45: at 60 the quiet has lasted 15 ms, so the timer waits 5 more.
    assert.equal(
      of(core.submit(local(5, makeEnvelope('t5')), { ...ctx, now: 45 }), 'propose-block').length,
      0,
    );
    const early = core.idleTimerFired(rearmed!.generation, { ...ctx, now: 60 });
    assert.equal(of(early, 'propose-block').length, 0);
    const [rest] = of(early, 'arm-idle-timer');
    assert.equal(rest!.timeoutMs, 5);
    const cut = core.idleTimerFired(rest!.generation, { ...ctx, now: 65 });
    const [proposal] = of(cut, 'propose-block');
    assert.deepEqual(txIdsOfBlock(proposal!.block), ['t4', 't5']);
    assert.equal(of(cut, 'cancel-timer').length, 1, 'the batch timer stops with the cut');
    assert.equal(core.isTimerArmed, false);
    assert.equal(core.inflightBlocks, 1);
    assert.deepEqual(core.idleTimerFired(rest!.generation, { ...ctx, now: 100 }), [], 'fires once');
  });

  test('a leader that lost leadership ignores its idle timer', () => {
    const { core, ctx } = setup({ idleCutAfterMs: 20 });
    elect(core, ctx);
    const [idle] = of(core.submit(local(1, makeEnvelope('t1')), ctx), 'arm-idle-timer');
    core.leaderChanged(2, FOLLOWER, 2, ctx);
    assert.deepEqual(core.idleTimerFired(idle!.generation, { ...ctx, now: 100 }), []);
    assert.equal(core.isIdleTimerArmed, false);
  });

  test('at MaxInflightBlocks proposed blocks the leader waits for one to be applied', () => {
    const { core, ctx } = setup({ maxMessageCount: 1 });
    const limited = { ...ctx, maxInflightBlocks: 2 };
    elect(core, limited);
    const proposed = [1, 2, 3].flatMap((i) =>
      of(core.submit(local(i, makeEnvelope(`t${i}`)), limited), 'propose-block'),
    );
    assert.equal(proposed.length, 2);
    const after = core.committedEntries(entriesOf([proposed[0]!.block], 5), limited);
    assert.deepEqual(of(after, 'acknowledge'), [{ type: 'acknowledge', tickets: [1] }]);
    assert.deepEqual(
      of(after, 'propose-block').map((p) => txIdsOfBlock(p.block)),
      [['t3']],
    );
  });

  test('a config message is cut alone after what was pending, and intake pauses until its block is applied', () => {
    const { core, ctx } = setup({ maxMessageCount: 10 });
    elect(core, ctx);
    core.submit(local(1, makeEnvelope('n1')), ctx);
    const config = makeEnvelope('cfg', { type: 1 });
    const effects = core.submit(local(2, config, 0, true), ctx);
    const proposals = of(effects, 'propose-block');
    assert.deepEqual(
      proposals.map((p) => [txIdsOfBlock(p.block), p.isConfig]),
      [
        [['n1'], false],
        [['cfg'], true],
      ],
    );
    assert.equal(of(effects, 'cancel-timer').length, 1);
    // While the config block is in flight nothing else is ordered.
    assert.deepEqual(of(core.submit(local(3, makeEnvelope('n2')), ctx), 'propose-block'), []);
    const applied = core.committedEntries(
      entriesOf(
        proposals.map((p) => p.block),
        5,
      ),
      { ...ctx, sequence: 1 },
    );
    assert.deepEqual(
      of(applied, 'write-block').map((w) => w.isConfig),
      [false, true],
    );
    // n2 was validated at sequence 0; the config moved to 1: re-validated before it is ordered.
    const [revalidate] = of(applied, 'revalidate');
    assert.equal(revalidate?.env.channelHeader.txId, 'n2');
    const ordered = core.revalidated(
      revalidate!.id,
      { ok: true, env: revalidate!.env },
      { ...ctx, sequence: 1 },
    );
    assert.equal(of(ordered, 'arm-timer').length, 1);
  });

  test('a message that fails re-validation is refused as a bad request and never ordered', () => {
    const { core, ctx } = setup();
    elect(core, ctx);
    const stale = { ...ctx, sequence: 3 };
    const [revalidate] = of(core.submit(local(9, makeEnvelope('old'), 2), stale), 'revalidate');
    assert.ok(revalidate);
    const effects = core.revalidated(
      revalidate.id,
      { ok: false, reason: 'bad normal message: expired' },
      stale,
    );
    assert.deepEqual(of(effects, 'refuse'), [
      { type: 'refuse', tickets: [9], status: 'bad-request', reason: 'bad normal message: expired' },
    ]);
    assert.equal(core.unacknowledgedCount, 0);
    assert.deepEqual(core.revalidated(revalidate.id, { ok: true, env: revalidate.env }, stale), []);
  });

  test('a leader drops copies of envelopes its applied blocks hold, and of ones it already ordered', () => {
    const { core, ctx } = setup({ maxMessageCount: 10 });
    elect(core, ctx);
    const env = makeEnvelope('once');
    core.submit(local(1, env), ctx);
    assert.equal(of(core.submit(forwarded(env), ctx), 'propose-block').length, 0);
    const [armed] = of(core.submit(forwarded(makeEnvelope('other')), ctx), 'arm-timer');
    assert.equal(armed, undefined, 'timer already armed by the first envelope');
    const generation = 1;
    const [proposal] = of(core.timerFired(generation, ctx), 'propose-block');
    assert.deepEqual(txIdsOfBlock(proposal!.block), ['once', 'other']);
    core.committedEntries(entriesOf([proposal!.block], 5), ctx);
    // After the block is applied, a follower's re-sent copy is dropped, a local one acknowledged.
    assert.deepEqual(core.submit(forwarded(env), ctx), []);
    assert.deepEqual(core.submit(local(2, env), ctx), [{ type: 'acknowledge', tickets: [2] }]);
  });

  test('losing leadership purges the cutter and the timer; what was kept goes to the new leader', () => {
    const { core, ctx } = setup({ maxMessageCount: 10 });
    elect(core, ctx);
    const env = makeEnvelope('pending');
    core.submit(local(1, env), ctx);
    assert.equal(core.isTimerArmed, true);
    const effects = core.leaderChanged(2, FOLLOWER, 3, ctx);
    assert.equal(of(effects, 'cancel-timer').length, 1);
    assert.deepEqual(of(effects, 'forward'), []);
    assert.deepEqual(
      of(core.committedEntries([emptyEntry(5, 3)], ctx), 'forward').map((f) => [f.to, f.env]),
      [[2, env]],
    );
    assert.equal(core.isTimerArmed, false);
    assert.equal(core.inflightBlocks, 0);
  });

  test('entries already applied (a restart) are not written again; a block behind is skipped', () => {
    const creator = new ChainedBlockCreator(genesis);
    const one = creator.createNextBlock([makeEnvelope('a')]);
    const { core, ctx } = setup({ lastBlock: one, appliedIndex: 5 });
    assert.deepEqual(of(core.committedEntries(entriesOf([one], 5), ctx), 'write-block'), []);
    const again = core.committedEntries(entriesOf([one], 6), ctx);
    assert.deepEqual(of(again, 'write-block'), []);
    assert.match(of(again, 'log')[0]!.message, /Got block \[1\], expect block \[2\]/);
    const conf = newEntry({
      index: 7,
      term: 2,
      type: EntryType.ConfChange,
      data: Uint8Array.of(8, 0, 16, 0, 24, 4),
    });
    // A ConfChange no config block of this node asked for (Raft applied it already) changes nothing here.
    assert.deepEqual(of(core.committedEntries([conf], ctx), 'membership-changed'), []);
    assert.throws(
      () =>
        core.committedEntries(
          entriesOf([new ChainedBlockCreator(one).createNextBlock([])], 8).map((e) => ({
            ...e,
            data: common.Block.encode(newBlock(9, Buffer.alloc(32), [])).finish(),
          })),
          ctx,
        ),
      /holds block \[9\] but the next block is \[2\]/,
    );
  });
  test('a follower never forwards a copy to the leader that has it, and gives up after giveUpAfterMs', () => {
    const { core, ctx } = setup({ raftId: 2 });
    const policy = { resendAfterMs: 2000, giveUpAfterMs: 10_000 };
    core.leaderChanged(1, FOLLOWER, 2, ctx);
    const env = makeEnvelope('slow');
    assert.deepEqual(of(core.submit(local(4, env), { ...ctx, now: 0 }), 'forward'), [
      { type: 'forward', to: 1, env, configSeq: 0, tickets: [4] },
    ]);
    const at = (now: number) => core.resendUnanswered(policy, { ...ctx, now });
    // Its block may be on the way (the follower still applying the leader's log): a Go leader
    // would order a copy twice.
    assert.deepEqual(at(2000), []);
    assert.deepEqual(at(4000), []);
    const [refusal] = of(at(10_000), 'refuse');
    assert.deepEqual(refusal?.tickets, [4]);
    assert.equal(refusal?.status, 'unavailable');
    assert.match(refusal!.reason, /not ordered within 10000 ms \(leader 1\); it was not acknowledged/);
    assert.equal(core.unacknowledgedCount, 0);
    assert.deepEqual(at(20_000), [], 'forgotten once refused');
  });

  test('a leader does not give up on what is in a block it proposed', () => {
    const { core, ctx } = setup({ maxMessageCount: 1 });
    elect(core, ctx);
    core.submit(local(1, makeEnvelope('in-flight')), { ...ctx, now: 0 });
    assert.equal(core.inflightBlocks, 1);
    assert.deepEqual(core.resendUnanswered({ resendAfterMs: 1, giveUpAfterMs: 5 }, { ...ctx, now: 100 }), []);
    assert.equal(core.unacknowledgedCount, 1);
  });
  describe('a leader asked to order its own rotation', () => {
    const consenter = (id: number, cert = `client-${id}`): EtcdraftConsenter => ({
      host: `orderer${id}`,
      port: 7050,
      clientTlsCert: Buffer.from(cert),
      serverTlsCert: Buffer.from(cert),
    });
    /** A CONFIG envelope whose consenters are 1 to `size`, node 1 with a new certificate. */
    const rotatingNode1 = (size: number) => {
      const consenters = Array.from({ length: size }, (_, i) =>
        consenter(i + 1, i === 0 ? 'client-1-new' : undefined),
      );
      const consensusType = orderer.ConsensusType.encode({
        type: 'etcdraft',
        metadata: etcdraft.ConfigMetadata.encode({ consenters }).finish(),
      }).finish();
      const configEnvelope = common.ConfigEnvelope.encode({
        config: {
          channelGroup: { groups: { Orderer: { values: { ConsensusType: { value: consensusType } } } } },
        },
      }).finish();
      return makeEnvelope('rotate-1', { type: 1, data: Buffer.from(configEnvelope) });
    };

    test('hands leadership to a follower that was recently active, not to one that is down', () => {
      const { core, ctx } = setup({ consenters: [1, 2, 3].map((id) => consenter(id)) });
      // Node 2 is down: the leader has seen only itself and node 3 lately.
      const withTwoDown = { ...ctx, activeNodes: [1, 3] };
      elect(core, withTwoDown);
      const effects = core.submit(local(1, rotatingNode1(3), 0, true), withTwoDown);
      assert.deepEqual(of(effects, 'transfer-leadership'), [{ type: 'transfer-leadership', to: 3 }]);
      assert.equal(of(effects, 'propose-block').length, 0, 'the leader does not order its own rotation');
      // Retried (the transfer did not happen yet): again to node 3.
      const retried = core.resendUnanswered(
        { resendAfterMs: 1, giveUpAfterMs: 1e9 },
        { ...withTwoDown, now: 10 },
      );
      assert.deepEqual(of(retried, 'transfer-leadership'), [{ type: 'transfer-leadership', to: 3 }]);
    });

    test('with no follower active it tries five times, then drops the update and orders what waits behind it', () => {
      const { core, ctx } = setup({ consenters: [1, 2, 3].map((id) => consenter(id)) });
      const alone = { ...ctx, activeNodes: [1] };
      elect(core, alone);
      const first = core.submit(local(1, rotatingNode1(3), 0, true), alone);
      assert.equal(of(first, 'transfer-leadership').length, 0, 'no transferee');
      assert.match(of(first, 'log')[0]!.message, /no other consenter was recently active .*attempt 1 of 5/);
      // A normal envelope waits behind the config update meanwhile.
      assert.equal(of(core.submit(local(2, makeEnvelope('behind')), alone), 'propose-block').length, 0);
      const policy = { resendAfterMs: 1, giveUpAfterMs: 1e9 };
      const rounds = [1, 2, 3, 4].map((i) => core.resendUnanswered(policy, { ...alone, now: i }));
      assert.deepEqual(
        rounds.map((r) => /attempt (\d) of 5/.exec(of(r, 'log')[0]?.message ?? '')?.[1]),
        ['2', '3', '4', '5'],
      );
      const last = core.resendUnanswered(policy, { ...alone, now: 5 });
      const [refusal] = of(last, 'refuse');
      assert.deepEqual(refusal?.tickets, [1]);
      assert.equal(refusal?.status, 'unavailable');
      assert.match(
        refusal!.reason,
        /could not hand leadership to another consenter in 5 attempts: it was not ordered/,
      );
      assert.equal(of(last, 'transfer-leadership').length, 0);
      assert.ok(core.acceptingAsLeader, 'the leader orders again');
      // The envelope behind the update goes into the cutter (the batch timer armed for it), and
      // the block cut when the timer fires holds it.
      const [timer] = of(last, 'arm-timer');
      assert.ok(timer, 'the envelope behind the update is taken into a batch');
      const [proposed] = of(core.timerFired(timer.generation, alone), 'propose-block');
      assert.deepEqual(txIdsOfBlock(proposed!.block), ['behind']);
    });
  });

  test('a config block pulled during catch-up makes its consenter set current and reconnects', () => {
    const consenter = (id: number): EtcdraftConsenter => ({
      host: `orderer${id}`,
      port: 7050,
      clientTlsCert: Buffer.from(`client-${id}`),
      serverTlsCert: Buffer.from(`server-${id}`),
    });
    const { core } = setup({ raftId: 2, consenters: [1, 2, 3].map(consenter) });
    const consensusType = orderer.ConsensusType.encode({
      type: 'etcdraft',
      metadata: etcdraft.ConfigMetadata.encode({ consenters: [1, 2, 3, 4].map(consenter) }).finish(),
    }).finish();
    const configEnvelope = common.ConfigEnvelope.encode({
      config: {
        channelGroup: { groups: { Orderer: { values: { ConsensusType: { value: consensusType } } } } },
      },
    }).finish();
    const config = makeEnvelope('add-4', { type: 1, data: Buffer.from(configEnvelope) });
    const block = new ChainedBlockCreator(genesis).createNextBlock([config]);
    const changed = core.blockPulled(block).filter((e) => e.type === 'membership-changed');
    assert.deepEqual(
      changed.map((e) => [e.metadata.consenterIds, e.metadata.nextConsenterId, e.removedSelf]),
      [[[1, 2, 3, 4], 5, false]],
    );
    assert.deepEqual(core.blockMetadata.consenterIds, [1, 2, 3, 4]);
    assert.equal(core.currentConsenters.length, 4);
  });
});
