import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { BlockWriter } from '../../../src/multichannel/blockwriter.js';
import { MemoryBlockStore, type StoredBlock } from '../../../src/ledger/index.js';
import { marshalBlock, newBlock } from '../../../src/protoutil/block.js';
import { common } from '../../../src/protos/index.js';
import type { SigningIdentity } from '../../../src/msp/types.js';
import type { ReceivedEnvelope } from '../../../src/consensus/types.js';
import { makeEnvelope } from '../../support/solo.js';
import { enospc } from '../../support/disk-full-fault.js';

const signer = {
  mspId: 'OrdererMSP',
  serialized: Buffer.from('orderer identity'),
  certPem: '',
  sign: (message: Buffer) => Buffer.from(`sig:${message.length}`),
} as SigningIdentity;

async function setup() {
  const inner = new MemoryBlockStore({ channelId: 'mychannel' });
  const genesis = newBlock(0, Buffer.alloc(0), [Buffer.from('genesis')]);
  await inner.append({ number: 0, bytes: marshalBlock(genesis) });
  let full = false;
  const store = Object.assign(Object.create(inner) as MemoryBlockStore, {
    append: (block: StoredBlock) => (full ? Promise.reject(enospc()) : inner.append(block)),
  });
  const committed: number[] = [];
  const writer = new BlockWriter(
    { lastBlock: genesis, lastConfigBlockNumber: 0 },
    {
      store,
      signer,
      logger: pino({ level: 'silent' }),
      onCommitted: (block) => committed.push(Number(block.header!.number)),
    },
  );
  return { inner, writer, committed, setFull: (value: boolean) => (full = value) };
}

const batch = (...ids: string[]): ReceivedEnvelope[] => ids.map((id) => makeEnvelope(id));

function lastConfigIndex(block: common.IBlock): number {
  const metadata = common.Metadata.decode(block.metadata!.metadata![1]!);
  return Number(common.LastConfig.decode(metadata.value).index ?? 0);
}

test('block writer: blocks are chained on the previous header and numbered in order', async () => {
  const { inner, writer, committed } = await setup();
  const first = writer.createNextBlock(batch('a'));
  await writer.writeBlock(first);
  const second = writer.createNextBlock(batch('b'));
  assert.equal(Number(second.header!.number), 2);
  await writer.writeBlock(second);
  assert.equal(inner.height(), 3);
  assert.deepEqual(committed, [1, 2]);
  await assert.rejects(
    writer.writeBlock(newBlock(5, Buffer.alloc(0), [])),
    /expected block 3 but was given block 5/,
  );
});

test('block writer: a failed append does not move lastBlock: the same number is written again after the failure (issue #9)', async () => {
  const { inner, writer, committed, setFull } = await setup();
  await writer.writeBlock(writer.createNextBlock(batch('a')));
  setFull(true);
  const failing = writer.createNextBlock(batch('b'));
  assert.equal(Number(failing.header!.number), 2);
  await assert.rejects(writer.writeBlock(failing), /ENOSPC/);
  setFull(false);
  const retry = writer.createNextBlock(batch('b'));
  assert.equal(Number(retry.header!.number), 2, 'the retry is built on the last durable block');
  await writer.writeBlock(retry);
  assert.equal(inner.height(), 3);
  assert.deepEqual(committed, [1, 2]);
});

test('block writer: blocks handed over behind a failed one fail too, and the writer resumes at the last durable block', async () => {
  const { inner, writer, setFull } = await setup();
  setFull(true);
  const one = writer.writeBlock(writer.createNextBlock(batch('a')));
  const two = writer.writeBlock(writer.createNextBlock(batch('b')));
  const results = await Promise.allSettled([one, two]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  setFull(false);
  const again = writer.createNextBlock(batch('a'));
  assert.equal(Number(again.header!.number), 1);
  await writer.writeBlock(again);
  await writer.writeBlock(writer.createNextBlock(batch('b')));
  assert.equal(inner.height(), 3);
  await writer.flushed();
});

test('block writer: a config block that fails to append does not become the last config', async () => {
  const { writer, setFull } = await setup();
  await writer.writeBlock(writer.createNextBlock(batch('a')));
  setFull(true);
  await assert.rejects(writer.writeConfigBlock(writer.createNextBlock(batch('config'))), /ENOSPC/);
  assert.equal(writer.lastConfigNumber, 0);
  setFull(false);
  const normal = writer.createNextBlock(batch('b'));
  await writer.writeBlock(normal);
  assert.equal(
    lastConfigIndex(normal),
    0,
    'the block after the failed config block points at the old config',
  );
  const config = writer.createNextBlock(batch('config'));
  await writer.writeConfigBlock(config);
  assert.equal(writer.lastConfigNumber, 3);
  assert.equal(lastConfigIndex(config), 3);
});
