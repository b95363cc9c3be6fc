// No loss after SUCCESS: the solo write-ahead log, its record format, recovery and group commit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, appendFile, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../../src/clock.js';
import { OrdererError } from '../../../../src/errors.js';
import {
  SoloConsenter,
  type SoloChain,
  type SoloConsenterOptions,
} from '../../../../src/consensus/solo/index.js';
import {
  decodeWal,
  encodeBatchRecord,
  encodeEnvelopeRecord,
  encodeEnvelopeRecordChunks,
  planRecovery,
  type WalRecord,
} from '../../../../src/consensus/solo/wal-records.js';
import { FsWalStorage } from '../../../../src/consensus/solo/wal.js';
import {
  FakeConsenterSupport,
  MemoryWalStorage,
  capturingLogger,
  deferred,
  makeEnvelope,
  type WrittenBlock,
} from '../../../support/solo.js';

const TIMEOUT = 2000;

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'solo-wal-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** One "process": a fresh consenter and support over whatever survived in the ledger and the WAL dir. */
function boot(options: SoloConsenterOptions, blocks: WrittenBlock[] = [], storage?: MemoryWalStorage) {
  const clock = new ManualClock();
  const { logger, lines } = capturingLogger();
  const support = new FakeConsenterSupport({ clock, logger, blocks, batchTimeoutMs: TIMEOUT });
  const chain = new SoloConsenter(options, storage ? { walStorage: storage } : {}).handleChain(
    support,
    undefined,
  );
  chain.start();
  return { clock, support, chain, lines };
}

async function flushTimer(clock: ManualClock, chain: SoloChain): Promise<void> {
  await chain.whenIdle();
  clock.advance(TIMEOUT);
  await chain.whenIdle();
}

function assertExactlyOnce(blocks: WrittenBlock[], acknowledged: string[]): void {
  const all = blocks.flatMap((b) => b.txIds);
  assert.equal(new Set(all).size, all.length, `duplicates in ${JSON.stringify(all)}`);
  for (const id of acknowledged)
    assert.ok(all.includes(id), `acknowledged ${id} is missing from ${JSON.stringify(all)}`);
}

/** Polls (no fixed sleeps) until cond holds; real file I/O sits between the steps being awaited. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

test('WAL records: round trip, torn tail and corruption', () => {
  const raw = makeEnvelope('x').raw;
  const bytes = Buffer.concat([
    encodeEnvelopeRecord({ seq: 1, kind: 'normal', configSeq: 3, raw }),
    encodeEnvelopeRecord({ seq: 2, kind: 'config', configSeq: 4, raw }),
    encodeBatchRecord({ blockNumber: 7, firstSeq: 1, lastSeq: 2 }),
  ]);
  const whole = decodeWal(bytes);
  assert.equal(whole.dropReason, undefined);
  assert.equal(whole.validBytes, bytes.length);
  assert.deepEqual(
    whole.records.map((r) => (r.type === 'batch' ? r : { ...r, raw: r.raw.equals(raw) })),
    [
      { type: 'envelope', seq: 1, kind: 'normal', configSeq: 3, raw: true },
      { type: 'envelope', seq: 2, kind: 'config', configSeq: 4, raw: true },
      { type: 'batch', blockNumber: 7, firstSeq: 1, lastSeq: 2 },
    ],
  );

  for (let cut = 1; cut < 33; cut++) {
    const torn = decodeWal(bytes.subarray(0, bytes.length - cut));
    assert.equal(torn.records.length, 2, `tail torn by ${cut} bytes`);
    assert.equal(torn.dropReason, 'torn-tail');
  }
  const flipped = Buffer.from(bytes);
  flipped[20] = flipped[20]! ^ 0xff; // inside the first record's body
  const corrupt = decodeWal(flipped);
  assert.equal(corrupt.records.length, 0);
  assert.equal(corrupt.dropReason, 'corrupt-record');
});

test('WAL records in chunks (header, then the envelope as received) decode to the record', () => {
  for (const size of [0, 1, 100, 70_000]) {
    // randomBytes(0) is an empty buffer that Node 20's crc32 does not chain through.
    const raw = size === 0 ? randomBytes(0) : Buffer.alloc(size, size & 0xff);
    const record = { seq: 2 ** 40 + size, kind: 'config' as const, configSeq: 9, raw };
    const [head, body] = encodeEnvelopeRecordChunks(record);
    assert.equal(body, raw, 'the envelope is not copied');
    const decoded = decodeWal(Buffer.concat([head, body]));
    assert.equal(decoded.dropReason, undefined, `size ${size}: the CRC checks out`);
    assert.deepEqual(
      decoded.records.map((r) => (r.type === 'envelope' ? { ...r, raw: r.raw.equals(raw) } : r)),
      [{ type: 'envelope', seq: record.seq, kind: 'config', configSeq: 9, raw: true }],
      `size ${size}`,
    );
  }
});

test('WAL file: an append of more chunks than one writev takes (IOV_MAX) is written whole and in order', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wal-chunks-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const storage = new FsWalStorage();
  const file = await storage.open(dir);
  const records = Array.from({ length: 1500 }, (_, i) =>
    encodeEnvelopeRecordChunks({ seq: i, kind: 'normal', configSeq: 0, raw: Buffer.alloc(1 + (i % 7), i) }),
  );
  await file.appendDurably(records.flat());
  const read = decodeWal(await file.readAll());
  await file.close();
  assert.equal(read.dropReason, undefined);
  assert.deepEqual(
    read.records.map((r) => (r.type === 'envelope' ? r.seq : -1)),
    records.map((_, i) => i),
  );
});

test('WAL recovery plan (table)', () => {
  const env = (seq: number): WalRecord => ({
    type: 'envelope',
    seq,
    kind: 'normal',
    configSeq: 0,
    raw: Buffer.alloc(0),
  });
  const batch = (blockNumber: number, firstSeq: number, lastSeq: number): WalRecord => ({
    type: 'batch',
    blockNumber,
    firstSeq,
    lastSeq,
  });
  const cases: { name: string; records: WalRecord[]; height: number; replay: number[]; nextSeq: number }[] = [
    { name: 'empty log', records: [], height: 5, replay: [], nextSeq: 1 },
    { name: 'nothing cut yet', records: [env(1), env(2)], height: 1, replay: [1, 2], nextSeq: 3 },
    {
      name: 'committed batch',
      records: [env(1), env(2), env(3), batch(1, 1, 2)],
      height: 2,
      replay: [3],
      nextSeq: 4,
    },
    {
      name: 'batch written, block not',
      records: [env(1), env(2), env(3), batch(1, 1, 2)],
      height: 1,
      replay: [1, 2, 3],
      nextSeq: 4,
    },
    {
      name: 'dropped messages inside a committed range are committed',
      records: [env(1), env(2), env(3), batch(1, 1, 3)],
      height: 2,
      replay: [],
      nextSeq: 4,
    },
    {
      name: 'a re-cut batch supersedes the stale BATCH of the same block',
      records: [env(1), env(2), env(3), batch(4, 1, 3), batch(4, 1, 1)],
      height: 5,
      replay: [2, 3],
      nextSeq: 4,
    },
    {
      name: 'normal block then config block both committed',
      records: [env(1), env(2), env(3), batch(4, 1, 2), batch(5, 3, 3), env(4)],
      height: 6,
      replay: [4],
      nextSeq: 5,
    },
    {
      name: 'normal block committed, config block not',
      records: [env(1), env(2), env(3), batch(4, 1, 2), batch(5, 3, 3), env(4)],
      height: 5,
      replay: [3, 4],
      nextSeq: 5,
    },
  ];
  for (const c of cases) {
    const plan = planRecovery(c.records, c.height);
    assert.deepEqual(
      plan.replay.map((r) => r.seq),
      c.replay,
      c.name,
    );
    assert.equal(plan.nextSeq, c.nextSeq, c.name);
  }
});

test('WAL: acknowledged pending messages survive a crash and are ordered exactly once', async (t) => {
  const walDir = await tempDir(t);
  const first = boot({ walDir });
  const acked = ids('a', 5);
  for (const id of acked) await first.chain.order(makeEnvelope(id), 0);
  await first.chain.whenIdle();
  assert.deepEqual(first.support.txIds, [['a0', 'a1', 'a2']]);
  // Crash: the chain object is dropped without halt(); a3, a4 were only in the cutter.

  const second = boot({ walDir }, first.support.blocks);
  await second.chain.waitReady();
  await flushTimer(second.clock, second.chain);
  assert.deepEqual(second.support.txIds, [
    ['a0', 'a1', 'a2'],
    ['a3', 'a4'],
  ]);
  assertExactlyOnce(second.support.blocks, acked);
  assert.ok(second.lines.some((l) => /recovered acknowledged messages/.test(l.msg) && l.replayed === 2));

  // And a third start finds nothing left to do.
  const third = boot({ walDir }, second.support.blocks);
  await flushTimer(third.clock, third.chain);
  assert.equal(third.support.blocks.length, 2);
  await third.chain.halt();
});

test('WAL: a BATCH record whose block never reached the ledger is ignored and its envelopes re-cut', async (t) => {
  const walDir = await tempDir(t);
  const first = boot({ walDir });
  first.support.beforeWrite = (n) => (n === 1 ? new Promise<void>(() => {}) : undefined); // dies writing block 1
  const acked = ids('b', 7);
  for (const id of acked) await first.chain.order(makeEnvelope(id), 0);
  await until(
    () => first.support.writesInFlight === 1 && first.support.blocks.length === 1,
    'block 1 write to start',
  );
  assert.deepEqual(first.support.txIds, [['b0', 'b1', 'b2']]);
  const wal = decodeWal(await readFile(join(walDir, 'testchannel', 'wal.log')));
  assert.ok(
    wal.records.some((r) => r.type === 'batch' && r.blockNumber === 1),
    'the BATCH of block 1 was made durable before the block write began',
  );

  const second = boot({ walDir }, first.support.blocks);
  await flushTimer(second.clock, second.chain);
  assert.deepEqual(second.support.txIds, [['b0', 'b1', 'b2'], ['b3', 'b4', 'b5'], ['b6']]);
  assertExactlyOnce(second.support.blocks, acked);
  await second.chain.halt();
});

test('WAL: a recovery whose re-cut differs and then crashes again still loses and duplicates nothing', async (t) => {
  const walDir = await tempDir(t);
  const first = boot({ walDir });
  first.support.beforeWrite = () => new Promise<void>(() => {}); // block 0 never lands
  for (const id of ['c0', 'c1', 'c2']) await first.chain.order(makeEnvelope(id), 0);
  await until(() => first.support.writesInFlight === 1, 'block 0 write to start');

  // Restart with a smaller MaxMessageCount: the re-cut block 0 holds only c0; then crash writing block 1.
  const second = boot({ walDir });
  second.support.config = {
    ...second.support.config,
    batchSize: { ...second.support.config.batchSize, maxMessageCount: 1 },
  };
  second.support.beforeWrite = (n) => (n === 1 ? new Promise<void>(() => {}) : undefined);
  await until(
    () => second.support.writesInFlight === 1 && second.support.blocks.length === 1,
    'block 1 write',
  );
  assert.deepEqual(second.support.txIds, [['c0']]);

  const third = boot({ walDir }, second.support.blocks);
  await flushTimer(third.clock, third.chain);
  assert.deepEqual(third.support.txIds, [['c0'], ['c1', 'c2']]);
  await third.chain.halt();
});

test('WAL: a torn tail (kill -9 mid-write) is dropped; intact records are recovered', async (t) => {
  const walDir = await tempDir(t);
  const first = boot({ walDir });
  for (const id of ['d0', 'd1']) await first.chain.order(makeEnvelope(id), 0);
  const walPath = join(walDir, 'testchannel', 'wal.log');
  const partial = encodeEnvelopeRecord({
    seq: 3,
    kind: 'normal',
    configSeq: 0,
    raw: makeEnvelope('torn').raw,
  });
  await appendFile(walPath, partial.subarray(0, partial.length - 10));

  const second = boot({ walDir });
  await flushTimer(second.clock, second.chain);
  assert.deepEqual(second.support.txIds, [['d0', 'd1']]);
  assert.ok(second.lines.some((l) => l.level === 40 && /incomplete record/.test(l.msg)));
  const after = decodeWal(await readFile(walPath));
  assert.equal(after.dropReason, undefined, 'recovery rewrote the log without the torn record');
  await second.chain.halt();
});

test('WAL: halt keeps acknowledged pending messages for the next start', async (t) => {
  const walDir = await tempDir(t);
  const first = boot({ walDir });
  await first.chain.order(makeEnvelope('e0'), 0);
  await first.chain.halt();
  await assert.rejects(first.chain.order(makeEnvelope('e1'), 0), /is halted/);

  const second = boot({ walDir });
  await flushTimer(second.clock, second.chain);
  assert.deepEqual(second.support.txIds, [['e0']]);
  await second.chain.halt();
});

test('WAL: config messages are logged too; a stale one is re-processed on replay', async (t) => {
  const walDir = await tempDir(t);
  const first = boot({ walDir });
  first.support.beforeWrite = (n) => (n === 1 ? new Promise<void>(() => {}) : undefined);
  await first.chain.order(makeEnvelope('f0'), 0);
  await first.chain.configure(makeEnvelope('cfg', { type: 1 }), 0);
  await until(
    () => first.support.writesInFlight === 1 && first.support.blocks.length === 1,
    'config block write',
  );
  assert.deepEqual(first.support.txIds, [['f0']], 'config block 1 never landed');

  const second = boot({ walDir }, first.support.blocks);
  await second.chain.whenIdle();
  assert.deepEqual(second.support.txIds, [['f0'], ['cfg']]);
  assert.equal(second.support.blocks[1]!.kind, 'config');
  assert.equal(second.support.configValidations, 0, 'config sequence unchanged: no re-processing');
  await second.chain.halt();
});

test('WAL: the log is compacted once committed, so it does not grow without bound', async (t) => {
  const walDir = await tempDir(t);
  const first = boot({ walDir, walCompactThresholdBytes: 2048 });
  const acked = ids('g', 40);
  for (const id of acked) await first.chain.order(makeEnvelope(id), 0);
  await first.chain.whenIdle();
  const walPath = join(walDir, 'testchannel', 'wal.log');
  const size = (await stat(walPath)).size;
  assert.ok(first.chain.walStats()!.compactions >= 3, `compactions: ${first.chain.walStats()!.compactions}`);
  assert.ok(size < 2048 + 4 * makeEnvelope('x').raw.length, `log is ${size} bytes`);
  assert.equal(first.support.blocks.length, 13);

  // A crash after compactions: g39 (pending) is recovered, nothing committed comes back.
  const second = boot({ walDir, walCompactThresholdBytes: 2048 }, first.support.blocks);
  await flushTimer(second.clock, second.chain);
  assert.deepEqual(second.support.txIds.at(-1), ['g39']);
  assertExactlyOnce(second.support.blocks, acked);

  // Everything committed: the next compaction leaves an empty log.
  const third = boot({ walDir, walCompactThresholdBytes: 0 }, second.support.blocks);
  await third.chain.whenIdle();
  assert.equal((await stat(walPath)).size, 0);
  await third.chain.halt();
});

test('WAL group commit: concurrent order() calls share fsyncs (deterministic)', async () => {
  const storage = new MemoryWalStorage();
  const { chain, support, clock } = boot({ walDir: '/wal' }, [], storage);
  // No cut before the timer, so every fsync counted here is an envelope group commit.
  support.config = { ...support.config, batchSize: { ...support.config.batchSize, maxMessageCount: 1000 } };
  await chain.waitReady();
  const held = deferred();
  storage.gate = held.promise;
  const first = chain.order(makeEnvelope('h0'), 0); // its fsync is in progress
  await new Promise((r) => setImmediate(r));
  const rest = ids('h', 50)
    .slice(1)
    .map((id) => chain.order(makeEnvelope(id), 0));
  storage.gate = undefined;
  held.resolve();
  await Promise.all([first, ...rest]);
  const stats = chain.walStats()!;
  assert.equal(stats.syncs, 2, '1 fsync for h0, 1 shared by the 49 that arrived meanwhile');
  assert.equal(stats.recordsSynced, 50);
  await flushTimer(clock, chain);
  assert.deepEqual(support.txIds, [ids('h', 50)], 'log order is arrival order');
  await chain.halt();
});

test('WAL group commit on real files: 200 concurrent order() calls, few fsyncs', async (t) => {
  const walDir = await tempDir(t);
  const { chain, support } = boot({ walDir });
  support.config = { ...support.config, batchSize: { ...support.config.batchSize, maxMessageCount: 500 } };
  await chain.waitReady();
  await Promise.all(ids('i', 200).map((id) => chain.order(makeEnvelope(id), 0)));
  const stats = chain.walStats()!;
  t.diagnostic(`200 envelopes durable with ${stats.syncs} fsyncs`);
  assert.equal(stats.recordsSynced, 200);
  assert.ok(stats.syncs <= 5, `expected group commit, got ${stats.syncs} fsyncs`);
  await chain.halt();
});

test('WAL: a failed fsync refuses the message and stops the chain', async () => {
  const storage = new MemoryWalStorage();
  const { chain } = boot({ walDir: '/wal' }, [], storage);
  await chain.order(makeEnvelope('j0'), 0);
  storage.failNextAppend = new Error('EIO: i/o error, fsync');
  await assert.rejects(chain.order(makeEnvelope('j1'), 0), (err: unknown) => {
    assert.ok(err instanceof OrdererError && err.kind === 'unavailable');
    assert.match(
      err.message,
      /could not record the normal message in its write-ahead log \/wal\/testchannel\/?.*EIO/,
    );
    return true;
  });
  assert.ok(chain.errored());
  await assert.rejects(chain.order(makeEnvelope('j2'), 0), /EIO/);
  await chain.halt();
});

test('WAL: a new chain for the same channel waits for the previous one to let go of the log', async (t) => {
  const walDir = await tempDir(t);
  const consenter = new SoloConsenter({ walDir });
  const clock = new ManualClock();
  const support1 = new FakeConsenterSupport({ clock, batchTimeoutMs: TIMEOUT });
  const chain1 = consenter.handleChain(support1, undefined);
  chain1.start();
  await chain1.order(makeEnvelope('k0'), 0);
  const support2 = new FakeConsenterSupport({ clock, batchTimeoutMs: TIMEOUT });
  const chain2 = consenter.handleChain(support2, undefined);
  chain2.start();
  await chain2.waitReady();
  assert.ok(chain1.errored(), 'the previous chain was halted');
  await flushTimer(clock, chain2);
  assert.deepEqual(support2.txIds, [['k0']]);
  await chain2.halt();
});

test('WAL: removing a channel halts its chain and deletes its log', async (t) => {
  const walDir = await tempDir(t);
  const consenter = new SoloConsenter({ walDir });
  const clock = new ManualClock();
  const support1 = new FakeConsenterSupport({ clock, batchTimeoutMs: TIMEOUT });
  const chain1 = consenter.handleChain(support1, undefined);
  chain1.start();
  await chain1.order(makeEnvelope('l0'), 0);
  await consenter.removeChannel('testchannel');
  assert.ok(chain1.errored());
  await assert.rejects(stat(join(walDir, 'testchannel')), { code: 'ENOENT' });

  const support2 = new FakeConsenterSupport({ clock, batchTimeoutMs: TIMEOUT });
  const chain2 = consenter.handleChain(support2, undefined);
  chain2.start();
  await flushTimer(clock, chain2);
  assert.deepEqual(support2.txIds, [], 'the rejoined channel does not replay the old one');
  await chain2.halt();
});
