// Consenter-set changes as Fabric v2.5 computes them (orderer/consensus/etcdraft/membership.go:
// ComputeMembershipChanges, util.go: ConfChange; chain.go: getInFlightConfChange). Consenters are
// identified by the exact bytes of their client TLS certificate. One update may add one consenter
// (a new Raft ID from next_consenter_id, IDs are never reused), remove one, or do both, which is a
// certificate rotation: the new certificate takes over the removed node's Raft ID, and Raft's
// membership does not change.
import { badRequest } from '../../errors.js';
import type { EtcdraftConsenter } from '../../channelconfig/etcdraft.js';
import { readConfigBlock } from '../../channelconfig/configblock.js';
import { asBuffer, common, etcdraft, orderer } from '../../protos/index.js';
import type { RaftBlockMetadata } from './metadata.js';
import { ConfChangeType } from './raft/types.js';

export interface RaftConfChange {
  readonly type: ConfChangeType.AddNode | ConfChangeType.RemoveNode;
  readonly nodeId: number;
}

export interface MembershipChange {
  /** The block metadata once the change is made: IDs in the new config order, next ID. */
  readonly metadata: RaftBlockMetadata;
  /** The new consenters, in config order (metadata.consenterIds[i] is consenters[i]'s ID). */
  readonly consenters: readonly EtcdraftConsenter[];
  readonly added: readonly EtcdraftConsenter[];
  /** Raft IDs of the removed consenters. */
  readonly removed: readonly number[];
  /** The Raft ConfChange to commit: an added or a removed node (none for a rotation). */
  readonly confChange: RaftConfChange | undefined;
  /** The Raft ID whose certificate was replaced, for a rotation. */
  readonly rotated: number | undefined;
}

const certKey = (consenter: EtcdraftConsenter) => consenter.clientTlsCert.toString('base64');

/** The change from the current consenters (with their IDs in `metadata`) to `next`. */
export function computeMembershipChange(
  metadata: RaftBlockMetadata,
  current: readonly EtcdraftConsenter[],
  next: readonly EtcdraftConsenter[],
): MembershipChange {
  const idByCert = new Map<string, number>();
  current.forEach((consenter, i) => idByCert.set(certKey(consenter), metadata.consenterIds[i]!));
  const ids: number[] = [];
  const added: EtcdraftConsenter[] = [];
  let addedIndex = -1;
  next.forEach((consenter, i) => {
    const id = idByCert.get(certKey(consenter));
    if (id !== undefined) ids[i] = id;
    else {
      added.push(consenter);
      addedIndex = i;
    }
  });
  const nextKeys = new Set(next.map(certKey));
  const removed = current
    .map((consenter, i) => ({ consenter, id: metadata.consenterIds[i]! }))
    .filter(({ consenter }) => !nextKeys.has(certKey(consenter)))
    .map(({ id }) => id);
  if (added.length > 1 || removed.length > 1)
    throw badRequest(
      `update of more than one consenter at a time is not supported, requested changes: ` +
        `${added.length} added (${added.map((c) => `${c.host}:${c.port}`).join(', ')}), ` +
        `${removed.length} removed (Raft IDs ${removed.join(', ')}); make one change per config update`,
    );
  let nextConsenterId = metadata.nextConsenterId;
  let confChange: RaftConfChange | undefined;
  let rotated: number | undefined;
  if (added.length === 1 && removed.length === 1) {
    rotated = removed[0]!;
    ids[addedIndex] = rotated;
  } else if (added.length === 1) {
    ids[addedIndex] = nextConsenterId;
    confChange = { type: ConfChangeType.AddNode, nodeId: nextConsenterId };
    nextConsenterId++;
  } else if (removed.length === 1) {
    confChange = { type: ConfChangeType.RemoveNode, nodeId: removed[0]! };
  }
  return {
    metadata: { consenterIds: ids, nextConsenterId, raftIndex: metadata.raftIndex },
    consenters: [...next],
    added,
    removed,
    confChange,
    rotated,
  };
}

/**
 * The etcdraft consenters a config block sets, decoded without checks (the config was checked
 * when it was ordered); undefined when the block is not an etcdraft config.
 */
export function consentersOfConfigBlock(block: common.IBlock): EtcdraftConsenter[] | undefined {
  let configEnvelope: common.IConfigEnvelope;
  try {
    configEnvelope = readConfigBlock(block).configEnvelope;
  } catch {
    // Not a channel config this node can read (a config the leader ordered always is): no
    // consenter set to compare, as for a non-etcdraft config.
    return undefined;
  }
  return consentersOfConfig(configEnvelope);
}

/** The same for the ConfigEnvelope a CONFIG envelope carries (its payload data). */
export function consentersOfConfigEnvelope(data: Uint8Array): EtcdraftConsenter[] | undefined {
  try {
    return consentersOfConfig(common.ConfigEnvelope.decode(data));
  } catch {
    return undefined;
  }
}

function consentersOfConfig(configEnvelope: common.IConfigEnvelope): EtcdraftConsenter[] | undefined {
  const value = configEnvelope.config?.channelGroup?.groups?.Orderer?.values?.ConsensusType?.value;
  if (!value) return undefined;
  const consensusType = orderer.ConsensusType.decode(value);
  if (consensusType.type !== 'etcdraft') return undefined;
  const metadata = etcdraft.ConfigMetadata.decode(consensusType.metadata);
  return metadata.consenters.map((consenter) => ({
    host: consenter.host ?? '',
    port: consenter.port ?? 0,
    clientTlsCert: asBuffer(consenter.clientTlsCert ?? new Uint8Array()),
    serverTlsCert: asBuffer(consenter.serverTlsCert ?? new Uint8Array()),
  }));
}

/**
 * Fabric's getInFlightConfChange for a new leader: when the last block is a config block whose
 * consenter set Raft's voters do not match yet, the ConfChange that config asked for (its
 * commit was lost with the previous leader) must be proposed again.
 */
export function unfinishedConfChange(
  voters: readonly number[],
  metadata: RaftBlockMetadata,
): RaftConfChange | undefined {
  if (voters.length === metadata.consenterIds.length) return undefined;
  const members = new Set(metadata.consenterIds);
  const current = new Set(voters);
  const toAdd = metadata.consenterIds.find((id) => !current.has(id));
  if (toAdd !== undefined) return { type: ConfChangeType.AddNode, nodeId: toAdd };
  const toRemove = voters.find((id) => !members.has(id));
  if (toRemove !== undefined) return { type: ConfChangeType.RemoveNode, nodeId: toRemove };
  return undefined;
}

/**
 * Fabric's UnacceptableQuorumLoss: whether the change would leave the cluster without a quorum of
 * the nodes the leader last saw active, when starting more nodes could avoid it. Growing a cluster
 * of fewer than 3 loses quorum anyway, so it is allowed.
 */
export function unacceptableQuorumLoss(change: MembershipChange, active: readonly number[]): boolean {
  const activeSet = new Set(active);
  const size = change.metadata.consenterIds.length;
  const tolerant = size > 2;
  const quorum = Math.floor(size / 2) + 1;
  if (change.confChange?.type === ConfChangeType.AddNode) return tolerant && active.length < quorum;
  if (change.rotated !== undefined) {
    activeSet.delete(change.rotated);
    return tolerant && activeSet.size < quorum;
  }
  if (change.confChange?.type === ConfChangeType.RemoveNode) {
    activeSet.delete(change.confChange.nodeId);
    return activeSet.size < quorum;
  }
  return false;
}
