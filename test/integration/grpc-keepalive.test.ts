// General.Keepalive.ServerInterval and ServerTimeout over a real connection: the orderer pings an
// idle client every ServerInterval and drops a connection whose client does not answer a ping
// within ServerTimeout, while a client that answers (any HTTP/2 stack does) stays connected.
// The silent client is a raw TCP socket that speaks just enough HTTP/2 (preface, SETTINGS and
// its ACK) and never acknowledges a PING.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { startTestOrderer, type TestOrderer } from '../support/orderer.js';

const FRAME_SETTINGS = 0x4;
const FRAME_PING = 0x6;
const FRAME_GOAWAY = 0x7;

function frame(type: number, flags: number, payload = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  return Buffer.concat([header, payload]);
}

/** Connects, sets up HTTP/2, ignores PINGs; resolves with the frames seen and when the server closed. */
function silentClient(port: number, giveUpMs: number) {
  return new Promise<{ pings: number[]; goaway: boolean; closedAfterMs: number | undefined }>((resolve) => {
    const started = Date.now();
    const pings: number[] = [];
    let goaway = false;
    let pending = Buffer.alloc(0);
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.write(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
      socket.write(frame(FRAME_SETTINGS, 0));
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ pings, goaway, closedAfterMs: undefined });
    }, giveUpMs);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 9) {
        const length = pending.readUIntBE(0, 3);
        if (pending.length < 9 + length) break;
        const type = pending[3]!;
        const flags = pending[4]!;
        if (type === FRAME_SETTINGS && (flags & 0x1) === 0) socket.write(frame(FRAME_SETTINGS, 0x1));
        if (type === FRAME_PING && (flags & 0x1) === 0) pings.push(Date.now() - started);
        if (type === FRAME_GOAWAY) goaway = true;
        pending = pending.subarray(9 + length);
      }
    });
    const closed = () => {
      clearTimeout(timer);
      resolve({ pings, goaway, closedAfterMs: Date.now() - started });
    };
    socket.on('close', closed);
    socket.on('error', () => {});
  });
}

describe('gRPC keepalive (General.Keepalive.ServerInterval, ServerTimeout)', () => {
  let node: TestOrderer;

  before(async () => {
    node = await startTestOrderer({
      env: {
        ORDERER_GENERAL_KEEPALIVE_SERVERINTERVAL: '1s',
        ORDERER_GENERAL_KEEPALIVE_SERVERTIMEOUT: '1s',
      },
    });
  });

  after(() => node?.destroy());

  it('pings an idle client and closes the connection of one that never answers', async () => {
    const result = await silentClient(node.orderer.port, 15_000);
    console.log(`# silent client: ${JSON.stringify(result)}`);
    assert.ok(result.pings.length >= 1, `the orderer pinged (${JSON.stringify(result)})`);
    assert.ok(
      result.pings[0]! >= 500,
      `the first ping comes after about ServerInterval: ${result.pings[0]} ms`,
    );
    assert.notEqual(result.closedAfterMs, undefined, 'the orderer closed the unanswering connection');
    assert.ok(
      result.closedAfterMs! - result.pings[0]! >= 500,
      `closed about ServerTimeout after the ping (${result.closedAfterMs} ms, ping at ${result.pings[0]} ms)`,
    );
  });

  it('keeps the connection of a client that answers pings', async () => {
    const session = http2.connect(`http://127.0.0.1:${node.orderer.port}`);
    try {
      await new Promise<void>((resolve, reject) => {
        session.once('connect', () => resolve());
        session.once('error', reject);
      });
      // Node's HTTP/2 answers each PING itself. A server that dropped answering clients would close
      // ServerTimeout after a ping, before the next one: three pings mean two answered ones counted.
      const outcome = await new Promise<string>((resolve) => {
        let pinged = 0;
        session.on('ping', () => {
          if (++pinged === 3) resolve('pinged three times');
        });
        session.once('goaway', (code: number) => resolve(`GOAWAY ${code} after ${pinged} pings`));
        session.once('close', () => resolve(`closed after ${pinged} pings`));
        // A safety net for a server that never pings; it does not pace the test.
        setTimeout(() => resolve(`only ${pinged} pings in 15 s`), 15_000).unref();
      });
      assert.equal(outcome, 'pinged three times');
      assert.equal(session.closed || session.destroyed, false, 'still connected');
    } finally {
      session.destroy();
    }
  });
});
