// Signature policies (Fabric common/cauthdsl): a SignaturePolicyEnvelope compiled into an
// evaluator over verified identities. The evaluation order and the `used` bookkeeping follow
// cauthdsl.compile exactly, because which identity satisfies which principal is greedy and a
// different order could accept a signature set Fabric rejects, or the other way round.
import type { Identity, IdentityDeserializer } from '../msp/types.js';
import { badRequest, errorMessage } from '../errors.js';
import type { common } from '../protos/index.js';
import { PolicyBase, satisfiedOutcome, type PolicyOutcome } from './evaluation.js';
import { describePrincipal, principalMspIds } from './principals.js';
import { describeIdentity, type VerifiedSignatureSet } from './signatureset.js';
import { formatSignaturePolicy } from './policydsl.js';

/** A principal matched during evaluation: for explanations only. */
interface Match {
  principal: number;
  signer: number;
}

type Evaluator = (signers: readonly Identity[], used: boolean[], matches: Match[]) => boolean;

function compile(
  rule: common.ISignaturePolicy | null | undefined,
  principals: readonly common.IMSPPrincipal[],
): Evaluator {
  if (!rule) throw new Error('empty policy element');
  if (rule.nOutOf) {
    const n = rule.nOutOf.n ?? 0;
    const children = (rule.nOutOf.rules ?? []).map((child) => compile(child, principals));
    return (signers, used, matches) => {
      let verified = 0;
      const scratch = new Array<boolean>(used.length);
      for (const child of children) {
        for (let i = 0; i < used.length; i++) scratch[i] = used[i]!;
        const childMatches: Match[] = [];
        if (child(signers, scratch, childMatches)) {
          verified++;
          for (let i = 0; i < used.length; i++) used[i] = scratch[i]!;
          matches.push(...childMatches);
        }
      }
      return verified >= n;
    };
  }
  if (rule.signedBy !== null && rule.signedBy !== undefined) {
    const index = rule.signedBy;
    const principal = principals[index];
    if (index < 0 || !principal) {
      throw new Error(
        `identity index out of range, requested ${index}, but identities length is ${principals.length}`,
      );
    }
    return (signers, used, matches) => {
      for (let i = 0; i < signers.length; i++) {
        if (used[i]) continue;
        try {
          signers[i]!.satisfiesPrincipal(principal);
        } catch {
          continue;
        }
        used[i] = true;
        matches.push({ principal: index, signer: i });
        return true;
      }
      return false;
    };
  }
  throw new Error('signature policy element is neither n_out_of nor signed_by');
}

export class SignaturePolicy extends PolicyBase {
  readonly description: string;
  private readonly evaluator: Evaluator;
  private readonly principals: readonly common.IMSPPrincipal[];

  constructor(
    readonly path: string,
    readonly envelope: common.ISignaturePolicyEnvelope,
    deserializer: IdentityDeserializer,
  ) {
    super(deserializer);
    if ((envelope.version ?? 0) !== 0) {
      throw badRequest(
        `signature policy ${path} has version ${envelope.version}; only version 0 is understood (as in Fabric v2.5)`,
      );
    }
    this.principals = envelope.identities ?? [];
    try {
      this.evaluator = compile(envelope.rule, this.principals);
    } catch (err) {
      throw badRequest(`signature policy ${path} does not compile: ${errorMessage(err)}`);
    }
    this.description = formatSignaturePolicy(envelope);
  }

  evaluateVerified(signatures: VerifiedSignatureSet): PolicyOutcome {
    const matches: Match[] = [];
    const used = new Array<boolean>(signatures.signers.length).fill(false);
    if (this.evaluator(signatures.signers, used, matches)) return satisfiedOutcome;
    return { satisfied: false, explain: () => this.explain(signatures.signers, used, matches) };
  }

  private explain(signers: readonly Identity[], used: readonly boolean[], matches: readonly Match[]): string {
    const parts: string[] = [];
    if (matches.length > 0) {
      const matched = matches.map(
        (m) =>
          `${describePrincipal(this.principals[m.principal]!)} by ${describeIdentity(signers[m.signer]!)}`,
      );
      parts.push(`matched ${matched.join(', ')}`);
    }
    const matchedPrincipals = new Set(matches.map((m) => m.principal));
    const unmatched = this.principals.filter((_, i) => !matchedPrincipals.has(i));
    if (signers.length === 0) {
      parts.push('got 0 valid signatures');
    } else {
      const unused = signers.filter((_, i) => !used[i]);
      if (unused.length === 0) parts.push('every valid signer was already counted for another principal');
      for (const signer of unused) parts.push(this.whyNot(signer, unmatched));
    }
    return `needs ${this.description}: ${parts.join('; ')}`;
  }

  private whyNot(signer: Identity, principals: readonly common.IMSPPrincipal[]): string {
    const relevant = principals.filter((p) => principalMspIds(p).includes(signer.mspId));
    if (relevant.length === 0) {
      const msps = [...new Set(principals.flatMap(principalMspIds))];
      return `${describeIdentity(signer)} is not a member of ${msps.length > 0 ? msps.join(' or ') : 'the required MSP'}`;
    }
    const reasons = new Set<string>();
    for (const principal of relevant) {
      try {
        signer.satisfiesPrincipal(principal);
        reasons.add(`could be ${describePrincipal(principal)} but that principal was already satisfied`);
      } catch (err) {
        reasons.add(`is not ${describePrincipal(principal)} (${errorMessage(err)})`);
      }
    }
    return `${describeIdentity(signer)} ${[...reasons].join(', ')}`;
  }
}
