import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  buildBundle,
  buildBundleFromConfigBlock,
  configEnvelopeFromBlock,
  type BundleDependencies,
  type MspSetupContext,
} from '../../../src/channelconfig/index.js';
import { OrdererError } from '../../../src/errors.js';
import { common, etcdraft, msp, orderer } from '../../../src/protos/index.js';
import {
  createTestMsp,
  createTestMspManager,
  fixturesDir,
  testMspDependencies,
} from '../../support/test-msp.js';

const readBlock = (path: string) => common.Block.decode(readFileSync(`${fixturesDir}${path}`));
const MB = 1024 * 1024;

describe('bundles of the fixture config blocks', () => {
  const cases = [
    {
      file: 'blocks/sys-solo.block',
      channel: 'system-channel',
      consensus: 'solo',
      maxCount: 500,
      system: true,
    },
    {
      file: 'blocks/sys-kafka.block',
      channel: 'system-channel',
      consensus: 'kafka',
      maxCount: 500,
      system: true,
    },
    {
      file: 'blocks/sys-raft.block',
      channel: 'system-channel',
      consensus: 'etcdraft',
      maxCount: 500,
      system: true,
    },
    {
      file: 'blocks/appsolo-genesis.block',
      channel: 'appsolo',
      consensus: 'solo',
      maxCount: 500,
      system: false,
    },
    {
      file: 'blocks/appraft-genesis.block',
      channel: 'appraft',
      consensus: 'etcdraft',
      maxCount: 500,
      system: false,
    },
    {
      file: 'golden/mychannel/0.block',
      channel: 'mychannel',
      consensus: 'solo',
      maxCount: 500,
      system: false,
    },
    {
      file: 'golden/mychannel/2.block',
      channel: 'mychannel',
      consensus: 'solo',
      maxCount: 10,
      system: false,
    },
  ];
  for (const c of cases) {
    it(`${c.file}: ${c.channel}, ${c.consensus}, MaxMessageCount ${c.maxCount}`, () => {
      const bundle = buildBundleFromConfigBlock(readBlock(c.file), testMspDependencies);
      assert.equal(bundle.channelId, c.channel);
      assert.equal(bundle.channel.hashingAlgorithm, 'SHA256');
      assert.equal(bundle.channel.blockDataHashingWidth, 4294967295);
      assert.deepEqual(bundle.channel.ordererAddresses, ['127.0.0.1:7050']);
      assert.deepEqual([...bundle.channel.capabilities], ['V2_0']);

      const o = bundle.orderer!;
      assert.equal(o.consensusType, c.consensus);
      assert.equal(o.consensusState, 'NORMAL');
      assert.deepEqual(o.batchSize, {
        maxMessageCount: c.maxCount,
        absoluteMaxBytes: 10 * MB,
        preferredMaxBytes: 2 * MB,
      });
      assert.equal(o.batchTimeoutMs, 2000);
      assert.equal(o.maxChannels, 0);
      assert.deepEqual([...o.capabilities], ['V2_0']);
      assert.deepEqual(
        [...o.organizations.values()],
        [{ name: 'OrdererOrg', mspId: 'OrdererMSP', endpoints: ['127.0.0.1:7050'] }],
      );
      assert.deepEqual(o.kafkaBrokers, c.consensus === 'kafka' ? ['127.0.0.1:9092'] : []);
      if (c.consensus === 'etcdraft') {
        const metadata = etcdraft.ConfigMetadata.decode(o.consensusMetadata);
        assert.deepEqual(
          metadata.consenters.map((x) => `${x.host}:${x.port}`),
          ['127.0.0.1:7051', '127.0.0.1:7052', '127.0.0.1:7053'],
        );
      } else {
        assert.equal(o.consensusMetadata.length, 0);
      }

      assert.deepEqual([...bundle.mspManager.msps.keys()].sort(), ['OrdererMSP', 'Org1MSP', 'Org2MSP']);
      if (c.system) {
        assert.equal(bundle.application, undefined);
        const consortium = bundle.consortiums!.get('SampleConsortium')!;
        assert.deepEqual(
          [...consortium.organizations.values()].map((org) => org.mspId),
          ['Org1MSP', 'Org2MSP'],
        );
        assert.equal(consortium.channelCreationPolicy.type, common.Policy.PolicyType.IMPLICIT_META);
        assert.equal(bundle.channel.consortium, undefined);
      } else {
        assert.equal(bundle.consortiums, undefined);
        assert.deepEqual([...bundle.application!.capabilities], ['V2_5']);
        assert.deepEqual(
          [...bundle.application!.organizations.values()].map((org) => [org.name, org.mspId]),
          [
            ['Org1MSP', 'Org1MSP'],
            ['Org2MSP', 'Org2MSP'],
          ],
        );
        assert.equal(bundle.channel.consortium, c.channel === 'mychannel' ? 'SampleConsortium' : undefined);
      }
      for (const path of [
        '/Channel/Readers',
        '/Channel/Writers',
        '/Channel/Admins',
        '/Channel/Orderer/BlockValidation',
      ]) {
        assert.ok(bundle.policyManager.getPolicy(path), path);
      }
    });
  }

  it('sequence comes from the config (mychannel block 2 is sequence 2)', () => {
    assert.equal(
      buildBundleFromConfigBlock(readBlock('golden/mychannel/2.block'), testMspDependencies).sequence,
      2,
    );
    assert.equal(
      buildBundleFromConfigBlock(readBlock('blocks/sys-solo.block'), testMspDependencies).sequence,
      0,
    );
  });

  it('hands each org MSP config to createMsp once per MSP ID, with the MSP version of the channel capabilities', () => {
    const calls: MspSetupContext[] = [];
    const dependencies: BundleDependencies = {
      createMsp: (config, context) => {
        calls.push(context);
        return createTestMsp(config);
      },
      createMspManager: createTestMspManager,
    };
    const bundle = buildBundleFromConfigBlock(readBlock('blocks/sys-solo.block'), dependencies);
    assert.deepEqual(
      calls.map((c) => c.orgPath),
      [
        '/Channel/Consortiums/SampleConsortium/Org1MSP',
        '/Channel/Consortiums/SampleConsortium/Org2MSP',
        '/Channel/Orderer/OrdererOrg',
      ],
    );
    assert.ok(calls.every((c) => c.mspVersion === 'v1.4.3' && c.channelId === 'system-channel'));
    assert.equal(bundle.mspManager.msps.size, 3);
  });
});

/** A fresh decoded copy of the appsolo genesis config, to break in one place per case. */
function appConfig(): common.IConfig {
  return configEnvelopeFromBlock(readBlock('blocks/appsolo-genesis.block')).config!;
}
const ordererGroup = (config: common.IConfig) => config.channelGroup!.groups!['Orderer']!;
const setValue = (group: common.IConfigGroup, key: string, value: Uint8Array) => {
  group.values![key] = { modPolicy: 'Admins', value };
};
const batchSize = (maxMessageCount: number, absoluteMaxBytes: number, preferredMaxBytes: number) =>
  orderer.BatchSize.encode({ maxMessageCount, absoluteMaxBytes, preferredMaxBytes }).finish();
const capabilities = (...names: string[]) =>
  common.Capabilities.encode({ capabilities: Object.fromEntries(names.map((n) => [n, {}])) }).finish();

describe('invalid configs', () => {
  const cases: {
    name: string;
    breakIt: (config: common.IConfig) => void;
    error: RegExp;
    channelId?: string;
  }[] = [
    {
      name: 'unknown value in /Channel/Orderer',
      breakIt: (c) => setValue(ordererGroup(c), 'BatchSise', new Uint8Array()),
      error:
        /at \/Channel\/Orderer\/BatchSise: unknown config value BatchSise \(values allowed in \/Channel\/Orderer: ConsensusType, BatchSize/,
    },
    {
      name: 'unknown value in /Channel',
      breakIt: (c) => setValue(c.channelGroup!, 'Foo', new Uint8Array()),
      error: /at \/Channel\/Foo: unknown config value Foo/,
    },
    {
      name: 'unknown group in /Channel',
      breakIt: (c) => {
        c.channelGroup!.groups!['Peers'] = {};
      },
      error:
        /at \/Channel\/Peers: unknown group Peers \(groups allowed in \/Channel: Orderer, Application, Consortiums\)/,
    },
    {
      name: 'unknown value in an application org',
      breakIt: (c) =>
        setValue(c.channelGroup!.groups!['Application']!.groups!['Org1MSP']!, 'Endpoints', new Uint8Array()),
      error:
        /at \/Channel\/Application\/Org1MSP\/Endpoints: unknown config value Endpoints \(values allowed in \/Channel\/Application\/Org1MSP: MSP, AnchorPeers\)/,
    },
    {
      name: 'sub-group in an orderer org',
      breakIt: (c) => {
        ordererGroup(c).groups!['OrdererOrg']!.groups = { Nested: {} };
      },
      error: /at \/Channel\/Orderer\/OrdererOrg\/Nested: an orderer organization does not allow sub-groups/,
    },
    {
      name: 'BatchSize preferred > absolute',
      breakIt: (c) => setValue(ordererGroup(c), 'BatchSize', batchSize(10, MB, 2 * MB)),
      error: /BatchSize.PreferredMaxBytes \(2097152\) is greater than BatchSize.AbsoluteMaxBytes \(1048576\)/,
    },
    {
      name: 'BatchSize zero max message count',
      breakIt: (c) => setValue(ordererGroup(c), 'BatchSize', batchSize(0, MB, MB)),
      error: /at \/Channel\/Orderer\/BatchSize: BatchSize.MaxMessageCount must be greater than 0/,
    },
    {
      name: 'BatchSize zero absolute max bytes',
      breakIt: (c) => setValue(ordererGroup(c), 'BatchSize', batchSize(10, 0, MB)),
      error: /AbsoluteMaxBytes must be greater than 0/,
    },
    {
      name: 'BatchSize missing',
      breakIt: (c) => delete ordererGroup(c).values!['BatchSize'],
      error: /MaxMessageCount must be greater than 0/,
    },
    ...['2 seconds', '', '2', '0s', '-1s'].map((timeout) => ({
      name: `BatchTimeout ${JSON.stringify(timeout)}`,
      breakIt: (c: common.IConfig) =>
        setValue(ordererGroup(c), 'BatchTimeout', orderer.BatchTimeout.encode({ timeout }).finish()),
      error: /at \/Channel\/Orderer\/BatchTimeout: BatchTimeout/,
    })),
    {
      name: 'undecodable BatchSize',
      breakIt: (c) => setValue(ordererGroup(c), 'BatchSize', Buffer.from([0x08])),
      error: /at \/Channel\/Orderer\/BatchSize: value does not decode as orderer.BatchSize/,
    },
    {
      name: 'unknown orderer capability',
      breakIt: (c) => setValue(ordererGroup(c), 'Capabilities', capabilities('V2_0', 'V3_0')),
      error:
        /Orderer capability V3_0 \(at \/Channel\/Orderer\/Capabilities\) is required but not supported by this orderer .*upgrade the orderer binary/,
    },
    {
      name: 'unknown channel capability',
      breakIt: (c) => setValue(c.channelGroup!, 'Capabilities', capabilities('V9_9')),
      error: /Channel capability V9_9 .* is required but not supported/,
    },
    {
      name: 'unknown application capability',
      breakIt: (c) => setValue(c.channelGroup!.groups!['Application']!, 'Capabilities', capabilities('V2_6')),
      error: /Application capability V2_6 .* is required but not supported/,
    },
    {
      name: 'channel capabilities without orderer capabilities',
      breakIt: (c) => delete ordererGroup(c).values!['Capabilities'],
      error: /cannot enable channel capabilities without orderer support first/,
    },
    {
      name: 'orderer org endpoints before V1_4_2',
      breakIt: (c) => setValue(c.channelGroup!, 'Capabilities', capabilities('V1_3')),
      error:
        /orderer org OrdererOrg cannot contain an Endpoints value until V1_4_2\+ channel capabilities are enabled/,
    },
    {
      name: 'hashing algorithm',
      breakIt: (c) =>
        setValue(
          c.channelGroup!,
          'HashingAlgorithm',
          common.HashingAlgorithm.encode({ name: 'MD5' }).finish(),
        ),
      error: /unknown hashing algorithm 'MD5'/,
    },
    {
      name: 'block data hashing width',
      breakIt: (c) =>
        setValue(
          c.channelGroup!,
          'BlockDataHashingStructure',
          common.BlockDataHashingStructure.encode({ width: 5 }).finish(),
        ),
      error: /BlockDataHashingStructure width must be 4294967295 \(got 5\)/,
    },
    {
      name: 'kafka broker entry',
      breakIt: (c) =>
        setValue(
          ordererGroup(c),
          'KafkaBrokers',
          orderer.KafkaBrokers.encode({ brokers: ['kafka'] }).finish(),
        ),
      error: /invalid broker entry 'kafka'/,
    },
    {
      name: 'org without MSP',
      breakIt: (c) => delete c.channelGroup!.groups!['Application']!.groups!['Org2MSP']!.values!['MSP'],
      error: /at \/Channel\/Application\/Org2MSP: organization has no MSP value/,
    },
    {
      name: 'two different MSP configs for one MSP ID',
      breakIt: (c) => {
        const org2 = c.channelGroup!.groups!['Application']!.groups!['Org2MSP']!;
        const config = msp.MSPConfig.decode(org2.values!['MSP']!.value!);
        const fabric = msp.FabricMSPConfig.decode(config.config!);
        fabric.name = 'Org1MSP';
        config.config = msp.FabricMSPConfig.encode(fabric).finish();
        setValue(org2, 'MSP', msp.MSPConfig.encode(config).finish());
      },
      error:
        /attempted to define two different versions of MSP Org1MSP \(also defined at \/Channel\/Application\/Org1MSP\)/,
    },
    {
      name: 'illegal element name',
      breakIt: (c) => {
        c.channelGroup!.groups!['Application']!.policies!['Bad Name'] = {};
      },
      error: /illegal policy name 'Bad Name'/,
    },
    {
      name: 'unknown policy type',
      breakIt: (c) => {
        c.channelGroup!.policies!['Custom'] = { policy: { type: 2, value: new Uint8Array() } };
      },
      error: /policy Custom at path \/Channel has unknown policy type 2/,
    },
    {
      name: 'illegal channel ID',
      breakIt: () => {},
      channelId: 'MyChannel',
      error: /channel ID 'MyChannel' contains illegal characters/,
    },
  ];
  for (const c of cases) {
    it(`rejects ${c.name}`, () => {
      const config = appConfig();
      c.breakIt(config);
      assert.throws(
        () => buildBundle(c.channelId ?? 'appsolo', config, testMspDependencies),
        (err: unknown) => {
          assert.ok(err instanceof OrdererError, String(err));
          assert.equal(err.kind, 'bad-request');
          assert.match(err.message, c.error);
          return true;
        },
      );
    });
  }

  it('the unbroken copy builds (the cases above fail for their own reason)', () => {
    assert.equal(buildBundle('appsolo', appConfig(), testMspDependencies).channelId, 'appsolo');
  });

  it('accepts maintenance mode, channel restrictions and a fractional BatchTimeout', () => {
    const config = appConfig();
    setValue(
      ordererGroup(config),
      'ConsensusType',
      orderer.ConsensusType.encode({ type: 'etcdraft', state: 1 }).finish(),
    );
    setValue(
      ordererGroup(config),
      'ChannelRestrictions',
      orderer.ChannelRestrictions.encode({ maxCount: 7 }).finish(),
    );
    setValue(
      ordererGroup(config),
      'BatchTimeout',
      orderer.BatchTimeout.encode({ timeout: '1m0.5s' }).finish(),
    );
    const bundle = buildBundle('appsolo', config, testMspDependencies);
    assert.equal(bundle.orderer!.consensusState, 'MAINTENANCE');
    assert.equal(bundle.orderer!.maxChannels, 7);
    assert.equal(bundle.orderer!.batchTimeoutMs, 60500);
  });

  it('reports an MSP setup failure with the org path', () => {
    const dependencies: BundleDependencies = {
      createMsp: () => {
        throw new Error('could not obtain certification chain');
      },
      createMspManager: createTestMspManager,
    };
    assert.throws(
      () => buildBundle('appsolo', appConfig(), dependencies),
      /at \/Channel\/Application\/Org1MSP\/MSP: setting up the MSP failed: could not obtain certification chain/,
    );
  });
});
