// HTTP/2 stream and session behaviour that grpc-js leaves to Node, made to match what Fabric's Go
// orderer (grpc-go) puts on the wire:
//
// 1. A stream the server has finished (trailers sent, or a trailers-only status such as
//    RESOURCE_EXHAUSTED for an oversized message) while the client is still sending is reset with
//    RST_STREAM(NO_ERROR) right after the status, as grpc-go does. Without it the stream stays
//    half-open: a client that announced a 200 MiB message keeps streaming a body the server will
//    only discard, and a Deliver client that never half-closes holds the stream forever.
//
// 2. Node's nghttp2 (>= 1.57, the CVE-2023-44487 "rapid reset" mitigation) counts every
//    RST_STREAM a client sends on a connection in a token bucket (1000, refilled at 33 a second)
//    and, once it is empty, sends GOAWAY(INTERNAL_ERROR). Node clients destroy the whole session
//    on a GOAWAY with an error code, so every stream in flight on that connection fails with
//    "Received RST_STREAM with code 2 ... Session closed with error code 2" — valid envelopes of
//    other clients included. Cancelling a call, or a deadline, is ordinary client behaviour, and
//    grpc-go never ends a connection for it. Node 20 offers no way to tune the bucket, and many
//    resets never reach JavaScript (one that arrives after the server closed its side of the
//    stream is counted by nghttp2 but seen by nobody), so each session keeps the same bucket and
//    takes a token for every stream the client opens: a client resets a stream at most once, so
//    this bucket is never fuller than nghttp2's. Well before it runs dry the session is drained
//    gracefully, as grpc-go retires a connection: GOAWAY(NO_ERROR) with the largest stream id
//    (nothing on its way is refused), a PING round trip, then Node's own closing GOAWAY. Once a
//    GOAWAY is submitted nghttp2 stops counting, streams in flight complete, and the client's
//    next calls go over a new connection. A client opening fewer than 33 streams a second is
//    never drained; one opening more reconnects every (burst - drainAt) / (rate - 33) seconds.
import type * as http2 from 'node:http2';
import { constants as h2 } from 'node:http2';
import type * as grpc from '@grpc/grpc-js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logging.js';

/** nghttp2's stream reset rate limit (NGHTTP2_DEFAULT_STREAM_RESET_BURST / _RATE). */
export const NGHTTP2_RESET_BURST = 1000;
export const NGHTTP2_RESET_RATE_PER_SECOND = 33;

/** The largest stream id: a first GOAWAY with it refuses no stream already on its way. */
const MAX_STREAM_ID = 2 ** 31 - 1;

export interface StreamBudgetOptions {
  burst: number;
  ratePerSecond: number;
  /**
   * Drain the session when this many tokens are left. The bucket's seconds are wall-clock ones,
   * not nghttp2's monotonic ones, and resets of earlier streams may still be on their way, so
   * it keeps a wide margin.
   */
  drainAt: number;
}

export const DEFAULT_STREAM_BUDGET: StreamBudgetOptions = {
  burst: NGHTTP2_RESET_BURST,
  ratePerSecond: NGHTTP2_RESET_RATE_PER_SECOND,
  drainAt: NGHTTP2_RESET_BURST / 2,
};

/**
 * nghttp2's token bucket for a server session (nghttp2_ratelim: whole seconds, refilled by rate
 * a second up to burst), one token taken per stream.
 */
export class StreamBudget {
  private tokens: number;
  private second: number;

  constructor(
    private readonly options: StreamBudgetOptions,
    private readonly deps: { clock: Clock },
  ) {
    if (!(options.drainAt >= 0 && options.drainAt < options.burst && options.ratePerSecond >= 0)) {
      throw new RangeError(
        `stream budget: drainAt (${options.drainAt}) must be at least 0 and below burst ` +
          `(${options.burst}), and ratePerSecond (${options.ratePerSecond}) at least 0`,
      );
    }
    this.tokens = options.burst;
    this.second = Math.floor(deps.clock.now() / 1000);
  }

  get remaining(): number {
    return this.tokens;
  }

  /** Takes the token of one new stream; true when the session should now be drained. */
  take(): boolean {
    const second = Math.floor(this.deps.clock.now() / 1000);
    if (second > this.second) {
      this.tokens = Math.min(
        this.options.burst,
        this.tokens + (second - this.second) * this.options.ratePerSecond,
      );
      this.second = second;
    }
    if (this.tokens > 0) this.tokens--;
    return this.tokens <= this.options.drainAt;
  }
}

export interface Http2GuardOptions {
  streamBudget: StreamBudgetOptions;
}

export interface Http2GuardDeps {
  clock: Clock;
  logger: Logger;
}

/**
 * The node:http2 servers behind a bound grpc-js Server. grpc-js 1.14 keeps them in a private
 * map and offers no public hook on their sessions or streams; this is the one place that knows.
 */
export function http2ServersOf(server: grpc.Server): http2.Http2Server[] {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) {
    throw new Error(
      'cannot reach the HTTP/2 servers of @grpc/grpc-js (its private http2Servers map is gone); ' +
        'this orderer needs @grpc/grpc-js 1.14 — reinstall the version in package.json',
    );
  }
  return [...(servers.keys() as Iterable<http2.Http2Server>)];
}

/** Applies both behaviours above to every session and stream of the servers it guards. */
export class Http2StreamGuard {
  constructor(
    private readonly options: Http2GuardOptions,
    private readonly deps: Http2GuardDeps,
  ) {}

  guard(server: http2.Http2Server): void {
    server.on('session', (session: http2.ServerHttp2Session) => {
      const budget = new StreamBudget(this.options.streamBudget, this.deps);
      let draining = false;
      // Before Node's own listener, which hands the stream to grpc-js: its first respond()
      // then already goes through the wrapper.
      session.prependListener('stream', (stream: http2.ServerHttp2Stream) => {
        resetWhenServerFinishesFirst(stream);
        if (budget.take() && !draining) {
          draining = true;
          this.drain(session);
        }
      });
    });
  }

  private drain(session: http2.ServerHttp2Session): void {
    this.deps.logger.info(
      { remoteAddress: session.socket?.remoteAddress, remotePort: session.socket?.remotePort },
      'client opens (and may reset) streams faster than Node lets one HTTP/2 connection reset ' +
        'them; asking it to reconnect (GOAWAY NO_ERROR) before Node would end the connection',
    );
    try {
      session.goaway(h2.NGHTTP2_NO_ERROR, MAX_STREAM_ID);
      const pinged = session.ping(() => {
        if (!session.closed && !session.destroyed) session.close();
      });
      if (!pinged) session.close();
    } catch {
      // The session closed meanwhile: nothing left to drain.
    }
  }
}

/**
 * After the server's final frame (a trailers-only response, or trailers), a stream whose client
 * has not half-closed is reset with NO_ERROR. Node writes the frames already queued for the
 * stream before the RST_STREAM, so the status always arrives first.
 */
function resetWhenServerFinishesFirst(stream: http2.ServerHttp2Stream): void {
  const finish = () => {
    if (stream.closed || stream.destroyed || clientFinished(stream)) return;
    stream.close(h2.NGHTTP2_NO_ERROR);
  };
  const respond = stream.respond;
  stream.respond = function (this: http2.ServerHttp2Stream, headers, respondOptions) {
    respond.call(this, headers, respondOptions);
    if (respondOptions?.endStream) finish();
  };
  const sendTrailers = stream.sendTrailers;
  stream.sendTrailers = function (this: http2.ServerHttp2Stream, trailers) {
    sendTrailers.call(this, trailers);
    // Node hands the trailers to nghttp2 in a setImmediate of its own; reset after that one, or
    // the RST_STREAM would go first and the client would never see the status.
    setImmediate(finish);
  };
}

/**
 * Whether the client's END_STREAM has arrived, read or not. (Node's stream.state.remoteClose
 * stays 0 after it, and readableEnded waits until grpc-js has read everything.)
 */
function clientFinished(stream: http2.ServerHttp2Stream): boolean {
  const readable = (stream as unknown as { _readableState?: { ended?: boolean } })._readableState;
  return readable?.ended ?? stream.readableEnded;
}
