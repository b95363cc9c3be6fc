// The start-up log: the version line and the effective configuration, with secrets redacted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { LoggingSystem } from '../../../src/logging.js';
import { loadSampleLocalConfig } from '../../support/config.js';
import { ORDERER0_DIR } from '../../support/orderer.js';
import { REDACTED, logConfiguration, logVersion, redactedConfig } from '../../../src/server/startupLog.js';
import { systemClock } from '../../../src/clock.js';

const KEY_FILE = join(ORDERER0_DIR, 'msp/keystore/priv_sk');
const PASSWORD = 'sasl-secret-3f9a';

function configWithSecrets() {
  return loadSampleLocalConfig({
    ORDERER_KAFKA_SASLPLAIN_ENABLED: 'true',
    ORDERER_KAFKA_SASLPLAIN_USER: 'kafka-user',
    ORDERER_KAFKA_SASLPLAIN_PASSWORD: PASSWORD,
    ORDERER_KAFKA_TLS_PRIVATEKEY_FILE: KEY_FILE,
  }).config;
}

test('passwords and inline private keys are redacted; paths, users and unset secrets are kept', () => {
  const config = configWithSecrets();
  assert.equal(config.kafka.saslPlain.password, PASSWORD, 'the fixture does carry the secrets');
  assert.match(config.kafka.tls.privateKey, /PRIVATE KEY/);

  const shown = redactedConfig(config) as unknown as typeof config;
  assert.equal(shown.kafka.saslPlain.password, REDACTED);
  assert.equal(shown.kafka.tls.privateKey, REDACTED);
  assert.equal(shown.kafka.saslPlain.user, 'kafka-user');
  assert.equal(shown.general.tls.privateKey, config.general.tls.privateKey, 'a key file path is kept');
  assert.equal(shown.general.listenPort, config.general.listenPort);
  assert.deepEqual(shown.general.keepalive, config.general.keepalive);
  // The input is not changed.
  assert.equal(config.kafka.saslPlain.password, PASSWORD);

  const unset = redactedConfig(loadSampleLocalConfig().config) as unknown as typeof config;
  assert.equal(unset.kafka.saslPlain.password, '', 'an unset secret still shows as unset');
});

test('a private key pasted into any setting is redacted', () => {
  const config = configWithSecrets();
  const pem = readFileSync(KEY_FILE, 'utf8');
  config.debug.broadcastTraceDir = pem;
  config.general.tls.rootCAs = ['/etc/ca.pem', pem];
  const shown = redactedConfig(config) as unknown as typeof config;
  assert.equal(shown.debug.broadcastTraceDir, REDACTED);
  assert.deepEqual(shown.general.tls.rootCAs, ['/etc/ca.pem', REDACTED]);
});

test('the start-up lines name the version and the configuration, never a secret', () => {
  let written = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written += chunk.toString();
      done();
    },
  });
  const logging = new LoggingSystem({ format: 'json' }, { clock: systemClock, destination });
  const logger = logging.logger('orderer.common.server');
  const config = configWithSecrets();
  logVersion(logger, { version: '9.8.7', commit: 'abc123' });
  logConfiguration(logger, config);
  logging.flush();

  const entries = written
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(entries.length, 2);
  assert.equal(entries[0]!.msg, 'starting orderer 9.8.7');
  assert.equal(entries[0]!.commit, 'abc123');
  assert.equal(entries[0]!.fabricCompatibility, 'v2.5');
  assert.equal(entries[1]!.msg, 'effective configuration');
  assert.deepEqual(entries[1]!.config, JSON.parse(JSON.stringify(redactedConfig(config))));

  assert.ok(!written.includes(PASSWORD), 'the SASL password was logged');
  const keyLines = readFileSync(KEY_FILE, 'utf8')
    .split('\n')
    .filter((line) => line && !line.startsWith('-----'));
  for (const line of keyLines) assert.ok(!written.includes(line), 'private key material was logged');
});
