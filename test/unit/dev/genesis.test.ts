// The genesis builder against configtxgen's own output (blocks/appsolo-genesis.block, profile
// AppSoloGenesis of the fixtures' configtx.yaml): same tree, same policy and value encodings, same
// block layout; and the block builds a valid channel bundle with the real MSP implementation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { asBuffer, common, msp, peer, toNumber } from '../../../src/protos/index.js';
import { buildVerifyingMspConfig } from '../../../src/msp/index.js';
import { readConfigBlock } from '../../../src/channelconfig/index.js';
import {
  buildGenesisBlock,
  buildGenesisBlockBytes,
  encodePolicy,
  FABRIC_SAMPLE_ACLS,
  type GenesisProfile,
} from '../../../src/channelconfig/genesis.js';
import { channelResources } from '../../../src/server/orderer.js';
import { blockDataHash } from '../../../src/ledger/index.js';
import { ManualClock } from '../../../src/clock.js';
import { FABRIC_FIXTURES as FIXTURES } from '../../support/fabric-fixtures.js';

function fixtureProfile(channelId: string): GenesisProfile {
  const org = (name: string, mspId: string, dir: string) => ({
    name,
    mspId,
    mspConfig: buildVerifyingMspConfig(join(FIXTURES, dir), mspId),
  });
  return {
    channelId,
    ordererType: 'solo',
    ordererAddresses: ['127.0.0.1:7050'],
    ordererOrganizations: [
      {
        ...org('OrdererOrg', 'OrdererMSP', 'crypto/ordererOrganizations/example.com/msp'),
        ordererEndpoints: ['127.0.0.1:7050'],
      },
    ],
    applicationOrganizations: [
      org('Org1MSP', 'Org1MSP', 'crypto/peerOrganizations/org1.example.com/msp'),
      org('Org2MSP', 'Org2MSP', 'crypto/peerOrganizations/org2.example.com/msp'),
    ],
  };
}

function configOf(block: common.IBlock): common.IConfigGroup {
  return readConfigBlock(block).configEnvelope.config!.channelGroup!;
}

/** path -> description of every element: kind, version, mod_policy, policy type. */
function shape(group: common.IConfigGroup, path = '/Channel', out = new Map<string, string>()) {
  out.set(`[G] ${path}`, `v${toNumber(group.version)} mod=${group.modPolicy}`);
  for (const [k, v] of Object.entries(group.values ?? {})) {
    out.set(`[V] ${path}/${k}`, `v${toNumber(v.version)} mod=${v.modPolicy}`);
  }
  for (const [k, p] of Object.entries(group.policies ?? {})) {
    out.set(`[P] ${path}/${k}`, `v${toNumber(p.version)} mod=${p.modPolicy} type=${p.policy?.type}`);
  }
  for (const [k, g] of Object.entries(group.groups ?? {})) shape(g, `${path}/${k}`, out);
  return out;
}

function element(group: common.IConfigGroup, path: string[]): common.IConfigGroup {
  return path.reduce((g, key) => g.groups![key]!, group);
}

const golden = common.Block.decode(readFileSync(join(FIXTURES, 'blocks/appsolo-genesis.block')));

test('the tree has the shape of configtxgen AppSoloGenesis (keys, versions, mod_policies, policy types)', () => {
  const built = buildGenesisBlock(fixtureProfile('appsolo'));
  assert.deepEqual([...shape(configOf(built))].sort(), [...shape(configOf(golden))].sort());
});

test('policies and non-MSP values are byte-identical to configtxgen, MSP values decode the same', () => {
  const mine = configOf(buildGenesisBlock(fixtureProfile('appsolo')));
  const theirs = configOf(golden);
  const groups = [[], ['Orderer'], ['Application'], ['Orderer', 'OrdererOrg'], ['Application', 'Org1MSP']];
  let compared = 0;
  for (const path of groups) {
    const a = element(mine, path);
    const b = element(theirs, path);
    for (const [name, policy] of Object.entries(b.policies ?? {})) {
      assert.deepEqual(
        asBuffer(a.policies![name]!.policy!.value),
        asBuffer(policy.policy!.value),
        `policy ${path.join('/')}/${name}`,
      );
      compared++;
    }
    for (const [name, value] of Object.entries(b.values ?? {})) {
      if (name === 'MSP') {
        const decode = (v: common.IConfigValue) => {
          const config = msp.MSPConfig.decode(asBuffer(v.value));
          return msp.FabricMSPConfig.decode(asBuffer(config.config)).toJSON();
        };
        assert.deepEqual(decode(a.values![name]!), decode(value), `MSP of ${path.join('/')}`);
      } else {
        assert.deepEqual(
          asBuffer(a.values![name]!.value),
          asBuffer(value.value),
          `value ${path.join('/')}/${name}`,
        );
      }
      compared++;
    }
  }
  assert.ok(compared > 25, `compared ${compared} elements`);
});

test('block layout as configtxgen: unsigned, metadata, CONFIG header version 1, tx id from the nonce', () => {
  const clock = new ManualClock(1_700_000_123_456);
  const nonce = Buffer.alloc(24, 7);
  const block = buildGenesisBlock(fixtureProfile('appsolo'), { clock, nonce: () => nonce });
  assert.equal(toNumber(block.header!.number), 0);
  assert.equal(asBuffer(block.header!.previousHash).length, 0);
  assert.deepEqual(asBuffer(block.header!.dataHash), blockDataHash(block.data!.data!.map(asBuffer)));
  assert.deepEqual(
    block.metadata!.metadata!.map((m) => asBuffer(m).toString('hex')),
    golden.metadata!.metadata!.map((m) => asBuffer(m).toString('hex')),
  );
  const { envelope, channelHeader, payload } = readConfigBlock(block);
  assert.equal(asBuffer(envelope.signature).length, 0);
  assert.equal(channelHeader.type, common.HeaderType.CONFIG);
  assert.equal(channelHeader.version, 1);
  assert.equal(channelHeader.channelId, 'appsolo');
  assert.equal(toNumber(channelHeader.timestamp!.seconds), 1_700_000_123);
  assert.equal(channelHeader.txId, createHash('sha256').update(nonce).digest('hex'));
  const signatureHeader = common.SignatureHeader.decode(asBuffer(payload.header!.signatureHeader));
  assert.deepEqual(asBuffer(signatureHeader.nonce), nonce);
  assert.equal(asBuffer(signatureHeader.creator).length, 0);
  // Same envelope headers as the golden genesis: only the timestamp, nonce and tx id differ.
  const goldenHeader = readConfigBlock(golden).channelHeader;
  assert.equal(goldenHeader.version, channelHeader.version);
  assert.equal(goldenHeader.txId.length, channelHeader.txId.length);
});

test('the block builds a valid bundle with the real MSPs: solo, batch size, orgs, capabilities, policies', () => {
  const bytes = buildGenesisBlockBytes({
    ...fixtureProfile('devchannel'),
    ordererAddresses: [],
    batchTimeout: '250ms',
    batchSize: { maxMessageCount: 100 },
    acls: FABRIC_SAMPLE_ACLS,
  });
  const block = common.Block.decode(bytes);
  const { channelId, configEnvelope } = readConfigBlock(block);
  const bundle = channelResources().createBundle(channelId, configEnvelope.config!);
  assert.equal(bundle.channelId, 'devchannel');
  assert.equal(bundle.orderer?.consensusType, 'solo');
  assert.equal(bundle.orderer?.batchSize.maxMessageCount, 100);
  assert.equal(bundle.orderer?.batchSize.absoluteMaxBytes, 10 * 1024 * 1024);
  for (const path of ['/Channel/Readers', '/Channel/Writers', '/Channel/Orderer/BlockValidation']) {
    assert.ok(bundle.policyManager.getPolicy(path), `policy ${path}`);
  }
  const acls = peer.ACLs.decode(asBuffer(configOf(block).groups!.Application!.values!.ACLs!.value));
  assert.equal(acls.acls['peer/Propose']?.policyRef, '/Channel/Application/Writers');
});

test('profile errors say what to fix', () => {
  const profile = fixtureProfile('appsolo');
  assert.throws(
    () => buildGenesisBlock({ ...profile, applicationOrganizations: [] }),
    /at least one application organization/,
  );
  assert.throws(() => buildGenesisBlock({ ...profile, batchTimeout: '2 seconds' }), /BatchTimeout/);
  assert.throws(
    () =>
      buildGenesisBlock({
        ...profile,
        policies: { orderer: { Readers: { type: 'ImplicitMeta', rule: 'ANY Readers' } } },
      }),
    /BlockValidation/,
  );
  assert.throws(
    () => encodePolicy({ type: 'ImplicitMeta', rule: 'SOME Readers' }, '/Channel/X'),
    /ANY\|ALL\|MAJORITY/,
  );
  assert.throws(
    () =>
      buildGenesisBlock({
        ...profile,
        applicationOrganizations: [
          profile.applicationOrganizations[0]!,
          profile.applicationOrganizations[0]!,
        ],
      }),
    /appears twice/,
  );
});
