// The registrar owns every channel of this orderer (Fabric's multichannel/registrar.go): it
// bootstraps from a genesis block or from the ledgers on disk, finds the channel a message is for,
// and creates channels (system channel transactions now, channel participation later).
import { common, asBuffer, toNumber } from '../protos/index.js';
import { badRequest, errorMessage, forbidden, internal, OrdererError } from '../errors.js';
import { blockHeaderHash, consenterMetadataOf, lastConfigIndexOf, marshalBlock } from '../protoutil/block.js';
import { decodeEnvelope, HeaderType } from '../protoutil/envelope.js';
import { ChainSupport, type ChannelResources } from './chainsupport.js';
import { channelGenesisBlock } from './blockwriter.js';
import { CertificateExpiryCache } from '../msgprocessor/index.js';
import { configEnvelopeFromBlock, readConfigBlock } from '../channelconfig/index.js';
import { FABRIC_MIGRATION_TARGETS } from '../msgprocessor/maintenance.js';
import type {
  ChannelJoin,
  ChannelStatus,
  Consenter,
  ConsensusRelation,
  ReceivedEnvelope,
  BlockCutterLike,
} from '../consensus/types.js';
import type { ChannelConfigBundle, OrdererConfig } from '../channelconfig/types.js';
import type { LedgerFactory } from '../ledger/types.js';
import type { SigningIdentity } from '../msp/types.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logging.js';

export interface RegistrarOptions {
  noExpirationChecks: boolean;
}

/** A consenter this orderer runs, with the logger its chains log through (e.g. orderer.consensus.solo). */
export interface ConsenterRegistration {
  consenter: Consenter;
  logger: Logger;
  /**
   * False when this consenter cannot yet continue a channel migrated to it from another
   * consensus type: a migration to it is then refused before it is ordered. Default true.
   */
  migrationTarget?: boolean;
}

export interface RegistrarDeps {
  ledgerFactory: LedgerFactory;
  signer: SigningIdentity;
  clock: Clock;
  logger: Logger;
  resources: ChannelResources;
  /** The consenters by consensus type ("solo", "kafka", "etcdraft"). */
  consenters: ReadonlyMap<string, ConsenterRegistration>;
  createBlockCutter: (batchSize: () => OrdererConfig['batchSize'], channelId: string) => BlockCutterLike;
  onBlockCommitted?: (channelId: string, block: common.IBlock, bytes: Buffer) => void;
  /**
   * Told a channel's participation info whenever it is opened, created, joined (info) or removed
   * (undefined): Fabric's ReportConsensusRelationAndStatusMetrics.
   */
  onChannelInfo?: (channelId: string, info: ChannelInfo | undefined) => void;
  /** Told each config a channel applies after it was opened (config blocks written). */
  onConfigApplied?: (channelId: string, bundle: ChannelConfigBundle) => void;
}

export type { ConsensusRelation, ChannelStatus } from '../consensus/types.js';

/** Fabric's types.ChannelInfo, as the channel participation API reports it. */
export interface ChannelInfo {
  name: string;
  consensusRelation: ConsensusRelation;
  status: ChannelStatus;
  height: number;
}

/** Which channel a Broadcast message is for (satisfies the Broadcast handler's BroadcastTarget). */
export interface BroadcastTarget {
  channelHeader: common.ChannelHeader;
  isConfig: boolean;
  channel: ChainSupport;
}

export class Registrar {
  private readonly chains = new Map<string, ChainSupport>();
  private systemChannelId: string | undefined;
  private readonly expiry = new CertificateExpiryCache();
  private readonly joining = new Set<string>();
  /** Fabric's permitted migration targets that have a consenter here (etcdraft, once it runs). */
  private readonly migrationTargets: ReadonlySet<string>;

  constructor(
    private readonly options: RegistrarOptions,
    private readonly deps: RegistrarDeps,
  ) {
    this.migrationTargets = migrationTargetsFor(
      [...deps.consenters]
        .filter(([, registration]) => registration.migrationTarget !== false)
        .map(([type]) => type),
    );
  }

  /**
   * Opens every channel found in the ledger; with a bootstrap (genesis) block and no ledger for
   * its channel yet, writes it first. Starts every chain.
   */
  async initialize(bootstrapBlock?: Buffer): Promise<void> {
    if (bootstrapBlock) {
      const block = common.Block.decode(bootstrapBlock);
      const channelId = channelIdOfConfigBlock(block);
      if (!this.deps.ledgerFactory.channelIds().includes(channelId)) {
        const store = await this.deps.ledgerFactory.open(channelId);
        if (store.height() === 0) await store.append({ number: 0, bytes: bootstrapBlock });
        this.deps.logger.info({ channel: channelId }, 'bootstrapped channel from genesis block');
      }
    }
    for (const channelId of this.deps.ledgerFactory.channelIds()) {
      const joinBytes = await this.deps.ledgerFactory.joinBlock(channelId);
      if (joinBytes) {
        await this.resumeJoin(channelId, joinBytes);
        continue;
      }
      const store = await this.deps.ledgerFactory.open(channelId);
      if (store.height() === 0) {
        // A join that crashed before the channel's first block was stored: nothing to resume.
        this.deps.logger.warn(
          { channel: channelId },
          'removing the empty ledger of a channel whose join did not complete; join it again',
        );
        await this.deps.ledgerFactory.remove(channelId);
        continue;
      }
      await this.openChannel(channelId);
    }
    for (const chain of this.chains.values()) chain.chain.start();
    for (const channelId of this.chains.keys()) this.reportChannelInfo(channelId);
  }

  private reportChannelInfo(channelId: string): void {
    if (!this.deps.onChannelInfo) return;
    try {
      this.deps.onChannelInfo(channelId, this.channelInfo(channelId));
    } catch (err) {
      this.deps.logger.warn({ channel: channelId, err: errorMessage(err) }, 'reporting channel info failed');
    }
  }

  /**
   * A channel joined past its genesis block, found at start: onboarding resumes at the ledger
   * height (pulling the genesis block again if the ledger has none), or, past the join block,
   * the channel opens as any other and the join block is dropped.
   */
  private async resumeJoin(channelId: string, joinBytes: Buffer): Promise<void> {
    const join = this.channelJoinOf(channelId, joinBytes);
    const store = await this.deps.ledgerFactory.open(channelId);
    if (store.height() > join.number) {
      await this.deps.ledgerFactory.removeJoinBlock(channelId);
      await this.openChannel(channelId);
      return;
    }
    try {
      if (store.height() === 0) await this.pullGenesisBlock(channelId, join);
    } catch (err) {
      // The orderers may be down now; the channel opens on the next start, or after a new join.
      this.deps.logger.error(
        { channel: channelId, err: errorMessage(err) },
        `cannot resume onboarding channel ${channelId}: ${errorMessage(err)}; the channel stays closed until the next start`,
      );
      return;
    }
    this.deps.logger.info(
      { channel: channelId, height: store.height(), joinBlock: join.number },
      'resuming onboarding of a channel joined past its genesis block',
    );
    await this.openChannel(channelId, join);
  }

  private channelJoinOf(channelId: string, joinBytes: Buffer): ChannelJoin {
    const block = common.Block.decode(joinBytes);
    const { configEnvelope } = readConfigBlock(block);
    return {
      number: toNumber(block.header?.number),
      headerHash: blockHeaderHash(block.header!),
      bundle: this.deps.resources.createBundle(channelId, configEnvelope.config ?? {}),
    };
  }

  /**
   * The genesis block of a channel being onboarded, pulled from the orderers its join block names
   * and stored as received. It is trusted once the blocks pulled after it chain up to the join
   * block (the follower checks the join block's header hash); until then the channel is
   * onboarding and serves no Deliver.
   */
  private async pullGenesisBlock(channelId: string, join: ChannelJoin): Promise<void> {
    const registration = this.deps.consenters.get(join.bundle.orderer?.consensusType ?? '');
    const onboarding = registration?.consenter.onboarding;
    if (!onboarding) throw internal(`the consenter of channel ${channelId} cannot pull blocks`);
    const puller = onboarding.pullerFor({
      channelId,
      logger: this.deps.logger.child({ channel: channelId }),
      bundle: () => join.bundle,
    });
    let pulled: { bytes: Buffer; block: common.Block };
    try {
      pulled = await puller.pullBlock(0);
    } catch (err) {
      throw new OrdererError(
        'unavailable',
        `cannot pull the genesis block of channel ${channelId} from the orderers its join block names: ${errorMessage(err)}; ` +
          "check that they run and trust this orderer's cluster client certificate, then join again",
        { channel: channelId },
        { cause: err },
      );
    } finally {
      puller.close();
    }
    let pulledChannel: string;
    try {
      pulledChannel = readConfigBlock(pulled.block).channelId;
    } catch (err) {
      throw badRequest(
        `the block 0 pulled for channel ${channelId} is not a genesis block: ${errorMessage(err)}`,
      );
    }
    if (pulledChannel !== channelId)
      throw badRequest(
        `the block 0 pulled for channel ${channelId} is the genesis block of channel ${pulledChannel}`,
      );
    const store = await this.deps.ledgerFactory.open(channelId);
    await store.append({ number: 0, bytes: pulled.bytes });
  }

  private async openChannel(channelId: string, join?: ChannelJoin): Promise<ChainSupport> {
    const store = await this.deps.ledgerFactory.open(channelId);
    const height = store.height();
    if (height === 0) throw internal(`ledger of channel ${channelId} is empty: it has no genesis block`);
    const lastBlock = await this.decodedBlock(channelId, height - 1);
    const lastConfigNumber = lastConfigIndexOf(lastBlock);
    const configBlock =
      lastConfigNumber === height - 1 ? lastBlock : await this.decodedBlock(channelId, lastConfigNumber);
    const configEnvelope = configEnvelopeFromBlock(configBlock);
    const bundle = this.deps.resources.createBundle(channelId, configEnvelope.config ?? {});
    const isSystemChannel = bundle.consortiums !== undefined;
    if (isSystemChannel) {
      if (this.systemChannelId && this.systemChannelId !== channelId) {
        throw internal(
          `found two system channels: ${this.systemChannelId} and ${channelId}; an orderer has at most one`,
        );
      }
      this.systemChannelId = channelId;
    }
    const logger = this.deps.logger.child({ channel: channelId });
    const consensusType = bundle.orderer?.consensusType ?? '';
    const registration = this.deps.consenters.get(consensusType);
    if (!registration) {
      throw badRequest(
        `channel ${channelId} uses consensus type '${consensusType}', which this orderer does not run (available: ${[...this.deps.consenters.keys()].join(', ')})`,
      );
    }
    const support = new ChainSupport(
      {
        channelId,
        isSystemChannel,
        noExpirationChecks: this.options.noExpirationChecks,
        migrationTargets: this.migrationTargets,
      },
      {
        store,
        signer: this.deps.signer,
        clock: this.deps.clock,
        logger,
        consenterLogger: registration.logger.child({ channel: channelId }),
        bundle,
        lastBlock,
        lastConfigBlockNumber: lastConfigNumber,
        resources: this.deps.resources,
        expiry: this.expiry,
        createBlockCutter: (batchSize) => this.deps.createBlockCutter(batchSize, channelId),
        ...(isSystemChannel
          ? {
              createChannel: (configEnvelope: ReceivedEnvelope) => this.createChannel(configEnvelope),
              validateChannelCreation: (tx: ReceivedEnvelope) => this.validateChannelCreation(tx),
            }
          : {}),
        ...(this.deps.onBlockCommitted ? { onBlockCommitted: this.deps.onBlockCommitted } : {}),
        onChainReplaced: () => this.reportChannelInfo(channelId),
        ...(this.deps.onConfigApplied
          ? {
              onConfigApplied: (applied: ChannelConfigBundle) =>
                this.deps.onConfigApplied!(channelId, applied),
            }
          : {}),
      },
    );
    support.attachConsenter(registration.consenter, consenterMetadataOf(lastBlock), join);
    this.chains.set(channelId, support);
    logger.info({ height, consensusType, system: isSystemChannel }, 'channel ready');
    return support;
  }

  private async decodedBlock(channelId: string, number: number): Promise<common.Block> {
    const store = await this.deps.ledgerFactory.open(channelId);
    const stored = await store.getBlock(number);
    if (!stored) throw internal(`block ${number} of channel ${channelId} is missing from the ledger`);
    return common.Block.decode(stored.bytes);
  }

  /** Creates a channel from the CONFIG envelope carried by a system channel ORDERER_TRANSACTION. */
  private async createChannel(configEnvelope: ReceivedEnvelope): Promise<void> {
    const channelId = configEnvelope.channelHeader.channelId;
    if (this.chains.has(channelId)) {
      this.deps.logger.warn({ channel: channelId }, 'channel already exists; ignoring repeated creation');
      return;
    }
    const store = await this.deps.ledgerFactory.open(channelId);
    if (store.height() === 0) {
      await store.append({ number: 0, bytes: marshalBlock(channelGenesisBlock(configEnvelope)) });
    }
    const support = await this.openChannel(channelId);
    support.chain.start();
    this.reportChannelInfo(channelId);
    this.deps.logger.info({ channel: channelId }, 'created channel through the system channel');
  }

  /** Fabric's SystemChannelFilter: channel count limit and a config that builds. */
  private async validateChannelCreation(ordererTransaction: ReceivedEnvelope): Promise<void> {
    const system = this.systemChannel();
    if (!system) throw internal('no system channel to create channels with');
    const maxChannels = system.sharedConfig().maxChannels;
    if (maxChannels > 0 && this.chains.size > maxChannels) {
      throw forbidden(
        `channel creation would exceed maximum channel count of ${maxChannels} (ChannelRestrictions.MaxCount of the system channel)`,
      );
    }
    const inner = decodeEnvelope(ordererTransaction.data);
    const channelId = inner.channelHeader.channelId;
    if (this.chains.has(channelId)) throw badRequest(`channel ${channelId} already exists`);
    const configEnvelope = common.ConfigEnvelope.decode(inner.data);
    const bundle = this.deps.resources.createBundle(channelId, configEnvelope.config ?? {});
    if (!bundle.orderer) throw badRequest(`the config of new channel ${channelId} has no Orderer group`);
    try {
      system.channelConsenter?.validateConsensusMetadata(system.bundle(), bundle, true);
    } catch (err) {
      throw badRequest(
        `consensus metadata of new channel ${channelId} is invalid: ${errorMessage(err)}`,
        {},
        { cause: err },
      );
    }
  }

  /**
   * Channel participation: joins a channel from its genesis (or a later config) block. Refused
   * while a system channel exists or when the channel is already here. A join that fails half-way
   * removes what it created, so a retry starts clean.
   */
  async joinChannel(blockBytes: Buffer): Promise<ChannelInfo> {
    if (this.systemChannelId) {
      throw new OrdererError(
        'system-channel-exists',
        `cannot join: the system channel ${this.systemChannelId} exists; remove it first (channel participation and a system channel cannot be used together)`,
      );
    }
    let block: common.Block;
    try {
      block = common.Block.decode(blockBytes);
    } catch (err) {
      throw badRequest(`config-block is not a valid common.Block: ${errorMessage(err)}`);
    }
    let channelId: string;
    let bundle: ChannelConfigBundle;
    try {
      const { channelId: id, configEnvelope } = readConfigBlock(block);
      channelId = id;
      bundle = this.deps.resources.createBundle(channelId, configEnvelope.config ?? {});
    } catch (err) {
      throw badRequest(`invalid join block: ${errorMessage(err)}`);
    }
    if (this.chains.has(channelId) || this.joining.has(channelId)) {
      throw new OrdererError(
        'channel-exists',
        `cannot join: channel ${channelId} already exists on this orderer`,
      );
    }
    if (bundle.consortiums) {
      throw badRequest(
        `invalid join block: channel ${channelId} is a system channel (it has a Consortiums group); join application channels only`,
      );
    }
    const number = toNumber(block.header?.number);
    const consensusType = bundle.orderer?.consensusType ?? '';
    const registration = this.deps.consenters.get(consensusType);
    if (!registration) {
      throw badRequest(
        `cannot join channel ${channelId}: consensus type '${consensusType}' is not available on this orderer (available: ${[...this.deps.consenters.keys()].join(', ')})`,
      );
    }
    if (number !== 0 && !registration.consenter.onboarding) {
      throw badRequest(
        `joining channel ${channelId} at block ${number} needs its blocks pulled from other orderers, which this orderer does not do for ${consensusType} channels: join with the genesis block`,
      );
    }
    // Fabric's joinAsMember / joinAsFollower: a non-member's chain (made by the consenter) follows.
    const member = registration.consenter.isChannelMember(block, bundle);
    this.joining.add(channelId);
    try {
      const store = await this.deps.ledgerFactory.open(channelId);
      let join: ChannelJoin | undefined;
      if (number === 0) {
        // Stored as received; the ledger refuses a non-canonical encoding, which peers would refuse too.
        if (store.height() === 0) await store.append({ number: 0, bytes: blockBytes });
      } else {
        // Fabric's joinAsFollower past genesis: the join block is kept until the ledger reaches it,
        // so that a restart resumes onboarding.
        join = { number, headerHash: blockHeaderHash(block.header!), bundle };
        await this.deps.ledgerFactory.saveJoinBlock(channelId, blockBytes);
        await this.pullGenesisBlock(channelId, join);
      }
      const support = await this.openChannel(channelId, join);
      support.chain.start();
      this.reportChannelInfo(channelId);
      this.deps.logger.info({ channel: channelId, consensusType, member }, 'joined channel');
      return this.channelInfo(channelId)!;
    } catch (err) {
      this.deps.logger.error(
        { channel: channelId, err: errorMessage(err) },
        'join failed; removing what it created',
      );
      await this.dropChannel(channelId).catch(() => {});
      throw err;
    } finally {
      this.joining.delete(channelId);
    }
  }

  /** Channel participation: stops a channel and deletes its ledger and consenter state. */
  async removeChannel(channelId: string): Promise<void> {
    if (!this.chains.has(channelId))
      throw new OrdererError('channel-not-found', `channel ${channelId} does not exist on this orderer`);
    if (this.systemChannelId && this.systemChannelId !== channelId) {
      // Fabric 2.5: with a system channel, its application channels follow it; remove the system
      // channel first.
      throw new OrdererError(
        'system-channel-exists',
        `cannot remove channel ${channelId} while the system channel ${this.systemChannelId} exists: remove the system channel first`,
      );
    }
    await this.dropChannel(channelId);
    if (this.systemChannelId === channelId) this.systemChannelId = undefined;
    this.deps.logger.info({ channel: channelId }, 'removed channel');
  }

  private async dropChannel(channelId: string): Promise<void> {
    const support = this.chains.get(channelId);
    this.chains.delete(channelId);
    this.reportChannelInfo(channelId);
    if (support) {
      await support.chain.halt().catch(() => {});
      await support.flushed().catch(() => {});
    }
    // Every consenter, not only the channel's current one: a channel that migrated from solo to
    // etcdraft may still have solo state on disk.
    for (const { consenter } of this.deps.consenters.values()) await consenter.removeChannel(channelId);
    if (this.deps.ledgerFactory.channelIds().includes(channelId))
      await this.deps.ledgerFactory.remove(channelId);
  }

  channelInfo(channelId: string): ChannelInfo | undefined {
    const support = this.chains.get(channelId);
    if (!support) return undefined;
    const { consensusRelation, status } = support.chain.statusReport();
    return { name: channelId, consensusRelation, status, height: support.height() };
  }

  getChain(channelId: string): ChainSupport | undefined {
    return this.chains.get(channelId);
  }

  systemChannel(): ChainSupport | undefined {
    return this.systemChannelId ? this.chains.get(this.systemChannelId) : undefined;
  }

  systemChannelName(): string | undefined {
    return this.systemChannelId;
  }

  channelIds(): string[] {
    return [...this.chains.keys()].sort();
  }

  /** Fabric's BroadcastChannelSupport: which chain handles the message, and whether it is a config update. */
  broadcastChannelSupport(env: ReceivedEnvelope): BroadcastTarget {
    const channelHeader = env.channelHeader;
    let chain = this.chains.get(channelHeader.channelId);
    if (!chain) {
      const system = this.systemChannel();
      if (!system) {
        throw badRequest(
          `channel creation request not allowed because the orderer system channel is not defined; channel '${channelHeader.channelId}' does not exist on this orderer: join it through the channel participation API first`,
        );
      }
      chain = system;
    }
    const kind = chain.processor.classify(channelHeader);
    if (kind === 'config') {
      throw badRequest(
        `message of type ${channelHeader.type === HeaderType.CONFIG ? 'CONFIG' : 'ORDERER_TRANSACTION'} cannot be processed directly: send a CONFIG_UPDATE instead`,
      );
    }
    return { channelHeader, isConfig: kind === 'config-update', channel: chain };
  }

  async halt(): Promise<void> {
    await Promise.all(
      [...this.chains.values()].map(async (c) => {
        await c.chain.halt();
        await c.flushed().catch(() => {});
      }),
    );
  }

  /** Current bundles, for components that follow config changes (deliver, operations). */
  bundleOf(channelId: string): ChannelConfigBundle | undefined {
    return this.chains.get(channelId)?.bundle();
  }
}

/** The consensus types a channel may migrate to here: Fabric's permitted targets that run here. */
export function migrationTargetsFor(consensusTypes: Iterable<string>): ReadonlySet<string> {
  const available = new Set(consensusTypes);
  return new Set([...FABRIC_MIGRATION_TARGETS].filter((type) => available.has(type)));
}

export function channelIdOfConfigBlock(block: common.IBlock): string {
  const data = block.data?.data ?? [];
  if (data.length === 0) throw badRequest('genesis block has no data');
  return decodeEnvelope(asBuffer(data[0])).channelHeader.channelId;
}
