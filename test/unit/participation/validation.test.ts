import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { common } from '../../../src/protos/index.js';
import { badRequest, forbidden, internal, notFound, OrdererError, unavailable } from '../../../src/errors.js';
import { channelNameProblem, httpStatusOf, validateJoinBlock } from '../../../src/participation/index.js';
import { FIXTURES } from '../../support/fabric-clients.js';

test('channel names follow Fabric ValidateChannelID: [a-z][a-z0-9.-]*, at most 249 characters', () => {
  for (const good of ['a', 'mychannel', 'app.solo-1', 'a' + 'b'.repeat(248)]) {
    assert.equal(channelNameProblem(good), undefined, good);
  }
  assert.match(channelNameProblem('')!, /cannot be empty/);
  assert.match(channelNameProblem('a'.repeat(250))!, /250 characters long, the limit is 249/);
  for (const bad of ['MyChannel', '1abc', '-abc', '.', 'my_channel', 'my channel', 'ab/c', 'abç']) {
    assert.match(channelNameProblem(bad)!, /illegal characters.*starts with a lowercase letter/, bad);
  }
});

test('error kinds map to HTTP statuses in one place', () => {
  assert.equal(httpStatusOf(badRequest('x')), 400);
  assert.equal(httpStatusOf(forbidden('x')), 403);
  assert.equal(httpStatusOf(notFound('x')), 404);
  assert.equal(httpStatusOf(new OrdererError('method-not-allowed', 'x')), 405);
  assert.equal(httpStatusOf(new OrdererError('too-large', 'x')), 413);
  assert.equal(httpStatusOf(internal('x')), 500);
  assert.equal(httpStatusOf(unavailable('x')), 503);
  assert.equal(httpStatusOf(new Error('unexpected')), 500);
});

const appsolo = readFileSync(join(FIXTURES, 'blocks/appsolo-genesis.block'));

test('validateJoinBlock accepts a configtxgen application genesis block and returns its channel', () => {
  assert.equal(validateJoinBlock(appsolo), 'appsolo');
  assert.equal(validateJoinBlock(readFileSync(join(FIXTURES, 'blocks/appraft-genesis.block'))), 'appraft');
});

test('validateJoinBlock refuses what Fabric ValidateJoinBlock refuses', () => {
  const expectBad = (bytes: Buffer, message: RegExp) =>
    assert.throws(
      () => validateJoinBlock(bytes),
      (err: unknown) =>
        err instanceof OrdererError && err.kind === 'bad-request' && message.test(err.message),
    );
  expectBad(Buffer.from('definitely not a block'), /cannot unmarshal file part config-block into a block/);

  const tampered = common.Block.decode(appsolo);
  // An unknown field appended to the envelope: still decodes, but the data hash no longer matches.
  tampered.data!.data![0] = Buffer.concat([Buffer.from(tampered.data!.data![0]!), Buffer.from([0x78, 0x01])]);
  expectBad(Buffer.from(common.Block.encode(tampered).finish()), /invalid join block: Header.DataHash/);

  const noMetadata = common.Block.decode(appsolo);
  noMetadata.metadata = null;
  expectBad(
    Buffer.from(common.Block.encode(noMetadata).finish()),
    /invalid join block: block does not have metadata/,
  );

  const notConfig = common.Block.decode(appsolo);
  const env = common.Envelope.decode(notConfig.data!.data![0]!);
  const payload = common.Payload.decode(env.payload);
  const chdr = common.ChannelHeader.decode(payload.header!.channelHeader!);
  chdr.type = common.HeaderType.ENDORSER_TRANSACTION;
  payload.header!.channelHeader = common.ChannelHeader.encode(chdr).finish();
  env.payload = common.Payload.encode(payload).finish();
  notConfig.data!.data![0] = common.Envelope.encode(env).finish();
  expectBad(Buffer.from(common.Block.encode(notConfig).finish()), /invalid join block: .*not a config block/);
});
