// The load generator behind `orderer bench`: pre-signs N envelopes, sends them over K concurrent
// Broadcast streams while one Deliver stream reads the blocks back, and measures acceptance,
// throughput, send-to-delivered latency (matched by tx id), and the orderer process's CPU and
// memory when it runs on this machine. Works against any AtomicBroadcast endpoint.
// The phases live beside it: presign.ts (signing), deliveries.ts (reading), broadcast-load.ts (sending).
import { common, orderer as ordererProto, toNumber } from '../protos/index.js';
import { AtomicBroadcastClient, type RawDuplex } from './client.js';
import { seekEnvelope, type ClientSigner } from './envelopes.js';
import { presignEnvelopes } from './presign.js';
import { DeliveryTracker } from './deliveries.js';
import { BroadcastLoad } from './broadcast-load.js';
import { ProcessMonitor, processExists, type ProcessUsage } from './process-stats.js';
import { combineVerifyRates, measureVerifyRate, type VerifyRate } from './verify-rate.js';

/** Kept here for callers that import it from run.js. */
export { envelopeSignatureKey } from './presign.js';

export interface BenchOptions {
  /** host:port of the orderer. */
  readonly address: string;
  readonly channel: string;
  readonly signer: ClientSigner;
  /** PEM of the orderer's TLS CA; plaintext when omitted. */
  readonly tlsCaPem?: Buffer;
  /** Number of envelopes. */
  readonly count: number;
  /** Payload data bytes per envelope. */
  readonly size: number;
  /** Concurrent Broadcast streams. */
  readonly streams: number;
  /** Envelopes in flight (sent, not yet answered) per stream. Default 16. */
  readonly window?: number;
  /**
   * Client connections the Broadcast streams are spread over (round robin), as independent clients
   * would; Deliver reads on a connection of its own. Default: one per stream, at most 64.
   */
  readonly connections?: number;
  /** A local orderer process to watch (CPU, RSS). */
  readonly pid?: number;
  /** Give up waiting for responses and blocks after this long (default 120 s). */
  readonly timeoutMs?: number;
  /** How long to measure the ECDSA verify rate (default 1000 ms; 0 skips it). */
  readonly verifyMs?: number;
  /**
   * Deliver streams besides the one that measures, each on a connection of its own, reading every
   * block of the run as a peer does (the Deliver fan-out). Default 0.
   */
  readonly readers?: number;
}

export type BenchPhase = 'signing' | 'connecting' | 'sending' | 'draining';

export interface BenchProgress {
  readonly phase: BenchPhase;
  readonly total: number;
  readonly signed: number;
  readonly sent: number;
  readonly acknowledged: number;
  readonly delivered: number;
  readonly elapsedMs: number;
}

export interface BenchDependencies {
  /** Called every ~100 ms and at phase changes. */
  readonly onProgress?: (progress: BenchProgress) => void;
}

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export interface BenchReport {
  readonly address: string;
  readonly channel: string;
  readonly count: number;
  readonly size: number;
  /** Bytes of one marshalled envelope. */
  readonly envelopeBytes: number;
  readonly streams: number;
  readonly window: number;
  /** Client connections the Broadcast streams were spread over. */
  readonly connections?: number;
  /** Broadcast responses with status 200. */
  readonly accepted: number;
  /** Responses other than 200, by status code. */
  readonly rejected: Readonly<Record<string, number>>;
  /** A sample of rejection messages (status: info). */
  readonly rejectionSamples: readonly string[];
  /** Envelopes never answered (stream ended by a rejection, stream error, or timeout). */
  readonly unanswered: number;
  readonly streamErrors: readonly string[];
  /** Accepted envelopes seen in a delivered block. */
  readonly delivered: number;
  readonly blocks: number;
  readonly firstBlock: number | undefined;
  readonly lastBlock: number | undefined;
  readonly timedOut: boolean;
  readonly signingMs: number;
  /** First send to last Broadcast response. */
  readonly broadcastMs: number;
  /** First send to the last accepted envelope seen delivered. */
  readonly endToEndMs: number;
  readonly broadcastTps: number;
  readonly endToEndTps: number;
  /** Send -> seen in a delivered block, in milliseconds, over delivered envelopes. */
  readonly latencyMs: LatencySummary | undefined;
  readonly orderer: ProcessUsage | undefined;
  /** CPU of this load generator itself while sending (100 = one core), which shares the machine. */
  readonly clientCpuPercent: number;
  readonly verify: VerifyRate | undefined;
  /** endToEndTps / verify.perSecond. */
  readonly endToEndToVerifyRatio: number | undefined;
  /**
   * The extra Deliver readers (options.readers): how many, the fewest blocks one of them had when
   * the run ended, and how long after the last delivery the slowest had every block (undefined:
   * not within the timeout).
   */
  readonly readers?: { streams: number; fewestBlocksAtEnd: number; caughtUpAfterMs: number | undefined };
  /**
   * Envelopes of an unreported run sent just before this one, so that the orderer's JIT and
   * buffers were warm (set by the CLI; absent when there was none).
   */
  readonly warmup?: number;
}

/** The value at quantile q (0..1) of ascending-sorted values (nearest rank). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarizeLatencies(values: Float64Array): LatencySummary | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1]!,
    mean: sum / sorted.length,
  };
}

const MAX_BLOCK = Number.MAX_SAFE_INTEGER;
const DELIVER_RECEIVE_WINDOW_BYTES = 64 * 1024 * 1024;
const MAX_DEFAULT_CONNECTIONS = 64;

function connectionCount(options: BenchOptions): number {
  return Math.min(options.streams, options.connections ?? MAX_DEFAULT_CONNECTIONS);
}

function checkOptions(options: BenchOptions): void {
  const positive = (value: number, what: string) => {
    if (!Number.isInteger(value) || value <= 0)
      throw new Error(`${what} must be a positive integer (got ${value})`);
  };
  positive(options.count, 'count (-n)');
  positive(options.streams, 'streams (-c)');
  positive(options.window ?? 16, 'window');
  positive(options.connections ?? 1, 'connections');
  if (options.readers !== undefined && (!Number.isInteger(options.readers) || options.readers < 0))
    throw new Error(`readers must be a whole number >= 0 (got ${options.readers})`);
  if (!Number.isInteger(options.size) || options.size < 0) {
    throw new Error(`size must be a whole number of bytes >= 0 (got ${options.size})`);
  }
}

/** Reads one DeliverResponse stream until a status arrives; returns the blocks' numbers. */
function newestBlockNumber(
  client: AtomicBroadcastClient,
  options: BenchOptions,
  openStreams: RawDuplex[],
): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = client.deliver();
    openStreams.push(stream);
    let newest: number | undefined;
    stream.on('data', (raw: Buffer) => {
      const response = ordererProto.DeliverResponse.decode(raw);
      if (response.block) {
        newest = toNumber(response.block.header?.number);
      } else {
        stream.end();
        if (response.status === common.Status.SUCCESS && newest !== undefined) resolve(newest);
        else
          reject(
            new Error(
              `the orderer answered Deliver on channel ${options.channel} with status ${response.status}` +
                (response.status === common.Status.NOT_FOUND
                  ? ': the channel does not exist there (check --channel)'
                  : response.status === common.Status.FORBIDDEN
                    ? ': the identity may not read this channel (check --msp-dir/--msp-id)'
                    : ''),
            ),
          );
      }
    });
    stream.on('error', (err) => reject(new Error(`Deliver failed: ${err.message}`)));
    stream.write(seekEnvelope(options.signer, options.channel, 'newest', 'newest'));
  });
}

export async function runBench(options: BenchOptions, deps: BenchDependencies = {}): Promise<BenchReport> {
  checkOptions(options);
  const window = options.window ?? 16;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const started = performance.now();
  let phase: BenchPhase = 'signing';
  let signed = 0;
  let load: BroadcastLoad | undefined;
  let deliveries: DeliveryTracker | undefined;
  const report = () =>
    deps.onProgress?.({
      phase,
      total: options.count,
      signed,
      sent: load?.sent ?? 0,
      acknowledged: load?.acknowledged ?? 0,
      delivered: deliveries?.delivered ?? 0,
      elapsedMs: performance.now() - started,
    });
  const ticker = setInterval(report, 100);
  ticker.unref();

  const connect = (receiveWindowBytes?: number) =>
    new AtomicBroadcastClient({
      address: options.address,
      ...(options.tlsCaPem ? { tlsCaPem: options.tlsCaPem } : {}),
      ...(receiveWindowBytes ? { receiveWindowBytes } : {}),
    });
  // Deliver reads whole blocks (MBs): a large receive window, so the stream is not throttled to
  // one 64 KiB flow-control window per round trip.
  const client = connect(DELIVER_RECEIVE_WINDOW_BYTES);
  const broadcastClients = Array.from({ length: connectionCount(options) }, () => connect());
  const readerClients = Array.from({ length: options.readers ?? 0 }, () =>
    connect(DELIVER_RECEIVE_WINDOW_BYTES),
  );
  const openStreams: RawDuplex[] = [];
  try {
    // 1. Pre-sign everything, so signing costs nothing during the run.
    report();
    const presigned = await presignEnvelopes(options, (n) => {
      signed = n;
      report();
    });

    // 2. The machine's ECDSA yardstick, measured before the load (so nothing competes with it)
    // and again after it; the report uses the mean of the two.
    const verifyMs = options.verifyMs ?? 1000;
    const verifyBefore = verifyMs > 0 ? measureVerifyRate(presigned.envelopeBytes, verifyMs) : undefined;

    // 3. Connect; start reading blocks after the current tip.
    phase = 'connecting';
    report();
    await Promise.all([client, ...broadcastClients, ...readerClients].map((c) => c.waitForReady(10_000)));
    const fromBlock = (await newestBlockNumber(client, options, openStreams)) + 1;

    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const sentAt = new Float64Array(options.count);
    const deliverErrors: string[] = [];
    const broadcast = new BroadcastLoad({ streams: options.streams, window }, presigned.frames, sentAt, () =>
      checkDone(),
    );
    const tracker = new DeliveryTracker(presigned, sentAt, {
      onBlock: () => checkDone(),
      onEnd: (error) => {
        if (error) deliverErrors.push(error);
        finish();
      },
    });
    const checkDone = () => {
      if (broadcast.allStreamsDone && tracker.delivered >= broadcast.accepted) finish();
    };
    load = broadcast;
    deliveries = tracker;
    const deliverStream = client.deliver();
    openStreams.push(deliverStream);
    tracker.follow(deliverStream);
    deliverStream.write(seekEnvelope(options.signer, options.channel, fromBlock, MAX_BLOCK));
    const readers = readerClients.map((readerClient) =>
      followBlocks(readerClient, options, fromBlock, openStreams),
    );

    // 4. K Broadcast streams, each keeping up to `window` envelopes in flight.
    phase = 'sending';
    report();
    const monitor =
      options.pid !== undefined && processExists(options.pid) ? new ProcessMonitor(options.pid) : undefined;
    monitor?.start();
    const firstSendAt = performance.now();
    const clientCpuAtStart = process.cpuUsage();
    broadcast.start(broadcastClients, openStreams);

    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      finish();
    }, timeoutMs);
    await finished;
    clearTimeout(timer);
    phase = 'draining';
    report();
    const usage = monitor?.stop();
    const clientCpu = process.cpuUsage(clientCpuAtStart);
    const runMs = performance.now() - firstSendAt;
    // Before the second verify measurement, so that readers still reading do not slow it.
    const readersReport = readers.length
      ? await readersCatchingUp(readers, tracker.blocks, timeoutMs, tracker.lastDeliveredAt)
      : undefined;
    const verify = verifyBefore
      ? combineVerifyRates([verifyBefore, measureVerifyRate(presigned.envelopeBytes, verifyMs)])
      : undefined;

    const broadcastMs = broadcast.lastAckAt ? broadcast.lastAckAt - firstSendAt : 0;
    const endToEndMs = tracker.lastDeliveredAt ? tracker.lastDeliveredAt - firstSendAt : 0;
    const endToEndTps = endToEndMs > 0 ? (tracker.delivered * 1000) / endToEndMs : 0;
    return {
      address: options.address,
      channel: options.channel,
      count: options.count,
      size: options.size,
      envelopeBytes: presigned.envelopeBytes,
      streams: options.streams,
      window,
      connections: broadcastClients.length,
      accepted: broadcast.accepted,
      rejected: broadcast.rejected,
      rejectionSamples: broadcast.rejectionSamples,
      unanswered: timedOut ? options.count - broadcast.acknowledged : broadcast.unanswered,
      streamErrors: [...deliverErrors, ...broadcast.streamErrors],
      delivered: tracker.delivered,
      blocks: tracker.blocks,
      firstBlock: tracker.firstBlock,
      lastBlock: tracker.lastBlock,
      timedOut,
      signingMs: presigned.signingMs,
      broadcastMs,
      endToEndMs,
      broadcastTps: broadcastMs > 0 ? (broadcast.accepted * 1000) / broadcastMs : 0,
      endToEndTps,
      latencyMs: summarizeLatencies(tracker.latenciesMs()),
      orderer: usage,
      clientCpuPercent: runMs > 0 ? (clientCpu.user + clientCpu.system) / 10 / runMs : 0,
      verify,
      endToEndToVerifyRatio: verify && endToEndTps > 0 ? endToEndTps / verify.perSecond : undefined,
      ...(readersReport ? { readers: readersReport } : {}),
    };
  } finally {
    clearInterval(ticker);
    for (const stream of openStreams) stream.cancel();
    client.close();
    for (const c of [...broadcastClients, ...readerClients]) c.close();
  }
}

/** A Deliver reader of the fan-out: counts the blocks it receives, nothing more (a peer's stream). */
interface BlockFollower {
  blocks: number;
  /** Resolves when `blocks` reaches the count given to `waitFor`. */
  waitFor(count: number): Promise<void>;
}

function followBlocks(
  client: AtomicBroadcastClient,
  options: BenchOptions,
  fromBlock: number,
  openStreams: RawDuplex[],
): BlockFollower {
  const stream = client.deliver();
  openStreams.push(stream);
  let wanted = Infinity;
  let reached: () => void = () => {};
  const follower: BlockFollower = {
    blocks: 0,
    waitFor(count) {
      wanted = count;
      return follower.blocks >= count ? Promise.resolve() : new Promise((resolve) => (reached = resolve));
    },
  };
  stream.on('data', (raw: Buffer) => {
    // DeliverResponse field 2 (block), length-delimited: tag 0x12. A status (field 1) ends the stream.
    if (raw[0] !== 0x12) return;
    follower.blocks++;
    if (follower.blocks >= wanted) reached();
  });
  stream.on('error', () => {});
  stream.write(seekEnvelope(options.signer, options.channel, fromBlock, MAX_BLOCK));
  return follower;
}

async function readersCatchingUp(
  readers: readonly BlockFollower[],
  blocks: number,
  timeoutMs: number,
  lastDeliveredAt: number,
): Promise<NonNullable<BenchReport['readers']>> {
  const fewestBlocksAtEnd = Math.min(...readers.map((r) => r.blocks));
  let timer: NodeJS.Timeout | undefined;
  const caughtUp = await Promise.race([
    Promise.all(readers.map((r) => r.waitFor(blocks))).then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
  ]);
  clearTimeout(timer);
  const after = Math.max(0, performance.now() - (lastDeliveredAt || performance.now()));
  return { streams: readers.length, fewestBlocksAtEnd, caughtUpAfterMs: caughtUp ? after : undefined };
}
