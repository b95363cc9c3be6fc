// etcdraft.BlockMetadata as Fabric reads and writes it: IDs 1..N at genesis, decoded from the last
// block otherwise, encoded as Go's proto.Marshal writes it, and mapped onto the config's consenters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  clusterMembers,
  encodeBlockMetadata,
  readBlockMetadata,
} from '../../../../src/consensus/etcdraft/metadata.js';
import { etcdraftConfigOf } from '../../../../src/channelconfig/etcdraft.js';
import { readConfigBlock } from '../../../../src/channelconfig/index.js';
import { channelResources } from '../../../../src/server/orderer.js';
import { common } from '../../../../src/protos/index.js';
import { OrdererError } from '../../../../src/errors.js';
import { FIXTURES } from '../../../support/fabric-clients.js';

function appraftConsenters() {
  const block = common.Block.decode(readFileSync(join(FIXTURES, 'blocks/appraft-genesis.block')));
  const { channelId, configEnvelope } = readConfigBlock(block);
  const bundle = channelResources().createBundle(channelId, configEnvelope.config ?? {});
  return etcdraftConfigOf(bundle.orderer!, bundle.mspManager).consenters;
}

test('at genesis the consenters get IDs 1..N in config order, the next ID is N+1', () => {
  const consenters = appraftConsenters();
  assert.deepEqual(readBlockMetadata(undefined, consenters), {
    consenterIds: [1, 2, 3],
    nextConsenterId: 4,
    raftIndex: 0,
  });
  const members = clusterMembers(readBlockMetadata(undefined, consenters), consenters);
  assert.deepEqual(
    members.map((m) => [m.id, m.port]),
    [
      [1, 7051],
      [2, 7052],
      [3, 7053],
    ],
  );
  assert.ok(members[1]!.serverTlsCert.equals(consenters[1]!.serverTlsCert));
});

test('the metadata a Go node wrote in block 1 of a 3-node channel round-trips to the same bytes', () => {
  // {consenter_ids: [1,2,3], next_consenter_id: 4, raft_index: 5}: field 1 packed, then 2 and 3.
  const goBytes = Buffer.from('0a03010203100418 05'.replace(/ /g, ''), 'hex');
  const decoded = readBlockMetadata(goBytes, appraftConsenters());
  assert.deepEqual(decoded, { consenterIds: [1, 2, 3], nextConsenterId: 4, raftIndex: 5 });
  assert.ok(encodeBlockMetadata(decoded).equals(goBytes));
});

test('IDs are taken from the metadata, not from positions, after a membership change', () => {
  const consenters = appraftConsenters();
  const metadata = { consenterIds: [1, 3, 4], nextConsenterId: 5, raftIndex: 90 };
  assert.deepEqual(
    clusterMembers(metadata, consenters).map((m) => m.id),
    [1, 3, 4],
  );
  assert.throws(
    () => clusterMembers({ ...metadata, consenterIds: [1, 3] }, consenters),
    /lists 2 consenter IDs but the channel config has 3 consenters/,
  );
});

test('metadata that does not decode is refused with the reason', () => {
  assert.throws(
    () => readBlockMetadata(Buffer.from([0x0a, 0x09, 0x01]), appraftConsenters()),
    (err: unknown) => err instanceof OrdererError && /failed to unmarshal block's metadata/.test(err.message),
  );
});
