import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  buildBundleFromConfigBlock,
  DEFAULT_SNAPSHOT_INTERVAL_SIZE,
  etcdraftConfigOf,
  ordererTlsAuthorities,
  parseEtcdraftConfig,
} from '../../../src/channelconfig/index.js';
import { common, etcdraft } from '../../../src/protos/index.js';
import { fixturesDir, testMspDependencies } from '../../support/test-msp.js';

const bundle = buildBundleFromConfigBlock(
  common.Block.decode(readFileSync(`${fixturesDir}blocks/appraft-genesis.block`)),
  testMspDependencies,
);
const orderer = bundle.orderer!;
const authorities = ordererTlsAuthorities(orderer, bundle.mspManager);
const good = etcdraft.ConfigMetadata.decode(orderer.consensusMetadata);

function withEdit(edit: (md: etcdraft.ConfigMetadata) => void): Uint8Array {
  const md = etcdraft.ConfigMetadata.decode(etcdraft.ConfigMetadata.encode(good).finish());
  edit(md);
  return etcdraft.ConfigMetadata.encode(md).finish();
}

describe('etcdraft ConfigMetadata of a channel', () => {
  it('decodes the consenters and options of the configtxgen-made appraft genesis', () => {
    const config = etcdraftConfigOf(orderer, bundle.mspManager);
    assert.deepEqual(
      config.consenters.map((c) => `${c.host}:${c.port}`),
      ['127.0.0.1:7051', '127.0.0.1:7052', '127.0.0.1:7053'],
    );
    assert.ok(config.consenters[0]!.clientTlsCert.toString().startsWith('-----BEGIN CERTIFICATE-----'));
    assert.equal(config.options.tickInterval, '500ms');
    assert.equal(config.options.tickIntervalMs, 500);
    assert.equal(config.options.electionTick, 10);
    assert.equal(config.options.heartbeatTick, 1);
    assert.equal(config.options.maxInflightBlocks, 5);
    assert.ok(config.options.snapshotIntervalSize > 0);
  });

  it("uses Fabric's default snapshot interval when the option is 0", () => {
    const md = withEdit((m) => (m.options!.snapshotIntervalSize = 0));
    assert.equal(
      parseEtcdraftConfig(md, authorities).options.snapshotIntervalSize,
      DEFAULT_SNAPSHOT_INTERVAL_SIZE,
    );
  });

  const refusals: Array<[string, (m: etcdraft.ConfigMetadata) => void, RegExp]> = [
    ['no options', (m) => (m.options = null), /nil Raft config metadata options/],
    [
      'zero heartbeat',
      (m) => (m.options!.heartbeatTick = 0),
      /none of HeartbeatTick \(0\), ElectionTick \(10\) and MaxInflightBlocks \(5\) can be zero/,
    ],
    ['zero inflight', (m) => (m.options!.maxInflightBlocks = 0), /MaxInflightBlocks \(0\) can be zero/],
    [
      'election not above heartbeat',
      (m) => (m.options!.heartbeatTick = 10),
      /ElectionTick \(10\) must be greater than HeartbeatTick \(10\)/,
    ],
    [
      'unparsable tick',
      (m) => (m.options!.tickInterval = 'fast'),
      /failed to parse TickInterval \(fast\) to time duration/,
    ],
    ['zero tick', (m) => (m.options!.tickInterval = '0s'), /TickInterval cannot be zero/],
    ['empty consenter set', (m) => (m.consenters = []), /empty consenter set/],
    [
      'not PEM',
      (m) => (m.consenters[1]!.clientTlsCert = Buffer.from('junk')),
      /consenter 127\.0\.0\.1:7052 has invalid certificate: parsing tls client cert/,
    ],
    [
      'duplicate consenter',
      (m) => (m.consenters[2]!.serverTlsCert = m.consenters[0]!.serverTlsCert),
      /duplicate consenter 127\.0\.0\.1:7053/,
    ],
  ];
  for (const [name, edit, expected] of refusals) {
    it(`refuses ${name}`, () => {
      assert.throws(() => parseEtcdraftConfig(withEdit(edit), authorities), expected);
    });
  }

  it('refuses a consenter certificate that does not chain to an orderer org TLS CA', () => {
    // The Org1 peer's TLS CA is not an orderer org's: use it as a consenter cert.
    const foreign = readFileSync(
      `${fixturesDir}crypto/peerOrganizations/org1.example.com/peers/peer0.org1.example.com/tls/server.crt`,
    );
    assert.throws(
      () =>
        parseEtcdraftConfig(
          withEdit((m) => (m.consenters[0]!.serverTlsCert = foreign)),
          authorities,
        ),
      /consenter 127\.0\.0\.1:7051 has invalid certificate: verifying tls server cert with serial number \d+: certificate signed by unknown authority/,
    );
  });

  it('refuses garbage metadata with the unmarshal message', () => {
    assert.throws(
      () => parseEtcdraftConfig(Buffer.from([0xff, 0xff]), authorities),
      /failed to unmarshal etcdraft metadata/,
    );
  });
});
