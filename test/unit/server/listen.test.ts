import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import {
  describeListenError,
  listenProblem,
  listenRemedy,
  parseListenAddress,
} from '../../../src/server/listen.js';

test('listen addresses as orderer.yaml writes them', () => {
  const parse = (address: string) => parseListenAddress(address, 'Operations.ListenAddress');
  assert.deepEqual(parse('127.0.0.1:8443'), { host: '127.0.0.1', port: 8443 });
  assert.deepEqual(parse('[::1]:9443'), { host: '::1', port: 9443 });
  assert.deepEqual(parse(':8443'), { host: undefined, port: 8443 });
  assert.deepEqual(parse('localhost:0'), { host: 'localhost', port: 0 });
  assert.deepEqual(parse(''), { host: '127.0.0.1', port: 0 });
  for (const bad of ['127.0.0.1', '127.0.0.1:http', 'host:70000', '::1:80']) {
    assert.throws(() => parse(bad), /invalid Operations\.ListenAddress '.*': use host:port/, bad);
  }
  assert.throws(
    () => parseListenAddress('localhost', 'Admin.ListenAddress'),
    /invalid Admin\.ListenAddress 'localhost'/,
  );
});

test('listenProblem explains why a port cannot be listened on, by trying it', async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const port = (holder.address() as AddressInfo).port;
  try {
    assert.deepEqual(await listenProblem('127.0.0.1', port), {
      code: 'EADDRINUSE',
      reason: `port ${port} is already in use by another process`,
    });
  } finally {
    await new Promise((resolve) => holder.close(resolve));
  }
  // Released: the same port can be listened on again (the probe closed its own listener too).
  assert.equal(await listenProblem('127.0.0.1', port), undefined);
  assert.equal(await listenProblem('127.0.0.1', port), undefined);
  assert.equal(
    describeListenError(Object.assign(new Error('listen EACCES'), { code: 'EACCES' }), 80),
    'port 80 needs privileges this process does not have',
  );
  assert.equal(describeListenError(new Error('something else'), 1), 'something else');
  assert.equal(
    listenRemedy('EADDRINUSE', 'Admin.ListenAddress'),
    'stop the process that holds it, or set Admin.ListenAddress to a free port',
  );
  assert.match(listenRemedy('EADDRNOTAVAIL', 'Admin.ListenAddress'), /an address of this host/);
  assert.match(listenRemedy('EACCES', 'Admin.ListenAddress'), /above 1023/);
  assert.equal(listenRemedy(undefined, 'Admin.ListenAddress'), 'check Admin.ListenAddress');
});
