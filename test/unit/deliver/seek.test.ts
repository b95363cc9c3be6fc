// Every start/stop combination of a SeekInfo against a ledger of height 5 (blocks 0-4), and the
// refusals, as Fabric's deliverBlocks resolves them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { orderer } from '../../../src/protos/index.js';
import { OrdererError } from '../../../src/errors.js';
import { resolveSeekRange, SEEK_FOREVER } from '../../../src/deliver/seek.js';

const oldest = () => orderer.SeekPosition.decode(orderer.SeekPosition.encode({ oldest: {} }).finish());
const newest = () => orderer.SeekPosition.decode(orderer.SeekPosition.encode({ newest: {} }).finish());
const next = () => orderer.SeekPosition.decode(orderer.SeekPosition.encode({ nextCommit: {} }).finish());
const at = (number: number) =>
  orderer.SeekPosition.decode(orderer.SeekPosition.encode({ specified: { number } }).finish());

const HEIGHT = 5;

const ranges: [string, orderer.ISeekPosition, orderer.ISeekPosition, number, number][] = [
  ['oldest to oldest: block 0 alone', oldest(), oldest(), 0, 0],
  ['oldest to newest: the whole ledger', oldest(), newest(), 0, 4],
  ['newest to newest: the last block alone', newest(), newest(), 4, 4],
  ['specified to newest', at(2), newest(), 2, 4],
  ['specified to the same specified', at(3), at(3), 3, 3],
  ['specified at the height (waits for the next block)', at(5), at(7), 5, 7],
  ['oldest to a specified block beyond the tip (waits)', oldest(), at(9), 0, 9],
  ['next commit onwards: from the height, for ever', next(), next(), 5, SEEK_FOREVER],
  ['oldest for ever', oldest(), next(), 0, SEEK_FOREVER],
  ['specified then oldest: the start block alone', at(2), oldest(), 2, 2],
  ['next commit to newest: nothing written yet is newest', next(), newest(), 5, 4],
];

for (const [name, start, stop, first, last] of ranges) {
  test(`seek: ${name}`, () => {
    assert.deepEqual(resolveSeekRange(start, stop, HEIGHT, 'mychannel'), { start: first, stop: last });
  });
}

test('seek on an empty ledger: newest is block 0, oldest to newest ends before it starts', () => {
  assert.deepEqual(resolveSeekRange(newest(), newest(), 0, 'c'), { start: 0, stop: 0 });
  assert.deepEqual(resolveSeekRange(oldest(), newest(), 0, 'c'), { start: 0, stop: -1 });
});

const refusals: [
  string,
  orderer.ISeekPosition | undefined,
  orderer.ISeekPosition | undefined,
  OrdererError['kind'],
  RegExp,
][] = [
  ['no start', undefined, newest(), 'bad-request', /missing its start or stop position/],
  ['no stop', oldest(), undefined, 'bad-request', /missing its start or stop position/],
  [
    'a start with no position set',
    orderer.SeekPosition.create({}),
    newest(),
    'bad-request',
    /missing its start/,
  ],
  [
    'a start beyond the next block',
    at(6),
    newest(),
    'not-found',
    /requested block 6 is beyond the next block 5 of channel mychannel/,
  ],
  [
    'a stop before the start',
    at(3),
    at(2),
    'bad-request',
    /stop block 2 is before start block 3: the range is empty/,
  ],
];

for (const [name, start, stop, kind, message] of refusals) {
  test(`seek refuses ${name}`, () => {
    assert.throws(
      () => resolveSeekRange(start, stop, HEIGHT, 'mychannel'),
      (err: unknown) => err instanceof OrdererError && err.kind === kind && message.test(err.message),
    );
  });
}
