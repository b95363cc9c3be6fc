// Implicit meta policies (Fabric common/policies/implicitmeta.go): ANY, ALL or MAJORITY of the
// same-named policy in each child group.
import type { IdentityDeserializer } from '../msp/types.js';
import { badRequest, errorMessage } from '../errors.js';
import { common } from '../protos/index.js';
import {
  PolicyBase,
  relativeName,
  satisfiedOutcome,
  type CompiledPolicy,
  type PolicyOutcome,
} from './evaluation.js';
import type { VerifiedSignatureSet } from './signatureset.js';

export interface ImplicitMetaChild {
  /** The child group's name, e.g. 'Org1MSP'. */
  readonly name: string;
  /** The child's policy of the sub-policy name; undefined when the child has none (it then never counts). */
  readonly policy: CompiledPolicy | undefined;
}

const ruleNames: Record<number, string> = {
  [common.ImplicitMetaPolicy.Rule.ANY]: 'ANY',
  [common.ImplicitMetaPolicy.Rule.ALL]: 'ALL',
  [common.ImplicitMetaPolicy.Rule.MAJORITY]: 'MAJORITY',
};

export function decodeImplicitMetaPolicy(path: string, value: Uint8Array): common.ImplicitMetaPolicy {
  try {
    return common.ImplicitMetaPolicy.decode(value);
  } catch (err) {
    throw badRequest(`implicit meta policy ${path} is not a valid ImplicitMetaPolicy: ${errorMessage(err)}`);
  }
}

export class ImplicitMetaPolicy extends PolicyBase {
  readonly description: string;
  /** How many children must be satisfied; Fabric's arithmetic, kept as is. */
  readonly threshold: number;
  readonly subPolicyName: string;

  constructor(
    readonly path: string,
    definition: common.IImplicitMetaPolicy,
    private readonly children: readonly ImplicitMetaChild[],
    deserializer: IdentityDeserializer,
  ) {
    super(deserializer);
    this.subPolicyName = definition.subPolicy ?? '';
    const rule = definition.rule ?? common.ImplicitMetaPolicy.Rule.ANY;
    const n = children.length;
    // An unknown rule leaves the threshold at 0, as in Fabric (proto3 enums are open there too).
    let threshold = 0;
    if (rule === common.ImplicitMetaPolicy.Rule.ANY) threshold = 1;
    else if (rule === common.ImplicitMetaPolicy.Rule.ALL) threshold = n;
    else if (rule === common.ImplicitMetaPolicy.Rule.MAJORITY) threshold = Math.floor(n / 2) + 1;
    if (n === 0) threshold = 0;
    this.threshold = threshold;
    const ruleName = ruleNames[rule] ?? `unknown rule ${rule}`;
    this.description = `${ruleName} of ${this.subPolicyName} in [${children.map((c) => c.name).join(', ')}]`;
  }

  evaluateVerified(signatures: VerifiedSignatureSet): PolicyOutcome {
    // The counting is Fabric's literally: success only when `remaining` hits exactly 0.
    let remaining = this.threshold;
    const failed: { child: ImplicitMetaChild; outcome: PolicyOutcome | undefined }[] = [];
    for (const child of this.children) {
      const outcome = child.policy?.evaluateVerified(signatures);
      if (outcome?.satisfied) {
        remaining--;
        if (remaining === 0) return satisfiedOutcome;
      } else {
        failed.push({ child, outcome });
      }
    }
    if (remaining === 0) return satisfiedOutcome;
    const satisfiedCount = this.threshold - remaining;
    return {
      satisfied: false,
      explain: (groupPath) => {
        const reasons = failed.map(({ child, outcome }) => {
          if (!child.policy) {
            return `${relativeName(`${this.groupPath()}${child.name}/${this.subPolicyName}`, groupPath)}: no such policy`;
          }
          const name = relativeName(child.policy.path, groupPath);
          if (child.policy instanceof ImplicitMetaPolicy) {
            return `${name} (${child.policy.description}): ${outcome!.explain(groupPath)}`;
          }
          return `${name}: ${outcome!.explain(groupPath)}`;
        });
        const head = `${satisfiedCount} of ${this.threshold} required sub-policies satisfied`;
        return reasons.length > 0 ? `${head} [${reasons.join('; ')}]` : head;
      },
    };
  }

  private groupPath(): string {
    return this.path.slice(0, this.path.lastIndexOf('/') + 1);
  }
}
