import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  buildBundle,
  buildBundleFromConfigBlock,
  etcdraftConfigOf,
  readConfigBlock,
} from '../../../src/channelconfig/index.js';
import { common, etcdraft, orderer as ordererProtos } from '../../../src/protos/index.js';
import { fixturesDir, testMspDependencies } from '../../support/test-msp.js';

// The etcdraft ConfigMetadata checked once with the bundle (OrdererConfig.etcdraft), as Fabric's
// VerifyConfigMetadata checks it, and read through etcdraftConfigOf.

const raftBlock = common.Block.decode(readFileSync(`${fixturesDir}blocks/appraft-genesis.block`));
const soloBlock = common.Block.decode(readFileSync(`${fixturesDir}blocks/appsolo-genesis.block`));

/** The appraft genesis config with its etcdraft ConfigMetadata edited, built into a bundle. */
function raftBundleWith(edit: (metadata: etcdraft.ConfigMetadata) => void) {
  const { channelId, configEnvelope } = readConfigBlock(raftBlock);
  const config = common.Config.decode(common.Config.encode(configEnvelope.config!).finish());
  const consensusValue = config.channelGroup!.groups!['Orderer']!.values!['ConsensusType']!;
  const consensusType = ordererProtos.ConsensusType.decode(consensusValue.value!);
  const metadata = etcdraft.ConfigMetadata.decode(consensusType.metadata);
  edit(metadata);
  consensusType.metadata = etcdraft.ConfigMetadata.encode(metadata).finish();
  consensusValue.value = ordererProtos.ConsensusType.encode(consensusType).finish();
  return buildBundle(channelId, config, testMspDependencies);
}

describe('etcdraft ConfigMetadata checked with the bundle', () => {
  it('an etcdraft bundle carries the checked config, and etcdraftConfigOf returns that same object', () => {
    const bundle = buildBundleFromConfigBlock(raftBlock, testMspDependencies);
    const checked = bundle.orderer!.etcdraft;
    assert.ok(checked, 'an etcdraft channel bundle has orderer.etcdraft');
    assert.equal(checked.error, undefined);
    assert.deepEqual(
      checked.config!.consenters.map((c) => `${c.host}:${c.port}`),
      ['127.0.0.1:7051', '127.0.0.1:7052', '127.0.0.1:7053'],
    );
    assert.equal(checked.config!.options.electionTick, 10);
    // Read, not checked again: the same object comes back.
    assert.equal(etcdraftConfigOf(bundle.orderer!, bundle.mspManager), checked.config);
  });

  it('a solo bundle has no etcdraft part', () => {
    const bundle = buildBundleFromConfigBlock(soloBlock, testMspDependencies);
    assert.equal(bundle.orderer!.consensusType, 'solo');
    assert.equal(bundle.orderer!.etcdraft, undefined);
  });

  const badMetadata: Array<[string, (m: etcdraft.ConfigMetadata) => void, RegExp]> = [
    [
      'ElectionTick not above HeartbeatTick',
      (m) => (m.options!.electionTick = 1),
      /ElectionTick \(1\) must be greater than HeartbeatTick \(1\)/,
    ],
    ['an empty consenter set', (m) => (m.consenters = []), /empty consenter set/],
    [
      'a consenter certificate that does not chain to an orderer org TLS CA',
      (m) =>
        (m.consenters[1]!.clientTlsCert = readFileSync(
          `${fixturesDir}crypto/peerOrganizations/org1.example.com/peers/peer0.org1.example.com/tls/server.crt`,
        )),
      /consenter 127\.0\.0\.1:7052 has invalid certificate: verifying tls client cert .*certificate signed by unknown authority/,
    ],
  ];
  for (const [name, edit, expected] of badMetadata) {
    it(`a bundle with ${name} still builds (as Fabric's NewBundle) and carries the check's error`, () => {
      const bundle = raftBundleWith(edit);
      const checked = bundle.orderer!.etcdraft!;
      assert.equal(checked.config, undefined);
      assert.match(checked.error!.message, expected);
      // The consenter reads the config through etcdraftConfigOf, which throws the same error.
      assert.throws(() => etcdraftConfigOf(bundle.orderer!, bundle.mspManager), (err: Error) => {
        assert.equal(err, checked.error);
        return true;
      });
    });
  }

  it('an Orderer config without the bundle check (as the old side of a migration) is checked on demand', () => {
    const bundle = buildBundleFromConfigBlock(raftBlock, testMspDependencies);
    const { etcdraft: _checked, ...unchecked } = bundle.orderer!;
    const config = etcdraftConfigOf(unchecked, bundle.mspManager);
    assert.deepEqual(config, bundle.orderer!.etcdraft!.config);
  });

  it('the same config built twice checks to equal configs (the check is a pure function of the config)', () => {
    const edited = raftBundleWith((m) => (m.options!.snapshotIntervalSize = 4096));
    const again = raftBundleWith((m) => (m.options!.snapshotIntervalSize = 4096));
    assert.equal(edited.orderer!.etcdraft!.config!.options.snapshotIntervalSize, 4096);
    assert.deepEqual(edited.orderer!.etcdraft, again.orderer!.etcdraft);
  });
});
