// The WAL file on a full disk: a write that stored part of a record before ENOSPC is cut back to
// the last whole record, so the log goes on after it with no torn record in the middle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsWalStorage } from '../../../../src/consensus/solo/index.js';
import { WalWriter } from '../../../../src/consensus/solo/wal-writer.js';
import { decodeWal } from '../../../../src/consensus/solo/wal-records.js';
import { DiskFullFault } from '../../../support/disk-full-fault.js';

test('WAL: an append torn by ENOSPC is cut back; later appends follow the last whole record', async () => {
  const root = await mkdtemp(join(tmpdir(), 'wal-diskfull-'));
  try {
    const fault = new DiskFullFault();
    const dir = join(root, 'mychannel');
    const file = await new FsWalStorage({ openFile: fault.openFile }).open(dir);
    const wal = new WalWriter({ nextSeq: 1, sizeBytes: 0 }, { file });
    const durable: number[] = [];
    await wal.appendEnvelope('normal', 0, Buffer.alloc(500, 1), (seq) => durable.push(seq));
    const goodSize = (await stat(file.location)).size;

    fault.full = true;
    await assert.rejects(
      wal.appendEnvelope('normal', 0, Buffer.alloc(500, 2), (seq) => durable.push(seq)),
      /ENOSPC/,
    );
    assert.equal(fault.failedWrites, 1);
    assert.equal((await stat(file.location)).size, goodSize, 'the torn bytes were cut off');
    assert.equal(wal.sizeBytes, goodSize);

    fault.full = false;
    await wal.appendEnvelope('normal', 0, Buffer.alloc(500, 3), (seq) => durable.push(seq));
    await wal.appendBatch(0, 1, 3);
    await wal.close(new Error('test done'));

    const decoded = decodeWal(await new FsWalStorage().open(dir).then((f) => f.readAll()));
    assert.equal(decoded.dropReason, undefined, 'no torn or corrupt record');
    const envelopes = decoded.records.filter((r) => r.type === 'envelope');
    assert.deepEqual(
      envelopes.map((r) => (r.type === 'envelope' ? [r.seq, r.raw[0]] : [])),
      [
        [1, 1],
        [3, 3],
      ],
    );
    assert.deepEqual(durable, [1, 3], 'only the records that were written were reported durable');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
