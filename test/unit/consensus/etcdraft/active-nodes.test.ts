// Fabric's Tracker and Disseminator as pure objects: when the leader publishes the active nodes,
// what each destination is sent, and whom a follower believes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { etcdraft } from '../../../../src/protos/index.js';
import {
  ActiveNodesTracker,
  ClusterMetadataDisseminator,
  activeNodesFromLeader,
} from '../../../../src/consensus/etcdraft/active-nodes.js';
import { StateType } from '../../../../src/consensus/etcdraft/raft/index.js';

const leaderStatus = (active: number[], all = [1, 2, 3]) => ({
  softState: { lead: 1, raftState: StateType.StateLeader },
  progress: new Map(all.map((id) => [id, { recentActive: active.includes(id) }])),
});

const decode = (bytes: Uint8Array | undefined) =>
  bytes === undefined ? undefined : etcdraft.ClusterMetadata.decode(bytes).activeNodes.map(Number);

describe('ActiveNodesTracker', () => {
  test('the leader publishes its count once it held for 3 checks after it changed, then every 4th check', () => {
    const tracker = new ActiveNodesTracker(1);
    // First check: [1,2,3] differs from nothing known.
    assert.equal(tracker.check(leaderStatus([2, 3])), undefined);
    assert.equal(tracker.check(leaderStatus([2, 3])), undefined);
    assert.equal(tracker.check(leaderStatus([2, 3])), undefined);
    assert.equal(tracker.check(leaderStatus([2, 3])), undefined);
    const published = tracker.check(leaderStatus([2, 3]));
    assert.deepEqual(published?.activeNodes, [1, 2, 3]);
    assert.deepEqual(decode(published?.metadata), [1, 2, 3]);
    // The counter restarts after publishing, as Fabric's does.
    for (let i = 0; i < 3; i++) assert.equal(tracker.check(leaderStatus([2, 3])), undefined);
    assert.deepEqual(tracker.check(leaderStatus([2, 3]))?.activeNodes, [1, 2, 3]);
  });

  test('a change of count restarts the wait; the leader is counted once even if marked active', () => {
    const tracker = new ActiveNodesTracker(1);
    for (let i = 0; i < 5; i++) tracker.check(leaderStatus([1, 2, 3]));
    assert.equal(tracker.check(leaderStatus([1, 2])), undefined, 'count changed: wait again');
    for (let i = 0; i < 3; i++) assert.equal(tracker.check(leaderStatus([1, 2])), undefined);
    assert.deepEqual(tracker.check(leaderStatus([1, 2]))?.activeNodes, [1, 2]);
  });

  test('no leader: nothing is active and nothing is sent; a follower is left to what the leader says', () => {
    const tracker = new ActiveNodesTracker(2);
    assert.deepEqual(
      tracker.check({ softState: { lead: 0, raftState: StateType.StatePreCandidate }, progress: new Map() }),
      { activeNodes: [], metadata: undefined },
    );
    assert.equal(
      tracker.check({ softState: { lead: 1, raftState: StateType.StateFollower }, progress: new Map() }),
      undefined,
    );
  });
});

describe('ClusterMetadataDisseminator', () => {
  test('each destination gets the latest metadata once, again after a failed send or an update', () => {
    const disseminator = new ClusterMetadataDisseminator(() => [2, 3]);
    assert.equal(disseminator.take(2), undefined, 'nothing published yet');
    const first = etcdraft.ClusterMetadata.encode({ activeNodes: [1, 2, 3] }).finish();
    disseminator.update(first);
    assert.equal(disseminator.take(2), first);
    assert.equal(disseminator.take(2), undefined, 'sent once');
    assert.equal(disseminator.take(4), undefined, 'not a destination');
    const toThree = disseminator.take(3)!;
    disseminator.giveBack(3, toThree);
    assert.equal(disseminator.take(3), first, 'due again after the send failed');
    const second = etcdraft.ClusterMetadata.encode({ activeNodes: [1, 2] }).finish();
    disseminator.update(second);
    disseminator.giveBack(2, first); // a stale failure does not bring the old metadata back
    assert.equal(disseminator.take(2), second);
    assert.equal(disseminator.take(3), second);
  });
});

describe('activeNodesFromLeader', () => {
  const metadata = etcdraft.ClusterMetadata.encode({ activeNodes: [1, 3] }).finish();
  test('taken from the known leader only', () => {
    assert.deepEqual(activeNodesFromLeader(metadata, 1, 1), [1, 3]);
    assert.equal(activeNodesFromLeader(metadata, 3, 1), undefined, 'not from a follower');
    assert.equal(activeNodesFromLeader(metadata, 1, 0), undefined, 'not without a known leader');
    assert.equal(activeNodesFromLeader(undefined, 1, 1), undefined);
    assert.equal(activeNodesFromLeader(new Uint8Array(), 1, 1), undefined);
    assert.equal(activeNodesFromLeader(Uint8Array.from([0x0a, 0xff]), 1, 1), undefined, 'does not decode');
  });
});
