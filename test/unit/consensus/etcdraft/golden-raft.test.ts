// Blocks written by three Fabric v2.5.12 Go orderers in one Raft group (test/fixtures/fabric-2.5/
// golden-raft): the same chain on every node, each node's own signature, the etcdraft
// BlockMetadata we read and re-encode byte for byte, and blocks that our chain support accepts as
// made elsewhere (a follower or an onboarding node writes exactly these).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { common } from '../../../../src/protos/index.js';
import { BlockMetadataIndex, blockHeaderHash, consenterMetadataOf } from '../../../../src/protoutil/block.js';
import { blockSignatureSet, verifyBlock } from '../../../../src/protoutil/verify.js';
import { encodeBlockMetadata, readBlockMetadata } from '../../../../src/consensus/etcdraft/metadata.js';
import { etcdraftConfigOf } from '../../../../src/channelconfig/etcdraft.js';
import { readConfigBlock } from '../../../../src/channelconfig/index.js';
import { channelResources } from '../../../../src/server/orderer.js';
import { FIXTURES } from '../../../support/fabric-clients.js';
import { buildChainSupport } from '../../../support/chain-support.js';

const GOLDEN = join(FIXTURES, 'golden-raft');
const blocksOf = (node: number) =>
  [0, 1, 2, 3].map((n) => readFileSync(join(GOLDEN, `o${node}`, `${n}.block`)));
const nodes = [0, 1, 2].map(blocksOf);
const genesis = common.Block.decode(nodes[0]![0]!);
const { channelId, configEnvelope } = readConfigBlock(genesis);
const resources = channelResources();
const bundle = resources.createBundle(channelId, configEnvelope.config ?? {});

test('every Go node has the same chain; only the signatures (and their creators) differ', async () => {
  for (let n = 0; n < 4; n++) {
    const [a, b, c] = nodes.map((blocks) => common.Block.decode(blocks[n]!));
    for (const other of [b!, c!]) {
      assert.ok(blockHeaderHash(a!.header!).equals(blockHeaderHash(other.header!)), `block ${n} header`);
      assert.deepEqual(other.data!.data, a!.data!.data);
    }
  }
  for (const blocks of nodes) {
    let previous: common.IBlock = genesis;
    for (const bytes of blocks.slice(1)) {
      const block = common.Block.decode(bytes);
      await verifyBlock(block, { previous, policyManager: bundle.policyManager });
      previous = block;
    }
  }
  const creators = nodes.map((blocks) => blockSignatureSet(common.Block.decode(blocks[1]!))[0]!.identity);
  assert.equal(
    new Set(creators.map((c) => c.toString('hex'))).size,
    3,
    'each node signed with its own identity',
  );
});

test("the etcdraft BlockMetadata of Go's blocks is read and re-encoded to the same bytes", () => {
  const consenters = etcdraftConfigOf(bundle.orderer!, bundle.mspManager).consenters;
  for (const blocks of nodes) {
    const indexes = blocks.slice(1).map((bytes) => {
      const raw = consenterMetadataOf(common.Block.decode(bytes))!;
      const metadata = readBlockMetadata(raw, consenters);
      assert.deepEqual(metadata.consenterIds, [1, 2, 3]);
      assert.equal(metadata.nextConsenterId, 4);
      assert.ok(encodeBlockMetadata(metadata).equals(raw), 'same bytes as Go');
      return metadata.raftIndex;
    });
    assert.deepEqual(indexes, [5, 6, 7]);
  }
  // The genesis block has none: IDs 1..3 from the config.
  assert.equal(consenterMetadataOf(genesis), undefined);
  assert.deepEqual(readBlockMetadata(undefined, consenters).consenterIds, [1, 2, 3]);
  // LAST_CONFIG stays 0 (empty), as in every block after a genesis-only config history.
  const last = common.Block.decode(nodes[0]![3]!);
  assert.equal(last.metadata!.metadata![BlockMetadataIndex.LAST_CONFIG]!.length, 0);
});

test("a node following the group stores another node's blocks exactly as received", async () => {
  const { support, store } = await buildChainSupport(nodes[1]![0]!);
  for (const bytes of nodes[1]!.slice(1)) await support.appendVerified(bytes);
  await support.flushed();
  for (let n = 0; n < 4; n++) assert.ok((await store.getBlock(n))!.bytes.equals(nodes[1]![n]!));
  assert.equal(Number((await support.block(3))!.header!.number), 3);
});
