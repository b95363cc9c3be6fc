// The policy contract. Implemented in src/policies/.

/** One signature to evaluate: Fabric's protoutil.SignedData. */
export interface SignedData {
  data: Buffer;
  /** Marshalled SerializedIdentity of the signer. */
  identity: Buffer;
  signature: Buffer;
}

export interface Policy {
  /**
   * Resolves when the signature set satisfies the policy. Rejects with OrdererError('forbidden')
   * whose message names which sub-policies/principals failed and why (e.g. "signature by
   * Org1MSP admin missing; Org2MSP: signature invalid"), never just "0 sub-policies were satisfied".
   */
  evaluateSignedData(signedData: readonly SignedData[]): Promise<void>;
}

export interface PolicyManager {
  /** Absolute ('/Channel/Writers') or relative to this manager ('Writers', 'Orderer/BlockValidation'). */
  getPolicy(path: string): Policy | undefined;
  /**
   * The manager of a descendant group, by group names relative to this one ([] is this manager),
   * e.g. ['Application', 'Org1MSP']: how config update validation resolves a relative mod_policy.
   */
  manager(path: readonly string[]): PolicyManager | undefined;
  /** The absolute path of this manager's group: '/Channel', '/Channel/Application', ... */
  readonly basePath: string;
  /** Every policy this manager resolves, relative to it ('Writers', 'Application/Org1MSP/Admins', ...). */
  policyNames(): string[];
}

/** Well-known policy paths (Fabric policies.ChannelReaders etc.). */
export const ChannelReaders = '/Channel/Readers';
export const ChannelOrdererReaders = '/Channel/Orderer/Readers';
export const ChannelWriters = '/Channel/Writers';
export const ChannelOrdererWriters = '/Channel/Orderer/Writers';
export const BlockValidation = '/Channel/Orderer/BlockValidation';
export const ChannelCreationPolicy = 'ChannelCreationPolicy';
