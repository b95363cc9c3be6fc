// etcd raft v3.5.9 tracker/progress.go: the leader's view of a follower's log.
import { invariant } from '../errors.js';
import type { Inflights } from './inflights.js';
import { StateType, stateTypeString } from './state.js';

export class Progress {
  match = 0;
  next = 0;
  // When in StateProbe, the leader sends at most one replication message per heartbeat
  // interval. When in StateReplicate, it optimistically advances next after sending entries.
  // When in StateSnapshot, it stops sending replication messages.
  state: StateType = StateType.StateProbe;
  // The index of the snapshot in flight while in StateSnapshot.
  pendingSnapshot = 0;
  // true if the progress is recently active; reset to false after an election timeout.
  recentActive = false;
  // Whether a probe was sent and not yet acknowledged (StateProbe pauses on it).
  probeSent = false;
  inflights: Inflights;
  isLearner = false;

  constructor(fields: {
    match?: number;
    next?: number;
    inflights: Inflights;
    isLearner?: boolean;
    recentActive?: boolean;
    state?: StateType;
    pendingSnapshot?: number;
    probeSent?: boolean;
  }) {
    this.inflights = fields.inflights;
    this.match = fields.match ?? 0;
    this.next = fields.next ?? 0;
    this.isLearner = fields.isLearner ?? false;
    this.recentActive = fields.recentActive ?? false;
    this.state = fields.state ?? StateType.StateProbe;
    this.pendingSnapshot = fields.pendingSnapshot ?? 0;
    this.probeSent = fields.probeSent ?? false;
  }

  // Moves to the given state, clearing probeSent, pendingSnapshot and the inflights.
  resetState(state: StateType): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  probeAcked(): void {
    this.probeSent = false;
  }

  // Moves to StateProbe; next is reset to match+1 or, after a snapshot, past the snapshot.
  becomeProbe(): void {
    // If the original state is StateSnapshot, progress knows that the pending snapshot has
    // been sent to this peer successfully, then probes from pendingSnapshot + 1.
    if (this.state === StateType.StateSnapshot) {
      const pendingSnapshot = this.pendingSnapshot;
      this.resetState(StateType.StateProbe);
      this.next = Math.max(this.match + 1, pendingSnapshot + 1);
    } else {
      this.resetState(StateType.StateProbe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(StateType.StateReplicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshoti: number): void {
    this.resetState(StateType.StateSnapshot);
    this.pendingSnapshot = snapshoti;
  }

  // Called on a MsgAppResp acknowledging n; false when the index came from an outdated message.
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeAcked();
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  // Signals that appends all the way up to and including index n are in-flight.
  optimisticUpdate(n: number): void {
    this.next = n + 1;
  }

  // Adjusts next after a MsgApp rejection for index `rejected` with the follower's matchHint;
  // false when the rejection is stale.
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === StateType.StateReplicate) {
      // The rejection must be stale if the progress has matched and "rejected" is smaller
      // than "match".
      if (rejected <= this.match) return false;
      // Directly decrease next to match + 1.
      this.next = this.match + 1;
      return true;
    }
    // The rejection must be stale if "rejected" does not match next - 1.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), 1);
    this.probeSent = false;
    return true;
  }

  // Whether sending log entries to this node has been throttled.
  isPaused(): boolean {
    switch (this.state) {
      case StateType.StateProbe:
        return this.probeSent;
      case StateType.StateReplicate:
        return this.inflights.full();
      case StateType.StateSnapshot:
        return true;
      default:
        throw invariant('unexpected state');
    }
  }

  toString(): string {
    let buf = `${stateTypeString(this.state)} match=${this.match} next=${this.next}`;
    if (this.isLearner) buf += ' learner';
    if (this.isPaused()) buf += ' paused';
    if (this.pendingSnapshot > 0) buf += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) buf += ' inactive';
    const n = this.inflights.countInflight();
    if (n > 0) {
      buf += ` inflight=${n}`;
      if (this.inflights.full()) buf += '[full]';
    }
    return buf;
  }
}

// Node ID to Progress.
export type ProgressMap = Map<number, Progress>;

export function progressMapString(m: ProgressMap): string {
  const ids = [...m.keys()].sort((a, b) => a - b);
  let buf = '';
  for (const id of ids) buf += `${id}: ${(m.get(id) as Progress).toString()}\n`;
  return buf;
}
