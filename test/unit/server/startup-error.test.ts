// What `orderer start` says when it cannot start, and the gate early calls wait at.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EXIT_CODES,
  StartupError,
  UsageError,
  cannotStartLine,
  envVariableOf,
} from '../../../src/server/startupError.js';
import { StartupGate, holdInfoUntilStarted } from '../../../src/server/startupGate.js';
import { LoggingSystem } from '../../../src/logging.js';
import { OrdererError } from '../../../src/errors.js';
import { systemClock } from '../../../src/clock.js';

test('a StartupError names the setting, the problem and what to do, on one line', () => {
  const err = new StartupError(
    'General.BootstrapFile',
    'cannot read /x.block (no such file)',
    'point it at block 0',
  );
  assert.ok(err instanceof OrdererError);
  assert.equal(err.kind, 'bad-request');
  assert.equal(err.setting, 'General.BootstrapFile');
  assert.equal(err.remedy, 'point it at block 0');
  assert.equal(
    cannotStartLine(err),
    'orderer: cannot start: General.BootstrapFile: cannot read /x.block (no such file): point it at block 0',
  );
  assert.equal(
    cannotStartLine(new Error('first\n  second\nthird')),
    'orderer: cannot start: first second third',
  );
  assert.ok(!(new UsageError('--dev and --config exclude each other') instanceof StartupError));
});

test('exit codes: 0 stopped normally, 1 cannot start, 2 usage', () => {
  assert.deepEqual(EXIT_CODES, { ok: 0, cannotStart: 1, usage: 2 });
});

test('the ORDERER_* variable of a setting', () => {
  assert.equal(envVariableOf('General.LocalMSPDir'), 'ORDERER_GENERAL_LOCALMSPDIR');
  assert.equal(envVariableOf('General.TLS.PrivateKey'), 'ORDERER_GENERAL_TLS_PRIVATEKEY');
});

test('calls wait at the start-up gate until it opens, or until they go away', async () => {
  const gate = new StartupGate();
  const order: string[] = [];
  const waiting = gate.passed().then(() => order.push('call passed'));
  const abort = new AbortController();
  const leaving = gate.passed(abort.signal).then(() => order.push('call left'));
  await Promise.resolve();
  assert.deepEqual(order, [], 'nothing passes a closed gate');
  abort.abort();
  await leaving;
  assert.deepEqual(order, ['call left']);
  assert.equal(gate.isOpen, false);
  gate.open();
  await waiting;
  assert.deepEqual(order, ['call left', 'call passed']);
  assert.equal(gate.isOpen, true);
  await gate.passed(new AbortController().signal);
});

test('the listening line is held until start-up succeeds, and dropped when it fails', () => {
  const lines: string[] = [];
  const destination = { write: (chunk: string) => lines.push(JSON.parse(chunk).msg as string) };
  const logger = new LoggingSystem(
    { format: 'json', spec: 'debug' },
    { clock: systemClock, destination },
  ).logger('orderer.common.comm');

  const started = new StartupGate();
  const held = holdInfoUntilStarted(logger, started);
  held.info({ address: '127.0.0.1:7050' }, 'AtomicBroadcast server listening');
  held.debug('a debug line passes at once');
  logger.info('channels opened');
  assert.deepEqual(lines, ['a debug line passes at once', 'channels opened']);
  started.open();
  assert.deepEqual(lines.slice(2), ['AtomicBroadcast server listening']);
  held.info('after start-up');
  assert.equal(lines.at(-1), 'after start-up');

  lines.length = 0;
  const failed = new StartupGate();
  const dropped = holdInfoUntilStarted(logger, failed);
  dropped.info('AtomicBroadcast server listening');
  failed.abandon();
  failed.open();
  assert.deepEqual(lines, [], 'a start that failed never says it listens');
  assert.equal(failed.isOpen, true);
});
