// Capabilities this orderer implements (Fabric v2.5 common/capabilities). A capability listed in
// a config is required: a node that does not know it must not process the channel.
import { badRequest } from '../errors.js';

export type CapabilityLevel = 'Channel' | 'Orderer' | 'Application';

export const knownCapabilities: Readonly<Record<CapabilityLevel, ReadonlySet<string>>> = {
  Channel: new Set(['V1_1', 'V1_3', 'V1_4_2', 'V1_4_3', 'V2_0']),
  Orderer: new Set(['V1_1', 'V1_4_2', 'V2_0']),
  Application: new Set([
    'V1_1',
    'V1_2',
    'V1_3',
    'V1_4_2',
    'V2_0',
    'V2_5',
    'V1_1_PVTDATA_EXPERIMENTAL',
    'V1_1_RESOURCETREE_EXPERIMENTAL',
  ]),
};

/** Throws naming the first unsupported capability (Fabric: "... capability X is required but not supported"). */
export function checkCapabilitiesSupported(
  level: CapabilityLevel,
  capabilities: ReadonlySet<string>,
  path: string,
) {
  const unknown = [...capabilities].filter((name) => !knownCapabilities[level].has(name)).sort();
  if (unknown.length === 0) return;
  const known = [...knownCapabilities[level]].join(', ');
  throw badRequest(
    `${level} capability ${unknown.join(', ')} (at ${path}) is required but not supported by this orderer ` +
      `(it supports ${known}); upgrade the orderer binary to a release that supports it, ` +
      'or remove the capability from the channel config',
    { level, unsupported: unknown, path },
  );
}

/** Channel-level capability facts the config code needs (Fabric ChannelProvider). */
export function channelCapabilityFacts(capabilities: ReadonlySet<string>) {
  const v11 = capabilities.has('V1_1');
  const v13 = capabilities.has('V1_3');
  const v142 = capabilities.has('V1_4_2');
  const v143 = capabilities.has('V1_4_3');
  const v20 = capabilities.has('V2_0');
  let mspVersion: MspVersion = 'v1.0';
  if (v143 || v20) mspVersion = 'v1.4.3';
  else if (v13 || v142) mspVersion = 'v1.3';
  else if (v11) mspVersion = 'v1.1';
  return {
    mspVersion,
    /** Orderer orgs may carry their own Endpoints value (and then OrdererAddresses may be empty). */
    orgSpecificOrdererEndpoints: v142 || v143 || v20,
  };
}

/** Application capability facts (Fabric ApplicationProvider). */
export function applicationCapabilityFacts(capabilities: ReadonlySet<string>) {
  const acls = ['V1_2', 'V1_3', 'V1_4_2', 'V2_0', 'V2_5'].some((name) => capabilities.has(name));
  return { acls };
}

/** Orderer capability facts (Fabric OrdererProvider). */
export function ordererCapabilityFacts(capabilities: ReadonlySet<string>) {
  const v142 = capabilities.has('V1_4_2');
  const v20 = capabilities.has('V2_0');
  return {
    /** Consensus type may change (with the migration rules of the message processor). */
    consensusTypeMigration: v142 || v20,
    useChannelCreationPolicyAsAdmins: v20,
  };
}

/** The MSP behaviour level implied by the channel capabilities (Fabric msp.MSPVersion). */
export type MspVersion = 'v1.0' | 'v1.1' | 'v1.3' | 'v1.4.3';
