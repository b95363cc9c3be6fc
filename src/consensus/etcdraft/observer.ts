// What the etcdraft chain reports as it runs (Fabric's etcdraft Metrics, one channel's view).
// The chain calls these; src/metrics/etcdraft.ts turns them into consensus_etcdraft_* series, and
// unit tests record them. The pure core knows nothing of it.

export interface EtcdraftChainObserver {
  /** Consenters in the channel (consensus_etcdraft_cluster_size). */
  clusterSize(size: number): void;
  /** This node became (true) or stopped being (false) the leader. */
  leadership(isLeader: boolean): void;
  /** The leader this node knows of changed, to none included (leader_changes). */
  leaderChanged(): void;
  /** Active nodes as the leader counts them, or as this node heard from the leader. */
  activeNodes(count: number): void;
  /** A block was written to the ledger. */
  committedBlock(blockNumber: number): void;
  /** A snapshot was taken or installed with this block as its data. */
  snapshotBlock(blockNumber: number): void;
  /** Raft refused a block proposal (leadership lost in between). */
  proposalFailed(): void;
  /** How long a Ready took to persist in the WAL, in seconds. */
  dataPersisted(seconds: number): void;
  /** The leader received an envelope to order (normal or config). */
  proposalReceived(isConfig: boolean): void;
}

const nothing = (): void => {};

/** The observer of a chain nobody watches. */
export const silentChainObserver: EtcdraftChainObserver = Object.freeze({
  clusterSize: nothing,
  leadership: nothing,
  leaderChanged: nothing,
  activeNodes: nothing,
  committedBlock: nothing,
  snapshotBlock: nothing,
  proposalFailed: nothing,
  dataPersisted: nothing,
  proposalReceived: nothing,
});
