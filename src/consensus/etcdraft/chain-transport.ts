// The chain's transport over the cluster client: Raft IDs mapped to the channel's cluster
// members, Raft messages as ConsensusRequest payloads and forwarded envelopes as SubmitRequests
// (Fabric's etcdraft rpc.go SendConsensus / SendSubmit).
import { unavailable } from '../../errors.js';
import { common } from '../../protos/index.js';
import type { ClusterClient } from '../../cluster/comm.js';
import type { ClusterMember } from '../../cluster/members.js';
import type { RaftChainTransport } from './chain.js';

export interface ClusterChainTransportOptions {
  readonly channel: string;
  /** The channel's consenters other than this node (clusterMembers of the last block's metadata). */
  readonly members: readonly ClusterMember[];
}

export interface ClusterChainTransportDependencies {
  readonly client: Pick<ClusterClient, 'sendConsensus' | 'sendSubmit'>;
}

export class ClusterChainTransport implements RaftChainTransport {
  private readonly channel: string;
  private readonly members = new Map<number, ClusterMember>();
  private readonly client: ClusterChainTransportDependencies['client'];

  constructor(options: ClusterChainTransportOptions, dependencies: ClusterChainTransportDependencies) {
    this.channel = options.channel;
    for (const member of options.members) this.members.set(member.id, member);
    this.client = dependencies.client;
  }

  /** The other consenters after a membership change (streams to removed ones are the client's to end). */
  setMembers(members: readonly ClusterMember[]): void {
    this.members.clear();
    for (const member of members) this.members.set(member.id, member);
  }

  sendConsensus(to: number, payload: Uint8Array, metadata?: Uint8Array): boolean {
    const member = this.members.get(to);
    if (member === undefined) return false;
    return this.client.sendConsensus(
      member,
      metadata ? { channel: this.channel, payload, metadata } : { channel: this.channel, payload },
    );
  }

  async sendSubmit(to: number, envelope: Buffer, configSeq: number): Promise<void> {
    const member = this.members.get(to);
    if (member === undefined)
      throw unavailable(
        `Raft node ${to} is not a known consenter of channel ${this.channel}; cannot forward the envelope to it`,
        { channel: this.channel, to },
      );
    // Decoding keeps payload and signature bytes as received; only the framing is re-encoded.
    await this.client.sendSubmit(member, {
      channel: this.channel,
      lastValidationSeq: configSeq,
      payload: common.Envelope.decode(envelope),
    });
  }
}
