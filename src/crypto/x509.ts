// X.509 certificates and CRLs, parsed strictly from DER. Fabric's MSP rules need raw subject and
// issuer names, key identifiers, basic constraints, key usages and the signature value, and the
// ability to rewrite an ECDSA certificate signature into low-S form (msp/cert.go sanitization).
import { verify as nodeVerify, X509Certificate, type KeyObject } from 'node:crypto';
import {
  children,
  type Der,
  derBitString,
  DerError,
  derSequence,
  expectTag,
  readDerExact,
  readOid,
  readSignedInteger,
  readString,
  readTime,
  Tag,
} from './asn1.js';
import { curveByOid, curveOfKey, toLowS } from './ecdsa.js';
import { publicKeyFromSpki } from './keys.js';

export const Oid = {
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ed25519: '1.3.101.112',
  ecdsaWithSha1: '1.2.840.10045.4.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  sha1WithRsa: '1.2.840.113549.1.1.5',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  crlNumber: '2.5.29.20',
  nameConstraints: '2.5.29.30',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  ekuAny: '2.5.29.37.0',
  ekuServerAuth: '1.3.6.1.5.5.7.3.1',
  ekuClientAuth: '1.3.6.1.5.5.7.3.2',
  commonName: '2.5.4.3',
  serialNumber: '2.5.4.5',
  country: '2.5.4.6',
  locality: '2.5.4.7',
  province: '2.5.4.8',
  streetAddress: '2.5.4.9',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  postalCode: '2.5.4.17',
} as const;

/** Go's x509.KeyUsage bits. */
export const KeyUsage = {
  digitalSignature: 1 << 0,
  contentCommitment: 1 << 1,
  keyEncipherment: 1 << 2,
  dataEncipherment: 1 << 3,
  keyAgreement: 1 << 4,
  certSign: 1 << 5,
  crlSign: 1 << 6,
  encipherOnly: 1 << 7,
  decipherOnly: 1 << 8,
} as const;

const ATTRIBUTE_NAMES: Record<string, string> = {
  [Oid.commonName]: 'CN',
  [Oid.serialNumber]: 'SERIALNUMBER',
  [Oid.country]: 'C',
  [Oid.locality]: 'L',
  [Oid.province]: 'ST',
  [Oid.streetAddress]: 'STREET',
  [Oid.organization]: 'O',
  [Oid.organizationalUnit]: 'OU',
  [Oid.postalCode]: 'POSTALCODE',
};

export interface NameAttribute {
  readonly oid: string;
  readonly value: string;
}

export class DistinguishedName {
  constructor(
    /** The Name exactly as encoded; Go compares issuer and subject by these bytes. */
    readonly raw: Buffer,
    /** Attributes in encoding order (RDN by RDN). */
    readonly attributes: readonly NameAttribute[],
  ) {}

  values(oid: string): string[] {
    return this.attributes.filter((a) => a.oid === oid).map((a) => a.value);
  }

  get commonName(): string {
    const cns = this.values(Oid.commonName);
    return cns[cns.length - 1] ?? '';
  }

  get organizationalUnits(): string[] {
    return this.values(Oid.organizationalUnit);
  }

  /** RFC 2253 order as Go's pkix.Name.String() prints it: "CN=...,OU=...,O=...,C=US". */
  toString(): string {
    return [...this.attributes]
      .reverse()
      .map((a) => `${ATTRIBUTE_NAMES[a.oid] ?? a.oid}=${a.value.replace(/([,+"\\<>;])/g, '\\$1')}`)
      .join(',');
  }
}

function parseName(el: Der): DistinguishedName {
  expectTag(el, Tag.SEQUENCE, 'Name');
  const attributes: NameAttribute[] = [];
  for (const rdn of children(el)) {
    expectTag(rdn, Tag.SET, 'RelativeDistinguishedName');
    for (const atv of children(rdn)) {
      const [type, value] = children(expectTag(atv, Tag.SEQUENCE, 'AttributeTypeAndValue'));
      if (!type || !value) throw new DerError('AttributeTypeAndValue incomplete');
      attributes.push({ oid: readOid(type), value: readString(value) });
    }
  }
  return new DistinguishedName(el.raw, attributes);
}

export interface Extension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Buffer;
}

export interface SubjectAltNames {
  readonly dnsNames: string[];
  readonly ipAddresses: string[];
  readonly emailAddresses: string[];
  readonly uris: string[];
}

function formatIp(b: Buffer): string {
  if (b.length === 4) return Array.from(b).join('.');
  if (b.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
    return groups.join(':');
  }
  return b.toString('hex');
}

/** A parsed X.509 certificate. Immutable; the public KeyObject is built on first use. */
export class Certificate {
  readonly der: Buffer;
  /** The TBSCertificate bytes exactly as signed. */
  readonly tbs: Buffer;
  readonly version: number;
  readonly serialNumber: bigint;
  /** The outer signatureAlgorithm AlgorithmIdentifier, raw. */
  readonly signatureAlgorithmRaw: Buffer;
  readonly signatureAlgorithm: string;
  /** The signature BIT STRING content (without the unused-bits octet). */
  readonly signature: Buffer;
  readonly issuer: DistinguishedName;
  readonly subject: DistinguishedName;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly spki: Buffer;
  readonly publicKeyAlgorithm: string;
  /** Named curve OID for EC keys. */
  readonly publicKeyCurve: string | undefined;
  readonly extensions: readonly Extension[];
  readonly basicConstraintsValid: boolean;
  readonly isCA: boolean;
  /** -1 when not constrained. */
  readonly maxPathLen: number;
  /** Go's KeyUsage bit set; 0 when the extension is absent. */
  readonly keyUsage: number;
  readonly extKeyUsage: readonly string[];
  readonly subjectKeyId: Buffer | undefined;
  readonly authorityKeyId: Buffer | undefined;
  readonly subjectAltNames: SubjectAltNames;
  private key: KeyObject | undefined;

  constructor(der: Buffer) {
    this.der = der;
    const top = readDerExact(der);
    expectTag(top, Tag.SEQUENCE, 'Certificate');
    const [tbsEl, algEl, sigEl] = children(top);
    if (!tbsEl || !algEl || !sigEl)
      throw new DerError('Certificate must hold tbsCertificate, algorithm, signature');
    expectTag(tbsEl, Tag.SEQUENCE, 'tbsCertificate');
    this.tbs = tbsEl.raw;
    this.signatureAlgorithmRaw = algEl.raw;
    this.signatureAlgorithm = readOid(children(expectTag(algEl, Tag.SEQUENCE, 'signatureAlgorithm'))[0]!);
    expectTag(sigEl, Tag.BIT_STRING, 'signatureValue');
    if (sigEl.content[0] !== 0) throw new DerError('signature BIT STRING has unused bits');
    this.signature = sigEl.content.subarray(1);

    const fields = children(tbsEl);
    let i = 0;
    if (fields[0]?.tag === 0xa0) {
      this.version = Number(readSignedInteger(children(fields[0])[0]!, 'version')) + 1;
      i++;
    } else {
      this.version = 1;
    }
    this.serialNumber = readSignedInteger(fields[i++]!, 'serialNumber');
    const innerAlg = expectTag(fields[i++], Tag.SEQUENCE, 'signature');
    if (!innerAlg.raw.equals(algEl.raw)) {
      throw new DerError('inner and outer signature algorithm identifiers differ');
    }
    this.issuer = parseName(fields[i++]!);
    const validity = children(expectTag(fields[i++], Tag.SEQUENCE, 'validity'));
    this.notBefore = readTime(validity[0]!);
    this.notAfter = readTime(validity[1]!);
    this.subject = parseName(fields[i++]!);
    const spkiEl = expectTag(fields[i++], Tag.SEQUENCE, 'subjectPublicKeyInfo');
    this.spki = spkiEl.raw;
    const spkiAlg = children(expectTag(children(spkiEl)[0], Tag.SEQUENCE, 'algorithm'));
    this.publicKeyAlgorithm = readOid(spkiAlg[0]!);
    this.publicKeyCurve =
      this.publicKeyAlgorithm === Oid.ecPublicKey && spkiAlg[1]?.tag === Tag.OID
        ? readOid(spkiAlg[1])
        : undefined;

    const extensions: Extension[] = [];
    for (; i < fields.length; i++) {
      const f = fields[i]!;
      if (f.tag !== 0xa3) continue; // issuerUniqueID [1] / subjectUniqueID [2]
      for (const extEl of children(expectTag(children(f)[0], Tag.SEQUENCE, 'extensions'))) {
        const parts = children(expectTag(extEl, Tag.SEQUENCE, 'extension'));
        const oid = readOid(parts[0]!);
        let critical = false;
        let valueEl = parts[1];
        if (valueEl?.tag === Tag.BOOLEAN) {
          critical = valueEl.content[0] !== 0;
          valueEl = parts[2];
        }
        expectTag(valueEl, Tag.OCTET_STRING, `extension ${oid} value`);
        extensions.push({ oid, critical, value: valueEl!.content });
      }
    }
    this.extensions = extensions;

    let basicConstraintsValid = false;
    let isCA = false;
    let maxPathLen = -1;
    let keyUsage = 0;
    let extKeyUsage: string[] = [];
    let subjectKeyId: Buffer | undefined;
    let authorityKeyId: Buffer | undefined;
    const sans: SubjectAltNames = { dnsNames: [], ipAddresses: [], emailAddresses: [], uris: [] };
    for (const ext of extensions) {
      const v = readDerExact(ext.value);
      switch (ext.oid) {
        case Oid.basicConstraints: {
          basicConstraintsValid = true;
          const items = children(v);
          let k = 0;
          if (items[k]?.tag === Tag.BOOLEAN) isCA = items[k++]!.content[0] !== 0;
          if (items[k]?.tag === Tag.INTEGER) maxPathLen = Number(readSignedInteger(items[k]!, 'pathLen'));
          break;
        }
        case Oid.keyUsage: {
          expectTag(v, Tag.BIT_STRING, 'keyUsage');
          const bits = v.content.subarray(1);
          for (let b = 0; b < 9; b++) {
            const byte = bits[b >> 3];
            if (byte !== undefined && (byte >> (7 - (b & 7))) & 1) keyUsage |= 1 << b;
          }
          break;
        }
        case Oid.extKeyUsage:
          extKeyUsage = children(v).map(readOid);
          break;
        case Oid.subjectKeyIdentifier:
          subjectKeyId = expectTag(v, Tag.OCTET_STRING, 'subjectKeyIdentifier').content;
          break;
        case Oid.authorityKeyIdentifier:
          authorityKeyId = children(v).find((c) => c.tag === 0x80)?.content;
          break;
        case Oid.subjectAltName:
          for (const gn of children(v)) {
            if (gn.tag === 0x82) sans.dnsNames.push(gn.content.toString('latin1'));
            else if (gn.tag === 0x87) sans.ipAddresses.push(formatIp(gn.content));
            else if (gn.tag === 0x81) sans.emailAddresses.push(gn.content.toString('latin1'));
            else if (gn.tag === 0x86) sans.uris.push(gn.content.toString('latin1'));
          }
          break;
      }
    }
    this.basicConstraintsValid = basicConstraintsValid;
    this.isCA = isCA;
    this.maxPathLen = maxPathLen;
    this.keyUsage = keyUsage;
    this.extKeyUsage = extKeyUsage;
    this.subjectKeyId = subjectKeyId;
    this.authorityKeyId = authorityKeyId;
    this.subjectAltNames = sans;
  }

  get publicKey(): KeyObject {
    this.key ??= publicKeyFromSpki(this.spki);
    return this.key;
  }

  get serialHex(): string {
    const hex = (this.serialNumber < 0n ? -this.serialNumber : this.serialNumber).toString(16);
    return (this.serialNumber < 0n ? '-' : '') + (hex.length % 2 ? '0' + hex : hex);
  }

  get hasNameConstraints(): boolean {
    return this.extensions.some((e) => e.oid === Oid.nameConstraints);
  }

  get isEcdsaSigned(): boolean {
    return ECDSA_SIGNATURE_ALGORITHMS.has(this.signatureAlgorithm);
  }

  /** A short human description for error messages: "CN=User1@org1.example.com". */
  get label(): string {
    const cn = this.subject.commonName;
    return cn ? `CN=${cn}` : this.subject.toString() || `serial ${this.serialHex}`;
  }

  toPem(): string {
    return derToPem(this.der, 'CERTIFICATE');
  }

  /** node:crypto's view, for callers that want its helpers (checkHost, fingerprint256...). */
  toNodeCertificate(): X509Certificate {
    return new X509Certificate(this.der);
  }
}

const ECDSA_SIGNATURE_ALGORITHMS = new Set<string>([
  Oid.ecdsaWithSha1,
  Oid.ecdsaWithSha256,
  Oid.ecdsaWithSha384,
  Oid.ecdsaWithSha512,
]);

const SIGNATURE_HASHES: Record<string, string | null> = {
  [Oid.ecdsaWithSha256]: 'sha256',
  [Oid.ecdsaWithSha384]: 'sha384',
  [Oid.ecdsaWithSha512]: 'sha512',
  [Oid.sha256WithRsa]: 'sha256',
  [Oid.sha384WithRsa]: 'sha384',
  [Oid.sha512WithRsa]: 'sha512',
  [Oid.ed25519]: null,
};

/**
 * Whether `signer`'s key made `signature` over `signed` with `algorithm`. SHA-1 based algorithms
 * are refused, as Go's crypto/x509 refuses them. Returns a reason on failure.
 */
export function checkSignatureByKey(
  algorithm: string,
  signed: Buffer,
  signature: Buffer,
  signerKey: KeyObject,
): string | undefined {
  if (algorithm === Oid.ecdsaWithSha1 || algorithm === Oid.sha1WithRsa) {
    return 'signed with SHA-1, which is insecure and not accepted';
  }
  const hashName = SIGNATURE_HASHES[algorithm];
  if (hashName === undefined) return `unsupported signature algorithm ${algorithm}`;
  const isEcdsa = ECDSA_SIGNATURE_ALGORITHMS.has(algorithm);
  if (isEcdsa !== (signerKey.asymmetricKeyType === 'ec')) {
    return `signature algorithm ${algorithm} does not match the issuer's ${signerKey.asymmetricKeyType} key`;
  }
  try {
    return nodeVerify(hashName, signed, signerKey, signature) ? undefined : 'signature does not verify';
  } catch (err) {
    return `signature does not verify (${(err as Error).message})`;
  }
}

/**
 * Go's Certificate.CheckSignatureFrom: the parent must be allowed to sign certificates (CA
 * basic constraints on v3 certificates, certSign key usage if key usage is present).
 */
export function checkIssuedBy(child: Certificate, parent: Certificate): string | undefined {
  if (
    (parent.version === 3 && !parent.basicConstraintsValid) ||
    (parent.basicConstraintsValid && !parent.isCA)
  ) {
    return `${parent.label} is not a CA (basic constraints)`;
  }
  if (parent.keyUsage !== 0 && (parent.keyUsage & KeyUsage.certSign) === 0) {
    return `${parent.label} key usage does not allow certificate signing`;
  }
  return checkSignatureByKey(child.signatureAlgorithm, child.tbs, child.signature, parent.publicKey);
}

/**
 * Fabric's sanitizeECDSASignedCert: rewrites the certificate with the low-S form of its ECDSA
 * signature (the curve being the issuer's), so equal certificates compare equal byte for byte.
 */
export function sanitizeCertificate(cert: Certificate, issuer: Certificate): Certificate {
  if (!cert.isEcdsaSigned) return cert;
  const curveInfo = issuer.publicKeyCurve ? curveByOid(issuer.publicKeyCurve) : curveOfKey(issuer.publicKey);
  if (!curveInfo) return cert;
  const lowS = toLowS(curveInfo, cert.signature);
  if (lowS === cert.signature) return cert;
  return new Certificate(derSequence(cert.tbs, cert.signatureAlgorithmRaw, derBitString(lowS)));
}

// ---------------------------------------------------------------------------------------------
// PEM

export interface PemBlock {
  readonly type: string;
  readonly der: Buffer;
}

const PEM_BLOCK = /-----BEGIN ([^\r\n-]*)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** All PEM blocks in the input, in order. Blocks whose body is not valid base64 are skipped. */
export function decodePemBlocks(input: string | Buffer): PemBlock[] {
  const text = typeof input === 'string' ? input : input.toString('latin1');
  const out: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    // Go's pem allows "Key: value" headers before a blank line; drop them.
    let body = m[2]!;
    if (/^[\w-]+:/.test(body)) {
      const blank = body.search(/\r?\n\r?\n/);
      if (blank >= 0) body = body.slice(blank);
    }
    const b64 = body.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) continue;
    out.push({ type: m[1]!, der: Buffer.from(b64, 'base64') });
  }
  return out;
}

/** Go's pem.Decode: the first well-formed block, or undefined. */
export function decodeFirstPem(input: string | Buffer): PemBlock | undefined {
  return decodePemBlocks(input)[0];
}

export function derToPem(der: Buffer, type: string): string {
  const b64 = der.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}

/** Parses the first certificate of a PEM input, as Fabric's getCertFromPem does. */
export function parseCertificatePem(pem: string | Buffer, source = 'certificate'): Certificate {
  const block = decodeFirstPem(pem);
  if (!block) throw new Error(`${source}: no PEM block found`);
  try {
    return new Certificate(block.der);
  } catch (err) {
    throw new Error(`${source}: not a valid X.509 certificate: ${(err as Error).message}`, { cause: err });
  }
}

// ---------------------------------------------------------------------------------------------
// CRLs

export interface RevokedCertificate {
  readonly serialNumber: bigint;
  readonly revocationDate: number;
}

export class CertificateRevocationList {
  readonly der: Buffer;
  readonly tbs: Buffer;
  readonly signatureAlgorithm: string;
  readonly signature: Buffer;
  readonly issuer: DistinguishedName;
  readonly thisUpdate: number;
  readonly nextUpdate: number | undefined;
  readonly revoked: readonly RevokedCertificate[];
  readonly authorityKeyId: Buffer | undefined;
  private readonly revokedSerials: ReadonlySet<bigint>;

  constructor(der: Buffer) {
    this.der = der;
    const top = readDerExact(der);
    const [tbsEl, algEl, sigEl] = children(expectTag(top, Tag.SEQUENCE, 'CertificateList'));
    if (!tbsEl || !algEl || !sigEl) throw new DerError('CertificateList incomplete');
    this.tbs = expectTag(tbsEl, Tag.SEQUENCE, 'tbsCertList').raw;
    this.signatureAlgorithm = readOid(children(expectTag(algEl, Tag.SEQUENCE, 'signatureAlgorithm'))[0]!);
    this.signature = expectTag(sigEl, Tag.BIT_STRING, 'signatureValue').content.subarray(1);
    const fields = children(tbsEl);
    let i = 0;
    if (fields[i]?.tag === Tag.INTEGER) i++;
    expectTag(fields[i++], Tag.SEQUENCE, 'signature');
    this.issuer = parseName(fields[i++]!);
    this.thisUpdate = readTime(fields[i++]!);
    this.nextUpdate =
      fields[i] && (fields[i]!.tag === Tag.UTC_TIME || fields[i]!.tag === Tag.GENERALIZED_TIME)
        ? readTime(fields[i++]!)
        : undefined;
    const revoked: RevokedCertificate[] = [];
    if (fields[i]?.tag === Tag.SEQUENCE) {
      for (const entry of children(fields[i++]!)) {
        const [serial, date] = children(expectTag(entry, Tag.SEQUENCE, 'revokedCertificate'));
        revoked.push({ serialNumber: readSignedInteger(serial!, 'serial'), revocationDate: readTime(date!) });
      }
    }
    let aki: Buffer | undefined;
    if (fields[i]?.tag === 0xa0) {
      for (const extEl of children(children(fields[i]!)[0]!)) {
        const parts = children(extEl);
        if (readOid(parts[0]!) !== Oid.authorityKeyIdentifier) continue;
        const value = parts[parts.length - 1]!;
        aki = children(readDerExact(value.content)).find((c) => c.tag === 0x80)?.content;
      }
    }
    this.authorityKeyId = aki;
    this.revoked = revoked;
    this.revokedSerials = new Set(revoked.map((r) => r.serialNumber));
  }

  isRevoked(serialNumber: bigint): boolean {
    return this.revokedSerials.has(serialNumber);
  }

  /** Go's CheckCRLSignature. */
  isSignedBy(issuer: Certificate): boolean {
    return (
      checkSignatureByKey(this.signatureAlgorithm, this.tbs, this.signature, issuer.publicKey) === undefined
    );
  }

  toPem(): string {
    return derToPem(this.der, 'X509 CRL');
  }
}

/** Accepts PEM ("X509 CRL") or DER, like Go's x509.ParseCRL. */
export function parseCrl(bytes: Buffer | string): CertificateRevocationList {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  const text = buf.subarray(0, 64).toString('latin1');
  if (text.includes('-----BEGIN')) {
    const block = decodePemBlocks(buf).find((b) => b.type === 'X509 CRL');
    if (!block) throw new Error('no "X509 CRL" PEM block found');
    return new CertificateRevocationList(block.der);
  }
  return new CertificateRevocationList(buf);
}
