import { test } from 'node:test';
import assert from 'node:assert/strict';
import { common } from '../../../src/protos/index.js';
import {
  BlockFormatError,
  decodeAndCheckCanonical,
  deserializeFileRecord,
  fileRecordChunks,
  readCanonicalLayout,
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

test('golden blocks take the direct read of the canonical layout, which finds the same parts', async () => {
  for (const channelId of ['mychannel', 'system-channel'] as const) {
    for (const bytes of await goldenBlocks(channelId)) {
      const direct = readCanonicalLayout(bytes);
      assert.ok(direct, 'read directly');
      assert.deepEqual(direct, decodeAndCheckCanonical(bytes));
    }
  }
});

// The direct read must accept nothing the general check (decode, marshal again, compare) refuses,
// and find the same parts: both are run over blocks with bytes changed, cut, added or removed.
test('the direct read of the layout agrees with the general check on damaged blocks', async () => {
  const samples = [
    ...(await goldenBlocks('mychannel')).slice(0, 3),
    marshalBlock({
      number: 0,
      previousHash: Buffer.alloc(0),
      dataHash: Buffer.alloc(0),
      data: [],
      metadata: [],
    }),
    marshalBlock({
      number: 200,
      previousHash: Buffer.alloc(32, 1),
      dataHash: Buffer.alloc(32, 2),
      data: [Buffer.from('tx'), Buffer.alloc(0), Buffer.alloc(300, 3)],
      metadata: [Buffer.alloc(0), Buffer.from('m'), Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)],
    }),
  ];
  let seed = 12345;
  const random = (below: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % below;
  };
  let accepted = 0;
  let refused = 0;
  for (const sample of samples) {
    for (let round = 0; round < 400; round++) {
      const bytes = Buffer.from(sample);
      const at = random(Math.min(bytes.length, 80));
      let damaged: Buffer;
      switch (round % 4) {
        case 0:
          bytes[at] = random(256);
          damaged = bytes;
          break;
        case 1:
          damaged = bytes.subarray(0, bytes.length - 1 - random(4));
          break;
        case 2:
          damaged = Buffer.concat([bytes.subarray(0, at), Buffer.from([random(256)]), bytes.subarray(at)]);
          break;
        default:
          damaged = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
      }
      const direct = readCanonicalLayout(damaged);
      let general: unknown;
      try {
        general = decodeAndCheckCanonical(damaged);
      } catch (err) {
        general = err;
      }
      if (direct) {
        accepted++;
        assert.deepEqual(direct, general, `round ${round}: ${damaged.subarray(0, 40).toString('hex')}`);
      } else {
        refused++;
        assert.ok(
          general instanceof OrdererError,
          `round ${round}: the general check accepted what the direct read refused`,
        );
      }
    }
  }
  assert.ok(accepted > 0 && refused > 0, `accepted ${accepted}, refused ${refused}`);
});

test('the file record in pieces holds the entries themselves, not copies', () => {
  const data = [Buffer.from('tx-1'), Buffer.alloc(0), Buffer.alloc(200, 7)];
  const metadata = [Buffer.from('sig'), Buffer.alloc(0)];
  const parts = {
    number: 3,
    previousHash: Buffer.alloc(32, 1),
    dataHash: Buffer.alloc(32, 2),
    data,
    metadata,
  };
  const chunks = fileRecordChunks(parts);
  for (const entry of [...data, ...metadata].filter((e) => e.length > 0)) assert.ok(chunks.includes(entry));
  const joined = Buffer.concat(chunks);
  assert.deepEqual(deserializeFileRecord(joined), parts);
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
