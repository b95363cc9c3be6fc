// A small test-only MSP for tests of code that *uses* MSPs (policies, channel config): real
// ECDSA over the fixture certificates, the issuer checked against the MSP's CA certificates,
// NodeOU roles from the certificate's OU. It is not the orderer's MSP (src/msp/): no CRLs, no
// expiry, no intermediate chains beyond one issuer step.
import { createPrivateKey, sign as signWithKey, verify as verifyWithKey, X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { forbidden } from '../../src/errors.js';
import type { Identity, MSP, MSPManager, NodeRole } from '../../src/msp/types.js';
import { common, msp } from '../../src/protos/index.js';
import { FABRIC_FIXTURES } from './fabric-fixtures.js';

/** The fixtures folder with a trailing slash, so `${fixturesDir}blocks/x.block` names a file in it. */
export const fixturesDir = `${FABRIC_FIXTURES}/`;

const p256Order = BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551');

class TestIdentity implements Identity {
  readonly certDer: Buffer;
  readonly expiresAt: number;
  readonly organizationalUnits: readonly string[];
  readonly role: NodeRole | undefined;

  constructor(
    private readonly owner: TestMsp,
    readonly mspId: string,
    readonly serialized: Buffer,
    private readonly cert: X509Certificate,
  ) {
    this.certDer = cert.raw;
    this.expiresAt = Date.parse(cert.validTo);
    this.organizationalUnits = cert.subject
      .split('\n')
      .filter((line) => line.startsWith('OU='))
      .flatMap((line) => line.slice(3).split('+'));
    const roles = this.organizationalUnits.filter((ou): ou is NodeRole =>
      ['client', 'peer', 'admin', 'orderer'].includes(ou),
    );
    this.role = owner.nodeOUs && roles.length === 1 ? roles[0] : undefined;
  }

  validate(): void {
    if (!this.owner.cas.some((ca) => this.cert.checkIssued(ca) && this.cert.verify(ca.publicKey))) {
      throw forbidden(`identity of ${this.mspId} is not issued by a CA of MSP ${this.owner.id}`);
    }
  }

  verify(message: Buffer, signature: Buffer): Promise<boolean> {
    if (!isLowS(signature)) return Promise.resolve(false);
    return new Promise((resolve) =>
      verifyWithKey('sha256', message, this.cert.publicKey, signature, (err, ok) => resolve(!err && ok)),
    );
  }

  satisfiesPrincipal(principal: common.IMSPPrincipal): void {
    const bytes = principal.principal ?? new Uint8Array();
    switch (principal.principalClassification ?? 0) {
      case common.MSPPrincipal.Classification.ROLE: {
        const role = common.MSPRole.decode(bytes);
        if (role.mspIdentifier !== this.mspId) {
          throw new Error(
            `the identity is a member of a different MSP (expected ${role.mspIdentifier}, got ${this.mspId})`,
          );
        }
        this.validate();
        const wanted = ['member', 'admin', 'client', 'peer', 'orderer'][role.role];
        if (wanted === 'member') return;
        if (wanted === 'admin' && this.owner.admins.some((admin) => admin.raw.equals(this.certDer))) return;
        if (this.role !== wanted)
          throw new Error(`the identity is a ${this.role ?? 'member without role'}, not ${wanted}`);
        return;
      }
      case common.MSPPrincipal.Classification.IDENTITY:
        if (!Buffer.from(bytes).equals(this.serialized)) throw new Error('the identities do not match');
        return;
      default:
        throw new Error(
          `principal classification ${principal.principalClassification} not supported by the test MSP`,
        );
    }
  }
}

class TestMsp implements MSP {
  readonly id: string;
  readonly cas: X509Certificate[];
  readonly admins: X509Certificate[];
  readonly nodeOUs: boolean;
  readonly tlsRootCertsPem: readonly string[];
  readonly tlsIntermediateCertsPem: readonly string[];

  constructor(config: msp.IFabricMSPConfig) {
    this.id = config.name ?? '';
    const pem = (list: Uint8Array[] | null | undefined) =>
      (list ?? []).map((b) => Buffer.from(b).toString('utf8'));
    this.cas = [...pem(config.rootCerts), ...pem(config.intermediateCerts)].map(
      (p) => new X509Certificate(p),
    );
    this.admins = pem(config.admins).map((p) => new X509Certificate(p));
    this.nodeOUs = Boolean(config.fabricNodeOus?.enable);
    this.tlsRootCertsPem = pem(config.tlsRootCerts);
    this.tlsIntermediateCertsPem = pem(config.tlsIntermediateCerts);
  }

  deserializeIdentity(serialized: Buffer): Identity {
    const sid = msp.SerializedIdentity.decode(serialized);
    if (sid.mspid !== this.id) throw forbidden(`expected MSP ID ${this.id}, received ${sid.mspid}`);
    return new TestIdentity(this, sid.mspid, serialized, new X509Certificate(Buffer.from(sid.idBytes)));
  }
}

/** createMsp for channel config tests. */
export function createTestMsp(config: msp.IMSPConfig): MSP {
  if ((config.type ?? 0) !== 0)
    throw new Error(`test MSP supports only FABRIC MSPs, not type ${config.type}`);
  return new TestMsp(msp.FabricMSPConfig.decode(config.config ?? new Uint8Array()));
}

/** createMspManager for channel config tests. */
export function createTestMspManager(channelId: string, msps: readonly MSP[]): MSPManager {
  const byId = new Map(msps.map((m) => [m.id, m]));
  return {
    msps: byId,
    deserializeIdentity(serialized: Buffer): Identity {
      const sid = msp.SerializedIdentity.decode(serialized);
      const owner = byId.get(sid.mspid);
      if (!owner) {
        throw forbidden(
          `MSP ${sid.mspid} is not defined on channel ${channelId} (known: ${[...byId.keys()].join(', ')})`,
        );
      }
      return owner.deserializeIdentity(serialized);
    },
  };
}

export const testMspDependencies = { createMsp: createTestMsp, createMspManager: createTestMspManager };

export interface FixtureSigner {
  readonly mspId: string;
  readonly certPem: string;
  readonly serialized: Buffer;
  sign(message: Buffer): Buffer;
}

const identityDirs: Record<string, [mspId: string, dir: string]> = {
  'User1@org1': ['Org1MSP', 'crypto/peerOrganizations/org1.example.com/users/User1@org1.example.com'],
  'Admin@org1': ['Org1MSP', 'crypto/peerOrganizations/org1.example.com/users/Admin@org1.example.com'],
  'peer0.org1': ['Org1MSP', 'crypto/peerOrganizations/org1.example.com/peers/peer0.org1.example.com'],
  'User1@org2': ['Org2MSP', 'crypto/peerOrganizations/org2.example.com/users/User1@org2.example.com'],
  'Admin@org2': ['Org2MSP', 'crypto/peerOrganizations/org2.example.com/users/Admin@org2.example.com'],
  orderer0: ['OrdererMSP', 'crypto/ordererOrganizations/example.com/orderers/orderer0.example.com'],
  'Admin@example.com': ['OrdererMSP', 'crypto/ordererOrganizations/example.com/users/Admin@example.com'],
};

export type FixtureIdentityName = keyof typeof identityDirs;

/** A fixture identity that signs as Fabric clients do (SHA-256, DER, low-S). mspId may be overridden. */
export function fixtureSigner(name: FixtureIdentityName, mspIdOverride?: string): FixtureSigner {
  const [mspId, dir] = identityDirs[name]!;
  const signcerts = join(fixturesDir, dir, 'msp/signcerts');
  const certPem = readFileSync(join(signcerts, readdirSync(signcerts)[0]!), 'utf8');
  const key = createPrivateKey(readFileSync(join(fixturesDir, dir, 'msp/keystore/priv_sk')));
  const effectiveMspId = mspIdOverride ?? mspId;
  return {
    mspId: effectiveMspId,
    certPem,
    serialized: Buffer.from(
      msp.SerializedIdentity.encode({ mspid: effectiveMspId, idBytes: Buffer.from(certPem) }).finish(),
    ),
    sign: (message) => lowSDer(signWithKey('sha256', message, { key, dsaEncoding: 'ieee-p1363' })),
  };
}

function lowSDer(raw: Buffer): Buffer {
  const half = raw.length / 2;
  const r = BigInt(`0x${raw.subarray(0, half).toString('hex')}`);
  let s = BigInt(`0x${raw.subarray(half).toString('hex')}`);
  if (s > p256Order / 2n) s = p256Order - s;
  const int = (v: bigint) => {
    let hex = v.toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    let bytes = Buffer.from(hex, 'hex');
    if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
  };
  const body = Buffer.concat([int(r), int(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

/** Fabric rejects high-S ECDSA signatures; so does the test MSP. */
function isLowS(der: Buffer): boolean {
  try {
    let offset = 2;
    if (der[0] !== 0x30) return false;
    const readInt = () => {
      if (der[offset] !== 0x02) throw new Error('not an INTEGER');
      const length = der[offset + 1]!;
      const value = BigInt(`0x${der.subarray(offset + 2, offset + 2 + length).toString('hex') || '0'}`);
      offset += 2 + length;
      return value;
    };
    readInt();
    const s = readInt();
    return s <= p256Order / 2n;
  } catch {
    return false;
  }
}

/** SignedData as a client makes it: data, the signer's serialized identity, its signature over data. */
export function signedBy(signer: FixtureSigner, data: Buffer) {
  return { data, identity: signer.serialized, signature: signer.sign(data) };
}
