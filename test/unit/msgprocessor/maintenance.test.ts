// The maintenance filter's transition rules (Fabric's maintenancefilter.go), table-driven over the
// golden mychannel config with real bundles (real MSPs and policies).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { asBuffer, common, etcdraft, orderer } from '../../../src/protos/index.js';
import { OrdererError } from '../../../src/errors.js';
import { decodeEnvelope, HeaderType } from '../../../src/protoutil/envelope.js';
import { channelResources } from '../../../src/server/orderer.js';
import { maintenanceFilter } from '../../../src/msgprocessor/index.js';
import type { ChannelConfigBundle } from '../../../src/channelconfig/index.js';
import type { ReceivedEnvelope } from '../../../src/consensus/types.js';
import { configEnvelopeOfBlock } from '../../support/configtx-fixtures.js';
import { CRYPTO } from '../../support/fabric-clients.js';

const CHANNEL = 'mychannel';
const resources = channelResources();
const genesis = configEnvelopeOfBlock('golden/mychannel/0.block').config!;

type State = 'NORMAL' | 'MAINTENANCE';
const STATE = {
  NORMAL: orderer.ConsensusType.State.STATE_NORMAL,
  MAINTENANCE: orderer.ConsensusType.State.STATE_MAINTENANCE,
};

interface ConfigChange {
  type?: string;
  state?: State;
  metadata?: Uint8Array;
  maxMessageCount?: number;
  ordererCapabilities?: string[];
}

function clone(config: common.IConfig): common.Config {
  return common.Config.decode(common.Config.encode(config).finish());
}

/** A copy of `base` with the Orderer values changed (the config a validated update would produce). */
function configWith(base: common.IConfig, change: ConfigChange, sequence?: number): common.Config {
  const config = clone(base);
  const values = config.channelGroup!.groups!.Orderer!.values!;
  const consensus = orderer.ConsensusType.decode(asBuffer(values.ConsensusType!.value));
  if (change.type !== undefined || change.state !== undefined || change.metadata !== undefined) {
    values.ConsensusType!.value = orderer.ConsensusType.encode({
      type: change.type ?? consensus.type,
      metadata: change.metadata ?? consensus.metadata,
      state: change.state !== undefined ? STATE[change.state] : consensus.state,
    }).finish();
  }
  if (change.maxMessageCount !== undefined) {
    const batchSize = orderer.BatchSize.decode(asBuffer(values.BatchSize!.value));
    batchSize.maxMessageCount = change.maxMessageCount;
    values.BatchSize!.value = orderer.BatchSize.encode(batchSize).finish();
  }
  if (change.ordererCapabilities) {
    values.Capabilities!.value = common.Capabilities.encode({
      capabilities: Object.fromEntries(change.ordererCapabilities.map((name) => [name, {}])),
    }).finish();
  }
  if (sequence !== undefined) config.sequence = sequence;
  return config;
}

function bundleOf(config: common.IConfig): ChannelConfigBundle {
  return resources.createBundle(CHANNEL, config);
}

/** The write set of the update that produced the next config: which keys it names. */
interface WriteSetShape {
  channelValues?: string[];
  groups?: string[];
  ordererValues?: string[];
  ordererGroups?: string[];
  ordererPolicies?: string[];
}

function lastUpdateOf(shape: WriteSetShape): common.IEnvelope {
  const value = (version = 1): common.IConfigValue => ({ version, modPolicy: 'Admins' });
  const groups: Record<string, common.IConfigGroup> = {};
  for (const name of shape.groups ?? ['Orderer']) groups[name] = { version: 0 };
  if (groups.Orderer) {
    groups.Orderer.values = Object.fromEntries(
      (shape.ordererValues ?? ['ConsensusType']).map((k) => [k, value()]),
    );
    groups.Orderer.groups = Object.fromEntries((shape.ordererGroups ?? []).map((k) => [k, { version: 1 }]));
    groups.Orderer.policies = Object.fromEntries(
      (shape.ordererPolicies ?? []).map((k) => [k, { version: 1, modPolicy: 'Admins' }]),
    );
  }
  const configUpdate = common.ConfigUpdate.encode({
    channelId: CHANNEL,
    readSet: { version: 0, groups: { Orderer: { version: 0 } } },
    writeSet: {
      version: 0,
      groups,
      values: Object.fromEntries((shape.channelValues ?? []).map((k) => [k, value()])),
    },
  }).finish();
  const payload = common.Payload.encode({
    header: {
      channelHeader: common.ChannelHeader.encode({
        type: HeaderType.CONFIG_UPDATE,
        channelId: CHANNEL,
      }).finish(),
      signatureHeader: common.SignatureHeader.encode({}).finish(),
    },
    data: common.ConfigUpdateEnvelope.encode({ configUpdate }).finish(),
  }).finish();
  return { payload };
}

function configMessage(
  next: common.IConfig,
  lastUpdate: common.IEnvelope | undefined,
  type: number = HeaderType.CONFIG,
): ReceivedEnvelope {
  const payload = common.Payload.encode({
    header: {
      channelHeader: common.ChannelHeader.encode({ type, channelId: CHANNEL }).finish(),
      signatureHeader: common.SignatureHeader.encode({}).finish(),
    },
    data: common.ConfigEnvelope.encode({ config: next, ...(lastUpdate ? { lastUpdate } : {}) }).finish(),
  }).finish();
  return decodeEnvelope(asBuffer(common.Envelope.encode({ payload, signature: Buffer.from([1]) }).finish()));
}

async function apply(
  current: common.IConfig,
  message: ReceivedEnvelope,
  migrationTargets: ReadonlySet<string> = new Set(),
): Promise<OrdererError | undefined> {
  const bundle = bundleOf(current);
  const rule = maintenanceFilter(
    { migrationTargets },
    { bundle: () => bundle, createBundle: (id, config) => resources.createBundle(id, config) },
  );
  try {
    await rule(message);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof OrdererError, `expected an OrdererError, got ${String(err)}`);
    return err;
  }
}

const tlsCert = (i: number) =>
  readFileSync(
    join(CRYPTO, `ordererOrganizations/example.com/orderers/orderer${i}.example.com/tls/server.crt`),
  );

/** Valid etcdraft metadata: orderer0..2 with their TLS certificates (issued by the OrdererMSP TLS CA). */
function raftMetadataWith(edit: (metadata: etcdraft.IConfigMetadata) => void = () => {}): Uint8Array {
  const metadata: etcdraft.IConfigMetadata = {
    consenters: [0, 1, 2].map((i) => ({
      host: '127.0.0.1',
      port: 7051 + i,
      clientTlsCert: tlsCert(i),
      serverTlsCert: tlsCert(i),
    })),
    options: {
      tickInterval: '500ms',
      electionTick: 10,
      heartbeatTick: 1,
      maxInflightBlocks: 5,
      snapshotIntervalSize: 16 * 1024 * 1024,
    },
  };
  edit(metadata);
  return etcdraft.ConfigMetadata.encode(metadata).finish();
}

const raftMetadata = raftMetadataWith();
const KAFKA_MAINTENANCE: ConfigChange = { type: 'kafka', state: 'MAINTENANCE' };

interface Case {
  name: string;
  current?: ConfigChange;
  next: ConfigChange;
  update?: WriteSetShape;
  migrationTargets?: string[];
  /** undefined: the filter accepts the config. */
  error?: RegExp;
}

const cases: Case[] = [
  {
    name: 'a normal update that leaves ConsensusType alone',
    next: { maxMessageCount: 10 },
    update: { ordererValues: ['BatchSize'] },
  },
  { name: 'entering maintenance with only ConsensusType changed', next: { state: 'MAINTENANCE' } },
  {
    name: 'leaving maintenance with only ConsensusType changed',
    current: { state: 'MAINTENANCE' },
    next: { state: 'NORMAL' },
  },
  {
    name: 'a BatchSize change while in maintenance (no state change)',
    current: { state: 'MAINTENANCE' },
    next: { state: 'MAINTENANCE', maxMessageCount: 10 },
    update: { ordererValues: ['BatchSize'] },
  },
  {
    name: 'entering maintenance together with a BatchSize change',
    next: { state: 'MAINTENANCE', maxMessageCount: 10 },
    update: { ordererValues: ['BatchSize', 'ConsensusType'] },
    error:
      /config transaction inspection failed: config update contain more then just the ConsensusType value in the Orderer group \(BatchSize, ConsensusType\): ConsensusType.State is changing from STATE_NORMAL to STATE_MAINTENANCE, so submit the state change alone/,
  },
  {
    name: 'leaving maintenance together with an Application change',
    current: { state: 'MAINTENANCE' },
    next: { state: 'NORMAL' },
    update: { groups: ['Application', 'Orderer'] },
    error: /config update contains changes to more than one group \(Application, Orderer\)/,
  },
  {
    name: 'entering maintenance together with a channel value',
    next: { state: 'MAINTENANCE' },
    update: { channelValues: ['OrdererAddresses'] },
    error: /config update contains changes to values in group Channel \(OrdererAddresses\)/,
  },
  {
    name: 'entering maintenance with an update that does not name the Orderer group',
    next: { state: 'MAINTENANCE' },
    update: { groups: ['Application'] },
    error: /update does not contain the Orderer group \(it changes Application\)/,
  },
  {
    name: 'entering maintenance with an empty write set',
    next: { state: 'MAINTENANCE' },
    update: { groups: [] },
    error: /config update contains no changes/,
  },
  {
    name: 'entering maintenance together with an orderer org change',
    next: { state: 'MAINTENANCE' },
    update: { ordererGroups: ['OrdererOrg'] },
    error: /changes to groups within the Orderer group \(OrdererOrg\)/,
  },
  {
    name: 'entering maintenance together with an Orderer policy change',
    next: { state: 'MAINTENANCE' },
    update: { ordererPolicies: ['Writers'] },
    error: /changes to policies of the Orderer group \(Writers\)/,
  },
  {
    name: 'entering maintenance with an update that does not carry ConsensusType',
    next: { state: 'MAINTENANCE' },
    update: { ordererValues: ['BatchTimeout'] },
    error: /config update does not contain the ConsensusType value/,
  },
  {
    name: 'entering maintenance and changing the type at once',
    current: { type: 'kafka' },
    next: { state: 'MAINTENANCE', type: 'etcdraft', metadata: raftMetadata },
    migrationTargets: ['etcdraft'],
    error:
      /attempted to change ConsensusType.Type from kafka to etcdraft, but ConsensusType.State is changing from STATE_NORMAL to STATE_MAINTENANCE: enter maintenance mode first/,
  },
  {
    name: 'entering maintenance and changing the metadata at once',
    next: { state: 'MAINTENANCE', metadata: Buffer.from('new') },
    error: /attempted to change ConsensusType.Metadata, but ConsensusType.State is changing/,
  },
  {
    name: 'a type change outside maintenance mode',
    current: { type: 'kafka' },
    next: { type: 'etcdraft', metadata: raftMetadata },
    migrationTargets: ['etcdraft'],
    error:
      /attempted to change consensus type from kafka to etcdraft, but current config ConsensusType.State is not in maintenance mode: first submit an update that only sets ConsensusType.State to STATE_MAINTENANCE/,
  },
  {
    name: 'a type change that also leaves maintenance mode',
    current: KAFKA_MAINTENANCE,
    next: { state: 'NORMAL', type: 'etcdraft', metadata: raftMetadata },
    migrationTargets: ['etcdraft'],
    error:
      /attempted to change ConsensusType.Type from kafka to etcdraft, but ConsensusType.State is changing from STATE_MAINTENANCE to STATE_NORMAL/,
  },
  {
    name: 'a type change in maintenance mode whose next config leaves it (state and type in one update)',
    current: KAFKA_MAINTENANCE,
    next: { state: 'NORMAL', type: 'etcdraft', metadata: raftMetadata },
    update: { ordererValues: ['ConsensusType'] },
    migrationTargets: ['etcdraft'],
    error:
      /but ConsensusType.State is changing from STATE_MAINTENANCE to STATE_NORMAL: enter maintenance mode first, change the type in a separate update, then leave it/,
  },
  {
    name: 'a migration to kafka (not a Fabric v2.5 target)',
    current: { state: 'MAINTENANCE' },
    next: { state: 'MAINTENANCE', type: 'kafka' },
    migrationTargets: ['etcdraft', 'kafka'],
    error: /from solo to kafka, transition not supported: Fabric v2.5 channels can only migrate to etcdraft/,
  },
  {
    name: 'a migration from etcdraft back to kafka',
    current: { type: 'etcdraft', metadata: raftMetadata, state: 'MAINTENANCE' },
    next: { state: 'MAINTENANCE', type: 'kafka', metadata: Buffer.alloc(0) },
    migrationTargets: ['etcdraft'],
    error:
      /from etcdraft to kafka, transition not supported: Fabric v2.5 channels can only migrate to etcdraft/,
  },
  {
    name: 'a migration from a type Fabric v2.5 cannot migrate from (BFT)',
    current: { type: 'BFT', state: 'MAINTENANCE' },
    next: { state: 'MAINTENANCE', type: 'etcdraft', metadata: raftMetadata },
    migrationTargets: ['etcdraft'],
    error:
      /attempted to change consensus type from BFT to etcdraft, transition not supported: only kafka and solo channels can migrate \(Fabric v2.5 migrates Kafka and solo to Raft only\); leave maintenance mode with ConsensusType.Type BFT/,
  },
  {
    name: 'a migration from solo to etcdraft (Fabric v2.5 supports it, as Kafka to etcdraft)',
    current: { state: 'MAINTENANCE' },
    next: { state: 'MAINTENANCE', type: 'etcdraft', metadata: raftMetadata },
    migrationTargets: ['etcdraft'],
  },
  {
    name: 'a migration to etcdraft on an orderer without an etcdraft consenter',
    current: KAFKA_MAINTENANCE,
    next: { state: 'MAINTENANCE', type: 'etcdraft', metadata: raftMetadata },
    error:
      /from kafka to etcdraft, transition not supported by this orderer: it cannot run the channel as etcdraft after the migration \(migration targets available here: none\)/,
  },
  {
    name: 'a migration from kafka to etcdraft where an etcdraft consenter runs',
    current: KAFKA_MAINTENANCE,
    next: { state: 'MAINTENANCE', type: 'etcdraft', metadata: raftMetadata },
    migrationTargets: ['etcdraft'],
  },
  {
    name: 'a migration to etcdraft with metadata that is not etcdraft ConfigMetadata',
    current: KAFKA_MAINTENANCE,
    next: { state: 'MAINTENANCE', type: 'etcdraft', metadata: Buffer.from([0xff, 0xff, 0xff]) },
    migrationTargets: ['etcdraft'],
    error: /failed to unmarshal etcdraft metadata configuration/,
  },
  {
    name: 'a migration to etcdraft with empty metadata (no consenters)',
    current: KAFKA_MAINTENANCE,
    next: { state: 'MAINTENANCE', type: 'etcdraft', metadata: Buffer.alloc(0) },
    migrationTargets: ['etcdraft'],
    error:
      /attempted to change consensus type from kafka to etcdraft with empty ConsensusType.Metadata: set it to the etcdraft ConfigMetadata \(the consenters/,
  },
  {
    name: 'a migration to etcdraft with options but no consenters',
    current: KAFKA_MAINTENANCE,
    next: {
      state: 'MAINTENANCE',
      type: 'etcdraft',
      metadata: raftMetadataWith((m) => {
        m.consenters = [];
      }),
    },
    migrationTargets: ['etcdraft'],
    error:
      /invalid etcdraft metadata for the migration from kafka: empty consenter set: the etcdraft ConfigMetadata must list at least one consenter/,
  },
  {
    name: 'a migration to etcdraft without Raft options',
    current: KAFKA_MAINTENANCE,
    next: {
      state: 'MAINTENANCE',
      type: 'etcdraft',
      metadata: raftMetadataWith((m) => {
        delete m.options;
      }),
    },
    migrationTargets: ['etcdraft'],
    error: /invalid etcdraft metadata for the migration from kafka: nil Raft config metadata options/,
  },
  {
    name: 'a migration to etcdraft with ElectionTick not above HeartbeatTick',
    current: KAFKA_MAINTENANCE,
    next: {
      state: 'MAINTENANCE',
      type: 'etcdraft',
      metadata: raftMetadataWith((m) => {
        m.options!.electionTick = 1;
      }),
    },
    migrationTargets: ['etcdraft'],
    error:
      /invalid etcdraft metadata for the migration from kafka: ElectionTick \(1\) must be greater than HeartbeatTick \(1\)/,
  },
  {
    name: 'a migration to etcdraft whose consenter certificate is not a certificate',
    current: KAFKA_MAINTENANCE,
    next: {
      state: 'MAINTENANCE',
      type: 'etcdraft',
      metadata: raftMetadataWith((m) => {
        m.consenters![1]!.clientTlsCert = Buffer.from('not a certificate');
      }),
    },
    migrationTargets: ['etcdraft'],
    error:
      /invalid etcdraft metadata for the migration from kafka: consenter 127.0.0.1:7052 has invalid certificate/,
  },
  {
    name: 'a migration to etcdraft whose consenter certificate was not issued by an orderer TLS CA',
    current: KAFKA_MAINTENANCE,
    next: {
      state: 'MAINTENANCE',
      type: 'etcdraft',
      metadata: raftMetadataWith((m) => {
        m.consenters![2]!.serverTlsCert = readFileSync(
          join(CRYPTO, 'peerOrganizations/org1.example.com/peers/peer0.org1.example.com/tls/server.crt'),
        );
      }),
    },
    migrationTargets: ['etcdraft'],
    error:
      /invalid etcdraft metadata for the migration from kafka: consenter 127.0.0.1:7053 has invalid certificate: verifying tls server cert/,
  },
  {
    name: 'a migration to etcdraft that names a consenter twice',
    current: KAFKA_MAINTENANCE,
    next: {
      state: 'MAINTENANCE',
      type: 'etcdraft',
      metadata: raftMetadataWith((m) => {
        m.consenters!.push({ ...m.consenters![0]!, port: 7060 });
      }),
    },
    migrationTargets: ['etcdraft'],
    error: /invalid etcdraft metadata for the migration from kafka: duplicate consenter 127.0.0.1:7060/,
  },
  {
    name: 'entering maintenance without the ConsensusTypeMigration capability (Orderer V1_1)',
    current: { ordererCapabilities: ['V1_1'] },
    next: { state: 'MAINTENANCE', ordererCapabilities: ['V1_1'] },
    error:
      /next config attempted to change ConsensusType.State to STATE_MAINTENANCE, but capability is disabled: maintenance mode needs the Orderer capability V1_4_2/,
  },
  {
    name: 'a type change without the ConsensusTypeMigration capability',
    current: { ordererCapabilities: ['V1_1'] },
    next: { type: 'kafka', ordererCapabilities: ['V1_1'] },
    error:
      /next config attempted to change ConsensusType.Type from solo to kafka, but capability is disabled/,
  },
  {
    name: 'entering maintenance with capability V1_4_2',
    current: { ordererCapabilities: ['V1_4_2'] },
    next: { state: 'MAINTENANCE', ordererCapabilities: ['V1_4_2'] },
  },
];

describe('maintenance filter', () => {
  for (const c of cases) {
    it(`${c.error ? 'refuses' : 'accepts'} ${c.name}`, async () => {
      const current = configWith(genesis, c.current ?? {});
      const next = configWith(current, c.next, 2);
      const err = await apply(
        current,
        configMessage(next, lastUpdateOf(c.update ?? {})),
        new Set(c.migrationTargets),
      );
      if (!c.error) {
        assert.equal(err, undefined, err?.message);
        return;
      }
      assert.ok(err, 'the filter accepted the config');
      assert.equal(err.kind, 'bad-request');
      assert.match(err.message, c.error);
    });
  }

  it('refuses a config envelope without last_update', async () => {
    const err = await apply(genesis, configMessage(configWith(genesis, {}, 2), undefined));
    assert.match(
      err?.message ?? '',
      /config transaction inspection failed: updated config does not include a config update/,
    );
  });

  it('refuses a message that is not a CONFIG envelope', async () => {
    const err = await apply(
      genesis,
      configMessage(genesis, lastUpdateOf({}), HeaderType.ORDERER_TRANSACTION),
    );
    assert.match(
      err?.message ?? '',
      /envelope unmarshalling failed: message of type ORDERER_TRANSACTION is not a CONFIG envelope/,
    );
  });

  it('refuses a next config that does not build (BatchSize.MaxMessageCount 0)', async () => {
    const err = await apply(
      genesis,
      configMessage(configWith(genesis, { maxMessageCount: 0 }, 2), lastUpdateOf({})),
    );
    assert.equal(err?.kind, 'bad-request');
    assert.match(
      err?.message ?? '',
      /config transaction inspection failed: failed to parse config: .*MaxMessageCount/i,
    );
  });
});
