import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatDurationMs,
  formatDurationNanos,
  parseDurationMs,
  parseDurationNanos,
} from '../../src/duration.js';

// Expected values are Go's time.ParseDuration / Duration.String results.
describe('Go durations', () => {
  const parsed: [string, bigint][] = [
    ['0', 0n],
    ['2s', 2_000_000_000n],
    ['500ms', 500_000_000n],
    ['1m30s', 90_000_000_000n],
    ['1h', 3_600_000_000_000n],
    ['1.5s', 1_500_000_000n],
    ['.5s', 500_000_000n],
    ['1.s', 1_000_000_000n],
    ['-1.5h', -5_400_000_000_000n],
    ['+5ms', 5_000_000n],
    ['100us', 100_000n],
    ['100\u00b5s', 100_000n],
    ['100\u03bcs', 100_000n],
    ['7ns', 7n],
    ['1h2m3s4ms5us6ns', 3_723_004_005_006n],
    ['0.3s', 300_000_000n],
    ['2562047h47m16.854775807s', 9_223_372_036_854_775_807n],
  ];
  for (const [text, nanos] of parsed) {
    it(`parses ${JSON.stringify(text)}`, () => assert.equal(parseDurationNanos(text), nanos));
  }

  const invalid: [string, RegExp][] = [
    ['', /invalid duration ""/],
    ['2', /missing unit in duration "2"/],
    ['2 s', /unknown unit " s"/],
    ['2sec', /unknown unit "sec"/],
    ['.s', /invalid duration/],
    ['-', /invalid duration/],
    ['s', /invalid duration/],
    ['2562047h47m16.854775808s', /invalid duration/],
    ['9223372036854775808ns', /invalid duration/],
  ];
  for (const [text, error] of invalid) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.throws(() => parseDurationNanos(text), error));
  }

  it('gives milliseconds', () => {
    assert.equal(parseDurationMs('2s'), 2000);
    assert.equal(parseDurationMs('250us'), 0.25);
  });

  const formatted: [bigint, string][] = [
    [0n, '0s'],
    [1n, '1ns'],
    [1_100n, '1.1\u00b5s'],
    [2_200_000n, '2.2ms'],
    [500_000_000n, '500ms'],
    [2_000_000_000n, '2s'],
    [1_500_000_000n, '1.5s'],
    [90_000_000_000n, '1m30s'],
    [120_000_000_000n, '2m0s'],
    [3_600_000_000_000n, '1h0m0s'],
    [3_723_004_005_006n, '1h2m3.004005006s'],
    [-1_500_000_000n, '-1.5s'],
  ];
  for (const [nanos, text] of formatted) {
    it(`formats ${nanos}ns as ${text}`, () => assert.equal(formatDurationNanos(nanos), text));
  }

  it('formats milliseconds and round-trips', () => {
    assert.equal(formatDurationMs(2000), '2s');
    for (const [text] of parsed) {
      assert.equal(
        parseDurationNanos(formatDurationNanos(parseDurationNanos(text))),
        parseDurationNanos(text),
      );
    }
  });
});
