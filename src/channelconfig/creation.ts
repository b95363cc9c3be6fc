// Channel creation through a system channel (deprecated in Fabric 2.x, still what a 1.4-style network
// does): Fabric's msgprocessor.DefaultTemplator.NewChannelConfig builds a template config for the new
// channel from the system channel's config and the consortium the request names, then the request is
// applied to that template as an ordinary config update (SystemChannel.ProcessConfigUpdateMsg).
import { OrdererError, badRequest, withMessagePrefix } from '../errors.js';
import type { PolicyManager } from '../policies/types.js';
import { asBuffer, common, toNumber } from '../protos/index.js';
import { channelIdProblem, copyConfigGroup, sortedKeys } from './configtx-map.js';
import { type DecodedConfigUpdate, decodeConfigUpdate, proposeConfigUpdate } from './update.js';

const APPLICATION = 'Application';
const ORDERER = 'Orderer';
const CONSORTIUMS = 'Consortiums';
const CONSORTIUM_VALUE = 'Consortium';
const CAPABILITIES_VALUE = 'Capabilities';
const CHANNEL_CREATION_POLICY = 'ChannelCreationPolicy';
const ADMINS = 'Admins';

export interface ChannelCreationDependencies {
  /**
   * The policy manager of a config, used to authorize the request against the template config. In
   * production: the bundle builder's bundle for (channelId, config), which also validates the template.
   */
  policyManagerFor(channelId: string, config: common.IConfig): PolicyManager | Promise<PolicyManager>;
}

export interface ChannelTemplate {
  readonly channelId: string;
  readonly consortium: string;
  /** The template config (sequence 0) the creation request is applied to. */
  readonly config: common.IConfig;
}

function ordererCapabilities(systemGroup: common.IConfigGroup): Set<string> {
  const raw = systemGroup.groups?.[ORDERER]?.values?.[CAPABILITIES_VALUE]?.value;
  if (!raw) return new Set();
  try {
    return new Set(Object.keys(common.Capabilities.decode(asBuffer(raw)).capabilities ?? {}));
  } catch {
    return new Set();
  }
}

function creationError(message: string, details: Record<string, unknown> = {}): OrdererError {
  return badRequest(message, details);
}

/**
 * Fabric's DefaultTemplator.NewChannelConfig for an orderer with the system channel config
 * `systemConfig`: checks the request names a known consortium and only its members, then builds the
 * new channel's template config. Throws OrdererError('bad-request') explaining what is wrong.
 */
export function newChannelTemplate(
  systemConfig: common.IConfig,
  update: DecodedConfigUpdate,
): ChannelTemplate {
  const { configUpdate, channelHeader } = update;
  if (configUpdate.channelId !== channelHeader.channelId) {
    throw creationError(
      `Failing initial channel config creation: mismatched channel IDs: '${configUpdate.channelId}' != ` +
        `'${channelHeader.channelId}': the ConfigUpdate and the envelope's channel header must name the same channel`,
    );
  }
  const channelId = channelHeader.channelId;
  const idProblem = channelIdProblem(channelId);
  if (idProblem) throw creationError(`bad channel ID: ${idProblem}`, { channelId });

  const writeSet = configUpdate.writeSet;
  if (!writeSet) throw creationError('Config update has an empty writeset');
  const requestedApplication = writeSet.groups?.[APPLICATION];
  if (!requestedApplication) {
    throw creationError(
      'Config update has missing application group: a channel creation request must carry /Channel/Application in its write set',
    );
  }
  const applicationVersion = toNumber(requestedApplication.version);
  if (applicationVersion !== 1) {
    throw creationError(
      `Config update for channel creation does not set application group version to 1, was ${applicationVersion}`,
    );
  }
  const consortiumValue = writeSet.values?.[CONSORTIUM_VALUE];
  if (!consortiumValue) {
    throw creationError(
      'Consortium config value missing: a channel creation request must set /Channel/Consortium to the consortium it belongs to',
    );
  }
  let consortiumName: string;
  try {
    consortiumName = common.Consortium.decode(asBuffer(consortiumValue.value)).name;
  } catch (err) {
    throw creationError(`Error reading unmarshaling consortium name: ${(err as Error).message}`);
  }

  const systemGroup = systemConfig.channelGroup;
  const consortiums = systemGroup?.groups?.[CONSORTIUMS];
  if (!systemGroup || !consortiums) {
    throw creationError(
      'The ordering system channel does not appear to support creating channels: it has no Consortiums group',
    );
  }
  const consortium = consortiums.groups?.[consortiumName];
  if (!consortium) {
    const known = sortedKeys(consortiums.groups).join(', ') || 'none';
    throw creationError(
      `Unknown consortium name: ${consortiumName} (consortiums on the system channel: ${known})`,
      {
        consortium: consortiumName,
      },
    );
  }
  const creationPolicyRaw = consortium.values?.[CHANNEL_CREATION_POLICY]?.value;
  let creationPolicy: common.IPolicy;
  try {
    creationPolicy = common.Policy.decode(asBuffer(creationPolicyRaw));
  } catch (err) {
    throw creationError(
      `consortium ${consortiumName} has an unreadable ChannelCreationPolicy: ${(err as Error).message}`,
    );
  }

  const capabilities = ordererCapabilities(systemGroup);
  const v20 = capabilities.has('V2_0');
  const predictableTemplate = v20 || capabilities.has('V1_1') || capabilities.has('V1_4_2');

  // Configtxgen since v2.0 sends the Application Admins policy at version 0 only when it was made by an
  // older tool; otherwise the template calls the creation policy "Admins" so /Channel/Admins can evaluate.
  let policyKey = CHANNEL_CREATION_POLICY;
  if (v20 && requestedApplication.policies) {
    const admins = requestedApplication.policies[ADMINS];
    if (!admins || toNumber(admins.version) !== 0) policyKey = ADMINS;
  }

  const members = consortium.groups ?? {};
  const requestedOrgs = sortedKeys(requestedApplication.groups);
  const consortiumOrgs = sortedKeys(members);
  if (consortiumOrgs.length > 0 && requestedOrgs.length === 0) {
    throw creationError(
      'Proposed configuration has no application group members, but consortium contains members: ' +
        `add at least one of ${consortiumOrgs.join(', ')} to /Channel/Application`,
    );
  }
  const applicationOrgs: Record<string, common.IConfigGroup> = {};
  if (consortiumOrgs.length > 0) {
    for (const org of requestedOrgs) {
      const member = members[org];
      if (!member) {
        throw creationError(
          `Attempted to include a member which is not in the consortium: ${org} is not a member of consortium ` +
            `${consortiumName} (members: ${consortiumOrgs.join(', ')})`,
          { org, consortium: consortiumName },
        );
      }
      applicationOrgs[org] = copyConfigGroup(member);
    }
  }

  const applicationGroup: common.IConfigGroup = {
    version: 0,
    groups: applicationOrgs,
    values: {},
    policies: { [policyKey]: { version: 0, policy: creationPolicy, modPolicy: policyKey } },
    modPolicy: policyKey,
  };

  // Channel-level values and policies are copied from the system channel; the consortium is set below.
  const systemCopy = copyConfigGroup(systemGroup);
  const values: Record<string, common.IConfigValue> = { ...systemCopy.values };
  values[CONSORTIUM_VALUE] = {
    version: 0,
    value: common.Consortium.encode({ name: consortiumName }).finish(),
    modPolicy: ADMINS,
  };
  const groups: Record<string, common.IConfigGroup> = {
    [APPLICATION]: applicationGroup,
    [ORDERER]: copyConfigGroup(systemGroup.groups![ORDERER] ?? {}),
  };
  let channelGroup: common.IConfigGroup = {
    version: 0,
    groups,
    values: Object.fromEntries(sortedKeys(values).map((k) => [k, values[k]!])),
    policies: systemCopy.policies,
    modPolicy: '',
  };
  if (predictableTemplate) {
    // Fabric v1.1+ (PredictableChannelTemplate): keep the system channel's mod_policy, start every version at 0.
    channelGroup = copyConfigGroup(
      { ...channelGroup, modPolicy: systemGroup.modPolicy ?? '' },
      { zeroVersions: true },
    );
  }

  return { channelId, consortium: consortiumName, config: { sequence: 0, channelGroup } };
}

/**
 * Validates a channel creation request (a CONFIG_UPDATE for a channel that does not exist yet)
 * against the system channel config and returns the new channel's first ConfigEnvelope (sequence 1,
 * last_update = the request), which the caller wraps into the CONFIG and ORDERER_TRANSACTION envelopes.
 * Errors are OrdererError('bad-request'); policy failures come prefixed as Fabric does:
 * "error validating channel creation transaction for new channel '<id>', could not successfully apply
 * update to template configuration: ...".
 */
export async function createChannelConfig(
  systemConfig: common.IConfig,
  update: Buffer | Uint8Array | common.IEnvelope | DecodedConfigUpdate,
  dependencies: ChannelCreationDependencies,
): Promise<common.IConfigEnvelope> {
  const decoded =
    'configUpdateBytes' in update && 'configUpdate' in update ? update : decodeConfigUpdate(update);
  const template = newChannelTemplate(systemConfig, decoded);
  const policyManager = await dependencies.policyManagerFor(template.channelId, template.config);
  try {
    return await proposeConfigUpdate(
      { channelId: template.channelId, sequence: 0, config: template.config, policyManager },
      decoded,
    );
  } catch (err) {
    const prefix =
      `error validating channel creation transaction for new channel '${template.channelId}', ` +
      'could not successfully apply update to template configuration: ';
    if (err instanceof OrdererError)
      throw withMessagePrefix(err, prefix);
    throw err;
  }
}
