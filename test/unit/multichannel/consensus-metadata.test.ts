// A config update reaches the channel's consenter for its consensus-metadata check (Fabric's
// ChainSupport.ProposeConfigUpdate -> ValidateConsensusMetadata), with the current and the new
// Orderer config; a refusal is a bad request naming what the consenter said.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { systemClock } from '../../../src/clock.js';
import { OrdererError } from '../../../src/errors.js';
import { loadLocalMsp } from '../../../src/msp/index.js';
import { orderer } from '../../../src/protos/index.js';
import { decodeEnvelope } from '../../../src/protoutil/envelope.js';
import type { OrdererConfig } from '../../../src/channelconfig/types.js';
import type { Chain, Consenter } from '../../../src/consensus/types.js';
import { buildChainSupport } from '../../support/chain-support.js';
import { CRYPTO } from '../../support/fabric-clients.js';
import { ORDERER_ADMIN, loadSigner } from '../../support/configtx-crypto.js';
import { makeConfigUpdateEnvelope } from '../../support/configtx-fixtures.js';
import { goldenBlocks } from '../../support/ledger.js';

const CHANNEL = 'mychannel';

async function channelWith(validate: Consenter['validateConsensusMetadata']) {
  const [genesisBytes] = await goldenBlocks(CHANNEL);
  const { support } = await buildChainSupport(genesisBytes!, {
    signer: loadLocalMsp({
      dir: join(CRYPTO, 'ordererOrganizations/example.com/orderers/orderer0.example.com/msp'),
      mspId: 'OrdererMSP',
      clock: systemClock,
    }).signer,
  });
  const consenter: Consenter = {
    handleChain: () => ({}) as Chain,
    isChannelMember: () => true,
    validateConsensusMetadata: validate,
    removeChannel: async () => {},
  };
  support.attachConsenter(consenter, undefined);
  return support;
}

function batchSizeUpdate(maxMessageCount: number) {
  const value = orderer.BatchSize.encode({
    maxMessageCount,
    absoluteMaxBytes: 10 * 1024 * 1024,
    preferredMaxBytes: 2 * 1024 * 1024,
  }).finish();
  return decodeEnvelope(
    makeConfigUpdateEnvelope(
      CHANNEL,
      {
        channelId: CHANNEL,
        readSet: { version: 0, groups: { Orderer: { version: 0 } } },
        writeSet: {
          version: 0,
          groups: {
            Orderer: { version: 0, values: { BatchSize: { version: 1, value, modPolicy: 'Admins' } } },
          },
        },
      },
      [loadSigner(ORDERER_ADMIN)],
    ),
  );
}

test('a config update is checked by the consenter with the old and the new Orderer config', async () => {
  const calls: [OrdererConfig, OrdererConfig, boolean][] = [];
  const support = await channelWith((old, next, newChannel) =>
    calls.push([old.orderer!, next.orderer!, newChannel]),
  );
  const { configSeq } = await support.processor.processConfigUpdateMsg(batchSizeUpdate(10));
  assert.equal(configSeq, support.sequence());
  assert.equal(calls.length, 1);
  const [old, next, newChannel] = calls[0]!;
  assert.equal(old.batchSize.maxMessageCount, 500);
  assert.equal(next.batchSize.maxMessageCount, 10);
  assert.equal(newChannel, false);
});

test("a consenter's refusal of the metadata change refuses the update as a bad request", async () => {
  const support = await channelWith(() => {
    throw new OrdererError('bad-request', 'ElectionTick (1) must be greater than HeartbeatTick (1)');
  });
  await assert.rejects(support.processor.processConfigUpdateMsg(batchSizeUpdate(10)), (err: unknown) => {
    assert.ok(err instanceof OrdererError);
    assert.equal(err.kind, 'bad-request');
    assert.match(
      err.message,
      /consensus metadata update for channel config update is invalid: ElectionTick \(1\) must be greater/,
    );
    return true;
  });
});
