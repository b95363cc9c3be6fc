// etcd raft v3.5.9 tracker/tracker.go: the configuration and the Progress of every member.
import { JointConfig } from '../quorum/joint.js';
import { MajorityConfig } from '../quorum/majority.js';
import type { AckedIndexer, Index } from '../quorum/quorum.js';
import { VoteResult } from '../quorum/quorum.js';
import type { ConfState } from '../types.js';
import type { Progress, ProgressMap } from './progress.js';

// The voters (possibly joint), learners and learners-to-be. learners and learnersNext are
// undefined when never populated, as Go's nil maps, because String() prints them only then.
export class TrackerConfig {
  voters: JointConfig;
  // Whether a joint configuration is left automatically once possible (ConfChangeV2 auto).
  autoLeave: boolean;
  // Learners must be disjoint from the voters.
  learners: Set<number> | undefined;
  // Voters of the outgoing config that become learners when the joint config is left.
  learnersNext: Set<number> | undefined;

  constructor(
    fields: {
      voters?: JointConfig;
      autoLeave?: boolean;
      learners?: Set<number> | undefined;
      learnersNext?: Set<number> | undefined;
    } = {},
  ) {
    this.voters = fields.voters ?? new JointConfig();
    this.autoLeave = fields.autoLeave ?? false;
    this.learners = fields.learners;
    this.learnersNext = fields.learnersNext;
  }

  toString(): string {
    let buf = `voters=${this.voters.toString()}`;
    if (this.learners !== undefined) buf += ` learners=${new MajorityConfig(this.learners).toString()}`;
    if (this.learnersNext !== undefined)
      buf += ` learners_next=${new MajorityConfig(this.learnersNext).toString()}`;
    if (this.autoLeave) buf += ' autoleave';
    return buf;
  }

  // A deep copy. As etcd's Clone, autoLeave is not copied.
  clone(): TrackerConfig {
    const cloneSet = (s: Set<number> | undefined) => (s === undefined ? undefined : new Set(s));
    return new TrackerConfig({
      voters: new JointConfig(
        new MajorityConfig(this.voters.incoming.ids),
        new MajorityConfig(this.voters.outgoing.ids),
      ),
      learners: cloneSet(this.learners),
      learnersNext: cloneSet(this.learnersNext),
    });
  }
}

const sortedIds = (ids: Iterable<number>): number[] => [...ids].sort((a, b) => a - b);

export class ProgressTracker {
  config: TrackerConfig;
  progress: ProgressMap;
  votes: Map<number, boolean>;
  readonly maxInflight: number;

  // etcd's MakeProgressTracker.
  constructor(maxInflight: number) {
    this.maxInflight = maxInflight;
    this.config = new TrackerConfig();
    this.votes = new Map();
    this.progress = new Map();
  }

  // The ConfState of the active configuration.
  confState(): ConfState {
    return {
      voters: this.config.voters.incoming.slice(),
      votersOutgoing: this.config.voters.outgoing.slice(),
      learners: sortedIds(this.config.learners ?? []),
      learnersNext: sortedIds(this.config.learnersNext ?? []),
      autoLeave: this.config.autoLeave,
    };
  }

  // Whether the only voter is a single member (and the config not joint).
  isSingleton(): boolean {
    return this.config.voters.incoming.size === 1 && this.config.voters.outgoing.size === 0;
  }

  // The largest log index known to be committed by the voters' Match.
  committed(): number {
    return this.config.voters.committedIndex(matchAckIndexer(this.progress));
  }

  // Calls f for every tracked node, in ascending ID order (so output is deterministic).
  visit(f: (id: number, pr: Progress) => void): void {
    for (const id of sortedIds(this.progress.keys())) f(id, this.progress.get(id) as Progress);
  }

  // Whether the quorum is active from this leader's view (CheckQuorum).
  quorumActive(): boolean {
    const votes = new Map<number, boolean>();
    this.visit((id, pr) => {
      if (pr.isLearner) return;
      votes.set(id, pr.recentActive);
    });
    return this.config.voters.voteResult(votes) === VoteResult.VoteWon;
  }

  voterNodes(): number[] {
    return sortedIds(this.config.voters.ids());
  }

  learnerNodes(): number[] {
    if (this.config.learners === undefined || this.config.learners.size === 0) return [];
    return sortedIds(this.config.learners);
  }

  // Prepares for a new round of vote counting.
  resetVotes(): void {
    this.votes = new Map();
  }

  // Records that id voted for (v) or against us; only the first vote of a node counts.
  recordVote(id: number, v: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, v);
  }

  // The granted and rejected votes among voters, and whether the election is decided.
  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    // Make sure to populate granted/rejected correctly even if the Votes slice contains
    // members no longer part of the configuration. This doesn't really matter in the way the
    // numbers are used (they're informational), but might as well get it right.
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: this.config.voters.voteResult(this.votes) };
  }
}

const matchAckIndexer = (progress: ProgressMap): AckedIndexer => ({
  ackedIndex: (id: number): Index | undefined => progress.get(id)?.match,
});
