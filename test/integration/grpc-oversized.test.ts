// A gRPC message whose length prefix announces more than General.MaxRecvMsgSize is refused at
// once (issue #8, defect 6): RESOURCE_EXHAUSTED as soon as the 5-byte prefix is read, and the
// stream reset with RST_STREAM(NO_ERROR) right after the status, as Fabric's orderer (grpc-go)
// does, so the client stops sending a body the server would only discard. The connection goes on
// serving other streams. The client is raw node:http2, to see the frames themselves.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { orderer } from '../../src/protos/index.js';
import { loadIdentity, signedEnvelope } from '../support/fabric-clients.js';
import { startTestOrderer, type TestOrderer } from '../support/orderer.js';
import { channelGenesisBlock } from '../support/orderer-process.js';

const CHANNEL = 'oversized';
const MAX_RECV = 1024 * 1024;
const ANNOUNCED = 200 * 1024 * 1024;
const org1User = loadIdentity('org1User');

function request(session: http2.ClientHttp2Session, method: 'Broadcast' | 'Deliver') {
  return session.request({
    ':method': 'POST',
    ':path': `/orderer.AtomicBroadcast/${method}`,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
}

function prefix(length: number): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(length, 1);
  return header;
}

function ping(session: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!session.ping((err) => (err ? reject(err) : resolve()))) reject(new Error('PING not sent'));
  });
}

interface Outcome {
  headers: http2.IncomingHttpHeaders;
  /** The stream was closed (by the server: the client never ends it) before a PING came back. */
  closedBeforePingAck: boolean;
  rstCode: number | undefined;
}

/**
 * Writes `first` on a new stream and never ends it. Resolves once the server's status has
 * arrived and a PING sent after it has come back: the server writes its RST_STREAM right after
 * the status, so by then the stream must be closed.
 */
function sendAndHold(session: http2.ClientHttp2Session, method: 'Broadcast' | 'Deliver', first: Buffer) {
  return new Promise<Outcome>((resolve, reject) => {
    const stream = request(session, method);
    let headers: http2.IncomingHttpHeaders | undefined;
    stream.on('error', reject);
    stream.on('response', (h) => {
      headers = h;
      if (h['grpc-status'] === undefined) return; // not trailers-only: wait for the trailers
      settle();
    });
    stream.on('trailers', (t) => {
      headers = { ...headers, ...t };
      settle();
    });
    stream.on('data', () => {});
    const settle = () => {
      ping(session).then(
        () => resolve({ headers: headers!, closedBeforePingAck: stream.closed, rstCode: stream.rstCode }),
        reject,
      );
    };
    stream.write(first);
  });
}

function broadcastOnce(session: http2.ClientHttp2Session, envelope: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = request(session, 'Broadcast');
    let body = Buffer.alloc(0);
    stream.on('error', reject);
    stream.on('data', (chunk: Buffer) => {
      body = Buffer.concat([body, chunk]);
      if (body.length >= 5 && body.length >= 5 + body.readUInt32BE(1)) {
        resolve(orderer.BroadcastResponse.decode(body.subarray(5, 5 + body.readUInt32BE(1))).status);
        stream.end();
      }
    });
    stream.end(Buffer.concat([prefix(envelope.length), envelope]));
  });
}

describe('an oversized gRPC message (length prefix above General.MaxRecvMsgSize)', () => {
  let node: TestOrderer;
  let session: http2.ClientHttp2Session;

  before(async () => {
    node = await startTestOrderer({
      env: { ORDERER_GENERAL_BOOTSTRAPMETHOD: 'none', ORDERER_GENERAL_MAXRECVMSGSIZE: String(MAX_RECV) },
    });
    await node.orderer.registrar.joinChannel(channelGenesisBlock(CHANNEL, { batchTimeout: '50ms' }));
    session = http2.connect(`http://${node.address}`);
    session.on('error', () => {});
  });

  after(async () => {
    session?.destroy();
    await node?.destroy();
  });

  for (const method of ['Broadcast', 'Deliver'] as const) {
    it(`${method}: a prefix announcing 200 MiB and no body is refused with RESOURCE_EXHAUSTED and the stream reset`, async () => {
      const outcome = await sendAndHold(session, method, prefix(ANNOUNCED));
      assert.equal(outcome.headers['grpc-status'], '8', JSON.stringify(outcome.headers));
      assert.match(decodeURIComponent(String(outcome.headers['grpc-message'])), /larger than max/);
      assert.ok(outcome.closedBeforePingAck, 'the server left the stream open, waiting for the body');
      assert.equal(outcome.rstCode, http2.constants.NGHTTP2_NO_ERROR);
    });
  }

  it('a prefix announcing 200 MiB with the first 256 KiB of its body is refused just the same', async () => {
    const outcome = await sendAndHold(
      session,
      'Broadcast',
      Buffer.concat([prefix(ANNOUNCED), Buffer.alloc(256 * 1024, 1)]),
    );
    assert.equal(outcome.headers['grpc-status'], '8', JSON.stringify(outcome.headers));
    assert.ok(outcome.closedBeforePingAck, 'the server left the stream open, waiting for the body');
  });

  it('a Broadcast stream the server ends after an error status is reset too, the client still sending', async () => {
    // BAD_REQUEST (not an envelope) ends the stream, as Fabric's handler returns on a failure.
    const garbage = Buffer.from('not an envelope');
    const outcome = await sendAndHold(session, 'Broadcast', Buffer.concat([prefix(garbage.length), garbage]));
    assert.equal(outcome.headers['grpc-status'], '0', JSON.stringify(outcome.headers));
    assert.ok(outcome.closedBeforePingAck, 'the server left the finished stream half-open');
    assert.equal(outcome.rstCode, http2.constants.NGHTTP2_NO_ERROR);
  });

  it('the same connection still serves a valid Broadcast afterwards', async () => {
    const envelope = signedEnvelope(org1User, { channelId: CHANNEL, data: Buffer.alloc(1000, 2) });
    assert.equal(await broadcastOnce(session, envelope), 200);
    assert.equal(session.destroyed || session.closed, false);
  });
});
