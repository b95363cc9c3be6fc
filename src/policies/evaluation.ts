// What every compiled policy offers inside this folder: evaluation over an already verified
// signature set (so a tree of policies verifies each signature once), and an explanation of a
// failure that is built only when someone asks for it.
import type { Identity, IdentityDeserializer } from '../msp/types.js';
import { forbidden } from '../errors.js';
import { describeRejected, verifySignatureSet, type VerifiedSignatureSet } from './signatureset.js';
import type { Policy, SignedData } from './types.js';

export interface PolicyOutcome {
  readonly satisfied: boolean;
  /** Why the policy is not satisfied; names of sub-policies are given relative to groupPath. */
  explain(groupPath: string): string;
}

export const satisfiedOutcome: PolicyOutcome = { satisfied: true, explain: () => 'satisfied' };

export interface CompiledPolicy extends Policy {
  /** Absolute path, e.g. '/Channel/Application/Org1MSP/Writers'. */
  readonly path: string;
  /** "OR('Org1MSP.admin', 'Org1MSP.client')" or 'ANY of Writers in [Org1MSP, Org2MSP]'. */
  readonly description: string;
  evaluateVerified(signatures: VerifiedSignatureSet): PolicyOutcome;
  /** Fabric's EvaluateIdentities: identities taken as already authenticated. */
  evaluateIdentities(identities: readonly Identity[]): void;
}

const maxMessageLength = 4000;

/** The shared part: verify once, evaluate, turn a failure into an actionable OrdererError. */
export abstract class PolicyBase implements CompiledPolicy {
  abstract readonly path: string;
  abstract readonly description: string;

  constructor(protected readonly deserializer: IdentityDeserializer) {}

  abstract evaluateVerified(signatures: VerifiedSignatureSet): PolicyOutcome;

  evaluateSignedData(signedData: readonly SignedData[]): Promise<void> {
    return verifySignatureSet(signedData, this.deserializer).then((signatures) => {
      const outcome = this.evaluateVerified(signatures);
      if (!outcome.satisfied) throw this.failure(outcome, signatures);
    });
  }

  evaluateIdentities(identities: readonly Identity[]): void {
    const signatures: VerifiedSignatureSet = { signers: identities, rejected: [] };
    const outcome = this.evaluateVerified(signatures);
    if (!outcome.satisfied) throw this.failure(outcome, signatures);
  }

  private failure(outcome: PolicyOutcome, signatures: VerifiedSignatureSet) {
    const groupPath = this.path.slice(0, this.path.lastIndexOf('/') + 1);
    let message = `policy ${this.path} (${this.description}) not satisfied: ${outcome.explain(groupPath)}`;
    if (signatures.rejected.length > 0) {
      message += `; ignored ${signatures.rejected.map(describeRejected).join('; ')}`;
    }
    if (message.length > maxMessageLength) message = `${message.slice(0, maxMessageLength)}... (truncated)`;
    return forbidden(message, {
      policy: this.path,
      validSigners: signatures.signers.map((s) => s.mspId),
      rejectedSignatures: signatures.rejected.map((r) => ({
        index: r.index,
        mspId: r.claimedMspId,
        reason: r.reason,
      })),
    });
  }
}

export function relativeName(path: string, groupPath: string): string {
  return path.startsWith(groupPath) ? path.slice(groupPath.length) : path;
}
