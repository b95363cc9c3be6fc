// Our genesis builder (src/channelconfig/genesis.ts) against Fabric v2.5.12's own configtxgen, run
// live on profiles the fixture blocks do not cover (batch parameters, MaxChannels, no global orderer
// addresses, one org, ACLs, anchor peers, other capabilities and policies). Both blocks are decoded
// by Fabric's configtxlator, so Go reads our bytes, and the decoded trees must be equal but for the
// data hash (Go marshals config maps in random order, so the bytes, not the content, differ).
// Needs configtxgen and configtxlator ($FABRIC_BIN, else ../shared/fabric-bin): skipped without
// them, failed without them under CI.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { asBuffer, common, toNumber } from '../../src/protos/index.js';
import { buildVerifyingMspConfig } from '../../src/msp/index.js';
import { readConfigBlock } from '../../src/channelconfig/index.js';
import {
  buildGenesisBlockBytes,
  FABRIC_SAMPLE_ACLS,
  type GenesisOrganization,
  type GenesisProfile,
} from '../../src/channelconfig/genesis.js';
import { ManualClock } from '../../src/clock.js';
import { FABRIC_FIXTURES, fabricBin, skipWithoutFabricBin } from '../support/fabric-fixtures.js';

const run = promisify(execFile);

// On each test rather than the suite: Node 20 counts the tests of a skipped suite nowhere.
const skip = skipWithoutFabricBin('configtxgen', 'configtxlator');

const ORDERER_MSP = 'crypto/ordererOrganizations/example.com/msp';
const ORG1_MSP = 'crypto/peerOrganizations/org1.example.com/msp';
const ORG2_MSP = 'crypto/peerOrganizations/org2.example.com/msp';

function org(name: string, mspId: string, mspDir: string, extra: Partial<GenesisOrganization> = {}) {
  return { name, mspId, mspConfig: buildVerifyingMspConfig(join(FABRIC_FIXTURES, mspDir), mspId), ...extra };
}

interface Case {
  name: string;
  /** A configtx.yaml profile, appended under the fixture configtx.yaml's Profiles (its anchors). */
  yaml: string;
  /** The same channel as our builder's input. */
  profile: GenesisProfile;
}

const cases: Case[] = [
  {
    name: 'batch parameters, MaxChannels, one application org, no global orderer addresses',
    yaml: `
  LiveBatch:
    <<: *ChannelDefaults
    Orderer:
      <<: *OrdererDefaults
      OrdererType: solo
      Addresses: []
      BatchTimeout: 250ms
      BatchSize: {MaxMessageCount: 7, AbsoluteMaxBytes: 3 MB, PreferredMaxBytes: 512 KB}
      MaxChannels: 4
      Organizations: [*OrdererOrg]
      Capabilities: *OrdererCapabilities
    Application:
      <<: *ApplicationDefaults
      Organizations: [*Org1]
      Capabilities: *ApplicationCapabilities
`,
    profile: {
      channelId: 'livebatch',
      batchTimeout: '250ms',
      batchSize: { maxMessageCount: 7, absoluteMaxBytes: 3 * 1024 * 1024, preferredMaxBytes: 512 * 1024 },
      maxChannels: 4,
      ordererOrganizations: [
        org('OrdererOrg', 'OrdererMSP', ORDERER_MSP, { ordererEndpoints: ['127.0.0.1:7050'] }),
      ],
      applicationOrganizations: [org('Org1MSP', 'Org1MSP', ORG1_MSP)],
    },
  },
  {
    name: "Fabric's sample ACLs, anchor peers, V2_0 application capability, other policies",
    yaml: `
  LiveAcls:
    Policies:
      Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
      Writers: {Type: ImplicitMeta, Rule: "ALL Writers"}
      Admins: {Type: ImplicitMeta, Rule: "ANY Admins"}
    Capabilities: *ChannelCapabilities
    Orderer:
      <<: *OrdererDefaults
      OrdererType: solo
      Addresses: ["127.0.0.1:7050", "127.0.0.1:8050"]
      Organizations: [*OrdererOrg]
      Capabilities: *OrdererCapabilities
    Application:
      <<: *ApplicationDefaults
      ACLs:
${Object.entries(FABRIC_SAMPLE_ACLS)
  .map(([resource, policy]) => `        ${resource}: ${policy}`)
  .join('\n')}
      Policies:
        Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
        Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
        Admins: {Type: Signature, Rule: "OR('Org1MSP.admin', 'Org2MSP.admin')"}
        Endorsement: {Type: Signature, Rule: "AND('Org1MSP.peer', 'Org2MSP.peer')"}
      Organizations:
        - <<: *Org1
          AnchorPeers:
            - {Host: peer0.org1.example.com, Port: 7051}
            - {Host: 127.0.0.1, Port: 7151}
        - *Org2
      Capabilities: {V2_0: true}
`,
    profile: {
      channelId: 'liveacls',
      ordererAddresses: ['127.0.0.1:7050', '127.0.0.1:8050'],
      ordererOrganizations: [
        org('OrdererOrg', 'OrdererMSP', ORDERER_MSP, { ordererEndpoints: ['127.0.0.1:7050'] }),
      ],
      applicationOrganizations: [
        org('Org1MSP', 'Org1MSP', ORG1_MSP, {
          anchorPeers: [
            { host: 'peer0.org1.example.com', port: 7051 },
            { host: '127.0.0.1', port: 7151 },
          ],
        }),
        org('Org2MSP', 'Org2MSP', ORG2_MSP),
      ],
      capabilities: { application: ['V2_0'] },
      policies: {
        channel: {
          Readers: { type: 'ImplicitMeta', rule: 'ANY Readers' },
          Writers: { type: 'ImplicitMeta', rule: 'ALL Writers' },
          Admins: { type: 'ImplicitMeta', rule: 'ANY Admins' },
        },
        application: {
          Readers: { type: 'ImplicitMeta', rule: 'ANY Readers' },
          Writers: { type: 'ImplicitMeta', rule: 'ANY Writers' },
          Admins: { type: 'Signature', rule: "OR('Org1MSP.admin', 'Org2MSP.admin')" },
          Endorsement: { type: 'Signature', rule: "AND('Org1MSP.peer', 'Org2MSP.peer')" },
        },
      },
      acls: FABRIC_SAMPLE_ACLS,
    },
  },
];

describe("our genesis builder against Fabric's configtxgen on new profiles", () => {
  let dir: string;
  let configtxgen: string;
  let configtxlator: string;

  before(() => {
    if (skip) return;
    // First, so that without the binaries (under CI) the suite fails with how to get them.
    configtxgen = fabricBin('configtxgen');
    configtxlator = fabricBin('configtxlator');
    dir = mkdtempSync(join(tmpdir(), 'configtxgen-live-'));
    // The fixture configtx.yaml (its organizations and anchors) with absolute crypto paths, as
    // configtxgen reads paths relative to the file's folder, plus the profiles of the cases.
    const base = readFileSync(join(FABRIC_FIXTURES, 'configtx.yaml'), 'utf8').replace(
      /(MSPDir: |TLSCert: )crypto\//g,
      `$1${FABRIC_FIXTURES}/crypto/`,
    );
    assert.match(
      base,
      /\nProfiles:\n(?: {2}.*\n|\s*\n)*$/,
      'Profiles is the last section of the fixture configtx.yaml',
    );
    writeFileSync(join(dir, 'configtx.yaml'), base.trimEnd() + '\n' + cases.map((c) => c.yaml).join(''));
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** configtxlator proto_decode of a marshalled block: Fabric's own reading of the bytes. */
  async function decode(file: string): Promise<Record<string, unknown>> {
    // To a file: configtxlator opens /dev/stdout by name, which a pipe to a child cannot be.
    const output = `${file}.json`;
    await run(configtxlator, ['proto_decode', '--type', 'common.Block', '--input', file, '--output', output]);
    return JSON.parse(readFileSync(output, 'utf8')) as Record<string, unknown>;
  }

  for (const c of cases) {
    it(c.name, { skip }, async () => {
      const profileName = /^\s*(\w+):/.exec(c.yaml)![1]!;
      const theirsFile = join(dir, `${profileName}.theirs.block`);
      await run(configtxgen, [
        '-configPath',
        dir,
        '-profile',
        profileName,
        '-channelID',
        c.profile.channelId,
        '-outputBlock',
        theirsFile,
      ]);
      const theirs = common.Block.decode(readFileSync(theirsFile));

      // Same timestamp and nonce as configtxgen's block, so the headers must match too.
      const { channelHeader, payload } = readConfigBlock(theirs);
      const nonce = asBuffer(common.SignatureHeader.decode(asBuffer(payload.header!.signatureHeader)).nonce);
      const clock = new ManualClock(toNumber(channelHeader.timestamp!.seconds) * 1000);
      const oursFile = join(dir, `${profileName}.ours.block`);
      writeFileSync(oursFile, buildGenesisBlockBytes(c.profile, { clock, nonce: () => nonce }));

      const [oursJson, theirsJson] = await Promise.all([decode(oursFile), decode(theirsFile)]);
      for (const json of [oursJson, theirsJson]) delete (json.header as Record<string, unknown>).data_hash;
      assert.deepEqual(oursJson, theirsJson);
    });
  }
});
