// The policy tree of a channel (Fabric common/policies.ManagerImpl): one manager per config
// group, each knowing its own policies and, flattened, every descendant's ('Org1MSP/Admins').
import type { IdentityDeserializer } from '../msp/types.js';
import { badRequest, errorMessage, OrdererError } from '../errors.js';
import { common } from '../protos/index.js';
import type { CompiledPolicy } from './evaluation.js';
import { decodeImplicitMetaPolicy, ImplicitMetaPolicy } from './implicitmeta.js';
import { SignaturePolicy } from './signaturepolicy.js';
import type { PolicyManager } from './types.js';

export const PathSeparator = '/';
export const RootGroupKey = 'Channel';

export interface PolicyManagerOptions {
  /** The name of the root group; Fabric's channel config root is 'Channel'. */
  rootName?: string;
}

export interface PolicyManagerDependencies {
  /** Turns signer identities into MSP identities: the channel's MSP manager. */
  deserializer: IdentityDeserializer;
}

export class PolicyManagerImpl implements PolicyManager {
  /** Fabric's path, without the leading separator: 'Channel/Application'. */
  private readonly path: string;
  private readonly policies = new Map<string, CompiledPolicy>();
  private readonly managers = new Map<string, PolicyManagerImpl>();

  private constructor(path: string, group: common.IConfigGroup, deserializer: IdentityDeserializer) {
    this.path = path;
    for (const groupName of Object.keys(group.groups ?? {}).sort()) {
      this.managers.set(
        groupName,
        new PolicyManagerImpl(`${path}${PathSeparator}${groupName}`, group.groups![groupName]!, deserializer),
      );
    }
    for (const [name, configPolicy] of Object.entries(group.policies ?? {}).sort(([a], [b]) =>
      a < b ? -1 : 1,
    )) {
      this.policies.set(name, this.compilePolicy(name, configPolicy, deserializer));
    }
    for (const [groupName, manager] of this.managers) {
      for (const [name, policy] of manager.policies)
        this.policies.set(`${groupName}${PathSeparator}${name}`, policy);
    }
  }

  static build(
    root: common.IConfigGroup,
    options: PolicyManagerOptions,
    dependencies: PolicyManagerDependencies,
  ): PolicyManagerImpl {
    return new PolicyManagerImpl(options.rootName ?? RootGroupKey, root, dependencies.deserializer);
  }

  get basePath(): string {
    return `${PathSeparator}${this.path}`;
  }

  private compilePolicy(
    name: string,
    configPolicy: common.IConfigPolicy,
    deserializer: IdentityDeserializer,
  ) {
    const absolute = `${PathSeparator}${this.path}${PathSeparator}${name}`;
    const policy = configPolicy.policy;
    if (!policy) throw badRequest(`policy ${name} at path ${this.basePath} is empty (no Policy message)`);
    const value = policy.value ?? new Uint8Array();
    try {
      switch (policy.type ?? 0) {
        case common.Policy.PolicyType.SIGNATURE:
          return new SignaturePolicy(absolute, decodeSignatureEnvelope(absolute, value), deserializer);
        case common.Policy.PolicyType.IMPLICIT_META: {
          const definition = decodeImplicitMetaPolicy(absolute, value);
          const children = [...this.managers].map(([childName, manager]) => ({
            name: childName,
            policy: manager.getPolicy(definition.subPolicy) as CompiledPolicy | undefined,
          }));
          return new ImplicitMetaPolicy(absolute, definition, children, deserializer);
        }
        default:
          throw badRequest(
            `policy ${name} at path ${this.basePath} has unknown policy type ${policy.type} ` +
              '(supported: SIGNATURE=1, IMPLICIT_META=3)',
          );
      }
    } catch (err) {
      if (err instanceof OrdererError) throw err;
      throw badRequest(`policy ${name} at path ${this.basePath} did not compile: ${errorMessage(err)}`);
    }
  }

  getPolicy(id: string): CompiledPolicy | undefined {
    if (id === '') return undefined;
    let relative: string;
    if (id.startsWith(PathSeparator)) {
      const prefix = `${PathSeparator}${this.path}${PathSeparator}`;
      if (!id.startsWith(prefix)) return undefined;
      relative = id.slice(prefix.length);
    } else {
      relative = id;
    }
    return this.policies.get(relative);
  }

  manager(path: readonly string[]): PolicyManagerImpl | undefined {
    if (path.length === 0) return this;
    const child = this.managers.get(path[0]!);
    return child?.manager(path.slice(1));
  }

  policyNames(): string[] {
    return [...this.policies.keys()];
  }
}

function decodeSignatureEnvelope(path: string, value: Uint8Array): common.SignaturePolicyEnvelope {
  try {
    return common.SignaturePolicyEnvelope.decode(value);
  } catch (err) {
    throw badRequest(`signature policy ${path} is not a valid SignaturePolicyEnvelope: ${errorMessage(err)}`);
  }
}

export function buildPolicyManager(
  root: common.IConfigGroup,
  options: PolicyManagerOptions,
  dependencies: PolicyManagerDependencies,
): PolicyManagerImpl {
  return PolicyManagerImpl.build(root, options, dependencies);
}
