// Fabric's maintenance filter (orderer/common/msgprocessor/maintenancefilter.go): the transition rules
// of maintenance mode and consensus-type migration, applied to every CONFIG envelope the orderer makes
// from a config update on an existing channel.
import { asBuffer, common, etcdraft } from '../protos/index.js';
import { badRequest, errorMessage, OrdererError, withMessagePrefix } from '../errors.js';
import { etcdraftConfigOf, ordererCapabilityFacts } from '../channelconfig/index.js';
import { decodeConfigUpdate } from '../channelconfig/index.js';
import { HeaderType } from '../protoutil/envelope.js';
import type { ReceivedEnvelope } from '../consensus/types.js';
import type { ChannelConfigBundle, ConsensusState, OrdererConfig } from '../channelconfig/types.js';
import type { Logger } from '../logging.js';
import type { Rule } from './filters.js';

/** The consensus types Fabric v2.5 lets a channel migrate to (kafka/solo -> etcdraft). */
export const FABRIC_MIGRATION_TARGETS: ReadonlySet<string> = new Set(['etcdraft']);

/**
 * The consensus types a channel may migrate from: Fabric v2.5's filter says "only kafka to etcdraft
 * or solo to etcdraft transitions are actually supported".
 */
export const FABRIC_MIGRATION_SOURCES: ReadonlySet<string> = new Set(['kafka', 'solo']);

export interface MaintenanceFilterOptions {
  /**
   * Consensus types this orderer can run a migrated channel on: Fabric's permitted targets that
   * also have a consenter here. A migration to any other type is refused before it is ordered.
   */
  migrationTargets: ReadonlySet<string>;
}

export interface MaintenanceFilterDeps {
  /** The channel's current config. */
  bundle: () => ChannelConfigBundle;
  /** Builds (and validates) the bundle of the next config; throws when it is not a valid config. */
  createBundle: (channelId: string, config: common.IConfig) => ChannelConfigBundle;
  logger?: Logger;
}

const STATE_NAMES: Record<ConsensusState, string> = {
  NORMAL: 'STATE_NORMAL',
  MAINTENANCE: 'STATE_MAINTENANCE',
};

const PREFIX = 'config transaction inspection failed: ';

/**
 * Checks a CONFIG envelope against the maintenance-mode rules. Every failure is a bad-request
 * OrdererError whose message starts with Fabric's "config transaction inspection failed: ".
 */
export function maintenanceFilter(options: MaintenanceFilterOptions, deps: MaintenanceFilterDeps): Rule {
  return (env) => {
    const current = deps.bundle();
    const currentOrderer = current.orderer;
    if (!currentOrderer) {
      throw badRequest(
        `${PREFIX}channel ${current.channelId} has no Orderer config group, so its config cannot be updated by this orderer`,
      );
    }
    const configEnvelope = decodeConfigEnvelope(env);
    try {
      inspect(options, deps, current.channelId, configEnvelope, currentOrderer);
    } catch (err) {
      if (err instanceof OrdererError) throw withMessagePrefix(err, PREFIX);
      throw badRequest(PREFIX + errorMessage(err), {}, { cause: err });
    }
  };
}

function decodeConfigEnvelope(env: ReceivedEnvelope): common.ConfigEnvelope {
  if (env.channelHeader.type !== HeaderType.CONFIG) {
    const name = common.HeaderType[env.channelHeader.type] ?? String(env.channelHeader.type);
    throw badRequest(`envelope unmarshalling failed: message of type ${name} is not a CONFIG envelope`);
  }
  try {
    return common.ConfigEnvelope.decode(env.data);
  } catch (err) {
    throw badRequest(`envelope unmarshalling failed: payload is not a ConfigEnvelope: ${errorMessage(err)}`);
  }
}

function inspect(
  options: MaintenanceFilterOptions,
  deps: MaintenanceFilterDeps,
  channelId: string,
  configEnvelope: common.ConfigEnvelope,
  current: OrdererConfig,
): void {
  if (!configEnvelope.lastUpdate) throw badRequest('updated config does not include a config update');

  let nextBundle: ChannelConfigBundle;
  try {
    nextBundle = deps.createBundle(channelId, configEnvelope.config ?? {});
  } catch (err) {
    throw badRequest(`failed to parse config: ${errorMessage(err)}`, {}, { cause: err });
  }
  const next = nextBundle.orderer;
  if (!next) {
    throw badRequest('next config is missing orderer group: an orderer channel must keep /Channel/Orderer');
  }

  const from = { type: current.consensusType, state: STATE_NAMES[current.consensusState] };
  const to = { type: next.consensusType, state: STATE_NAMES[next.consensusState] };

  if (!ordererCapabilityFacts(current.capabilities).consensusTypeMigration) {
    if (next.consensusState !== 'NORMAL') {
      throw badRequest(
        `next config attempted to change ConsensusType.State to ${to.state}, but capability is disabled: ` +
          'maintenance mode needs the Orderer capability V1_4_2 or later (V2_0); enable it in /Channel/Orderer/Capabilities first',
      );
    }
    if (current.consensusType !== next.consensusType) {
      throw badRequest(
        `next config attempted to change ConsensusType.Type from ${from.type} to ${to.type}, but capability is disabled: ` +
          'consensus-type migration needs the Orderer capability V1_4_2 or later (V2_0)',
      );
    }
    return;
  }

  // Entry to and exit from maintenance mode must not be accompanied by any other change.
  if (current.consensusState !== next.consensusState) {
    ensureConsensusTypeChangeOnly(configEnvelope.lastUpdate, from.state, to.state);
    if (current.consensusType !== next.consensusType) {
      throw badRequest(
        `attempted to change ConsensusType.Type from ${from.type} to ${to.type}, but ConsensusType.State is changing ` +
          `from ${from.state} to ${to.state}: enter maintenance mode first, change the type in a separate update, then leave it`,
      );
    }
    if (!current.consensusMetadata.equals(next.consensusMetadata)) {
      throw badRequest(
        `attempted to change ConsensusType.Metadata, but ConsensusType.State is changing from ${from.state} to ${to.state}: ` +
          'change the metadata in a separate update',
      );
    }
  }

  // The consensus type can only change inside maintenance mode, and only to a permitted target.
  if (current.consensusType !== next.consensusType) {
    if (current.consensusState === 'NORMAL') {
      throw badRequest(
        `attempted to change consensus type from ${from.type} to ${to.type}, but current config ConsensusType.State is not in maintenance mode: ` +
          'first submit an update that only sets ConsensusType.State to STATE_MAINTENANCE',
      );
    }
    if (next.consensusState === 'NORMAL') {
      throw badRequest(
        `attempted to change consensus type from ${from.type} to ${to.type}, but next config ConsensusType.State is not in maintenance mode: ` +
          'keep STATE_MAINTENANCE while changing the type, and leave maintenance mode in a separate update',
      );
    }
    if (!FABRIC_MIGRATION_TARGETS.has(next.consensusType)) {
      throw badRequest(
        `attempted to change consensus type from ${from.type} to ${to.type}, transition not supported: ` +
          `Fabric v2.5 channels can only migrate to ${[...FABRIC_MIGRATION_TARGETS].join(', ')}`,
      );
    }
    // Fabric's filter does not check the source type, and notes that only Kafka and solo sources
    // are supported; any other is refused here before it is ordered.
    if (!FABRIC_MIGRATION_SOURCES.has(current.consensusType)) {
      throw badRequest(
        `attempted to change consensus type from ${from.type} to ${to.type}, transition not supported: ` +
          `only ${[...FABRIC_MIGRATION_SOURCES].join(' and ')} channels can migrate (Fabric v2.5 migrates Kafka and solo to Raft only); ` +
          `leave maintenance mode with ConsensusType.Type ${from.type}`,
      );
    }
    if (next.consensusType === 'etcdraft') {
      if (next.consensusMetadata.length === 0) {
        throw badRequest(
          `attempted to change consensus type from ${from.type} to ${to.type} with empty ConsensusType.Metadata: ` +
            'set it to the etcdraft ConfigMetadata (the consenters with their host, port and TLS certificates, and the Raft options) in the same update',
        );
      }
      try {
        etcdraft.ConfigMetadata.decode(next.consensusMetadata);
      } catch (err) {
        throw badRequest(
          `failed to unmarshal etcdraft metadata configuration: ${errorMessage(err)}: ` +
            'ConsensusType.Metadata must be an etcdraft.ConfigMetadata (consenters and options)',
        );
      }
      // Fabric only unmarshals here and its etcdraft consenter refuses bad metadata when the
      // orderers restart, with every orderer of the channel down; refused before it is ordered.
      try {
        etcdraftConfigOf(next, nextBundle.mspManager);
      } catch (err) {
        throw badRequest(
          `invalid etcdraft metadata for the migration from ${from.type}: ${errorMessage(err)}`,
          {},
          { cause: err },
        );
      }
    }
    if (!options.migrationTargets.has(next.consensusType)) {
      const available = [...options.migrationTargets].sort().join(', ') || 'none';
      throw badRequest(
        `attempted to change consensus type from ${from.type} to ${to.type}, transition not supported by this orderer: ` +
          `it cannot run the channel as ${to.type} after the migration (migration targets available here: ${available}); ` +
          `leave maintenance mode with ConsensusType.Type ${from.type}, or migrate with orderers that run ${to.type}`,
      );
    }
    deps.logger?.info(
      { channel: channelId, from: from.type, to: to.type },
      'consensus-type migration: about to change consensus type',
    );
  }

  if (current.consensusState !== next.consensusState) {
    deps.logger?.info(
      { channel: channelId, from: from.state, to: to.state },
      'maintenance mode: ConsensusType.State about to change',
    );
  }
}

/** The update that enters or leaves maintenance mode may touch only /Channel/Orderer/ConsensusType. */
function ensureConsensusTypeChangeOnly(
  lastUpdate: common.IEnvelope,
  fromState: string,
  toState: string,
): void {
  const what = `ConsensusType.State is changing from ${fromState} to ${toState}, so`;
  const fix = 'submit the state change alone and make other changes in separate updates';
  let configUpdate: common.ConfigUpdate;
  try {
    configUpdate = decodeConfigUpdate(asBuffer(common.Envelope.encode(lastUpdate).finish())).configUpdate;
  } catch (err) {
    throw badRequest(`config update unmarshaling error: ${errorMessage(err)}`, {}, { cause: err });
  }
  const writeSet = configUpdate.writeSet ?? common.ConfigGroup.create();
  const groups = Object.keys(writeSet.groups ?? {});
  const values = Object.keys(writeSet.values ?? {});
  if (groups.length === 0) {
    throw badRequest(
      `config update contains no changes: ${what} its write set must hold the Orderer group with ConsensusType`,
    );
  }
  if (values.length > 0) {
    throw badRequest(
      `config update contains changes to values in group Channel (${values.sort().join(', ')}): ${what} ${fix}`,
    );
  }
  if (groups.length > 1) {
    throw badRequest(
      `config update contains changes to more than one group (${groups.sort().join(', ')}): ${what} ${fix}`,
    );
  }
  const ordererGroup = writeSet.groups?.Orderer;
  if (!ordererGroup) {
    throw badRequest(`update does not contain the Orderer group (it changes ${groups[0]}): ${what} ${fix}`);
  }
  const ordererGroups = Object.keys(ordererGroup.groups ?? {});
  if (ordererGroups.length > 0) {
    throw badRequest(
      `config update contains changes to groups within the Orderer group (${ordererGroups.sort().join(', ')}): ${what} ${fix}`,
    );
  }
  // Fabric stops here for policies and the group itself; a policy or mod_policy change riding along
  // with the state change is just as much "another change", so it is refused too.
  const readOrderer = configUpdate.readSet?.groups?.Orderer;
  const changedPolicies = Object.entries(ordererGroup.policies ?? {})
    .filter(
      ([name, policy]) => readOrderer?.policies?.[name]?.version?.toString() !== policy.version?.toString(),
    )
    .map(([name]) => name)
    .sort();
  if (changedPolicies.length > 0) {
    throw badRequest(
      `config update contains changes to policies of the Orderer group (${changedPolicies.join(', ')}): ${what} ${fix}`,
    );
  }
  if ((readOrderer?.version ?? 0).toString() !== (ordererGroup.version ?? 0).toString()) {
    throw badRequest(
      `config update changes the Orderer group itself (version ${String(readOrderer?.version ?? 0)} -> ${String(ordererGroup.version ?? 0)}): ${what} ${fix}`,
    );
  }
  const ordererValues = Object.keys(ordererGroup.values ?? {}).sort();
  if (!ordererValues.includes('ConsensusType')) {
    throw badRequest(
      `config update does not contain the ConsensusType value: ${what} it must change ConsensusType`,
    );
  }
  if (ordererValues.length > 1) {
    throw badRequest(
      `config update contain more then just the ConsensusType value in the Orderer group (${ordererValues.join(', ')}): ${what} ${fix}`,
    );
  }
}
