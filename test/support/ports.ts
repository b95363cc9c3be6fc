// Ports for test processes that must be told a port up front (Fabric's config reads ListenPort 0
// as "the default", 7050, so an orderer cannot be asked to pick an ephemeral port itself).
//
// Binding port 0, reading the port and releasing it for the orderer to bind later is racy: the
// kernel hands that same port to the next bind(0) or outgoing connection anywhere on the machine
// (another test, a gRPC client, the cluster proxies) before the orderer binds it, and the orderer
// then fails to start with EADDRINUSE. So ports come from below the kernel's ephemeral range
// (/proc/sys/net/ipv4/ip_local_port_range), which the kernel never hands out by itself, and each one
// is reserved across processes by a lock file (created with O_EXCL, holding the pid) until this
// process exits; a lock whose process is gone is taken over. A port is also checked bindable on
// 127.0.0.1 before it is handed out.
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOCK_DIR = join(tmpdir(), 'fabric-orderer-ts-ports');
const held = new Set<number>();
process.once('exit', () => {
  for (const port of held) {
    try {
      unlinkSync(join(LOCK_DIR, String(port)));
    } catch {
      // Already gone.
    }
  }
});

/** The range ports are drawn from: [low, high], below the ephemeral range (or above it). */
function portRange(): [number, number] {
  let ephemeral: [number, number] = [32768, 60999];
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low && high) ephemeral = [low, high];
  } catch {
    // Not Linux: assume Linux's default range.
  }
  if (ephemeral[0] - 1 >= 12_000) return [10_000, ephemeral[0] - 1];
  return [ephemeral[1] + 1, 65_535];
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the cross-process reservation of `port`; false when another live process holds it. */
function reserve(port: number): boolean {
  mkdirSync(LOCK_DIR, { recursive: true });
  const file = join(LOCK_DIR, String(port));
  try {
    const fd = openSync(file, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // Held: by a process that is gone, the lock is stale. Remove it but do not take the port now
  // (another process may be doing the same); a later draw may take it.
  const owner = Number(readFileSafe(file));
  if (owner > 0 && owner !== process.pid && !processAlive(owner)) {
    try {
      unlinkSync(file);
    } catch {
      // Removed by someone else.
    }
  }
  return false;
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function release(port: number): void {
  held.delete(port);
  try {
    unlinkSync(join(LOCK_DIR, String(port)));
  } catch {
    // Gone already.
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * A port on 127.0.0.1 reserved for this process (until it exits): free now, outside the kernel's
 * ephemeral range, and handed to no other caller of freePort on this machine meanwhile.
 */
export async function freePort(): Promise<number> {
  const [low, high] = portRange();
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (held.has(port) || !reserve(port)) continue;
    held.add(port);
    if (await bindable(port)) return port;
    release(port);
  }
  throw new Error(`no free port found in ${low}-${high} after 500 attempts`);
}
