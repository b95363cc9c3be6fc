// Active nodes as Fabric v2.5 counts and spreads them (orderer/consensus/etcdraft/tracker.go and
// disseminator.go): on each tick the leader counts itself and the peers Raft saw recently
// (Progress.RecentActive); once the count has held for 3 further checks (it glitches right after an
// election, when Raft resets RecentActive) the leader publishes etcdraft.ClusterMetadata and
// attaches it to the next ConsensusRequest to each destination. Pure: the chain feeds it statuses
// and asks what to attach.
import { etcdraft } from '../../protos/index.js';
import { NONE, StateType } from './raft/index.js';
import type { Status } from './raft/index.js';

/** Checks the count must hold for before it is published (Fabric's tracker). */
const STABLE_CHECKS = 3;

export interface ActiveNodesChange {
  /** The active node IDs, this node first. */
  readonly activeNodes: readonly number[];
  /** The marshalled etcdraft.ClusterMetadata to disseminate; undefined when there is none to send. */
  readonly metadata: Uint8Array | undefined;
}

export class ActiveNodesTracker {
  private last: readonly number[] = [];
  private stableFor = 0;

  constructor(private readonly selfId: number) {}

  /**
   * One tick's check. Returns what changed: no leader -> no active nodes (and nothing to send);
   * a follower's view is left alone (it hears the count from the leader); a leader's count is
   * returned once it has been stable for STABLE_CHECKS checks after it last changed.
   */
  check(status: {
    readonly softState: Status['softState'];
    readonly progress: ReadonlyMap<number, { readonly recentActive: boolean }>;
  }): ActiveNodesChange | undefined {
    if (status.softState.lead === NONE) {
      this.last = [];
      this.stableFor = 0;
      return { activeNodes: [], metadata: undefined };
    }
    if (status.softState.raftState !== StateType.StateLeader) return undefined;
    const current = [this.selfId];
    for (const [id, progress] of status.progress) {
      // etcd does not mark the leader's own progress recently active; never count it twice.
      if (id !== this.selfId && progress.recentActive) current.push(id);
    }
    const previous = this.last;
    this.last = current;
    if (current.length !== previous.length) {
      this.stableFor = 0;
      return undefined;
    }
    if (this.stableFor < STABLE_CHECKS) {
      this.stableFor++;
      return undefined;
    }
    this.stableFor = 0;
    return {
      activeNodes: current,
      metadata: etcdraft.ClusterMetadata.encode({ activeNodes: current }).finish(),
    };
  }
}

/**
 * Fabric's Disseminator: the latest published ClusterMetadata goes out once to each destination,
 * on the next ConsensusRequest to it.
 */
export class ClusterMetadataDisseminator {
  private metadata: Uint8Array | undefined;
  private readonly pending = new Set<number>();

  constructor(private readonly destinations: () => Iterable<number>) {}

  update(metadata: Uint8Array): void {
    this.metadata = metadata;
    this.pending.clear();
    for (const id of this.destinations()) this.pending.add(id);
  }

  /** The metadata to attach to a ConsensusRequest to `to`, once per update. */
  take(to: number): Uint8Array | undefined {
    if (this.metadata === undefined || !this.pending.delete(to)) return undefined;
    return this.metadata;
  }

  /** The send to `to` failed: the metadata is due again on its next request. */
  giveBack(to: number, metadata: Uint8Array): void {
    if (metadata === this.metadata) this.pending.add(to);
  }
}

/**
 * What a follower takes from a ConsensusRequest's metadata: the active nodes, when it came from
 * the leader this node knows of (Fabric ignores it from anyone else); undefined otherwise or when
 * it does not decode.
 */
export function activeNodesFromLeader(
  metadata: Uint8Array | null | undefined,
  sender: number,
  knownLeader: number,
): number[] | undefined {
  if (!metadata || metadata.length === 0 || sender !== knownLeader || knownLeader === NONE) return undefined;
  try {
    return etcdraft.ClusterMetadata.decode(metadata).activeNodes.map(Number);
  } catch {
    return undefined;
  }
}
