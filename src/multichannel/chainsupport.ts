// One channel's resources: its ledger, current config bundle, message processor, block writer and
// chain (Fabric's multichannel/chainsupport.go). It is the ConsenterSupport handed to consenters.
import { asBuffer, common, toNumber } from '../protos/index.js';
import { badRequest, errorMessage, internal, unavailable } from '../errors.js';
import { configEnvelopeFromBlock, isConfigBlock, marshalConfig } from '../channelconfig/index.js';
import { decodeEnvelope, HeaderType } from '../protoutil/envelope.js';
import { BlockWriter } from './blockwriter.js';
import { ChainedBlockCreator } from './blockcreator.js';
import { verifyBlock } from '../protoutil/verify.js';
import { consenterMetadataOf } from '../protoutil/block.js';
import {
  StandardChannelProcessor,
  SystemChannelProcessor,
  type CertificateExpiryCache,
  type MessageProcessor,
} from '../msgprocessor/index.js';
import type {
  BlockCreator,
  Chain,
  ChannelJoin,
  Consenter,
  ConsenterSupport,
  ReceivedEnvelope,
  BlockCutterLike,
} from '../consensus/types.js';
import type { ChannelConfigBundle, OrdererConfig } from '../channelconfig/types.js';
import type { BlockStore } from '../ledger/types.js';
import type { SigningIdentity } from '../msp/types.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logging.js';

/** What a channel needs from the channel-config layer (bundles, update validation, creation). */
export interface ChannelResources {
  /** Builds and validates a bundle; throws bad-request naming what is wrong with the config. */
  createBundle(channelId: string, config: common.IConfig): ChannelConfigBundle;
  /** Validates a CONFIG_UPDATE against the current bundle; returns the resulting ConfigEnvelope. */
  proposeConfigUpdate(
    current: ChannelConfigBundle,
    update: ReceivedEnvelope,
  ): Promise<common.IConfigEnvelope>;
  /** System channel: the ConfigEnvelope of a new channel from a creation CONFIG_UPDATE. */
  newChannelConfig(
    systemBundle: ChannelConfigBundle,
    update: ReceivedEnvelope,
  ): Promise<common.IConfigEnvelope>;
}

export interface ChainSupportOptions {
  channelId: string;
  isSystemChannel: boolean;
  noExpirationChecks: boolean;
  /**
   * Consensus types this orderer can run a channel on after a consensus-type migration (Fabric
   * permits etcdraft only); absent: every migration is refused by the maintenance filter.
   */
  migrationTargets?: ReadonlySet<string>;
}

export interface ChainSupportDeps {
  store: BlockStore;
  signer: SigningIdentity;
  clock: Clock;
  /** The channel's own log (config applied, ...). */
  logger: Logger;
  /** What the consenter logs through (ConsenterSupport.logger); default: logger. */
  consenterLogger?: Logger;
  bundle: ChannelConfigBundle;
  lastBlock: common.IBlock;
  lastConfigBlockNumber: number;
  resources: ChannelResources;
  expiry: CertificateExpiryCache;
  createBlockCutter: (batchSize: () => OrdererConfig['batchSize']) => BlockCutterLike;
  /** System channel: creates the channel carried by an ORDERER_TRANSACTION's inner CONFIG envelope. */
  createChannel?: (configEnvelope: ReceivedEnvelope) => Promise<void>;
  /** System channel: validates a channel creation before it is ordered (limits, resulting config). */
  validateChannelCreation?: (ordererTransaction: ReceivedEnvelope) => Promise<void>;
  onBlockCommitted?: (channelId: string, block: common.IBlock, bytes: Buffer) => void;
  onConfigApplied?: (bundle: ChannelConfigBundle) => void;
  /** Told when replaceChain gave the channel a new chain (its participation info changed). */
  onChainReplaced?: () => void;
}

export class ChainSupport implements ConsenterSupport {
  readonly channelId: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly signer: SigningIdentity;
  readonly blockCutter: BlockCutterLike;
  readonly processor: MessageProcessor;
  readonly store: BlockStore;
  readonly isSystemChannel: boolean;
  private currentBundle: ChannelConfigBundle;
  private readonly writer: BlockWriter;
  private chainInstance: Chain | undefined;
  private attachedConsenter: Consenter | undefined;
  /** The consensus type of the config the running chain was made for. */
  private attachedConsensusType: string | undefined;

  constructor(
    options: ChainSupportOptions,
    private readonly deps: ChainSupportDeps,
  ) {
    this.channelId = options.channelId;
    this.isSystemChannel = options.isSystemChannel;
    this.clock = deps.clock;
    this.logger = deps.consenterLogger ?? deps.logger;
    this.signer = deps.signer;
    this.store = deps.store;
    this.currentBundle = deps.bundle;
    this.blockCutter = deps.createBlockCutter(() => this.sharedConfig().batchSize);
    this.writer = new BlockWriter(
      { lastBlock: deps.lastBlock, lastConfigBlockNumber: deps.lastConfigBlockNumber },
      {
        store: deps.store,
        signer: deps.signer,
        logger: deps.logger,
        onCommitted: (block, bytes) => deps.onBlockCommitted?.(this.channelId, block, bytes),
      },
    );
    const processorDeps = {
      bundle: () => this.currentBundle,
      signer: deps.signer,
      clock: deps.clock,
      expiry: deps.expiry,
      proposeConfigUpdate: (update: ReceivedEnvelope) => this.proposeConfigUpdate(update),
      createBundle: (channelId: string, config: common.IConfig) =>
        deps.resources.createBundle(channelId, config),
      logger: deps.logger,
    };
    const processorOptions = {
      noExpirationChecks: options.noExpirationChecks,
      ...(options.migrationTargets ? { migrationTargets: options.migrationTargets } : {}),
    };
    this.processor = options.isSystemChannel
      ? new SystemChannelProcessor(processorOptions, {
          ...processorDeps,
          newChannelConfig: (update) => deps.resources.newChannelConfig(this.currentBundle, update),
          validateChannelCreation: deps.validateChannelCreation ?? (async () => {}),
        })
      : new StandardChannelProcessor(processorOptions, processorDeps);
  }

  /** Creates the chain with the consenter named by the channel config; call start() after. */
  attachConsenter(consenter: Consenter, metadata: Buffer | undefined, join?: ChannelJoin): Chain {
    this.attachedConsenter = consenter;
    this.attachedConsensusType = this.currentBundle.orderer?.consensusType;
    this.chainInstance = consenter.handleChain(this, metadata, join);
    return this.chainInstance;
  }

  replaceChain(): void {
    const consenter = this.attachedConsenter;
    if (!consenter) throw internal(`channel ${this.channelId} has no consenter to make a new chain`);
    const chain = consenter.handleChain(this, consenterMetadataOf(this.writer.lastHandedOver));
    this.chainInstance = chain;
    chain.start();
    this.deps.onChainReplaced?.();
  }

  /**
   * Fabric's ChainSupport.ProposeConfigUpdate: the update must apply to the current config, give
   * a valid config, and change the consensus metadata only as the channel's consenter allows.
   */
  private async proposeConfigUpdate(update: ReceivedEnvelope): Promise<common.IConfigEnvelope> {
    const current = this.currentBundle;
    this.ensureNotAwaitingRestart(current);
    const result = await this.deps.resources.proposeConfigUpdate(current, update);
    if (this.attachedConsenter && current.orderer) {
      const next = this.deps.resources.createBundle(this.channelId, result.config ?? {});
      if (!next.orderer) throw badRequest('new config is missing orderer group');
      try {
        this.attachedConsenter.validateConsensusMetadata(current, next, false);
      } catch (err) {
        throw badRequest(
          `consensus metadata update for channel config update is invalid: ${errorMessage(err)}`,
          {},
          { cause: err },
        );
      }
    }
    return result;
  }

  /**
   * After the config block of a consensus-type migration the chain still runs the old consenter
   * until the orderer restarts. Fabric orders further config updates then and calls the outcome
   * undefined (the new consenter would start on a block the old one wrote); they are refused here.
   */
  private ensureNotAwaitingRestart(current: ChannelConfigBundle): void {
    const configured = current.orderer?.consensusType;
    const running = this.attachedConsensusType;
    if (running === undefined || configured === undefined || configured === running) return;
    throw unavailable(
      `channel ${this.channelId} changed its consensus type from ${running} to ${configured} (config block ${this.lastConfigBlockNumber()}) ` +
        `and still runs ${running} until this orderer restarts: restart every orderer of the channel, wait for the ${configured} chain to elect a leader, ` +
        'then send the update (for a migration, leave maintenance mode only after the restart)',
      { channel: this.channelId, running, configured },
    );
  }

  /** The consenter of this channel (validates consensus metadata of channels it creates). */
  get channelConsenter(): Consenter | undefined {
    return this.attachedConsenter;
  }

  get chain(): Chain {
    if (!this.chainInstance) throw unavailable(`channel ${this.channelId} has no running consenter`);
    return this.chainInstance;
  }

  bundle(): ChannelConfigBundle {
    return this.currentBundle;
  }

  sharedConfig(): OrdererConfig {
    const orderer = this.currentBundle.orderer;
    if (!orderer) throw badRequest(`channel ${this.channelId} has no Orderer config group`);
    return orderer;
  }

  sequence(): number {
    return this.currentBundle.sequence;
  }

  height(): number {
    return this.deps.store.height();
  }

  processNormalMsg(env: ReceivedEnvelope): Promise<number> {
    return this.processor.processNormalMsg(env);
  }

  processConfigMsg(env: ReceivedEnvelope): Promise<{ config: ReceivedEnvelope; configSeq: number }> {
    return this.processor.processConfigMsg(env);
  }

  /** Broadcast: validates a CONFIG_UPDATE and wraps the result in an orderer-signed CONFIG envelope. */
  processConfigUpdateMsg(env: ReceivedEnvelope): Promise<{ config: ReceivedEnvelope; configSeq: number }> {
    return this.processor.processConfigUpdateMsg(env);
  }

  createNextBlock(messages: readonly ReceivedEnvelope[]): common.Block {
    return this.writer.createNextBlock(messages);
  }

  newBlockCreator(): BlockCreator {
    return new ChainedBlockCreator(this.writer.lastHandedOver);
  }

  async block(number: number): Promise<common.Block | undefined> {
    if (!Number.isSafeInteger(number) || number < 0) return undefined;
    const stored = await this.deps.store.getBlock(number);
    return stored ? common.Block.decode(stored.bytes) : undefined;
  }

  writeBlock(block: common.Block, consenterMetadata?: Buffer): Promise<void> {
    return this.writer.writeBlock(block, consenterMetadata);
  }

  async appendVerified(blockBytes: Buffer): Promise<void> {
    let block: common.Block;
    try {
      block = common.Block.decode(blockBytes);
    } catch (err) {
      throw badRequest(
        `cannot append to channel ${this.channelId}: not a common.Block: ${errorMessage(err)}`,
      );
    }
    const previous = this.writer.lastHandedOver;
    const number = toNumber(block.header?.number);
    const expected = toNumber(previous.header?.number) + 1;
    if (number !== expected) {
      throw badRequest(
        `cannot append block ${number} to channel ${this.channelId}: the next block is ${expected}`,
      );
    }
    await verifyBlock(block, { previous, policyManager: this.currentBundle.policyManager });
    if (!isConfigBlock(block)) return this.writer.appendReceived(block, blockBytes, false);
    const configEnvelope = configEnvelopeFromBlock(block);
    const sequence = toNumber(configEnvelope.config?.sequence);
    if (sequence <= this.currentBundle.sequence) {
      throw badRequest(
        `cannot append config block ${number} to channel ${this.channelId}: it carries config sequence ${sequence}, not above the current ${this.currentBundle.sequence}`,
      );
    }
    const bundle = this.deps.resources.createBundle(this.channelId, configEnvelope.config ?? {});
    await this.writer.appendReceived(block, blockBytes, true);
    this.currentBundle = bundle;
    this.deps.onConfigApplied?.(bundle);
    this.deps.logger.info(
      { block: number, sequence: bundle.sequence },
      'applied channel configuration of a received block',
    );
  }

  async writeConfigBlock(block: common.Block, consenterMetadata?: Buffer): Promise<void> {
    const data = block.data?.data ?? [];
    if (data.length !== 1)
      throw badRequest(`a config block must hold exactly one envelope, got ${data.length}`);
    const env = decodeEnvelope(Buffer.from(data[0]!.buffer, data[0]!.byteOffset, data[0]!.byteLength));
    switch (env.channelHeader.type) {
      case HeaderType.ORDERER_TRANSACTION: {
        if (!this.deps.createChannel) throw badRequest(`channel ${this.channelId} is not a system channel`);
        await this.deps.createChannel(decodeEnvelope(env.data));
        // As in Fabric, only CONFIG blocks become the channel's last config; a channel creation
        // recorded on the system channel does not.
        return this.writer.writeBlock(block, consenterMetadata);
      }
      case HeaderType.CONFIG: {
        const configEnvelope = common.ConfigEnvelope.decode(env.data);
        await this.validateConfigEnvelope(configEnvelope, Number(block.header!.number));
        const bundle = this.deps.resources.createBundle(this.channelId, configEnvelope.config ?? {});
        const previous = this.currentBundle;
        const fromType = previous.orderer?.consensusType;
        const toType = bundle.orderer?.consensusType;
        // Fabric's WriteConfigBlock: the block that changes the consensus type (in maintenance
        // mode) carries no consenter metadata, so the consenter that runs the channel after the
        // restart sees where the old consenter's history ends (etcdraft starts a new Raft group).
        const migrating = fromType !== undefined && toType !== undefined && fromType !== toType;
        if (migrating)
          this.deps.logger.info(
            { block: Number(block.header!.number), from: fromType, to: toType },
            'consensus-type migration: the config block changing the consensus type is written without consenter metadata; restart the orderer to run the channel as ' +
              toType,
          );
        this.currentBundle = bundle;
        this.deps.onConfigApplied?.(bundle);
        try {
          await this.writer.writeConfigBlock(block, migrating ? undefined : consenterMetadata);
        } catch (err) {
          // The block is not in the ledger (a full disk, say): the channel keeps its config, so a
          // retry of the same config block validates against the same sequence again.
          this.currentBundle = previous;
          this.deps.onConfigApplied?.(previous);
          throw err;
        }
        this.deps.logger.info(
          { block: Number(block.header!.number), sequence: bundle.sequence },
          'applied new channel configuration',
        );
        return;
      }
      default:
        throw badRequest(
          `config block holds an envelope of type ${env.channelHeader.type}, not CONFIG or ORDERER_TRANSACTION`,
        );
    }
  }

  /**
   * Fabric's configtx Validator.Validate, run before a config block is written: the config must be
   * the next sequence and exactly what its last_update produces from the current config, so that a
   * consenter can never install a config that no authorized update asked for.
   */
  private async validateConfigEnvelope(
    configEnvelope: common.ConfigEnvelope,
    blockNumber: number,
  ): Promise<void> {
    const current = this.currentBundle;
    const sequence = toNumber(configEnvelope.config?.sequence);
    if (sequence !== current.sequence + 1) {
      throw internal(
        `config block ${blockNumber} of channel ${this.channelId} carries config sequence ${sequence}, but the channel is at sequence ${current.sequence}: only sequence ${current.sequence + 1} can follow; the consenter ordered a stale config`,
      );
    }
    if (!configEnvelope.lastUpdate) {
      throw internal(
        `config block ${blockNumber} of channel ${this.channelId} has no last_update: a config can only change through a config update`,
      );
    }
    const update = decodeEnvelope(asBuffer(common.Envelope.encode(configEnvelope.lastUpdate).finish()));
    let expected: common.IConfigEnvelope;
    try {
      expected = await this.deps.resources.proposeConfigUpdate(current, update);
    } catch (err) {
      throw internal(
        `config block ${blockNumber} of channel ${this.channelId}: its last_update does not apply to the current config: ${errorMessage(err)}`,
        {},
        { cause: err },
      );
    }
    if (!marshalConfig(expected.config ?? {}).equals(marshalConfig(configEnvelope.config ?? {}))) {
      throw internal(
        `config block ${blockNumber} of channel ${this.channelId}: ConfigEnvelope last_update did not produce the supplied config result`,
      );
    }
  }

  lastConfigBlockNumber(): number {
    return this.writer.lastConfigNumber;
  }

  /** Resolves when every block handed to the writer is durable. */
  flushed(): Promise<void> {
    return this.writer.flushed();
  }
}
