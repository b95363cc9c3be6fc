// RawNode after etcd raft v3.5.9 rawnode_test.go TestRawNodeStart: bootstrap, the Ready cycle,
// campaign and propose, shown with etcd's DescribeReady text.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeEntry, describeReady } from '../../../../../src/consensus/etcdraft/raft/describe.js';
import { StateType, seededRandom } from '../../../../../src/consensus/etcdraft/raft/raft.js';
import { RawNode, marshalConfChange } from '../../../../../src/consensus/etcdraft/raft/rawnode.js';
import { MemoryStorage } from '../../../../../src/consensus/etcdraft/raft/storage.js';
import {
  ConfChangeType,
  EntryType,
  isEmptyHardState,
  newEntry,
} from '../../../../../src/consensus/etcdraft/raft/types.js';

function newRawNode(storage: MemoryStorage): RawNode {
  return new RawNode({
    id: 1,
    electionTick: 10,
    heartbeatTick: 1,
    storage,
    maxSizePerMsg: Number.MAX_SAFE_INTEGER,
    maxInflightMsgs: 256,
    checkQuorum: true,
    preVote: true,
    random: seededRandom(7),
  });
}

describe('RawNode (etcd rawnode_test TestRawNodeStart)', () => {
  it('bootstraps one AddNode ConfChange per peer at term 1, committed, then elects and commits a proposal', () => {
    const storage = new MemoryStorage();
    const rn = newRawNode(storage);
    rn.bootstrap([{ id: 1 }]);
    assert.equal(rn.hasReady(), true);
    const rd = rn.ready();
    assert.equal(
      describeReady(rd),
      'Ready MustSync=true:\nHardState Term:1 Commit:1\nEntries:\n1/1 EntryConfChange v1\nCommittedEntries:\n1/1 EntryConfChange v1\n',
    );
    // etcd's ConfChange.Marshal bytes for {Type: AddNode, NodeID: 1}: id, type and node_id.
    assert.deepEqual([...(rd.entries[0]?.data ?? [])], [0x08, 0x00, 0x10, 0x00, 0x18, 0x01]);
    storage.append(rd.entries);
    if (!isEmptyHardState(rd.hardState)) storage.setHardState(rd.hardState);
    rn.advance(rd);
    assert.equal(rn.hasReady(), false);

    rn.campaign();
    assert.equal(rn.raft.state, StateType.StateLeader, 'a single voter wins its own (pre-)vote');
    const rd2 = rn.ready();
    storage.append(rd2.entries);
    storage.setHardState(rd2.hardState);
    rn.advance(rd2);

    rn.propose(new TextEncoder().encode('foo'));
    const rd3 = rn.ready();
    assert.equal(
      describeReady(rd3),
      'Ready MustSync=true:\nHardState Term:2 Vote:1 Commit:3\nEntries:\n2/3 EntryNormal "foo"\nCommittedEntries:\n2/3 EntryNormal "foo"\n',
    );
    storage.append(rd3.entries);
    storage.setHardState(rd3.hardState);
    rn.advance(rd3);
    assert.equal(rn.hasReady(), false);
  });

  it('refuses to bootstrap a non-empty storage or with no peers', () => {
    const storage = new MemoryStorage();
    storage.append([newEntry({ index: 1, term: 1 })]);
    assert.throws(() => newRawNode(storage).bootstrap([{ id: 1 }]), /nonempty Storage/);
    assert.throws(() => newRawNode(new MemoryStorage()).bootstrap([]), /at least one peer/);
  });

  it('describes ConfChange entries as etcd does', () => {
    const data = marshalConfChange({ type: ConfChangeType.RemoveNode, nodeId: 3, context: undefined, id: 0 });
    assert.equal(
      describeEntry(newEntry({ term: 4, index: 9, type: EntryType.ConfChange, data })),
      '4/9 EntryConfChange r3',
    );
  });
});
