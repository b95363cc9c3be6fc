// The MSP contract used by policies, filters and the block writer. Implemented in src/msp/.
import type { common } from '../protos/index.js';

export type NodeRole = 'client' | 'peer' | 'admin' | 'orderer';

/** A deserialized identity of a channel (or local) MSP. */
export interface Identity {
  readonly mspId: string;
  /** The SerializedIdentity bytes exactly as received; the cache key. */
  readonly serialized: Buffer;
  /** The certificate in DER form. */
  readonly certDer: Buffer;
  /** notAfter of the certificate, ms since epoch. */
  readonly expiresAt: number;
  /** Organizational units from the certificate subject. */
  readonly organizationalUnits: readonly string[];
  /** The NodeOU role when the MSP has NodeOUs enabled. */
  readonly role: NodeRole | undefined;
  /** Throws OrdererError('forbidden') explaining why the identity is not valid for its MSP. Cached. */
  validate(): void;
  /**
   * ECDSA over the MSP's signature hash (SHA-256 for the default SHA2 family, whatever the curve:
   * Fabric signs SHA-256 digests with P-384 keys too); high-S signatures are rejected. Runs off the
   * main thread.
   */
  verify(message: Buffer, signature: Buffer): Promise<boolean>;
  /** Throws an Error whose message says why the identity does not satisfy the principal. */
  satisfiesPrincipal(principal: common.IMSPPrincipal): void;
}

export interface IdentityDeserializer {
  /**
   * SerializedIdentity bytes -> Identity. Throws OrdererError naming the MSP ID and the cause,
   * e.g. "MSP Org3MSP is not defined on channel mychannel (known: Org1MSP, Org2MSP)".
   * Results (including the validation result) are cached by the serialized bytes.
   */
  deserializeIdentity(serialized: Buffer): Identity;
}

export interface MSP extends IdentityDeserializer {
  readonly id: string;
  /** Root and intermediate certificates in DER, TLS roots, admins... as parsed from config. */
  readonly tlsRootCertsPem: readonly string[];
  readonly tlsIntermediateCertsPem: readonly string[];
}

export interface MSPManager extends IdentityDeserializer {
  readonly msps: ReadonlyMap<string, MSP>;
}

/** The orderer's own identity (local MSP): signs blocks and orderer-made envelopes. */
export interface SigningIdentity {
  readonly mspId: string;
  /** Marshalled SerializedIdentity{mspid, id_bytes: PEM certificate}. */
  readonly serialized: Buffer;
  readonly certPem: string;
  /** ECDSA over SHA-256 (Fabric's SHA2 hash family, for P-256 and P-384 keys alike), DER encoded, always low-S. */
  sign(message: Buffer): Buffer;
}
