import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OrdererError } from '../../../src/errors.js';
import { levelFor, parseLogSpec, type PinoLevel } from '../../../src/logging.js';

// Expected levels follow Fabric's common/flogging LoggerLevels for the same specs.
const resolution: { spec: string; levels: Record<string, PinoLevel> }[] = [
  { spec: 'info', levels: { orderer: 'info', ledger: 'info' } },
  { spec: '', levels: { orderer: 'info' } },
  { spec: 'DEBUG', levels: { orderer: 'debug' } },
  { spec: 'warning', levels: { grpc: 'warn' } },
  { spec: 'payload', levels: { x: 'trace' } },
  { spec: 'critical', levels: { x: 'fatal' } },
  {
    spec: 'warn:orderer.consensus=debug:grpc=error',
    levels: {
      orderer: 'warn',
      'orderer.consensus': 'debug',
      'orderer.consensus.solo': 'debug',
      'orderer.consensusx': 'warn', // a prefix covers whole dotted words only
      grpc: 'error',
      'grpc.server': 'error',
      ledger: 'warn',
    },
  },
  { spec: 'info:ledger=debug', levels: { ledger: 'debug', registrar: 'info' } },
  {
    // The most specific prefix wins, whatever the order in the spec.
    spec: 'orderer.consensus.solo=error:orderer=debug:info',
    levels: {
      'orderer.consensus.solo': 'error',
      'orderer.consensus': 'debug',
      'orderer.x.y': 'debug',
      other: 'info',
    },
  },
  {
    // "name." matches that logger only, not the loggers below it.
    spec: 'info:orderer.=debug',
    levels: { orderer: 'debug', 'orderer.common': 'info' },
  },
  { spec: 'a,b.c=error:debug', levels: { a: 'error', 'b.c': 'error', 'b.c.d': 'error', b: 'debug' } },
  { spec: 'x=debug:x=warn', levels: { x: 'warn' } }, // the last of equal rules wins
  { spec: 'debug::grpc=error', levels: { grpc: 'error', y: 'debug' } }, // empty segments are ignored
];

for (const { spec, levels } of resolution) {
  test(`spec '${spec}' resolves levels like Fabric`, () => {
    const parsed = parseLogSpec(spec);
    for (const [name, level] of Object.entries(levels)) assert.equal(levelFor(parsed, name), level, name);
  });
}

test('a parsed spec keeps its text for GET /logspec', () => {
  assert.equal(parseLogSpec('warn:orderer.consensus=debug').text, 'warn:orderer.consensus=debug');
});

const invalid: { spec: string; why: RegExp }[] = [
  { spec: 'verbose', why: /bad segment 'verbose'/ },
  { spec: 'info:=debug', why: /no logger specified in segment '=debug'/ },
  { spec: 'ledger=loud', why: /bad level 'loud'/ },
  { spec: 'a=b=c', why: /bad segment 'a=b=c'/ },
  { spec: 'bad name=debug', why: /bad logger name 'bad name'/ },
  { spec: 'a..b=debug', why: /bad logger name 'a..b'/ },
  { spec: 'constructor', why: /bad segment 'constructor'/ },
];

for (const { spec, why } of invalid) {
  test(`spec '${spec}' is rejected with the syntax explained`, () => {
    assert.throws(
      () => parseLogSpec(spec),
      (err: unknown) =>
        err instanceof OrdererError &&
        err.kind === 'bad-request' &&
        why.test(err.message) &&
        err.message.includes('info:orderer.consensus=debug:grpc=error'),
    );
  });
}
