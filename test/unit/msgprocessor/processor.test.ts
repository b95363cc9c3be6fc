// StandardChannelProcessor over real bundles, real config update validation and the real orderer0
// signer: maintenance mode on the normal path, the sig filter's policy switch, and the order in which
// a config update is validated, wrapped, re-filtered and inspected.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { asBuffer, common, orderer, toNumber } from '../../../src/protos/index.js';
import { OrdererError } from '../../../src/errors.js';
import { systemClock } from '../../../src/clock.js';
import { loadLocalMsp } from '../../../src/msp/index.js';
import { decodeEnvelope, HeaderType } from '../../../src/protoutil/envelope.js';
import { channelResources } from '../../../src/server/orderer.js';
import { CertificateExpiryCache, StandardChannelProcessor } from '../../../src/msgprocessor/index.js';
import type { ChannelConfigBundle } from '../../../src/channelconfig/index.js';
import { CRYPTO, loadIdentity, signedEnvelope } from '../../support/fabric-clients.js';
import { ORDERER_ADMIN, ORG1_ADMIN, loadSigner } from '../../support/configtx-crypto.js';
import { configEnvelopeOfBlock, makeConfigUpdateEnvelope } from '../../support/configtx-fixtures.js';

const CHANNEL = 'mychannel';
const resources = channelResources();
const genesis = configEnvelopeOfBlock('golden/mychannel/0.block').config!;
const signer = loadLocalMsp({
  dir: join(CRYPTO, 'ordererOrganizations/example.com/orderers/orderer0.example.com/msp'),
  mspId: 'OrdererMSP',
  clock: systemClock,
}).signer;
const org1User = loadIdentity('org1User');
const ordererAdminClient = loadIdentity('ordererAdmin');

function consensusTypeValue(state: 'NORMAL' | 'MAINTENANCE'): Uint8Array {
  return orderer.ConsensusType.encode({
    type: 'solo',
    state:
      state === 'NORMAL'
        ? orderer.ConsensusType.State.STATE_NORMAL
        : orderer.ConsensusType.State.STATE_MAINTENANCE,
  }).finish();
}

/** genesis with ConsensusType.State set (what the channel looks like after entering maintenance). */
function configInState(state: 'NORMAL' | 'MAINTENANCE'): common.Config {
  const config = common.Config.decode(common.Config.encode(genesis).finish());
  const value = config.channelGroup!.groups!.Orderer!.values!.ConsensusType!;
  value.value = consensusTypeValue(state);
  if (state === 'MAINTENANCE') value.version = 1;
  return config;
}

function processorOver(config: common.IConfig) {
  let bundle: ChannelConfigBundle = resources.createBundle(CHANNEL, config);
  const processor = new StandardChannelProcessor(
    { noExpirationChecks: false },
    {
      bundle: () => bundle,
      signer,
      clock: systemClock,
      expiry: new CertificateExpiryCache(),
      proposeConfigUpdate: (update) => resources.proposeConfigUpdate(bundle, update),
      createBundle: (id, c) => resources.createBundle(id, c),
    },
  );
  return {
    processor,
    apply(configEnvelope: common.IConfigEnvelope) {
      bundle = resources.createBundle(CHANNEL, configEnvelope.config!);
    },
  };
}

async function rejection(run: () => Promise<unknown>): Promise<OrdererError> {
  try {
    await run();
  } catch (err) {
    assert.ok(err instanceof OrdererError, `expected OrdererError, got ${String(err)}`);
    return err;
  }
  assert.fail('the message was accepted');
}

/** A ConfigUpdate setting /Channel/Orderer values at the given versions (as configtxlator computes it). */
function ordererValuesUpdate(values: Record<string, { version: number; value: Uint8Array }>) {
  return {
    channelId: CHANNEL,
    readSet: { version: 0, groups: { Orderer: { version: 0 } } },
    writeSet: {
      version: 0,
      groups: {
        Orderer: {
          version: 0,
          values: Object.fromEntries(
            Object.entries(values).map(([k, v]) => [k, { ...v, modPolicy: 'Admins' }]),
          ),
        },
      },
    },
  };
}

const batchSize10 = orderer.BatchSize.encode({
  maxMessageCount: 10,
  absoluteMaxBytes: 10 * 1024 * 1024,
  preferredMaxBytes: 2 * 1024 * 1024,
}).finish();

describe('StandardChannelProcessor', () => {
  it('accepts normal messages from channel writers and returns the config sequence', async () => {
    const { processor } = processorOver(genesis);
    const env = decodeEnvelope(signedEnvelope(org1User, { channelId: CHANNEL }));
    assert.equal(await processor.processNormalMsg(env), toNumber(genesis.sequence));
  });

  it('answers normal messages with unavailable in maintenance mode, naming what to do', async () => {
    const { processor } = processorOver(configInState('MAINTENANCE'));
    const env = decodeEnvelope(signedEnvelope(org1User, { channelId: CHANNEL }));
    const err = await rejection(() => processor.processNormalMsg(env));
    assert.equal(err.kind, 'unavailable');
    assert.match(err.message, /channel mychannel is in maintenance mode; retry after .*STATE_NORMAL/);
  });

  it('in maintenance mode lets only orderer-org writers send config updates (/Channel/Orderer/Writers)', async () => {
    const { processor } = processorOver(configInState('MAINTENANCE'));
    const update = makeConfigUpdateEnvelope(
      CHANNEL,
      ordererValuesUpdate({ ConsensusType: { version: 2, value: consensusTypeValue('NORMAL') } }),
      [loadSigner(ORG1_ADMIN)],
    );
    const err = await rejection(() => processor.processConfigUpdateMsg(decodeEnvelope(update)));
    assert.equal(err.kind, 'forbidden');
    assert.match(err.message, /access denied by policy \/Channel\/Orderer\/Writers/);
  });

  it('enters and leaves maintenance mode with orderer-admin-signed state changes', async () => {
    const channel = processorOver(genesis);
    const enter = makeConfigUpdateEnvelope(
      CHANNEL,
      ordererValuesUpdate({ ConsensusType: { version: 1, value: consensusTypeValue('MAINTENANCE') } }),
      [loadSigner(ORDERER_ADMIN)],
    );
    const entered = await channel.processor.processConfigUpdateMsg(decodeEnvelope(enter));
    assert.equal(entered.config.channelHeader.type, HeaderType.CONFIG);
    assert.equal(entered.configSeq, toNumber(genesis.sequence));
    channel.apply(common.ConfigEnvelope.decode(entered.config.data));

    // In maintenance: a BatchSize change alone is fine, a BatchSize change with the exit is not.
    const mixed = makeConfigUpdateEnvelope(
      CHANNEL,
      ordererValuesUpdate({
        ConsensusType: { version: 2, value: consensusTypeValue('NORMAL') },
        BatchSize: { version: 1, value: batchSize10 },
      }),
      [loadSigner(ORDERER_ADMIN)],
    );
    const err = await rejection(() => channel.processor.processConfigUpdateMsg(decodeEnvelope(mixed)));
    assert.equal(err.kind, 'bad-request');
    assert.match(
      err.message,
      /config transaction inspection failed: config update contain more then just the ConsensusType value in the Orderer group \(BatchSize, ConsensusType\)/,
    );

    const exit = makeConfigUpdateEnvelope(
      CHANNEL,
      ordererValuesUpdate({ ConsensusType: { version: 2, value: consensusTypeValue('NORMAL') } }),
      [loadSigner(ORDERER_ADMIN)],
    );
    const exited = await channel.processor.processConfigUpdateMsg(decodeEnvelope(exit));
    channel.apply(common.ConfigEnvelope.decode(exited.config.data));
    const env = decodeEnvelope(signedEnvelope(org1User, { channelId: CHANNEL }));
    assert.equal(await channel.processor.processNormalMsg(env), toNumber(genesis.sequence) + 2);
  });

  it('re-validates a stale CONFIG envelope from its last_update (processConfigMsg)', async () => {
    const channel = processorOver(genesis);
    const update = makeConfigUpdateEnvelope(
      CHANNEL,
      ordererValuesUpdate({ BatchSize: { version: 1, value: batchSize10 } }),
      [loadSigner(ORDERER_ADMIN)],
    );
    const first = await channel.processor.processConfigUpdateMsg(decodeEnvelope(update));
    const again = await channel.processor.processConfigMsg(first.config);
    assert.deepEqual(
      asBuffer(common.ConfigEnvelope.encode(common.ConfigEnvelope.decode(again.config.data)).finish()),
      asBuffer(common.ConfigEnvelope.encode(common.ConfigEnvelope.decode(first.config.data)).finish()),
    );
    // Once that config is applied, the same update's read set is stale: the re-validation fails.
    channel.apply(common.ConfigEnvelope.decode(first.config.data));
    const err = await rejection(() => channel.processor.processConfigMsg(first.config));
    assert.match(err.message, /error applying config update to existing channel 'mychannel'/);
  });

  it('in maintenance mode refuses normal messages even from the orderer admin', async () => {
    const { processor } = processorOver(configInState('MAINTENANCE'));
    const env = decodeEnvelope(signedEnvelope(ordererAdminClient, { channelId: CHANNEL }));
    const err = await rejection(() => processor.processNormalMsg(env));
    assert.equal(err.kind, 'unavailable');
  });
});
