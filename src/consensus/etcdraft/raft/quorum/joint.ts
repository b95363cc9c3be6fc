// etcd raft v3.5.9 quorum/joint.go: two majority configurations, both of which must agree.
// The second is empty (not undefined) outside a joint configuration.
import { MajorityConfig } from './majority.js';
import type { AckedIndexer, Index } from './quorum.js';
import { VoteResult } from './quorum.js';

export class JointConfig {
  incoming: MajorityConfig;
  outgoing: MajorityConfig;

  constructor(
    incoming: MajorityConfig = new MajorityConfig(),
    outgoing: MajorityConfig = new MajorityConfig(),
  ) {
    this.incoming = incoming;
    this.outgoing = outgoing;
  }

  toString(): string {
    if (this.outgoing.size > 0) return `${this.incoming.toString()}&&${this.outgoing.toString()}`;
    return this.incoming.toString();
  }

  // The union of the voters of both halves.
  ids(): Set<number> {
    return new Set([...this.incoming.ids, ...this.outgoing.ids]);
  }

  describe(l: AckedIndexer): string {
    return new MajorityConfig(this.ids()).describe(l);
  }

  // The largest index acknowledged by both majorities.
  committedIndex(l: AckedIndexer): Index {
    const idx0 = this.incoming.committedIndex(l);
    const idx1 = this.outgoing.committedIndex(l);
    return idx0 < idx1 ? idx0 : idx1;
  }

  // Won when both halves won, lost when either lost, pending otherwise.
  voteResult(votes: ReadonlyMap<number, boolean>): VoteResult {
    const r1 = this.incoming.voteResult(votes);
    const r2 = this.outgoing.voteResult(votes);
    if (r1 === r2) {
      // If they agree, return the agreed state.
      return r1;
    }
    if (r1 === VoteResult.VoteLost || r2 === VoteResult.VoteLost) {
      // If either config has lost, loss is the only possible outcome.
      return VoteResult.VoteLost;
    }
    // One side won, the other one is pending, so the whole outcome is.
    return VoteResult.VotePending;
  }
}
