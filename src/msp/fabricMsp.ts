// Fabric's X.509 MSP (msp/mspimpl.go, mspimplsetup.go, mspimplvalidate.go) at MSP version 1.4.3,
// the behaviour of every channel with V1_4_3 or V2_0 channel capabilities.
import {
  checkIssuedBy,
  hash,
  identifierHashFunction,
  Oid,
  parseCertificatePem,
  parseCrl,
  sanitizeCertificate,
  signatureHashForFamily,
  verifyEcdsaAsync,
  type AsyncSignatureVerifier,
  type Certificate,
  type CertificateRevocationList,
  type HashAlgorithm,
} from '../crypto/index.js';
import type { OrdererError } from '../errors.js';
import { badRequest, forbidden } from '../errors.js';
import { asBuffer, common, msp as mspProto } from '../protos/index.js';
import { bytesKey, LruCache } from '../lru.js';
import { X509Identity, type IdentityValidator, type ValidationOutcome } from './identity.js';
import type { MSP, NodeRole } from './types.js';

/** MSPConfig.type values (msp/msp.go ProviderType). */
export const MspType = { FABRIC: 0, IDEMIX: 1, OTHER: 2 } as const;

export interface FabricMspOptions {
  /** Deserialized identities kept per MSP (by serialized bytes). Default 10 000. */
  readonly cacheSize?: number;
  /** How identities of this MSP check signatures asynchronously. Default: verifyEcdsaAsync. */
  readonly verifyAsync?: AsyncSignatureVerifier;
}

interface NodeOU {
  readonly role: NodeRole;
  readonly ou: string;
  readonly certifiersIdentifier: Buffer | undefined;
}

interface ChainSearch {
  readonly chains: Certificate[][];
  /** Why candidate issuers were rejected, for the error message when no chain is found. */
  readonly problems: string[];
}

const MAX_CHAIN_LENGTH = 10;
const ROLE_NAMES: Record<number, string> = { 0: 'MEMBER', 1: 'ADMIN', 2: 'CLIENT', 3: 'PEER', 4: 'ORDERER' };
const ROLE_BY_ENUM: Record<number, NodeRole> = { 1: 'admin', 2: 'client', 3: 'peer', 4: 'orderer' };

const der = (c: Certificate) => bytesKey(c.der);
const iso = (ms: number) => new Date(ms).toISOString();
const sameBytes = (a: Uint8Array | null | undefined, b: Uint8Array | null | undefined) =>
  asBuffer(a).equals(asBuffer(b));

/** Decodes a channel's msp.MSPConfig into an MSP. Throws OrdererError('bad-request') if invalid. */
export function mspFromConfig(config: mspProto.IMSPConfig, options: FabricMspOptions = {}): MSP {
  const type = config.type ?? 0;
  if (type === MspType.FABRIC) {
    let fabricConfig: mspProto.FabricMSPConfig;
    try {
      fabricConfig = mspProto.FabricMSPConfig.decode(asBuffer(config.config));
    } catch (err) {
      throw badRequest(`MSP config is not a valid FabricMSPConfig: ${(err as Error).message}`);
    }
    return new FabricMsp(fabricConfig, options);
  }
  if (type === MspType.IDEMIX) {
    let name = 'unknown';
    try {
      name = mspProto.IdemixMSPConfig.decode(asBuffer(config.config)).name || name;
    } catch {
      // the name is only for messages
    }
    return new UnsupportedMsp(name, 'Idemix');
  }
  throw badRequest(`MSP config has unknown type ${type}; expected 0 (FABRIC) or 1 (IDEMIX)`);
}

/** An MSP of a kind this orderer cannot check (Idemix): every identity is refused, clearly. */
export class UnsupportedMsp implements MSP {
  readonly tlsRootCertsPem: readonly string[] = [];
  readonly tlsIntermediateCertsPem: readonly string[] = [];

  constructor(
    readonly id: string,
    private readonly kind: string,
  ) {}

  deserializeIdentity(): never {
    throw forbidden(
      `MSP ${this.id} is an ${this.kind} MSP; ${this.kind} identities are not supported by this orderer`,
    );
  }
}

export class FabricMsp implements MSP, IdentityValidator {
  readonly id: string;
  readonly signatureHash: HashAlgorithm;
  readonly verifyAsync: AsyncSignatureVerifier;
  readonly identifierHash: HashAlgorithm;
  readonly rootCerts: readonly Certificate[];
  readonly intermediateCerts: readonly Certificate[];
  readonly admins: readonly Certificate[];
  readonly crls: readonly CertificateRevocationList[];
  readonly tlsRootCertsPem: readonly string[];
  readonly tlsIntermediateCertsPem: readonly string[];
  /** NodeOU classification is enforced. */
  readonly nodeOUsEnforced: boolean;
  readonly nodeOUs: ReadonlyMap<NodeRole, NodeOU>;
  /** organizational_unit_identifiers: OU -> accepted certifiers identifiers. */
  readonly ouIdentifiers: ReadonlyMap<string, readonly Buffer[]>;

  private rootSet = new Set<string>();
  private bySubject = new Map<string, { cert: Certificate; isRoot: boolean }[]>();
  private readonly internalNodes = new Set<string>();
  private readonly adminSet: Set<string>;
  private readonly cache: LruCache<string, X509Identity>;

  // The steps of Fabric's setupV142 (mspimplsetup.go), in its order: each may rely on the ones
  // before it (CRLs are read before the CA chains are checked against them, NodeOUs before admins).
  constructor(config: mspProto.IFabricMSPConfig, options: FabricMspOptions = {}) {
    this.id = config.name ?? '';
    if (!this.id) throw badRequest('MSP config has no name (MSP ID)');
    this.cache = new LruCache(options.cacheSize ?? 10_000);
    this.verifyAsync = options.verifyAsync ?? verifyEcdsaAsync;
    const crypto = this.setupCrypto(config);
    this.signatureHash = crypto.signatureHash;
    this.identifierHash = crypto.identifierHash;
    const { roots, intermediates } = this.setupCAs(config);
    this.rootCerts = roots;
    this.intermediateCerts = intermediates;
    this.crls = this.setupCRLs(config);
    this.finalizeSetupCAs(roots, intermediates);
    this.setupTLSCAs(config);
    this.tlsRootCertsPem = (config.tlsRootCerts ?? []).map((c) => asBuffer(c).toString());
    this.tlsIntermediateCertsPem = (config.tlsIntermediateCerts ?? []).map((c) => asBuffer(c).toString());
    this.ouIdentifiers = this.setupOUs(config);
    this.nodeOUs = this.setupNodeOUs(config);
    this.nodeOUsEnforced = Boolean(config.fabricNodeOus?.enable) && this.nodeOUs.size > 0;
    this.admins = this.setupAdmins(config);
    this.adminSet = new Set(this.admins.map(der));
    this.admins.forEach((admin, i) => this.checkAdmin(admin, i));
  }

  /** A setup refusal, named by this MSP's ID. */
  private readonly fail = (what: string, err?: unknown): OrdererError =>
    badRequest(`MSP ${this.id}: ${what}${err ? ': ' + (err as Error).message : ''}`);

  private parseSetupCertificate(pem: Uint8Array, what: string): Certificate {
    try {
      return parseCertificatePem(asBuffer(pem), what);
    } catch (err) {
      throw this.fail(`cannot parse ${what}`, err);
    }
  }

  private setupCrypto(config: mspProto.IFabricMSPConfig) {
    try {
      return {
        signatureHash: signatureHashForFamily(config.cryptoConfig?.signatureHashFamily),
        identifierHash: identifierHashFunction(config.cryptoConfig?.identityIdentifierHashFunction),
      };
    } catch (err) {
      throw this.fail('invalid crypto config', err);
    }
  }

  /** CAs: parse, then sanitize against the unsanitized pools, then rebuild the pools. */
  private setupCAs(config: mspProto.IFabricMSPConfig) {
    if (!config.rootCerts?.length)
      throw this.fail('expected at least one root CA certificate (root_certs is empty)');
    let roots = config.rootCerts.map((c, i) => this.parseSetupCertificate(c, `root certificate ${i}`));
    let intermediates = (config.intermediateCerts ?? []).map((c, i) =>
      this.parseSetupCertificate(c, `intermediate certificate ${i}`),
    );
    this.indexPools(roots, intermediates);
    roots = roots.map((c) => this.sanitizeCa(c, this.fail));
    intermediates = intermediates.map((c) => this.sanitizeCa(c, this.fail));
    this.indexPools(roots, intermediates);
    return { roots, intermediates };
  }

  private setupCRLs(config: mspProto.IFabricMSPConfig): CertificateRevocationList[] {
    return (config.revocationList ?? []).map((bytes, i) => {
      try {
        return parseCrl(asBuffer(bytes));
      } catch (err) {
        throw this.fail(`could not parse revocation list ${i}`, err);
      }
    });
  }

  /** Every CA is a CA with a key ID, chains uniquely and is not revoked; records internal nodes. */
  private finalizeSetupCAs(roots: readonly Certificate[], intermediates: readonly Certificate[]): void {
    for (const ca of [...roots, ...intermediates]) {
      if (!ca.isCA)
        throw this.fail(
          `CA certificate ${ca.label} (serial ${ca.serialHex}) does not have CA:TRUE basic constraints`,
        );
      if (!ca.subjectKeyId) {
        throw this.fail(
          `CA certificate ${ca.label} (serial ${ca.serialHex}) has no Subject Key Identifier extension`,
        );
      }
      const chain = this.uniqueChain(ca, ca.notBefore + 1000);
      if (typeof chain === 'string') throw this.fail(`CA certificate ${ca.label} is not valid: ${chain}`);
      if (chain.length > 1) {
        const revoked = this.revocationProblem(ca, chain);
        if (revoked) throw this.fail(`CA certificate ${ca.label} is not valid: ${revoked}`);
      }
    }
    for (const ca of intermediates) {
      const chain = this.uniqueChain(ca, ca.notBefore + 1000) as Certificate[];
      for (const parent of chain.slice(1)) this.internalNodes.add(der(parent));
    }
  }

  /** TLS CAs: checked like the others, within their own pools (kept as PEM for TLS trust). */
  private setupTLSCAs(config: mspProto.IFabricMSPConfig): void {
    const tlsRoots = (config.tlsRootCerts ?? []).map((c, i) =>
      this.parseSetupCertificate(c, `TLS root certificate ${i}`),
    );
    const tlsIntermediates = (config.tlsIntermediateCerts ?? []).map((c, i) =>
      this.parseSetupCertificate(c, `TLS intermediate certificate ${i}`),
    );
    this.checkTlsCas(tlsRoots, tlsIntermediates, this.fail);
  }

  /** organizational_unit_identifiers: OU -> the distinct certifiers identifiers accepted for it. */
  private setupOUs(config: mspProto.IFabricMSPConfig): Map<string, Buffer[]> {
    const ouIdentifiers = new Map<string, Buffer[]>();
    for (const ou of config.organizationalUnitIdentifiers ?? []) {
      const name = ou.organizationalUnitIdentifier ?? '';
      const certifiers = this.certifiersIdentifierOf(
        asBuffer(ou.certificate),
        `OU identifier '${name}'`,
        this.fail,
      );
      const list = ouIdentifiers.get(name) ?? [];
      if (!list.some((c) => c.equals(certifiers))) list.push(certifiers);
      ouIdentifiers.set(name, list);
    }
    return ouIdentifiers;
  }

  /** setupNodeOUsV142: the OU (and optional certifier) of each role that is declared. */
  private setupNodeOUs(config: mspProto.IFabricMSPConfig): Map<NodeRole, NodeOU> {
    const nodeOUs = new Map<NodeRole, NodeOU>();
    const n = config.fabricNodeOus;
    if (!n) return nodeOUs;
    const add = (role: NodeRole, ouId: mspProto.IFabricOUIdentifier | null | undefined) => {
      if (!ouId) return;
      const certificate = asBuffer(ouId.certificate);
      nodeOUs.set(role, {
        role,
        ou: ouId.organizationalUnitIdentifier ?? '',
        certifiersIdentifier: certificate.length
          ? this.certifiersIdentifierOf(certificate, `NodeOU ${role}`, this.fail)
          : undefined,
      });
    };
    add('client', n.clientOuIdentifier);
    add('peer', n.peerOuIdentifier);
    add('admin', n.adminOuIdentifier);
    add('orderer', n.ordererOuIdentifier);
    return nodeOUs;
  }

  /** setupAdminsV142: admin certificates, sanitized on their issuer; required without an admin OU. */
  private setupAdmins(config: mspProto.IFabricMSPConfig): Certificate[] {
    const admins = (config.admins ?? []).map((pem, i) => {
      const cert = this.parseSetupCertificate(pem, `admin certificate ${i}`);
      const chain = this.uniqueChain(cert, cert.notBefore + 1000);
      if (typeof chain === 'string')
        throw this.fail(`admin certificate ${i} (${cert.label}) is invalid: ${chain}`);
      return chain.length > 1 ? sanitizeCertificate(cert, chain[1]!) : cert;
    });
    if (admins.length === 0 && (!this.nodeOUsEnforced || !this.nodeOUs.has('admin'))) {
      throw this.fail('administrators must be declared (admins) when no admin OU classification is set');
    }
    return admins;
  }

  /** postSetupV142: with NodeOUs an admin carries the client or admin OU, else it validates here. */
  private checkAdmin(admin: Certificate, i: number): void {
    if (this.nodeOUsEnforced) {
      const ous = admin.subject.organizationalUnits;
      const client = this.nodeOUs.get('client')?.ou;
      const adminOu = this.nodeOUs.get('admin')?.ou;
      if (
        !ous.some(
          (ou) => (client !== undefined && ou === client) || (adminOu !== undefined && ou === adminOu),
        )
      ) {
        throw this.fail(
          `admin ${i} (${admin.label}) is invalid: with NodeOUs enabled it must carry the client or admin OU`,
        );
      }
    } else {
      const outcome = this.validateCertificate(admin);
      if (outcome.error) throw this.fail(`admin ${i} (${admin.label}) is invalid: ${outcome.error.message}`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Deserialization

  deserializeIdentity(serialized: Buffer): X509Identity {
    const key = bytesKey(serialized);
    const cached = this.cache.get(key);
    if (cached) return cached;
    let sid: mspProto.SerializedIdentity;
    try {
      sid = mspProto.SerializedIdentity.decode(serialized);
    } catch (err) {
      throw badRequest(`could not deserialize a SerializedIdentity: ${(err as Error).message}`);
    }
    if (sid.mspid !== this.id) {
      throw forbidden(`identity belongs to MSP '${sid.mspid}', not to ${this.id}`);
    }
    const identity = this.identityFromPem(serialized, asBuffer(sid.idBytes));
    this.cache.set(key, identity);
    return identity;
  }

  private identityFromPem(serialized: Buffer, idBytes: Buffer): X509Identity {
    let cert: Certificate;
    try {
      cert = parseCertificatePem(idBytes, `identity of ${this.id}`);
    } catch (err) {
      throw badRequest(`${(err as Error).message}; id_bytes must hold a PEM X.509 certificate`);
    }
    if (cert.publicKeyAlgorithm !== Oid.ecPublicKey) {
      throw badRequest(
        `certificate ${cert.label} (${this.id}) has a ${cert.publicKeyAlgorithm === Oid.rsaEncryption ? 'RSA' : cert.publicKeyAlgorithm} key; Fabric identities must use ECDSA keys`,
      );
    }
    try {
      void cert.publicKey;
    } catch (err) {
      throw badRequest(
        `certificate ${cert.label} (${this.id}) has an unusable public key: ${(err as Error).message}`,
      );
    }
    return new X509Identity(serialized, cert, this);
  }

  // -------------------------------------------------------------------------------------------
  // Validation (mspimplvalidate.go)

  validateIdentity(identity: X509Identity): ValidationOutcome {
    return this.validateCertificate(identity.cert);
  }

  private validateCertificate(cert: Certificate): ValidationOutcome {
    const who = `certificate of ${cert.label} (${this.id})`;
    const outcome = (
      error: string | undefined,
      chain?: Certificate[],
      role?: NodeRole,
    ): ValidationOutcome => ({
      error:
        error === undefined
          ? undefined
          : forbidden(error, { mspId: this.id, subject: cert.subject.toString() }),
      sanitizedDer: chain && chain.length > 1 ? sanitizeCertificate(cert, chain[1]!).der : cert.der,
      certifiersIdentifier: chain && chain.length > 1 ? this.chainIdentifier(chain.slice(1)) : undefined,
      role,
    });
    if (cert.isCA) {
      return outcome(
        `${who} is a CA certificate (CA:TRUE) and cannot be used as an identity; use a certificate issued by the CA`,
      );
    }
    const chain = this.uniqueChain(cert, cert.notBefore + 1000);
    if (typeof chain === 'string') return outcome(`${who}: ${chain}`);
    if (chain.length < 2) return outcome(`${who}: expected a certification chain of length at least 2`);
    const parent = chain[1]!;
    if (this.internalNodes.has(der(parent))) {
      return outcome(
        `${who} was issued by ${parent.label}, which has intermediate CAs in ${this.id}; identities must be issued by a leaf CA of the certification tree (issue it from the intermediate CA)`,
        chain,
      );
    }
    const revoked = this.revocationProblem(cert, chain);
    if (revoked) return outcome(`${who} ${revoked}`, chain);

    const certifiers = this.chainIdentifier(chain.slice(1));
    const ous = cert.subject.organizationalUnits;
    if (!this.nodeOUsEnforced) {
      if (this.ouIdentifiers.size > 0) {
        const accepted = ous.some((ou) => this.ouIdentifiers.get(ou)?.some((c) => c.equals(certifiers)));
        if (!accepted) {
          return outcome(
            ous.length === 0
              ? `${who} has no Organizational Unit (OU); ${this.id} requires one of: ${[...this.ouIdentifiers.keys()].join(', ')}`
              : `none of the organizational units [${ous.join(', ')}] of ${who} are accepted by ${this.id} (accepted: ${[...this.ouIdentifiers.keys()].join(', ')}, each from a specific CA)`,
            chain,
          );
        }
      }
      return outcome(undefined, chain);
    }

    let matched: NodeOU | undefined;
    let count = 0;
    for (const ou of ous) {
      const nodeOU = [...this.nodeOUs.values()].find((n) => n.ou === ou);
      if (!nodeOU) continue;
      if (nodeOU.certifiersIdentifier && !nodeOU.certifiersIdentifier.equals(certifiers)) {
        return outcome(
          `${who} carries the ${nodeOU.role} OU '${ou}' but was not issued by the CA that ${this.id} designates for ${nodeOU.role}s`,
          chain,
        );
      }
      matched = nodeOU;
      if (++count > 1) break;
    }
    if (count !== 1) {
      const expected = [...this.nodeOUs.values()].map((n) => `${n.ou} (${n.role})`).join(', ');
      return outcome(
        `${who} must carry exactly one NodeOU organizational unit among ${expected}; it has OUs [${ous.join(', ')}]. Re-issue the certificate with one role OU`,
        chain,
      );
    }
    return outcome(undefined, chain, matched!.role);
  }

  private chainIdentifier(cas: readonly Certificate[]): Buffer {
    return hash(this.identifierHash, ...cas.map((c) => c.der));
  }

  /** validateCertAgainstChain: a CRL of the direct issuer (AKI = issuer SKI) revoking the serial. */
  private revocationProblem(cert: Certificate, chain: readonly Certificate[]): string | undefined {
    const issuer = chain[1]!;
    const ski = issuer.subjectKeyId;
    if (!ski) return `cannot be checked for revocation: issuer ${issuer.label} has no Subject Key Identifier`;
    for (const crl of this.crls) {
      if (!crl.authorityKeyId) {
        return `cannot be checked for revocation: a CRL of ${this.id} (issuer ${crl.issuer}) has no Authority Key Identifier; fix the MSP's revocation_list`;
      }
      if (!crl.authorityKeyId.equals(ski) || !crl.isRevoked(cert.serialNumber)) continue;
      if (!crl.isSignedBy(issuer)) continue; // a CRL not signed by the issuer does not count
      return `has been revoked (serial ${cert.serialHex}) by a CRL of ${issuer.label}; issue a new certificate`;
    }
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Chains (Go's x509.Certificate.Verify as Fabric configures it)

  private indexPools(roots: readonly Certificate[], intermediates: readonly Certificate[]): void {
    this.rootSet = new Set(roots.map(der));
    this.bySubject = new Map();
    const seen = new Set<string>();
    const add = (cert: Certificate, isRoot: boolean) => {
      if (seen.has(der(cert))) return;
      seen.add(der(cert));
      const k = bytesKey(cert.subject.raw);
      const list = this.bySubject.get(k) ?? [];
      list.push({ cert, isRoot });
      this.bySubject.set(k, list);
    };
    roots.forEach((c) => add(c, true));
    intermediates.forEach((c) => add(c, false));
  }

  private findChains(cert: Certificate, at: number): ChainSearch {
    if (this.rootSet.has(der(cert))) return { chains: [[cert]], problems: [] };
    const chains: Certificate[][] = [];
    const problems: string[] = [];
    const walk = (chain: Certificate[]) => {
      const current = chain[chain.length - 1]!;
      const candidates = this.bySubject.get(bytesKey(current.issuer.raw)) ?? [];
      for (const { cert: candidate, isRoot } of candidates) {
        if (chain.some((c) => c.subject.raw.equals(candidate.subject.raw) && c.spki.equals(candidate.spki)))
          continue;
        const problem =
          checkIssuedBy(current, candidate) ??
          this.caValidityProblem(candidate, chain.length - 1, at, isRoot);
        if (problem) {
          problems.push(`${current.label} -> ${candidate.label}: ${problem}`);
          continue;
        }
        if (isRoot) chains.push([...chain, candidate]);
        else if (chain.length < MAX_CHAIN_LENGTH) walk([...chain, candidate]);
      }
    };
    walk([cert]);
    return { chains, problems };
  }

  private caValidityProblem(
    ca: Certificate,
    intermediatesBelow: number,
    at: number,
    isRoot: boolean,
  ): string | undefined {
    if (at < ca.notBefore || at > ca.notAfter) {
      return `CA certificate valid only from ${iso(ca.notBefore)} to ${iso(ca.notAfter)}, not at ${iso(at)} when the certificate became valid`;
    }
    if (!isRoot && (!ca.basicConstraintsValid || !ca.isCA)) return 'intermediate is not a CA';
    if (ca.basicConstraintsValid && ca.maxPathLen >= 0 && intermediatesBelow > ca.maxPathLen) {
      return `path length constraint ${ca.maxPathLen} exceeded`;
    }
    return undefined;
  }

  /** Exactly one chain to a root, or a message saying why not. */
  private uniqueChain(cert: Certificate, at: number): Certificate[] | string {
    const { chains, problems } = this.findChains(cert, at);
    // Go verifies with the default ExtKeyUsageServerAuth: each certificate that lists EKUs must
    // allow serverAuth (or any) — Fabric inherits this behaviour.
    const usable = chains.filter((chain) =>
      chain.every(
        (c) =>
          c.extKeyUsage.length === 0 ||
          c.extKeyUsage.includes(Oid.ekuServerAuth) ||
          c.extKeyUsage.includes(Oid.ekuAny),
      ),
    );
    if (chains.length === 0) {
      const issuer = cert.issuer.toString();
      const unsigned = problems.every((p) => p.endsWith('signature does not verify'));
      if (unsigned) {
        return `not issued by any CA of ${this.id} (issuer: ${issuer}${problems.length ? '; a CA with that name exists but did not sign it' : ''}); its issuer must be one of the MSP's root or intermediate certificates`;
      }
      return `has no valid certification chain to a CA of ${this.id}: ${problems.join('; ')}`;
    }
    if (usable.length === 0) {
      return `its certification chain has an extended key usage without serverAuth or any; Fabric MSPs (Go x509 defaults) reject such chains`;
    }
    if (usable.length > 1) {
      return `${usable.length} certification chains lead to roots of ${this.id}; Fabric MSPs require exactly one`;
    }
    return usable[0]!;
  }

  private sanitizeCa(cert: Certificate, fail: (what: string, err?: unknown) => OrdererError): Certificate {
    if (!cert.isEcdsaSigned) return cert;
    if (cert.isCA && checkIssuedBy(cert, cert) === undefined) return sanitizeCertificate(cert, cert);
    const { chains } = this.findChains(cert, cert.notBefore + 1000);
    if (chains.length !== 1) {
      const why = this.uniqueChain(cert, cert.notBefore + 1000);
      throw fail(
        `CA certificate ${cert.label} is not valid: ${typeof why === 'string' ? why : 'no unique chain'}`,
      );
    }
    const chain = chains[0]!;
    return chain.length > 1 ? sanitizeCertificate(cert, chain[1]!) : cert;
  }

  /** getCertifiersIdentifier: the chain hash of a root or intermediate CA of this MSP. */
  private certifiersIdentifierOf(
    pem: Buffer,
    what: string,
    fail: (what: string, err?: unknown) => OrdererError,
  ) {
    let cert: Certificate;
    try {
      cert = parseCertificatePem(pem, `${what} certificate`);
    } catch (err) {
      throw fail(`cannot parse the certificate of ${what}`, err);
    }
    const chain = this.uniqueChain(cert, cert.notBefore + 1000);
    if (typeof chain === 'string') throw fail(`${what}: certificate ${cert.label} is not valid: ${chain}`);
    const sanitized =
      chain.length > 1
        ? sanitizeCertificate(cert, chain[1]!)
        : cert.isCA
          ? sanitizeCertificate(cert, cert)
          : cert;
    const isRoot = this.rootCerts.some((r) => r.der.equals(sanitized.der));
    const isIntermediate = this.intermediateCerts.some((r) => r.der.equals(sanitized.der));
    if (!isRoot && !isIntermediate) {
      throw fail(
        `${what}: certificate ${cert.label} is not one of the MSP's root or intermediate certificates`,
      );
    }
    if (isRoot) return this.chainIdentifier([sanitized]);
    if (this.internalNodes.has(der(sanitized))) {
      throw fail(
        `${what}: ${cert.label} has intermediate CAs below it; name a leaf CA of the certification tree`,
      );
    }
    return this.chainIdentifier(chain);
  }

  private checkTlsCas(
    roots: Certificate[],
    intermediates: Certificate[],
    fail: (what: string, err?: unknown) => OrdererError,
  ): void {
    const tlsPools = new FabricChainPools(roots, intermediates);
    for (const ca of [...roots, ...intermediates]) {
      if (!ca.isCA) throw fail(`TLS CA certificate ${ca.label} does not have CA:TRUE basic constraints`);
      if (!ca.subjectKeyId)
        throw fail(`TLS CA certificate ${ca.label} has no Subject Key Identifier extension`);
      const chain = tlsPools.chainsOf(ca);
      if (chain.length !== 1) {
        throw fail(
          `TLS CA certificate ${ca.label} is not valid: ${chain.length} certification chains to TLS roots`,
        );
      }
      if (chain[0]!.length > 1) {
        const revoked = this.revocationProblem(ca, chain[0]!);
        if (revoked) throw fail(`TLS CA certificate ${ca.label} ${revoked}`);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Principals (satisfiesPrincipalInternalV142 / V13 / PreV13)

  satisfiesPrincipal(identity: X509Identity, principal: common.IMSPPrincipal): void {
    for (const p of collectPrincipals(principal)) this.satisfiesSingle(identity, p);
  }

  private satisfiesSingle(identity: X509Identity, principal: common.IMSPPrincipal): void {
    const who = identity.description;
    const deny = (message: string) => {
      throw forbidden(message, { mspId: this.id });
    };
    const mustBeValid = () => {
      const { error } = identity.validation;
      if (error) deny(`${error.message} (so it cannot satisfy a ${this.id} principal)`);
    };
    switch (principal.principalClassification ?? 0) {
      case common.MSPPrincipal.Classification.ROLE: {
        const role = decode(() => common.MSPRole.decode(asBuffer(principal.principal)), 'MSPRole');
        if (role.mspIdentifier !== this.id) {
          deny(`${who} is a member of ${this.id}, but the principal requires MSP ${role.mspIdentifier}`);
        }
        const roleName = ROLE_NAMES[role.role] ?? `role ${role.role}`;
        switch (role.role) {
          case common.MSPRole.MSPRoleType.MEMBER:
            mustBeValid();
            return;
          case common.MSPRole.MSPRoleType.ADMIN:
            if (this.adminSet.has(bytesKey(identity.sanitizedDer))) return;
            if (!this.nodeOUsEnforced) {
              deny(
                `${who} is not an admin of ${this.id}: it is not listed in the MSP's admins (NodeOUs are disabled)`,
              );
            }
            mustBeValid();
            this.requireNodeOU(identity, 'admin', roleName);
            return;
          case common.MSPRole.MSPRoleType.CLIENT:
          case common.MSPRole.MSPRoleType.PEER:
          case common.MSPRole.MSPRoleType.ORDERER:
            if (role.role === common.MSPRole.MSPRoleType.ORDERER && !this.nodeOUsEnforced) {
              deny(`the ${roleName} role requires NodeOUs, which ${this.id} does not enable`);
            }
            mustBeValid();
            this.requireNodeOU(identity, ROLE_BY_ENUM[role.role]!, roleName);
            return;
          default:
            deny(`invalid MSP role type ${role.role}`);
        }
        return;
      }
      case common.MSPPrincipal.Classification.IDENTITY: {
        let principalIdentity: X509Identity;
        try {
          principalIdentity = this.deserializeIdentity(asBuffer(principal.principal));
        } catch (err) {
          deny(`invalid identity principal, not a certificate of ${this.id}: ${(err as Error).message}`);
          return;
        }
        if (!identity.sanitizedDer.equals(principalIdentity.sanitizedDer)) {
          deny(`${who} is not the identity ${principalIdentity.description} named by the principal`);
        }
        principalIdentity.validate();
        return;
      }
      case common.MSPPrincipal.Classification.ORGANIZATION_UNIT: {
        const ou = decode(
          () => common.OrganizationUnit.decode(asBuffer(principal.principal)),
          'OrganizationUnit',
        );
        if (ou.mspIdentifier !== this.id) {
          deny(`${who} is a member of ${this.id}, but the principal requires MSP ${ou.mspIdentifier}`);
        }
        mustBeValid();
        const matches =
          identity.organizationalUnits.includes(ou.organizationalUnitIdentifier) &&
          sameBytes(identity.certifiersIdentifier, ou.certifiersIdentifier);
        if (!matches) {
          deny(
            `${who} does not have organizational unit '${ou.organizationalUnitIdentifier}' certified by the CA chain the principal names (it has [${identity.organizationalUnits.join(', ')}])`,
          );
        }
        return;
      }
      case common.MSPPrincipal.Classification.ANONYMITY: {
        const anon = decode(
          () => common.MSPIdentityAnonymity.decode(asBuffer(principal.principal)),
          'MSPIdentityAnonymity',
        );
        if (anon.anonymityType === common.MSPIdentityAnonymity.MSPIdentityAnonymityType.NOMINAL) return;
        deny(
          anon.anonymityType === common.MSPIdentityAnonymity.MSPIdentityAnonymityType.ANONYMOUS
            ? 'principal is anonymous, but X.509 MSPs do not support anonymous identities'
            : `unknown principal anonymity type ${anon.anonymityType}`,
        );
        return;
      }
      case common.MSPPrincipal.Classification.COMBINED:
        deny('combined principals must be flattened before evaluation');
        return;
      default:
        deny(`invalid principal type ${principal.principalClassification}`);
    }
  }

  private requireNodeOU(identity: X509Identity, role: NodeRole, roleName: string): void {
    if (!this.nodeOUsEnforced) {
      throw forbidden(
        `${identity.description} cannot be checked for the ${roleName} role: NodeOUs are not enabled in ${this.id}`,
      );
    }
    const nodeOU = this.nodeOUs.get(role);
    if (!nodeOU) {
      throw forbidden(`cannot test for the ${roleName} role: ${this.id} defines no NodeOU for ${role}s`);
    }
    if (!identity.organizationalUnits.includes(nodeOU.ou)) {
      const actual = identity.role
        ? `it is a ${identity.role}`
        : `its OUs are [${identity.organizationalUnits.join(', ')}]`;
      throw forbidden(
        `${identity.description} is not a ${role} of ${this.id} (${actual}; a ${role} carries OU '${nodeOU.ou}')`,
      );
    }
  }
}

/** Chain search over a separate pair of pools (TLS CAs). */
class FabricChainPools {
  private readonly bySubject = new Map<string, { cert: Certificate; isRoot: boolean }[]>();
  private readonly rootSet: Set<string>;

  constructor(roots: Certificate[], intermediates: Certificate[]) {
    this.rootSet = new Set(roots.map(der));
    for (const [list, isRoot] of [
      [roots, true],
      [intermediates, false],
    ] as const) {
      for (const cert of list) {
        const k = bytesKey(cert.subject.raw);
        const entries = this.bySubject.get(k) ?? [];
        if (!entries.some((e) => e.cert.der.equals(cert.der))) entries.push({ cert, isRoot });
        this.bySubject.set(k, entries);
      }
    }
  }

  chainsOf(cert: Certificate): Certificate[][] {
    if (this.rootSet.has(der(cert))) return [[cert]];
    const at = cert.notBefore + 1000;
    const chains: Certificate[][] = [];
    const walk = (chain: Certificate[]) => {
      const current = chain[chain.length - 1]!;
      for (const { cert: candidate, isRoot } of this.bySubject.get(bytesKey(current.issuer.raw)) ?? []) {
        if (chain.some((c) => c.der.equals(candidate.der))) continue;
        if (checkIssuedBy(current, candidate) || at < candidate.notBefore || at > candidate.notAfter)
          continue;
        if (isRoot) chains.push([...chain, candidate]);
        else if (chain.length < MAX_CHAIN_LENGTH) walk([...chain, candidate]);
      }
    };
    walk([cert]);
    return chains;
  }
}

function decode<T>(fn: () => T, what: string): T {
  try {
    return fn();
  } catch (err) {
    throw forbidden(`could not unmarshal ${what} from principal: ${(err as Error).message}`);
  }
}

/** Flattens COMBINED principals (any depth); an empty combination is an error, as in Fabric. */
export function collectPrincipals(principal: common.IMSPPrincipal): common.IMSPPrincipal[] {
  if (principal.principalClassification !== common.MSPPrincipal.Classification.COMBINED) return [principal];
  const combined = decode(
    () => common.CombinedPrincipal.decode(asBuffer(principal.principal)),
    'CombinedPrincipal',
  );
  if (!combined.principals.length) throw forbidden('no principals in CombinedPrincipal');
  return combined.principals.flatMap((p) => collectPrincipals(p));
}
