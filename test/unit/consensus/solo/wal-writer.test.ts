// The solo WAL writer on the shared group-commit writer: seqs in call order, onDurable before the
// caller hears, a full disk refusing a compaction without harm, and the log size it reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WalWriter } from '../../../../src/consensus/solo/wal-writer.js';
import { decodeWal, type EnvelopeRecord } from '../../../../src/consensus/solo/wal-records.js';
import type { WalFile } from '../../../../src/consensus/solo/index.js';
import { deferred } from '../../../support/solo.js';
import { enospc } from '../../../support/disk-full-fault.js';

/** An in-memory log whose next replace can fail or be held. */
class ScriptedFile implements WalFile {
  readonly location = '/wal/wal.log';
  content = Buffer.alloc(0);
  failNextReplace: Error | undefined;
  holdNextReplace: Promise<void> | undefined;

  async readAll(): Promise<Buffer> {
    return this.content;
  }

  async appendDurably(chunks: readonly Buffer[]): Promise<void> {
    this.content = Buffer.concat([this.content, ...chunks]);
  }

  async replaceDurably(content: Buffer): Promise<void> {
    const hold = this.holdNextReplace;
    this.holdNextReplace = undefined;
    if (hold) await hold;
    const failure = this.failNextReplace;
    this.failNextReplace = undefined;
    if (failure) throw failure;
    this.content = Buffer.from(content);
  }

  async close(): Promise<void> {}
}

const envelopeRecords = (file: ScriptedFile) =>
  decodeWal(file.content).records.filter((r): r is EnvelopeRecord => r.type === 'envelope');

test('solo WAL writer: onDurable runs in seq order, each before its caller hears', async () => {
  const file = new ScriptedFile();
  const wal = new WalWriter({ nextSeq: 7, sizeBytes: 0 }, { file });
  const events: string[] = [];
  await Promise.all(
    [0, 1, 2].map((i) =>
      wal
        .appendEnvelope('normal', 0, Buffer.alloc(10, i), (seq) => events.push(`durable ${seq}`))
        .then(() => events.push(`acked ${7 + i}`)),
    ),
  );
  // 7 is written alone; 8 and 9, handed in meanwhile, share the next fsync and are told together.
  assert.deepEqual(events, ['durable 7', 'acked 7', 'durable 8', 'durable 9', 'acked 8', 'acked 9']);
  assert.deepEqual(
    envelopeRecords(file).map((r) => r.seq),
    [7, 8, 9],
  );
  assert.deepEqual(wal.stats, { syncs: 2, recordsSynced: 3, compactions: 0 });
  assert.equal(wal.sizeBytes, file.content.length);
});

test('solo WAL writer: a compaction refused on a full disk leaves the old log and the writer working', async () => {
  const file = new ScriptedFile();
  const wal = new WalWriter({ nextSeq: 1, sizeBytes: 0 }, { file });
  await wal.appendEnvelope('normal', 0, Buffer.alloc(10, 1), () => {});
  await wal.appendBatch(0, 1, 1);
  const before = Buffer.from(file.content);

  file.failNextReplace = enospc();
  await assert.rejects(
    wal.compact(() => []),
    /ENOSPC/,
  );
  assert.deepEqual(file.content, before, 'the old log is whole');
  assert.equal(wal.sizeBytes, before.length);
  assert.equal(wal.stats.compactions, 0);

  await wal.appendEnvelope('normal', 0, Buffer.alloc(10, 2), () => {});
  await wal.compact(() => envelopeRecords(file).filter((r) => r.seq === 2));
  assert.deepEqual(
    envelopeRecords(file).map((r) => r.seq),
    [2],
  );
  assert.equal(wal.stats.compactions, 1);
  assert.equal(wal.compactedBytes, file.content.length);
  assert.equal(wal.sizeBytes, file.content.length);
});

test('solo WAL writer: appends queued behind a compaction count into the new log size', async () => {
  const file = new ScriptedFile();
  const wal = new WalWriter({ nextSeq: 1, sizeBytes: 0 }, { file });
  await wal.appendEnvelope('normal', 0, Buffer.alloc(1000, 1), () => {});
  const held = deferred();
  file.holdNextReplace = held.promise;
  const compaction = wal.compact(() => []);
  const queued = wal.appendEnvelope('normal', 0, Buffer.alloc(10, 2), () => {});
  held.resolve();
  await compaction;
  assert.ok(wal.sizeBytes > 0, 'the queued record is counted');
  await queued;
  assert.equal(wal.sizeBytes, file.content.length);
  assert.deepEqual(
    envelopeRecords(file).map((r) => r.seq),
    [2],
  );
});

test('solo WAL writer: a failed fsync stops it for good', async () => {
  const file = new ScriptedFile();
  file.appendDurably = async () => {
    throw new Error('EIO: fsync failed');
  };
  const wal = new WalWriter({ nextSeq: 1, sizeBytes: 0 }, { file });
  await assert.rejects(
    wal.appendEnvelope('normal', 0, Buffer.alloc(1), () => assert.fail('not durable')),
    /EIO/,
  );
  await assert.rejects(wal.appendBatch(0, 1, 1), /EIO/, 'the writer takes nothing after a failed fsync');
  await wal.close(new Error('chain halted'));
});
