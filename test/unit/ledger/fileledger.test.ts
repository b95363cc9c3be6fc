import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OrdererError } from '../../../src/errors.js';
import { FileLedgerFactory, MemoryLedgerFactory, type LedgerFactory } from '../../../src/ledger/index.js';
import { goldenBlocks, makeChain, withTempDir, writeGoOrdererLedger } from '../../support/ledger.js';
import { systemClock } from '../../../src/clock.js';

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

test('lists channels on disk, opens the same instance, creates Fabric-style folders', () =>
  withTempDir(async (location) => {
    const factory = await FileLedgerFactory.open({ location }, { clock: systemClock });
    assert.deepEqual(factory.channelIds(), []);
    const [a, b] = await Promise.all([factory.open('mychannel'), factory.open('mychannel')]);
    assert.equal(a, b);
    assert.equal(await factory.open('mychannel'), a);
    await factory.open('another.channel-2');
    assert.deepEqual(factory.channelIds(), ['another.channel-2', 'mychannel']);
    for (const block of makeChain(3)) await a.append(block);
    await factory.close();
    assert.ok(await exists(path.join(location, 'chains', 'mychannel', 'blockfile_000000')));
    await assert.rejects(
      factory.open('mychannel'),
      (err: unknown) => err instanceof OrdererError && err.kind === 'unavailable',
    );

    await mkdir(path.join(location, 'chains', 'Not_A_Channel'));
    await writeFile(path.join(location, 'chains', 'stray-file'), 'x');
    const reopened = await FileLedgerFactory.open({ location }, { clock: systemClock });
    assert.deepEqual(reopened.channelIds(), ['another.channel-2', 'mychannel']);
    assert.equal((await reopened.open('mychannel')).height(), 3);
    await reopened.close();
  }));

test("opens a Go orderer's FileLedger.Location (golden mychannel and system-channel)", () =>
  withTempDir(async (location) => {
    const mychannel = await goldenBlocks('mychannel');
    const system = await goldenBlocks('system-channel');
    await writeGoOrdererLedger(location, 'mychannel', mychannel);
    await writeGoOrdererLedger(location, 'system-channel', system);
    await mkdir(path.join(location, 'index')); // Fabric's LevelDB index: left alone
    const factory = await FileLedgerFactory.open({ location }, { clock: systemClock });
    assert.deepEqual(factory.channelIds(), ['mychannel', 'system-channel']);
    for (const [channelId, blocks] of [
      ['mychannel', mychannel],
      ['system-channel', system],
    ] as const) {
      const store = await factory.open(channelId);
      assert.equal(store.height(), blocks.length);
      for (const [number, bytes] of blocks.entries())
        assert.deepEqual((await store.getBlock(number))?.bytes, bytes);
    }
    await factory.close();
  }));

test('rejects channel IDs that are not valid Fabric channel names (no path tricks)', () =>
  withTempDir(async (location) => {
    const factory = await FileLedgerFactory.open({ location }, { clock: systemClock });
    for (const channelId of ['', '..', '../x', 'UPPER', 'a/b', '1abc', 'a_b', 'a'.repeat(250)]) {
      await assert.rejects(
        factory.open(channelId),
        (err: unknown) => err instanceof OrdererError && err.kind === 'bad-request',
      );
      await assert.rejects(
        factory.remove(channelId),
        (err: unknown) => err instanceof OrdererError && err.kind === 'bad-request',
      );
    }
    await factory.close();
  }));

test('remove() closes and deletes a ledger; reopening gives a fresh one', () =>
  withTempDir(async (location) => {
    const factory = await FileLedgerFactory.open({ location }, { clock: systemClock });
    const store = await factory.open('mychannel');
    for (const block of makeChain(4)) await store.append(block);
    const waiter = assert.rejects(store.waitForBlock(10), { name: 'AbortError' });
    await factory.remove('mychannel');
    await waiter;
    assert.deepEqual(factory.channelIds(), []);
    assert.equal(await exists(path.join(location, 'chains', 'mychannel')), false);
    assert.deepEqual(await readdir(path.join(location, 'pendingops', 'remove')), []);
    await factory.remove('mychannel'); // removing what is gone is a no-op

    const removing = factory.remove('other');
    const fresh = factory.open('mychannel');
    await removing;
    assert.equal((await fresh).height(), 0);
    await factory.close();
  }));

test('open() right after remove() waits for the removal and does not get the removed ledger', () =>
  withTempDir(async (location) => {
    const factory = await FileLedgerFactory.open({ location }, { clock: systemClock });
    const old = await factory.open('mychannel');
    for (const block of makeChain(2)) await old.append(block);
    const removal = factory.remove('mychannel');
    const reopened = await factory.open('mychannel');
    await removal;
    assert.notEqual(reopened, old);
    assert.equal(reopened.height(), 0);
    assert.deepEqual(factory.channelIds(), ['mychannel']);
    await reopened.append(makeChain(1)[0]!);
    await factory.close();
  }));

test("an interrupted removal (ours or a Go orderer's) is finished on start, never reopened", () =>
  withTempDir(async (location) => {
    const factory = await FileLedgerFactory.open({ location }, { clock: systemClock });
    for (const channelId of ['doomed', 'kept']) {
      const store = await factory.open(channelId);
      for (const block of makeChain(3)) await store.append(block);
    }
    await factory.close();
    // The state a crash right after the marker was made durable leaves behind (Fabric's filerepo layout).
    await writeFile(path.join(location, 'pendingops', 'remove', 'doomed.remove'), '');
    await writeFile(path.join(location, 'pendingops', 'remove', 'half-written.remove~'), '');

    const restarted = await FileLedgerFactory.open({ location }, { clock: systemClock });
    assert.deepEqual(restarted.channelIds(), ['kept']);
    assert.equal(await exists(path.join(location, 'chains', 'doomed')), false);
    assert.deepEqual(await readdir(path.join(location, 'pendingops', 'remove')), []);
    assert.equal((await restarted.open('kept')).height(), 3);
    assert.equal((await restarted.open('doomed')).height(), 0);
    await restarted.close();
  }));

test('memory factory: the same open/list/remove/close semantics', async () => {
  const factory: LedgerFactory = new MemoryLedgerFactory();
  const store = await factory.open('mychannel');
  assert.equal(await factory.open('mychannel'), store);
  for (const block of makeChain(2)) await store.append(block);
  assert.deepEqual(factory.channelIds(), ['mychannel']);
  await factory.remove('mychannel');
  assert.deepEqual(factory.channelIds(), []);
  await assert.rejects(
    store.append(makeChain(3)[2]!),
    (err: unknown) => err instanceof OrdererError && err.kind === 'unavailable',
  );
  assert.equal((await factory.open('mychannel')).height(), 0);
  await assert.rejects(
    factory.open('Bad'),
    (err: unknown) => err instanceof OrdererError && err.kind === 'bad-request',
  );
  await factory.close();
  await assert.rejects(
    factory.open('mychannel'),
    (err: unknown) => err instanceof OrdererError && err.kind === 'unavailable',
  );
});

test("join blocks are kept durably in Fabric's pendingops/join/<channel>.join and go with the channel", () =>
  withTempDir(async (location) => {
    const [genesis, , joinBlock] = await goldenBlocks('mychannel');
    const factories: LedgerFactory[] = [
      await FileLedgerFactory.open({ location }, { clock: systemClock }),
      new MemoryLedgerFactory(),
    ];
    for (const factory of factories) {
      assert.equal(await factory.joinBlock('mychannel'), undefined);
      await factory.saveJoinBlock('mychannel', joinBlock!);
      assert.ok((await factory.joinBlock('mychannel'))!.equals(joinBlock!));
      await factory.removeJoinBlock('mychannel');
      assert.equal(await factory.joinBlock('mychannel'), undefined);
      await factory.removeJoinBlock('mychannel');
      await assert.rejects(factory.saveJoinBlock('../escape', joinBlock!), /channel/);

      await factory.saveJoinBlock('mychannel', joinBlock!);
      await (await factory.open('mychannel')).append({ number: 0, bytes: genesis! });
      await factory.remove('mychannel');
      assert.equal(await factory.joinBlock('mychannel'), undefined, 'removed with the channel');
    }
    const file = await FileLedgerFactory.open({ location }, { clock: systemClock });
    await file.saveJoinBlock('mychannel', joinBlock!);
    await file.close();
    assert.ok(await exists(path.join(location, 'pendingops', 'join', 'mychannel.join')));
    const reopened = await FileLedgerFactory.open({ location }, { clock: systemClock });
    assert.ok((await reopened.joinBlock('mychannel'))!.equals(joinBlock!), 'survives a restart');
    await reopened.close();
    await factories[0]!.close();
  }));
