import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { OrdererError } from '../../../src/errors.js';
import { FileBlockStore } from '../../../src/ledger/index.js';
import { makeChain, withTempDir } from '../../support/ledger.js';
import { DiskFullFault } from '../../support/disk-full-fault.js';
import { systemClock } from '../../../src/clock.js';

const channelId = 'mychannel';
const blockFile = (directory: string) => path.join(directory, 'blockfile_000000');

test('a write that fails on a full disk is cut back, refused as unavailable naming ENOSPC, and the same block is accepted once there is space', () =>
  withTempDir(async (directory) => {
    const chain = makeChain(6);
    const fault = new DiskFullFault();
    const store = await FileBlockStore.open(
      { channelId, directory },
      { clock: systemClock, openFile: fault.openFile },
    );
    for (const block of chain.slice(0, 3)) await store.append(block);
    const goodSize = (await stat(blockFile(directory))).size;

    fault.full = true;
    // Two appends in one group and one queued behind: all refused, none committed.
    const refused = await Promise.allSettled([store.append(chain[3]!), store.append(chain[4]!)]);
    for (const result of refused) {
      assert.equal(result.status, 'rejected');
      const err = (result as PromiseRejectedResult).reason as OrdererError;
      assert.equal(err.kind, 'unavailable');
      assert.match(err.message, /disk is full \(ENOSPC\)/);
    }
    assert.ok(fault.failedWrites >= 1);
    assert.equal(store.height(), 3);
    assert.equal((await stat(blockFile(directory))).size, goodSize, 'the torn bytes were cut off');
    assert.equal(store.stats().diskFullRepairs, 1);
    // Still full: refused again, still nothing torn left behind.
    await assert.rejects(store.append(chain[3]!), /ENOSPC/);
    assert.equal((await stat(blockFile(directory))).size, goodSize);
    // Blocks already written are still served.
    assert.deepEqual((await store.getBlock(2))?.bytes, chain[2]!.bytes);

    fault.full = false;
    await store.append(chain[3]!);
    await store.append(chain[4]!);
    await store.append(chain[5]!);
    assert.equal(store.height(), 6);
    await store.close();

    const reopened = await FileBlockStore.open(
      { channelId, directory, cachedBlocks: 0 },
      { clock: systemClock },
    );
    assert.equal(reopened.stats().droppedBytes, 0, 'no torn record in the middle or at the end of the file');
    assert.equal(reopened.height(), 6);
    for (const block of chain) assert.deepEqual((await reopened.getBlock(block.number))?.bytes, block.bytes);
    await reopened.close();
  }));

test('a full disk does not stop readers waiting for the next block: they get it once it is written', () =>
  withTempDir(async (directory) => {
    const chain = makeChain(3);
    const fault = new DiskFullFault();
    const store = await FileBlockStore.open(
      { channelId, directory },
      { clock: systemClock, openFile: fault.openFile },
    );
    await store.append(chain[0]!);
    const waiting = store.waitForBlock(1);
    fault.full = true;
    await assert.rejects(store.append(chain[1]!), /ENOSPC/);
    fault.full = false;
    await store.append(chain[1]!);
    await waiting;
    assert.deepEqual((await store.getBlock(1))?.bytes, chain[1]!.bytes);
    await store.close();
  }));
