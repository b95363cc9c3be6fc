// etcd raft v3.5.9 raft_test.go TestFastLogRejection, ported: the follower's reject hint
// (index, term) and the leader's next probe after it, as v3.5.9 computes them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageType, newEntry, newMessage } from '../../../../../src/consensus/etcdraft/raft/types.js';
import { newTestMemoryStorage, newTestRaft, readMessages } from '../../../../support/raft-network.js';

// Logs are given as the term of each entry, at indexes 1, 2, 3...
const log = (terms: number[]) => terms.map((term, i) => newEntry({ term, index: i + 1 }));

// The cases of etcd v3.5.9, in its order: diverging tails of different terms, and lagging followers.
const tests: Array<{
  leader: number[];
  follower: number[];
  rejectHintTerm: number;
  rejectHintIndex: number;
  nextAppendTerm: number;
  nextAppendIndex: number;
}> = [
  {
    leader: [1, 2, 2, 4, 4, 4, 4],
    follower: [1, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3],
    rejectHintTerm: 3,
    rejectHintIndex: 7,
    nextAppendTerm: 2,
    nextAppendIndex: 3,
  },
  {
    leader: [1, 2, 2, 3, 4, 4, 4, 5],
    follower: [1, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3],
    rejectHintTerm: 3,
    rejectHintIndex: 8,
    nextAppendTerm: 3,
    nextAppendIndex: 4,
  },
  {
    leader: [1, 1, 1, 1],
    follower: [1, 2, 2, 4],
    rejectHintTerm: 1,
    rejectHintIndex: 1,
    nextAppendTerm: 1,
    nextAppendIndex: 1,
  },
  {
    leader: [1, 1, 1, 1, 1, 1],
    follower: [1, 2, 2, 4],
    rejectHintTerm: 1,
    rejectHintIndex: 1,
    nextAppendTerm: 1,
    nextAppendIndex: 1,
  },
  {
    leader: [1, 1, 1, 1],
    follower: [1, 2, 2, 4, 4, 4],
    rejectHintTerm: 1,
    rejectHintIndex: 1,
    nextAppendTerm: 1,
    nextAppendIndex: 1,
  },
  {
    leader: [1, 1, 1, 4, 5],
    follower: [1, 1, 1, 4],
    rejectHintTerm: 4,
    rejectHintIndex: 4,
    nextAppendTerm: 4,
    nextAppendIndex: 4,
  },
  {
    leader: [2, 5, 5, 5, 5, 5, 5, 5, 5],
    follower: [2, 4, 4, 4, 4, 4],
    rejectHintTerm: 4,
    rejectHintIndex: 6,
    nextAppendTerm: 2,
    nextAppendIndex: 1,
  },
  {
    leader: [2, 2, 2, 2, 2],
    follower: [2, 4, 4, 4, 4, 4, 4, 4],
    rejectHintTerm: 2,
    rejectHintIndex: 1,
    nextAppendTerm: 2,
    nextAppendIndex: 1,
  },
];

describe('etcd raft_test TestFastLogRejection', () => {
  tests.forEach((tt, i) => {
    it(`#${i}: reject hint (${tt.rejectHintIndex}, ${tt.rejectHintTerm}), next probe at ${tt.nextAppendIndex}/${tt.nextAppendTerm}`, () => {
      const s1 = newTestMemoryStorage({ peers: [1, 2, 3] });
      s1.append(log(tt.leader));
      const s2 = newTestMemoryStorage({ peers: [1, 2, 3] });
      s2.append(log(tt.follower));
      const n1 = newTestRaft(1, 10, 1, s1);
      const n2 = newTestRaft(2, 10, 1, s2);
      n1.becomeCandidate();
      n1.becomeLeader();

      n2.step(newMessage({ from: 1, to: 1, type: MessageType.MsgHeartbeat }));
      let msgs = readMessages(n2);
      assert.equal(msgs.length, 1);
      assert.equal(msgs[0]?.type, MessageType.MsgHeartbeatResp);
      n1.step(msgs[0]!);

      msgs = readMessages(n1);
      assert.equal(msgs.length, 1);
      assert.equal(msgs[0]?.type, MessageType.MsgApp);
      n2.step(msgs[0]!);

      msgs = readMessages(n2);
      assert.equal(msgs.length, 1);
      const resp = msgs[0]!;
      assert.equal(resp.type, MessageType.MsgAppResp);
      assert.equal(resp.reject, true);
      assert.equal(resp.logTerm, tt.rejectHintTerm, 'hint log term');
      assert.equal(resp.rejectHint, tt.rejectHintIndex, 'hint index');

      n1.step(resp);
      msgs = readMessages(n1);
      assert.equal(msgs[0]?.logTerm, tt.nextAppendTerm, 'next append log term');
      assert.equal(msgs[0]?.index, tt.nextAppendIndex, 'next append index');
    });
  });
});
