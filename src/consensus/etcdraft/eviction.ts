// Fabric's eviction suspicion (orderer/consensus/etcdraft/eviction.go and PeriodicCheck): a
// consenter removed from the channel while it was down, or whose removal's Raft ConfChange never
// reached it, hears from no leader again. After Consensus.EvictionSuspicion without a leader it
// asks the other orderers for the channel's last config block and finds out. The decisions are
// here, pure; the chain pulls the block and carries the verdict out.

/** Fabric's DefaultLeaderlessCheckInterval: how often the chain looks whether it has a leader. */
export const LEADERLESS_CHECK_INTERVAL_MS = 10_000;

/** Consensus.EvictionSuspicion's default. */
export const DEFAULT_EVICTION_SUSPICION_MS = 10 * 60_000;

export interface EvictionSuspicionOptions {
  /** Consensus.EvictionSuspicion: leaderless this long (and each multiple of it), the check runs. */
  readonly thresholdMs: number;
}

/**
 * Decides, every check interval, whether to pull the last config block: once per threshold of
 * uninterrupted leaderlessness (at 1x, 2x, 3x the threshold), as Fabric's confirmSuspicion; a
 * leader seen in between starts the count again.
 */
export class EvictionSuspicion {
  private checksDone = 0;

  constructor(private readonly options: EvictionSuspicionOptions) {}

  /** The interval to observe at: Fabric's 10 s, or the threshold when that is shorter. */
  get checkIntervalMs(): number {
    return Math.max(1, Math.min(LEADERLESS_CHECK_INTERVAL_MS, this.options.thresholdMs));
  }

  /**
   * Whether the last config block should be pulled now. leaderlessSince: when the chain lost its
   * leader (or started without one), undefined while it has one or is not running.
   */
  observe(now: number, leaderlessSince: number | undefined): boolean {
    if (leaderlessSince === undefined) {
      this.checksDone = 0;
      return false;
    }
    if (now - leaderlessSince < this.options.thresholdMs * (this.checksDone + 1)) return false;
    this.checksDone++;
    return true;
  }
}

export type EvictionVerdict =
  /** The ledger already has the last config block and it lists this node: nothing to do. */
  | { readonly kind: 'still-a-consenter' }
  /** The ledger has a config block that removed this node: stop being a consenter now. */
  | { readonly kind: 'evicted' }
  /**
   * The last config block is past this node's ledger: pull and append the blocks up to it (each
   * verified); a config block among them that removes this node ends its consenter chain.
   */
  | { readonly kind: 'catch-up'; readonly to: number };

export interface EvictionEvidence {
  /** The number of the last config block the other orderers have. */
  readonly lastConfigNumber: number;
  /** This node's ledger height. */
  readonly height: number;
  /** Whether the consenter set of this node's ledger (its last applied config) still lists it. */
  readonly listedInLedger: boolean;
}

/**
 * What a pulled last config block says. A block past the ledger is acted on only once pulled in
 * order and verified like any block, so an orderer that lies about it cannot evict this node.
 */
export function evictionVerdict(evidence: EvictionEvidence): EvictionVerdict {
  if (evidence.lastConfigNumber >= evidence.height) return { kind: 'catch-up', to: evidence.lastConfigNumber };
  return evidence.listedInLedger ? { kind: 'still-a-consenter' } : { kind: 'evicted' };
}
