// etcd raft v3.5.9 raft_paper_test.go, ported: each test checks sentences of the Raft paper
// (https://raft.github.io/raft.pdf) against the state machine: init, step, check.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Raft} from '../../../../../src/consensus/etcdraft/raft/raft.js';
import { StateType } from '../../../../../src/consensus/etcdraft/raft/raft.js';
import type { MemoryStorage } from '../../../../../src/consensus/etcdraft/raft/storage.js';
import type { Entry, Message } from '../../../../../src/consensus/etcdraft/raft/types.js';
import { MessageType, NONE, newEntry, newMessage } from '../../../../../src/consensus/etcdraft/raft/types.js';
import {
  Network,
  entView,
  idsBySize,
  msgView,
  mustAppendEntry,
  newTestMemoryStorage,
  newTestRaft,
  nopStepper,
  readMessages,
  sortMessages,
} from '../../../../support/raft-network.js';

const enc = (s: string) => new TextEncoder().encode(s);
const ent = (term: number, index: number, data?: string): Entry =>
  newEntry({ term, index, data: data === undefined ? new Uint8Array(0) : enc(data) });
const views = (msgs: Message[]) => msgs.map(msgView);
const entViews = (ents: Entry[]) => ents.map(entView);
const step = (r: Raft, m: Partial<Message> & Pick<Message, 'type'>) => r.step(newMessage(m));

function commitNoopEntry(r: Raft, s: MemoryStorage): void {
  assert.equal(r.state, StateType.StateLeader, 'it should only be used when it is the leader');
  r.bcastAppend();
  for (const m of readMessages(r)) {
    assert.ok(m.type === MessageType.MsgApp && m.entries.length === 1 && m.entries[0]?.data.length === 0);
    r.step(acceptAndReply(m));
  }
  readMessages(r);
  s.append(r.raftLog.unstableEntries());
  r.raftLog.appliedTo(r.raftLog.committed);
  r.raftLog.stableTo(r.raftLog.lastIndex(), r.raftLog.lastTerm());
}

function acceptAndReply(m: Message): Message {
  assert.equal(m.type, MessageType.MsgApp);
  return newMessage({
    from: m.to,
    to: m.from,
    term: m.term,
    type: MessageType.MsgAppResp,
    index: m.index + m.entries.length,
  });
}

const peers3 = () => newTestMemoryStorage({ peers: [1, 2, 3] });

describe('etcd raft_paper_test: elections', () => {
  for (const state of [StateType.StateFollower, StateType.StateCandidate, StateType.StateLeader]) {
    it(`UpdateTermFromMessage (${StateType[state]}): a higher term makes any role a follower in it`, () => {
      const r = newTestRaft(1, 10, 1, peers3());
      if (state === StateType.StateFollower) r.becomeFollower(1, 2);
      if (state === StateType.StateCandidate) r.becomeCandidate();
      if (state === StateType.StateLeader) {
        r.becomeCandidate();
        r.becomeLeader();
      }
      step(r, { type: MessageType.MsgApp, term: 2 });
      assert.equal(r.term, 2);
      assert.equal(r.state, StateType.StateFollower);
    });
  }

  it('RejectStaleTermMessage: a lower-term message never reaches the role step function', () => {
    const r = newTestRaft(1, 10, 1, peers3());
    r.loadState({ term: 2, vote: 0, commit: 0 });
    const before = r.raftLog.lastIndex();
    step(r, { type: MessageType.MsgApp, term: r.term - 1, entries: [ent(1, 1)] });
    // Without checkQuorum/preVote, a stale MsgApp is ignored: nothing appended, nothing sent.
    assert.equal(r.raftLog.lastIndex(), before);
    assert.deepEqual(readMessages(r), []);
  });

  it('StartAsFollower', () => {
    assert.equal(newTestRaft(1, 10, 1, peers3()).state, StateType.StateFollower);
  });

  it('LeaderBcastBeat: a leader heartbeats every peer after heartbeatTimeout', () => {
    const hi = 1;
    const r = newTestRaft(1, 10, hi, peers3());
    r.becomeCandidate();
    r.becomeLeader();
    for (let i = 0; i < 10; i++) mustAppendEntry(r, [ent(0, i + 1)]);
    for (let i = 0; i < hi; i++) r.tick();
    assert.deepEqual(views(sortMessages(readMessages(r))), [
      msgView(newMessage({ from: 1, to: 2, term: 1, type: MessageType.MsgHeartbeat })),
      msgView(newMessage({ from: 1, to: 3, term: 1, type: MessageType.MsgHeartbeat })),
    ]);
  });

  for (const state of [StateType.StateFollower, StateType.StateCandidate]) {
    it(`NonleaderStartElection (${StateType[state]}): after the election timeout, campaign in a new term`, () => {
      const et = 10;
      const r = newTestRaft(1, et, 1, peers3());
      if (state === StateType.StateFollower) r.becomeFollower(1, 2);
      else r.becomeCandidate();
      for (let i = 1; i < 2 * et; i++) r.tick();
      assert.equal(r.term, 2);
      assert.equal(r.state, StateType.StateCandidate);
      assert.equal(r.prs.votes.get(r.id), true);
      assert.deepEqual(views(sortMessages(readMessages(r))), [
        msgView(newMessage({ from: 1, to: 2, term: 2, type: MessageType.MsgVote })),
        msgView(newMessage({ from: 1, to: 3, term: 2, type: MessageType.MsgVote })),
      ]);
    });
  }

  it('LeaderElectionInOneRoundRPC: win, lose or stay candidate by the votes received', () => {
    const tests: Array<[number, Record<number, boolean>, StateType]> = [
      [1, {}, StateType.StateLeader],
      [3, { 2: true, 3: true }, StateType.StateLeader],
      [3, { 2: true }, StateType.StateLeader],
      [5, { 2: true, 3: true, 4: true, 5: true }, StateType.StateLeader],
      [5, { 2: true, 3: true, 4: true }, StateType.StateLeader],
      [5, { 2: true, 3: true }, StateType.StateLeader],
      [3, { 2: false, 3: false }, StateType.StateFollower],
      [5, { 2: false, 3: false, 4: false, 5: false }, StateType.StateFollower],
      [5, { 2: true, 3: false, 4: false, 5: false }, StateType.StateFollower],
      [3, {}, StateType.StateCandidate],
      [5, { 2: true }, StateType.StateCandidate],
      [5, { 2: false, 3: false }, StateType.StateCandidate],
      [5, {}, StateType.StateCandidate],
    ];
    tests.forEach(([size, votes, state], i) => {
      const r = newTestRaft(1, 10, 1, newTestMemoryStorage({ peers: idsBySize(size) }));
      step(r, { from: 1, to: 1, type: MessageType.MsgHup });
      for (const [id, vote] of Object.entries(votes)) {
        step(r, { from: Number(id), to: 1, term: r.term, type: MessageType.MsgVoteResp, reject: !vote });
      }
      assert.equal(r.state, state, `#${i}`);
      assert.equal(r.term, 1, `#${i}`);
    });
  });

  it('FollowerVote: one vote per term, first come first served', () => {
    const tests: Array<[number, number, boolean]> = [
      [NONE, 1, false],
      [NONE, 2, false],
      [1, 1, false],
      [2, 2, false],
      [1, 2, true],
      [2, 1, true],
    ];
    tests.forEach(([vote, nvote, wreject], i) => {
      const r = newTestRaft(1, 10, 1, peers3());
      r.loadState({ term: 1, vote, commit: 0 });
      step(r, { from: nvote, to: 1, term: 1, type: MessageType.MsgVote });
      assert.deepEqual(
        views(readMessages(r)),
        [
          msgView(
            newMessage({ from: 1, to: nvote, term: 1, type: MessageType.MsgVoteResp, reject: wreject }),
          ),
        ],
        `#${i}`,
      );
    });
  });

  it('CandidateFallback: a candidate hearing a leader of its term or newer becomes follower', () => {
    for (const tt of [
      newMessage({ from: 2, to: 1, term: 1, type: MessageType.MsgApp }),
      newMessage({ from: 2, to: 1, term: 2, type: MessageType.MsgApp }),
    ]) {
      const r = newTestRaft(1, 10, 1, peers3());
      step(r, { from: 1, to: 1, type: MessageType.MsgHup });
      assert.equal(r.state, StateType.StateCandidate);
      r.step(tt);
      assert.equal(r.state, StateType.StateFollower);
      assert.equal(r.term, tt.term);
    }
  });

  for (const state of [StateType.StateFollower, StateType.StateCandidate]) {
    it(`NonleaderElectionTimeoutRandomized (${StateType[state]}): every timeout in (et, 2et) occurs`, () => {
      const et = 10;
      const r = newTestRaft(1, et, 1, peers3());
      const timeouts = new Set<number>();
      for (let round = 0; round < 50 * et; round++) {
        if (state === StateType.StateFollower) r.becomeFollower(r.term + 1, 2);
        else r.becomeCandidate();
        let time = 0;
        while (readMessages(r).length === 0) {
          r.tick();
          time++;
        }
        timeouts.add(time);
      }
      for (let d = et + 1; d < 2 * et; d++) assert.ok(timeouts.has(d), `timeout in ${d} ticks should happen`);
    });

    it(`NonleadersElectionTimeoutNonconflict (${StateType[state]}): randomised timeouts rarely collide`, () => {
      const et = 10;
      const ids = idsBySize(5);
      const rs = ids.map((id) => newTestRaft(id, et, 1, newTestMemoryStorage({ peers: ids })));
      let conflicts = 0;
      for (let round = 0; round < 1000; round++) {
        for (const r of rs) {
          if (state === StateType.StateFollower) r.becomeFollower(r.term + 1, NONE);
          else r.becomeCandidate();
        }
        let timeoutNum = 0;
        while (timeoutNum === 0) {
          for (const r of rs) {
            r.tick();
            if (readMessages(r).length > 0) timeoutNum++;
          }
        }
        if (timeoutNum > 1) conflicts++;
      }
      assert.ok(conflicts / 1000 <= 0.3, `probability of conflicts = ${conflicts / 1000}, want <= 0.3`);
    });
  }
});

describe('etcd raft_paper_test: replication and commitment', () => {
  it('LeaderStartReplication: a proposal is appended and sent to every follower', () => {
    const s = peers3();
    const r = newTestRaft(1, 10, 1, s);
    r.becomeCandidate();
    r.becomeLeader();
    commitNoopEntry(r, s);
    const li = r.raftLog.lastIndex();
    step(r, { from: 1, to: 1, type: MessageType.MsgProp, entries: [newEntry({ data: enc('some data') })] });
    assert.equal(r.raftLog.lastIndex(), li + 1);
    assert.equal(r.raftLog.committed, li);
    const wents = [ent(1, li + 1, 'some data')];
    assert.deepEqual(
      views(sortMessages(readMessages(r))),
      [2, 3].map((to) =>
        msgView(
          newMessage({
            from: 1,
            to,
            term: 1,
            type: MessageType.MsgApp,
            index: li,
            logTerm: 1,
            entries: wents,
            commit: li,
          }),
        ),
      ),
    );
    assert.deepEqual(entViews(r.raftLog.unstableEntries()), entViews(wents));
  });

  it('LeaderCommitEntry: committed once a majority has it, and followers learn the commit', () => {
    const s = peers3();
    const r = newTestRaft(1, 10, 1, s);
    r.becomeCandidate();
    r.becomeLeader();
    commitNoopEntry(r, s);
    const li = r.raftLog.lastIndex();
    step(r, { from: 1, to: 1, type: MessageType.MsgProp, entries: [newEntry({ data: enc('some data') })] });
    for (const m of readMessages(r)) r.step(acceptAndReply(m));
    assert.equal(r.raftLog.committed, li + 1);
    assert.deepEqual(entViews(r.raftLog.nextEnts()), entViews([ent(1, li + 1, 'some data')]));
    const msgs = sortMessages(readMessages(r));
    assert.equal(msgs.length, 2);
    msgs.forEach((m, i) => {
      assert.equal(m.to, i + 2);
      assert.equal(m.type, MessageType.MsgApp);
      assert.equal(m.commit, li + 1);
    });
  });

  it('LeaderAcknowledgeCommit: commit needs acks from a majority', () => {
    const tests: Array<[number, number[], boolean]> = [
      [1, [], true],
      [3, [], false],
      [3, [2], true],
      [3, [2, 3], true],
      [5, [], false],
      [5, [2], false],
      [5, [2, 3], true],
      [5, [2, 3, 4], true],
      [5, [2, 3, 4, 5], true],
    ];
    tests.forEach(([size, acceptors, wack], i) => {
      const s = newTestMemoryStorage({ peers: idsBySize(size) });
      const r = newTestRaft(1, 10, 1, s);
      r.becomeCandidate();
      r.becomeLeader();
      commitNoopEntry(r, s);
      const li = r.raftLog.lastIndex();
      step(r, { from: 1, to: 1, type: MessageType.MsgProp, entries: [newEntry({ data: enc('some data') })] });
      for (const m of readMessages(r)) if (acceptors.includes(m.to)) r.step(acceptAndReply(m));
      assert.equal(r.raftLog.committed > li, wack, `#${i}`);
    });
  });

  it('LeaderCommitPrecedingEntries: committing an entry commits all before it', () => {
    const tests: Entry[][] = [[], [ent(2, 1)], [ent(1, 1), ent(2, 2)], [ent(1, 1)]];
    tests.forEach((tt, i) => {
      const storage = peers3();
      storage.append(tt);
      const r = newTestRaft(1, 10, 1, storage);
      r.loadState({ term: 2, vote: 0, commit: 0 });
      r.becomeCandidate();
      r.becomeLeader();
      step(r, { from: 1, to: 1, type: MessageType.MsgProp, entries: [newEntry({ data: enc('some data') })] });
      for (const m of readMessages(r)) r.step(acceptAndReply(m));
      const li = tt.length;
      const wents = [...tt, ent(3, li + 1), ent(3, li + 2, 'some data')];
      assert.deepEqual(entViews(r.raftLog.nextEnts()), entViews(wents), `#${i}`);
    });
  });

  it('FollowerCommitEntry: a follower commits what the leader says is committed', () => {
    const tests: Array<[Entry[], number]> = [
      [[ent(1, 1, 'some data')], 1],
      [[ent(1, 1, 'some data'), ent(1, 2, 'some data2')], 2],
      [[ent(1, 1, 'some data2'), ent(1, 2, 'some data')], 2],
      [[ent(1, 1, 'some data'), ent(1, 2, 'some data2')], 1],
    ];
    tests.forEach(([ents, commit], i) => {
      const r = newTestRaft(1, 10, 1, peers3());
      r.becomeFollower(1, 2);
      step(r, { from: 2, to: 1, type: MessageType.MsgApp, term: 1, entries: ents, commit });
      assert.equal(r.raftLog.committed, commit, `#${i}`);
      assert.deepEqual(entViews(r.raftLog.nextEnts()), entViews(ents.slice(0, commit)), `#${i}`);
    });
  });

  it('FollowerCheckMsgApp: consistency check, with reject hints as v3.5.9 sends them', () => {
    const ents = [ent(1, 1), ent(2, 2)];
    const tests: Array<[number, number, number, boolean, number, number]> = [
      [0, 0, 1, false, 0, 0],
      [1, 1, 1, false, 0, 0],
      [2, 2, 2, false, 0, 0],
      [1, 2, 2, true, 1, 1],
      [3, 3, 3, true, 2, 2],
    ];
    tests.forEach(([term, index, windex, wreject, wrejectHint, wlogterm], i) => {
      const storage = peers3();
      storage.append(ents);
      const r = newTestRaft(1, 10, 1, storage);
      r.loadState({ commit: 1, term: 0, vote: 0 });
      r.becomeFollower(2, 2);
      step(r, { from: 2, to: 1, type: MessageType.MsgApp, term: 2, logTerm: term, index });
      assert.deepEqual(
        views(readMessages(r)),
        [
          msgView(
            newMessage({
              from: 1,
              to: 2,
              type: MessageType.MsgAppResp,
              term: 2,
              index: windex,
              reject: wreject,
              rejectHint: wrejectHint,
              logTerm: wlogterm,
            }),
          ),
        ],
        `#${i}`,
      );
    });
  });

  it('FollowerAppendEntries: conflicting entries are replaced, matching ones kept', () => {
    const tests: Array<[number, number, Entry[], Entry[], Entry[]]> = [
      [2, 2, [ent(3, 3)], [ent(1, 1), ent(2, 2), ent(3, 3)], [ent(3, 3)]],
      [1, 1, [ent(3, 2), ent(4, 3)], [ent(1, 1), ent(3, 2), ent(4, 3)], [ent(3, 2), ent(4, 3)]],
      [0, 0, [ent(1, 1)], [ent(1, 1), ent(2, 2)], []],
      [0, 0, [ent(3, 1)], [ent(3, 1)], [ent(3, 1)]],
    ];
    tests.forEach(([index, term, ents, wents, wunstable], i) => {
      const storage = peers3();
      storage.append([ent(1, 1), ent(2, 2)]);
      const r = newTestRaft(1, 10, 1, storage);
      r.becomeFollower(2, 2);
      step(r, { from: 2, to: 1, type: MessageType.MsgApp, term: 2, logTerm: term, index, entries: ents });
      assert.deepEqual(entViews(r.raftLog.allEntries()), entViews(wents), `#${i}`);
      assert.deepEqual(entViews(r.raftLog.unstableEntries()), entViews(wunstable), `#${i}`);
    });
  });

  it('LeaderSyncFollowerLog: the leader brings any follower log to its own', () => {
    const ents = [
      ent(0, 0),
      ent(1, 1),
      ent(1, 2),
      ent(1, 3),
      ent(4, 4),
      ent(4, 5),
      ent(5, 6),
      ent(5, 7),
      ent(6, 8),
      ent(6, 9),
      ent(6, 10),
    ];
    const term = 8;
    const base = [ent(0, 0), ent(1, 1), ent(1, 2), ent(1, 3)];
    const tests: Entry[][] = [
      [...base, ent(4, 4), ent(4, 5), ent(5, 6), ent(5, 7), ent(6, 8), ent(6, 9)],
      [...base, ent(4, 4)],
      [...base, ent(4, 4), ent(4, 5), ent(5, 6), ent(5, 7), ent(6, 8), ent(6, 9), ent(6, 10), ent(6, 11)],
      [
        ...base,
        ent(4, 4),
        ent(4, 5),
        ent(5, 6),
        ent(5, 7),
        ent(6, 8),
        ent(6, 9),
        ent(6, 10),
        ent(7, 11),
        ent(7, 12),
      ],
      [...base, ent(4, 4), ent(4, 5), ent(4, 6), ent(4, 7)],
      [...base, ent(2, 4), ent(2, 5), ent(2, 6), ent(3, 7), ent(3, 8), ent(3, 9), ent(3, 10), ent(3, 11)],
    ];
    tests.forEach((tt, i) => {
      const leadStorage = peers3();
      // etcd appends the dummy {} entry too; MemoryStorage.append skips what it already has.
      leadStorage.append(ents);
      const lead = newTestRaft(1, 10, 1, leadStorage);
      lead.loadState({ commit: lead.raftLog.lastIndex(), term, vote: 0 });
      const followerStorage = peers3();
      followerStorage.append(tt);
      const follower = newTestRaft(2, 10, 1, followerStorage);
      follower.loadState({ term: term - 1, vote: 0, commit: 0 });
      const n = Network.of(lead, follower, nopStepper);
      n.send(newMessage({ from: 1, to: 1, type: MessageType.MsgHup }));
      n.send(newMessage({ from: 3, to: 1, type: MessageType.MsgVoteResp, term: term + 1 }));
      n.send(newMessage({ from: 1, to: 1, type: MessageType.MsgProp, entries: [newEntry({})] }));
      assert.deepEqual(entViews(follower.raftLog.allEntries()), entViews(lead.raftLog.allEntries()), `#${i}`);
      assert.equal(follower.raftLog.committed, lead.raftLog.committed, `#${i}`);
    });
  });

  it('VoteRequest: a campaign sends the last log index and term', () => {
    const tests: Array<[Entry[], number]> = [
      [[ent(1, 1)], 2],
      [[ent(1, 1), ent(2, 2)], 3],
    ];
    for (const [ents, wterm] of tests) {
      const r = newTestRaft(1, 10, 1, peers3());
      step(r, {
        from: 2,
        to: 1,
        type: MessageType.MsgApp,
        term: wterm - 1,
        logTerm: 0,
        index: 0,
        entries: ents,
      });
      readMessages(r);
      for (let i = 1; i < r.electionTimeout * 2; i++) r.tickElection();
      const msgs = sortMessages(readMessages(r));
      assert.equal(msgs.length, 2);
      const last = ents[ents.length - 1] as Entry;
      msgs.forEach((m, i) => {
        assert.equal(m.type, MessageType.MsgVote);
        assert.equal(m.to, i + 2);
        assert.equal(m.term, wterm);
        assert.equal(m.index, last.index);
        assert.equal(m.logTerm, last.term);
      });
    }
  });

  it('Voter: votes only for candidates whose log is at least as up to date', () => {
    const tests: Array<[Entry[], number, number, boolean]> = [
      [[ent(1, 1)], 1, 1, false],
      [[ent(1, 1)], 1, 2, false],
      [[ent(1, 1), ent(1, 2)], 1, 1, true],
      [[ent(1, 1)], 2, 1, false],
      [[ent(1, 1)], 2, 2, false],
      [[ent(1, 1), ent(1, 2)], 2, 1, false],
      [[ent(2, 1)], 1, 1, true],
      [[ent(2, 1)], 1, 2, true],
      [[ent(2, 1), ent(1, 2)], 1, 1, true],
    ];
    tests.forEach(([ents, logTerm, index, wreject], i) => {
      const storage = newTestMemoryStorage({ peers: [1, 2] });
      storage.append(ents);
      const r = newTestRaft(1, 10, 1, storage);
      step(r, { from: 2, to: 1, type: MessageType.MsgVote, term: 3, logTerm, index });
      const msgs = readMessages(r);
      assert.equal(msgs.length, 1, `#${i}`);
      assert.equal(msgs[0]?.type, MessageType.MsgVoteResp, `#${i}`);
      assert.equal(msgs[0]?.reject, wreject, `#${i}`);
    });
  });

  it('LeaderOnlyCommitsLogFromCurrentTerm', () => {
    const ents = [ent(1, 1), ent(2, 2)];
    const tests: Array<[number, number]> = [
      [1, 0],
      [2, 0],
      [3, 3],
    ];
    tests.forEach(([index, wcommit], i) => {
      const storage = newTestMemoryStorage({ peers: [1, 2] });
      storage.append(ents);
      const r = newTestRaft(1, 10, 1, storage);
      r.loadState({ term: 2, vote: 0, commit: 0 });
      r.becomeCandidate();
      r.becomeLeader();
      readMessages(r);
      step(r, { from: 1, to: 1, type: MessageType.MsgProp, entries: [newEntry({})] });
      step(r, { from: 2, to: 1, type: MessageType.MsgAppResp, term: r.term, index });
      assert.equal(r.raftLog.committed, wcommit, `#${i}`);
    });
  });
});
