// Behaviour both ledgers share (the in-memory one stands in for the file one in other tests).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OrdererError } from '../../../src/errors.js';
import { FileBlockStore, MemoryBlockStore, type BlockStore } from '../../../src/ledger/index.js';
import { makeBlock, makeChain, withTempDir } from '../../support/ledger.js';
import { systemClock } from '../../../src/clock.js';

const implementations: Array<{
  name: string;
  run: (test: (store: BlockStore) => Promise<void>) => Promise<void>;
}> = [
  {
    name: 'MemoryBlockStore',
    run: async (body) => {
      const store = new MemoryBlockStore({ channelId: 'mychannel' });
      try {
        await body(store);
      } finally {
        await store.close();
      }
    },
  },
  {
    name: 'FileBlockStore',
    run: (body) =>
      withTempDir(async (directory) => {
        const store = await FileBlockStore.open(
          { channelId: 'mychannel', directory },
          { clock: systemClock },
        );
        try {
          await body(store);
        } finally {
          await store.close();
        }
      }),
  },
];

const isInternal = (pattern: RegExp) => (err: unknown) =>
  err instanceof OrdererError && err.kind === 'internal' && pattern.test(err.message);

for (const { name, run } of implementations) {
  describe(name, () => {
    test('appends and reads blocks byte for byte; height grows', () =>
      run(async (store) => {
        const chain = makeChain(5);
        assert.equal(store.height(), 0);
        assert.equal(await store.getBlock(0), undefined);
        for (const block of chain) await store.append(block);
        assert.equal(store.height(), 5);
        for (const block of chain) assert.deepEqual((await store.getBlock(block.number))?.bytes, block.bytes);
        assert.equal(await store.getBlock(5), undefined);
        assert.equal(await store.getBlock(-1), undefined);
      }));

    const badAppends = [
      { case: 'a gap', block: () => makeChain(4)[3]!, error: /expected block 2/ },
      { case: 'a repeated number', block: () => makeChain(2)[1]!, error: /expected block 2/ },
      {
        case: 'a wrong previous hash',
        block: () => makeBlock(2, Buffer.alloc(32, 7)),
        error: /previous_hash/,
      },
      {
        case: 'a label that differs from the header',
        block: () => ({ ...makeChain(3)[2]!, number: 3 }),
        error: /labelled number 3 but its header says 2/,
      },
    ];
    for (const bad of badAppends) {
      test(`rejects ${bad.case} with an internal error naming expected and actual`, () =>
        run(async (store) => {
          for (const block of makeChain(2)) await store.append(block);
          await assert.rejects(store.append(bad.block()), isInternal(bad.error));
          assert.equal(store.height(), 2);
          await store.append(makeChain(3)[2]!);
          assert.equal(store.height(), 3);
        }));
    }

    test('rejects a mislabelled block', () =>
      run(async (store) => {
        const genesis = makeChain(1)[0]!;
        await assert.rejects(
          store.append({ number: 1, bytes: genesis.bytes }),
          isInternal(/labelled number 1/),
        );
      }));

    test('rejects a genesis block with a previous hash', () =>
      run(async (store) => {
        await assert.rejects(store.append(makeBlock(0, Buffer.alloc(32, 1))), isInternal(/genesis/));
      }));

    test('one append wakes many waiters', () =>
      run(async (store) => {
        const chain = makeChain(3);
        await store.append(chain[0]!);
        let woken = 0;
        const waiters = Array.from({ length: 1000 }, () => store.waitForBlock(1).then(() => woken++));
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(woken, 0);
        await store.append(chain[1]!);
        await Promise.all(waiters);
        assert.equal(woken, 1000);
        await store.waitForBlock(0);
      }));

    test('waiters for a later block keep waiting until it exists', () =>
      run(async (store) => {
        const chain = makeChain(3);
        let done = false;
        const waiter = store.waitForBlock(2).then(() => (done = true));
        await store.append(chain[0]!);
        await store.append(chain[1]!);
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(done, false);
        await store.append(chain[2]!);
        await waiter;
        assert.equal(done, true);
      }));

    test('waitForBlock rejects with an AbortError on abort, leaving other waiters alone', () =>
      run(async (store) => {
        const controller = new AbortController();
        const aborted = store.waitForBlock(0, controller.signal);
        const other = store.waitForBlock(0);
        controller.abort();
        await assert.rejects(aborted, { name: 'AbortError' });
        await assert.rejects(store.waitForBlock(0, controller.signal), { name: 'AbortError' });
        await store.append(makeChain(1)[0]!);
        await other;
      }));

    test('close rejects waiters with an AbortError and later appends as unavailable', () =>
      run(async (store) => {
        const waiter = assert.rejects(store.waitForBlock(0), { name: 'AbortError' });
        await store.close();
        await waiter;
        await assert.rejects(
          store.append(makeChain(1)[0]!),
          (err: unknown) => err instanceof OrdererError && err.kind === 'unavailable',
        );
      }));

    test('pipelined appends commit in order', () =>
      run(async (store) => {
        const chain = makeChain(20);
        await Promise.all(chain.map((block) => store.append(block)));
        assert.equal(store.height(), 20);
        for (const block of chain) assert.deepEqual((await store.getBlock(block.number))?.bytes, block.bytes);
      }));
  });
}
