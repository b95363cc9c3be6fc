// ChainSupport on a real channel config (Fabric's appsolo genesis block) over a memory ledger
// that can be made to fail as a full disk does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OrdererError } from '../../../src/errors.js';
import type { MemoryBlockStore, StoredBlock } from '../../../src/ledger/index.js';
import { asBuffer } from '../../../src/protos/index.js';
import { newBlock } from '../../../src/protoutil/block.js';
import type { SigningIdentity } from '../../../src/msp/types.js';
import { buildChainSupport } from '../../support/chain-support.js';
import { FIXTURES } from '../../support/fabric-clients.js';
import { makeEnvelope } from '../../support/solo.js';
import { enospc } from '../../support/disk-full-fault.js';

const signer = {
  mspId: 'OrdererMSP',
  serialized: Buffer.from('orderer identity'),
  certPem: '',
  sign: (message: Buffer) => Buffer.from(`sig:${message.length}`),
} as SigningIdentity;

async function setup() {
  let full = false;
  const committed: number[] = [];
  const { support, store, genesis } = await buildChainSupport(
    readFileSync(join(FIXTURES, 'blocks/appsolo-genesis.block')),
    {
      signer,
      wrapStore: (inner) =>
        Object.assign(Object.create(inner) as MemoryBlockStore, {
          append: (block: StoredBlock) => (full ? Promise.reject(enospc()) : inner.append(block)),
        }),
      onBlockCommitted: (_channel, block) => committed.push(Number(block.header!.number)),
    },
  );
  return { support, inner: store, genesis, committed, setFull: (value: boolean) => (full = value) };
}

test('chain support: a normal block that fails on a full disk leaves height and sequence; the retry is the same number', async () => {
  const { support, committed, setFull } = await setup();
  const sequence = support.sequence();
  setFull(true);
  const block = support.createNextBlock([makeEnvelope('a')]);
  assert.equal(Number(block.header!.number), 1);
  await assert.rejects(support.writeBlock(block), /ENOSPC/);
  assert.equal(support.height(), 1);
  assert.deepEqual(committed, []);
  setFull(false);
  const retry = support.createNextBlock([makeEnvelope('a')]);
  assert.equal(Number(retry.header!.number), 1);
  await support.writeBlock(retry);
  await support.flushed();
  assert.equal(support.height(), 2);
  assert.equal(support.sequence(), sequence);
  assert.deepEqual(committed, [1]);
});

test('chain support: a config block must hold one CONFIG envelope, and a stale config is refused without changing the config', async () => {
  const { support, genesis } = await setup();
  const bundle = support.bundle();
  const two = support.createNextBlock([makeEnvelope('a'), makeEnvelope('b')]);
  await assert.rejects(support.writeConfigBlock(two), (err: unknown) => {
    assert.ok(err instanceof OrdererError);
    assert.equal(err.kind, 'bad-request');
    assert.match(err.message, /exactly one envelope, got 2/);
    return true;
  });
  const normal = support.createNextBlock([makeEnvelope('a')]);
  await assert.rejects(support.writeConfigBlock(normal), /not CONFIG or ORDERER_TRANSACTION/);
  // The genesis config again: its sequence is the current one, not the next.
  const stale = newBlock(1, Buffer.alloc(0), [asBuffer(genesis.data!.data![0]!)]);
  await assert.rejects(support.writeConfigBlock(stale), /stale config/);
  assert.equal(support.bundle(), bundle);
  assert.equal(support.height(), 1);
  assert.equal(support.lastConfigBlockNumber(), 0);
});
