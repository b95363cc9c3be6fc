// The Kafka wire messages and block metadata, byte for byte as Fabric's Go orderer writes them
// (proto3: zero fields are left out).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeKafkaMessage,
  decodeKafkaMetadata,
  encodeConnect,
  encodeKafkaMetadata,
  encodeRegular,
  encodeTimeToCut,
} from '../../../../src/consensus/kafka/index.js';

test('KafkaMessage encodings match Fabric: CONNECT, TIME_TO_CUT, REGULAR', () => {
  // KafkaMessage{connect: {}} -> field 3, empty.
  assert.equal(encodeConnect().toString('hex'), '1a00');
  // KafkaMessage{time_to_cut: {block_number: 5}} -> field 2 { field 1 = 5 }.
  assert.equal(encodeTimeToCut(5).toString('hex'), '12020805');
  // KafkaMessage{regular: {payload "ab", config_seq 0, class NORMAL}}: config_seq and original_offset left out.
  assert.equal(encodeRegular('normal', Buffer.from('ab'), 0, 0).toString('hex'), '0a060a0261621801');
  // class CONFIG (2), config_seq 3, original_offset 7.
  assert.equal(encodeRegular('config', Buffer.from('ab'), 3, 7).toString('hex'), '0a0a0a026162100318022007');
});

test('KafkaMessage decoding round-trips and refuses what is not one', () => {
  assert.deepEqual(decodeKafkaMessage(encodeConnect()), { type: 'connect' });
  assert.deepEqual(decodeKafkaMessage(encodeTimeToCut(0)), { type: 'time-to-cut', blockNumber: 0 });
  assert.deepEqual(decodeKafkaMessage(encodeRegular('config', Buffer.from('x'), 2, 9)), {
    type: 'regular',
    payload: Buffer.from('x'),
    configSeq: 2,
    class: 'config',
    originalOffset: 9,
  });
  assert.throws(() => decodeKafkaMessage(Buffer.alloc(0)), /none of regular, time_to_cut, connect/);
  assert.throws(() => decodeKafkaMessage(Buffer.from([0xff, 0xff])), /not a KafkaMessage/);
});

test('KafkaMetadata: zero fields left out, negative offsets kept, round trip', () => {
  const zero = { lastOffsetPersisted: 0, lastOriginalOffsetProcessed: 0, lastResubmittedConfigOffset: 0 };
  assert.equal(encodeKafkaMetadata(zero).length, 0);
  const values = {
    lastOffsetPersisted: 41,
    lastOriginalOffsetProcessed: 17,
    lastResubmittedConfigOffset: 17,
  };
  assert.equal(encodeKafkaMetadata(values).toString('hex'), '0829101118' + '11');
  assert.deepEqual(decodeKafkaMetadata(encodeKafkaMetadata(values)), values);
  const oldest = { lastOffsetPersisted: -3, lastOriginalOffsetProcessed: 0, lastResubmittedConfigOffset: 0 };
  assert.deepEqual(decodeKafkaMetadata(encodeKafkaMetadata(oldest)), oldest);
});
