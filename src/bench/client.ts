// The load generator's AtomicBroadcast client: gRPC's framing over node:http2, with nothing else.
// The bench shares the machine with the orderer it measures, so every microsecond it spends per
// message is taken from the orderer: grpc-js costs a client about 60 us per message (call stack of
// interceptors, filters, retry buffers), this about a third of that. Messages are raw bytes,
// encoded and decoded with this project's protos; envelopes can be framed once, before the run.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';

export interface AtomicBroadcastClientOptions {
  /** host:port */
  readonly address: string;
  /** PEM of the CA that issued the orderer's TLS certificate; plaintext when omitted. */
  readonly tlsCaPem?: Buffer;
  /** Override of the TLS server name (when the address is not in the certificate's SANs). */
  readonly serverNameOverride?: string;
  /**
   * HTTP/2 receive window of this connection in bytes. Node's default (64 KiB) makes a reader of
   * MB-sized blocks wait for a WINDOW_UPDATE round trip every 64 KiB.
   */
  readonly receiveWindowBytes?: number;
}

/** A gRPC length-prefixed message (uncompressed): what goes on the wire for `message`. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/**
 * One bidirectional gRPC call. Events: 'data' (one decoded message, a Buffer), 'error' (an Error
 * with the gRPC status in `code`, or a transport failure), 'end' (the server closed with OK).
 */
export class RawDuplex extends EventEmitter {
  private waiting: Buffer[] = [];
  private waitingBytes = 0;
  private settled = false;

  constructor(private readonly stream: http2.ClientHttp2Stream) {
    super();
    stream.on('data', (chunk: Buffer) => this.receive(chunk));
    let status: string | undefined;
    let message = '';
    const takeStatus = (headers: http2.IncomingHttpHeaders) => {
      const value = headers['grpc-status'];
      if (value !== undefined) {
        status = String(value);
        const raw = String(headers['grpc-message'] ?? '');
        try {
          message = decodeURIComponent(raw);
        } catch {
          message = raw; // not percent-encoded as gRPC asks: shown as sent
        }
      }
    };
    stream.on('response', (headers) => {
      const httpStatus = headers[':status'];
      if (httpStatus !== 200) {
        this.fail(new Error(`the server answered HTTP ${httpStatus}, not gRPC`));
        this.cancel();
      }
      takeStatus(headers);
    });
    stream.on('trailers', takeStatus);
    stream.on('error', (err: Error) => this.fail(err));
    /** Ends the call by its gRPC status; false when none has arrived. */
    const settleByStatus = (): boolean => {
      if (status === undefined) return false;
      if (status === '0') this.settle('end');
      else this.fail(Object.assign(new Error(`${status} ${message}`), { code: Number(status) }));
      return true;
    };
    // The server's side is done once its trailers (or trailers-only headers) arrived: the call
    // is over, even while this side is still open, as grpc-js sees it too.
    stream.on('end', () => {
      settleByStatus();
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
    });
    stream.on('close', () => {
      if (!settleByStatus())
        this.fail(new Error(`the stream closed without a gRPC status (HTTP/2 code ${stream.rstCode})`));
    });
  }

  /** Sends one message; `framed` says it already carries gRPC's 5-byte prefix (see grpcFrame). */
  write(message: Uint8Array, framed = false): void {
    if (this.stream.writable) this.stream.write(framed ? message : grpcFrame(message));
  }

  /** Half-closes: no more messages from this side. */
  end(): void {
    if (this.stream.writable) this.stream.end();
  }

  /** Abandons the call (RST_STREAM CANCEL); no 'error' or 'end' follows. */
  cancel(): void {
    this.settled = true;
    if (!this.stream.closed && !this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  private receive(chunk: Buffer): void {
    // Chunks of a message that spans several are kept aside and joined once it is complete, so a
    // megabyte block arriving in 16 KiB pieces is copied once, not once per piece.
    this.waiting.push(chunk);
    this.waitingBytes += chunk.length;
    for (;;) {
      // Nothing more is delivered once the call failed or was cancelled.
      if (this.settled || this.waitingBytes < 5) return;
      let head = this.waiting[0]!;
      if (head.length < 5) {
        head = Buffer.concat(this.waiting);
        this.waiting = [head];
      }
      const length = head.readUInt32BE(1);
      if (this.waitingBytes < 5 + length) return;
      if (head[0] !== 0) {
        this.fail(new Error('the server sent a compressed message; this client asks for none'));
        this.cancel();
        return;
      }
      if (head.length < 5 + length) {
        head = Buffer.concat(this.waiting, this.waitingBytes);
        this.waiting = [head];
      }
      // Copied: a slice would keep the whole received chunk alive as long as the message.
      this.emit('data', Buffer.from(head.subarray(5, 5 + length)));
      const rest = head.subarray(5 + length);
      this.waiting[0] = rest;
      this.waitingBytes -= 5 + length;
      if (rest.length === 0) this.waiting.shift();
    }
  }

  private fail(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.emit('error', err);
  }

  private settle(event: 'end'): void {
    if (this.settled) return;
    this.settled = true;
    this.emit(event);
  }
}

export class AtomicBroadcastClient {
  private session: http2.ClientHttp2Session | undefined;
  private connected: Promise<http2.ClientHttp2Session> | undefined;

  constructor(readonly options: AtomicBroadcastClientOptions) {}

  static withTlsCaFile(address: string, tlsCaFile: string | undefined): AtomicBroadcastClient {
    return new AtomicBroadcastClient({
      address,
      ...(tlsCaFile ? { tlsCaPem: readFileSync(tlsCaFile) } : {}),
    });
  }

  /** Connects (HTTP/2, TLS when a CA is set), failing after timeoutMs. */
  waitForReady(timeoutMs: number): Promise<void> {
    return this.connect(timeoutMs).then(() => undefined);
  }

  broadcast(): RawDuplex {
    return this.call('/orderer.AtomicBroadcast/Broadcast');
  }

  deliver(): RawDuplex {
    return this.call('/orderer.AtomicBroadcast/Deliver');
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
    this.connected = undefined;
  }

  private connect(timeoutMs: number): Promise<http2.ClientHttp2Session> {
    if (this.connected) return this.connected;
    const { address, tlsCaPem, serverNameOverride, receiveWindowBytes } = this.options;
    const authority = `${tlsCaPem ? 'https' : 'http'}://${address}`;
    const session = http2.connect(authority, {
      ...(tlsCaPem ? { ca: tlsCaPem } : {}),
      ...(serverNameOverride ? { servername: serverNameOverride } : {}),
      ...(receiveWindowBytes ? { settings: { initialWindowSize: receiveWindowBytes } } : {}),
    });
    this.session = session;
    this.connected = new Promise((resolve, reject) => {
      const fail = (err: Error) => {
        clearTimeout(timer);
        session.destroy();
        // The next waitForReady() tries again.
        if (this.session === session) {
          this.session = undefined;
          this.connected = undefined;
        }
        reject(new Error(`cannot connect to the orderer at ${address}: ${err.message}`));
      };
      const timer = setTimeout(
        () => fail(new Error(`no HTTP/2 connection within ${timeoutMs} ms`)),
        timeoutMs,
      );
      session.once('error', fail);
      session.once('connect', () => {
        clearTimeout(timer);
        session.off('error', fail);
        // Errors after the connection is up reach the streams; this keeps them from being thrown.
        session.on('error', () => {});
        if (receiveWindowBytes) session.setLocalWindowSize(receiveWindowBytes);
        resolve(session);
      });
    });
    return this.connected;
  }

  private call(path: string): RawDuplex {
    if (!this.session) throw new Error('not connected: call waitForReady() first');
    const stream = this.session.request(
      {
        [http2.constants.HTTP2_HEADER_METHOD]: 'POST',
        [http2.constants.HTTP2_HEADER_PATH]: path,
        'content-type': 'application/grpc',
        te: 'trailers',
        'user-agent': 'orderer-bench',
      },
      { endStream: false },
    );
    return new RawDuplex(stream);
  }
}
