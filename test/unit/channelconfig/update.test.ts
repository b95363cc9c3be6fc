import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { marshalConfigGroup } from '../../../src/channelconfig/configtx-marshal.js';
import { configMapToGroup, mapConfig } from '../../../src/channelconfig/configtx-map.js';
import { checkConfigTransition } from '../../../src/channelconfig/configtx-transition.js';
import { type ConfigUpdateTarget, proposeConfigUpdate } from '../../../src/channelconfig/update.js';
import { OrdererError } from '../../../src/errors.js';
import { asBuffer, common, msp, orderer, toNumber } from '../../../src/protos/index.js';
import {
  ORDERER_ADMIN,
  ORG1_ADMIN,
  ORG2_ADMIN,
  buildTestPolicyManager,
  loadSigner,
  type FixtureSigner,
} from '../../support/configtx-crypto.js';
import {
  configEnvelopeOfBlock,
  lastUpdateBytes,
  makeConfigUpdateEnvelope,
  rawChannelGroupOfBlock,
} from '../../support/configtx-fixtures.js';

const CHANNEL = 'mychannel';
const ordererAdmin = loadSigner(ORDERER_ADMIN);
const org1Admin = loadSigner(ORG1_ADMIN);
const org2Admin = loadSigner(ORG2_ADMIN);

function targetOf(config: common.IConfig, channelId = CHANNEL): ConfigUpdateTarget {
  return {
    channelId,
    sequence: toNumber(config.sequence),
    config,
    policyManager: buildTestPolicyManager(config),
  };
}

const genesis = configEnvelopeOfBlock('golden/mychannel/0.block');
const afterBatchSize = configEnvelopeOfBlock('golden/mychannel/2.block');

function batchSizeValue(maxMessageCount: number): Uint8Array {
  return orderer.BatchSize.encode({
    maxMessageCount,
    absoluteMaxBytes: 10 * 1024 * 1024,
    preferredMaxBytes: 2 * 1024 * 1024,
  }).finish();
}

/** The shape configtxlator compute_update gives for changing /Channel/Orderer/BatchSize. */
function batchSizeUpdate(
  options: { version?: number; modPolicy?: string; readVersion?: number } = {},
): common.IConfigUpdate {
  const readOrderer: common.IConfigGroup = { version: 0 };
  if (options.readVersion !== undefined) readOrderer.values = { BatchSize: { version: options.readVersion } };
  return {
    channelId: CHANNEL,
    readSet: { version: 0, groups: { Orderer: readOrderer } },
    writeSet: {
      version: 0,
      groups: {
        Orderer: {
          version: 0,
          values: {
            BatchSize: {
              version: options.version ?? 1,
              modPolicy: options.modPolicy ?? 'Admins',
              value: batchSizeValue(10),
            },
          },
        },
      },
    },
  };
}

function withoutOrg(config: common.IConfig, org: string): common.IConfig {
  const channelGroup = configMapToGroup(mapConfig(config.channelGroup));
  delete channelGroup.groups!.Application!.groups![org];
  return { sequence: config.sequence, channelGroup };
}

function mspValueWithName(orgGroup: common.IConfigGroup, name: string): Uint8Array {
  const mspConfig = msp.MSPConfig.decode(asBuffer(orgGroup.values!.MSP!.value));
  const fabric = msp.FabricMSPConfig.decode(asBuffer(mspConfig.config));
  fabric.name = name;
  return msp.MSPConfig.encode({
    type: mspConfig.type,
    config: msp.FabricMSPConfig.encode(fabric).finish(),
  }).finish();
}

async function rejection(target: ConfigUpdateTarget, envelope: Buffer): Promise<OrdererError> {
  try {
    await proposeConfigUpdate(target, envelope);
  } catch (err) {
    assert.ok(err instanceof OrdererError, `expected OrdererError, got ${String(err)}`);
    return err;
  }
  assert.fail('the update was accepted');
}

describe('proposeConfigUpdate: golden replay', () => {
  it('reproduces the Go orderer config of mychannel block 2 from its last_update (BatchSize 500 -> 10)', async () => {
    const result = await proposeConfigUpdate(targetOf(genesis.config!), afterBatchSize.lastUpdate!);
    assert.equal(toNumber(result.config!.sequence), toNumber(afterBatchSize.config!.sequence));
    assert.equal(toNumber(result.config!.sequence), 2);
    assert.deepEqual(
      marshalConfigGroup(result.config!.channelGroup!),
      marshalConfigGroup(afterBatchSize.config!.channelGroup!),
    );
    assert.deepEqual(lastUpdateBytes(result), lastUpdateBytes(afterBatchSize));
    const batchSize = orderer.BatchSize.decode(
      asBuffer(result.config!.channelGroup!.groups!.Orderer!.values!.BatchSize!.value),
    );
    assert.equal(batchSize.maxMessageCount, 10);
  });

  it('canonical encoding keeps every byte of the Go config (only map order differs)', () => {
    for (const [file, envelope] of [
      ['golden/mychannel/0.block', genesis],
      ['golden/mychannel/2.block', afterBatchSize],
    ] as const) {
      const raw = rawChannelGroupOfBlock(file);
      const canonical = marshalConfigGroup(envelope.config!.channelGroup!);
      assert.equal(canonical.length, raw.length, file);
      assert.deepEqual(marshalConfigGroup(common.ConfigGroup.decode(raw)), canonical, file);
    }
  });

  it('canonical encoding sorts map keys by bytes, integer-like keys included', () => {
    const a = marshalConfigGroup({ values: { b: { version: 1 }, '10': {}, '9': {}, A: {} } });
    const b = marshalConfigGroup({ values: { A: {}, '9': {}, b: { version: 1 }, '10': {} } });
    assert.deepEqual(a, b);
    const decodedKeys = Object.keys(common.ConfigGroup.decode(a).values);
    // Object.keys puts integer-like keys first, so compare the wire order through the raw bytes instead.
    assert.deepEqual(decodedKeys.sort(), ['10', '9', 'A', 'b']);
    const order = ['10', '9', 'A', 'b'].map((k) =>
      a.indexOf(Buffer.from([0x0a, k.length, ...Buffer.from(k)])),
    );
    assert.deepEqual(
      [...order].sort((x, y) => x - y),
      order,
    );
  });

  it('accepts a BatchSize change signed by the orderer admin and leaves the current config untouched', async () => {
    const before = marshalConfigGroup(genesis.config!.channelGroup!);
    const result = await proposeConfigUpdate(
      targetOf(genesis.config!),
      makeConfigUpdateEnvelope(CHANNEL, batchSizeUpdate(), [ordererAdmin]),
    );
    assert.deepEqual(
      marshalConfigGroup(result.config!.channelGroup!),
      marshalConfigGroup(afterBatchSize.config!.channelGroup!),
    );
    assert.deepEqual(marshalConfigGroup(genesis.config!.channelGroup!), before);
  });

  it('adds a new element when its group is bumped, authorized by the group mod_policy', async () => {
    const update: common.IConfigUpdate = {
      channelId: CHANNEL,
      readSet: { version: 0, groups: { Application: { version: 1, groups: { Org1MSP: { version: 0 } } } } },
      writeSet: {
        version: 0,
        groups: {
          Application: {
            version: 1,
            groups: {
              Org1MSP: {
                version: 1,
                modPolicy: 'Admins',
                values: {
                  MSP: { version: 0 },
                  AnchorPeers: { version: 0, modPolicy: 'Admins', value: Buffer.from('x') },
                },
                policies: Object.fromEntries(
                  ['Admins', 'Endorsement', 'Readers', 'Writers'].map((p) => [p, { version: 0 }]),
                ),
              },
            },
          },
        },
      },
    };
    // The read set must also pin the org's members it keeps.
    update.readSet!.groups!.Application!.groups!.Org1MSP = {
      version: 0,
      values: { MSP: { version: 0 } },
      policies: Object.fromEntries(
        ['Admins', 'Endorsement', 'Readers', 'Writers'].map((p) => [p, { version: 0 }]),
      ),
    };
    const result = await proposeConfigUpdate(
      targetOf(genesis.config!),
      makeConfigUpdateEnvelope(CHANNEL, update, [org1Admin]),
    );
    const org1 = result.config!.channelGroup!.groups!.Application!.groups!.Org1MSP!;
    assert.equal(toNumber(org1.version), 1);
    assert.deepEqual(Object.keys(org1.values!).sort(), ['AnchorPeers', 'MSP']);
    assert.deepEqual(Object.keys(org1.policies!).sort(), ['Admins', 'Endorsement', 'Readers', 'Writers']);
  });
});

interface RejectionCase {
  name: string;
  target?: () => ConfigUpdateTarget;
  update: () => common.IConfigUpdate;
  signers: FixtureSigner[];
  expect: RegExp[];
}

const rejectionCases: RejectionCase[] = [
  {
    name: 'stale read set',
    target: () => targetOf(afterBatchSize.config!),
    update: () => batchSizeUpdate({ readVersion: 0 }),
    signers: [ordererAdmin],
    expect: [
      /^error authorizing update: error validating ReadSet: /,
      /read set of \/Channel\/Orderer\/BatchSize is at version 0 but the channel has version 1/,
      /fetch the latest config block and recompute the update/,
    ],
  },
  {
    name: 'empty delta',
    update: () => ({
      channelId: CHANNEL,
      readSet: { version: 0, groups: { Orderer: { version: 0, values: { BatchSize: { version: 0 } } } } },
      writeSet: { version: 0, groups: { Orderer: { version: 0, values: { BatchSize: { version: 0 } } } } },
    }),
    signers: [ordererAdmin],
    expect: [/delta set was empty -- update would have no effect/, /raise the version/],
  },
  {
    name: 'missing admin signature (signed by an application admin only)',
    update: () => batchSizeUpdate(),
    signers: [org1Admin],
    expect: [
      /policy for \[Value\] {2}\/Channel\/Orderer\/BatchSize not satisfied/,
      /requires policy \/Channel\/Orderer\/Admins/,
      /OrdererMSP\.admin/,
      /1 signature\(s\), from Org1MSP 'Admin@org1\.example\.com'/,
    ],
  },
  {
    name: 'no signatures at all',
    update: () => batchSizeUpdate(),
    signers: [],
    expect: [/requires policy \/Channel\/Orderer\/Admins/, /carries no signatures/],
  },
  {
    name: 'signature from an org not on the channel',
    target: () => targetOf(withoutOrg(genesis.config!, 'Org2MSP')),
    update: () => ({
      channelId: CHANNEL,
      readSet: { version: 0, groups: { Application: { version: 1 } } },
      writeSet: {
        version: 0,
        groups: {
          Application: {
            version: 1,
            values: { Capabilities: { version: 1, modPolicy: 'Admins', value: Buffer.from([]) } },
          },
        },
      },
    }),
    signers: [org2Admin],
    expect: [
      /requires policy \/Channel\/Application\/Admins/,
      /MSP Org2MSP is not defined on the channel/,
      /from Org2MSP 'Admin@org2\.example\.com'/,
    ],
  },
  {
    name: 'wrong channel ID',
    update: () => ({ ...batchSizeUpdate(), channelId: 'otherchannel' }),
    signers: [ordererAdmin],
    expect: [/ConfigUpdate for channel 'otherchannel' but envelope for channel 'mychannel'/],
  },
  {
    name: 'changed MSP ID of an existing org',
    update: () => ({
      channelId: CHANNEL,
      readSet: { version: 0, groups: { Application: { version: 1, groups: { Org1MSP: { version: 0 } } } } },
      writeSet: {
        version: 0,
        groups: {
          Application: {
            version: 1,
            groups: {
              Org1MSP: {
                version: 0,
                values: {
                  MSP: {
                    version: 1,
                    modPolicy: 'Admins',
                    value: mspValueWithName(
                      genesis.config!.channelGroup!.groups!.Application!.groups!.Org1MSP!,
                      'Org9MSP',
                    ),
                  },
                },
              },
            },
          },
        },
      },
    }),
    signers: [org1Admin],
    expect: [/application org Org1MSP attempted to change MSP ID from Org1MSP to Org9MSP/],
  },
  {
    name: 'removed Orderer group',
    update: () => {
      const channel = genesis.config!.channelGroup!;
      const pinned = (record: Record<string, { version?: unknown }> | null | undefined) =>
        Object.fromEntries(
          Object.entries(record ?? {}).map(([k, v]) => [k, { version: toNumber(v.version as number) }]),
        );
      const members = {
        groups: { Application: { version: 1 } },
        values: pinned(channel.values),
        policies: pinned(channel.policies),
      };
      return {
        channelId: CHANNEL,
        readSet: { version: 0, ...members },
        writeSet: { version: 1, modPolicy: 'Admins', ...members },
      };
    },
    signers: [ordererAdmin, org1Admin, org2Admin],
    expect: [/current config has orderer section, but new config does not/],
  },
  {
    name: 'version skipped (current + 2)',
    update: () => batchSizeUpdate({ version: 2 }),
    signers: [ordererAdmin],
    expect: [
      /attempt to set key \[Value\] {2}\/Channel\/Orderer\/BatchSize to version 2, but key is at version 0/,
      /must be exactly 1/,
    ],
  },
  {
    name: 'empty mod_policy',
    update: () => batchSizeUpdate({ modPolicy: '' }),
    signers: [ordererAdmin],
    expect: [/invalid mod_policy for element \[Value\] {2}\/Channel\/Orderer\/BatchSize: mod_policy not set/],
  },
  {
    name: 'mod_policy with an illegal path element',
    update: () => batchSizeUpdate({ modPolicy: 'Orderer//Admins' }),
    signers: [ordererAdmin],
    expect: [/invalid mod_policy for element .*path element at 1 is invalid/],
  },
  {
    name: 'mod_policy naming no policy',
    update: () => batchSizeUpdate({ modPolicy: 'Operators' }),
    signers: [ordererAdmin],
    expect: [
      /mod_policy 'Operators' resolves to \/Channel\/Orderer\/Operators, which is not a policy of the resulting config/,
    ],
  },
  {
    name: 'new element with a non-zero version',
    update: () => ({
      channelId: CHANNEL,
      readSet: { version: 0, groups: { Orderer: { version: 0 } } },
      writeSet: {
        version: 0,
        groups: { Orderer: { version: 0, values: { Extra: { version: 3, modPolicy: 'Admins' } } } },
      },
    }),
    signers: [ordererAdmin],
    expect: [
      /attempted to set key \[Value\] {2}\/Channel\/Orderer\/Extra to version 3, but key does not exist/,
    ],
  },
  {
    name: 'new element whose group is not bumped',
    update: () => ({
      channelId: CHANNEL,
      readSet: { version: 0, groups: { Orderer: { version: 0 } } },
      writeSet: {
        version: 0,
        groups: { Orderer: { version: 0, values: { Extra: { version: 0, modPolicy: 'Admins' } } } },
      },
    }),
    signers: [ordererAdmin],
    expect: [
      /value \/Channel\/Orderer\/Extra is new but its group \/Channel\/Orderer is not changed/,
      /version of \/Channel\/Orderer to 1/,
    ],
  },
  {
    name: 'read set naming an element that does not exist',
    update: () => ({
      ...batchSizeUpdate(),
      readSet: { version: 0, groups: { Orderer: { version: 0, values: { Nope: { version: 0 } } } } },
    }),
    signers: [ordererAdmin],
    expect: [
      /existing config does not contain element for \[Value\] {2}\/Channel\/Orderer\/Nope but was in the read set/,
    ],
  },
];

describe('proposeConfigUpdate: rejected updates', () => {
  for (const testCase of rejectionCases) {
    it(testCase.name, async () => {
      const target = testCase.target ? testCase.target() : targetOf(genesis.config!);
      const envelope = makeConfigUpdateEnvelope(CHANNEL, testCase.update(), testCase.signers);
      const err = await rejection(target, envelope);
      assert.equal(err.kind, 'bad-request');
      for (const pattern of testCase.expect) assert.match(err.message, pattern);
    });
  }

  it('rejects an envelope that is not a CONFIG_UPDATE', async () => {
    const envelope = common.Envelope.encode({
      payload: common.Payload.encode({
        header: {
          channelHeader: common.ChannelHeader.encode({
            type: common.HeaderType.ENDORSER_TRANSACTION,
            channelId: CHANNEL,
          }).finish(),
        },
      }).finish(),
    }).finish();
    const err = await rejection(targetOf(genesis.config!), Buffer.from(envelope));
    assert.match(
      err.message,
      /^error converting envelope to config update: invalid type ENDORSER_TRANSACTION, expected CONFIG_UPDATE/,
    );
  });
});

describe('checkConfigTransition', () => {
  it('accepts the golden transitions and rejects a removed Application or a new Consortiums section', () => {
    checkConfigTransition(genesis.config!, afterBatchSize.config!);
    const noApplication = configMapToGroup(mapConfig(genesis.config!.channelGroup));
    delete noApplication.groups!.Application;
    assert.throws(
      () => checkConfigTransition(genesis.config!, { channelGroup: noApplication }),
      /current config has application section, but new config does not/,
    );
    const withConsortiums = configMapToGroup(mapConfig(genesis.config!.channelGroup));
    withConsortiums.groups!.Consortiums = { version: 0 };
    assert.throws(
      () => checkConfigTransition(genesis.config!, { channelGroup: withConsortiums }),
      /current config has no consortiums section, but new config does/,
    );
  });
});

describe('configMapToGroup', () => {
  it("rewrites empty mod_policies to 'Admins' once the orderer has capabilities, as Fabric's v1.0 upgrade fix does", () => {
    const legacy: common.IConfigGroup = {
      groups: {
        Orderer: { values: { Capabilities: { modPolicy: 'Admins' }, BatchSize: { modPolicy: '' } } },
      },
      policies: { Admins: { modPolicy: '' } },
    };
    const rebuilt = configMapToGroup(mapConfig(legacy));
    assert.equal(rebuilt.modPolicy, 'Admins');
    assert.equal(rebuilt.groups!.Orderer!.values!.BatchSize!.modPolicy, 'Admins');
    assert.equal(rebuilt.policies!.Admins!.modPolicy, 'Admins');

    delete legacy.groups!.Orderer!.values!.Capabilities;
    const untouched = configMapToGroup(mapConfig(legacy));
    assert.equal(untouched.groups!.Orderer!.values!.BatchSize!.modPolicy, '');
  });

  it('rejects keys that are not valid config IDs, naming the element', () => {
    assert.throws(() => mapConfig({ groups: { 'bad/key': {} } }), /illegal key in group \/Channel\/bad\/key/);
  });
});
