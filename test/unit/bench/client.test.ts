// The bench's gRPC-over-HTTP/2 client against a plain node:http2 server that plays the orderer:
// messages split across DATA frames at awkward places, several in one frame, a large one in many
// pieces, the OK status in trailers, a failing status, and a cancel that stays quiet.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { AtomicBroadcastClient, grpcFrame, type RawDuplex } from '../../../src/bench/client.js';

type Behaviour = (stream: http2.ServerHttp2Stream, received: Buffer[]) => void;

function collect(call: RawDuplex): Promise<{ messages: Buffer[]; end?: true; error?: Error }> {
  return new Promise((resolve) => {
    const messages: Buffer[] = [];
    call.on('data', (m: Buffer) => messages.push(m));
    call.on('end', () => resolve({ messages, end: true }));
    call.on('error', (error: Error) => resolve({ messages, error }));
  });
}

describe('bench AtomicBroadcastClient (gRPC framing over node:http2)', () => {
  let server: http2.Http2Server;
  let address: string;
  const behaviours = new Map<string, Behaviour>();
  const requests: http2.IncomingHttpHeaders[] = [];

  before(async () => {
    server = http2.createServer();
    server.on('stream', (stream, headers) => {
      requests.push(headers);
      const received: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => received.push(chunk));
      behaviours.get(String(headers[':path']))!(stream, received);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('reassembles messages split anywhere and ends on grpc-status 0', async () => {
    const big = Buffer.alloc(200_000, 7);
    const wire = Buffer.concat([grpcFrame(Buffer.from('a')), grpcFrame(Buffer.alloc(0)), grpcFrame(big)]);
    behaviours.set('/orderer.AtomicBroadcast/Broadcast', (stream, received) => {
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        // 1, 2, 3 ... byte pieces first (a header split in the middle), then 64 KiB pieces.
        let at = 0;
        for (let size = 1; at < 40; size++) stream.write(wire.subarray(at, (at += size)));
        for (; at < wire.length; at += 65_536) stream.write(wire.subarray(at, at + 65_536));
        stream.end(Buffer.concat(received));
      });
    });
    const client = new AtomicBroadcastClient({ address });
    await client.waitForReady(5_000);
    try {
      const call = client.broadcast();
      const result = collect(call);
      call.write(Buffer.from('hello'));
      call.write(grpcFrame(Buffer.from('framed')), true);
      call.end();
      const { messages, end, error } = await result;
      assert.equal(error, undefined);
      assert.equal(end, true);
      assert.deepEqual(
        messages.map((m) => m.length),
        [1, 0, 200_000, 5, 6],
      );
      assert.ok(messages[2]!.equals(big));
      assert.equal(messages[3]!.toString(), 'hello', 'what the client sent, echoed back');
      assert.equal(messages[4]!.toString(), 'framed');
      const headers = requests.at(-1)!;
      assert.equal(headers[':method'], 'POST');
      assert.equal(headers['content-type'], 'application/grpc');
      assert.equal(headers['te'], 'trailers');
    } finally {
      client.close();
    }
  });

  it('reports a non-OK grpc-status with its message as an error carrying the code', async () => {
    behaviours.set('/orderer.AtomicBroadcast/Deliver', (stream) => {
      stream.respond({
        ':status': 200,
        'content-type': 'application/grpc',
        'grpc-status': '8',
        'grpc-message': encodeURIComponent('Received message larger than max'),
      });
      stream.end();
    });
    const client = new AtomicBroadcastClient({ address });
    await client.waitForReady(5_000);
    try {
      const { error } = await collect(client.deliver());
      assert.equal((error as Error & { code?: number }).code, 8);
      assert.match(error!.message, /^8 Received message larger than max$/);
    } finally {
      client.close();
    }
  });

  it('shows a grpc-message that is not percent-encoded as sent, instead of throwing', async () => {
    behaviours.set('/orderer.AtomicBroadcast/Deliver', (stream) => {
      stream.respond({
        ':status': 200,
        'content-type': 'application/grpc',
        'grpc-status': '2',
        'grpc-message': 'broken %E0%A4%A escape',
      });
      stream.end();
    });
    const client = new AtomicBroadcastClient({ address });
    await client.waitForReady(5_000);
    try {
      const { error } = await collect(client.deliver());
      assert.equal(error!.message, '2 broken %E0%A4%A escape');
    } finally {
      client.close();
    }
  });

  it('cancel() resets the stream without an error event; connecting nowhere fails clearly', async () => {
    let reset: number | undefined;
    const closed = new Promise<void>((resolve) =>
      behaviours.set('/orderer.AtomicBroadcast/Broadcast', (stream) => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
        stream.on('close', () => {
          reset = stream.rstCode;
          resolve();
        });
      }),
    );
    const client = new AtomicBroadcastClient({ address });
    await client.waitForReady(5_000);
    try {
      const call = client.broadcast();
      const events: string[] = [];
      call.on('error', () => events.push('error'));
      call.on('end', () => events.push('end'));
      await new Promise((r) => setTimeout(r, 50));
      call.cancel();
      await closed;
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(reset, http2.constants.NGHTTP2_CANCEL);
      assert.deepEqual(events, []);
    } finally {
      client.close();
    }
    const nowhere = new AtomicBroadcastClient({ address: '127.0.0.1:1' });
    await assert.rejects(nowhere.waitForReady(5_000), /cannot connect to the orderer at 127\.0\.0\.1:1: /);
  });
});
