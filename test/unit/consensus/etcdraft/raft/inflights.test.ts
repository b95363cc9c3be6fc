// Port of etcd raft v3.5.9 tracker/inflights_test.go.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Inflights } from '../../../../../src/consensus/etcdraft/raft/tracker/inflights.js';

const state = (inflights: Inflights) => ({
  start: inflights.start,
  count: inflights.count,
  size: inflights.size,
  buffer: inflights.buffer,
});
const withBuffer = (size: number, start: number): Inflights => {
  const inflights = new Inflights(size);
  inflights.start = start;
  inflights.buffer = new Array<number>(size).fill(0);
  return inflights;
};

describe('Inflights (etcd tracker/inflights_test.go)', () => {
  it('TestInflightsAdd', () => {
    // no rotating case
    const inflights = withBuffer(10, 0);
    for (let i = 0; i < 5; i++) inflights.add(i);
    assert.deepEqual(state(inflights), {
      start: 0,
      count: 5,
      size: 10,
      buffer: [0, 1, 2, 3, 4, 0, 0, 0, 0, 0],
    });
    for (let i = 5; i < 10; i++) inflights.add(i);
    assert.deepEqual(state(inflights), {
      start: 0,
      count: 10,
      size: 10,
      buffer: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    });

    // rotating case
    const in2 = withBuffer(10, 5);
    for (let i = 0; i < 5; i++) in2.add(i);
    assert.deepEqual(state(in2), { start: 5, count: 5, size: 10, buffer: [0, 0, 0, 0, 0, 0, 1, 2, 3, 4] });
    for (let i = 5; i < 10; i++) in2.add(i);
    assert.deepEqual(state(in2), { start: 5, count: 10, size: 10, buffer: [5, 6, 7, 8, 9, 0, 1, 2, 3, 4] });
  });

  it('TestInflightFreeTo', () => {
    // no rotating case
    const inflights = new Inflights(10);
    for (let i = 0; i < 10; i++) inflights.add(i);
    inflights.freeLE(4);
    assert.deepEqual(state(inflights), {
      start: 5,
      count: 5,
      size: 10,
      buffer: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    });
    inflights.freeLE(8);
    assert.deepEqual(state(inflights), {
      start: 9,
      count: 1,
      size: 10,
      buffer: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    });
    // rotating case
    for (let i = 10; i < 15; i++) inflights.add(i);
    inflights.freeLE(12);
    assert.deepEqual(state(inflights), {
      start: 3,
      count: 2,
      size: 10,
      buffer: [10, 11, 12, 13, 14, 5, 6, 7, 8, 9],
    });
    inflights.freeLE(14);
    assert.deepEqual(state(inflights), {
      start: 0,
      count: 0,
      size: 10,
      buffer: [10, 11, 12, 13, 14, 5, 6, 7, 8, 9],
    });
  });

  it('TestInflightFreeFirstOne', () => {
    const inflights = new Inflights(10);
    for (let i = 0; i < 10; i++) inflights.add(i);
    inflights.freeFirstOne();
    assert.deepEqual(state(inflights), {
      start: 1,
      count: 9,
      size: 10,
      buffer: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    });
  });

  it('refuses to add into a full window (Go panics)', () => {
    const inflights = new Inflights(1);
    inflights.add(1);
    assert.throws(() => inflights.add(2), /cannot add into a Full inflights/);
  });
});
