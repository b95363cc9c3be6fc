// A Kafka channel's consensus-type migration as its ChainSupport sees it: the config block entering
// maintenance keeps the Kafka consenter metadata it is written with, the block that changes
// ConsensusType.Type to etcdraft carries none (Fabric's BlockWriter.WriteConfigBlock), which is how
// the etcdraft consenter knows after the restart that it starts a new Raft group; until that
// restart further config updates are refused, saying to restart first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { systemClock } from '../../../src/clock.js';
import { OrdererError } from '../../../src/errors.js';
import { loadLocalMsp } from '../../../src/msp/index.js';
import { asBuffer, common, etcdraft, orderer } from '../../../src/protos/index.js';
import { decodeEnvelope } from '../../../src/protoutil/envelope.js';
import { consenterMetadataOf } from '../../../src/protoutil/block.js';
import type { Chain, Consenter } from '../../../src/consensus/types.js';
import { buildChainSupport } from '../../support/chain-support.js';
import { CRYPTO, loadIdentity } from '../../support/fabric-clients.js';
import { configUpdateEnvelope, consensusType, ordererValues } from '../../support/config-update.js';
import { goldenBlocks } from '../../support/ledger.js';
import { ordererGroupOf, rewriteGenesisBlock } from '../../support/genesis.js';

const CHANNEL = 'mychannel';
const ordererAdmin = loadIdentity('ordererAdmin');
const MAINTENANCE = orderer.ConsensusType.State.STATE_MAINTENANCE;
const NORMAL = orderer.ConsensusType.State.STATE_NORMAL;
const KAFKA_METADATA = Buffer.from('kafka offsets');

const tlsCert = (i: number) =>
  readFileSync(
    join(CRYPTO, `ordererOrganizations/example.com/orderers/orderer${i}.example.com/tls/server.crt`),
  );

const raftMetadata = etcdraft.ConfigMetadata.encode({
  consenters: [0, 1, 2].map((i) => ({
    host: '127.0.0.1',
    port: 7051 + i,
    clientTlsCert: tlsCert(i),
    serverTlsCert: tlsCert(i),
  })),
  options: { tickInterval: '500ms', electionTick: 10, heartbeatTick: 1, maxInflightBlocks: 5 },
}).finish();

/** The golden mychannel genesis block with ConsensusType kafka, and its ChainSupport on a stub Kafka consenter. */
async function kafkaChannel() {
  const [golden] = await goldenBlocks(CHANNEL);
  const genesis = rewriteGenesisBlock(golden!, {
    config: (configEnvelope) => {
      const value = ordererGroupOf(configEnvelope).values!['ConsensusType']!;
      const current = orderer.ConsensusType.decode(asBuffer(value.value));
      value.value = orderer.ConsensusType.encode({ ...current, type: 'kafka' }).finish();
    },
  });
  const { support } = await buildChainSupport(genesis, {
    signer: loadLocalMsp({
      dir: join(CRYPTO, 'ordererOrganizations/example.com/orderers/orderer0.example.com/msp'),
      mspId: 'OrdererMSP',
      clock: systemClock,
    }).signer,
    migrationTargets: new Set(['etcdraft']),
  });
  const kafka: Consenter = {
    handleChain: () => ({}) as Chain,
    isChannelMember: () => true,
    validateConsensusMetadata: () => {},
    removeChannel: async () => {},
  };
  support.attachConsenter(kafka, undefined);
  return support;
}

type Support = Awaited<ReturnType<typeof kafkaChannel>>;

function consensusUpdate(support: Support, change: Partial<orderer.IConsensusType>) {
  const config = support.bundle().config;
  return decodeEnvelope(
    configUpdateEnvelope(
      CHANNEL,
      ordererValues(CHANNEL, config, { ConsensusType: consensusType(config, change) }),
      [ordererAdmin],
    ),
  );
}

/** Orders a config update as the Kafka chain does: validated, wrapped, written with Kafka metadata. */
async function writeConfigUpdate(support: Support, change: Partial<orderer.IConsensusType>) {
  const { config } = await support.processConfigUpdateMsg(consensusUpdate(support, change));
  const block = support.createNextBlock([config]);
  await support.writeConfigBlock(block, KAFKA_METADATA);
  await support.flushed();
  const stored = await support.block(Number(block.header!.number));
  return stored!;
}

test('the block that migrates kafka to etcdraft is written without consenter metadata', async () => {
  const support = await kafkaChannel();
  const entry = await writeConfigUpdate(support, { state: MAINTENANCE });
  assert.equal(Number(entry.header!.number), 1);
  assert.deepEqual(
    consenterMetadataOf(entry),
    KAFKA_METADATA,
    'entering maintenance keeps the Kafka metadata',
  );
  assert.equal(support.bundle().orderer!.consensusState, 'MAINTENANCE');

  const migration = await writeConfigUpdate(support, { type: 'etcdraft', metadata: raftMetadata });
  assert.equal(Number(migration.header!.number), 2);
  assert.equal(consenterMetadataOf(migration), undefined, 'no consenter metadata on the type change');
  assert.equal(support.bundle().orderer!.consensusType, 'etcdraft');
  assert.equal(support.lastConfigBlockNumber(), 2);
  // Still signed by the orderer, with LAST_CONFIG pointing at itself.
  const signatures = common.Metadata.decode(migration.metadata!.metadata![0]!);
  assert.equal(signatures.signatures.length, 1);
  assert.equal(Number(common.OrdererBlockMetadata.decode(signatures.value).lastConfig?.index ?? 0), 2);
});

test('until the orderer restarts on etcdraft, config updates on the migrated channel are refused, saying so', async () => {
  const support = await kafkaChannel();
  await writeConfigUpdate(support, { state: MAINTENANCE });
  await writeConfigUpdate(support, { type: 'etcdraft', metadata: raftMetadata });
  await assert.rejects(support.processConfigUpdateMsg(consensusUpdate(support, { state: NORMAL })), (err) => {
    assert.ok(err instanceof OrdererError);
    assert.equal(err.kind, 'unavailable');
    assert.match(
      err.message,
      /channel mychannel changed its consensus type from kafka to etcdraft \(config block 2\) and still runs kafka until this orderer restarts: restart every orderer of the channel.*leave maintenance mode only after the restart/,
    );
    return true;
  });
  assert.equal(support.height(), 3);
});
