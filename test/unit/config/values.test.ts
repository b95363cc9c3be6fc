import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  editDistance,
  formatDuration,
  parseBool,
  parseByteSize,
  parseGoDuration,
  parseInteger,
  parseStringList,
  splitPemCertificates,
} from '../../../src/config/values.js';

describe('parseGoDuration (time.ParseDuration grammar, result in ms)', () => {
  const cases: Array<[string, number | undefined]> = [
    ['0', 0],
    ['5s', 5000],
    ['300ms', 300],
    ['1m30s', 90_000],
    ['168h', 168 * 3_600_000],
    ['1.5h', 5_400_000],
    ['1.1s', 1100],
    ['.5s', 500],
    ['100us', 0.1],
    ['100µs', 0.1],
    ['2500ns', 0.0025],
    ['-2s', -2000],
    ['+7s', 7000],
    ['1h2m3s4ms', 3_723_004],
    ['7200s', 7_200_000],
    ['', undefined],
    ['5', undefined],
    ['5 s', undefined],
    ['5sec', undefined],
    ['s', undefined],
    ['.s', undefined],
    ['1d', undefined],
    ['3000000h', undefined], // overflows Go's int64 nanoseconds
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} -> ${expected}`, () => assert.equal(parseGoDuration(input), expected));
  }
});

describe('formatDuration', () => {
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [250, '250ms'],
    [5000, '5s'],
    [90_000, '1m30s'],
    [43_200_000, '12h0m0s'],
    [-1500, '-1.5s'],
  ];
  for (const [input, expected] of cases) {
    it(`${input} -> ${expected}`, () => assert.equal(formatDuration(input), expected));
  }
});

describe('parseByteSize (Fabric byteSizeDecodeHook: binary units)', () => {
  const cases: Array<[unknown, number | undefined]> = [
    [1048576, 1048576],
    ['1048576', 1048576],
    ['1 MB', 1048576],
    ['1MB', 1048576],
    ['1m', 1048576],
    ['512 KB', 524288],
    ['2 gb', 2 * 1024 ** 3],
    ['10k', 10240],
    ['1 TB', undefined],
    ['1.5 MB', undefined],
    ['MB', undefined],
    ['lots', undefined],
    [true, undefined],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} -> ${expected}`, () => assert.equal(parseByteSize(input), expected));
  }
});

describe('parseBool (Go strconv.ParseBool, plus YAML 1.1 words from files)', () => {
  const cases: Array<[unknown, boolean, boolean | undefined]> = [
    [true, false, true],
    ['true', false, true],
    ['TRUE', false, true],
    ['1', false, true],
    ['t', false, true],
    ['false', false, false],
    ['0', false, false],
    ['F', false, false],
    [0, false, false],
    ['yes', false, undefined],
    ['yes', true, true],
    ['off', true, false],
    ['maybe', true, undefined],
    [[true], true, undefined],
  ];
  for (const [input, yaml11, expected] of cases) {
    it(`${JSON.stringify(input)} (yaml 1.1 words: ${yaml11}) -> ${expected}`, () =>
      assert.equal(parseBool(input, yaml11), expected));
  }
});

describe('parseInteger (strconv.ParseInt base 0)', () => {
  const cases: Array<[unknown, number | undefined]> = [
    [7050, 7050],
    ['7050', 7050],
    [' 7050 ', 7050],
    ['-3', -3],
    ['0x1F', 31],
    ['0o17', 15],
    ['0b101', 5],
    ['1.5', undefined],
    [1.5, undefined],
    ['7050tcp', undefined],
    ['', undefined],
    [null, undefined],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} -> ${expected}`, () => assert.equal(parseInteger(input), expected));
  }
});

describe('parseStringList (YAML sequences and Fabric "[a, b]" strings)', () => {
  const cases: Array<[unknown, string[] | undefined]> = [
    [null, []],
    [[], []],
    [
      ['a', 'b'],
      ['a', 'b'],
    ],
    [
      ['a', null, 'b'],
      ['a', 'b'],
    ],
    ['[a, b]', ['a', 'b']],
    ['[ a ,b ,  c ]', ['a', 'b', 'c']],
    ['[]', []],
    ['single', ['single']],
    ['a,b', ['a,b']], // Fabric only splits the bracketed form
    ['', []],
    [[{ nested: true }], undefined],
    [{ File: 'x' }, undefined],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} -> ${JSON.stringify(expected)}`, () =>
      assert.deepEqual(parseStringList(input), expected));
  }
});

describe('splitPemCertificates', () => {
  it('keeps CERTIFICATE blocks only, re-wrapped at 64 columns', () => {
    const body = 'A'.repeat(100);
    const text =
      `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n` +
      `-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n` +
      `-----BEGIN CERTIFICATE-----\nCC\nDD\n-----END CERTIFICATE-----\n`;
    assert.deepEqual(splitPemCertificates(text), [
      `-----BEGIN CERTIFICATE-----\n${'A'.repeat(64)}\n${'A'.repeat(36)}\n-----END CERTIFICATE-----\n`,
      '-----BEGIN CERTIFICATE-----\nCCDD\n-----END CERTIFICATE-----\n',
    ]);
  });
});

describe('editDistance', () => {
  const cases: Array<[string, string, number]> = [
    ['', '', 0],
    ['ListenPort', 'ListenPort', 0],
    ['ListenPrt', 'ListenPort', 1],
    ['kitten', 'sitting', 3],
  ];
  for (const [a, b, expected] of cases) {
    it(`${a} / ${b} -> ${expected}`, () => assert.equal(editDistance(a, b), expected));
  }
});
