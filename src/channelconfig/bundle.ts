// common.Config -> ChannelConfigBundle (Fabric common/channelconfig NewBundle): every value
// decoded with its proto type and validated as Fabric does, an MSP for every org, the channel's
// MSP manager and policy tree. Unknown keys and groups are errors naming their path, so a typo
// in a config update is caught before it is ordered.
import type { MSP, MSPManager } from '../msp/types.js';
import { badRequest, errorMessage, OrdererError } from '../errors.js';
import { buildPolicyManager } from '../policies/manager.js';
import { common, msp, orderer, peer, toNumber } from '../protos/index.js';
import {
  applicationCapabilityFacts,
  channelCapabilityFacts,
  checkCapabilitiesSupported,
  type CapabilityLevel,
  type MspVersion,
} from './capabilities.js';
import { readConfigBlock } from './configblock.js';
import { checkEtcdraftMetadata } from './etcdraft.js';
import { parseDurationNanos } from '../duration.js';
import type {
  ApplicationConfig,
  ApplicationOrg,
  ChannelConfigBundle,
  ChannelValues,
  ConsensusState,
  ConsortiumConfig,
  OrdererConfig,
  OrdererOrg,
} from './types.js';

export const GroupKeys = {
  channel: 'Channel',
  orderer: 'Orderer',
  application: 'Application',
  consortiums: 'Consortiums',
} as const;

export interface MspSetupContext {
  readonly channelId: string;
  /** Where the MSP is defined, e.g. '/Channel/Application/Org1MSP'. */
  readonly orgPath: string;
  /** The MSP behaviour level the channel capabilities select. */
  readonly mspVersion: MspVersion;
}

/** What the bundle needs from the MSP layer (src/msp), injected so that this folder depends on its contract only. */
export interface BundleDependencies {
  /** Sets up one org's MSP from its MSPConfig; throws explaining what is wrong with the config. */
  createMsp(mspConfig: msp.MSPConfig, context: MspSetupContext): MSP;
  /** The channel's MSP manager over all its orgs' MSPs. */
  createMspManager(channelId: string, msps: readonly MSP[]): MSPManager;
}

const channelIdPattern = /^[a-z][a-z0-9.-]*$/;
const configKeyPattern = /^[a-zA-Z0-9.\-_]+$/;
const maxNameLength = 249;
const maxUint32 = 4294967295;

/** Why a channel ID is not allowed (Fabric configtx.ValidateChannelID), or undefined. */
export function channelIdProblem(channelId: string): string | undefined {
  if (channelId.length === 0) return 'channel ID illegal, cannot be empty';
  if (channelId.length > maxNameLength) return `channel ID illegal, cannot be longer than ${maxNameLength}`;
  if (!channelIdPattern.test(channelId)) {
    return `channel ID '${channelId}' contains illegal characters (allowed: [a-z][a-z0-9.-]*)`;
  }
  return undefined;
}

function configError(path: string, message: string, cause?: unknown): OrdererError {
  const suffix = cause === undefined ? '' : `: ${errorMessage(cause)}`;
  return badRequest(`invalid channel config at ${path}: ${message}${suffix}`, { path });
}

type Decoders = Record<string, (bytes: Uint8Array) => unknown>;
type Decoded<D extends Decoders> = { [K in keyof D]?: ReturnType<D[K]> };

function decodeValues<D extends Decoders>(group: common.IConfigGroup, path: string, decoders: D): Decoded<D> {
  const out: Decoded<D> = {};
  for (const [key, configValue] of Object.entries(group.values ?? {})) {
    const decode = decoders[key];
    if (!decode) {
      const allowed = Object.keys(decoders);
      throw configError(
        `${path}/${key}`,
        `unknown config value ${key}` +
          (allowed.length > 0
            ? ` (values allowed in ${path}: ${allowed.join(', ')})`
            : ` (${path} has no values)`),
      );
    }
    try {
      out[key as keyof D] = decode(configValue.value ?? new Uint8Array()) as ReturnType<D[keyof D]>;
    } catch (err) {
      throw configError(`${path}/${key}`, `value does not decode as ${decoderName(decode)}`, err);
    }
  }
  return out;
}

function decoderName(decode: (bytes: Uint8Array) => unknown): string {
  return (decode as { protoName?: string }).protoName ?? 'its proto type';
}

function decoder<T>(protoName: string, decode: (bytes: Uint8Array) => T): (bytes: Uint8Array) => T {
  return Object.assign((bytes: Uint8Array) => decode(bytes), { protoName });
}

const capabilitiesDecoder = decoder('common.Capabilities', (b) => common.Capabilities.decode(b));
const mspDecoder = decoder('msp.MSPConfig', (b) => msp.MSPConfig.decode(b));

const channelValueDecoders = {
  HashingAlgorithm: decoder('common.HashingAlgorithm', (b) => common.HashingAlgorithm.decode(b)),
  BlockDataHashingStructure: decoder('common.BlockDataHashingStructure', (b) =>
    common.BlockDataHashingStructure.decode(b),
  ),
  OrdererAddresses: decoder('common.OrdererAddresses', (b) => common.OrdererAddresses.decode(b)),
  Consortium: decoder('common.Consortium', (b) => common.Consortium.decode(b)),
  Capabilities: capabilitiesDecoder,
};

const ordererValueDecoders = {
  ConsensusType: decoder('orderer.ConsensusType', (b) => orderer.ConsensusType.decode(b)),
  BatchSize: decoder('orderer.BatchSize', (b) => orderer.BatchSize.decode(b)),
  BatchTimeout: decoder('orderer.BatchTimeout', (b) => orderer.BatchTimeout.decode(b)),
  KafkaBrokers: decoder('orderer.KafkaBrokers', (b) => orderer.KafkaBrokers.decode(b)),
  ChannelRestrictions: decoder('orderer.ChannelRestrictions', (b) => orderer.ChannelRestrictions.decode(b)),
  Capabilities: capabilitiesDecoder,
};

const ordererOrgValueDecoders = {
  MSP: mspDecoder,
  Endpoints: decoder('common.OrdererAddresses', (b) => common.OrdererAddresses.decode(b)),
};

const applicationValueDecoders = {
  ACLs: decoder('protos.ACLs', (b) => peer.ACLs.decode(b)),
  Capabilities: capabilitiesDecoder,
};

const applicationOrgValueDecoders = {
  MSP: mspDecoder,
  AnchorPeers: decoder('protos.AnchorPeers', (b) => peer.AnchorPeers.decode(b)),
};

const consortiumValueDecoders = {
  ChannelCreationPolicy: decoder('common.Policy', (b) => common.Policy.decode(b)),
};

const consortiumOrgValueDecoders = { MSP: mspDecoder };

function capabilitySet(value: common.ICapabilities | undefined): ReadonlySet<string> {
  return new Set(Object.keys(value?.capabilities ?? {}).sort());
}

/** Config element names as Fabric's configtx accepts them. */
function checkElementNames(group: common.IConfigGroup, path: string): void {
  const check = (kind: string, name: string) => {
    if (name.length > maxNameLength || name === '.' || name === '..' || !configKeyPattern.test(name)) {
      throw configError(
        `${path}/${name}`,
        `illegal ${kind} name '${name}' (allowed: [a-zA-Z0-9.-_]+, at most ${maxNameLength} characters, not '.' or '..')`,
      );
    }
  };
  for (const name of Object.keys(group.values ?? {})) check('value', name);
  for (const name of Object.keys(group.policies ?? {})) check('policy', name);
  for (const [name, child] of Object.entries(group.groups ?? {})) {
    check('group', name);
    checkElementNames(child, `${path}/${name}`);
  }
}

/** Collects one MSP per MSP ID; the same MSP ID in several groups must carry the same MSP config. */
class MspRegistry {
  private readonly byId = new Map<string, { msp: MSP; config: Uint8Array; path: string }>();

  constructor(
    private readonly channelId: string,
    private readonly mspVersion: MspVersion,
    private readonly dependencies: BundleDependencies,
  ) {}

  propose(orgPath: string, config: msp.MSPConfig | undefined): string {
    if (!config) {
      throw configError(orgPath, 'organization has no MSP value; every organization must define its MSP');
    }
    let instance: MSP;
    try {
      instance = this.dependencies.createMsp(config, {
        channelId: this.channelId,
        orgPath,
        mspVersion: this.mspVersion,
      });
    } catch (err) {
      throw configError(`${orgPath}/MSP`, 'setting up the MSP failed', err);
    }
    const mspId = instance.id;
    if (!mspId) throw configError(`${orgPath}/MSP`, 'the MSP has an empty MSP ID (FabricMSPConfig.name)');
    const canonical = msp.MSPConfig.encode(config).finish();
    const existing = this.byId.get(mspId);
    if (existing) {
      if (!Buffer.from(existing.config).equals(Buffer.from(canonical))) {
        throw configError(
          `${orgPath}/MSP`,
          `attempted to define two different versions of MSP ${mspId} (also defined at ${existing.path}); ` +
            'an MSP ID used by several organizations must carry the same MSP config everywhere',
        );
      }
    } else {
      this.byId.set(mspId, { msp: instance, config: canonical, path: orgPath });
    }
    return mspId;
  }

  all(): MSP[] {
    return [...this.byId.values()].map((entry) => entry.msp);
  }
}

function noSubgroups(group: common.IConfigGroup, path: string, what: string): void {
  const names = Object.keys(group.groups ?? {});
  if (names.length > 0) {
    throw configError(`${path}/${names[0]}`, `${what} does not allow sub-groups (found ${names.join(', ')})`);
  }
}

function checkCapabilities(level: CapabilityLevel, capabilities: ReadonlySet<string>, path: string) {
  try {
    checkCapabilitiesSupported(level, capabilities, path);
  } catch (err) {
    if (err instanceof OrdererError) throw badRequest(`invalid channel config: ${err.message}`, err.details);
    throw err;
  }
}

/** Fabric's brokerEntrySeemsValid: host:port, port a uint16, host letters/digits/dots/hyphens. */
function brokerEntrySeemsValid(broker: string): boolean {
  const parts = broker.split(':');
  if (parts.length !== 2) return false;
  const [host, port] = parts as [string, string];
  if (!/^[0-9]+$/.test(port) || Number(port) > 65535) return false;
  return /^([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9.-]*[a-zA-Z0-9])$/.test(host);
}

function consensusState(state: number | null | undefined, path: string): ConsensusState {
  if ((state ?? 0) === orderer.ConsensusType.State.STATE_NORMAL) return 'NORMAL';
  if (state === orderer.ConsensusType.State.STATE_MAINTENANCE) return 'MAINTENANCE';
  throw configError(
    `${path}/ConsensusType`,
    `unknown consensus state ${state} (expected STATE_NORMAL or STATE_MAINTENANCE)`,
  );
}

function buildOrderer(
  group: common.IConfigGroup,
  path: string,
  msps: MspRegistry,
  orgSpecificOrdererEndpoints: boolean,
): OrdererConfig {
  const values = decodeValues(group, path, ordererValueDecoders);
  const capabilities = capabilitySet(values.Capabilities);
  checkCapabilities('Orderer', capabilities, `${path}/Capabilities`);

  const batchSize = values.BatchSize ?? orderer.BatchSize.create();
  const maxMessageCount = batchSize.maxMessageCount ?? 0;
  const absoluteMaxBytes = batchSize.absoluteMaxBytes ?? 0;
  const preferredMaxBytes = batchSize.preferredMaxBytes ?? 0;
  const batchSizePath = `${path}/BatchSize`;
  if (maxMessageCount === 0) {
    throw configError(batchSizePath, 'BatchSize.MaxMessageCount must be greater than 0 (got 0)');
  }
  if (absoluteMaxBytes === 0) {
    throw configError(batchSizePath, 'BatchSize.AbsoluteMaxBytes must be greater than 0 (got 0)');
  }
  if (preferredMaxBytes === 0) {
    throw configError(batchSizePath, 'BatchSize.PreferredMaxBytes must be greater than 0 (got 0)');
  }
  if (preferredMaxBytes > absoluteMaxBytes) {
    throw configError(
      batchSizePath,
      `BatchSize.PreferredMaxBytes (${preferredMaxBytes}) is greater than BatchSize.AbsoluteMaxBytes ` +
        `(${absoluteMaxBytes}); PreferredMaxBytes must be at most AbsoluteMaxBytes`,
    );
  }

  const timeoutText = values.BatchTimeout?.timeout ?? '';
  let timeoutNanos: bigint;
  try {
    timeoutNanos = parseDurationNanos(timeoutText);
  } catch (err) {
    throw configError(
      `${path}/BatchTimeout`,
      `BatchTimeout ${JSON.stringify(timeoutText)} is not a valid duration`,
      err,
    );
  }
  if (timeoutNanos <= 0n) {
    throw configError(
      `${path}/BatchTimeout`,
      `BatchTimeout must be positive (got ${JSON.stringify(timeoutText)})`,
    );
  }

  const kafkaBrokers = [...(values.KafkaBrokers?.brokers ?? [])];
  for (const broker of kafkaBrokers) {
    if (!brokerEntrySeemsValid(broker)) {
      throw configError(`${path}/KafkaBrokers`, `invalid broker entry '${broker}' (expected host:port)`);
    }
  }

  const organizations = new Map<string, OrdererOrg>();
  for (const [orgName, orgGroup] of Object.entries(group.groups ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const orgPath = `${path}/${orgName}`;
    noSubgroups(orgGroup, orgPath, 'an orderer organization');
    if (!orgSpecificOrdererEndpoints && orgGroup.values?.['Endpoints']) {
      throw configError(
        `${orgPath}/Endpoints`,
        `orderer org ${orgName} cannot contain an Endpoints value until V1_4_2+ channel capabilities are enabled`,
      );
    }
    const orgValues = decodeValues(orgGroup, orgPath, ordererOrgValueDecoders);
    const mspId = msps.propose(orgPath, orgValues.MSP);
    organizations.set(orgName, {
      name: orgName,
      mspId,
      endpoints: [...(orgValues.Endpoints?.addresses ?? [])],
    });
  }

  const consensus = values.ConsensusType ?? orderer.ConsensusType.create();
  return {
    consensusType: consensus.type ?? '',
    consensusMetadata: Buffer.from(consensus.metadata ?? new Uint8Array()),
    consensusState: consensusState(consensus.state, path),
    batchSize: { maxMessageCount, absoluteMaxBytes, preferredMaxBytes },
    batchTimeoutMs: Number(timeoutNanos) / 1e6,
    kafkaBrokers,
    maxChannels: toNumber(values.ChannelRestrictions?.maxCount),
    capabilities,
    organizations,
  };
}

function buildApplication(group: common.IConfigGroup, path: string, msps: MspRegistry): ApplicationConfig {
  const values = decodeValues(group, path, applicationValueDecoders);
  const capabilities = capabilitySet(values.Capabilities);
  checkCapabilities('Application', capabilities, `${path}/Capabilities`);
  if (values.ACLs && !applicationCapabilityFacts(capabilities).acls) {
    throw configError(
      `${path}/ACLs`,
      'ACLs may not be specified without the V1_2 (or later) application capability',
    );
  }
  const acls = new Map<string, string>();
  for (const [resource, apiResource] of Object.entries(values.ACLs?.acls ?? {})) {
    acls.set(resource, apiResource.policyRef ?? '');
  }
  const organizations = new Map<string, ApplicationOrg>();
  for (const [orgName, orgGroup] of Object.entries(group.groups ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const orgPath = `${path}/${orgName}`;
    noSubgroups(orgGroup, orgPath, 'an application organization');
    const orgValues = decodeValues(orgGroup, orgPath, applicationOrgValueDecoders);
    const mspId = msps.propose(orgPath, orgValues.MSP);
    const anchorPeers = (orgValues.AnchorPeers?.anchorPeers ?? []).map((p) => ({
      host: p.host ?? '',
      port: p.port ?? 0,
    }));
    organizations.set(orgName, { name: orgName, mspId, anchorPeers });
  }
  return { capabilities, organizations, acls };
}

function buildConsortiums(group: common.IConfigGroup, path: string, msps: MspRegistry) {
  decodeValues(group, path, {});
  const consortiums = new Map<string, ConsortiumConfig>();
  for (const [name, consortiumGroup] of Object.entries(group.groups ?? {}).sort(([a], [b]) =>
    a < b ? -1 : 1,
  )) {
    const consortiumPath = `${path}/${name}`;
    const values = decodeValues(consortiumGroup, consortiumPath, consortiumValueDecoders);
    const organizations = new Map<string, { name: string; mspId: string }>();
    for (const [orgName, orgGroup] of Object.entries(consortiumGroup.groups ?? {}).sort(([a], [b]) =>
      a < b ? -1 : 1,
    )) {
      const orgPath = `${consortiumPath}/${orgName}`;
      noSubgroups(orgGroup, orgPath, 'a consortium organization');
      const orgValues = decodeValues(orgGroup, orgPath, consortiumOrgValueDecoders);
      organizations.set(orgName, { name: orgName, mspId: msps.propose(orgPath, orgValues.MSP) });
    }
    consortiums.set(name, {
      name,
      channelCreationPolicy: values.ChannelCreationPolicy ?? common.Policy.create(),
      organizations,
    });
  }
  return consortiums;
}

/** Fabric's preValidate: channel/application capabilities need orderer capabilities first. */
function preValidate(root: common.IConfigGroup): void {
  const ordererGroup = root.groups?.[GroupKeys.orderer];
  if (!ordererGroup || ordererGroup.values?.['Capabilities']) return;
  if (root.values?.['Capabilities']) {
    throw configError(
      '/Channel/Capabilities',
      'cannot enable channel capabilities without orderer support first: add a Capabilities value to /Channel/Orderer',
    );
  }
  if (root.groups?.[GroupKeys.application]?.values?.['Capabilities']) {
    throw configError(
      '/Channel/Application/Capabilities',
      'cannot enable application capabilities without orderer support first: add a Capabilities value to /Channel/Orderer',
    );
  }
}

/** Builds and validates the bundle of a channel config. Throws OrdererError('bad-request') naming the offending path. */
export function buildBundle(
  channelId: string,
  config: common.IConfig,
  dependencies: BundleDependencies,
): ChannelConfigBundle {
  const idProblem = channelIdProblem(channelId);
  if (idProblem) throw badRequest(`invalid channel config: ${idProblem}`);
  const root = config.channelGroup;
  if (!root)
    throw badRequest(`invalid channel config for channel ${channelId}: the config has no channel group`);
  const rootPath = `/${GroupKeys.channel}`;
  checkElementNames(root, rootPath);
  preValidate(root);

  const values = decodeValues(root, rootPath, channelValueDecoders);
  const capabilities = capabilitySet(values.Capabilities);
  checkCapabilities('Channel', capabilities, `${rootPath}/Capabilities`);
  const facts = channelCapabilityFacts(capabilities);

  const hashingAlgorithm = values.HashingAlgorithm?.name ?? '';
  if (hashingAlgorithm !== 'SHA256' && hashingAlgorithm !== 'SHA3_256') {
    throw configError(
      `${rootPath}/HashingAlgorithm`,
      `unknown hashing algorithm '${hashingAlgorithm}' (Fabric orderers use SHA256)`,
    );
  }
  const width = values.BlockDataHashingStructure?.width ?? 0;
  if (width !== maxUint32) {
    throw configError(
      `${rootPath}/BlockDataHashingStructure`,
      `BlockDataHashingStructure width must be ${maxUint32} (got ${width})`,
    );
  }
  const ordererAddresses = [...(values.OrdererAddresses?.addresses ?? [])];
  if (!facts.orgSpecificOrdererEndpoints && ordererAddresses.length === 0) {
    throw configError(
      `${rootPath}/OrdererAddresses`,
      'must set some OrdererAddresses (or enable V1_4_2+ channel capabilities and give orderer orgs Endpoints)',
    );
  }

  const msps = new MspRegistry(channelId, facts.mspVersion, dependencies);
  let ordererConfig: OrdererConfig | undefined;
  let applicationConfig: ApplicationConfig | undefined;
  let consortiums: ReadonlyMap<string, ConsortiumConfig> | undefined;
  for (const [name, group] of Object.entries(root.groups ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const path = `${rootPath}/${name}`;
    switch (name) {
      case GroupKeys.orderer:
        ordererConfig = buildOrderer(group, path, msps, facts.orgSpecificOrdererEndpoints);
        break;
      case GroupKeys.application:
        applicationConfig = buildApplication(group, path, msps);
        break;
      case GroupKeys.consortiums:
        consortiums = buildConsortiums(group, path, msps);
        break;
      default:
        throw configError(
          path,
          `unknown group ${name} (groups allowed in /Channel: Orderer, Application, Consortiums)`,
        );
    }
  }

  let mspManager: MSPManager;
  try {
    mspManager = dependencies.createMspManager(channelId, msps.all());
  } catch (err) {
    throw badRequest(
      `invalid channel config for channel ${channelId}: creating the MSP manager failed: ${errorMessage(err)}`,
    );
  }
  if (ordererConfig?.consensusType === 'etcdraft') {
    ordererConfig = { ...ordererConfig, etcdraft: checkEtcdraftMetadata(ordererConfig, mspManager) };
  }
  const policyManager = buildPolicyManager(
    root,
    { rootName: GroupKeys.channel },
    { deserializer: mspManager },
  );

  const consortiumValue = values.Consortium?.name;
  const channel: ChannelValues = {
    hashingAlgorithm,
    blockDataHashingWidth: width,
    ordererAddresses,
    consortium: consortiumValue ? consortiumValue : undefined,
    capabilities,
  };
  return {
    channelId,
    sequence: toNumber(config.sequence),
    config,
    channel,
    orderer: ordererConfig,
    application: applicationConfig,
    consortiums,
    mspManager,
    policyManager,
  };
}

/** The bundle of a config block (genesis or later); the channel ID comes from the block. */
export function buildBundleFromConfigBlock(
  block: common.IBlock,
  dependencies: BundleDependencies,
): ChannelConfigBundle {
  const { channelId, configEnvelope } = readConfigBlock(block);
  return buildBundle(channelId, configEnvelope.config!, dependencies);
}
