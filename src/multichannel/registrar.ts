// The registrar owns every channel of this orderer (Fabric's multichannel/registrar.go): it
// bootstraps from a genesis block or from the ledgers on disk, finds the channel a message is for,
// and creates channels (system channel transactions now, channel participation later).
import { common } from '../protos/index.js';
import { asBuffer } from '../protos/index.js';
import { badRequest, forbidden, internal } from '../errors.js';
import { consenterMetadataOf, lastConfigIndexOf, marshalBlock } from '../protoutil/block.js';
import { decodeEnvelope, HeaderType } from '../protoutil/envelope.js';
import { ChainSupport, type ChannelResources } from './chainsupport.js';
import { channelGenesisBlock } from './blockwriter.js';
import { CertificateExpiryCache } from '../msgprocessor/index.js';
import { configEnvelopeFromBlock } from '../channelconfig/index.js';
import type { Consenter, ReceivedEnvelope, BlockCutterLike } from '../consensus/types.js';
import type { ChannelConfigBundle, OrdererConfig } from '../channelconfig/types.js';
import type { LedgerFactory } from '../ledger/types.js';
import type { SigningIdentity } from '../msp/types.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logging.js';

export interface RegistrarOptions {
  noExpirationChecks: boolean;
}

export interface RegistrarDeps {
  ledgerFactory: LedgerFactory;
  signer: SigningIdentity;
  clock: Clock;
  logger: Logger;
  resources: ChannelResources;
  consenters: ReadonlyMap<string, Consenter>;
  createBlockCutter: (batchSize: () => OrdererConfig['batchSize']) => BlockCutterLike;
  onBlockCommitted?: (channelId: string, block: common.IBlock, bytes: Buffer) => void;
}

export interface BroadcastTarget {
  channelHeader: common.ChannelHeader;
  isConfig: boolean;
  chain: ChainSupport;
}

export class Registrar {
  private readonly chains = new Map<string, ChainSupport>();
  private systemChannelId: string | undefined;
  private readonly expiry = new CertificateExpiryCache();

  constructor(
    private readonly options: RegistrarOptions,
    private readonly deps: RegistrarDeps,
  ) {}

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
      await this.openChannel(channelId);
    }
    for (const chain of this.chains.values()) chain.chain.start();
  }

  private async openChannel(channelId: string): Promise<ChainSupport> {
    const store = await this.deps.ledgerFactory.open(channelId);
    const height = store.height();
    if (height === 0) throw internal(`ledger of channel ${channelId} is empty: it has no genesis block`);
    const lastBlock = await this.decodedBlock(channelId, height - 1);
    const lastConfigNumber = lastConfigIndexOf(lastBlock);
    const configBlock = lastConfigNumber === height - 1 ? lastBlock : await this.decodedBlock(channelId, lastConfigNumber);
    const configEnvelope = configEnvelopeFromBlock(configBlock);
    const bundle = this.deps.resources.createBundle(channelId, configEnvelope.config ?? {});
    const isSystemChannel = bundle.consortiums !== undefined;
    if (isSystemChannel) {
      if (this.systemChannelId && this.systemChannelId !== channelId) {
        throw internal(`found two system channels: ${this.systemChannelId} and ${channelId}; an orderer has at most one`);
      }
      this.systemChannelId = channelId;
    }
    const logger = this.deps.logger.child({ channel: channelId });
    const support = new ChainSupport(
      { channelId, isSystemChannel, noExpirationChecks: this.options.noExpirationChecks },
      {
        store,
        signer: this.deps.signer,
        clock: this.deps.clock,
        logger,
        bundle,
        lastBlock,
        lastConfigBlockNumber: lastConfigNumber,
        resources: this.deps.resources,
        expiry: this.expiry,
        createBlockCutter: this.deps.createBlockCutter,
        ...(isSystemChannel
          ? {
              createChannel: (configEnvelope: ReceivedEnvelope) => this.createChannel(configEnvelope),
              validateChannelCreation: (tx: ReceivedEnvelope) => this.validateChannelCreation(tx),
            }
          : {}),
        ...(this.deps.onBlockCommitted ? { onBlockCommitted: this.deps.onBlockCommitted } : {}),
      },
    );
    const consensusType = support.sharedConfig().consensusType;
    const consenter = this.deps.consenters.get(consensusType);
    if (!consenter) {
      throw badRequest(
        `channel ${channelId} uses consensus type '${consensusType}', which this orderer does not run (available: ${[...this.deps.consenters.keys()].join(', ')})`,
      );
    }
    support.attachConsenter(consenter, consenterMetadataOf(lastBlock));
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
    this.deps.resources.createBundle(channelId, configEnvelope.config ?? {});
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
    return { channelHeader, isConfig: kind === 'config-update', chain };
  }

  async halt(): Promise<void> {
    await Promise.all([...this.chains.values()].map(async (c) => {
      await c.chain.halt();
      await c.flushed().catch(() => {});
    }));
  }

  /** Current bundles, for components that follow config changes (deliver, operations). */
  bundleOf(channelId: string): ChannelConfigBundle | undefined {
    return this.chains.get(channelId)?.bundle();
  }
}

export function channelIdOfConfigBlock(block: common.IBlock): string {
  const data = block.data?.data ?? [];
  if (data.length === 0) throw badRequest('genesis block has no data');
  return decodeEnvelope(asBuffer(data[0])).channelHeader.channelId;
}
