import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { marshalConfigEnvelope, marshalConfigGroup } from '../../../src/channelconfig/configtx-marshal.js';
import { createChannelConfig, newChannelTemplate } from '../../../src/channelconfig/creation.js';
import { decodeConfigUpdate } from '../../../src/channelconfig/update.js';
import { OrdererError } from '../../../src/errors.js';
import { common, toNumber } from '../../../src/protos/index.js';
import {
  ORDERER_ADMIN,
  ORG1_ADMIN,
  ORG2_ADMIN,
  buildTestPolicyManager,
  loadSigner,
  signConfigUpdateEnvelope,
} from '../../support/configtx-crypto.js';
import {
  configEnvelopeOfBlock,
  fixtureBytes,
  lastUpdateBytes,
  rewriteConfigUpdate,
} from '../../support/configtx-fixtures.js';

const systemConfig = configEnvelopeOfBlock('blocks/sys-solo.block').config!;
const goldenCreation = configEnvelopeOfBlock('golden/system-channel/1.block', true);
const goldenGenesis = configEnvelopeOfBlock('golden/mychannel/0.block');
const unsignedRequest = fixtureBytes('blocks/mychannel-create.tx');
const dependencies = {
  policyManagerFor: (_channelId: string, config: common.IConfig) => buildTestPolicyManager(config),
};

const org1Admin = loadSigner(ORG1_ADMIN);

async function rejection(request: Buffer | common.IEnvelope): Promise<OrdererError> {
  try {
    await createChannelConfig(systemConfig, request, dependencies);
  } catch (err) {
    assert.ok(err instanceof OrdererError, `expected OrdererError, got ${String(err)}`);
    return err;
  }
  assert.fail('the channel creation request was accepted');
}

describe('createChannelConfig: golden replay', () => {
  it('produces the config the Go orderer made for mychannel from the signed request it received', async () => {
    const result = await createChannelConfig(systemConfig, goldenCreation.lastUpdate!, dependencies);
    assert.equal(toNumber(result.config!.sequence), 1);
    assert.equal(toNumber(goldenGenesis.config!.sequence), 1);
    assert.deepEqual(
      marshalConfigGroup(result.config!.channelGroup!),
      marshalConfigGroup(goldenGenesis.config!.channelGroup!),
    );
    assert.deepEqual(
      marshalConfigGroup(result.config!.channelGroup!),
      marshalConfigGroup(goldenCreation.config!.channelGroup!),
    );
    assert.deepEqual(lastUpdateBytes(result), lastUpdateBytes(goldenGenesis));
    assert.deepEqual(marshalConfigEnvelope(result), marshalConfigEnvelope(goldenGenesis));
  });

  it('accepts mychannel-create.tx once signed by an Org1 admin, with the same resulting config', async () => {
    const signed = signConfigUpdateEnvelope(unsignedRequest, [org1Admin]);
    const result = await createChannelConfig(systemConfig, signed, dependencies);
    assert.deepEqual(
      marshalConfigGroup(result.config!.channelGroup!),
      marshalConfigGroup(goldenGenesis.config!.channelGroup!),
    );
  });

  it('builds the template as Fabric: orderer group copied, consortium orgs at version 0, ChannelCreationPolicy as mod_policy', () => {
    const template = newChannelTemplate(systemConfig, decodeConfigUpdate(unsignedRequest));
    assert.equal(template.channelId, 'mychannel');
    assert.equal(template.consortium, 'SampleConsortium');
    const group = template.config.channelGroup!;
    assert.equal(group.modPolicy, 'Admins');
    assert.deepEqual(Object.keys(group.groups!), ['Application', 'Orderer']);
    assert.deepEqual(Object.keys(group.values!), [
      'BlockDataHashingStructure',
      'Capabilities',
      'Consortium',
      'HashingAlgorithm',
      'OrdererAddresses',
    ]);
    assert.deepEqual(
      marshalConfigGroup(group.groups!.Orderer!),
      marshalConfigGroup(systemConfig.channelGroup!.groups!.Orderer!),
    );
    const application = group.groups!.Application!;
    assert.equal(application.modPolicy, 'ChannelCreationPolicy');
    assert.deepEqual(Object.keys(application.policies!), ['ChannelCreationPolicy']);
    assert.deepEqual(Object.keys(application.groups!), ['Org1MSP', 'Org2MSP']);
    const consortium = systemConfig.channelGroup!.groups!.Consortiums!.groups!.SampleConsortium!;
    assert.deepEqual(
      Buffer.from(common.Policy.encode(application.policies!.ChannelCreationPolicy!.policy!).finish()),
      Buffer.from(consortium.values!.ChannelCreationPolicy!.value!),
    );
  });
});

const rejections: { name: string; request: () => Buffer; expect: RegExp[] }[] = [
  {
    name: 'unsigned request',
    request: () => unsignedRequest,
    expect: [
      /^error validating channel creation transaction for new channel 'mychannel', could not successfully apply update to template configuration: error authorizing update: /,
      /requires policy \/Channel\/Application\/ChannelCreationPolicy/,
      /carries no signatures/,
    ],
  },
  {
    name: 'signed by the orderer admin only (not a consortium member admin)',
    request: () => signConfigUpdateEnvelope(unsignedRequest, [loadSigner(ORDERER_ADMIN)]),
    expect: [
      /requires policy \/Channel\/Application\/ChannelCreationPolicy/,
      /from OrdererMSP 'Admin@example\.com'/,
    ],
  },
  {
    name: 'unknown consortium',
    request: () =>
      signConfigUpdateEnvelope(
        rewriteConfigUpdate(unsignedRequest, (update) => {
          update.writeSet!.values!.Consortium!.value = common.Consortium.encode({
            name: 'OtherConsortium',
          }).finish();
        }),
        [org1Admin],
      ),
    expect: [
      /Unknown consortium name: OtherConsortium \(consortiums on the system channel: SampleConsortium\)/,
    ],
  },
  {
    name: 'org outside the consortium',
    request: () =>
      signConfigUpdateEnvelope(
        rewriteConfigUpdate(unsignedRequest, (update) => {
          update.writeSet!.groups!.Application!.groups!.Org3MSP = { version: 0 };
        }),
        [org1Admin],
      ),
    expect: [/Org3MSP is not a member of consortium SampleConsortium \(members: Org1MSP, Org2MSP\)/],
  },
  {
    name: 'application group not at version 1',
    request: () =>
      rewriteConfigUpdate(unsignedRequest, (update) => {
        update.writeSet!.groups!.Application!.version = 2;
      }),
    expect: [/does not set application group version to 1, was 2/],
  },
  {
    name: 'no Consortium value',
    request: () =>
      rewriteConfigUpdate(unsignedRequest, (update) => {
        delete update.writeSet!.values!.Consortium;
      }),
    expect: [/Consortium config value missing/],
  },
  {
    name: 'no application members although the consortium has members',
    request: () =>
      rewriteConfigUpdate(unsignedRequest, (update) => {
        update.writeSet!.groups!.Application!.groups = {};
      }),
    expect: [
      /no application group members, but consortium contains members: add at least one of Org1MSP, Org2MSP/,
    ],
  },
  {
    name: 'invalid channel name',
    request: () =>
      rewriteConfigUpdate(unsignedRequest, (update) => {
        update.channelId = 'MyChannel';
      }),
    expect: [/mismatched channel IDs: 'MyChannel' != 'mychannel'/],
  },
];

describe('createChannelConfig: rejected requests', () => {
  for (const testCase of rejections) {
    it(testCase.name, async () => {
      const err = await rejection(testCase.request());
      assert.equal(err.kind, 'bad-request');
      for (const pattern of testCase.expect) assert.match(err.message, pattern);
    });
  }

  it('accepts a request for a subset of the consortium (Org2 only), signed by its admin', async () => {
    const request = rewriteConfigUpdate(unsignedRequest, (update) => {
      delete update.readSet!.groups!.Application!.groups!.Org1MSP;
      delete update.writeSet!.groups!.Application!.groups!.Org1MSP;
    });
    const result = await createChannelConfig(
      systemConfig,
      signConfigUpdateEnvelope(request, [loadSigner(ORG2_ADMIN)]),
      dependencies,
    );
    assert.deepEqual(Object.keys(result.config!.channelGroup!.groups!.Application!.groups!), ['Org2MSP']);
  });
});
