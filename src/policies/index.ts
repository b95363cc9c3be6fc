// Policies: signature policies, implicit meta policies and the channel's policy tree.
export * from './types.js';
export { buildPolicyManager, PolicyManagerImpl, PathSeparator, RootGroupKey } from './manager.js';
export type { PolicyManagerOptions, PolicyManagerDependencies } from './manager.js';
export { SignaturePolicy } from './signaturepolicy.js';
export { ImplicitMetaPolicy, type ImplicitMetaChild } from './implicitmeta.js';
export type { CompiledPolicy, PolicyOutcome } from './evaluation.js';
export { verifySignatureSet, describeIdentity } from './signatureset.js';
export type { VerifiedSignatureSet, RejectedSignature } from './signatureset.js';
export { parsePolicy, formatSignaturePolicy } from './policydsl.js';
export { describePrincipal, roleName } from './principals.js';
