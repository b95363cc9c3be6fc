import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListenAddress } from '../../../src/server/listen.js';

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
