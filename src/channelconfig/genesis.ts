// A configtxgen in a function: an application channel's genesis block built from a profile the
// way Fabric's configtxgen encodes one (internal/configtxgen/encoder and genesis): the same groups,
// values, policies and mod_policies, the same block layout (unsigned, SIGNATURES metadata =
// OrdererBlockMetadata{last_config{}}, empty LAST_CONFIG) and the same CONFIG envelope headers
// (channel header version 1, tx_id = hex(SHA-256(nonce || creator)), empty creator).
import { createHash, randomBytes } from 'node:crypto';
import { badRequest } from '../errors.js';
import type { Clock } from '../clock.js';
import { asBuffer, common, msp, orderer, peer } from '../protos/index.js';
import { parsePolicy } from '../policies/index.js';
import { blockDataHash } from '../ledger/index.js';
import { marshalConfigEnvelope } from './configtx-marshal.js';
import { parseDurationNanos } from '../duration.js';

/** A policy as configtx.yaml spells it. */
export interface PolicySpec {
  readonly type: 'ImplicitMeta' | 'Signature';
  /** "ANY Readers" / "MAJORITY Admins" for ImplicitMeta; policydsl ("OR('Org1MSP.member')") for Signature. */
  readonly rule: string;
}

export type PolicySpecs = Readonly<Record<string, PolicySpec>>;

export interface GenesisOrganization {
  /** The org's group key in the config (configtx.yaml `Name`). */
  readonly name: string;
  /** configtx.yaml `ID`. */
  readonly mspId: string;
  /** The verifying MSP config (msp.MSPConfig), e.g. from buildVerifyingMspConfig(mspDir, mspId). */
  readonly mspConfig: msp.IMSPConfig;
  /** Default: standardOrdererOrgPolicies / standardApplicationOrgPolicies of mspId. */
  readonly policies?: PolicySpecs;
  /** Orderer orgs: configtx.yaml `OrdererEndpoints` (host:port). */
  readonly ordererEndpoints?: readonly string[];
  /** Application orgs: configtx.yaml `AnchorPeers`. */
  readonly anchorPeers?: readonly { host: string; port: number }[];
}

export interface GenesisBatchSize {
  readonly maxMessageCount: number;
  readonly absoluteMaxBytes: number;
  readonly preferredMaxBytes: number;
}

/** What configtx.yaml's profile for an application channel (no system channel) says. */
export interface GenesisProfile {
  readonly channelId: string;
  /** Orderer.OrdererType; default "solo". */
  readonly ordererType?: string;
  /** ConsensusType.metadata (e.g. a marshalled etcdraft.ConfigMetadata). */
  readonly consensusMetadata?: Uint8Array;
  /** Go duration; default "2s". */
  readonly batchTimeout?: string;
  /** Default: 500 messages, 10 MB absolute, 2 MB preferred (this project's fixture profile). */
  readonly batchSize?: Partial<GenesisBatchSize>;
  /** Orderer.MaxChannels (ChannelRestrictions.max_count); default 0. */
  readonly maxChannels?: number;
  readonly ordererOrganizations: readonly GenesisOrganization[];
  readonly applicationOrganizations: readonly GenesisOrganization[];
  /**
   * Orderer.Addresses: the deprecated channel-wide /Channel/OrdererAddresses value. Leave empty
   * when the orderer orgs carry Endpoints (V1_4_2+ channel capability), as Fabric 2.x recommends.
   */
  readonly ordererAddresses?: readonly string[];
  /** Capability names; defaults V2_0 / V2_0 / V2_5. */
  readonly capabilities?: {
    readonly channel?: readonly string[];
    readonly orderer?: readonly string[];
    readonly application?: readonly string[];
  };
  /** Group-level policies; defaults as Fabric's sample configtx.yaml. */
  readonly policies?: {
    readonly channel?: PolicySpecs;
    readonly orderer?: PolicySpecs;
    readonly application?: PolicySpecs;
  };
  /** Application ACLs (resource -> policy path); none when omitted. See FABRIC_SAMPLE_ACLS. */
  readonly acls?: Readonly<Record<string, string>>;
}

export interface GenesisBlockDependencies {
  /** For the channel header timestamp. */
  readonly clock: Clock;
  /** 24 nonce bytes; default crypto random. */
  readonly nonce?: () => Buffer;
}

const ADMINS = 'Admins';
const implicit = (rule: string): PolicySpec => ({ type: 'ImplicitMeta', rule });
const signature = (rule: string): PolicySpec => ({ type: 'Signature', rule });

export const DEFAULT_CHANNEL_POLICIES: PolicySpecs = {
  Readers: implicit('ANY Readers'),
  Writers: implicit('ANY Writers'),
  Admins: implicit('MAJORITY Admins'),
};

export const DEFAULT_ORDERER_POLICIES: PolicySpecs = {
  ...DEFAULT_CHANNEL_POLICIES,
  BlockValidation: implicit('ANY Writers'),
};

export const DEFAULT_APPLICATION_POLICIES: PolicySpecs = {
  ...DEFAULT_CHANNEL_POLICIES,
  LifecycleEndorsement: implicit('MAJORITY Endorsement'),
  Endorsement: implicit('MAJORITY Endorsement'),
};

/** The ACLs of Fabric v2.5's sampleconfig/configtx.yaml (Application.ACLs). */
export const FABRIC_SAMPLE_ACLS: Readonly<Record<string, string>> = {
  '_lifecycle/CheckCommitReadiness': '/Channel/Application/Writers',
  '_lifecycle/CommitChaincodeDefinition': '/Channel/Application/Writers',
  '_lifecycle/QueryChaincodeDefinition': '/Channel/Application/Writers',
  '_lifecycle/QueryChaincodeDefinitions': '/Channel/Application/Writers',
  'lscc/ChaincodeExists': '/Channel/Application/Readers',
  'lscc/GetDeploymentSpec': '/Channel/Application/Readers',
  'lscc/GetChaincodeData': '/Channel/Application/Readers',
  'lscc/GetInstantiatedChaincodes': '/Channel/Application/Readers',
  'qscc/GetChainInfo': '/Channel/Application/Readers',
  'qscc/GetBlockByNumber': '/Channel/Application/Readers',
  'qscc/GetBlockByHash': '/Channel/Application/Readers',
  'qscc/GetTransactionByID': '/Channel/Application/Readers',
  'qscc/GetBlockByTxID': '/Channel/Application/Readers',
  'cscc/GetConfigBlock': '/Channel/Application/Readers',
  'cscc/GetChannelConfig': '/Channel/Application/Readers',
  'peer/Propose': '/Channel/Application/Writers',
  'peer/ChaincodeToChaincode': '/Channel/Application/Writers',
  'event/Block': '/Channel/Application/Readers',
  'event/FilteredBlock': '/Channel/Application/Readers',
};

/** An orderer org's policies as in Fabric's samples: members read and write, admins administer. */
export function standardOrdererOrgPolicies(mspId: string): PolicySpecs {
  return {
    Readers: signature(`OR('${mspId}.member')`),
    Writers: signature(`OR('${mspId}.member')`),
    Admins: signature(`OR('${mspId}.admin')`),
  };
}

/** An application org's policies as in Fabric's test network (NodeOUs roles). */
export function standardApplicationOrgPolicies(mspId: string): PolicySpecs {
  return {
    Readers: signature(`OR('${mspId}.admin', '${mspId}.peer', '${mspId}.client')`),
    Writers: signature(`OR('${mspId}.admin', '${mspId}.client')`),
    Admins: signature(`OR('${mspId}.admin')`),
    Endorsement: signature(`OR('${mspId}.peer')`),
  };
}

const DEFAULT_BATCH_SIZE: GenesisBatchSize = {
  maxMessageCount: 500,
  absoluteMaxBytes: 10 * 1024 * 1024,
  preferredMaxBytes: 2 * 1024 * 1024,
};

// ---------------------------------------------------------------------------------------------
// Encoding helpers. Go's proto3 marshalling leaves empty bytes out, protobufjs writes any field that
// is set, so empty values are left unset here to produce the bytes configtxgen does.

function bytesOf(encoded: Uint8Array): Buffer {
  return asBuffer(encoded);
}

function configValue(value: Uint8Array, modPolicy = ADMINS): common.IConfigValue {
  return value.length ? { value, modPolicy } : { modPolicy };
}

const IMPLICIT_RULES: Record<string, common.ImplicitMetaPolicy.Rule> = {
  ANY: common.ImplicitMetaPolicy.Rule.ANY,
  ALL: common.ImplicitMetaPolicy.Rule.ALL,
  MAJORITY: common.ImplicitMetaPolicy.Rule.MAJORITY,
};

/** configtxgen's policy encoding: ImplicitMeta "<RULE> <SubPolicy>" or a policydsl Signature rule. */
export function encodePolicy(spec: PolicySpec, where: string): common.IPolicy {
  if (spec.type === 'ImplicitMeta') {
    const parts = spec.rule.trim().split(/\s+/);
    const rule = IMPLICIT_RULES[(parts[0] ?? '').toUpperCase()];
    if (parts.length !== 2 || rule === undefined) {
      throw badRequest(
        `invalid ImplicitMeta policy "${spec.rule}" at ${where}: write "<ANY|ALL|MAJORITY> <SubPolicyName>", e.g. "ANY Readers"`,
      );
    }
    const value = common.ImplicitMetaPolicy.encode(
      rule === common.ImplicitMetaPolicy.Rule.ANY ? { subPolicy: parts[1]! } : { subPolicy: parts[1]!, rule },
    ).finish();
    return { type: common.Policy.PolicyType.IMPLICIT_META, value };
  }
  if (spec.type === 'Signature') {
    const envelope = parsePolicy(spec.rule);
    const value = common.SignaturePolicyEnvelope.encode({
      rule: envelope.rule,
      identities: envelope.identities,
    }).finish();
    return { type: common.Policy.PolicyType.SIGNATURE, value };
  }
  throw badRequest(
    `unknown policy type "${(spec as PolicySpec).type}" at ${where}: use ImplicitMeta or Signature`,
  );
}

function policiesOf(specs: PolicySpecs, where: string): Record<string, common.IConfigPolicy> {
  const out: Record<string, common.IConfigPolicy> = {};
  for (const [name, spec] of Object.entries(specs)) {
    out[name] = { policy: encodePolicy(spec, `${where}/${name}`), modPolicy: ADMINS };
  }
  return out;
}

function capabilitiesValue(names: readonly string[]): common.IConfigValue {
  const capabilities: Record<string, common.ICapability> = {};
  for (const name of names) capabilities[name] = {};
  return configValue(common.Capabilities.encode({ capabilities }).finish());
}

function orgGroup(
  org: GenesisOrganization,
  kind: 'orderer' | 'application',
  where: string,
): common.IConfigGroup {
  const policies =
    org.policies ??
    (kind === 'orderer' ? standardOrdererOrgPolicies(org.mspId) : standardApplicationOrgPolicies(org.mspId));
  const values: Record<string, common.IConfigValue> = {
    MSP: configValue(msp.MSPConfig.encode(org.mspConfig).finish()),
  };
  if (kind === 'orderer' && org.ordererEndpoints?.length) {
    values.Endpoints = configValue(
      common.OrdererAddresses.encode({ addresses: [...org.ordererEndpoints] }).finish(),
    );
  }
  if (kind === 'application' && org.anchorPeers?.length) {
    values.AnchorPeers = configValue(
      peer.AnchorPeers.encode({
        anchorPeers: org.anchorPeers.map((p) => ({ host: p.host, port: p.port })),
      }).finish(),
    );
  }
  return { values, policies: policiesOf(policies, where), modPolicy: ADMINS };
}

function checkOrgs(orgs: readonly GenesisOrganization[], section: string): void {
  const names = new Set<string>();
  const ids = new Set<string>();
  for (const org of orgs) {
    if (!org.name) throw badRequest(`an organization in ${section} has no name`);
    if (names.has(org.name)) throw badRequest(`organization ${org.name} appears twice in ${section}`);
    if (ids.has(org.mspId)) throw badRequest(`MSP ID ${org.mspId} appears twice in ${section}`);
    names.add(org.name);
    ids.add(org.mspId);
  }
}

/** The /Channel config group configtxgen encodes for an application channel profile. */
export function buildGenesisChannelGroup(profile: GenesisProfile): common.IConfigGroup {
  if (profile.ordererOrganizations.length === 0) {
    throw badRequest(`channel ${profile.channelId}: the profile needs at least one orderer organization`);
  }
  if (profile.applicationOrganizations.length === 0) {
    throw badRequest(`channel ${profile.channelId}: the profile needs at least one application organization`);
  }
  checkOrgs(profile.ordererOrganizations, '/Channel/Orderer');
  checkOrgs(profile.applicationOrganizations, '/Channel/Application');

  const capabilities = {
    channel: profile.capabilities?.channel ?? ['V2_0'],
    orderer: profile.capabilities?.orderer ?? ['V2_0'],
    application: profile.capabilities?.application ?? ['V2_5'],
  };
  const batchSize = { ...DEFAULT_BATCH_SIZE, ...profile.batchSize };
  const batchTimeout = profile.batchTimeout ?? '2s';
  try {
    if (parseDurationNanos(batchTimeout) <= 0n) throw new Error('must be positive');
  } catch (err) {
    throw badRequest(
      `invalid BatchTimeout "${batchTimeout}": ${(err as Error).message}; write e.g. "2s" or "500ms"`,
    );
  }

  // Orderer group (encoder.NewOrdererGroup).
  const ordererValues: Record<string, common.IConfigValue> = {
    ConsensusType: configValue(
      orderer.ConsensusType.encode({
        type: profile.ordererType ?? 'solo',
        ...(profile.consensusMetadata?.length ? { metadata: profile.consensusMetadata } : {}),
      }).finish(),
    ),
    BatchSize: configValue(orderer.BatchSize.encode(batchSize).finish()),
    BatchTimeout: configValue(orderer.BatchTimeout.encode({ timeout: batchTimeout }).finish()),
    ChannelRestrictions: configValue(
      orderer.ChannelRestrictions.encode(
        profile.maxChannels ? { maxCount: profile.maxChannels } : {},
      ).finish(),
    ),
  };
  if (capabilities.orderer.length) ordererValues.Capabilities = capabilitiesValue(capabilities.orderer);
  const ordererGroups: Record<string, common.IConfigGroup> = {};
  for (const org of profile.ordererOrganizations) {
    ordererGroups[org.name] = orgGroup(org, 'orderer', `/Channel/Orderer/${org.name}`);
  }
  const ordererPolicies = profile.policies?.orderer ?? DEFAULT_ORDERER_POLICIES;
  if (!ordererPolicies.BlockValidation) {
    throw badRequest('the Orderer section needs a BlockValidation policy (e.g. ImplicitMeta "ANY Writers")');
  }

  // Application group (encoder.NewApplicationGroup).
  const applicationValues: Record<string, common.IConfigValue> = {};
  if (profile.acls && Object.keys(profile.acls).length) {
    const acls: Record<string, peer.IAPIResource> = {};
    for (const [resource, policyRef] of Object.entries(profile.acls)) acls[resource] = { policyRef };
    applicationValues.ACLs = configValue(peer.ACLs.encode({ acls }).finish());
  }
  if (capabilities.application.length) {
    applicationValues.Capabilities = capabilitiesValue(capabilities.application);
  }
  const applicationGroups: Record<string, common.IConfigGroup> = {};
  for (const org of profile.applicationOrganizations) {
    applicationGroups[org.name] = orgGroup(org, 'application', `/Channel/Application/${org.name}`);
  }

  // Channel group (encoder.NewChannelGroup).
  const channelValues: Record<string, common.IConfigValue> = {
    HashingAlgorithm: configValue(common.HashingAlgorithm.encode({ name: 'SHA256' }).finish()),
    BlockDataHashingStructure: configValue(
      common.BlockDataHashingStructure.encode({ width: 0xffffffff }).finish(),
    ),
  };
  if (profile.ordererAddresses?.length) {
    channelValues.OrdererAddresses = configValue(
      common.OrdererAddresses.encode({ addresses: [...profile.ordererAddresses] }).finish(),
      '/Channel/Orderer/Admins',
    );
  }
  if (capabilities.channel.length) channelValues.Capabilities = capabilitiesValue(capabilities.channel);

  return {
    groups: {
      Orderer: {
        groups: ordererGroups,
        values: ordererValues,
        policies: policiesOf(ordererPolicies, '/Channel/Orderer'),
        modPolicy: ADMINS,
      },
      Application: {
        groups: applicationGroups,
        values: applicationValues,
        policies: policiesOf(
          profile.policies?.application ?? DEFAULT_APPLICATION_POLICIES,
          '/Channel/Application',
        ),
        modPolicy: ADMINS,
      },
    },
    values: channelValues,
    policies: policiesOf(profile.policies?.channel ?? DEFAULT_CHANNEL_POLICIES, '/Channel'),
    modPolicy: ADMINS,
  };
}

/** configtxgen -outputBlock: the channel's genesis block (block 0, unsigned). */
export function buildGenesisBlock(profile: GenesisProfile, deps: GenesisBlockDependencies): common.Block {
  const channelGroup = buildGenesisChannelGroup(profile);
  const nowMs = deps.clock.now();
  const nonce = deps.nonce ? deps.nonce() : randomBytes(24);
  // protoutil.SetTxID: hex(SHA-256(nonce || creator)); configtxgen's creator is empty.
  const txId = createHash('sha256').update(nonce).digest('hex');
  const channelHeader = common.ChannelHeader.encode({
    type: common.HeaderType.CONFIG,
    version: 1,
    timestamp: { seconds: Math.floor(nowMs / 1000) },
    channelId: profile.channelId,
    txId,
  }).finish();
  const signatureHeader = common.SignatureHeader.encode({ nonce }).finish();
  const payload = common.Payload.encode({
    header: { channelHeader, signatureHeader },
    data: marshalConfigEnvelope({ config: { channelGroup } }),
  }).finish();
  const envelope = bytesOf(common.Envelope.encode({ payload }).finish());

  const data = [envelope];
  const signaturesValue = common.OrdererBlockMetadata.encode({ lastConfig: {} }).finish();
  return common.Block.create({
    header: { number: 0, dataHash: blockDataHash(data) },
    data: { data },
    metadata: {
      metadata: [
        bytesOf(common.Metadata.encode({ value: signaturesValue }).finish()),
        // Metadata{value: LastConfig{index: 0}} marshals to nothing in Go.
        Buffer.alloc(0),
        Buffer.alloc(0),
        Buffer.alloc(0),
        Buffer.alloc(0),
      ],
    },
  });
}

/** The marshalled genesis block, as `configtxgen -outputBlock` writes it. */
export function buildGenesisBlockBytes(profile: GenesisProfile, deps: GenesisBlockDependencies): Buffer {
  return bytesOf(common.Block.encode(buildGenesisBlock(profile, deps)).finish());
}
