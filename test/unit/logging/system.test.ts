import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, systemClock } from '../../../src/clock.js';
import { OrdererError } from '../../../src/errors.js';
import { LOGGER_NAMES, LoggingSystem, parseLogFormat, silentLogger } from '../../../src/logging.js';

function collector() {
  const lines: string[] = [];
  return {
    lines,
    destination: { write: (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)) },
  };
}

test('loggers and their module children follow the spec, and follow a new one at run time', () => {
  const out = collector();
  const system = new LoggingSystem(
    { spec: 'info:ledger=debug', format: 'json' },
    { clock: systemClock, destination: out.destination },
  );
  const root = system.logger('orderer');
  const ledger = root.child({ module: 'ledger' });
  const ledgerChannel = ledger.child({ channel: 'mychannel' });
  const registrar = root.child({ module: 'registrar' });
  assert.equal(root.level, 'info');
  assert.equal(ledger.level, 'debug');
  assert.equal(ledgerChannel.level, 'debug'); // a channel child keeps its module's name
  assert.equal(registrar.level, 'info');

  ledgerChannel.debug('appended');
  registrar.debug('hidden');
  assert.equal(out.lines.length, 1);
  const event = JSON.parse(out.lines[0]!) as Record<string, unknown>;
  assert.equal(event.level, 'debug');
  assert.equal(event.module, 'ledger');
  assert.equal(event.channel, 'mychannel');
  assert.equal(event.msg, 'appended');

  system.setSpec('warn:registrar=debug');
  assert.equal(system.spec(), 'warn:registrar=debug');
  assert.equal(root.level, 'warn');
  assert.equal(ledger.level, 'warn');
  assert.equal(ledgerChannel.level, 'warn');
  assert.equal(registrar.level, 'debug');
  // Children made after the change get the new levels too.
  assert.equal(root.child({ module: 'registrar' }).child({ channel: 'x' }).level, 'debug');
  assert.equal(system.levelOf('registrar'), 'debug');
  assert.equal(system.levelOf('grpc'), 'warn');
});

test('an invalid spec is a bad request and leaves the active spec alone', () => {
  const system = new LoggingSystem(
    { spec: 'debug' },
    { clock: systemClock, destination: collector().destination },
  );
  const logger = system.logger('orderer');
  assert.throws(
    () => system.setSpec('debug:=info'),
    (err: unknown) => err instanceof OrdererError && err.kind === 'bad-request',
  );
  assert.equal(system.spec(), 'debug');
  assert.equal(logger.level, 'debug');
  assert.throws(
    () => new LoggingSystem({ spec: 'noisy' }, { clock: systemClock }),
    /invalid logging specification 'noisy'/,
  );
});

test('console format writes one readable line per event, in the layout of Fabric', () => {
  const out = collector();
  const clock = new ManualClock(Date.UTC(2026, 4, 1, 10, 0, 0, 123));
  const system = new LoggingSystem(
    { spec: 'info', format: 'console' },
    { destination: out.destination, clock },
  );
  const broadcast = system.logger('orderer').child({ module: 'broadcast' });
  broadcast.info({ channel: 'mychannel', status: 200, info: 'two words' }, 'message accepted');
  broadcast.error({ err: new Error('disk full') }, 'commit failed');
  assert.equal(
    out.lines[0],
    '2026-05-01 10:00:00.123 UTC 0001 INFO [broadcast] message accepted channel=mychannel status=200 info="two words"',
  );
  assert.match(
    out.lines[1]!,
    /^2026-05-01 10:00:00\.123 UTC 0002 ERRO \[broadcast\] commit failed err="disk full"$/,
  );
  assert.match(out.lines[2]!, /^\tError: disk full$/); // the stack follows, indented
});

test('FABRIC_LOGGING_SPEC and FABRIC_LOGGING_FORMAT from the environment', () => {
  const out = collector();
  const system = LoggingSystem.fromEnvironment(
    { FABRIC_LOGGING_SPEC: 'error:grpc=debug', FABRIC_LOGGING_FORMAT: 'json' },
    { clock: systemClock, destination: out.destination },
  );
  assert.equal(system.format, 'json');
  assert.equal(system.logger('orderer').level, 'error');
  assert.equal(system.logger('grpc').level, 'debug');
  const defaults = LoggingSystem.fromEnvironment({}, { clock: systemClock, destination: out.destination });
  assert.equal(defaults.format, 'console');
  assert.equal(defaults.spec(), 'info');
});

test('log formats: json, console, and Fabric format templates (rendered as console)', () => {
  assert.equal(parseLogFormat('json'), 'json');
  assert.equal(parseLogFormat('JSON'), 'json');
  assert.equal(parseLogFormat(undefined), 'console');
  assert.equal(parseLogFormat('console'), 'console');
  assert.equal(
    parseLogFormat('%{color}%{time:2006-01-02 15:04:05.000 MST} [%{module}] %{message}'),
    'console',
  );
  assert.throws(
    () => parseLogFormat('xml'),
    (err: unknown) => err instanceof OrdererError && /"json"/.test(err.message),
  );
});

test('entries written are reported by level (logging_entries_written)', () => {
  const system = new LoggingSystem(
    { spec: 'info' },
    { clock: systemClock, destination: collector().destination },
  );
  const seen: string[] = [];
  system.observeEntries((level) => seen.push(level));
  const logger = system.logger('orderer').child({ module: 'x' });
  logger.info('a');
  logger.debug('filtered out: not written');
  logger.warn('b');
  system.observeEntries(undefined);
  logger.error('not observed');
  assert.deepEqual(seen, ['info', 'warn']);
});

test("Fabric's orderer logger names: a spec written for Fabric selects the same components", () => {
  const system = new LoggingSystem(
    { spec: 'info:orderer.consensus=debug:orderer.commmon.multichannel=warn', format: 'json' },
    { clock: systemClock, destination: collector().destination },
  );
  const root = system.logger(LOGGER_NAMES.server);
  const component = (name: string) => root.child({ module: name }).child({ channel: 'mychannel' });
  assert.equal(component(LOGGER_NAMES.solo).level, 'debug');
  assert.equal(component(LOGGER_NAMES.kafka).level, 'debug');
  assert.equal(component(LOGGER_NAMES.multichannel).level, 'warn');
  assert.equal(component(LOGGER_NAMES.broadcast).level, 'info');
  assert.equal(component(LOGGER_NAMES.deliver).level, 'info');
  assert.equal(root.level, 'info');
  system.setSpec('warn:orderer.common=debug');
  assert.equal(component(LOGGER_NAMES.broadcast).level, 'debug');
  assert.equal(root.level, 'debug'); // orderer.common.server
  assert.equal(component(LOGGER_NAMES.operations).level, 'warn');
  // Fabric's "commmon" spelling is not under orderer.common, in Fabric either.
  assert.equal(component(LOGGER_NAMES.multichannel).level, 'warn');
  assert.equal(component(LOGGER_NAMES.channelParticipation).level, 'warn');
});

test('LoggingSystem.of finds the system behind a logger and its descendants, and nothing else', () => {
  const system = new LoggingSystem({}, { clock: systemClock, destination: collector().destination });
  const other = new LoggingSystem({}, { clock: systemClock, destination: collector().destination });
  const root = system.logger('orderer.common.server');
  assert.equal(LoggingSystem.of(root), system);
  assert.equal(LoggingSystem.of(root.child({ module: 'x' }).child({ channel: 'c' })), system);
  assert.equal(LoggingSystem.of(other.logger('y')), other);
  assert.equal(LoggingSystem.of(silentLogger()), undefined);
});

test('the system a logger carries stays out of what it logs and of its enumerable keys', () => {
  const out = collector();
  const system = new LoggingSystem({ format: 'json' }, { clock: systemClock, destination: out.destination });
  const logger = system.logger('orderer.common.server').child({ module: 'ledger' });
  logger.info({ height: 3 }, 'committed');
  const entry = JSON.parse(out.lines[0]!) as Record<string, unknown>;
  assert.deepEqual(Object.keys(entry).sort(), ['height', 'level', 'module', 'msg', 'name', 'pid', 'time']);
  const owner = Object.getOwnPropertySymbols(logger)
    .map((key) => Object.getOwnPropertyDescriptor(logger, key)!)
    .filter((d) => d.value === system);
  assert.equal(owner.length, 1, 'the logger itself holds its system');
  assert.equal(owner[0]!.enumerable, false);
  assert.ok(!Object.values(logger).includes(system));
});
