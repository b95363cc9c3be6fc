// Benchmark of the orderer's memory with clients that stop reading (issue #8, defect 4): a real
// orderer process with a channel of large blocks, then 40 Deliver streams that ask for the whole
// chain and never read, then 10 Broadcast streams that keep sending and never read their answers.
// It samples the orderer's RSS (VmRSS from /proc/<pid>/status) during each phase and after its
// streams are closed. Not a test: numbers depend on the machine and its load; the target is that
// RSS stays under 300 MB during and after the Deliver phase.
//
//   node --import tsx bench/slow-readers.ts
//   node --import tsx bench/slow-readers.ts --blocks 200 --block-kib 1024 --deliver-streams 40
//   node --import tsx bench/slow-readers.ts --broadcast-streams 10 --hold 10 --settle 5 --dir /data
//
// Clients are raw node:http2 sessions, one per stream (as separate peers would be), so nothing but
// HTTP/2 flow control holds data on the client side: a stream that is never read stops granting
// window after 64 KiB, and whatever more the orderer took on is held in the orderer.
import http2 from 'node:http2';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  HeaderType,
  atomicBroadcastClient,
  broadcastAll,
  loadIdentity,
  seekInfo,
  signedEnvelope,
} from '../test/support/fabric-clients.js';
import {
  channelGenesisBlock,
  freePort,
  ordererBin,
  startOrdererProcess,
  type OrdererProcess,
} from '../test/support/orderer-process.js';
import { joinChannelOverHttp } from '../test/support/process-load.js';

interface Args {
  blocks: number;
  blockKib: number;
  deliverStreams: number;
  broadcastStreams: number;
  holdSeconds: number;
  settleSeconds: number;
  dir: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    blocks: 200,
    blockKib: 1024,
    deliverStreams: 40,
    broadcastStreams: 10,
    holdSeconds: 10,
    settleSeconds: 5,
    dir: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    const number = () => {
      const n = Number(argv[++i]);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${argv[i - 1]} needs a number, got ${argv[i]}`);
      return n;
    };
    if (argv[i] === '--blocks' && value) args.blocks = number();
    else if (argv[i] === '--block-kib' && value) args.blockKib = number();
    else if (argv[i] === '--deliver-streams' && value) args.deliverStreams = number();
    else if (argv[i] === '--broadcast-streams' && value) args.broadcastStreams = number();
    else if (argv[i] === '--hold' && value) args.holdSeconds = number();
    else if (argv[i] === '--settle' && value) args.settleSeconds = number();
    else if (argv[i] === '--dir' && value) args.dir = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}; see the comment at the top of bench/slow-readers.ts`);
  }
  return args;
}

const CHANNEL = 'slowreaders';
/** Envelopes per block: blocks are cut by count, so each holds ENVELOPES_PER_BLOCK envelopes. */
const ENVELOPES_PER_BLOCK = 10;
const MIB = 1024 * 1024;
const org1User = loadIdentity('org1User');

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Samples a process's RSS every 100 ms until stopped; keeps the peak. */
function sampleRss(pid: number) {
  let peak = rssBytes(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 100);
  return {
    stop(): number {
      clearInterval(timer);
      return Math.max(peak, rssBytes(pid));
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function directoryBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    total += stat.isDirectory() ? directoryBytes(path) : stat.size;
  }
  return total;
}

/** gRPC's length-prefixed message framing. */
function grpcFrame(message: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

/** Broadcasts ENVELOPES_PER_BLOCK envelopes of about blockKib / ENVELOPES_PER_BLOCK each per block. */
async function fillChannel(address: string, args: Args): Promise<void> {
  const client = atomicBroadcastClient(address);
  const dataBytes = Math.floor((args.blockKib * 1024) / ENVELOPES_PER_BLOCK);
  try {
    for (let block = 0; block < args.blocks; block++) {
      const envelopes = Array.from({ length: ENVELOPES_PER_BLOCK }, () =>
        signedEnvelope(org1User, { channelId: CHANNEL, data: randomBytes(dataBytes) }),
      );
      const responses = await broadcastAll(client, envelopes, 60_000);
      const refused = responses.filter((r) => r.status !== 200);
      if (responses.length !== envelopes.length || refused.length > 0)
        throw new Error(`filling the channel: ${JSON.stringify(refused.slice(0, 3))}`);
    }
  } finally {
    client.close();
  }
}

interface RawStream {
  session: http2.ClientHttp2Session;
  stream: http2.ClientHttp2Stream;
}

/**
 * A gRPC call on its own HTTP/2 connection whose responses are never read. With `windowBytes`
 * the client grants only that much stream window: 0 is a client that takes no answer at all
 * (Broadcast answers are 8 bytes, so the default 64 KiB would hold thousands of them).
 */
function openUnreadStream(port: number, method: 'Deliver' | 'Broadcast', windowBytes?: number): RawStream {
  const session = http2.connect(
    `http://127.0.0.1:${port}`,
    windowBytes === undefined ? {} : { settings: { initialWindowSize: windowBytes } },
  );
  session.on('error', () => {});
  const stream = session.request({
    ':method': 'POST',
    ':path': `/orderer.AtomicBroadcast/${method}`,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.on('error', () => {});
  // Paused with no 'data' listener: Node stops granting flow-control window once its small
  // buffer is full, so the server's writes stall as with a peer that stopped reading.
  stream.pause();
  return { session, stream };
}

function closeStreams(streams: RawStream[]): Promise<void> {
  return Promise.all(
    streams.map(
      ({ session, stream }) =>
        new Promise<void>((resolve) => {
          stream.close(http2.constants.NGHTTP2_CANCEL);
          session.destroy();
          if (session.closed) resolve();
          else session.once('close', () => resolve());
        }),
    ),
  ).then(() => undefined);
}

function wholeChainRequest(): Buffer {
  return grpcFrame(
    signedEnvelope(org1User, {
      type: HeaderType.DELIVER_SEEK_INFO,
      channelId: CHANNEL,
      data: seekInfo('oldest', 'newest', 'block'),
    }),
  );
}

/** One client that reads as fast as it can: what the bound on unsent bytes costs a healthy reader. */
async function fastReader(orderer: OrdererProcess): Promise<{ bytes: number; seconds: number }> {
  const session = http2.connect(`http://127.0.0.1:${orderer.port}`);
  try {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/orderer.AtomicBroadcast/Deliver',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const started = performance.now();
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    // Half-closed after the request, so the orderer ends the stream after its status.
    stream.end(wholeChainRequest());
    await once(stream, 'end');
    return { bytes, seconds: (performance.now() - started) / 1000 };
  } finally {
    session.destroy();
  }
}

async function deliverPhase(orderer: OrdererProcess, args: Args) {
  const request = wholeChainRequest();
  const sampler = sampleRss(orderer.pid);
  const streams = Array.from({ length: args.deliverStreams }, () => {
    const raw = openUnreadStream(orderer.port, 'Deliver');
    raw.stream.write(request);
    return raw;
  });
  await sleep(args.holdSeconds * 1000);
  const peak = sampler.stop();
  await closeStreams(streams);
  await sleep(args.settleSeconds * 1000);
  return { peak, after: rssBytes(orderer.pid) };
}

async function broadcastPhase(orderer: OrdererProcess, args: Args) {
  // One signed envelope sent again and again: the orderer verifies each copy and does not
  // deduplicate, so this measures the orderer's buffering, not the client's signing speed.
  const frame = grpcFrame(signedEnvelope(org1User, { channelId: CHANNEL, data: randomBytes(1024) }));
  const sampler = sampleRss(orderer.pid);
  let taken = 0;
  const phase = new AbortController();
  const streams = Array.from({ length: args.broadcastStreams }, () =>
    openUnreadStream(orderer.port, 'Broadcast', 0),
  );
  const writers = streams.map(async ({ stream }) => {
    while (!phase.signal.aborted && !stream.destroyed) {
      // The write callback fires once the frame went out on the connection, inside the window
      // the orderer granted: the orderer has read it or holds it in its buffers.
      const full = !stream.write(frame, (err) => {
        if (!err) taken++;
      });
      // A stream the orderer stopped reading never drains: the end of the phase stops the wait.
      if (full) await once(stream, 'drain', { signal: phase.signal }).catch(() => {});
    }
  });
  // Bounded reading shows as nothing more taken in the second half of the hold.
  await sleep((args.holdSeconds * 1000) / 2);
  const takenFirstHalf = taken;
  await sleep((args.holdSeconds * 1000) / 2);
  phase.abort();
  await Promise.all(writers);
  const peak = sampler.stop();
  await closeStreams(streams);
  await sleep(args.settleSeconds * 1000);
  return { peak, after: rssBytes(orderer.pid), taken, takenSecondHalf: taken - takenFirstHalf };
}

const mib = (bytes: number) => `${(bytes / MIB).toFixed(0)} MiB`;

const args = parseArgs(process.argv.slice(2));
const root = mkdtempSync(join(args.dir ?? tmpdir(), 'slow-readers-bench-'));
let orderer: OrdererProcess | undefined;
try {
  const adminPort = await freePort();
  // The packaged command (bin/orderer.js over dist/, recompiled from src/ when stale), as deployed:
  // running from src/ through tsx would add the compiler's memory to every sample.
  const { bin, note } = await ordererBin();
  if (note) console.log(note);
  orderer = await startOrdererProcess({
    entry: 'bin',
    bin,
    ledgerDir: join(root, 'ledger'),
    port: await freePort(),
    env: {
      ORDERER_GENERAL_BOOTSTRAPMETHOD: 'none',
      ORDERER_CHANNELPARTICIPATION_ENABLED: 'true',
      ORDERER_ADMIN_LISTENADDRESS: `127.0.0.1:${adminPort}`,
    },
  });
  const joined = await joinChannelOverHttp(
    adminPort,
    channelGenesisBlock(CHANNEL, {
      maxMessageCount: ENVELOPES_PER_BLOCK,
      preferredMaxBytes: 4 * args.blockKib * 1024,
      absoluteMaxBytes: 8 * args.blockKib * 1024,
      batchTimeout: '2s',
    }),
  );
  if (joined.status !== 201) throw new Error(`channel join answered ${joined.status}: ${joined.body}`);
  const filling = performance.now();
  await fillChannel(orderer.address, args);
  const ledgerBytes = directoryBytes(join(root, 'ledger'));
  console.log(
    `slow readers: ${args.blocks} blocks of ~${args.blockKib} KiB (${mib(ledgerBytes)} on disk, filled in ${((performance.now() - filling) / 1000).toFixed(1)} s); hold ${args.holdSeconds} s, settle ${args.settleSeconds} s`,
  );
  await sleep(args.settleSeconds * 1000);
  for (let run = 1; run <= 3; run++) {
    const fast = await fastReader(orderer);
    console.log(
      `one reading Deliver stream, run ${run}: ${mib(fast.bytes)} in ${fast.seconds.toFixed(2)} s = ${(fast.bytes / MIB / fast.seconds).toFixed(0)} MiB/s`,
    );
  }
  const baseline = rssBytes(orderer.pid);
  console.log(`orderer RSS before any slow reader: ${mib(baseline)}`);

  const d = await deliverPhase(orderer, args);
  console.log(
    `${args.deliverStreams} Deliver streams, never read: peak RSS ${mib(d.peak)} (+${mib(d.peak - baseline)}, ${((d.peak - baseline) / ledgerBytes).toFixed(2)}x the ledger), after closing ${mib(d.after)}; target: both under 300 MiB -> ${d.peak < 300 * MIB && d.after < 300 * MIB ? 'met' : 'NOT met'}`,
  );

  const b = await broadcastPhase(orderer, args);
  console.log(
    `${args.broadcastStreams} Broadcast streams, answers never read: ${b.taken} envelopes taken in ${args.holdSeconds} s (${(b.taken / args.broadcastStreams).toFixed(0)} per stream, ${b.takenSecondHalf} in the second half), peak RSS ${mib(b.peak)} (+${mib(b.peak - d.after)}), after closing ${mib(b.after)}`,
  );
} finally {
  await orderer?.stop();
  rmSync(root, { recursive: true, force: true });
}
