// Fabric's etcdraft consenter (orderer/consensus/etcdraft/consenter.go): one EtcdraftChain per
// channel this node is a consenter of. It finds its own Raft ID by the public key of its cluster
// server certificate among the channel's consenters (detectSelfID), restores the etcdraft
// BlockMetadata from the last block, and registers the chain with the cluster service so that
// orderer.Cluster/Step messages for the channel reach it from authenticated consenters only.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { OrdererError, badRequest, errorMessage } from '../../errors.js';
import { etcdraftConfigOf, type EtcdraftConfig } from '../../channelconfig/etcdraft.js';
import type { ChannelConfigBundle } from '../../channelconfig/types.js';
import { MemberMapping, publicKeyOf, type ClusterMember } from '../../cluster/members.js';
import type { ClusterClient } from '../../cluster/comm.js';
import type { ClusterChannel } from '../../cluster/service.js';
import type { Logger } from '../../logging.js';
import type { Clock } from '../../clock.js';
import { X509Certificate } from 'node:crypto';
import type { common } from '../../protos/index.js';
import { blockHeaderHash, consenterMetadataOf } from '../../protoutil/block.js';
import { isValidChannelId } from '../../ledger/channelid.js';
import type { ChannelBlockPuller, ChannelJoin, Consenter, ConsenterSupport } from '../types.js';
import { FollowerChain } from '../follower/index.js';
import { EtcdraftChain, type EtcdraftChainDependencies } from './chain.js';
import type { EtcdraftChainObserver } from './observer.js';
import { ClusterChainTransport } from './chain-transport.js';
import { clusterMembers, readBlockMetadata } from './metadata.js';
import { computeMembershipChange, consentersOfConfigBlock, unacceptableQuorumLoss } from './membership.js';
import type { RandomIntn } from './raft/index.js';

export type { ChannelBlockPuller } from '../types.js';

/** The channel a block puller pulls for: its config names the orderers and their TLS CAs. */
export interface PulledChannel {
  readonly channelId: string;
  readonly logger: Logger;
  bundle(): ChannelConfigBundle;
}

// Fabric's follower chain retries a failed pull after 50 ms, doubling up to a minute.
const FOLLOWER_RETRY_MIN_MS = 50;
const FOLLOWER_RETRY_MAX_MS = 60_000;

export interface EtcdraftConsenterOptions {
  /** Consensus.WALDir: a channel's Raft log is kept in <walDir>/<channel>. */
  readonly walDir: string;
  /** Consensus.SnapDir: a channel's snapshots are kept in <snapDir>/<channel>. */
  readonly snapDir: string;
  /** Consensus.TickIntervalOverride: replaces the channel's TickInterval on this node only. */
  readonly tickIntervalOverrideMs?: number | undefined;
  /** Consensus.EvictionSuspicion: leaderless this long, a chain checks whether it was evicted. */
  readonly evictionSuspicionMs?: number | undefined;
  /** Consensus.IdleCutAfter: see EtcdraftChainOptions.idleCutAfterMs (0 or absent: off). */
  readonly idleCutAfterMs?: number | undefined;
}

export interface EtcdraftConsenterDependencies {
  /**
   * The certificate this node's cluster listener presents (General.Cluster.ServerCertificate, or
   * General.TLS.Certificate when the cluster shares the general listener): its public key is how
   * this node recognises itself among a channel's consenters. Undefined when this orderer has no
   * TLS identity for the cluster: then etcdraft channels are refused, saying what to configure.
   */
  readonly serverCertificatePem: Buffer | undefined;
  readonly client: Pick<ClusterClient, 'sendConsensus' | 'sendSubmit' | 'disconnect'>;
  readonly logger: Logger;
  /** Checks that added consenters' certificates have not expired. */
  readonly clock: Clock;
  /**
   * A block puller for a channel (Fabric's BlockPuller over Deliver from the channel's orderers):
   * how a chain catches up to a Raft snapshot ahead of its ledger. Without it such a chain halts.
   */
  readonly pullerFor?: (channel: PulledChannel) => ChannelBlockPuller;
  /** Election-timeout randomness; tests inject a seeded one. */
  readonly random?: RandomIntn;
  /** Opens a channel's WAL (tests may wrap it); RaftWal.open by default. */
  readonly openWal?: EtcdraftChainDependencies['openWal'];
  /** The observer of a channel's chain (its consensus_etcdraft_* metrics); none by default. */
  readonly chainObserver?: (channelId: string) => EtcdraftChainObserver;
}

/** A channel whose chain runs but knows of no Raft leader, and why. */
export interface LeaderlessChannel {
  readonly channel: string;
  readonly reason: string;
}

interface ChannelEntry extends ClusterChannel {
  readonly chain: EtcdraftChain;
  members: MemberMapping;
}

export class EtcdraftConsenter implements Consenter {
  private readonly channels = new Map<string, ChannelEntry>();
  private readonly ownKey: string | undefined;

  /** Channels can be joined past their genesis block only with a block puller. */
  readonly onboarding: Consenter['onboarding'];

  constructor(
    private readonly options: EtcdraftConsenterOptions,
    private readonly deps: EtcdraftConsenterDependencies,
  ) {
    this.ownKey = deps.serverCertificatePem ? publicKeyOf(deps.serverCertificatePem) : undefined;
    const pullerFor = deps.pullerFor;
    this.onboarding = pullerFor ? { pullerFor: (channel) => pullerFor(channel) } : undefined;
  }

  /** Where the cluster service sends Step messages for a channel; undefined when it has no chain here. */
  clusterChannel(channelId: string): ClusterChannel | undefined {
    return this.channels.get(channelId);
  }

  /**
   * The cluster client could not deliver to consenter `to` of a channel (its onUnreachable): the
   * chain reports it to Raft and names it while there is no leader.
   */
  reportUnreachable(channelId: string, to: number, reason: string): void {
    this.channels.get(channelId)?.chain.reportUnreachable(to, reason);
  }

  /** The channels whose running chain has no leader, with the reason each gives (for /healthz). */
  leaderlessChannels(): LeaderlessChannel[] {
    const leaderless: LeaderlessChannel[] = [];
    for (const [channel, { chain }] of this.channels) {
      if (chain.raftNode === undefined || chain.leader !== 0) continue;
      leaderless.push({ channel, reason: chain.errored()?.message ?? 'no Raft leader' });
    }
    return leaderless.sort((a, b) => a.channel.localeCompare(b.channel));
  }

  /** The running chain of a channel (status, metrics and tests read it). */
  chainOf(channelId: string): EtcdraftChain | undefined {
    return this.channels.get(channelId)?.chain;
  }

  /**
   * Fabric's IsChannelMember: the channel's config is a valid etcdraft config and one of its
   * consenters has this node's server certificate (by public key).
   */
  isChannelMember(_configBlock: common.IBlock, bundle: ChannelConfigBundle): boolean {
    this.requireIdentity(bundle.channelId);
    const config = this.configOf(bundle, bundle.channelId);
    return config.consenters.some((consenter) => this.isOwnCertificate(consenter.serverTlsCert));
  }

  /**
   * Fabric's consenter/chain ValidateConsensusMetadata: the new metadata must be a valid etcdraft
   * config (options and consenter certificates against the new config's orderer orgs' TLS CAs);
   * for an existing channel, at most one consenter added and one removed (a rotation), added
   * certificates unexpired, and no change that leaves fewer active nodes than a quorum.
   */
  validateConsensusMetadata(
    oldBundle: ChannelConfigBundle,
    newBundle: ChannelConfigBundle,
    newChannel: boolean,
  ): void {
    const channelId = newBundle.channelId;
    const next = this.configOf(newBundle, channelId);
    if (newChannel || oldBundle.orderer?.consensusType !== 'etcdraft') return;
    const chain = this.channels.get(channelId)?.chain;
    const current = chain?.membership() ?? {
      consenters: this.configOf(oldBundle, channelId).consenters,
      metadata: readBlockMetadata(undefined, this.configOf(oldBundle, channelId).consenters),
    };
    const change = computeMembershipChange(current.metadata, current.consenters, next.consenters);
    if (change.added.length === 0 && change.removed.length === 0) return;
    const now = this.deps.clock.now();
    for (const consenter of change.added) {
      for (const [name, pem] of [
        ['client', consenter.clientTlsCert],
        ['server', consenter.serverTlsCert],
      ] as const) {
        const expiry = certificateExpiry(pem);
        if (expiry !== undefined && expiry <= now)
          throw badRequest(
            `the ${name} TLS certificate of the added consenter ${consenter.host}:${consenter.port} expired at ` +
              `${new Date(expiry).toISOString()}; add it with a valid certificate`,
            { channel: channelId },
          );
      }
    }
    const active = chain?.activeNodeIds ?? [];
    if (unacceptableQuorumLoss(change, active))
      throw badRequest(
        `${active.length} out of ${change.metadata.consenterIds.length} nodes are alive, configuration will result in quorum loss; ` +
          'bring the missing consenters back (or wait until the leader has seen them) and retry',
        { channel: channelId, active: [...active] },
      );
  }

  handleChain(
    support: ConsenterSupport,
    metadata: Buffer | undefined,
    join?: ChannelJoin,
  ): EtcdraftChain | FollowerChain {
    const channelId = support.channelId;
    this.requireIdentity(channelId);
    // Fabric's joinAsFollower: the ledger is brought up to the join block first, member or not.
    if (join && support.height() <= join.number) return this.followerChain(support, join);
    const config = this.configOf(support.bundle(), channelId);
    // Fabric's isMigration: a channel with blocks whose last block carries no consenter metadata
    // ends with the config block of a consensus-type migration (written without metadata, see
    // ChainSupport.writeConfigBlock). Its Raft IDs are assigned 1..n in consenter order, as at
    // genesis, and every consenter bootstraps a new Raft group on that block instead of joining.
    const migration = !metadata?.length && support.height() > 1;
    const blockMetadata = readBlockMetadata(metadata, config.consenters);
    if (migration)
      support.logger.info(
        { channel: channelId, height: support.height(), consenterIds: blockMetadata.consenterIds },
        'consensus-type migration detected: starting a new Raft group on the existing channel',
      );
    const members = clusterMembers(blockMetadata, config.consenters);
    const self = members.find((member) => this.isOwnCertificate(member.serverTlsCert));
    if (!self) {
      if (this.deps.pullerFor) return this.followerChain(support, undefined);
      throw new OrdererError(
        'not-a-consenter',
        `this orderer is not a consenter of channel ${channelId}: none of its consenters has the ` +
          "public key of this node's cluster server certificate (General.Cluster.ServerCertificate, " +
          'or General.TLS.Certificate without a cluster listener), and it has no block puller to ' +
          'follow the channel with',
        { channel: channelId, consenters: members.map((m) => `${m.host}:${m.port}`) },
      );
    }
    const tickIntervalMs = this.options.tickIntervalOverrideMs ?? config.options.tickIntervalMs;
    if (this.options.tickIntervalOverrideMs !== undefined)
      support.logger.warn(
        { channel: channelId, tickIntervalMs, channelTickInterval: config.options.tickInterval },
        'Consensus.TickIntervalOverride replaces the channel tick interval on this node',
      );
    const previous = this.channels.get(channelId);
    if (previous) void previous.chain.halt().catch(() => {});
    const transport = new ClusterChainTransport(
      { channel: channelId, members: members.filter((member) => member.id !== self.id) },
      { client: this.deps.client },
    );
    const chain = new EtcdraftChain(
      {
        raftId: self.id,
        blockMetadata,
        consenters: config.consenters,
        raftOptions: { ...config.options, tickIntervalMs },
        walDir: this.options.walDir,
        snapDir: this.options.snapDir,
        // Fabric's isJoin: a node with no Raft state for a channel past its genesis block waits
        // for the leader instead of bootstrapping the log; after a migration (MigrationInit) every
        // consenter bootstraps it.
        join: support.height() > 1 && !migration,
        consenterEndpoints: new Map(members.map((m) => [m.id, `${m.host}:${m.port}`])),
        ...(this.options.evictionSuspicionMs !== undefined
          ? { evictionSuspicionMs: this.options.evictionSuspicionMs }
          : {}),
        idleCutAfterMs: this.options.idleCutAfterMs ?? 0,
      },
      {
        support,
        transport,
        ...(this.deps.random ? { random: this.deps.random } : {}),
        ...(this.deps.openWal ? { openWal: this.deps.openWal } : {}),
        ...(this.deps.pullerFor
          ? {
              pullBlocks: (from: number, to: number) => this.pull(support, from, to),
              lastConfigBlock: () => this.pullLastConfigBlock(support),
            }
          : {}),
        // Fabric's halt callback without a system channel: SwitchChainToFollower. The ledger's
        // last config no longer lists this node, so handleChain makes a follower chain.
        onEvicted: () => {
          if (!support.replaceChain)
            throw new OrdererError('internal', `channel ${channelId} cannot switch to a follower chain`);
          support.replaceChain();
        },
        ...(this.deps.chainObserver ? { observer: this.deps.chainObserver(channelId) } : {}),
        // Halting also takes the chain off the cluster service.
        onHalted: () => this.forget(channelId, chain),
        onMembershipChanged: (current) => {
          const entry = this.channels.get(channelId);
          if (entry?.chain !== chain) return;
          const kept = new Set(current.map((member) => member.id));
          for (const old of entry.members.members) {
            // Removed, or its certificate rotated: the streams of the old identity end.
            const now = current.find((member) => member.id === old.id);
            if (!kept.has(old.id) || !now?.serverTlsCert.equals(old.serverTlsCert))
              this.deps.client.disconnect(channelId, old.id);
          }
          entry.members = new MemberMapping(current);
          transport.setMembers(current.filter((member) => member.id !== self.id));
          this.deps.logger.info(
            { channel: channelId, consenters: current.map((m) => `${m.id}@${m.host}:${m.port}`) },
            'etcdraft consenter set changed',
          );
        },
      },
    );
    const entry: ChannelEntry = { chain, members: new MemberMapping(members), endpoint: chain.cluster };
    this.channels.set(channelId, entry);
    this.deps.logger.info(
      {
        channel: channelId,
        raftId: self.id,
        consenters: members.map((m) => `${m.id}@${m.host}:${m.port}`),
        tickIntervalMs,
      },
      'etcdraft chain created',
    );
    return chain;
  }

  /**
   * Fabric's follower.Chain for a channel this node does not (yet) order for: pulls its blocks
   * from the other orderers, onboarding up to the join block when there is one; when a config
   * block from the join block on lists this node, the channel gets an etcdraft chain instead.
   */
  private followerChain(support: ConsenterSupport, join: ChannelJoin | undefined): FollowerChain {
    const pullerFor = this.deps.pullerFor;
    if (!pullerFor)
      throw new OrdererError(
        'not-a-consenter',
        `channel ${support.channelId} must be pulled from other orderers, and this orderer has no block puller`,
        { channel: support.channelId },
      );
    // While onboarding, the join block's config says where the blocks are and who vouches for
    // those orderers: the ledger's own config may be far older.
    const pullingBundle = () => (join && support.height() <= join.number ? join.bundle : support.bundle());
    const puller = pullerFor({ channelId: support.channelId, logger: support.logger, bundle: pullingBundle });
    const consenterEndpoints = () => {
      try {
        return this.configOf(support.bundle(), support.channelId).consenters.map(
          (c) => `${c.host}:${c.port}`,
        );
      } catch {
        return [];
      }
    };
    this.deps.logger.info(
      { channel: support.channelId, height: support.height(), joinBlock: join?.number },
      join
        ? 'onboarding channel: pulling its blocks up to the join block'
        : 'following channel as a non-consenter',
    );
    return new FollowerChain(
      { join, minRetryWaitMs: FOLLOWER_RETRY_MIN_MS, maxRetryWaitMs: FOLLOWER_RETRY_MAX_MS },
      {
        support,
        puller,
        isMember: (configBlock) => this.isChannelMember(configBlock, support.bundle()),
        onBecameMember: (configBlock) => {
          const replaceChain = support.replaceChain?.bind(support);
          if (!replaceChain)
            throw new OrdererError(
              'internal',
              `channel ${support.channelId} cannot switch to its consenter chain`,
            );
          void this.continuingRaftId(support, configBlock)
            .then(async (id) => {
              if (id !== undefined) {
                // A rotation of this node's certificate it was away for: same Raft ID, so its
                // term, vote and log go on from its WAL, as Fabric's NewChain restarts a WAL that
                // exists. A node that forgot them would be behind what it acknowledged to the leader.
                support.logger.info(
                  { channel: support.channelId, raftId: id, block: Number(configBlock.header!.number) },
                  'this orderer keeps its Raft ID: going on from its Raft WAL',
                );
                return;
              }
              // Raft state left from an earlier membership (the node was evicted, now re-added
              // under a new ID) cannot be continued: the new member starts from the leader's log.
              await this.discardRaftState(support.channelId);
            })
            .then(replaceChain)
            .catch((err: unknown) =>
              support.logger.error(
                { channel: support.channelId, err: errorMessage(err) },
                `channel ${support.channelId} could not switch from follower to consenter: ${errorMessage(err)}`,
              ),
            );
        },
        consenterEndpoints,
        headerHashOf: (block) => blockHeaderHash(block.header!),
      },
    );
  }

  /**
   * The Raft ID this node has in the config block that made it a consenter, if it had the same ID
   * in the block before it (its certificate was rotated); undefined for a new ID (added, or
   * re-added after an eviction) or when a block carries no etcdraft metadata.
   */
  private async continuingRaftId(
    support: ConsenterSupport,
    configBlock: common.Block,
  ): Promise<number | undefined> {
    const number = Number(configBlock.header!.number);
    const consenters = consentersOfConfigBlock(configBlock);
    // Only blocks with etcdraft metadata: readBlockMetadata's defaults stand for a genesis block.
    const idsOf = (block: common.IBlock | undefined) => {
      const bytes = block && consenterMetadataOf(block);
      return bytes?.length ? readBlockMetadata(bytes, []).consenterIds : undefined;
    };
    const ids = idsOf(configBlock);
    if (!consenters || !ids || number === 0) return undefined;
    const id = ids[consenters.findIndex((consenter) => this.isOwnCertificate(consenter.serverTlsCert))];
    if (id === undefined) return undefined;
    return idsOf(await support.block(number - 1))?.includes(id) ? id : undefined;
  }

  /** Deletes the channel's WAL and snapshots (the channel was removed from this orderer). */
  async removeChannel(channelId: string): Promise<void> {
    const entry = this.channels.get(channelId);
    if (entry) {
      await entry.chain.halt();
      this.forget(channelId, entry.chain);
    }
    await this.discardRaftState(channelId);
  }

  private async discardRaftState(channelId: string): Promise<void> {
    // RaftWal keeps no folder for a name that is not a valid channel ID.
    if (!isValidChannelId(channelId)) return;
    for (const root of [this.options.walDir, this.options.snapDir]) {
      if (root) await rm(join(root, channelId), { recursive: true, force: true });
    }
  }

  /** Blocks [from, to] from the channel's other orderers, each chained onto the one before. */
  private async *pull(support: ConsenterSupport, from: number, to: number): AsyncIterable<Buffer> {
    const puller = this.deps.pullerFor!(support);
    try {
      const previous = from > 0 ? await support.block(from - 1) : undefined;
      let previousHash = previous?.header ? blockHeaderHash(previous.header) : undefined;
      for (let number = from; number <= to; number++) {
        const { bytes, block } = await puller.pullBlock(number, previousHash);
        previousHash = blockHeaderHash(block.header!);
        yield bytes;
      }
    } finally {
      puller.close();
    }
  }

  private async pullLastConfigBlock(
    support: ConsenterSupport,
  ): Promise<{ bytes: Buffer; block: common.Block }> {
    const puller = this.deps.pullerFor!(support);
    try {
      return await puller.lastConfigBlock();
    } finally {
      puller.close();
    }
  }

  private forget(channelId: string, chain: EtcdraftChain): void {
    const entry = this.channels.get(channelId);
    if (entry?.chain !== chain) return;
    this.channels.delete(channelId);
    for (const member of entry.members.members) this.deps.client.disconnect(channelId, member.id);
  }

  private requireIdentity(channelId: string): void {
    if (this.ownKey !== undefined) return;
    throw new OrdererError(
      'unavailable',
      `channel ${channelId} orders with etcdraft, which needs TLS between orderers: set General.TLS.Enabled ` +
        'to true with General.TLS.Certificate/PrivateKey (the cluster then shares the general listener), ' +
        'or configure a cluster listener with General.Cluster.ListenPort, ListenAddress, ' +
        'ServerCertificate and ServerPrivateKey',
      { channel: channelId },
    );
  }

  private isOwnCertificate(certificate: Buffer): boolean {
    try {
      return publicKeyOf(certificate) === this.ownKey;
    } catch {
      return false;
    }
  }

  private configOf(bundle: ChannelConfigBundle, channelId: string): EtcdraftConfig {
    if (!bundle.orderer)
      throw badRequest(`channel ${channelId} has no Orderer config to read its etcdraft consenters from`);
    try {
      return etcdraftConfigOf(bundle.orderer, bundle.mspManager);
    } catch (err) {
      if (err instanceof OrdererError) throw err;
      throw badRequest(`invalid etcdraft config of channel ${channelId}: ${errorMessage(err)}`);
    }
  }
}

export type { ClusterMember };

/** When a PEM certificate stops being valid (ms since the epoch), or undefined if it cannot be read. */
function certificateExpiry(pem: Buffer): number | undefined {
  try {
    return Date.parse(new X509Certificate(pem).validTo);
  } catch {
    return undefined;
  }
}
