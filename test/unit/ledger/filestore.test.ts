import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  FileBlockStore,
  blockHeaderHash,
  marshalBlock,
  unmarshalCanonicalBlock,
} from '../../../src/ledger/index.js';
import {
  makeBlock,
  makeChain,
  withTempDir,
  goldenBlocks,
  writeGoOrdererLedger,
} from '../../support/ledger.js';
import { systemClock } from '../../../src/clock.js';

const channelId = 'mychannel';
const indexPath = (directory: string) => path.join(directory, 'blocklocations.idx');

/** A channel's folder in test/fixtures/go-orderer: the Go orderer's block file and its delivered blocks. */
const goOrdererFixture = (channel: string) =>
  new URL(`../../fixtures/go-orderer/${channel}/`, import.meta.url).pathname;

async function fixtureBlocks(fixture: string): Promise<Buffer[]> {
  const count = (await readdir(fixture)).filter((name) => name.endsWith('.block')).length;
  assert.ok(count >= 2, `no Go orderer blocks in ${fixture}`);
  return Promise.all(Array.from({ length: count }, (_, i) => readFile(path.join(fixture, `${i}.block`))));
}

async function blockFiles(directory: string): Promise<string[]> {
  return (await readdir(directory)).filter((name) => name.startsWith('blockfile_')).sort();
}

async function assertServes(store: FileBlockStore, blocks: readonly { number: number; bytes: Buffer }[]) {
  assert.equal(store.height(), blocks.length);
  for (const block of blocks) {
    assert.deepEqual((await store.getBlock(block.number))?.bytes, block.bytes, `block ${block.number}`);
  }
}

test('a block of 200,000 envelopes is appended, and read back from the file, byte for byte', () =>
  withTempDir(async (directory) => {
    // The record goes to writev as one piece per entry and prefix: more pieces than a function
    // call takes arguments.
    const [genesis] = makeChain(1);
    const data = Array.from({ length: 200_000 }, (_, i) => Buffer.from([i % 256, 1]));
    const bytes = marshalBlock({
      number: 1,
      previousHash: blockHeaderHash(unmarshalCanonicalBlock(genesis!.bytes)),
      dataHash: Buffer.alloc(32, 3),
      data,
      metadata: [Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)],
    });
    const store = await FileBlockStore.open({ channelId, directory }, { clock: systemClock });
    await store.append(genesis!);
    await store.append({ number: 1, bytes });
    await store.close();
    const reopened = await FileBlockStore.open(
      { channelId, directory, cachedBlocks: 0 },
      { clock: systemClock },
    );
    await assertServes(reopened, [genesis!, { number: 1, bytes }]);
    await reopened.close();
  }));

test('survives a restart: same height, same bytes, appends continue', () =>
  withTempDir(async (directory) => {
    const chain = makeChain(12);
    const first = await FileBlockStore.open({ channelId, directory }, { clock: systemClock });
    for (const block of chain.slice(0, 10)) await first.append(block);
    await first.close();

    const second = await FileBlockStore.open(
      { channelId, directory, cachedBlocks: 0 },
      { clock: systemClock },
    );
    assert.equal(second.stats().reindexedBlocks, 0);
    assert.equal(second.stats().droppedBytes, 0);
    await assertServes(second, chain.slice(0, 10));
    await second.append(chain[10]!);
    await second.append(chain[11]!);
    await second.close();

    const third = await FileBlockStore.open(
      { channelId, directory, cachedBlocks: 0 },
      { clock: systemClock },
    );
    await assertServes(third, chain);
    await third.close();
  }));

test('writes block files byte-identical to the ones the Go orderer wrote for the same blocks', async () => {
  // test/fixtures/go-orderer holds blockfile_000000 as Fabric's v2.5.12 orderer wrote it and every
  // block as its Deliver served it (see the README there). Our store gets the delivered bytes.
  for (const channel of ['system-channel', 'mychannel']) {
    const fixture = goOrdererFixture(channel);
    const blocks = await fixtureBlocks(fixture);
    await withTempDir(async (directory) => {
      const store = await FileBlockStore.open({ channelId: channel, directory }, { clock: systemClock });
      for (const [number, bytes] of blocks.entries()) await store.append({ number, bytes });
      await store.close();
      const ours = await readFile(path.join(directory, 'blockfile_000000'));
      const theirs = await readFile(path.join(fixture, 'blockfile_000000'));
      assert.equal(ours.length, theirs.length, `${channel}: block file length`);
      assert.ok(ours.equals(theirs), `${channel}: block file bytes differ from the Go orderer's`);
    });
  }
});

test('group commit: blocks appended together share one fsync; one at a time each get one', () =>
  withTempDir(async (directory) => {
    const chain = makeChain(60);
    const store = await FileBlockStore.open({ channelId, directory }, { clock: systemClock });
    const before = store.stats();
    await Promise.all(chain.slice(0, 50).map((block) => store.append(block)));
    const afterBatch = store.stats();
    assert.equal(afterBatch.appendedBlocks, 50);
    assert.equal(afterBatch.commitGroups - before.commitGroups, 1);
    assert.equal(afterBatch.fileSyncs - before.fileSyncs, 1);

    for (const block of chain.slice(50)) await store.append(block);
    const afterSequential = store.stats();
    assert.equal(afterSequential.fileSyncs - afterBatch.fileSyncs, 10);
    await assertServes(store, chain);
    await store.close();
  }));

test('appends arriving during a commit form the next group', () =>
  withTempDir(async (directory) => {
    const chain = makeChain(30);
    const store = await FileBlockStore.open({ channelId, directory }, { clock: systemClock });
    const first = store.append(chain[0]!);
    await Promise.resolve();
    await Promise.resolve();
    // The first commit is running; these queue behind it.
    const rest = chain.slice(1).map((block) => store.append(block));
    await Promise.all([first, ...rest]);
    assert.ok(store.stats().commitGroups <= 3, `commit groups: ${store.stats().commitGroups}`);
    await assertServes(store, chain);
    await store.close();
  }));

test('rolls over to new block files below the maximum size and reads across them', () =>
  withTempDir(async (directory) => {
    const chain = makeChain(20, { transactions: 2, transactionSize: 300 });
    const maxBlockFileSize = 3500;
    const store = await FileBlockStore.open(
      { channelId, directory, maxBlockFileSize, cachedBlocks: 0 },
      { clock: systemClock },
    );
    for (const block of chain.slice(0, 7)) await store.append(block);
    await Promise.all(chain.slice(7).map((block) => store.append(block)));
    const files = await blockFiles(directory);
    assert.ok(files.length >= 4, `files: ${files}`);
    for (const file of files) assert.ok((await stat(path.join(directory, file))).size <= maxBlockFileSize);
    await assertServes(store, chain);
    await store.close();

    const reopened = await FileBlockStore.open(
      { channelId, directory, maxBlockFileSize, cachedBlocks: 0 },
      { clock: systemClock },
    );
    await assertServes(reopened, chain);
    await reopened.append(makeBlock(20, chain[19]!.headerHash));
    await reopened.close();
  }));

test('a block larger than the maximum file size gets a file of its own', () =>
  withTempDir(async (directory) => {
    const small = makeChain(2);
    const big = makeBlock(2, small[1]!.headerHash, { transactions: 10, transactionSize: 1000 });
    const after = makeBlock(3, big.headerHash);
    const store = await FileBlockStore.open(
      {
        channelId,
        directory,
        maxBlockFileSize: 4000,
        cachedBlocks: 0,
      },
      { clock: systemClock },
    );
    for (const block of [...small, big, after]) await store.append(block);
    assert.deepEqual(await blockFiles(directory), [
      'blockfile_000000',
      'blockfile_000001',
      'blockfile_000002',
    ]);
    await assertServes(store, [...small, big, after]);
    await store.close();
  }));

const indexDamage: Array<{
  name: string;
  damage: (index: string) => Promise<void>;
  rebuilt: (height: number) => number;
}> = [
  { name: 'deleted', damage: (index) => rm(index), rebuilt: (height) => height },
  { name: 'emptied', damage: (index) => truncate(index, 0), rebuilt: (height) => height },
  {
    name: 'missing its last entries',
    damage: (index) => truncate(index, 8 * 9 + 3),
    rebuilt: (height) => height - 9,
  },
  {
    name: 'zeroed at the tail (lost pages)',
    damage: async (index) => {
      const bytes = await readFile(index);
      bytes.fill(0, 8 * 10);
      await writeFile(index, bytes);
    },
    rebuilt: (height) => height - 10,
  },
  {
    name: 'pointing into the wrong place',
    damage: async (index) => {
      const bytes = await readFile(index);
      bytes.writeUInt32BE(bytes.readUInt32BE(8 * 15 + 4) + 1, 8 * 15 + 4);
      await writeFile(index, bytes);
    },
    rebuilt: (height) => height,
  },
];
for (const { name, damage, rebuilt } of indexDamage) {
  test(`an index that is ${name} is rebuilt from the block files`, () =>
    withTempDir(async (directory) => {
      const chain = makeChain(16);
      const store = await FileBlockStore.open(
        { channelId, directory, maxBlockFileSize: 5000 },
        { clock: systemClock },
      );
      await Promise.all(chain.map((block) => store.append(block)));
      await store.close();
      await damage(indexPath(directory));

      const reopened = await FileBlockStore.open(
        { channelId, directory, cachedBlocks: 0 },
        { clock: systemClock },
      );
      assert.equal(reopened.stats().reindexedBlocks, rebuilt(chain.length));
      assert.equal(reopened.stats().droppedBytes, 0);
      await assertServes(reopened, chain);
      assert.equal((await stat(indexPath(directory))).size, 8 * chain.length);
      await reopened.close();
    }));
}

test('reads a block file written by the Go orderer and serves the bytes its Deliver served', () =>
  withTempDir(async (directory) => {
    const fixture = goOrdererFixture('mychannel');
    const delivered = await fixtureBlocks(fixture);
    await copyFile(path.join(fixture, 'blockfile_000000'), path.join(directory, 'blockfile_000000'));
    const store = await FileBlockStore.open(
      { channelId, directory, cachedBlocks: 0 },
      { clock: systemClock },
    );
    assert.equal(store.stats().reindexedBlocks, delivered.length);
    assert.equal(store.height(), delivered.length);
    for (const [number, bytes] of delivered.entries())
      assert.deepEqual((await store.getBlock(number))?.bytes, bytes, `block ${number}`);

    const next = makeBlock(delivered.length, blockHeaderHash(unmarshalCanonicalBlock(delivered.at(-1)!)));
    await store.append(next);
    await store.close();
    const reopened = await FileBlockStore.open(
      { channelId, directory, cachedBlocks: 0 },
      { clock: systemClock },
    );
    assert.equal(reopened.stats().reindexedBlocks, 0);
    await assertServes(reopened, [...delivered.map((bytes, number) => ({ number, bytes })), next]);
    await reopened.close();
  }));

test('reads a Go orderer folder with rolled-over files, including the empty file Fabric leaves for a big block', () =>
  withTempDir(async (directory) => {
    const golden = await goldenBlocks('mychannel');
    // Block 0 (20 KB) does not fit in 16 KB: Fabric moves on from the empty file 0.
    const folder = await writeGoOrdererLedger(directory, channelId, golden, 16 * 1024);
    assert.equal((await stat(path.join(folder, 'blockfile_000000'))).size, 0);
    const store = await FileBlockStore.open(
      {
        channelId,
        directory: folder,
        maxBlockFileSize: 16 * 1024,
        cachedBlocks: 0,
      },
      { clock: systemClock },
    );
    assert.equal(store.height(), 6);
    for (const [number, bytes] of golden.entries())
      assert.deepEqual((await store.getBlock(number))?.bytes, bytes);
    await store.close();
  }));

test('the latest blocks are served from the cache without touching the files', () =>
  withTempDir(async (directory) => {
    const chain = makeChain(3);
    const store = await FileBlockStore.open({ channelId, directory }, { clock: systemClock });
    for (const block of chain) await store.append(block);
    await rm(path.join(directory, 'blockfile_000000'));
    assert.deepEqual((await store.getBlock(2))?.bytes, chain[2]!.bytes);
    await store.close();
  }));

test('rejects an invalid maximum file size', () =>
  withTempDir(async (directory) => {
    await assert.rejects(
      FileBlockStore.open({ channelId, directory, maxBlockFileSize: 0 }, { clock: systemClock }),
      /maxBlockFileSize/,
    );
    await assert.rejects(
      FileBlockStore.open({ channelId, directory, maxBlockFileSize: 2 ** 33 }, { clock: systemClock }),
      /maxBlockFileSize/,
    );
  }));

test('the recent-block cache is bounded by bytes as well as by count', () =>
  withTempDir(async (directory) => {
    const chain = makeChain(5, { transactions: 4, transactionSize: 1000 });
    const size = Math.max(...chain.map((b) => b.bytes.length));
    const store = await FileBlockStore.open(
      {
        channelId,
        directory,
        cachedBlocks: 64,
        cachedBlockBytes: Math.floor(2.5 * size),
      },
      { clock: systemClock },
    );
    for (const block of chain) await store.append(block);
    const three = (await store.getBlock(3))!.bytes;
    const four = (await store.getBlock(4))!.bytes;
    assert.equal((await store.getBlock(3))!.bytes, three, 'block 3 is served from memory');
    // Reading block 0 from its file caches it; two and a half blocks fit, so 4 (least recently
    // used) is evicted although the count limit (64) is far away.
    assert.deepEqual((await store.getBlock(0))!.bytes, chain[0]!.bytes);
    assert.equal((await store.getBlock(3))!.bytes, three, 'block 3 still in memory');
    const fourAgain = (await store.getBlock(4))!.bytes;
    assert.notEqual(fourAgain, four, 'block 4 was read back from the file');
    assert.deepEqual(fourAgain, chain[4]!.bytes);
    await store.close();
  }));
