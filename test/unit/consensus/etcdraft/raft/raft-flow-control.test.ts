// etcd raft v3.5.9 raft_flow_control_test.go, ported: MaxInflightMsgs in StateReplicate.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Raft } from '../../../../../src/consensus/etcdraft/raft/raft.js';
import type { Progress } from '../../../../../src/consensus/etcdraft/raft/tracker/progress.js';
import { MessageType, newEntry, newMessage } from '../../../../../src/consensus/etcdraft/raft/types.js';
import { newTestMemoryStorage, newTestRaft, readMessages } from '../../../../support/raft-network.js';

const propose = (r: Raft) =>
  r.step(
    newMessage({
      from: 1,
      to: 1,
      type: MessageType.MsgProp,
      entries: [newEntry({ data: new TextEncoder().encode('somedata') })],
    }),
  );

function replicatingLeader(): { r: Raft; pr2: Progress } {
  const r = newTestRaft(1, 5, 1, newTestMemoryStorage({ peers: [1, 2] }));
  r.becomeCandidate();
  r.becomeLeader();
  const pr2 = r.prs.progress.get(2) as Progress;
  // force the progress to be in replicate state
  pr2.becomeReplicate();
  return { r, pr2 };
}

describe('etcd raft_flow_control_test', () => {
  it('MsgAppFlowControlFull: no MsgApp once the inflight window is full', () => {
    const { r, pr2 } = replicatingLeader();
    // fill in the inflights window
    for (let i = 0; i < r.prs.maxInflight; i++) {
      propose(r);
      assert.equal(readMessages(r).length, 1, `#${i}`);
    }
    // ensure 1
    assert.equal(pr2.inflights.full(), true);
    // ensure 2
    for (let i = 0; i < 10; i++) {
      propose(r);
      assert.equal(readMessages(r).length, 0, `#${i}`);
    }
  });

  it('MsgAppFlowControlMoveForward: an ack frees the slots up to its index', () => {
    const { r, pr2 } = replicatingLeader();
    for (let i = 0; i < r.prs.maxInflight; i++) {
      propose(r);
      readMessages(r);
    }
    // 1 is noop, 2 is the first proposal we just sent. so we start with 2.
    for (let tt = 2; tt < r.prs.maxInflight; tt++) {
      // move forward the window
      r.step(newMessage({ from: 2, to: 1, type: MessageType.MsgAppResp, index: tt }));
      readMessages(r);
      // fill in the inflights window again
      propose(r);
      assert.equal(readMessages(r).length, 1, `#${tt}`);
      // ensure 1
      assert.equal(pr2.inflights.full(), true);
      // ensure 2
      for (let i = 0; i < tt; i++) {
        r.step(newMessage({ from: 2, to: 1, type: MessageType.MsgAppResp, index: i }));
        assert.equal(pr2.inflights.full(), true, `#${tt}`);
      }
    }
  });

  it('MsgAppFlowControlRecvHeartbeat: a heartbeat response frees one slot of a full window', () => {
    const { r, pr2 } = replicatingLeader();
    for (let i = 0; i < r.prs.maxInflight; i++) {
      propose(r);
      readMessages(r);
    }
    for (let tt = 1; tt < 5; tt++) {
      assert.equal(pr2.inflights.full(), true, `#${tt}`);
      // recv tt msgHeartbeatResp and expect one free slot
      for (let i = 0; i < tt; i++) {
        r.step(newMessage({ from: 2, to: 1, type: MessageType.MsgHeartbeatResp }));
        readMessages(r);
        assert.equal(pr2.inflights.full(), false, `#${tt}.${i}`);
      }
      // one slot
      propose(r);
      assert.equal(readMessages(r).length, 1, `#${tt}: free slot = 0, want 1`);
      // and just one slot
      for (let i = 0; i < 10; i++) {
        propose(r);
        assert.equal(readMessages(r).length, 0, `#${tt}.${i}`);
      }
      // clear all pending messages.
      r.step(newMessage({ from: 2, to: 1, type: MessageType.MsgHeartbeatResp }));
      readMessages(r);
    }
  });
});
