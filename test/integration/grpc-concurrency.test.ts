// Many Broadcast streams on ONE HTTP/2 connection while the same connection also sees a storm of
// streams its client resets (cancelled calls, deadlines). Node's nghttp2 answers more than ~1000
// client resets on a connection with GOAWAY(INTERNAL_ERROR), and Node clients then destroy the
// session: every stream in flight on it fails with "Received RST_STREAM with code 2 ... Session
// closed with error code 2", valid envelopes included (issue #8, defect 3). Fabric's orderer
// (grpc-go) never ends a connection for that. Ours must drain such a connection gracefully
// (GOAWAY NO_ERROR) so that every stream in flight completes and every valid envelope is answered.
//
// The client is raw node:http2 so that the test controls exactly what goes on the wire: one
// session, 32 Broadcast streams (1 MB data fields, 100 KB nonces, small envelopes) kept open
// across the reset storm, and resets sent as HEADERS + RST_STREAM(CANCEL) pairs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { randomBytes } from 'node:crypto';
import { common as hlCommon } from '@hyperledger/fabric-protos';
import { orderer } from '../../src/protos/index.js';
import { loadIdentity, signedEnvelope, type ClientIdentity } from '../support/fabric-clients.js';
import { startTestOrderer, type TestOrderer } from '../support/orderer.js';
import { channelGenesisBlock } from '../support/orderer-process.js';
import { NGHTTP2_RESET_BURST } from '../../src/server/h2-streams.js';

const CHANNEL = 'concurrency';
const STREAMS = 32;
const ROUNDS = 3;
/** Enough to empty nghttp2's bucket (1000 plus 33 a second) many times over, if nothing drains. */
const MAX_RESETS = 4 * NGHTTP2_RESET_BURST;
const org1User = loadIdentity('org1User');

const BROADCAST_HEADERS = {
  ':method': 'POST',
  ':path': '/orderer.AtomicBroadcast/Broadcast',
  'content-type': 'application/grpc',
  te: 'trailers',
};

/** The same envelope with another nonce in its signature header, signed again. */
function withNonce(signer: ClientIdentity, envelopeBytes: Buffer, nonce: Buffer): Buffer {
  const envelope = hlCommon.Envelope.deserializeBinary(envelopeBytes);
  const payload = hlCommon.Payload.deserializeBinary(envelope.getPayload_asU8());
  const header = payload.getHeader()!;
  const signatureHeader = hlCommon.SignatureHeader.deserializeBinary(header.getSignatureHeader_asU8());
  signatureHeader.setNonce(nonce);
  header.setSignatureHeader(signatureHeader.serializeBinary());
  const payloadBytes = payload.serializeBinary();
  envelope.setPayload(payloadBytes);
  envelope.setSignature(signer.sign(payloadBytes));
  return Buffer.from(envelope.serializeBinary());
}

function envelopeOfKind(index: number): Buffer {
  switch (index % 4) {
    case 0:
      return signedEnvelope(org1User, { channelId: CHANNEL, data: randomBytes(1024 * 1024) });
    case 1:
      return withNonce(org1User, signedEnvelope(org1User, { channelId: CHANNEL }), randomBytes(100 * 1024));
    default:
      return signedEnvelope(org1User, { channelId: CHANNEL, data: randomBytes(300) });
  }
}

function grpcFrame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/**
 * One Broadcast stream: send() resolves with the status of the response to that envelope, end()
 * half-closes and resolves with grpc-status. Any stream failure rejects what is pending.
 */
class RawBroadcast {
  private readonly stream: http2.ClientHttp2Stream;
  private pending = Buffer.alloc(0);
  private readonly waiting: { resolve(status: number): void; reject(err: Error): void }[] = [];
  private readonly outcome: Promise<string>;

  constructor(session: http2.ClientHttp2Session) {
    this.stream = session.request(BROADCAST_HEADERS);
    this.outcome = new Promise((resolve, reject) => {
      let grpcStatus: string | undefined;
      this.stream.on('response', (headers) => {
        if (headers['grpc-status'] !== undefined) grpcStatus = String(headers['grpc-status']);
      });
      this.stream.on('trailers', (trailers) => (grpcStatus = String(trailers['grpc-status'])));
      this.stream.on('error', (err) => this.fail(err));
      this.stream.on('close', () => {
        if (grpcStatus !== undefined) resolve(grpcStatus);
        else
          reject(new Error(`Broadcast stream closed without a status (RST_STREAM ${this.stream.rstCode})`));
        this.fail(new Error(`Broadcast stream closed (grpc-status ${grpcStatus}) with a response pending`));
      });
    });
    this.outcome.catch(() => {});
    this.stream.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      while (this.pending.length >= 5 && this.pending.length >= 5 + this.pending.readUInt32BE(1)) {
        const length = this.pending.readUInt32BE(1);
        const response = orderer.BroadcastResponse.decode(this.pending.subarray(5, 5 + length));
        this.pending = this.pending.subarray(5 + length);
        this.waiting.shift()?.resolve(response.status);
      }
    });
  }

  send(envelope: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.stream.write(grpcFrame(envelope));
    });
  }

  end(): Promise<string> {
    this.stream.end();
    return this.outcome;
  }

  private fail(err: Error): void {
    for (const waiter of this.waiting.splice(0)) waiter.reject(err);
  }
}

function ping(session: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve) => {
    if (session.destroyed || !session.ping(() => resolve())) resolve();
  });
}

/**
 * Opens and at once resets streams on `session` (HEADERS then RST_STREAM CANCEL, what a client
 * cancelling calls puts on the wire) until the server sends a GOAWAY or MAX_RESETS were sent.
 * One at a time, each sent before the next: a Node client that closes its session on a GOAWAY
 * while a HEADERS frame is still queued sends the RST_STREAM alone, for a stream the server
 * never saw — a protocol error for any server.
 */
async function resetStorm(session: http2.ClientHttp2Session, goaways: number[]): Promise<number> {
  let resets = 0;
  while (goaways.length === 0 && resets < MAX_RESETS && !session.destroyed && !session.closed) {
    const stream = session.request(BROADCAST_HEADERS);
    stream.on('error', () => {});
    const closed = new Promise((resolve) => stream.once('close', resolve));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await closed;
    resets++;
    // Now and then a PING round trip, so that the server's answer to what was sent arrives.
    if (resets % 50 === 0) await ping(session);
  }
  return resets;
}

describe('Broadcast streams on one HTTP/2 connection under a storm of client resets', () => {
  let node: TestOrderer;

  before(async () => {
    node = await startTestOrderer({ env: { ORDERER_GENERAL_BOOTSTRAPMETHOD: 'none' } });
    await node.orderer.registrar.joinChannel(
      channelGenesisBlock(CHANNEL, {
        absoluteMaxBytes: 10 * 1024 * 1024,
        preferredMaxBytes: 2 * 1024 * 1024,
        batchTimeout: '50ms',
      }),
    );
  });

  after(async () => {
    await node?.destroy();
  });

  for (let round = 1; round <= ROUNDS; round++) {
    it(`answers every valid envelope of 32 streams in flight SUCCESS (round ${round}/${ROUNDS})`, async () => {
      const session = http2.connect(`http://${node.address}`);
      const goaways: number[] = [];
      session.on('goaway', (code) => goaways.push(code));
      session.on('error', () => {});
      try {
        const streams = Array.from({ length: STREAMS }, () => new RawBroadcast(session));
        const first = await Promise.all(streams.map((s, i) => s.send(envelopeOfKind(i))));
        assert.deepEqual(first, Array(STREAMS).fill(200), 'first envelope of each stream');

        // The 32 streams stay open (not half-closed) through the storm.
        const resets = await resetStorm(session, goaways);
        assert.ok(goaways.length > 0, `the server never asked the client to go away after ${resets} resets`);
        assert.deepEqual(
          [...new Set(goaways)],
          [http2.constants.NGHTTP2_NO_ERROR],
          `GOAWAY error codes after ${resets} resets: ${goaways.join(', ')}`,
        );
        assert.ok(resets < NGHTTP2_RESET_BURST, `drained after ${resets} resets, not before nghttp2's limit`);

        const second = await Promise.all(streams.map((s, i) => s.send(envelopeOfKind(i + 1))));
        assert.deepEqual(
          second,
          Array(STREAMS).fill(200),
          'second envelope of each stream, after the GOAWAY',
        );
        assert.deepEqual(await Promise.all(streams.map((s) => s.end())), Array(STREAMS).fill('0'));
      } finally {
        session.destroy();
      }
    });
  }
});
