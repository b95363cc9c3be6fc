// etcdraft.BlockMetadata, the consenter metadata every etcdraft block carries (Fabric's
// consenter.go ReadBlockMetadata, util.go CreateConsentersMap): the Raft ID of each consenter in
// config order, the next ID to hand out (IDs are never reused), and the Raft index of the entry
// the block came from (a restarted node skips entries up to it, so no block is written twice).
import { etcdraft } from '../../protos/index.js';
import { badRequest, errorMessage, internal } from '../../errors.js';
import type { EtcdraftConsenter } from '../../channelconfig/etcdraft.js';
import type { ClusterMember } from '../../cluster/members.js';

export interface RaftBlockMetadata {
  readonly consenterIds: readonly number[];
  readonly nextConsenterId: number;
  readonly raftIndex: number;
}

const safe = (value: unknown, field: string): number => {
  const number = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(number) || number < 0) {
    throw internal(
      `etcdraft BlockMetadata.${field} ${String(value)} is not a uint64 this orderer can hold exactly`,
    );
  }
  return number;
};

/**
 * The metadata as of the last block: decoded from its consenter metadata, or, when the last block
 * has none (the genesis block), IDs 1..N for the config's N consenters, next ID N+1, index 0.
 */
export function readBlockMetadata(
  consenterMetadata: Buffer | undefined,
  consenters: readonly EtcdraftConsenter[],
): RaftBlockMetadata {
  if (consenterMetadata?.length) {
    let decoded: etcdraft.BlockMetadata;
    try {
      decoded = etcdraft.BlockMetadata.decode(consenterMetadata);
    } catch (err) {
      throw badRequest(`failed to unmarshal block's metadata: ${errorMessage(err)}`);
    }
    return {
      consenterIds: decoded.consenterIds.map((id) => safe(id, 'consenter_ids')),
      nextConsenterId: safe(decoded.nextConsenterId, 'next_consenter_id'),
      raftIndex: safe(decoded.raftIndex, 'raft_index'),
    };
  }
  return {
    consenterIds: consenters.map((_, i) => i + 1),
    nextConsenterId: consenters.length + 1,
    raftIndex: 0,
  };
}

/** Marshalled as Go's proto.Marshal does (proto3: packed IDs, zero fields left out). */
export function encodeBlockMetadata(metadata: RaftBlockMetadata): Buffer {
  return Buffer.from(
    etcdraft.BlockMetadata.encode({
      consenterIds: [...metadata.consenterIds],
      ...(metadata.nextConsenterId ? { nextConsenterId: metadata.nextConsenterId } : {}),
      ...(metadata.raftIndex ? { raftIndex: metadata.raftIndex } : {}),
    }).finish(),
  );
}

/** The cluster members of a channel: the i-th consenter of the config has consenter_ids[i]. */
export function clusterMembers(
  metadata: RaftBlockMetadata,
  consenters: readonly EtcdraftConsenter[],
): ClusterMember[] {
  if (metadata.consenterIds.length !== consenters.length) {
    throw internal(
      `the block metadata lists ${metadata.consenterIds.length} consenter IDs but the channel config has ${consenters.length} consenters`,
    );
  }
  return consenters.map((consenter, i) => ({
    id: metadata.consenterIds[i]!,
    host: consenter.host,
    port: consenter.port,
    clientTlsCert: consenter.clientTlsCert,
    serverTlsCert: consenter.serverTlsCert,
  }));
}
