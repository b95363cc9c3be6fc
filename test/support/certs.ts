// Shared helpers for tests that need identities: the real Fabric fixtures and generated ones.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asBuffer, common, msp } from '../../src/protos/index.js';
import { FABRIC_FIXTURES } from './fabric-fixtures.js';

export const FIXTURES = FABRIC_FIXTURES;
export const CRYPTO = join(FIXTURES, 'crypto');

export const ORG1 = join(CRYPTO, 'peerOrganizations/org1.example.com');
export const ORG2 = join(CRYPTO, 'peerOrganizations/org2.example.com');
export const ORDERER_ORG = join(CRYPTO, 'ordererOrganizations/example.com');

/** MSP folders of the fixture identities, with their MSP ID and NodeOU role. */
export const FIXTURE_IDENTITIES = {
  org1User1: { mspId: 'Org1MSP', role: 'client', dir: join(ORG1, 'users/User1@org1.example.com/msp') },
  org1Admin: { mspId: 'Org1MSP', role: 'admin', dir: join(ORG1, 'users/Admin@org1.example.com/msp') },
  org1Peer0: { mspId: 'Org1MSP', role: 'peer', dir: join(ORG1, 'peers/peer0.org1.example.com/msp') },
  org2User1: { mspId: 'Org2MSP', role: 'client', dir: join(ORG2, 'users/User1@org2.example.com/msp') },
  orderer0: {
    mspId: 'OrdererMSP',
    role: 'orderer',
    dir: join(ORDERER_ORG, 'orderers/orderer0.example.com/msp'),
  },
  ordererAdmin: { mspId: 'OrdererMSP', role: 'admin', dir: join(ORDERER_ORG, 'users/Admin@example.com/msp') },
} as const;

export type FixtureIdentityName = keyof typeof FIXTURE_IDENTITIES;

/** The PEM bytes of an MSP folder's first signcert, exactly as on disk. */
export function signcertPem(mspDir: string): Buffer {
  const dir = join(mspDir, 'signcerts');
  return readFileSync(join(dir, readdirSync(dir).sort()[0]!));
}

export function privateKeyPem(mspDir: string): Buffer {
  return readFileSync(join(mspDir, 'keystore/priv_sk'));
}

export function serializedIdentity(mspId: string, pem: Uint8Array): Buffer {
  return Buffer.from(msp.SerializedIdentity.encode({ mspid: mspId, idBytes: pem }).finish());
}

export function fixtureSerialized(name: FixtureIdentityName): Buffer {
  const f = FIXTURE_IDENTITIES[name];
  return serializedIdentity(f.mspId, signcertPem(f.dir));
}

/** The channel config inside a genesis/config block. */
export function configFromBlock(blockBytes: Buffer): common.Config {
  const block = common.Block.decode(blockBytes);
  const envelope = common.Envelope.decode(asBuffer(block.data?.data?.[0]));
  const payload = common.Payload.decode(asBuffer(envelope.payload));
  return common.ConfigEnvelope.decode(asBuffer(payload.data)).config as common.Config;
}

/** Every org MSPConfig of a channel config, by MSP ID (Orderer, Application and Consortiums groups). */
export function mspConfigsFromConfig(config: common.Config): Map<string, msp.MSPConfig> {
  const out = new Map<string, msp.MSPConfig>();
  const visit = (group: common.IConfigGroup | null | undefined) => {
    if (!group) return;
    const value = group.values?.['MSP'];
    if (value) {
      const conf = msp.MSPConfig.decode(asBuffer(value.value));
      const name = msp.FabricMSPConfig.decode(asBuffer(conf.config)).name;
      out.set(name, conf);
    }
    for (const child of Object.values(group.groups ?? {})) visit(child);
  };
  visit(config.channelGroup);
  return out;
}

export function mspConfigsFromBlockFile(name: string): Map<string, msp.MSPConfig> {
  return mspConfigsFromConfig(configFromBlock(readFileSync(join(FIXTURES, 'blocks', name))));
}

export function tempDir(prefix = 'msp-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** MSPPrincipal helpers. */
export function rolePrincipal(mspId: string, role: common.MSPRole.MSPRoleType): common.IMSPPrincipal {
  return {
    principalClassification: common.MSPPrincipal.Classification.ROLE,
    principal: common.MSPRole.encode({ mspIdentifier: mspId, role }).finish(),
  };
}

export function identityPrincipal(serialized: Uint8Array): common.IMSPPrincipal {
  return { principalClassification: common.MSPPrincipal.Classification.IDENTITY, principal: serialized };
}

export function ouPrincipal(
  mspId: string,
  ou: string,
  certifiersIdentifier: Uint8Array,
): common.IMSPPrincipal {
  return {
    principalClassification: common.MSPPrincipal.Classification.ORGANIZATION_UNIT,
    principal: common.OrganizationUnit.encode({
      mspIdentifier: mspId,
      organizationalUnitIdentifier: ou,
      certifiersIdentifier,
    }).finish(),
  };
}

export function combinedPrincipal(...principals: common.IMSPPrincipal[]): common.IMSPPrincipal {
  return {
    principalClassification: common.MSPPrincipal.Classification.COMBINED,
    principal: common.CombinedPrincipal.encode({ principals }).finish(),
  };
}
