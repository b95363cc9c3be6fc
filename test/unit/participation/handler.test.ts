// Routing, statuses and headers of the REST layer over real HTTP on 127.0.0.1, on top of a small
// in-memory registrar (the integration tests run the same API on a real orderer).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OrdererError, notFound } from '../../../src/errors.js';
import { AdminServer, type ChannelParticipationRegistrar } from '../../../src/participation/index.js';
import type { ChannelInfo } from '../../../src/multichannel/index.js';
import { silentLogger } from '../../../src/logging.js';
import { FIXTURES } from '../../support/fabric-clients.js';

class InMemoryRegistrar implements ChannelParticipationRegistrar {
  readonly channels = new Map<string, ChannelInfo>();
  system: string | undefined;
  joinCalls = 0;

  async joinChannel(): Promise<ChannelInfo> {
    this.joinCalls++;
    if (this.system)
      throw new OrdererError('method-not-allowed', `cannot join: the system channel ${this.system} exists`);
    if (this.channels.has('appsolo'))
      throw new OrdererError('method-not-allowed', 'cannot join: channel appsolo already exists');
    const info: ChannelInfo = { name: 'appsolo', consensusRelation: 'other', status: 'active', height: 1 };
    this.channels.set('appsolo', info);
    return info;
  }
  async removeChannel(id: string): Promise<void> {
    if (!this.channels.delete(id)) throw notFound(`channel ${id} does not exist`);
  }
  channelInfo(id: string) {
    return this.channels.get(id);
  }
  channelIds() {
    return [...this.channels.keys()].sort();
  }
  systemChannelName() {
    return this.system;
  }
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: () => unknown;
}

function call(
  port: number,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: Buffer; chunked?: boolean } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path, headers: options.headers ?? {}, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode!, headers: res.headers, text, json: () => JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    if (options.body && options.chunked) {
      // No Content-Length: the limit must be enforced while reading.
      for (let i = 0; i < options.body.length; i += 16384) req.write(options.body.subarray(i, i + 16384));
      req.end();
    } else req.end(options.body);
  });
}

function joinForm(block: Buffer, boundary = 'XyZ'): { headers: Record<string, string>; body: Buffer } {
  return {
    headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` },
    body: Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="config-block"; filename="config.block"\r\n\r\n`,
      ),
      block,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]),
  };
}

const appsolo = readFileSync(join(FIXTURES, 'blocks/appsolo-genesis.block'));
const plainTls = {
  enabled: false,
  certificate: '',
  privateKey: '',
  clientAuthRequired: false,
  clientRootCAs: [],
};

describe('channel participation REST layer', () => {
  const registrar = new InMemoryRegistrar();
  const server = new AdminServer(
    { listenAddress: '127.0.0.1:0', tls: plainTls, enabled: true, maxRequestBodySize: 64 * 1024 },
    { registrar, logger: silentLogger() },
  );
  let port: number;

  before(async () => {
    port = await server.start();
  });
  after(() => server.stop());

  it('lists with null systemChannel and null channels when there are none, as Go marshals nil', async () => {
    const r = await call(port, 'GET', '/participation/v1/channels');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal(r.text, '{"systemChannel":null,"channels":null}\n');
  });

  it('joins: 201, Location, ChannelInfo with Fabric field names and order', async () => {
    const form = joinForm(appsolo);
    const r = await call(port, 'POST', '/participation/v1/channels', form);
    assert.equal(r.status, 201, r.text);
    assert.equal(r.headers.location, '/participation/v1/channels/appsolo');
    assert.equal(
      r.text,
      '{"name":"appsolo","url":"/participation/v1/channels/appsolo","consensusRelation":"other","status":"active","height":1}\n',
    );
    const again = await call(port, 'POST', '/participation/v1/channels', form);
    assert.equal(again.status, 405);
    assert.equal(again.headers.allow, 'GET, DELETE');
    assert.match((again.json() as { error: string }).error, /already exists/);
  });

  it('lists the system channel apart; with one, join is 405 Allow GET and app channels cannot be removed', async () => {
    registrar.system = 'system-channel';
    registrar.channels.set('system-channel', {
      name: 'system-channel',
      consensusRelation: 'other',
      status: 'active',
      height: 2,
    });
    try {
      const list = await call(port, 'GET', '/participation/v1/channels');
      assert.deepEqual(list.json(), {
        systemChannel: { name: 'system-channel', url: '/participation/v1/channels/system-channel' },
        channels: [{ name: 'appsolo', url: '/participation/v1/channels/appsolo' }],
      });
      const join = await call(port, 'POST', '/participation/v1/channels', joinForm(appsolo));
      assert.equal(join.status, 405);
      assert.equal(join.headers.allow, 'GET');
      const remove = await call(port, 'DELETE', '/participation/v1/channels/appsolo');
      assert.equal(remove.status, 405);
      assert.equal(remove.headers.allow, 'GET');
      assert.match((remove.json() as { error: string }).error, /remove the system channel first/);
      assert.ok(registrar.channels.has('appsolo'));
    } finally {
      registrar.system = undefined;
      registrar.channels.delete('system-channel');
    }
  });

  it('gets one channel, 404 for unknown, 400 for bad names (also percent-encoded)', async () => {
    const one = await call(port, 'GET', '/participation/v1/channels/appsolo');
    assert.equal(one.status, 200);
    assert.equal(one.headers['cache-control'], 'no-store');
    assert.deepEqual(one.json(), {
      name: 'appsolo',
      url: '/participation/v1/channels/appsolo',
      consensusRelation: 'other',
      status: 'active',
      height: 1,
    });
    const unknown = await call(port, 'GET', '/participation/v1/channels/nope');
    assert.equal(unknown.status, 404);
    assert.match((unknown.json() as { error: string }).error, /channel nope does not exist on this orderer/);
    for (const bad of ['Bad', 'bad_name', 'bad%20name', '9lives']) {
      const r = await call(port, 'GET', `/participation/v1/channels/${bad}`);
      assert.equal(r.status, 400, bad);
      assert.match((r.json() as { error: string }).error, /invalid channel ID/);
      const d = await call(port, 'DELETE', `/participation/v1/channels/${bad}`);
      assert.equal(d.status, 400, bad);
    }
  });

  it('wrong methods: 405 with the Allow header Fabric sends', async () => {
    for (const method of ['PUT', 'DELETE', 'PATCH', 'HEAD']) {
      const r = await call(port, method, '/participation/v1/channels');
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, POST');
    }
    for (const method of ['POST', 'PUT']) {
      const r = await call(port, method, '/participation/v1/channels/appsolo');
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, DELETE');
      assert.match((r.json() as { error: string }).error, new RegExp(`invalid request method: ${method}`));
    }
  });

  it('406 when Accept excludes JSON; 302 from the API root; 404 elsewhere', async () => {
    const r = await call(port, 'GET', '/participation/v1/channels', { headers: { Accept: 'text/html' } });
    assert.equal(r.status, 406);
    assert.match((r.json() as { error: string }).error, /application\/json only/);
    const ok = await call(port, 'GET', '/participation/v1/channels', {
      headers: { Accept: 'text/html, */*;q=0.1' },
    });
    assert.equal(ok.status, 200);
    const root = await call(port, 'GET', '/participation/v1/');
    assert.equal(root.status, 302);
    assert.equal(root.headers.location, '/participation/v1/channels');
    const other = await call(port, 'GET', '/metrics');
    assert.equal(other.status, 404);
    assert.match((other.json() as { error: string }).error, /participation API is at/);
  });

  it('join bodies: 400 for other content types and bad forms, 413 beyond MaxRequestBodySize', async () => {
    const calls = registrar.joinCalls;
    const json = await call(port, 'POST', '/participation/v1/channels', {
      headers: { 'Content-Type': 'application/json' },
      body: Buffer.from('{}'),
    });
    assert.equal(json.status, 400);
    assert.match((json.json() as { error: string }).error, /unsupported Content-Type: application\/json/);

    const garbage = await call(
      port,
      'POST',
      '/participation/v1/channels',
      joinForm(Buffer.from('not a block')),
    );
    assert.equal(garbage.status, 400);
    assert.match((garbage.json() as { error: string }).error, /cannot unmarshal file part config-block/);

    const big = joinForm(Buffer.alloc(100 * 1024, 1));
    const declared = await call(port, 'POST', '/participation/v1/channels', big);
    assert.equal(declared.status, 413);
    assert.match((declared.json() as { error: string }).error, /MaxRequestBodySize \(65536 bytes\)/);
    const streamed = await call(port, 'POST', '/participation/v1/channels', { ...big, chunked: true });
    assert.equal(streamed.status, 413);
    assert.equal(registrar.joinCalls, calls, 'no refused body reaches the registrar');
  });

  it('removes: 204 with no body, then 404', async () => {
    const r = await call(port, 'DELETE', '/participation/v1/channels/appsolo');
    assert.equal(r.status, 204);
    assert.equal(r.text, '');
    const again = await call(port, 'DELETE', '/participation/v1/channels/appsolo');
    assert.equal(again.status, 404);
  });
});

describe('admin server configuration', () => {
  it('a disabled API answers 503 on every route', async () => {
    const server = new AdminServer(
      { listenAddress: '127.0.0.1:0', tls: plainTls, enabled: false, maxRequestBodySize: 1024 },
      { registrar: new InMemoryRegistrar(), logger: silentLogger() },
    );
    const port = await server.start();
    try {
      for (const [method, path] of [
        ['GET', '/participation/v1/channels'],
        ['POST', '/participation/v1/channels'],
        ['DELETE', '/participation/v1/channels/x'],
        ['GET', '/anything'],
      ] as const) {
        const r = await call(port, method, path);
        assert.equal(r.status, 503, `${method} ${path}`);
        assert.match(
          (r.json() as { error: string }).error,
          /disabled: set ChannelParticipation.Enabled to true/,
        );
      }
    } finally {
      await server.stop();
    }
  });

  it('refuses TLS without client authentication, as Fabric does', () => {
    assert.throws(
      () =>
        new AdminServer(
          {
            listenAddress: '127.0.0.1:0',
            tls: { ...plainTls, enabled: true, clientAuthRequired: false },
            enabled: true,
            maxRequestBodySize: 1024,
          },
          { registrar: new InMemoryRegistrar(), logger: silentLogger() },
        ),
      /Admin.TLS.ClientAuthRequired must be true when Admin.TLS.Enabled is true/,
    );
  });

  it('refuses a listen address that is not host:port', () => {
    assert.throws(
      () =>
        new AdminServer(
          { listenAddress: 'localhost', tls: plainTls, enabled: true, maxRequestBodySize: 1024 },
          { registrar: new InMemoryRegistrar(), logger: silentLogger() },
        ),
      /invalid Admin.ListenAddress 'localhost': use host:port/,
    );
  });
});
