import { test } from 'node:test';
import assert from 'node:assert/strict';
import { common } from '../../../src/protos/index.js';
import {
  BlockFormatError,
  deserializeFileRecord,
  marshalBlock,
  readVarint,
  serializeFileRecord,
  unmarshalCanonicalBlock,
  encodeVarint,
} from '../../../src/ledger/blockcodec.js';
import { OrdererError } from '../../../src/errors.js';
import { goldenBlocks, makeBlock } from '../../support/ledger.js';

test('golden Go-orderer blocks are canonical and survive the block file record byte for byte', async () => {
  for (const channelId of ['mychannel', 'system-channel'] as const) {
    for (const bytes of await goldenBlocks(channelId)) {
      const parts = unmarshalCanonicalBlock(bytes);
      assert.deepEqual(marshalBlock(parts), bytes);
      assert.deepEqual(marshalBlock(deserializeFileRecord(serializeFileRecord(parts))), bytes);
    }
  }
});

test('the file record has Fabric field order: number, data_hash, previous_hash, data, metadata', () => {
  const record = serializeFileRecord({
    number: 300,
    previousHash: Buffer.from('pp'),
    dataHash: Buffer.from('d'),
    data: [Buffer.from('x'), Buffer.alloc(0)],
    metadata: [Buffer.from('mm')],
  });
  assert.equal(record.toString('hex'), 'ac02' + '0164' + '027070' + '02' + '0178' + '00' + '01' + '026d6d');
});

const nonCanonical = [
  { name: 'explicit zero block number', hex: '0a020800' + '1200' + '1a00' },
  { name: 'explicit empty previous hash', hex: '0a04080112' + '00' + '1200' + '1a00' },
  { name: 'fields out of order', hex: '1200' + '0a020801' + '1a00' },
  {
    name: 'missing metadata',
    bytes: common.Block.encode({ header: { number: 3 }, data: { data: [] } }).finish(),
  },
  {
    name: 'missing data',
    bytes: common.Block.encode({ header: { number: 3 }, metadata: { metadata: [] } }).finish(),
  },
  { name: 'unknown field', hex: '0a020801' + '1200' + '1a00' + '2001' },
];
for (const { name, hex, bytes } of nonCanonical) {
  test(`rejects non-canonical block bytes: ${name}`, () => {
    assert.throws(
      () => unmarshalCanonicalBlock(bytes ?? Buffer.from(hex!, 'hex')),
      (err: unknown) =>
        err instanceof OrdererError && err.kind === 'internal' && /canonical/.test(err.message),
    );
  });
}

test('protobufjs encoding of a complete block is canonical', () => {
  const bytes = common.Block.encode({
    header: { number: 0, previousHash: Buffer.alloc(0), dataHash: Buffer.alloc(32, 1) },
    data: { data: [Buffer.from('tx'), Buffer.alloc(0)] },
    metadata: { metadata: [Buffer.alloc(0), Buffer.from('m')] },
  }).finish();
  assert.deepEqual(marshalBlock(unmarshalCanonicalBlock(bytes)), Buffer.from(bytes));
});

test('rejects bytes that are not a block', () => {
  assert.throws(() => unmarshalCanonicalBlock(Buffer.from([0x0a, 0xff])), OrdererError);
});

test('a test block is canonical', () => {
  const block = makeBlock(7, Buffer.alloc(32, 9));
  assert.equal(unmarshalCanonicalBlock(block.bytes).number, 7);
});

const malformedRecords = [
  { name: 'empty', hex: '' },
  { name: 'truncated data hash', hex: '0105aa' },
  { name: 'trailing bytes', hex: '01000000' + '00' + 'ff' },
  { name: 'data count larger than the entries', hex: '0100' + '00' + '05' + '0178' },
];
for (const { name, hex } of malformedRecords) {
  test(`deserializeFileRecord rejects a malformed record: ${name}`, () => {
    assert.throws(() => deserializeFileRecord(Buffer.from(hex, 'hex')), BlockFormatError);
  });
}

test('varints round trip up to 2^53 and report torn ones', () => {
  for (const value of [0, 1, 127, 128, 300, 2 ** 32, 2 ** 53 - 1]) {
    const encoded = encodeVarint(value);
    assert.deepEqual(readVarint(encoded, 0), { value, next: encoded.length });
    assert.equal(readVarint(encoded.subarray(0, encoded.length - 1), 0), undefined);
  }
  assert.throws(() => readVarint(Buffer.alloc(11, 0xff), 0), BlockFormatError);
});
