// Test-only crypto for config update tests: signers over the fixture keys and a small policy manager
// over real ECDSA that understands what the fixture configs use (signature policies over NodeOU roles,
// implicit meta policies). It is not src/policies: no caching, no CRLs, no intermediate CAs.
import {
  X509Certificate,
  createPrivateKey,
  randomBytes,
  sign as cryptoSign,
  verify as cryptoVerify,
} from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { forbidden } from '../../src/errors.js';
import type { Policy, PolicyManager, SignedData } from '../../src/policies/types.js';
import { asBuffer, common, msp } from '../../src/protos/index.js';
import { FABRIC_FIXTURES } from './fabric-fixtures.js';

export const FIXTURES = FABRIC_FIXTURES;
export const CRYPTO = join(FIXTURES, 'crypto');

const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
const P256_HALF_ORDER = P256_ORDER >> 1n;

export interface FixtureSigner {
  readonly mspId: string;
  readonly serialized: Buffer;
  sign(message: Buffer): Buffer;
}

/** Fixture identity dir, e.g. identityDir('peerOrganizations/org1.example.com/users/Admin@org1.example.com'). */
export function identityDir(relative: string): string {
  return join(CRYPTO, relative);
}

export const ORG1_ADMIN = [
  'Org1MSP',
  'peerOrganizations/org1.example.com/users/Admin@org1.example.com',
] as const;
export const ORG2_ADMIN = [
  'Org2MSP',
  'peerOrganizations/org2.example.com/users/Admin@org2.example.com',
] as const;
export const ORG1_USER = [
  'Org1MSP',
  'peerOrganizations/org1.example.com/users/User1@org1.example.com',
] as const;
export const ORDERER_ADMIN = [
  'OrdererMSP',
  'ordererOrganizations/example.com/users/Admin@example.com',
] as const;

export function loadSigner([mspId, relative]: readonly [string, string]): FixtureSigner {
  const dir = identityDir(relative);
  const certFile = readdirSync(join(dir, 'msp/signcerts'))[0]!;
  const certPem = readFileSync(join(dir, 'msp/signcerts', certFile));
  const key = createPrivateKey(readFileSync(join(dir, 'msp/keystore/priv_sk')));
  const serialized = Buffer.from(msp.SerializedIdentity.encode({ mspid: mspId, idBytes: certPem }).finish());
  return {
    mspId,
    serialized,
    sign: (message) => toLowS(cryptoSign('sha256', message, { key, dsaEncoding: 'ieee-p1363' })),
  };
}

function bigIntFrom(bytes: Buffer): bigint {
  return BigInt('0x' + (bytes.toString('hex') || '0'));
}

function derInteger(value: bigint): Buffer {
  let hex = value.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}

/** r||s (P1363) -> DER with s normalized to the lower half of the order, as Fabric requires. */
function toLowS(p1363: Buffer): Buffer {
  const r = bigIntFrom(p1363.subarray(0, 32));
  let s = bigIntFrom(p1363.subarray(32));
  if (s > P256_HALF_ORDER) s = P256_ORDER - s;
  const body = Buffer.concat([derInteger(r), derInteger(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

function derS(signature: Buffer): bigint | undefined {
  // SEQUENCE { INTEGER r, INTEGER s } with short lengths (P-256).
  if (signature[0] !== 0x30) return undefined;
  const rLength = signature[3]!;
  const sOffset = 4 + rLength;
  if (signature[sOffset] !== 0x02) return undefined;
  const sLength = signature[sOffset + 1]!;
  return bigIntFrom(signature.subarray(sOffset + 2, sOffset + 2 + sLength));
}

/** Adds ConfigSignatures by `signers` to a CONFIG_UPDATE envelope, as `peer channel signconfigtx` does. */
export function signConfigUpdateEnvelope(envelopeBytes: Buffer, signers: readonly FixtureSigner[]): Buffer {
  const envelope = common.Envelope.decode(envelopeBytes);
  const payload = common.Payload.decode(asBuffer(envelope.payload));
  const configUpdateEnvelope = common.ConfigUpdateEnvelope.decode(asBuffer(payload.data));
  const configUpdate = asBuffer(configUpdateEnvelope.configUpdate);
  const signatures = [...(configUpdateEnvelope.signatures ?? [])];
  for (const signer of signers) {
    const signatureHeader = Buffer.from(
      common.SignatureHeader.encode({ creator: signer.serialized, nonce: randomBytes(24) }).finish(),
    );
    signatures.push({
      signatureHeader,
      signature: signer.sign(Buffer.concat([signatureHeader, configUpdate])),
    });
  }
  const newPayload = Buffer.from(
    common.Payload.encode({
      header: payload.header,
      data: common.ConfigUpdateEnvelope.encode({ configUpdate, signatures }).finish(),
    }).finish(),
  );
  const outerSigner = signers[0];
  return Buffer.from(
    common.Envelope.encode({
      payload: newPayload,
      signature: outerSigner ? outerSigner.sign(newPayload) : asBuffer(envelope.signature),
    }).finish(),
  );
}

// ---------------------------------------------------------------------------------------------
// Policy manager

interface TestMsp {
  id: string;
  roots: X509Certificate[];
  nodeOUs: boolean;
  ous: { client?: string; peer?: string; admin?: string; orderer?: string };
}

interface TestIdentity {
  mspId: string;
  cert: X509Certificate;
  role: 'client' | 'peer' | 'admin' | 'orderer' | undefined;
  description: string;
}

function parseMsp(value: common.IConfigValue): TestMsp | undefined {
  const config = msp.MSPConfig.decode(asBuffer(value.value));
  if (config.type !== 0) return undefined;
  const fabric = msp.FabricMSPConfig.decode(asBuffer(config.config));
  const nodeOUs = fabric.fabricNodeOus;
  return {
    id: fabric.name,
    roots: (fabric.rootCerts ?? []).map((pem) => new X509Certificate(asBuffer(pem))),
    nodeOUs: !!nodeOUs?.enable,
    ous: {
      client: nodeOUs?.clientOuIdentifier?.organizationalUnitIdentifier || undefined,
      peer: nodeOUs?.peerOuIdentifier?.organizationalUnitIdentifier || undefined,
      admin: nodeOUs?.adminOuIdentifier?.organizationalUnitIdentifier || undefined,
      orderer: nodeOUs?.ordererOuIdentifier?.organizationalUnitIdentifier || undefined,
    },
  };
}

function collect(
  group: common.IConfigGroup,
  path: string,
  msps: Map<string, TestMsp>,
  policies: Map<string, { policy: common.IPolicy; group: common.IConfigGroup }>,
): void {
  const mspValue = group.values?.['MSP'];
  if (mspValue) {
    const parsed = parseMsp(mspValue);
    if (parsed) msps.set(parsed.id, parsed);
  }
  for (const [name, configPolicy] of Object.entries(group.policies ?? {})) {
    if (configPolicy.policy) policies.set(`${path}/${name}`, { policy: configPolicy.policy, group });
  }
  for (const [name, child] of Object.entries(group.groups ?? {}))
    collect(child, `${path}/${name}`, msps, policies);
}

/** Builds a PolicyManager over the policies and MSPs of `config` (absolute paths only). */
export function buildTestPolicyManager(config: common.IConfig): PolicyManager {
  const msps = new Map<string, TestMsp>();
  const policies = new Map<string, { policy: common.IPolicy; group: common.IConfigGroup }>();
  if (config.channelGroup) collect(config.channelGroup, '/Channel', msps, policies);

  async function identities(
    signedData: readonly SignedData[],
  ): Promise<{ valid: TestIdentity[]; problems: string[] }> {
    const valid: TestIdentity[] = [];
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const item of signedData) {
      const key = item.identity.toString('base64');
      if (seen.has(key)) continue;
      seen.add(key);
      let serialized: msp.SerializedIdentity;
      let cert: X509Certificate;
      try {
        serialized = msp.SerializedIdentity.decode(item.identity);
        cert = new X509Certificate(asBuffer(serialized.idBytes));
      } catch {
        problems.push('an identity could not be decoded');
        continue;
      }
      const cn =
        cert.subject
          .split('\n')
          .find((l) => l.startsWith('CN='))
          ?.slice(3) ?? cert.subject;
      const description = `${serialized.mspid} '${cn}'`;
      const mspOf = msps.get(serialized.mspid);
      if (!mspOf) {
        problems.push(
          `${description}: MSP ${serialized.mspid} is not defined on the channel (known: ${[...msps.keys()].sort().join(', ')})`,
        );
        continue;
      }
      if (!mspOf.roots.some((root) => cert.checkIssued(root) && cert.verify(root.publicKey))) {
        problems.push(`${description}: certificate not issued by a root CA of ${mspOf.id}`);
        continue;
      }
      const s = derS(item.signature);
      const verified =
        s !== undefined &&
        s <= P256_HALF_ORDER &&
        cryptoVerify('sha256', item.data, { key: cert.publicKey, dsaEncoding: 'der' }, item.signature);
      if (!verified) {
        problems.push(`${description}: signature invalid`);
        continue;
      }
      const subjectOUs = cert.subject
        .split('\n')
        .filter((l) => l.startsWith('OU='))
        .map((l) => l.slice(3));
      const role = mspOf.nodeOUs
        ? (['client', 'peer', 'admin', 'orderer'] as const).find((r) => {
            const ou = mspOf.ous[r];
            return ou !== undefined && subjectOUs.includes(ou);
          })
        : undefined;
      valid.push({ mspId: serialized.mspid, cert, role, description });
    }
    return { valid, problems };
  }

  function satisfies(identity: TestIdentity, principal: common.IMSPPrincipal): boolean {
    if ((principal.principalClassification ?? 0) !== common.MSPPrincipal.Classification.ROLE) return false;
    const role = common.MSPRole.decode(asBuffer(principal.principal));
    if (role.mspIdentifier !== identity.mspId) return false;
    switch (role.role) {
      case common.MSPRole.MSPRoleType.MEMBER:
        return true;
      case common.MSPRole.MSPRoleType.ADMIN:
        return identity.role === 'admin';
      case common.MSPRole.MSPRoleType.CLIENT:
        return identity.role === 'client';
      case common.MSPRole.MSPRoleType.PEER:
        return identity.role === 'peer';
      case common.MSPRole.MSPRoleType.ORDERER:
        return identity.role === 'orderer';
      default:
        return false;
    }
  }

  function describePrincipal(principal: common.IMSPPrincipal): string {
    const role = common.MSPRole.decode(asBuffer(principal.principal));
    return `${role.mspIdentifier}.${common.MSPRole.MSPRoleType[role.role]?.toLowerCase()}`;
  }

  function evaluateRule(
    rule: common.ISignaturePolicy,
    principals: common.IMSPPrincipal[],
    ids: TestIdentity[],
    used: boolean[],
  ): boolean {
    if (rule.nOutOf) {
      let verified = 0;
      const scratch = [...used];
      for (const sub of rule.nOutOf.rules ?? []) {
        for (let i = 0; i < used.length; i++) scratch[i] = used[i]!;
        if (evaluateRule(sub, principals, ids, scratch)) {
          verified++;
          for (let i = 0; i < used.length; i++) used[i] = scratch[i]!;
        }
      }
      return verified >= (rule.nOutOf.n ?? 0);
    }
    const principal = principals[rule.signedBy ?? 0];
    if (!principal) return false;
    for (let i = 0; i < ids.length; i++) {
      if (!used[i] && satisfies(ids[i]!, principal)) {
        used[i] = true;
        return true;
      }
    }
    return false;
  }

  function policyAt(path: string): Policy | undefined {
    const entry = policies.get(path);
    if (!entry) return undefined;
    const { policy, group } = entry;
    if (policy.type === common.Policy.PolicyType.SIGNATURE) {
      const envelope = common.SignaturePolicyEnvelope.decode(asBuffer(policy.value));
      const principals = envelope.identities ?? [];
      return {
        async evaluateSignedData(signedData) {
          const { valid, problems } = await identities(signedData);
          if (
            envelope.rule &&
            evaluateRule(
              envelope.rule,
              principals,
              valid,
              valid.map(() => false),
            )
          )
            return;
          const wanted = principals.map(describePrincipal).join(', ');
          const have = valid.map((v) => `${v.description} (${v.role ?? 'no role'})`).join(', ') || 'none';
          throw forbidden(
            `signature policy ${path} not satisfied: needs a signature by ${wanted}; valid signers: ${have}` +
              (problems.length ? `; rejected: ${problems.join('; ')}` : ''),
          );
        },
      };
    }
    if (policy.type === common.Policy.PolicyType.IMPLICIT_META) {
      const meta = common.ImplicitMetaPolicy.decode(asBuffer(policy.value));
      const children = Object.keys(group.groups ?? {}).sort();
      const parentPath = path.slice(0, path.lastIndexOf('/'));
      return {
        async evaluateSignedData(signedData) {
          let threshold =
            meta.rule === common.ImplicitMetaPolicy.Rule.ANY
              ? 1
              : meta.rule === common.ImplicitMetaPolicy.Rule.ALL
                ? children.length
                : Math.floor(children.length / 2) + 1;
          if (children.length === 0) threshold = 0;
          const failures: string[] = [];
          let satisfied = 0;
          for (const child of children) {
            const sub = policyAt(`${parentPath}/${child}/${meta.subPolicy}`);
            if (!sub) {
              failures.push(`${parentPath}/${child}/${meta.subPolicy} is not defined`);
              continue;
            }
            try {
              await sub.evaluateSignedData(signedData);
              satisfied++;
            } catch (err) {
              failures.push((err as Error).message);
            }
          }
          if (satisfied >= threshold) return;
          const rule = common.ImplicitMetaPolicy.Rule[meta.rule];
          throw forbidden(
            `implicit policy ${path} (${rule} ${meta.subPolicy}) needs ${threshold} of ${children.length} ` +
              `sub-policies, ${satisfied} satisfied: ${failures.join('; ')}`,
          );
        },
      };
    }
    return undefined;
  }

  const managerAt = (basePath: string): PolicyManager => ({
    basePath,
    getPolicy: (path) => (path.startsWith('/') ? policyAt(path) : policyAt(`${basePath}/${path}`)),
    manager: (relative) => {
      const target = relative.length ? `${basePath}/${relative.join('/')}` : basePath;
      const exists = [...policies.keys()].some((p) => p.startsWith(`${target}/`)) || relative.length === 0;
      return exists ? managerAt(target) : undefined;
    },
    policyNames: () =>
      [...policies.keys()]
        .filter((p) => p.startsWith(`${basePath}/`))
        .map((p) => p.slice(basePath.length + 1)),
  });
  return managerAt('/Channel');
}
