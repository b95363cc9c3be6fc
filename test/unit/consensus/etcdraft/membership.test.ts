// Consenter-set changes as Fabric's ComputeMembershipChanges and UnacceptableQuorumLoss decide
// them, table by table: consenters are known by their client certificate bytes, an added one gets
// next_consenter_id, a removed one becomes a RemoveNode, one of each is a rotation keeping the ID.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  computeMembershipChange,
  consentersOfConfigBlock,
  unacceptableQuorumLoss,
  unfinishedConfChange,
} from '../../../../src/consensus/etcdraft/membership.js';
import { ConfChangeType } from '../../../../src/consensus/etcdraft/raft/types.js';
import type { EtcdraftConsenter } from '../../../../src/channelconfig/etcdraft.js';
import { common, etcdraft, orderer } from '../../../../src/protos/index.js';
import { newBlock } from '../../../../src/protoutil/block.js';
import { HeaderType } from '../../../../src/protoutil/envelope.js';

const node = (name: string): EtcdraftConsenter => ({
  host: name,
  port: 7051,
  clientTlsCert: Buffer.from(`client-${name}`),
  serverTlsCert: Buffer.from(`server-${name}`),
});
const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map(node) as [
  EtcdraftConsenter,
  EtcdraftConsenter,
  EtcdraftConsenter,
  EtcdraftConsenter,
  EtcdraftConsenter,
];
const metadata = { consenterIds: [1, 2, 3], nextConsenterId: 4, raftIndex: 20 };

test('membership changes: add, remove, rotate, reorder, and more than one refused', () => {
  const cases: {
    name: string;
    next: EtcdraftConsenter[];
    ids: number[];
    nextId: number;
    confChange?: { type: ConfChangeType; nodeId: number };
    rotated?: number;
  }[] = [
    { name: 'no change', next: [a, b, c], ids: [1, 2, 3], nextId: 4 },
    { name: 'reordered', next: [c, a, b], ids: [3, 1, 2], nextId: 4 },
    {
      name: 'one added',
      next: [a, b, c, d],
      ids: [1, 2, 3, 4],
      nextId: 5,
      confChange: { type: ConfChangeType.AddNode, nodeId: 4 },
    },
    {
      name: 'one removed',
      next: [a, c],
      ids: [1, 3],
      nextId: 4,
      confChange: { type: ConfChangeType.RemoveNode, nodeId: 2 },
    },
    { name: 'rotated: d takes b’s ID', next: [a, d, c], ids: [1, 2, 3], nextId: 4, rotated: 2 },
  ];
  for (const row of cases) {
    const change = computeMembershipChange(metadata, [a, b, c], row.next);
    assert.deepEqual(
      change.metadata,
      { consenterIds: row.ids, nextConsenterId: row.nextId, raftIndex: 20 },
      row.name,
    );
    assert.deepEqual(change.confChange, row.confChange, row.name);
    assert.equal(change.rotated, row.rotated, row.name);
  }
  assert.throws(
    () => computeMembershipChange(metadata, [a, b, c], [a, b, c, d, e]),
    /more than one consenter/,
  );
  assert.throws(() => computeMembershipChange(metadata, [a, b, c], [a]), /more than one consenter/);
  // IDs are never reused: after removing 2 and adding one, the new node is 4, not 2.
  const removed = computeMembershipChange(metadata, [a, b, c], [a, c]);
  const added = computeMembershipChange(removed.metadata, [a, c], [a, c, e]);
  assert.deepEqual(added.metadata.consenterIds, [1, 3, 4]);
});

test('quorum loss: judged against the nodes the leader saw active', () => {
  const add = computeMembershipChange(metadata, [a, b, c], [a, b, c, d]);
  assert.equal(unacceptableQuorumLoss(add, [1, 2, 3]), false);
  assert.equal(unacceptableQuorumLoss(add, [1, 2]), true, '2 active of 4: below the quorum of 3');
  const remove = computeMembershipChange(metadata, [a, b, c], [a, c]);
  assert.equal(unacceptableQuorumLoss(remove, [1, 2, 3]), false);
  assert.equal(unacceptableQuorumLoss(remove, [1, 2]), true, 'only 1 of the remaining 2 active');
  const rotate = computeMembershipChange(metadata, [a, b, c], [a, d, c]);
  assert.equal(unacceptableQuorumLoss(rotate, [1, 2, 3]), false);
  assert.equal(unacceptableQuorumLoss(rotate, [2, 3]), true, 'the rotated node does not count');
  // Growing a 1-node cluster to 2 loses quorum whatever is active: allowed.
  const single = { consenterIds: [1], nextConsenterId: 2, raftIndex: 3 };
  assert.equal(unacceptableQuorumLoss(computeMembershipChange(single, [a], [a, b]), [1]), false);
});

test('a new leader finds the ConfChange a committed config block still waits for', () => {
  assert.equal(unfinishedConfChange([1, 2, 3], metadata), undefined);
  assert.deepEqual(unfinishedConfChange([1, 2, 3], { ...metadata, consenterIds: [1, 2, 3, 4] }), {
    type: ConfChangeType.AddNode,
    nodeId: 4,
  });
  assert.deepEqual(unfinishedConfChange([1, 2, 3], { ...metadata, consenterIds: [1, 3] }), {
    type: ConfChangeType.RemoveNode,
    nodeId: 2,
  });
});

test('the consenters of a config block, and none for a non-etcdraft or unreadable one', () => {
  const configBlock = (type: string, consenters: EtcdraftConsenter[]) => {
    const consensusType = orderer.ConsensusType.encode({
      type,
      metadata: etcdraft.ConfigMetadata.encode({ consenters }).finish(),
    }).finish();
    const configEnvelope = common.ConfigEnvelope.encode({
      config: {
        channelGroup: { groups: { Orderer: { values: { ConsensusType: { value: consensusType } } } } },
      },
    }).finish();
    const payload = common.Payload.encode({
      header: {
        channelHeader: common.ChannelHeader.encode({ type: HeaderType.CONFIG, channelId: 'ch' }).finish(),
      },
      data: configEnvelope,
    }).finish();
    return newBlock(3, Buffer.alloc(32), [Buffer.from(common.Envelope.encode({ payload }).finish())]);
  };
  const read = consentersOfConfigBlock(configBlock('etcdraft', [a, d]));
  assert.deepEqual(
    read?.map((x) => [x.host, x.clientTlsCert.toString()]),
    [
      ['a', 'client-a'],
      ['d', 'client-d'],
    ],
  );
  assert.equal(consentersOfConfigBlock(configBlock('solo', [])), undefined);
  assert.equal(consentersOfConfigBlock(newBlock(3, Buffer.alloc(32), [Buffer.from('junk')])), undefined);
});
