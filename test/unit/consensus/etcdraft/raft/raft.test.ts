// Key cases of etcd raft v3.5.9 raft_test.go, ported: CheckQuorum, PreVote, leader transfer,
// snapshots to lagging followers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StateType } from '../../../../../src/consensus/etcdraft/raft/raft.js';
import type { Raft } from '../../../../../src/consensus/etcdraft/raft/raft.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  MessageType,
  NONE,
  newEntry,
  newMessage,
} from '../../../../../src/consensus/etcdraft/raft/types.js';
import {
  Network,
  newTestMemoryStorage,
  newTestRaft,
  readMessages,
} from '../../../../support/raft-network.js';

const peers = (...ids: number[]) => newTestMemoryStorage({ peers: ids });
const hup = (id: number) => newMessage({ from: id, to: id, type: MessageType.MsgHup });
const setRandomizedElectionTimeout = (r: Raft, v: number) => {
  r.randomizedElectionTimeout = v;
};

function checkLeaderTransferState(r: Raft, state: StateType, lead: number): void {
  assert.equal(r.state, state, 'state after transfer');
  assert.equal(r.lead, lead, 'lead after transfer');
  assert.equal(r.leadTransferee, NONE, 'leadTransferee after transfer');
}

describe('etcd raft_test: CheckQuorum', () => {
  it('LeaderElectionWithCheckQuorum: votes are ignored inside the leader lease, granted after', () => {
    const [a, b, c] = [1, 2, 3].map((id) => newTestRaft(id, 10, 1, peers(1, 2, 3))) as [Raft, Raft, Raft];
    for (const r of [a, b, c]) r.checkQuorum = true;
    const nt = Network.of(a, b, c);
    setRandomizedElectionTimeout(a, a.electionTimeout + 1);
    setRandomizedElectionTimeout(b, b.electionTimeout + 2);
    // Immediately after creation, votes are cast regardless of the election timeout.
    nt.send(hup(1));
    assert.equal(a.state, StateType.StateLeader);
    assert.equal(c.state, StateType.StateFollower);
    // need to reset randomizedElectionTimeout larger than electionTimeout again, because the
    // value might be reset to electionTimeout since the last state changes
    setRandomizedElectionTimeout(a, a.electionTimeout + 1);
    setRandomizedElectionTimeout(b, b.electionTimeout + 2);
    for (let i = 0; i < a.electionTimeout; i++) a.tick();
    for (let i = 0; i < b.electionTimeout; i++) b.tick();
    nt.send(hup(3));
    assert.equal(a.state, StateType.StateFollower);
    assert.equal(c.state, StateType.StateLeader);
  });

  it('FreeStuckCandidateWithCheckQuorum: a stuck candidate is freed by the leader hearing its term', () => {
    const [a, b, c] = [1, 2, 3].map((id) => newTestRaft(id, 10, 1, peers(1, 2, 3))) as [Raft, Raft, Raft];
    for (const r of [a, b, c]) r.checkQuorum = true;
    const nt = Network.of(a, b, c);
    setRandomizedElectionTimeout(b, b.electionTimeout + 1);
    for (let i = 0; i < b.electionTimeout; i++) b.tick();
    nt.send(hup(1));
    nt.isolate(1);
    nt.send(hup(3));
    assert.equal(b.state, StateType.StateFollower);
    assert.equal(c.state, StateType.StateCandidate);
    assert.equal(c.term, b.term + 1);
    // Vote again for safety
    nt.send(hup(3));
    assert.equal(b.state, StateType.StateFollower);
    assert.equal(c.state, StateType.StateCandidate);
    assert.equal(c.term, b.term + 2);
    nt.recover();
    nt.send(newMessage({ from: 1, to: 3, type: MessageType.MsgHeartbeat, term: a.term }));
    // Disrupt the leader so that the stuck peer is freed
    assert.equal(a.state, StateType.StateFollower);
    assert.equal(c.term, a.term);
    // Vote again, should become leader this time
    nt.send(hup(3));
    assert.equal(c.state, StateType.StateLeader);
  });

  it('NonPromotableVoterWithCheckQuorum: a node removed from its own config never campaigns', () => {
    const a = newTestRaft(1, 10, 1, peers(1, 2));
    const b = newTestRaft(2, 10, 1, peers(1));
    a.checkQuorum = true;
    b.checkQuorum = true;
    const nt = Network.of(a, b);
    setRandomizedElectionTimeout(b, b.electionTimeout + 1);
    // Need to remove 2 again to make it a non-promotable node since newNetwork overwrote some
    // internal states
    b.applyConfChange({
      transition: ConfChangeTransition.Auto,
      changes: [{ type: ConfChangeType.RemoveNode, nodeId: 2 }],
      context: undefined,
    });
    assert.equal(b.promotable(), false);
    for (let i = 0; i < b.electionTimeout; i++) b.tick();
    nt.send(hup(1));
    assert.equal(a.state, StateType.StateLeader);
    assert.equal(b.state, StateType.StateFollower);
    assert.equal(b.lead, 1);
  });
});

describe('etcd raft_test: PreVote', () => {
  it('PreVoteWithSplitVote: pre-candidates that split the vote retry at the next term', () => {
    const ns = [1, 2, 3].map((id) => newTestRaft(id, 10, 1, peers(1, 2, 3))) as [Raft, Raft, Raft];
    for (const n of ns) {
      n.becomeFollower(1, NONE);
      n.preVote = true;
    }
    const nt = Network.of(...ns);
    nt.send(hup(1));
    // simulate leader down. followers start split vote.
    nt.isolate(1);
    nt.send(hup(2), hup(3));
    // check whether the term values are expected
    assert.equal(nt.raft(2).term, 3);
    assert.equal(nt.raft(3).term, 3);
    // check state
    assert.equal(nt.raft(2).state, StateType.StateCandidate);
    assert.equal(nt.raft(3).state, StateType.StateCandidate);
    // node 2 election timeout first
    nt.send(hup(2));
    assert.equal(nt.raft(2).term, 4);
    assert.equal(nt.raft(3).term, 4);
    assert.equal(nt.raft(2).state, StateType.StateLeader);
    assert.equal(nt.raft(3).state, StateType.StateFollower);
  });

  it('a MsgPreVote from a node with a lower term is rejected with our term, and never changes ours', () => {
    const r = newTestRaft(1, 10, 1, peers(1, 2, 3));
    r.preVote = true;
    r.becomeFollower(5, NONE);
    r.step(newMessage({ from: 2, to: 1, type: MessageType.MsgPreVote, term: 4, index: 9, logTerm: 4 }));
    const [resp] = readMessages(r);
    assert.equal(resp?.type, MessageType.MsgPreVoteResp);
    assert.equal(resp?.reject, true);
    assert.equal(resp?.term, 5);
    r.step(newMessage({ from: 2, to: 1, type: MessageType.MsgPreVote, term: 9, index: 9, logTerm: 4 }));
    const [grant] = readMessages(r);
    assert.equal(grant?.reject, false);
    assert.equal(grant?.term, 9, 'a granted pre-vote echoes the request term');
    assert.equal(r.term, 5, 'a pre-vote never changes our term');
    assert.equal(r.vote, NONE);
  });
});

describe('etcd raft_test: leader transfer', () => {
  it('LeaderTransferToUpToDateNode', () => {
    const nt = Network.of(undefined, undefined, undefined);
    nt.send(hup(1));
    const lead = nt.raft(1);
    assert.equal(lead.lead, 1);
    // Transfer leadership to 2.
    nt.send(newMessage({ from: 2, to: 1, type: MessageType.MsgTransferLeader }));
    checkLeaderTransferState(lead, StateType.StateFollower, 2);
    // After some log replication, transfer leadership back to 1.
    nt.send(newMessage({ from: 1, to: 1, type: MessageType.MsgProp, entries: [newEntry({})] }));
    nt.send(newMessage({ from: 1, to: 2, type: MessageType.MsgTransferLeader }));
    checkLeaderTransferState(lead, StateType.StateLeader, 1);
  });

  it('the transfer campaign carries the CampaignTransfer context, which overrides the lease', () => {
    const nt = new Network(
      (c) => {
        c.checkQuorum = true;
        c.preVote = true;
      },
      [undefined, undefined, undefined],
    );
    nt.raft(1).randomizedElectionTimeout = nt.raft(1).electionTimeout;
    for (let i = 0; i < nt.raft(1).electionTimeout; i++) nt.raft(1).tick();
    nt.send(hup(1));
    assert.equal(nt.raft(1).state, StateType.StateLeader);
    const seen: string[] = [];
    nt.msgHook = (m) => {
      if (m.type === MessageType.MsgVote) seen.push(new TextDecoder().decode(m.context));
      return true;
    };
    nt.send(newMessage({ from: 3, to: 1, type: MessageType.MsgTransferLeader }));
    assert.deepEqual(seen, ['CampaignTransfer', 'CampaignTransfer']);
    assert.equal(nt.raft(3).state, StateType.StateLeader);
    assert.equal(nt.raft(1).state, StateType.StateFollower);
  });

  it('LeaderTransferTimeout: an unfinished transfer is aborted after an election timeout', () => {
    const nt = Network.of(undefined, undefined, undefined);
    nt.send(hup(1));
    nt.isolate(3);
    const lead = nt.raft(1);
    // Transfer leadership to isolated node, wait for timeout.
    nt.send(newMessage({ from: 3, to: 1, type: MessageType.MsgTransferLeader }));
    assert.equal(lead.leadTransferee, 3);
    for (let i = 0; i < lead.heartbeatTimeout; i++) lead.tick();
    assert.equal(lead.leadTransferee, 3);
    for (let i = 0; i < lead.electionTimeout - lead.heartbeatTimeout; i++) lead.tick();
    checkLeaderTransferState(lead, StateType.StateLeader, 1);
  });
});

describe('etcd raft_test: snapshots', () => {
  it('ProvideSnap: a follower behind the first index gets a MsgSnap', () => {
    const storage = peers(1);
    const sm = newTestRaft(1, 10, 1, storage);
    sm.restore({
      data: new Uint8Array(0),
      metadata: {
        index: 11,
        term: 11,
        confState: { voters: [1, 2], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      },
    });
    sm.becomeCandidate();
    sm.becomeLeader();
    // force set the next of node 2, so that node 2 needs a snapshot
    const pr2 = sm.prs.progress.get(2);
    assert.ok(pr2);
    pr2.next = sm.raftLog.firstIndex();
    sm.step(newMessage({ from: 2, to: 1, type: MessageType.MsgAppResp, index: pr2.next - 1, reject: true }));
    const msgs = readMessages(sm);
    assert.equal(msgs.length, 1);
    assert.equal(msgs[0]?.type, MessageType.MsgSnap);
  });
});

describe('etcd raft_test: leader lease and restore', () => {
  it('LeaderStepdownWhenQuorumActive', () => {
    const sm = newTestRaft(1, 5, 1, peers(1, 2, 3));
    sm.checkQuorum = true;
    sm.becomeCandidate();
    sm.becomeLeader();
    for (let i = 0; i < sm.electionTimeout + 1; i++) {
      sm.step(newMessage({ from: 2, type: MessageType.MsgHeartbeatResp, term: sm.term }));
      sm.tick();
    }
    assert.equal(sm.state, StateType.StateLeader);
  });

  it('LeaderStepdownWhenQuorumLost', () => {
    const sm = newTestRaft(1, 5, 1, peers(1, 2, 3));
    sm.checkQuorum = true;
    sm.becomeCandidate();
    sm.becomeLeader();
    for (let i = 0; i < sm.electionTimeout + 1; i++) sm.tick();
    assert.equal(sm.state, StateType.StateFollower);
  });

  it('Restore: a snapshot replaces the log and the configuration, once', () => {
    const s = {
      data: new Uint8Array(0),
      metadata: {
        index: 11,
        term: 11,
        confState: {
          voters: [1, 2, 3],
          learners: [],
          votersOutgoing: [],
          learnersNext: [],
          autoLeave: false,
        },
      },
    };
    const sm = newTestRaft(1, 10, 1, peers(1, 2));
    assert.equal(sm.restore(s), true);
    assert.equal(sm.raftLog.lastIndex(), 11);
    assert.equal(sm.raftLog.term(11), 11);
    assert.deepEqual(sm.prs.voterNodes(), [1, 2, 3]);
    assert.equal(sm.restore(s), false);
    // It should not campaign before actually applying data.
    for (let i = 0; i < sm.randomizedElectionTimeout; i++) sm.tick();
    assert.equal(sm.state, StateType.StateFollower);
  });

  it('RestoreIgnoreSnapshot: a snapshot at or below commit is ignored, a matching one fast-forwards commit', () => {
    const sm = newTestRaft(1, 10, 1, peers(1, 2));
    sm.raftLog.append([
      newEntry({ term: 1, index: 1 }),
      newEntry({ term: 1, index: 2 }),
      newEntry({ term: 1, index: 3 }),
    ]);
    sm.raftLog.commitTo(1);
    const s = {
      data: new Uint8Array(0),
      metadata: {
        index: 1,
        term: 1,
        confState: { voters: [1, 2], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      },
    };
    assert.equal(sm.restore(s), false);
    assert.equal(sm.raftLog.committed, 1);
    s.metadata.index = 2;
    assert.equal(sm.restore(s), false);
    assert.equal(sm.raftLog.committed, 2);
  });

  it('PreVoteMigrationCanCompleteElection: a candidate left from before PreVote does not block it', () => {
    const ns = [1, 2, 3].map((id) => newTestRaft(id, 10, 1, peers(1, 2, 3))) as [Raft, Raft, Raft];
    for (const n of ns) n.becomeFollower(1, NONE);
    ns[0].preVote = true;
    ns[1].preVote = true;
    // We intentionally do not enable PreVote for n3, this is done so in order to simulate a
    // rolling restart process where it's possible to have a mixed version cluster with
    // replicas with PreVote enabled, and replicas without.
    const nt = Network.of(...ns);
    nt.send(hup(1));
    // Cause a network partition to isolate n3.
    nt.isolate(3);
    nt.send(
      newMessage({
        from: 1,
        to: 1,
        type: MessageType.MsgProp,
        entries: [newEntry({ data: new TextEncoder().encode('some data') })],
      }),
    );
    nt.send(hup(3));
    nt.send(hup(3));
    assert.equal(ns[0].state, StateType.StateLeader);
    assert.equal(ns[1].state, StateType.StateFollower);
    assert.equal(ns[2].state, StateType.StateCandidate);
    // Enable prevote on n3, then recover the network
    ns[2].preVote = true;
    nt.recover();
    const [, n2, n3] = ns;
    // simulate leader down
    nt.isolate(1);
    // Call for elections from both n2 and n3.
    nt.send(hup(3));
    nt.send(hup(2));
    // check state
    assert.equal(n2.state, StateType.StateFollower);
    assert.equal(n3.state, StateType.StatePreCandidate);
    nt.send(hup(3));
    nt.send(hup(2));
    // Do we have a leader?
    assert.ok(
      (n2.state as StateType) === StateType.StateLeader ||
        (n3.state as StateType) === StateType.StateFollower,
      'no leader',
    );
  });
});
