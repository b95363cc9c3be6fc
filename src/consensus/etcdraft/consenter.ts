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
import type { common } from '../../protos/index.js';
import type { Consenter, ConsenterSupport } from '../types.js';
import { EtcdraftChain, type EtcdraftChainDependencies } from './chain.js';
import type { EtcdraftChainObserver } from './observer.js';
import { ClusterChainTransport } from './chain-transport.js';
import { clusterMembers, readBlockMetadata } from './metadata.js';
import type { RandomIntn } from './raft/index.js';

export interface EtcdraftConsenterOptions {
  /** Consensus.WALDir: a channel's Raft log is kept in <walDir>/<channel>. */
  readonly walDir: string;
  /** Consensus.SnapDir: a channel's snapshots are kept in <snapDir>/<channel>. */
  readonly snapDir: string;
  /** Consensus.TickIntervalOverride: replaces the channel's TickInterval on this node only. */
  readonly tickIntervalOverrideMs?: number | undefined;
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
}

export class EtcdraftConsenter implements Consenter {
  private readonly channels = new Map<string, ChannelEntry>();
  private readonly ownKey: string | undefined;

  constructor(
    private readonly options: EtcdraftConsenterOptions,
    private readonly deps: EtcdraftConsenterDependencies,
  ) {
    this.ownKey = deps.serverCertificatePem ? publicKeyOf(deps.serverCertificatePem) : undefined;
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
   * config (options and consenter certificates against the new config's orderer orgs' TLS CAs).
   * Changes to the consenter set are refused until membership changes are supported.
   */
  validateConsensusMetadata(
    oldBundle: ChannelConfigBundle,
    newBundle: ChannelConfigBundle,
    newChannel: boolean,
  ): void {
    const next = this.configOf(newBundle, newBundle.channelId);
    if (newChannel || oldBundle.orderer?.consensusType !== 'etcdraft') return;
    const previous = this.configOf(oldBundle, oldBundle.channelId);
    const before = new Set(previous.consenters.map((c) => c.clientTlsCert.toString('base64')));
    const after = new Set(next.consenters.map((c) => c.clientTlsCert.toString('base64')));
    const added = [...after].filter((cert) => !before.has(cert)).length;
    const removed = [...before].filter((cert) => !after.has(cert)).length;
    if (added > 0 || removed > 0)
      throw badRequest(
        `the update changes the etcdraft consenter set of channel ${newBundle.channelId} ` +
          `(${added} added, ${removed} removed), which this orderer does not support yet; ` +
          'change only the options, or make the change through a Fabric orderer',
        { channel: newBundle.channelId, added, removed },
      );
  }

  handleChain(support: ConsenterSupport, metadata: Buffer | undefined): EtcdraftChain {
    const channelId = support.channelId;
    this.requireIdentity(channelId);
    const config = this.configOf(support.bundle(), channelId);
    const blockMetadata = readBlockMetadata(metadata, config.consenters);
    if (blockMetadata.consenterIds.length === 0 && support.height() > 1)
      throw badRequest(
        `channel ${channelId} has blocks but its last block carries no etcdraft metadata: it was ` +
          'migrated from another consensus type, which this orderer cannot continue yet',
        { channel: channelId },
      );
    const members = clusterMembers(blockMetadata, config.consenters);
    const self = members.find((member) => this.isOwnCertificate(member.serverTlsCert));
    if (!self)
      throw new OrdererError(
        'unavailable',
        `this orderer is not a consenter of channel ${channelId}: none of its consenters has the ` +
          "public key of this node's cluster server certificate (General.Cluster.ServerCertificate, " +
          'or General.TLS.Certificate without a cluster listener); following a channel without ' +
          'being its consenter is not supported yet',
        { channel: channelId, consenters: members.map((m) => `${m.host}:${m.port}`) },
      );
    const tickIntervalMs = this.options.tickIntervalOverrideMs ?? config.options.tickIntervalMs;
    if (this.options.tickIntervalOverrideMs !== undefined)
      support.logger.warn(
        { channel: channelId, tickIntervalMs, channelTickInterval: config.options.tickInterval },
        'Consensus.TickIntervalOverride replaces the channel tick interval on this node',
      );
    const previous = this.channels.get(channelId);
    if (previous) void previous.chain.halt().catch(() => {});
    const chain = new EtcdraftChain(
      {
        raftId: self.id,
        blockMetadata,
        raftOptions: { ...config.options, tickIntervalMs },
        walDir: this.options.walDir,
        snapDir: this.options.snapDir,
        // Fabric's isJoin: a node with no Raft state for a channel past its genesis block waits
        // for the leader instead of bootstrapping the log.
        join: support.height() > 1,
        consenterEndpoints: new Map(members.map((m) => [m.id, `${m.host}:${m.port}`])),
      },
      {
        support,
        transport: new ClusterChainTransport(
          { channel: channelId, members: members.filter((member) => member.id !== self.id) },
          { client: this.deps.client },
        ),
        ...(this.deps.random ? { random: this.deps.random } : {}),
        ...(this.deps.openWal ? { openWal: this.deps.openWal } : {}),
        ...(this.deps.chainObserver ? { observer: this.deps.chainObserver(channelId) } : {}),
        // Halting also takes the chain off the cluster service.
        onHalted: () => this.forget(channelId, chain),
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

  /** Deletes the channel's WAL and snapshots (the channel was removed from this orderer). */
  async removeChannel(channelId: string): Promise<void> {
    const entry = this.channels.get(channelId);
    if (entry) {
      await entry.chain.halt();
      this.forget(channelId, entry.chain);
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(channelId)) return;
    for (const root of [this.options.walDir, this.options.snapDir]) {
      if (root) await rm(join(root, channelId), { recursive: true, force: true });
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
