// Where tests find Fabric's fixtures and binaries, and what they do when the binaries are missing:
// skipped with the reason outside CI, run (and so failed with how to get them) under CI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import {
  FABRIC_FIXTURES,
  FabricBinaryMissingError,
  PROJECT_ROOT,
  fabricBin,
  fabricBinDir,
  fabricBinSkipReason,
  isCi,
  missingFabricBinaries,
} from '../../support/fabric-fixtures.js';

function withBinDir(body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'fabric-bin-'));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the fixtures are the in-repository copy, with the files the tests read', () => {
  assert.equal(FABRIC_FIXTURES, join(PROJECT_ROOT, 'test/fixtures/fabric-2.5'));
  assert.ok(existsSync(join(PROJECT_ROOT, 'package.json')), `${PROJECT_ROOT} is not the project root`);
  for (const file of [
    'README.md',
    'configtx.yaml',
    'blocks/appsolo-genesis.block',
    'golden/mychannel/5.block',
    'sampleconfig/orderer.yaml',
    'crypto/ordererOrganizations/example.com/orderers/orderer0.example.com/msp/keystore/priv_sk',
  ]) {
    assert.ok(existsSync(join(FABRIC_FIXTURES, file)), `fixture ${file} is missing`);
  }
  assert.match(readFileSync(join(FABRIC_FIXTURES, 'README.md'), 'utf8'), /Fabric v2\.5\.12/);
});

test('the binaries are looked for in $FABRIC_BIN, else ../shared/fabric-bin beside the project', () => {
  assert.equal(fabricBinDir({}), resolve(PROJECT_ROOT, '../shared/fabric-bin'));
  assert.equal(fabricBinDir({ FABRIC_BIN: '' }), resolve(PROJECT_ROOT, '../shared/fabric-bin'));
  assert.equal(fabricBinDir({ FABRIC_BIN: '/opt/fabric/bin' }), '/opt/fabric/bin');
  // A relative $FABRIC_BIN is relative to where the tests are started, as a shell user means it.
  assert.equal(fabricBinDir({ FABRIC_BIN: 'fabric/bin' }), resolve(process.cwd(), 'fabric/bin'));
  assert.equal(
    fabricBinDir({ FABRIC_BIN: '../shared/fabric-bin' }),
    resolve(process.cwd(), '../shared/fabric-bin'),
  );
});

test('missing binaries: a visible skip reason outside CI that says how to build them', () => {
  withBinDir((dir) => {
    const env = { FABRIC_BIN: dir };
    assert.deepEqual(missingFabricBinaries(['osnadmin', 'configtxgen'], env), ['osnadmin', 'configtxgen']);
    const reason = fabricBinSkipReason(['osnadmin', 'configtxgen'], env);
    assert.equal(typeof reason, 'string');
    assert.ok((reason as string).includes(`osnadmin, configtxgen not found in ${dir}`), String(reason));
    assert.match(reason as string, /\$FABRIC_BIN/);
    assert.match(reason as string, /v2\.5\.12/);
    assert.match(reason as string, /go build -o bin\/ \.\/cmd\/\.\.\./);
  });
});

test('missing binaries under CI: the test is not skipped, and fabricBin fails with the how-to', () => {
  withBinDir((dir) => {
    for (const CI of ['true', '1', 'yes']) {
      assert.equal(fabricBinSkipReason(['orderer'], { FABRIC_BIN: dir, CI }), false, `CI=${CI}`);
    }
    assert.throws(
      () => fabricBin('orderer', { FABRIC_BIN: dir, CI: 'true' }),
      (err: unknown) =>
        err instanceof FabricBinaryMissingError &&
        err.missing.join() === 'orderer' &&
        err.message.includes(`orderer not found in ${dir}`) &&
        err.message.includes('go build'),
    );
  });
});

test('CI counts as set unless empty, "false" or "0"', () => {
  assert.equal(isCi({}), false);
  for (const value of ['', 'false', 'FALSE', '0', ' ']) assert.equal(isCi({ CI: value }), false, value);
  for (const value of ['true', '1', 'yes', 'woodpecker']) assert.equal(isCi({ CI: value }), true, value);
});

test('a binary counts only as an executable file', () => {
  withBinDir((dir) => {
    const env = { FABRIC_BIN: dir };
    writeFileSync(join(dir, 'configtxlator'), '#!/bin/sh\n');
    chmodSync(join(dir, 'configtxlator'), 0o644);
    mkdirSync(join(dir, 'configtxgen'));
    writeFileSync(join(dir, 'osnadmin'), '#!/bin/sh\n');
    chmodSync(join(dir, 'osnadmin'), 0o755);
    assert.deepEqual(missingFabricBinaries(['configtxlator', 'configtxgen', 'osnadmin'], env), [
      'configtxlator',
      'configtxgen',
    ]);
    assert.equal(fabricBin('osnadmin', env), join(dir, 'osnadmin'));
    assert.equal(fabricBinSkipReason(['osnadmin'], env), false);
  });
});

/** Every .ts/.mjs/.js file below dir, skipping fixture data and dependencies. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      return ['node_modules', 'generated', 'fixtures'].includes(entry.name) ? [] : sources(path);
    }
    return /\.(ts|mjs|js)$/.test(entry.name) ? [path] : [];
  });
}

test('no test, bench or source file reads Fabric artifacts from outside the repository', () => {
  // The paths of the machines the project was first developed on; a fresh clone has neither.
  const outside = /\/work\/shared\b|shared\/fixtures\/|shared\/fabric-bin/;
  const allowed = new Set(['test/support/fabric-fixtures.ts', 'test/unit/support/fabric-fixtures.test.ts']);
  const offenders: string[] = [];
  for (const folder of ['test', 'bench', 'src', 'scripts']) {
    for (const file of sources(join(PROJECT_ROOT, folder))) {
      const name = relative(PROJECT_ROOT, file);
      if (allowed.has(name)) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          // Comments may say where the binaries are looked for; code must go through fabric-fixtures.
          if (outside.test(line) && !/^\s*(\/\/|\*|\/\*)/.test(line))
            offenders.push(`${name}:${i + 1}: ${line.trim()}`);
        });
    }
  }
  assert.deepEqual(
    offenders,
    [],
    'use FABRIC_FIXTURES / fabricBin from test/support/fabric-fixtures.ts instead of these paths',
  );
});
