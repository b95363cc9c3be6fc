import type { KeyObject } from 'node:crypto';
import {
  verifyEcdsa,
  type AsyncSignatureVerifier,
  type Certificate,
  type HashAlgorithm,
} from '../crypto/index.js';
import { OrdererError } from '../errors.js';
import type { common } from '../protos/index.js';
import type { Identity, NodeRole } from './types.js';

/** What an identity needs from its MSP (implemented by FabricMsp). */
export interface IdentityValidator {
  readonly id: string;
  readonly signatureHash: HashAlgorithm;
  /** Checks signatures off the event loop (libuv threadpool or a worker pool). */
  readonly verifyAsync: AsyncSignatureVerifier;
  /** Runs Fabric's validation; returns the facts an identity caches. */
  validateIdentity(identity: X509Identity): ValidationOutcome;
  satisfiesPrincipal(identity: X509Identity, principal: common.IMSPPrincipal): void;
}

export interface ValidationOutcome {
  readonly error: OrdererError | undefined;
  /** The certificate with a low-S signature (Fabric's sanitized form), used for comparisons. */
  readonly sanitizedDer: Buffer;
  /** Hash of the CA chain above the certificate; undefined when no chain was found. */
  readonly certifiersIdentifier: Buffer | undefined;
  readonly role: NodeRole | undefined;
}

/** An X.509 identity of a Fabric MSP. Validation runs once and its outcome is kept. */
export class X509Identity implements Identity {
  readonly mspId: string;
  readonly serialized: Buffer;
  readonly cert: Certificate;
  private outcome: ValidationOutcome | undefined;
  /** satisfiesPrincipal outcomes by principal object (null: satisfied), see satisfiesPrincipal. */
  private principalOutcomes: WeakMap<common.IMSPPrincipal, OrdererError | null> | undefined;

  constructor(
    serialized: Buffer,
    cert: Certificate,
    private readonly msp: IdentityValidator,
  ) {
    this.mspId = msp.id;
    this.serialized = serialized;
    this.cert = cert;
  }

  get certDer(): Buffer {
    return this.cert.der;
  }

  get expiresAt(): number {
    return this.cert.notAfter;
  }

  get organizationalUnits(): readonly string[] {
    return this.cert.subject.organizationalUnits;
  }

  get role(): NodeRole | undefined {
    return this.validation.role;
  }

  get publicKey(): KeyObject {
    return this.cert.publicKey;
  }

  /** "CN=User1@org1.example.com (Org1MSP)", for messages. */
  get description(): string {
    return `${this.cert.label} (${this.mspId})`;
  }

  /** The cached validation outcome (computed on first use). */
  get validation(): ValidationOutcome {
    this.outcome ??= this.msp.validateIdentity(this);
    return this.outcome;
  }

  get sanitizedDer(): Buffer {
    return this.validation.sanitizedDer;
  }

  get certifiersIdentifier(): Buffer | undefined {
    return this.validation.certifiersIdentifier;
  }

  get isValid(): boolean {
    return this.validation.error === undefined;
  }

  validate(): void {
    const { error } = this.validation;
    if (error) throw error;
  }

  verify(message: Buffer, signature: Buffer): Promise<boolean> {
    return this.msp.verifyAsync(this.publicKey, message, signature, this.msp.signatureHash);
  }

  verifySync(message: Buffer, signature: Buffer): boolean {
    return verifyEcdsa(this.publicKey, message, signature, this.msp.signatureHash);
  }

  /**
   * Throws an OrdererError when this identity does not satisfy the principal. The outcome depends
   * only on the identity (its validation is computed once) and the principal, so it is kept per
   * principal object: a policy such as OR('Org1.admin', 'Org1.client') evaluated for every
   * envelope of a creator builds its "not an admin" error once, not once per envelope.
   */
  satisfiesPrincipal(principal: common.IMSPPrincipal): void {
    const known = this.principalOutcomes?.get(principal);
    if (known === null) return;
    if (known) throw known;
    let outcome: OrdererError | null = null;
    try {
      this.msp.satisfiesPrincipal(this, principal);
    } catch (err) {
      if (!(err instanceof OrdererError)) throw err;
      outcome = err;
    }
    (this.principalOutcomes ??= new WeakMap()).set(principal, outcome);
    if (outcome) throw outcome;
  }
}
