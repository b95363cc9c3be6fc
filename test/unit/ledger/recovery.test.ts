import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, cp, mkdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OrdererError } from '../../../src/errors.js';
import { FileBlockStore } from '../../../src/ledger/index.js';
import { emptyTip } from '../../../src/ledger/chaincheck.js';
import { scanBlockRecords } from '../../../src/ledger/recovery.js';
import {
  serializeFileRecord,
  unmarshalCanonicalBlock,
  encodeVarint,
} from '../../../src/ledger/blockcodec.js';
import { makeBlock, makeChain, withTempDir, pseudoRandomBytes } from '../../support/ledger.js';
import { systemClock } from '../../../src/clock.js';

const channelId = 'mychannel';
const chain = makeChain(6, { transactions: 4, transactionSize: 1200 }); // ~5 KB blocks: 2-byte length prefixes

/** A clean ledger of chain[0..4] in one file; returns where block 4's frame starts and ends. */
async function cleanLedger(directory: string): Promise<{ file: string; lastStart: number; end: number }> {
  await mkdir(directory, { recursive: true });
  const store = await FileBlockStore.open({ channelId, directory }, { clock: systemClock });
  for (const block of chain.slice(0, 5)) await store.append(block);
  await store.close();
  const index = await readFile(path.join(directory, 'blocklocations.idx'));
  const file = path.join(directory, 'blockfile_000000');
  return { file, lastStart: index.readUInt32BE(4 * 8 + 4), end: (await stat(file)).size };
}

async function assertRecoveredTo(directory: string, height: number, expectedDropped: number) {
  const store = await FileBlockStore.open({ channelId, directory, cachedBlocks: 0 }, { clock: systemClock });
  try {
    assert.equal(store.height(), height);
    assert.equal(store.stats().droppedBytes, expectedDropped);
    assert.equal(await store.getBlock(height), undefined);
    for (const block of chain.slice(0, height))
      assert.deepEqual((await store.getBlock(block.number))?.bytes, block.bytes);
    await store.append(chain[height]!);
  } finally {
    await store.close();
  }
  const again = await FileBlockStore.open({ channelId, directory, cachedBlocks: 0 }, { clock: systemClock });
  assert.equal(again.height(), height + 1);
  assert.equal(again.stats().droppedBytes, 0);
  assert.deepEqual((await again.getBlock(height))?.bytes, chain[height]!.bytes);
  await again.close();
}

test('a torn last block (cut in its length prefix or anywhere in its body) is truncated on open', () =>
  withTempDir(async (root) => {
    const original = path.join(root, 'original');
    const { lastStart, end } = await cleanLedger(original);
    const frameLength = end - lastStart;
    const cuts = [
      lastStart, // nothing of block 4
      lastStart + 1, // half of the 2-byte length prefix
      lastStart + 2, // prefix only
      lastStart + 3,
      ...Array.from({ length: 12 }, (_, i) => lastStart + 3 + Math.floor(((frameLength - 4) * (i + 1)) / 13)),
      end - 1,
    ];
    for (const [i, cut] of cuts.entries()) {
      const directory = path.join(root, `cut-${i}`);
      await cp(original, directory, { recursive: true });
      await truncate(path.join(directory, 'blockfile_000000'), cut);
      await assertRecoveredTo(directory, 4, cut - lastStart);
      assert.ok((await stat(path.join(directory, 'blockfile_000000'))).size > lastStart);
    }
  }));

test('a torn block is truncated even when the index is gone', () =>
  withTempDir(async (directory) => {
    const { file, lastStart, end } = await cleanLedger(directory);
    await truncate(file, lastStart + Math.floor((end - lastStart) / 2));
    await truncate(path.join(directory, 'blocklocations.idx'), 0);
    await assertRecoveredTo(directory, 4, Math.floor((end - lastStart) / 2));
  }));

const garbageTails: Array<{ name: string; bytes: () => Buffer }> = [
  { name: 'random bytes', bytes: () => pseudoRandomBytes('garbage', 3000) },
  { name: 'zeros (size extended, data never written)', bytes: () => Buffer.alloc(4096) },
  {
    name: 'a length prefix claiming more than the file holds',
    bytes: () => Buffer.from([0xff, 0xff, 0x03, 1, 2, 3]),
  },
  { name: 'a complete record of an older block', bytes: () => frameOf(chain[2]!) },
  {
    name: 'a complete record of the next number that does not chain',
    bytes: () => frameOf(makeBlock(5, Buffer.alloc(32))),
  },
];
for (const { name, bytes } of garbageTails) {
  test(`garbage after the last block is truncated: ${name}`, () =>
    withTempDir(async (directory) => {
      const { file, end } = await cleanLedger(directory);
      const garbage = bytes();
      await appendFile(file, garbage);
      await assertRecoveredTo(directory, 5, garbage.length);
      assert.equal((await stat(file)).size > end, true);
    }));
}

test('an invalid block in an earlier file followed by more data is corruption: refuse to open, touch nothing', () =>
  withTempDir(async (directory) => {
    const store = await FileBlockStore.open(
      { channelId, directory, maxBlockFileSize: 12_000 },
      { clock: systemClock },
    );
    for (const block of chain) await store.append(block);
    await store.close();
    const first = path.join(directory, 'blockfile_000000');
    const bytes = await readFile(first);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1000) ^ 0xff, bytes.length - 1000); // in a transaction of the last block of file 0: its data hash fails
    await writeFile(first, bytes);
    await rm(path.join(directory, 'blocklocations.idx'));
    const sizeBefore = (await stat(first)).size;
    await assert.rejects(
      FileBlockStore.open({ channelId, directory }, { clock: systemClock }),
      (err: unknown) => err instanceof OrdererError && err.kind === 'internal' && /corrupt/.test(err.message),
    );
    assert.equal((await stat(first)).size, sizeBefore);
  }));

test('a gap in the block file numbers refuses to open', () =>
  withTempDir(async (directory) => {
    const store = await FileBlockStore.open(
      { channelId, directory, maxBlockFileSize: 12_000 },
      { clock: systemClock },
    );
    for (const block of chain) await store.append(block);
    await store.close();
    await rm(path.join(directory, 'blockfile_000001'));
    await assert.rejects(
      FileBlockStore.open({ channelId, directory }, { clock: systemClock }),
      /not 0 to N-1 without gaps/,
    );
  }));

const scanCases = [
  {
    name: 'clean',
    bytes: () => Buffer.concat(chain.slice(0, 3).map(frameOf)),
    height: 3,
    problem: undefined,
  },
  {
    name: 'torn prefix',
    bytes: () => Buffer.concat([frameOf(chain[0]!), Buffer.from([0x90])]),
    height: 1,
    problem: /incomplete/,
  },
  {
    name: 'zero length',
    bytes: () => Buffer.concat([frameOf(chain[0]!), Buffer.from([0])]),
    height: 1,
    problem: /zero/,
  },
  {
    name: 'out of order',
    bytes: () => Buffer.concat([frameOf(chain[0]!), frameOf(chain[2]!)]),
    height: 1,
    problem: /block 2 where block 1/,
  },
  {
    name: 'data not matching the data hash',
    bytes: () => {
      const parts = unmarshalCanonicalBlock(chain[1]!.bytes);
      const record = serializeFileRecord({
        ...parts,
        data: [Buffer.from('tampered'), ...parts.data.slice(1)],
      });
      return Buffer.concat([frameOf(chain[0]!), encodeVarint(record.length), record]);
    },
    height: 1,
    problem: /data hash/,
  },
  {
    name: 'not chained',
    bytes: () => Buffer.concat([frameOf(chain[0]!), frameOf(makeBlock(1, Buffer.alloc(32)))]),
    height: 1,
    problem: /previous_hash/,
  },
];
for (const { name, bytes, height, problem } of scanCases) {
  test(`scanBlockRecords: ${name}`, () => {
    const buffer = bytes();
    const result = scanBlockRecords(buffer, 100, emptyTip());
    assert.equal(result.tip.height, height);
    assert.equal(result.offsets.length, height);
    assert.equal(result.offsets[0], 100);
    assert.equal(result.validEnd, 100 + Buffer.concat(chain.slice(0, height).map(frameOf)).length);
    if (problem) assert.match(result.problem ?? '', problem);
    else assert.equal(result.problem, undefined);
  });
}

function frameOf(block: { bytes: Buffer }): Buffer {
  const record = serializeFileRecord(unmarshalCanonicalBlock(block.bytes));
  return Buffer.concat([encodeVarint(record.length), record]);
}
