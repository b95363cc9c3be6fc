// A real single-node Apache Kafka broker (KRaft) on 127.0.0.1 for tests, run by scripts/kafka/broker.sh
// (which installs the jars from Maven Central on first use, makes a test CA and certificates, and formats
// storage). The broker can be stopped, killed and restarted on the same data dir and ports, so tests can
// take it away under load and bring it back.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

const projectDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const brokerScript = path.join(projectDir, 'scripts/kafka/broker.sh');
const installScript = path.join(projectDir, 'scripts/kafka/install.sh');

export interface KafkaBrokerOptions {
  /** PLAINTEXT listener. Default 9092 (what blocks/sys-kafka.block names); 0 picks a free port. */
  plaintextPort?: number;
  /** SSL listener; default (or 0): a free port. */
  sslPort?: number;
  /** SASL_PLAINTEXT listener with SASL/PLAIN; default (or 0): a free port. */
  saslPort?: number;
  /** SASL_SSL listener with SASL/PLAIN; default (or 0): a free port. */
  saslSslPort?: number;
  /** KRaft controller listener; default (or 0): a free port. */
  controllerPort?: number;
  /** Default: a fresh temporary folder, removed by dispose(). A given folder is kept. */
  dataDir?: string;
  /** Whether SSL listeners ask for a client certificate. Default 'requested'. */
  sslClientAuth?: 'none' | 'requested' | 'required';
  /** Time for the broker to answer metadata after it is spawned. Default 90 s. */
  startTimeoutMs?: number;
  /** Time to wait after SIGTERM before SIGKILL. Default 30 s. */
  stopTimeoutMs?: number;
  /** JVM max heap. Default 512m. */
  heap?: string;
  /**
   * A fixed PLAINTEXT port (such as 9092) is held through a lock file in the temp folder from start
   * to dispose(), so Kafka test files run at the same time on one machine take turns instead of
   * talking to each other's broker. How long to wait for the lock. Default 300 s.
   */
  portLockWaitMs?: number;
}

export interface KafkaBroker {
  /** PLAINTEXT "127.0.0.1:port". */
  readonly bootstrap: string;
  readonly sslBootstrap: string;
  /** SASL_PLAINTEXT with PLAIN. */
  readonly saslBootstrap: string;
  /** SASL_SSL with PLAIN (TLS with tls.caPem). */
  readonly saslSslBootstrap: string;
  readonly tls: { caPem: string; clientCertPem: string; clientKeyPem: string };
  /** A SASL/PLAIN user the broker accepts; admin/admin-secret is another. */
  readonly sasl: { mechanism: 'PLAIN'; user: string; password: string };
  readonly dataDir: string;
  /** The broker's log4j log. */
  readonly logFile: string;
  /** Pid of the running broker JVM, undefined while stopped. */
  pid(): number | undefined;
  /** SIGTERM (controlled shutdown), then SIGKILL after stopTimeoutMs. No-op when stopped. */
  stop(): Promise<void>;
  /** SIGKILL at once, as a crash. No-op when stopped. */
  kill(): Promise<void>;
  /** Stops the broker if it runs, then starts it again on the same data dir and ports. */
  restart(): Promise<void>;
  /** Stops the broker and removes the data dir when this helper created it. */
  dispose(): Promise<void>;
  /** The last lines of the broker log and its stdout, for failure messages. */
  logTail(lines?: number): string;
}

/** Why a Kafka broker cannot run here, or undefined when it can (Java 11+ on PATH). */
export function kafkaBrokerUnavailableReason(): string | undefined {
  const probe = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    return 'Java is not installed (java not found on PATH): install a JDK 17 to run the Kafka broker tests';
  }
  if (spawnSync('bash', ['-c', 'command -v mvn && command -v openssl && command -v keytool']).status !== 0) {
    return 'Kafka broker tests need mvn, openssl and keytool on PATH';
  }
  return undefined;
}

/** Installs the Kafka jars (scripts/kafka/install.sh) and resolves with the libs folder. */
export function installKafka(timeoutMs = 600_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [installScript], { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`Kafka install failed: ${error.message}\n${stderr}`));
      else resolve(stdout.trim().split('\n').at(-1) ?? '');
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return `(${file} does not exist)`;
  const text = readFileSync(file, 'utf8').trimEnd().split('\n');
  return text.slice(-lines).join('\n');
}

// A Metadata v4 request (non-flexible, supported by Kafka 1.0 through 4.x) asking for no topics: the
// answer lists the live, unfenced brokers, which is what "ready" means here.
function metadataRequest(correlationId: number): Buffer {
  const clientId = Buffer.from('kafka-broker-probe');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 1);
  let at = 0;
  at = body.writeInt16BE(3, at); // api key: Metadata
  at = body.writeInt16BE(4, at); // api version
  at = body.writeInt32BE(correlationId, at);
  at = body.writeInt16BE(clientId.length, at);
  at += clientId.copy(body, at);
  at = body.writeInt32BE(0, at); // topics: empty array
  body.writeInt8(0, at); // allow_auto_topic_creation: false
  const frame = Buffer.alloc(4);
  frame.writeInt32BE(body.length);
  return Buffer.concat([frame, body]);
}

/** Number of live brokers in a Metadata v4 response body (after the size prefix). */
function brokersInMetadataResponse(response: Buffer, correlationId: number): number {
  if (response.readInt32BE(0) !== correlationId)
    throw new Error('metadata response has a foreign correlation id');
  // correlation id (4), throttle_time_ms (4), then the brokers array
  return response.readInt32BE(8);
}

function probeMetadata(port: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const correlationId = 7;
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no metadata answer on 127.0.0.1:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(metadataRequest(correlationId)));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4) return;
      const size = received.readInt32BE(0);
      if (received.length < 4 + size) return;
      clearTimeout(timer);
      socket.destroy();
      try {
        resolve(brokersInMetadataResponse(received.subarray(4, 4 + size), correlationId));
      } catch (error) {
        reject(error);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function probeTls(port: number, caPem: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: caPem, timeout: timeoutMs });
    socket.on('secureConnect', () => {
      socket.destroy();
      resolve();
    });
    socket.on('timeout', () => {
      socket.destroy();
      reject(new Error(`TLS handshake on 127.0.0.1:${port} timed out`));
    });
    socket.on('error', reject);
  });
}

function probeTcp(port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, timeout: timeoutMs });
    socket.on('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.on('timeout', () => {
      socket.destroy();
      reject(new Error(`connect to 127.0.0.1:${port} timed out`));
    });
    socket.on('error', reject);
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `<tmp>/kafka-test-port-<port>.lock` (holding this process's pid), waiting while a live
 * process holds it and taking over a lock whose process is gone. Resolves with its release.
 */
async function lockPort(port: number, waitMs: number): Promise<() => void> {
  const file = path.join(tmpdir(), `kafka-test-port-${port}.lock`);
  const deadline = Date.now() + waitMs;
  let announced = false;
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      const release = () => {
        try {
          if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true });
        } catch {
          // already gone
        }
      };
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder: number;
    try {
      holder = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    } catch {
      continue; // released meanwhile
    }
    if (holder === process.pid) {
      throw new Error(`this process already holds the Kafka test broker lock for port ${port} (${file})`);
    }
    if (!Number.isInteger(holder)) {
      // Just created, its pid not written yet; or left empty by a crash long ago.
      let ageMs: number;
      try {
        ageMs = Date.now() - statSync(file).mtimeMs;
      } catch {
        continue;
      }
      if (ageMs < 5_000) {
        await sleep(100);
        continue;
      }
    }
    if (!Number.isInteger(holder) || !processAlive(holder)) {
      rmSync(file, { force: true }); // a stale lock: its process is gone
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `port ${port} is reserved by another Kafka test run (pid ${holder}, ${file}) for more than ${waitMs} ms`,
      );
    }
    if (!announced) {
      console.log(`# waiting for another Kafka test run (pid ${holder}) to release port ${port}`);
      announced = true;
    }
    await sleep(500);
  }
}

/** Starts a broker and resolves once it answers metadata on PLAINTEXT and accepts SSL and SASL connections. */
export async function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const unavailableReason = kafkaBrokerUnavailableReason();
  if (unavailableReason) throw new Error(unavailableReason);
  await installKafka();

  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'kafka-broker-'));
  const pick = async (port: number | undefined, fallback?: number) =>
    port === undefined ? (fallback ?? (await freePort())) : port === 0 ? await freePort() : port;
  const ports = {
    plaintext: await pick(options.plaintextPort, 9092),
    ssl: await pick(options.sslPort),
    sasl: await pick(options.saslPort),
    saslSsl: await pick(options.saslSslPort),
    controller: await pick(options.controllerPort),
  };
  const startTimeoutMs = options.startTimeoutMs ?? 90_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
  const logFile = path.join(dataDir, 'logs/server.log');
  const stdoutFile = path.join(dataDir, 'logs/stdout.log');
  const args = [
    brokerScript,
    'run',
    '--data-dir',
    dataDir,
    '--plaintext-port',
    String(ports.plaintext),
    '--ssl-port',
    String(ports.ssl),
    '--sasl-plaintext-port',
    String(ports.sasl),
    '--sasl-ssl-port',
    String(ports.saslSsl),
    '--controller-port',
    String(ports.controller),
    '--ssl-client-auth',
    options.sslClientAuth ?? 'requested',
    '--heap',
    options.heap ?? '512m',
  ];

  let child: ChildProcess | undefined;
  // A test process that dies must not leave a JVM holding the ports.
  const killOnExit = () => child?.kill('SIGKILL');
  const logTail = (lines = 40) =>
    `--- ${logFile} ---\n${tail(logFile, lines)}\n--- ${stdoutFile} ---\n${tail(stdoutFile, 15)}`;

  async function waitUntilReady(spawned: ChildProcess): Promise<void> {
    const deadline = Date.now() + startTimeoutMs;
    let lastProblem = 'not probed yet';
    while (Date.now() < deadline) {
      if (spawned.exitCode !== null || spawned.signalCode !== null) {
        throw new Error(
          `Kafka broker exited during start (code ${spawned.exitCode}, signal ${spawned.signalCode})\n${logTail()}`,
        );
      }
      try {
        const brokers = await probeMetadata(ports.plaintext, 2_000);
        if (brokers < 1) throw new Error('metadata lists no live broker yet');
        const caPem = readFileSync(path.join(dataDir, 'tls/ca.pem'), 'utf8');
        await probeTls(ports.ssl, caPem, 2_000);
        await probeTcp(ports.sasl, 2_000);
        await probeTls(ports.saslSsl, caPem, 2_000);
        return;
      } catch (error) {
        lastProblem = error instanceof Error ? error.message : String(error);
      }
      await sleep(250);
    }
    throw new Error(
      `Kafka broker did not answer on 127.0.0.1:${ports.plaintext} within ${startTimeoutMs} ms (last problem: ${lastProblem})\n${logTail()}`,
    );
  }

  async function start(): Promise<void> {
    if (child) return;
    const portInUse = await probeTcp(ports.plaintext, 500).then(
      () => true,
      () => false,
    );
    if (portInUse) {
      throw new Error(
        `port ${ports.plaintext} on 127.0.0.1 is already in use: stop the other Kafka broker or pass plaintextPort: 0`,
      );
    }
    mkdirSync(path.dirname(stdoutFile), { recursive: true });
    const stdout = openSync(stdoutFile, 'a');
    // broker.sh execs java, so the child's pid is the JVM's.
    const spawned = spawn('bash', args, { stdio: ['ignore', stdout, stdout], cwd: projectDir });
    closeSync(stdout);
    child = spawned;
    spawned.once('exit', () => {
      if (child === spawned) child = undefined;
      process.off('exit', killOnExit);
    });
    process.on('exit', killOnExit);
    try {
      await waitUntilReady(spawned);
    } catch (error) {
      spawned.kill('SIGKILL');
      await exited(spawned);
      throw error;
    }
  }

  async function stopWith(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const running = child;
    if (!running) return;
    running.kill(signal);
    if (signal === 'SIGTERM') {
      const escalation = setTimeout(() => running.kill('SIGKILL'), stopTimeoutMs);
      await exited(running);
      clearTimeout(escalation);
    }
    await exited(running);
  }

  // A fixed port: wait for other test runs on this machine that use it (see portLockWaitMs).
  const releasePort =
    options.plaintextPort === 0
      ? () => {}
      : await lockPort(ports.plaintext, options.portLockWaitMs ?? 300_000);
  process.on('exit', releasePort);
  try {
    await start();
  } catch (error) {
    releasePort();
    process.off('exit', releasePort);
    throw error;
  }
  const caPem = readFileSync(path.join(dataDir, 'tls/ca.pem'), 'utf8');
  return {
    bootstrap: `127.0.0.1:${ports.plaintext}`,
    sslBootstrap: `127.0.0.1:${ports.ssl}`,
    saslBootstrap: `127.0.0.1:${ports.sasl}`,
    saslSslBootstrap: `127.0.0.1:${ports.saslSsl}`,
    tls: {
      caPem,
      clientCertPem: readFileSync(path.join(dataDir, 'tls/client.pem'), 'utf8'),
      clientKeyPem: readFileSync(path.join(dataDir, 'tls/client.key'), 'utf8'),
    },
    sasl: { mechanism: 'PLAIN', user: 'alice', password: 'alice-secret' },
    dataDir,
    logFile,
    pid: () => child?.pid,
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
    async restart() {
      await stopWith('SIGTERM');
      await start();
    },
    async dispose() {
      await stopWith('SIGTERM');
      releasePort();
      process.off('exit', releasePort);
      if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
    logTail,
  };
}
