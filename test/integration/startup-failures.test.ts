// `orderer start` as systemd or Kubernetes runs it, with one thing wrong: a General.BootstrapFile
// that is missing or not a block, a gRPC port already in use, an MSP folder that is missing, has
// no keystore, or has a keystore without the key. Each time the real process must end on its own
// (nothing it started may keep it alive; the CLI's forced exit after FAILED_EXIT_GRACE_MS would say
// so on stderr), with status 1 and, as its last line, "orderer: cannot start: <setting>: ...: <what
// to do>", and without having created a channel. Also: the start-up log names the version and the
// effective configuration, and no secret ever appears in the output.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from '../support/fabric-clients.js';
import { ORDERER0_DIR, ordererEnv } from '../support/orderer.js';
import {
  CLI_SOURCE,
  REPO_ROOT,
  freePort,
  lines,
  logEntries,
  ordererBin,
  startOrdererProcess,
  waitForLog,
} from '../support/orderer-process.js';
import { versionInfo } from '../../src/version.js';
import { EXIT_CODES } from '../../src/server/startupError.js';
import { REDACTED } from '../../src/server/startupLog.js';

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  tempDirs.push(dir);
  return dir;
}

/** A copy of orderer0's MSP folder that a test may break. */
function mspCopy(): string {
  const dir = join(tempDir('startup-msp-'), 'msp');
  cpSync(join(ORDERER0_DIR, 'msp'), dir, { recursive: true });
  return dir;
}

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string[];
  stderr: string[];
}

/**
 * Runs `orderer start` (from the sources, or the packaged bin/orderer.js) with ordererEnv plus
 * `env`, and resolves when the process emits 'exit'. The guard only turns a hang into a failure
 * with the output attached; the process is never killed by a passing test.
 */
async function failedStart(
  ledgerDir: string,
  env: Record<string, string>,
  entry: 'source' | 'bin' = 'source',
): Promise<Ended> {
  const args =
    entry === 'bin' ? [(await ordererBin()).bin, 'start'] : ['--import', 'tsx', CLI_SOURCE, 'start'];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...ordererEnv(ledgerDir, { ORDERER_GENERAL_LISTENPORT: String(await freePort()), ...env }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const stderr: string[] = [];
  lines(child.stdout, (line) => output.push(line));
  lines(child.stderr, (line) => {
    output.push(line);
    stderr.push(line);
  });
  const guardMs = 60_000;
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`orderer start did not exit within ${guardMs} ms:\n${output.join('\n')}`));
    }, guardMs);
    // 'close' comes after 'exit' once stdout and stderr are drained: every line has been read.
    child.once('close', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, output, stderr });
    });
  });
}

/** The checks every failed start must pass; returns the one-line reason. */
function assertCannotStart(ended: Ended, reason: RegExp): string {
  const transcript = ended.output.join('\n');
  assert.deepEqual(
    { code: ended.code, signal: ended.signal },
    { code: EXIT_CODES.cannotStart, signal: null },
    transcript,
  );
  // Ended on its own: the forced exit (a handle left open) would have said so.
  assert.doesNotMatch(transcript, /still running .* after failing/, transcript);
  const last = ended.stderr.at(-1) ?? '';
  assert.match(last, /^orderer: cannot start: /, transcript);
  assert.match(last, reason, transcript);
  assert.equal(
    ended.stderr.filter((line) => line.startsWith('orderer: cannot start:')).length,
    1,
    'exactly one reason line',
  );
  return last;
}

/** Channels the ledger folder holds (none must exist after a failed start). */
function ledgerChannels(ledgerDir: string): string[] {
  const chains = join(ledgerDir, 'chains');
  return existsSync(chains) ? readdirSync(chains) : [];
}

describe('orderer start that cannot start exits non-zero, on its own, with one line saying why', () => {
  it('General.BootstrapFile that does not exist', async () => {
    const ledgerDir = tempDir('startup-ledger-');
    const missing = join(ledgerDir, 'no-such-genesis.block');
    const ended = await failedStart(ledgerDir, { ORDERER_GENERAL_BOOTSTRAPFILE: missing });
    const line = assertCannotStart(
      ended,
      /General\.BootstrapFile: cannot read \S+no-such-genesis\.block \(no such file\): point General\.BootstrapFile \(ORDERER_GENERAL_BOOTSTRAPFILE\) at the system channel genesis block/,
    );
    assert.ok(line.includes(missing), line);
    assert.deepEqual(ledgerChannels(ledgerDir), []);
  });

  it('General.BootstrapFile that is not a block, and one that is not a genesis block', async () => {
    const ledgerDir = tempDir('startup-ledger-');
    const ended = await failedStart(ledgerDir, {
      ORDERER_GENERAL_BOOTSTRAPFILE: join(FIXTURES, 'sampleconfig/orderer.yaml'),
    });
    assertCannotStart(
      ended,
      /General\.BootstrapFile: \S+orderer\.yaml is not a block \(.*\): point General\.BootstrapFile/,
    );
    assert.deepEqual(ledgerChannels(ledgerDir), [], 'nothing written for a file that is not a genesis block');

    // A block that decodes but holds no config: Registrar.initialize would have written it.
    const notConfig = join(ledgerDir, 'empty.block');
    writeFileSync(notConfig, Buffer.from([0x0a, 0x00]));
    const second = await failedStart(ledgerDir, { ORDERER_GENERAL_BOOTSTRAPFILE: notConfig });
    assertCannotStart(second, /General\.BootstrapFile: \S+empty\.block is not a usable genesis block: /);
    assert.deepEqual(ledgerChannels(ledgerDir), []);
  });

  it('a gRPC port in use, without having created a channel (the packaged bin/orderer.js)', async () => {
    const ledgerDir = tempDir('startup-ledger-');
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const ended = await failedStart(
        ledgerDir,
        {
          ORDERER_GENERAL_LISTENPORT: String(port),
          ORDERER_GENERAL_BOOTSTRAPFILE: join(FIXTURES, 'blocks/sys-solo.block'),
        },
        'bin',
      );
      assertCannotStart(
        ended,
        new RegExp(
          `General\\.ListenPort: cannot listen on 127\\.0\\.0\\.1:${port}: port ${port} is already in use by another process: .*ORDERER_GENERAL_LISTENPORT`,
        ),
      );
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
    // The listener is bound before the ledger is opened: not even the ledger folder was written.
    assert.deepEqual(readdirSync(ledgerDir), []);
  });

  it('an admin port in use, without having created a channel', async () => {
    const ledgerDir = tempDir('startup-ledger-');
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const ended = await failedStart(ledgerDir, { ORDERER_ADMIN_LISTENADDRESS: `127.0.0.1:${port}` });
      assertCannotStart(
        ended,
        new RegExp(
          `Admin\\.ListenAddress: cannot listen on 127\\.0\\.0\\.1:${port}: port ${port} is already in use by another process: stop the process that holds it, or set Admin\\.ListenAddress \\(ORDERER_ADMIN_LISTENADDRESS\\) to a free port`,
        ),
      );
      // The gRPC listener it had bound is closed again: nothing answers the "listening" line.
      assert.ok(!ended.output.some((line) => line.includes('AtomicBroadcast server listening')));
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
    assert.deepEqual(readdirSync(ledgerDir), []);
  });

  it('a missing MSP folder names General.LocalMSPDir', async () => {
    const ledgerDir = tempDir('startup-ledger-');
    const missing = join(ledgerDir, 'no-such-msp');
    const ended = await failedStart(ledgerDir, { ORDERER_GENERAL_LOCALMSPDIR: missing });
    const line = assertCannotStart(
      ended,
      /General\.LocalMSPDir: the folder \S+no-such-msp does not exist: point General\.LocalMSPDir \(ORDERER_GENERAL_LOCALMSPDIR\) at the orderer's MSP folder/,
    );
    assert.ok(line.includes(missing), line);
    assert.deepEqual(readdirSync(ledgerDir), []);
  });

  it('an MSP folder without keystore/ names General.LocalMSPDir', async () => {
    const ledgerDir = tempDir('startup-ledger-');
    const msp = mspCopy();
    rmSync(join(msp, 'keystore'), { recursive: true });
    const ended = await failedStart(ledgerDir, { ORDERER_GENERAL_LOCALMSPDIR: msp });
    assertCannotStart(
      ended,
      /General\.LocalMSPDir: cannot load the local MSP OrdererMSP: keystore folder \S+\/msp\/keystore does not exist: point General\.LocalMSPDir/,
    );
    assert.deepEqual(readdirSync(ledgerDir), []);
  });

  it('an MSP folder whose keystore holds no key names General.LocalMSPDir', async () => {
    const ledgerDir = tempDir('startup-ledger-');
    const msp = mspCopy();
    rmSync(join(msp, 'keystore/priv_sk'));
    const ended = await failedStart(ledgerDir, { ORDERER_GENERAL_LOCALMSPDIR: msp });
    assertCannotStart(
      ended,
      /General\.LocalMSPDir: cannot load the local MSP OrdererMSP: no private key in \S+\/msp\/keystore matches the certificate signcerts\/orderer0\.example\.com-cert\.pem .*: point General\.LocalMSPDir/,
    );
    assert.deepEqual(readdirSync(ledgerDir), []);
  });

  it('a dev-mode-only flag with a configuration is a usage error: status 2', async () => {
    const ledgerDir = tempDir('startup-ledger-');
    const child = spawn(process.execPath, ['--import', 'tsx', CLI_SOURCE, 'start', '--channel', 'x'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...ordererEnv(ledgerDir) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const stderr: string[] = [];
    lines(child.stderr, (line) => stderr.push(line));
    const code = await new Promise<number | null>((resolve) =>
      child.once('close', (status) => resolve(status)),
    );
    assert.equal(code, EXIT_CODES.usage, stderr.join('\n'));
    assert.match(stderr.at(-1) ?? '', /^orderer: channel apply to dev mode only; .*or add --dev$/);
  });
});

describe('the start-up log', () => {
  it('names the version and the effective configuration, and never a secret', async () => {
    const ledgerDir = tempDir('startup-ledger-');
    const password = 'sasl-password-that-must-never-be-logged';
    const keyFile = join(ORDERER0_DIR, 'msp/keystore/priv_sk');
    const keyBody = readFileSync(keyFile, 'utf8')
      .split('\n')
      .filter((line) => line && !line.startsWith('-----'));
    const port = await freePort();
    const proc = await startOrdererProcess({
      ledgerDir,
      port,
      startTimeoutMs: 60_000,
      env: {
        FABRIC_LOGGING_FORMAT: 'json',
        ORDERER_KAFKA_SASLPLAIN_USER: 'orderer-user',
        ORDERER_KAFKA_SASLPLAIN_PASSWORD: password,
        // Kafka.TLS.PrivateKey holds the key itself (read from the file), not a path.
        ORDERER_KAFKA_TLS_PRIVATEKEY_FILE: keyFile,
      },
    });
    try {
      const version = await waitForLog(
        proc,
        (e) => typeof e.msg === 'string' && e.msg.startsWith('starting orderer'),
      );
      assert.equal(version.version, versionInfo().version);
      assert.equal(version.commit, versionInfo().commit);
      assert.equal(version.fabricCompatibility, 'v2.5');

      const loaded = await waitForLog(proc, (e) => e.msg === 'loaded local configuration');
      assert.equal(loaded.configFile, join(FIXTURES, 'sampleconfig/orderer.yaml'));
      const effective = await waitForLog(proc, (e) => e.msg === 'effective configuration');
      const config = effective.config as {
        general: { listenPort: number; localMSPDir: string; tls: { privateKey: string } };
        fileLedger: { location: string };
        kafka: { saslPlain: { user: string; password: string }; tls: { privateKey: string } };
      };
      assert.equal(config.general.listenPort, port);
      assert.equal(config.general.localMSPDir, join(ORDERER0_DIR, 'msp'));
      assert.equal(config.fileLedger.location, ledgerDir);
      assert.equal(config.kafka.saslPlain.user, 'orderer-user');
      assert.equal(config.kafka.saslPlain.password, REDACTED);
      assert.equal(config.kafka.tls.privateKey, REDACTED);
      // A private key's path is not a secret and is what an operator checks.
      assert.match(config.general.tls.privateKey, /server\.key$/);

      // "listening" is the readiness line: it comes once the channels and the admin server are up,
      // although the port was bound before the ledger was opened.
      const order = logEntries(proc.output).map((e) => e.msg);
      const bootstrapped = order.indexOf('bootstrapped channel from genesis block');
      const admin = order.indexOf('admin server listening');
      const listening = order.indexOf('AtomicBroadcast server listening');
      assert.ok(bootstrapped >= 0 && admin > bootstrapped && listening > admin, order.join(' | '));

      const transcript = proc.output.join('\n');
      assert.ok(!transcript.includes(password), 'the SASL password appears in the output');
      for (const line of keyBody)
        assert.ok(!transcript.includes(line), 'private key material appears in the output');
      assert.ok(logEntries(proc.output).length > 0);
    } finally {
      await proc.stop();
    }
    assert.deepEqual(await proc.exited, { code: 0, signal: null });
  });
});

describe('a SIGTERM while the orderer is starting', () => {
  it('stops it in order once start-up is done: status 0, not killed by the signal', async () => {
    const ledgerDir = tempDir('startup-ledger-');
    const child = spawn(process.execPath, ['--import', 'tsx', CLI_SOURCE, 'start'], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        FABRIC_LOGGING_FORMAT: 'json',
        ...ordererEnv(ledgerDir, { ORDERER_GENERAL_LISTENPORT: String(await freePort()) }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once('close', (code, signal) => resolve([code, signal])),
    );
    lines(child.stdout, (line) => output.push(line));
    // The first line start-up writes, before the configuration is even read.
    await new Promise<void>((resolve) =>
      lines(child.stderr, (line) => {
        output.push(line);
        if (line.includes('starting orderer')) resolve();
      }),
    );
    child.kill('SIGTERM');
    const [code, signal] = await closed;
    assert.deepEqual({ code, signal }, { code: EXIT_CODES.ok, signal: null }, output.join('\n'));
    const messages = logEntries(output).map((e) => e.msg);
    assert.ok(messages.includes('orderer started'), messages.join(' | '));
    assert.ok(messages.includes('orderer stopped'), messages.join(' | '));
    assert.deepEqual(ledgerChannels(ledgerDir), ['system-channel'], 'the ledger is whole');
  });
});
