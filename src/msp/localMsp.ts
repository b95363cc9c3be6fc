// Fabric's MSP folder (msp/configbuilder.go): the orderer's local MSP (General.LocalMSPDir) and
// the verifying MSP config that configtxgen builds from an organization's msp/ folder.
import type { KeyObject } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Clock } from '../clock.js';
import {
  decodeFirstPem,
  derToPem,
  loadPrivateKeyPem,
  parseCertificatePem,
  samePublicKey,
  signatureHashForFamily,
  signEcdsa,
  type Certificate,
  type HashAlgorithm,
} from '../crypto/index.js';
import { badRequest, forbidden, OrdererError, type ErrorKind } from '../errors.js';
import { msp as mspProto } from '../protos/index.js';
import { FabricMsp, MspType } from './fabricMsp.js';
import type { X509Identity } from './identity.js';
import type { Identity, SigningIdentity } from './types.js';

const folderError = (message: string) => new OrdererError('bad-request', message);

/** Files of a folder holding a PEM block, in name order (unreadable or non-PEM files skipped). */
function pemFilesIn(dir: string): { name: string; bytes: Buffer }[] | undefined {
  if (!existsSync(dir)) return undefined;
  const out: { name: string; bytes: Buffer }[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    try {
      if (statSync(path).isDirectory()) continue;
      const bytes = readFileSync(path);
      if (decodeFirstPem(bytes)) out.push({ name, bytes });
    } catch {
      // Fabric logs and skips files it cannot read
    }
  }
  return out;
}

interface OuConfig {
  Certificate?: string;
  OrganizationalUnitIdentifier?: string;
}

interface MspFolderYaml {
  OrganizationalUnitIdentifiers?: OuConfig[];
  NodeOUs?: {
    Enable?: boolean;
    ClientOUIdentifier?: OuConfig;
    PeerOUIdentifier?: OuConfig;
    AdminOUIdentifier?: OuConfig;
    OrdererOUIdentifier?: OuConfig;
  };
}

/**
 * Builds the FabricMSPConfig of an MSP folder: cacerts/ (required), intermediatecerts/,
 * admincerts/, tlscacerts/, tlsintermediatecerts/, crls/ and config.yaml (OU identifiers,
 * NodeOUs). `signcert` becomes the signing identity's public part, as in GetLocalMspConfig.
 */
export function readMspFolderConfig(dir: string, mspId: string, signcert?: Buffer): mspProto.FabricMSPConfig {
  if (!existsSync(dir)) throw folderError(`MSP folder ${dir} does not exist`);
  const cacerts = pemFilesIn(join(dir, 'cacerts'));
  if (!cacerts?.length) {
    throw folderError(`could not load a valid CA certificate from directory ${join(dir, 'cacerts')}`);
  }
  const list = (sub: string) => (pemFilesIn(join(dir, sub)) ?? []).map((f) => f.bytes);
  const tlsRootCerts = list('tlscacerts');
  const tlsIntermediateCerts = tlsRootCerts.length ? list('tlsintermediatecerts') : [];

  let ouIdentifiers: mspProto.IFabricOUIdentifier[] = [];
  let nodeOus: mspProto.IFabricNodeOUs | undefined;
  const configFile = join(dir, 'config.yaml');
  if (existsSync(configFile)) {
    let conf: MspFolderYaml;
    try {
      conf = (parseYaml(readFileSync(configFile, 'utf8'), { merge: true }) ?? {}) as MspFolderYaml;
    } catch (err) {
      throw folderError(`failed parsing ${configFile}: ${(err as Error).message}`);
    }
    ouIdentifiers = (conf.OrganizationalUnitIdentifiers ?? []).map((ou) => {
      const path = join(dir, ou.Certificate ?? '');
      try {
        return {
          certificate: readFileSync(path),
          organizationalUnitIdentifier: ou.OrganizationalUnitIdentifier ?? '',
        };
      } catch (err) {
        throw folderError(
          `failed loading OrganizationalUnit certificate at ${path}: ${(err as Error).message}`,
        );
      }
    });
    const n = conf.NodeOUs;
    if (n?.Enable) {
      const nodeOu = (ou: OuConfig | undefined): mspProto.IFabricOUIdentifier | undefined => {
        if (!ou?.OrganizationalUnitIdentifier) return undefined;
        const result: mspProto.IFabricOUIdentifier = {
          organizationalUnitIdentifier: ou.OrganizationalUnitIdentifier,
        };
        if (ou.Certificate) {
          // Fabric only warns when the file is missing; the OU then applies to any CA.
          const path = join(dir, ou.Certificate);
          if (existsSync(path)) result.certificate = readFileSync(path);
        }
        return result;
      };
      nodeOus = {
        enable: true,
        clientOuIdentifier: nodeOu(n.ClientOUIdentifier),
        peerOuIdentifier: nodeOu(n.PeerOUIdentifier),
        adminOuIdentifier: nodeOu(n.AdminOUIdentifier),
        ordererOuIdentifier: nodeOu(n.OrdererOUIdentifier),
      };
    }
  }

  return mspProto.FabricMSPConfig.create({
    name: mspId,
    rootCerts: cacerts.map((f) => f.bytes),
    intermediateCerts: list('intermediatecerts'),
    admins: list('admincerts'),
    revocationList: list('crls'),
    signingIdentity: signcert ? { publicSigner: signcert } : null,
    organizationalUnitIdentifiers: ouIdentifiers,
    cryptoConfig: { signatureHashFamily: 'SHA2', identityIdentifierHashFunction: 'SHA256' },
    tlsRootCerts,
    tlsIntermediateCerts,
    fabricNodeOus: nodeOus ?? null,
  });
}

function toMspConfig(fabricConfig: mspProto.IFabricMSPConfig): mspProto.MSPConfig {
  return mspProto.MSPConfig.create({
    type: MspType.FABRIC,
    config: mspProto.FabricMSPConfig.encode(fabricConfig).finish(),
  });
}

/**
 * Fabric's GetVerifyingMspConfig: the msp.MSPConfig of an MSP folder without any signing
 * identity, as configtxgen puts it into a channel config.
 */
export function buildVerifyingMspConfig(dir: string, mspId: string): mspProto.MSPConfig {
  return toMspConfig(readMspFolderConfig(dir, mspId));
}

/** The orderer's own identity: signs with the local MSP's key, always low-S. */
export class LocalSigningIdentity implements SigningIdentity {
  readonly mspId: string;
  readonly serialized: Buffer;
  readonly certPem: string;

  constructor(
    readonly identity: X509Identity,
    private readonly privateKey: KeyObject,
    private readonly hashAlgorithm: HashAlgorithm,
  ) {
    this.mspId = identity.mspId;
    this.serialized = identity.serialized;
    this.certPem = derToPem(identity.cert.der, 'CERTIFICATE');
  }

  get cert(): Certificate {
    return this.identity.cert;
  }

  get expiresAt(): number {
    return this.identity.expiresAt;
  }

  sign(message: Buffer): Buffer {
    return signEcdsa(this.privateKey, message, this.hashAlgorithm);
  }
}

export interface LoadLocalMspOptions {
  /** The MSP folder (General.LocalMSPDir), e.g. .../orderers/orderer0.example.com/msp. */
  readonly dir: string;
  /** General.LocalMSPID. */
  readonly mspId: string;
  /** For the "signing identity expired" check. */
  readonly clock: Clock;
}

export interface LocalMsp {
  readonly signer: LocalSigningIdentity;
  /** The folder's MSPConfig, carrying the public part of the signing identity (as Fabric's). */
  readonly mspConfig: mspProto.MSPConfig;
  readonly msp: FabricMsp;
}

/**
 * Loads a local MSP folder: signcerts/ (first certificate), keystore/ (priv_sk or *_sk: the key
 * whose public key matches the certificate) and the verifying parts. The signing identity must be
 * valid for its own MSP and not expired.
 */
export function loadLocalMsp(options: LoadLocalMspOptions): LocalMsp {
  const { dir, mspId } = options;
  const signcertDir = join(dir, 'signcerts');
  const signcerts = pemFilesIn(signcertDir);
  if (!signcerts?.length) {
    throw folderError(`could not load a valid signer certificate from directory ${signcertDir}`);
  }
  const signcertFile = signcerts[0]!;
  const fabricConfig = readMspFolderConfig(dir, mspId, signcertFile.bytes);
  const msp = new FabricMsp(fabricConfig);

  let cert: Certificate;
  try {
    cert = parseCertificatePem(signcertFile.bytes, join(signcertDir, signcertFile.name));
  } catch (err) {
    throw folderError((err as Error).message);
  }
  const keystoreDir = join(dir, 'keystore');
  const privateKey = findMatchingKey(keystoreDir, cert, signcertFile.name);

  // Serialize as Fabric's signing identity does: PEM of the (sanitized) certificate.
  const provisional = msp.deserializeIdentity(serializeIdentity(mspId, signcertFile.bytes));
  provisional.validate();
  const pem = derToPem(provisional.sanitizedDer, 'CERTIFICATE');
  const identity = msp.deserializeIdentity(serializeIdentity(mspId, Buffer.from(pem)));
  identity.validate();
  const expiry = expiryProblem(identity, options.clock.now());
  if (expiry) throw badRequest(`local MSP ${mspId} at ${dir}: signing ${expiry}`);

  const signer = new LocalSigningIdentity(
    identity,
    privateKey,
    signatureHashForFamily(fabricConfig.cryptoConfig?.signatureHashFamily),
  );
  return { signer, mspConfig: toMspConfig(fabricConfig), msp };
}

function findMatchingKey(keystoreDir: string, cert: Certificate, certName: string): KeyObject {
  if (!existsSync(keystoreDir)) throw folderError(`keystore folder ${keystoreDir} does not exist`);
  const names = readdirSync(keystoreDir).sort();
  // priv_sk (cryptogen 2.x) and <ski>_sk (Fabric CA, cryptogen 1.x) first, then anything else.
  names.sort(
    (a, b) =>
      Number(!(a === 'priv_sk' || a.endsWith('_sk'))) - Number(!(b === 'priv_sk' || b.endsWith('_sk'))),
  );
  for (const name of names) {
    const path = join(keystoreDir, name);
    let key: KeyObject;
    try {
      if (statSync(path).isDirectory()) continue;
      key = loadPrivateKeyPem(readFileSync(path), path);
    } catch {
      continue;
    }
    if (samePublicKey(key, cert.publicKey)) return key;
  }
  throw folderError(
    `no private key in ${keystoreDir} matches the certificate signcerts/${certName} (${cert.label}); put its PKCS#8 key there as priv_sk`,
  );
}

/** Marshalled msp.SerializedIdentity{mspid, id_bytes}. */
export function serializeIdentity(mspId: string, idBytes: Uint8Array): Buffer {
  return Buffer.from(mspProto.SerializedIdentity.encode({ mspid: mspId, idBytes }).finish());
}

// ---------------------------------------------------------------------------------------------
// Expiry: Fabric's MSP validation deliberately ignores expiry (FAB-3678); the broadcast and
// deliver filters check it separately, with these helpers.

/** Why the identity's certificate is not valid at `now`, or undefined. */
export function expiryProblem(identity: Identity, now: number): string | undefined {
  if (now <= identity.expiresAt) return undefined;
  const label = 'cert' in identity ? (identity as X509Identity).cert.label : 'the identity';
  return `certificate of ${label} (${identity.mspId}) expired at ${new Date(identity.expiresAt).toISOString()}; renew it`;
}

/** Throws OrdererError(kind) when the identity's certificate has expired at `now`. */
export function assertNotExpired(identity: Identity, now: number, kind: ErrorKind = 'forbidden'): void {
  const problem = expiryProblem(identity, now);
  if (problem) throw kind === 'forbidden' ? forbidden(problem) : new OrdererError(kind, problem);
}
