// Every way a channel participation request can fail answers with the HTTP status of an error
// code from the one table (src/status.ts), and logs that code: real HTTP on 127.0.0.1.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { forbidden, internal, OrdererError, type ErrorCode } from '../../../src/errors.js';
import { STATUS_BY_CODE } from '../../../src/status.js';
import { AdminServer, type ChannelParticipationRegistrar } from '../../../src/participation/index.js';
import type { ChannelInfo } from '../../../src/multichannel/index.js';
import { FIXTURES } from '../../support/fabric-clients.js';
import { capturingLogger } from '../../support/solo.js';

/** A registrar whose joinChannel fails with `joinFailure`; `system` names its system channel. */
class RefusingRegistrar implements ChannelParticipationRegistrar {
  joinFailure: unknown = internal('not set');
  system: string | undefined;
  readonly channels = new Map<string, ChannelInfo>();
  joinChannel(): Promise<ChannelInfo> {
    return Promise.reject(this.joinFailure);
  }
  removeChannel(): Promise<void> {
    return Promise.resolve();
  }
  channelInfo(id: string) {
    return this.channels.get(id);
  }
  channelIds() {
    return [...this.channels.keys()];
  }
  systemChannelName() {
    return this.system;
  }
}

function call(port: number, method: string, path: string, body?: Buffer) {
  return new Promise<{ status: number; allow: string | undefined }>((resolve, reject) => {
    const headers = body ? { 'Content-Type': 'multipart/form-data; boundary=XyZ' } : {};
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, allow: res.headers.allow }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const block = readFileSync(join(FIXTURES, 'blocks/appsolo-genesis.block'));
const joinBody = Buffer.concat([
  Buffer.from(
    '--XyZ\r\nContent-Disposition: form-data; name="config-block"; filename="config.block"\r\n\r\n',
  ),
  block,
  Buffer.from('\r\n--XyZ--\r\n'),
]);
const CHANNELS = '/participation/v1/channels';

interface Case {
  what: string;
  method: string;
  path: string;
  body?: Buffer;
  joinFailure?: unknown;
  system?: string;
  code: ErrorCode;
  allow?: string;
}

const cases: Case[] = [
  {
    what: 'GET of a channel it does not have',
    method: 'GET',
    path: `${CHANNELS}/nosuch`,
    code: 'channel-not-found',
  },
  {
    what: 'DELETE of a channel it does not have',
    method: 'DELETE',
    path: `${CHANNELS}/nosuch`,
    code: 'channel-not-found',
  },
  {
    what: 'DELETE of an app channel while a system channel exists',
    method: 'DELETE',
    path: `${CHANNELS}/appsolo`,
    system: 'syschannel',
    code: 'system-channel-exists',
    allow: 'GET',
  },
  {
    what: 'a method the resource does not take',
    method: 'PUT',
    path: CHANNELS,
    code: 'method-not-allowed',
    allow: 'GET, POST',
  },
  { what: 'a path outside the API', method: 'GET', path: '/nowhere', code: 'not-found' },
  {
    what: 'a channel name that is not one',
    method: 'GET',
    path: `${CHANNELS}/Bad_Name!`,
    code: 'bad-request',
  },
  {
    what: 'a join of a channel that exists',
    method: 'POST',
    path: CHANNELS,
    body: joinBody,
    joinFailure: new OrdererError('channel-exists', 'cannot join: channel appsolo already exists'),
    code: 'channel-exists',
    allow: 'GET, DELETE',
  },
  {
    what: 'a join while a system channel exists',
    method: 'POST',
    path: CHANNELS,
    body: joinBody,
    system: 'syschannel',
    joinFailure: new OrdererError('system-channel-exists', 'cannot join: the system channel exists'),
    code: 'system-channel-exists',
    allow: 'GET',
  },
  {
    what: 'a join the registrar forbids',
    method: 'POST',
    path: CHANNELS,
    body: joinBody,
    joinFailure: forbidden('not allowed'),
    code: 'forbidden',
  },
  {
    what: 'a join failing for any other reason (Fabric: the request is at fault)',
    method: 'POST',
    path: CHANNELS,
    body: joinBody,
    joinFailure: new Error('disk gone'),
    code: 'bad-request',
  },
  {
    what: 'a join body larger than MaxRequestBodySize',
    method: 'POST',
    path: CHANNELS,
    body: Buffer.concat([joinBody, Buffer.alloc(70 * 1024)]),
    code: 'too-large',
  },
];

describe('channel participation failure statuses', () => {
  const registrar = new RefusingRegistrar();
  const { logger, lines } = capturingLogger();
  const server = new AdminServer(
    {
      listenAddress: '127.0.0.1:0',
      tls: { enabled: false, certificate: '', privateKey: '', clientAuthRequired: false, clientRootCAs: [] },
      enabled: true,
      maxRequestBodySize: 64 * 1024,
    },
    { registrar, logger },
  );
  let port: number;
  before(async () => {
    port = await server.start();
  });
  after(() => server.stop());

  for (const c of cases) {
    it(`${c.what}: ${STATUS_BY_CODE[c.code].http} (${c.code})`, async () => {
      registrar.system = c.system;
      registrar.joinFailure = c.joinFailure ?? internal('not reached');
      registrar.channels.clear();
      if (c.system) {
        for (const name of [c.system, 'appsolo']) {
          registrar.channels.set(name, { name, consensusRelation: 'other', status: 'active', height: 1 });
        }
      }
      lines.length = 0;
      const answer = await call(port, c.method, c.path, c.body);
      assert.equal(answer.status, STATUS_BY_CODE[c.code].http);
      assert.equal(answer.allow, c.allow);
      const logged = lines.find(
        (line) => line.msg === 'admin request refused' || line.msg === 'admin request failed',
      );
      assert.equal(logged?.['code'], c.code);
    });
  }

  it('a disabled API answers participation-disabled, 503', async () => {
    const disabled = new AdminServer(
      {
        listenAddress: '127.0.0.1:0',
        tls: {
          enabled: false,
          certificate: '',
          privateKey: '',
          clientAuthRequired: false,
          clientRootCAs: [],
        },
        enabled: false,
        maxRequestBodySize: 1024,
      },
      { registrar, logger },
    );
    const disabledPort = await disabled.start();
    try {
      lines.length = 0;
      assert.equal(
        (await call(disabledPort, 'GET', CHANNELS)).status,
        STATUS_BY_CODE['participation-disabled'].http,
      );
      assert.equal(STATUS_BY_CODE['participation-disabled'].http, 503);
      assert.equal(
        lines.find((line) => line.msg === 'admin request failed')?.['code'],
        'participation-disabled',
      );
    } finally {
      await disabled.stop();
    }
  });
});
