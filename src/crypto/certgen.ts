// Certificate authority tooling: root and intermediate CAs, leaf certificates, CRLs, and MSP
// folders laid out as Fabric's cryptogen does. Used by the zero-config dev mode (which makes its
// own CA, orderer, admin and client identities) and by tests (expired, unknown-CA, revoked and
// intermediate-chain identities).
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Clock } from '../clock.js';
import {
  children,
  derBitString,
  derBoolean,
  derExplicit,
  derImplicit,
  derOctetString,
  derOid,
  derPrintable,
  derSequence,
  derSet,
  derTime,
  derUnsignedInteger,
  derUtf8,
  readDerExact,
} from './asn1.js';
import { curveOfKey, signEcdsa, type CurveName } from './ecdsa.js';
import { sha256 } from './hash.js';
import { privateKeyToPkcs8Pem, publicKeyToSpkiDer } from './keys.js';
import { Certificate, CertificateRevocationList, KeyUsage, Oid } from './x509.js';

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export function generateKeyPair(curve: CurveName = 'P-256'): KeyPair {
  const namedCurve = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' }[curve];
  return generateKeyPairSync('ec', { namedCurve });
}

/** A certificate together with its private key. */
export interface CertifiedKey {
  readonly cert: Certificate;
  readonly certPem: string;
  readonly privateKey: KeyObject;
  /** PKCS#8 PEM, as cryptogen writes keystore/priv_sk. */
  readonly keyPem: string;
}

export interface SubjectSpec {
  readonly commonName: string;
  readonly organization?: string;
  readonly organizationalUnits?: readonly string[];
  readonly country?: string;
  readonly province?: string;
  readonly locality?: string;
}

/** Validity fields that may each be left out. */
export interface ValidityOverrides {
  /** ms since epoch; default: the clock's now - 5 minutes (tolerates small clock skew, as cryptogen). */
  readonly notBefore?: number;
  /** ms since epoch; default: notBefore + validityDays. */
  readonly notAfter?: number;
  /** Default 3650 days for CAs and leaves alike. */
  readonly validityDays?: number;
  readonly clock?: Clock;
}

/** A validity period: it starts at notBefore when given, else just before the clock's now, so one of the two is required. */
export type ValiditySpec = ValidityOverrides & ({ readonly notBefore: number } | { readonly clock: Clock });

export type CaSpec = SubjectSpec &
  ValiditySpec & {
    readonly curve?: CurveName;
    /** basicConstraints pathLen; omitted when undefined. */
    readonly pathLen?: number;
  };

export type LeafSpec = SubjectSpec &
  ValiditySpec & {
    readonly curve?: CurveName;
    /** Use this key instead of generating one (e.g. to re-issue a certificate). */
    readonly keyPair?: KeyPair;
    readonly dnsNames?: readonly string[];
    /** IP addresses; entries of `hosts` that are IPs go here automatically. */
    readonly ipAddresses?: readonly string[];
    /** Host names or IPs for a TLS certificate's SANs. */
    readonly hosts?: readonly string[];
    /** TLS certificates get digitalSignature+keyEncipherment and serverAuth+clientAuth EKUs. */
    readonly tls?: boolean;
    readonly serialNumber?: bigint;
    readonly keyUsage?: number;
    readonly extKeyUsage?: readonly string[];
    /** Issue a certificate with CA:TRUE (an invalid identity, for tests). */
    readonly isCA?: boolean;
  };

// ---------------------------------------------------------------------------------------------
// Encoding

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

function encodeString(value: string): Buffer {
  return PRINTABLE.test(value) ? derPrintable(value) : derUtf8(value);
}

/** Go's pkix.Name order: C, ST, L, O, OU, CN — one attribute per RDN. */
export function encodeName(spec: SubjectSpec): Buffer {
  const rdns: Buffer[] = [];
  const add = (oid: string, value: string | undefined) => {
    if (value) rdns.push(derSet(derSequence(derOid(oid), encodeString(value))));
  };
  add(Oid.country, spec.country);
  add(Oid.province, spec.province);
  add(Oid.locality, spec.locality);
  add(Oid.organization, spec.organization);
  for (const ou of spec.organizationalUnits ?? []) add(Oid.organizationalUnit, ou);
  add(Oid.commonName, spec.commonName);
  return derSequence(...rdns);
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? derSequence(derOid(oid), derBoolean(true), derOctetString(value))
    : derSequence(derOid(oid), derOctetString(value));
}

function encodeKeyUsage(bits: number): Buffer {
  let highest = -1;
  for (let b = 0; b < 9; b++) if (bits & (1 << b)) highest = b;
  if (highest < 0) return Buffer.from([0x03, 0x01, 0x00]);
  const bytes = Buffer.alloc((highest >> 3) + 1);
  for (let b = 0; b <= highest; b++) if (bits & (1 << b)) bytes[b >> 3]! |= 0x80 >> (b & 7);
  const unused = 7 - (highest & 7);
  return Buffer.concat([Buffer.from([0x03, bytes.length + 1, unused]), bytes]);
}

function encodeIp(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** Subject key identifier as cryptogen computes it: SHA-256 of the public key point. */
export function subjectKeyIdFor(publicKey: KeyObject): Buffer {
  const spki = readDerExact(publicKeyToSpkiDer(publicKey));
  const bitString = children(spki)[1]!;
  return sha256(bitString.content.subarray(1));
}

function randomSerial(): bigint {
  const b = randomBytes(16);
  b[0]! &= 0x7f;
  return BigInt('0x' + b.toString('hex')) || 1n;
}

function signatureAlgorithmFor(signer: KeyObject): { oid: string; hash: 'sha256' | 'sha384' | 'sha512' } {
  const c = curveOfKey(signer);
  if (!c) throw new Error('certificate signing needs an ECDSA key');
  if (c.name === 'P-384') return { oid: Oid.ecdsaWithSha384, hash: 'sha384' };
  if (c.name === 'P-521') return { oid: Oid.ecdsaWithSha512, hash: 'sha512' };
  return { oid: Oid.ecdsaWithSha256, hash: 'sha256' };
}

function resolveValidity(spec: ValiditySpec): { notBefore: number; notAfter: number } {
  // ValiditySpec guarantees a clock whenever notBefore is missing.
  const notBefore = spec.notBefore ?? (spec.clock as Clock).now() - 5 * 60_000;
  const notAfter = spec.notAfter ?? notBefore + (spec.validityDays ?? 3650) * 86_400_000;
  return { notBefore, notAfter };
}

interface TbsInput {
  serialNumber: bigint;
  issuerName: Buffer;
  subjectName: Buffer;
  notBefore: number;
  notAfter: number;
  publicKey: KeyObject;
  extensions: Buffer[];
}

function signCertificate(input: TbsInput, signerKey: KeyObject): Certificate {
  const alg = signatureAlgorithmFor(signerKey);
  const algId = derSequence(derOid(alg.oid));
  const tbs = derSequence(
    derExplicit(0, derUnsignedInteger(2n)),
    derUnsignedInteger(input.serialNumber),
    algId,
    input.issuerName,
    derSequence(derTime(input.notBefore), derTime(input.notAfter)),
    input.subjectName,
    publicKeyToSpkiDer(input.publicKey),
    derExplicit(3, derSequence(...input.extensions)),
  );
  const signature = signEcdsa(signerKey, tbs, alg.hash);
  return new Certificate(derSequence(tbs, algId, derBitString(signature)));
}

function certified(cert: Certificate, privateKey: KeyObject): CertifiedKey {
  return { cert, certPem: cert.toPem(), privateKey, keyPem: privateKeyToPkcs8Pem(privateKey) };
}

function caExtensions(publicKey: KeyObject, pathLen: number | undefined, issuer?: CertifiedKey): Buffer[] {
  const bc =
    pathLen === undefined
      ? derSequence(derBoolean(true))
      : derSequence(derBoolean(true), derUnsignedInteger(BigInt(pathLen)));
  const exts = [
    extension(
      Oid.keyUsage,
      true,
      encodeKeyUsage(
        KeyUsage.digitalSignature | KeyUsage.keyEncipherment | KeyUsage.certSign | KeyUsage.crlSign,
      ),
    ),
    extension(Oid.extKeyUsage, false, derSequence(derOid(Oid.ekuClientAuth), derOid(Oid.ekuServerAuth))),
    extension(Oid.basicConstraints, true, bc),
    extension(Oid.subjectKeyIdentifier, false, derOctetString(subjectKeyIdFor(publicKey))),
  ];
  if (issuer) exts.push(authorityKeyIdExtension(issuer));
  return exts;
}

function authorityKeyIdExtension(issuer: CertifiedKey): Buffer {
  const keyId = issuer.cert.subjectKeyId ?? subjectKeyIdFor(issuer.privateKey);
  return extension(Oid.authorityKeyIdentifier, false, derSequence(derImplicit(0, keyId)));
}

function withDefaults(spec: SubjectSpec): SubjectSpec {
  return { country: 'US', province: 'California', locality: 'San Francisco', ...spec };
}

// ---------------------------------------------------------------------------------------------
// Public API

/** A self-signed root CA, shaped like cryptogen's (ca.<domain>). */
export function createRootCa(spec: CaSpec): CertifiedKey {
  const keys = generateKeyPair(spec.curve);
  const name = encodeName(withDefaults(spec));
  const { notBefore, notAfter } = resolveValidity(spec);
  const cert = signCertificate(
    {
      serialNumber: randomSerial(),
      issuerName: name,
      subjectName: name,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      extensions: caExtensions(keys.publicKey, spec.pathLen),
    },
    keys.privateKey,
  );
  return certified(cert, keys.privateKey);
}

/** An intermediate CA issued by `parent`. */
export function createIntermediateCa(parent: CertifiedKey, spec: CaSpec): CertifiedKey {
  const keys = generateKeyPair(spec.curve);
  const { notBefore, notAfter } = resolveValidity(spec);
  const cert = signCertificate(
    {
      serialNumber: randomSerial(),
      issuerName: parent.cert.subject.raw,
      subjectName: encodeName(withDefaults(spec)),
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      extensions: caExtensions(keys.publicKey, spec.pathLen, parent),
    },
    parent.privateKey,
  );
  return certified(cert, keys.privateKey);
}

/** A leaf certificate (identity or TLS) issued by `ca`. */
export function issueCertificate(ca: CertifiedKey, spec: LeafSpec): CertifiedKey {
  const keys = spec.keyPair ?? generateKeyPair(spec.curve);
  const { notBefore, notAfter } = resolveValidity(spec);
  const dnsNames = [...(spec.dnsNames ?? [])];
  const ips = [...(spec.ipAddresses ?? [])];
  for (const h of spec.hosts ?? []) (isIP(h) ? ips : dnsNames).push(h);

  const keyUsage =
    spec.keyUsage ??
    (spec.isCA
      ? KeyUsage.digitalSignature | KeyUsage.certSign | KeyUsage.crlSign
      : spec.tls
        ? KeyUsage.digitalSignature | KeyUsage.keyEncipherment
        : KeyUsage.digitalSignature);
  const eku = spec.extKeyUsage ?? (spec.tls ? [Oid.ekuServerAuth, Oid.ekuClientAuth] : []);
  const extensions = [
    extension(Oid.keyUsage, true, encodeKeyUsage(keyUsage)),
    ...(eku.length ? [extension(Oid.extKeyUsage, false, derSequence(...eku.map(derOid)))] : []),
    extension(Oid.basicConstraints, true, spec.isCA ? derSequence(derBoolean(true)) : derSequence()),
    ...(spec.isCA
      ? [extension(Oid.subjectKeyIdentifier, false, derOctetString(subjectKeyIdFor(keys.publicKey)))]
      : []),
    authorityKeyIdExtension(ca),
  ];
  if (dnsNames.length || ips.length) {
    const general = [
      ...dnsNames.map((d) => derImplicit(2, Buffer.from(d, 'latin1'))),
      ...ips.map((ip) => derImplicit(7, encodeIp(ip))),
    ];
    extensions.push(extension(Oid.subjectAltName, false, derSequence(...general)));
  }
  const cert = signCertificate(
    {
      serialNumber: spec.serialNumber ?? randomSerial(),
      issuerName: ca.cert.subject.raw,
      subjectName: encodeName(withDefaults(spec)),
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      extensions,
    },
    ca.privateKey,
  );
  return certified(cert, keys.privateKey);
}

/** thisUpdate defaults to the clock's now, so one of the two is required. */
export type CrlSpec = {
  readonly revoked: readonly { serialNumber: bigint; revocationDate?: number }[];
  readonly nextUpdate?: number;
  readonly crlNumber?: bigint;
} & (
  | { readonly thisUpdate: number; readonly clock?: Clock }
  | { readonly thisUpdate?: number; readonly clock: Clock }
);

/** A v2 CRL signed by `ca`, carrying the CA's key identifier as AuthorityKeyIdentifier. */
export function createCrl(ca: CertifiedKey, spec: CrlSpec): CertificateRevocationList {
  const thisUpdate = spec.thisUpdate ?? (spec.clock as Clock).now();
  const nextUpdate = spec.nextUpdate ?? thisUpdate + 30 * 86_400_000;
  const alg = signatureAlgorithmFor(ca.privateKey);
  const algId = derSequence(derOid(alg.oid));
  const entries = spec.revoked.map((r) =>
    derSequence(derUnsignedInteger(r.serialNumber), derTime(r.revocationDate ?? thisUpdate)),
  );
  const tbs = derSequence(
    derUnsignedInteger(1n),
    algId,
    ca.cert.subject.raw,
    derTime(thisUpdate),
    derTime(nextUpdate),
    ...(entries.length ? [derSequence(...entries)] : []),
    derExplicit(
      0,
      derSequence(
        authorityKeyIdExtension(ca),
        extension(Oid.crlNumber, false, derUnsignedInteger(spec.crlNumber ?? 1n)),
      ),
    ),
  );
  const signature = signEcdsa(ca.privateKey, tbs, alg.hash);
  return new CertificateRevocationList(derSequence(tbs, algId, derBitString(signature)));
}

// ---------------------------------------------------------------------------------------------
// Folders

export interface NodeOUsSpec {
  /** Path of the CA certificate within the MSP folder that the NodeOU identifiers name. */
  readonly certificate?: string;
  readonly clientOu?: string;
  readonly peerOu?: string;
  readonly adminOu?: string;
  readonly ordererOu?: string;
}

export interface MspFolderSpec {
  /** Root CA certificates (cacerts/). */
  readonly rootCerts: readonly Certificate[];
  readonly intermediateCerts?: readonly Certificate[];
  readonly tlsRootCerts?: readonly Certificate[];
  readonly tlsIntermediateCerts?: readonly Certificate[];
  readonly adminCerts?: readonly Certificate[];
  readonly crls?: readonly CertificateRevocationList[];
  /** The signing identity (signcerts/ and keystore/priv_sk); omit for a verifying MSP folder. */
  readonly signer?: CertifiedKey;
  /** Base name of the signcert file; default "<CN>-cert.pem". */
  readonly signerName?: string;
  /** NodeOUs in config.yaml; true (default) = cryptogen's client/peer/admin/orderer; false = none. */
  readonly nodeOUs?: boolean | NodeOUsSpec;
}

function certFileName(cert: Certificate): string {
  return `${(cert.subject.commonName || 'cert-' + cert.serialHex).replace(/[^\w.@-]/g, '_')}-cert.pem`;
}

/**
 * Writes an MSP folder as cryptogen does: cacerts/, intermediatecerts/, tlscacerts/,
 * tlsintermediatecerts/, admincerts/, crls/, signcerts/, keystore/priv_sk and config.yaml.
 */
export function writeMspFolder(dir: string, spec: MspFolderSpec): void {
  mkdirSync(dir, { recursive: true });
  const writeCerts = (sub: string, certs: readonly Certificate[] | undefined) => {
    if (!certs?.length) return;
    mkdirSync(join(dir, sub), { recursive: true });
    for (const c of certs) writeFileSync(join(dir, sub, certFileName(c)), c.toPem());
  };
  writeCerts('cacerts', spec.rootCerts);
  writeCerts('intermediatecerts', spec.intermediateCerts);
  writeCerts('tlscacerts', spec.tlsRootCerts);
  writeCerts('tlsintermediatecerts', spec.tlsIntermediateCerts);
  writeCerts('admincerts', spec.adminCerts);
  if (spec.crls?.length) {
    mkdirSync(join(dir, 'crls'), { recursive: true });
    spec.crls.forEach((crl, i) => writeFileSync(join(dir, 'crls', `crl${i}.pem`), crl.toPem()));
  }
  if (spec.signer) {
    mkdirSync(join(dir, 'signcerts'), { recursive: true });
    mkdirSync(join(dir, 'keystore'), { recursive: true });
    writeFileSync(
      join(dir, 'signcerts', spec.signerName ?? certFileName(spec.signer.cert)),
      spec.signer.certPem,
    );
    writeFileSync(join(dir, 'keystore', 'priv_sk'), spec.signer.keyPem, { mode: 0o600 });
  }
  const nodeOUs = spec.nodeOUs ?? true;
  if (nodeOUs) {
    const ous: NodeOUsSpec = nodeOUs === true ? {} : nodeOUs;
    const issuer = spec.intermediateCerts?.length ? 'intermediatecerts' : 'cacerts';
    const certPath =
      ous.certificate ?? `${issuer}/${certFileName((spec.intermediateCerts?.[0] ?? spec.rootCerts[0])!)}`;
    const entry = (key: string, ou: string) =>
      `  ${key}:\n    Certificate: ${certPath}\n    OrganizationalUnitIdentifier: ${ou}\n`;
    writeFileSync(
      join(dir, 'config.yaml'),
      'NodeOUs:\n  Enable: true\n' +
        entry('ClientOUIdentifier', ous.clientOu ?? 'client') +
        entry('PeerOUIdentifier', ous.peerOu ?? 'peer') +
        entry('AdminOUIdentifier', ous.adminOu ?? 'admin') +
        entry('OrdererOUIdentifier', ous.ordererOu ?? 'orderer'),
    );
  }
}

export interface NodeFolderSpec extends MspFolderSpec {
  readonly signer: CertifiedKey;
  /** TLS key pair and certificate; written as tls/server.crt|key (or client.* when tlsClient). */
  readonly tls?: CertifiedKey;
  readonly tlsCa?: Certificate;
  readonly tlsClient?: boolean;
}

/** A cryptogen node/user folder: <dir>/msp (see writeMspFolder) and <dir>/tls. */
export function writeNodeFolder(dir: string, spec: NodeFolderSpec): { mspDir: string; tlsDir: string } {
  const mspDir = join(dir, 'msp');
  const tlsDir = join(dir, 'tls');
  writeMspFolder(mspDir, spec);
  if (spec.tls) {
    mkdirSync(tlsDir, { recursive: true });
    const base = spec.tlsClient ? 'client' : 'server';
    writeFileSync(join(tlsDir, `${base}.crt`), spec.tls.certPem);
    writeFileSync(join(tlsDir, `${base}.key`), spec.tls.keyPem, { mode: 0o600 });
    const ca = spec.tlsCa ?? spec.tlsRootCerts?.[0];
    if (ca) writeFileSync(join(tlsDir, 'ca.crt'), ca.toPem());
  }
  return { mspDir, tlsDir };
}

// ---------------------------------------------------------------------------------------------
// Organizations (cryptogen in a function)

export type OrgRole = 'client' | 'peer' | 'admin' | 'orderer';

export type OrganizationSpec = ValiditySpec & {
  readonly mspId: string;
  /** e.g. "org1.example.com": CAs are ca.<domain> and tlsca.<domain>. */
  readonly domain: string;
  readonly curve?: CurveName;
};

export interface OrgIdentity {
  readonly role: OrgRole;
  readonly signer: CertifiedKey;
  readonly tls: CertifiedKey;
}

export class OrganizationCrypto {
  readonly ca: CertifiedKey;
  readonly tlsCa: CertifiedKey;

  constructor(readonly spec: OrganizationSpec) {
    const subject = { organization: spec.domain, curve: spec.curve, ...(validityOf(spec) as ValiditySpec) };
    this.ca = createRootCa({ commonName: `ca.${spec.domain}`, ...subject });
    this.tlsCa = createRootCa({ commonName: `tlsca.${spec.domain}`, ...subject });
  }

  get mspId(): string {
    return this.spec.mspId;
  }

  /** An identity with NodeOU `role`; its TLS certificate covers `hosts` (plus the CN). */
  issue(
    commonName: string,
    role: OrgRole,
    options: { hosts?: readonly string[] } & ValidityOverrides = {},
  ): OrgIdentity {
    // The organization's ValiditySpec with the overrides on top is still a ValiditySpec.
    const validity = { ...validityOf(this.spec), ...validityOf(options) } as ValiditySpec;
    const signer = issueCertificate(this.ca, {
      commonName,
      organizationalUnits: [role],
      curve: this.spec.curve,
      ...validity,
    });
    const hosts = role === 'client' || role === 'admin' ? [] : [commonName, ...(options.hosts ?? [])];
    const tls = issueCertificate(this.tlsCa, {
      commonName,
      tls: true,
      hosts: [...new Set(hosts)],
      curve: this.spec.curve,
      ...validity,
    });
    return { role, signer, tls };
  }

  /** The organization's verifying MSP folder (what configtxgen reads). */
  writeOrgMsp(dir: string): void {
    writeMspFolder(dir, { rootCerts: [this.ca.cert], tlsRootCerts: [this.tlsCa.cert] });
  }

  /** <dir>/msp and <dir>/tls for one identity, as cryptogen lays them out. */
  writeIdentity(dir: string, identity: OrgIdentity): { mspDir: string; tlsDir: string } {
    return writeNodeFolder(dir, {
      rootCerts: [this.ca.cert],
      tlsRootCerts: [this.tlsCa.cert],
      signer: identity.signer,
      tls: identity.tls,
      tlsCa: this.tlsCa.cert,
      tlsClient: identity.role === 'client' || identity.role === 'admin',
    });
  }
}

function validityOf(v: ValidityOverrides): ValidityOverrides {
  const out: { -readonly [K in keyof ValidityOverrides]: ValidityOverrides[K] } = {};
  if (v.notBefore !== undefined) out.notBefore = v.notBefore;
  if (v.notAfter !== undefined) out.notAfter = v.notAfter;
  if (v.validityDays !== undefined) out.validityDays = v.validityDays;
  if (v.clock !== undefined) out.clock = v.clock;
  return out;
}
