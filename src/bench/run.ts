// The load generator behind `orderer bench`: pre-signs N envelopes, sends them over K concurrent
// Broadcast streams while one Deliver stream reads the blocks back, and measures acceptance,
// throughput, send-to-delivered latency (matched by tx id), and the orderer process's CPU and
// memory when it runs on this machine. Works against any AtomicBroadcast endpoint.
import { asBuffer, common, orderer as ordererProto, toNumber } from '../protos/index.js';
import { AtomicBroadcastClient, grpcFrame, type RawDuplex } from './client.js';
import { seekEnvelope, transactionEnvelope, type ClientSigner } from './envelopes.js';
import { ProcessMonitor, processExists, type ProcessUsage } from './process-stats.js';
import { combineVerifyRates, measureVerifyRate, type VerifyRate } from './verify-rate.js';

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

/** Reads a length-delimited field's varint length at pos; [length, start of value] or undefined. */
function readLength(bytes: Uint8Array, pos: number): [number, number] | undefined {
  let length = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= bytes.length) return undefined;
    const b = bytes[pos++]!;
    length += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return pos + length <= bytes.length ? [length, pos] : undefined;
  }
  return undefined;
}

/**
 * The signature of a marshalled Envelope (field 2) as a map key, without decoding the payload;
 * undefined when the bytes are not a plain payload-then-signature envelope.
 */
export function envelopeSignatureKey(bytes: Uint8Array): string | undefined {
  let pos = 0;
  let key: string | undefined;
  while (pos < bytes.length) {
    const tag = bytes[pos++]!;
    if (tag !== 0x0a && tag !== 0x12) return undefined;
    const field = readLength(bytes, pos);
    if (!field) return undefined;
    const [length, start] = field;
    if (tag === 0x12) key = Buffer.from(bytes.buffer, bytes.byteOffset + start, length).toString('latin1');
    pos = start + length;
  }
  return key;
}

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
  const counters = { signed: 0, sent: 0, acknowledged: 0, delivered: 0 };
  let phase: BenchPhase = 'signing';
  const report = () =>
    deps.onProgress?.({ phase, total: options.count, ...counters, elapsedMs: performance.now() - started });
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
  const openStreams: RawDuplex[] = [];
  try {
    // 1. Pre-sign everything, so signing costs nothing during the run.
    report();
    const signStart = performance.now();
    // Framed for gRPC up front, so sending costs one write of bytes that are ready.
    const frames: Buffer[] = new Array(options.count);
    let envelopeBytes = 0;
    const index = new Map<string, number>();
    const bySignature = new Map<string, number>();
    const nowMs = Date.now();
    for (let i = 0; i < options.count; i++) {
      const tx = transactionEnvelope(options.signer, options.channel, options.size, nowMs);
      frames[i] = grpcFrame(tx.bytes);
      envelopeBytes = tx.bytes.length;
      index.set(tx.txId, i);
      const key = envelopeSignatureKey(tx.bytes);
      if (key !== undefined) bySignature.set(key, i);
      counters.signed = i + 1;
      if ((i & 1023) === 1023) {
        report();
        await new Promise((r) => setImmediate(r));
      }
    }
    const signingMs = performance.now() - signStart;

    // 2. The machine's ECDSA yardstick, measured before the load (so nothing competes with it)
    // and again after it; the report uses the mean of the two.
    const verifyMs = options.verifyMs ?? 1000;
    const verifyBefore = verifyMs > 0 ? measureVerifyRate(envelopeBytes, verifyMs) : undefined;

    // 3. Connect; start reading blocks after the current tip.
    phase = 'connecting';
    report();
    await Promise.all([client, ...broadcastClients].map((c) => c.waitForReady(10_000)));
    const fromBlock = (await newestBlockNumber(client, options, openStreams)) + 1;

    const sentAt = new Float64Array(options.count);
    const latencies = new Float64Array(options.count);
    let latencyCount = 0;
    let blocks = 0;
    let firstBlock: number | undefined;
    let lastBlock: number | undefined;
    let lastDeliveredAt = 0;
    let lastAckAt = 0;
    let accepted = 0;
    const rejected: Record<string, number> = {};
    const rejectionSamples: string[] = [];
    const streamErrors: string[] = [];
    let streamsDone = 0;
    let unanswered = 0;
    const seen = new Uint8Array(options.count);

    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const checkDone = () => {
      if (streamsDone === options.streams && counters.delivered >= accepted) finish();
    };

    const deliverStream = client.deliver();
    openStreams.push(deliverStream);
    deliverStream.on('data', (raw: Buffer) => {
      const response = ordererProto.DeliverResponse.decode(raw);
      if (!response.block) {
        streamErrors.push(`Deliver ended with status ${response.status}`);
        finish();
        return;
      }
      const now = performance.now();
      const number = toNumber(response.block.header?.number);
      firstBlock ??= number;
      lastBlock = number;
      blocks++;
      for (const data of response.block.data?.data ?? []) {
        // Our envelopes are found by their signature, read straight off the bytes; only an
        // envelope not found that way is decoded down to its channel header's tx ID.
        const key = envelopeSignatureKey(data);
        let i = key === undefined ? undefined : bySignature.get(key);
        if (i === undefined) {
          try {
            const payload = common.Payload.decode(asBuffer(common.Envelope.decode(data).payload));
            i = index.get(common.ChannelHeader.decode(asBuffer(payload.header?.channelHeader)).txId);
          } catch {
            continue;
          }
        }
        if (i === undefined || seen[i]) continue;
        seen[i] = 1;
        latencies[latencyCount++] = now - sentAt[i]!;
        counters.delivered++;
        lastDeliveredAt = now;
      }
      checkDone();
    });
    deliverStream.on('error', (err) => {
      if (!/CANCELLED|Cancelled/.test(err.message)) streamErrors.push(`Deliver: ${err.message}`);
      finish();
    });
    deliverStream.write(seekEnvelope(options.signer, options.channel, fromBlock, MAX_BLOCK));

    // 4. K Broadcast streams, each keeping up to `window` envelopes in flight.
    phase = 'sending';
    report();
    const monitor =
      options.pid !== undefined && processExists(options.pid) ? new ProcessMonitor(options.pid) : undefined;
    monitor?.start();
    const firstSendAt = performance.now();
    const clientCpuAtStart = process.cpuUsage();
    for (let s = 0; s < options.streams; s++) {
      const mine: number[] = [];
      for (let i = s; i < options.count; i += options.streams) mine.push(i);
      const stream = broadcastClients[s % broadcastClients.length]!.broadcast();
      openStreams.push(stream);
      let next = 0;
      let answered = 0;
      let done = false;
      const close = () => {
        if (done) return;
        done = true;
        unanswered += mine.length - answered;
        streamsDone++;
        stream.end();
        checkDone();
      };
      const pump = () => {
        while (!done && next < mine.length && next - answered < window) {
          const i = mine[next++]!;
          sentAt[i] = performance.now();
          counters.sent++;
          stream.write(frames[i]!, true);
        }
      };
      stream.on('data', (raw: Buffer) => {
        const response = ordererProto.BroadcastResponse.decode(raw);
        answered++;
        counters.acknowledged++;
        lastAckAt = performance.now();
        if (response.status === common.Status.SUCCESS) {
          accepted++;
        } else {
          rejected[response.status] = (rejected[response.status] ?? 0) + 1;
          if (rejectionSamples.length < 5) rejectionSamples.push(`${response.status}: ${response.info}`);
        }
        if (answered === mine.length) close();
        else pump();
      });
      stream.on('error', (err) => {
        if (!done) streamErrors.push(`Broadcast stream ${s}: ${err.message}`);
        close();
      });
      stream.on('end', close);
      if (mine.length === 0) close();
      else pump();
    }

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
    const verify = verifyBefore
      ? combineVerifyRates([verifyBefore, measureVerifyRate(envelopeBytes, verifyMs)])
      : undefined;

    const broadcastMs = lastAckAt ? lastAckAt - firstSendAt : 0;
    const endToEndMs = lastDeliveredAt ? lastDeliveredAt - firstSendAt : 0;
    const endToEndTps = endToEndMs > 0 ? (counters.delivered * 1000) / endToEndMs : 0;
    return {
      address: options.address,
      channel: options.channel,
      count: options.count,
      size: options.size,
      envelopeBytes,
      streams: options.streams,
      window,
      connections: broadcastClients.length,
      accepted,
      rejected,
      rejectionSamples,
      unanswered: timedOut ? options.count - counters.acknowledged : unanswered,
      streamErrors,
      delivered: counters.delivered,
      blocks,
      firstBlock,
      lastBlock,
      timedOut,
      signingMs,
      broadcastMs,
      endToEndMs,
      broadcastTps: broadcastMs > 0 ? (accepted * 1000) / broadcastMs : 0,
      endToEndTps,
      latencyMs: summarizeLatencies(latencies.subarray(0, latencyCount)),
      orderer: usage,
      clientCpuPercent: runMs > 0 ? (clientCpu.user + clientCpu.system) / 10 / runMs : 0,
      verify,
      endToEndToVerifyRatio: verify && endToEndTps > 0 ? endToEndTps / verify.perSecond : undefined,
    };
  } finally {
    clearInterval(ticker);
    for (const stream of openStreams) stream.cancel();
    client.close();
    for (const c of broadcastClients) c.close();
  }
}
