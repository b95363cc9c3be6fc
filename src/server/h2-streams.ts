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
//    other clients included. Cancelling a stream after its answer, or a deadline, is ordinary
//    client behaviour, and grpc-go never ends a connection for it. Node 20 offers no way to tune
//    the bucket, so each session mirrors it here and, well before it runs dry, is drained
//    gracefully: GOAWAY(NO_ERROR) with the largest stream id (nothing in flight is refused), a
//    PING round trip, then Node's own closing GOAWAY. Once a GOAWAY is submitted nghttp2 stops
//    counting, streams in flight complete, and the client's next calls use a new connection.
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

export interface ResetBudgetOptions {
  burst: number;
  ratePerSecond: number;
  /**
   * Drain the session when this many tokens are left. The mirror cannot see every reset (one
   * for a stream the server already forgot is invisible to JavaScript) and its seconds are not
   * nghttp2's monotonic ones, so it keeps a wide margin.
   */
  drainAt: number;
}

export const DEFAULT_RESET_BUDGET: ResetBudgetOptions = {
  burst: NGHTTP2_RESET_BURST,
  ratePerSecond: NGHTTP2_RESET_RATE_PER_SECOND,
  drainAt: NGHTTP2_RESET_BURST / 2,
};

/**
 * The token bucket nghttp2 keeps per server session for RST_STREAM frames received
 * (nghttp2_ratelim: whole seconds, refilled by rate a second up to burst, one token a reset).
 */
export class ResetBudget {
  private tokens: number;
  private second: number;

  constructor(
    private readonly options: ResetBudgetOptions,
    private readonly deps: { clock: Clock },
  ) {
    if (!(options.drainAt >= 0 && options.drainAt < options.burst)) {
      throw new RangeError(
        `reset budget drainAt (${options.drainAt}) must be at least 0 and below burst (${options.burst})`,
      );
    }
    this.tokens = options.burst;
    this.second = Math.floor(deps.clock.now() / 1000);
  }

  get remaining(): number {
    return this.tokens;
  }

  /** Counts one reset by the peer; true when the session should now be drained. */
  peerReset(): boolean {
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
  /** Streams this guard reset itself, which the reset budget must not count as the peer's. */
  private readonly serverResets = new WeakSet<http2.ServerHttp2Stream>();
  private readonly budgets = new WeakMap<http2.Http2Session, ResetBudget>();
  private readonly draining = new WeakSet<http2.Http2Session>();

  constructor(
    private readonly options: { resetBudget: ResetBudgetOptions },
    private readonly deps: Http2GuardDeps,
  ) {}

  guard(server: http2.Http2Server): void {
    // Before grpc-js's own listener, so its first respond() already goes through the wrapper.
    server.prependListener('stream', (stream: http2.ServerHttp2Stream) => {
      this.resetWhenServerFinishesFirst(stream);
      this.countPeerResets(stream);
    });
  }

  /**
   * After the server's final frame (a trailers-only response, or trailers), a stream whose
   * client has not half-closed is reset with NO_ERROR. Node writes the frames already queued for
   * the stream before the RST_STREAM, so the status always arrives first.
   */
  private resetWhenServerFinishesFirst(stream: http2.ServerHttp2Stream): void {
    const finish = () => {
      if (stream.closed || stream.destroyed) return;
      if (stream.state.remoteClose) return; // the client is done too: the stream closes by itself
      this.serverResets.add(stream);
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
      finish();
    };
  }

  private countPeerResets(stream: http2.ServerHttp2Stream): void {
    const session = stream.session;
    if (!session) return;
    let budget = this.budgets.get(session);
    if (!budget) {
      budget = new ResetBudget(this.options.resetBudget, this.deps);
      this.budgets.set(session, budget);
    }
    stream.once('close', () => {
      // A stream torn down with its session, or reset by this server, is not the peer's reset.
      if (session.destroyed || session.closed || this.serverResets.has(stream)) return;
      if (!stream.rstCode) return; // NO_ERROR: an ordinary end
      if (budget.peerReset()) this.drain(session);
    });
  }

  /** Graceful two-step GOAWAY (RFC 9113 §6.8), as grpc-go does when it retires a connection. */
  private drain(session: http2.Http2Session): void {
    if (this.draining.has(session)) return;
    this.draining.add(session);
    this.deps.logger.info(
      { remoteAddress: session.socket?.remoteAddress, remotePort: session.socket?.remotePort },
      'client resets streams faster than HTTP/2 allows on one connection; asking it to reconnect (GOAWAY NO_ERROR)',
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
