// Standard and system channel message processors (orderer/common/msgprocessor/standardchannel.go,
// systemchannel.go): classify, filter, and turn config updates into orderer-signed config envelopes.
import { common } from '../protos/index.js';
import { asBuffer } from '../protos/index.js';
import { badRequest, OrdererError } from '../errors.js';
import { ChannelOrdererWriters, ChannelWriters } from '../policies/types.js';
import { marshalConfigEnvelope } from '../channelconfig/index.js';
import { createSignedEnvelope, decodeEnvelope, HeaderType } from '../protoutil/envelope.js';
import type { ReceivedEnvelope } from '../consensus/types.js';
import type { ChannelConfigBundle } from '../channelconfig/types.js';
import type { SigningIdentity } from '../msp/types.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logging.js';
import { maintenanceFilter } from './maintenance.js';
import {
  applyRules,
  emptyRejectRule,
  expirationRejectRule,
  sigFilter,
  sizeFilter,
  type CertificateExpiryCache,
  type Rule,
} from './filters.js';

export type MessageClass = 'normal' | 'config-update' | 'config';

/** Fabric's ClassifyMsg: CONFIG and ORDERER_TRANSACTION may not be sent directly. */
export function classifyMessage(channelHeader: common.IChannelHeader): MessageClass {
  switch (channelHeader.type) {
    case HeaderType.CONFIG_UPDATE:
      return 'config-update';
    case HeaderType.CONFIG:
    case HeaderType.ORDERER_TRANSACTION:
      return 'config';
    default:
      return 'normal';
  }
}

export interface ProcessorOptions {
  noExpirationChecks: boolean;
  /**
   * Consensus types a channel may migrate to on this orderer (Fabric's permitted targets that have a
   * consenter here); empty or absent: every consensus-type migration is refused.
   */
  migrationTargets?: ReadonlySet<string>;
}

export interface ProcessorDeps {
  bundle: () => ChannelConfigBundle;
  signer: SigningIdentity;
  clock: Clock;
  expiry: CertificateExpiryCache;
  /** Validates a CONFIG_UPDATE against the channel's current config; returns the new ConfigEnvelope. */
  proposeConfigUpdate: (update: ReceivedEnvelope) => Promise<common.IConfigEnvelope>;
  /** Builds and validates the bundle of a config (the maintenance filter inspects the next config). */
  createBundle: (channelId: string, config: common.IConfig) => ChannelConfigBundle;
  logger?: Logger;
}

export interface MessageProcessor {
  classify(channelHeader: common.IChannelHeader): MessageClass;
  /** Filters a normal message; returns the config sequence it was validated at. */
  processNormalMsg(env: ReceivedEnvelope): Promise<number>;
  /** Validates a CONFIG_UPDATE and wraps the result in an orderer-signed config envelope. */
  processConfigUpdateMsg(env: ReceivedEnvelope): Promise<{ config: ReceivedEnvelope; configSeq: number }>;
  /** Re-validates a config envelope produced earlier (its config sequence went stale). */
  processConfigMsg(env: ReceivedEnvelope): Promise<{ config: ReceivedEnvelope; configSeq: number }>;
}

export class StandardChannelProcessor implements MessageProcessor {
  protected readonly filters: Rule[];
  private readonly maintenanceFilter: Rule;

  constructor(
    options: ProcessorOptions,
    protected readonly deps: ProcessorDeps,
  ) {
    const rules: Rule[] = [emptyRejectRule, sizeFilter(deps.bundle)];
    // Expiration goes before the signature check so that an expired flood costs no ECDSA verify.
    if (!options.noExpirationChecks) rules.push(expirationRejectRule(deps.bundle, deps.clock, deps.expiry));
    rules.push(sigFilter(ChannelWriters, ChannelOrdererWriters, deps.bundle));
    this.filters = rules;
    this.maintenanceFilter = maintenanceFilter(
      { migrationTargets: options.migrationTargets ?? new Set() },
      {
        bundle: deps.bundle,
        createBundle: deps.createBundle,
        ...(deps.logger ? { logger: deps.logger } : {}),
      },
    );
  }

  classify(channelHeader: common.IChannelHeader): MessageClass {
    return classifyMessage(channelHeader);
  }

  protected channelId(): string {
    return this.deps.bundle().channelId;
  }

  processNormalMsg(env: ReceivedEnvelope): Promise<number> {
    const bundle = this.deps.bundle();
    if (bundle.orderer?.consensusState === 'MAINTENANCE') {
      return Promise.reject(
        new OrdererError(
          'maintenance-mode',
          `normal transactions are rejected: channel ${bundle.channelId} is in maintenance mode; retry after the orderer admins set ConsensusType.State back to STATE_NORMAL`,
          { channel: bundle.channelId },
        ),
      );
    }
    const configSeq = bundle.sequence;
    let checked: void | Promise<void>;
    try {
      checked = applyRules(this.filters, env);
    } catch (err) {
      return Promise.reject(err);
    }
    return checked ? checked.then(() => configSeq) : Promise.resolve(configSeq);
  }

  async processConfigUpdateMsg(
    env: ReceivedEnvelope,
  ): Promise<{ config: ReceivedEnvelope; configSeq: number }> {
    const configSeq = this.deps.bundle().sequence;
    await applyRules(this.filters, env);
    let configEnvelope: common.IConfigEnvelope;
    try {
      configEnvelope = await this.deps.proposeConfigUpdate(env);
    } catch (err) {
      throw prefixError(err, `error applying config update to existing channel '${this.channelId()}'`);
    }
    const config = createSignedEnvelope(
      HeaderType.CONFIG,
      this.channelId(),
      this.deps.signer,
      marshalConfigEnvelope(configEnvelope),
      this.deps.clock.now(),
    );
    // Re-applied so that an update that grew past AbsoluteMaxBytes once wrapped, or an orderer
    // whose own identity cannot write to the channel, is caught here and not in the consenter.
    await applyRules(this.filters, config);
    await this.maintenanceFilter(config);
    return { config, configSeq };
  }

  async processConfigMsg(env: ReceivedEnvelope): Promise<{ config: ReceivedEnvelope; configSeq: number }> {
    if (env.channelHeader.type !== HeaderType.CONFIG) {
      throw badRequest(
        `config message of type ${env.channelHeader.type} cannot be re-validated by a standard channel`,
      );
    }
    const configEnvelope = common.ConfigEnvelope.decode(env.data);
    if (!configEnvelope.lastUpdate) throw badRequest('config envelope has no last_update to re-validate');
    const lastUpdate = decodeEnvelope(asBuffer(common.Envelope.encode(configEnvelope.lastUpdate).finish()));
    return this.processConfigUpdateMsg(lastUpdate);
  }
}

export interface SystemChannelDeps extends ProcessorDeps {
  /**
   * Builds the ConfigEnvelope of a new channel from a channel-creation CONFIG_UPDATE (template from
   * the system channel's consortium, then the update applied and authorized against it).
   */
  newChannelConfig: (update: ReceivedEnvelope) => Promise<common.IConfigEnvelope>;
  /** Validates the ORDERER_TRANSACTION the system channel is about to order (channel limits, config). */
  validateChannelCreation: (ordererTransaction: ReceivedEnvelope) => Promise<void>;
}

export class SystemChannelProcessor extends StandardChannelProcessor {
  constructor(
    options: ProcessorOptions,
    private readonly systemDeps: SystemChannelDeps,
  ) {
    super(options, systemDeps);
  }

  override async processNormalMsg(env: ReceivedEnvelope): Promise<number> {
    const channelId = env.channelHeader.channelId;
    if (channelId !== this.channelId()) {
      throw new OrdererError(
        'channel-not-found',
        `channel ${channelId} does not exist; create it first (peer channel create) or check the channel name`,
        { channel: channelId },
      );
    }
    return super.processNormalMsg(env);
  }

  override async processConfigUpdateMsg(
    env: ReceivedEnvelope,
  ): Promise<{ config: ReceivedEnvelope; configSeq: number }> {
    const channelId = env.channelHeader.channelId;
    if (channelId === this.channelId()) return super.processConfigUpdateMsg(env);

    let newChannelConfig: common.IConfigEnvelope;
    try {
      newChannelConfig = await this.systemDeps.newChannelConfig(env);
    } catch (err) {
      throw prefixError(
        err,
        `error validating channel creation transaction for new channel '${channelId}', could not successfully apply update to template configuration`,
      );
    }
    const now = this.deps.clock.now();
    const innerConfig = createSignedEnvelope(
      HeaderType.CONFIG,
      channelId,
      this.deps.signer,
      marshalConfigEnvelope(newChannelConfig),
      now,
    );
    const wrapped = createSignedEnvelope(
      HeaderType.ORDERER_TRANSACTION,
      this.channelId(),
      this.deps.signer,
      innerConfig.raw,
      now,
    );
    await applyRules(this.filters, wrapped);
    await this.systemDeps.validateChannelCreation(wrapped);
    return { config: wrapped, configSeq: this.deps.bundle().sequence };
  }

  override async processConfigMsg(
    env: ReceivedEnvelope,
  ): Promise<{ config: ReceivedEnvelope; configSeq: number }> {
    if (env.channelHeader.type !== HeaderType.ORDERER_TRANSACTION) return super.processConfigMsg(env);
    // A channel creation whose system-channel config went stale: re-run it from the original update.
    const inner = decodeEnvelope(env.data);
    const configEnvelope = common.ConfigEnvelope.decode(inner.data);
    if (!configEnvelope.lastUpdate)
      throw badRequest('channel creation config has no last_update to re-validate');
    const lastUpdate = decodeEnvelope(asBuffer(common.Envelope.encode(configEnvelope.lastUpdate).finish()));
    return this.processConfigUpdateMsg(lastUpdate);
  }
}

function prefixError(err: unknown, prefix: string): OrdererError {
  if (err instanceof OrdererError) {
    // Fabric wraps the update's policy failure in a plain error, so a creation it forbids is a bad request.
    return new OrdererError(
      err.kind === 'forbidden' ? 'bad-request' : err.errorCode,
      `${prefix}: ${err.message}`,
      err.details,
      {
        cause: err,
      },
    );
  }
  return badRequest(`${prefix}: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
}
