// etcd raft v3.5.9 log_unstable.go: the entries and snapshot not yet written to stable storage.
// entries[i] has raft log position i+offset; offset may be below the highest stored index, in
// which case the next write to storage truncates the log there before persisting entries.
import { invariant } from './errors.js';
import type { RaftLogger } from './logger.js';
import type { Entry, Snapshot } from './types.js';

export class Unstable {
  // the incoming unstable snapshot, if any.
  snapshot: Snapshot | undefined = undefined;
  // all entries that have not yet been written to storage.
  entries: Entry[] = [];
  offset = 0;
  logger: RaftLogger;

  constructor(logger: RaftLogger, offset = 0) {
    this.logger = logger;
    this.offset = offset;
  }

  // The index of the first possible entry in entries if there is an unstable snapshot.
  maybeFirstIndex(): number | undefined {
    if (this.snapshot !== undefined) return this.snapshot.metadata.index + 1;
    return undefined;
  }

  // The last index if there is at least one unstable entry or snapshot.
  maybeLastIndex(): number | undefined {
    if (this.entries.length !== 0) return this.offset + this.entries.length - 1;
    if (this.snapshot !== undefined) return this.snapshot.metadata.index;
    return undefined;
  }

  // The term of the entry at index i, if there is any.
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.metadata.index === i)
        return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined) return undefined;
    if (i > last) return undefined;
    return (this.entries[i - this.offset] as Entry).term;
  }

  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === undefined) return;
    // if i < offset, term is matched with the snapshot; only update the unstable entries if
    // term is matched with an unstable entry.
    if (gt === t && i >= this.offset) {
      this.entries = this.entries.slice(i + 1 - this.offset);
      this.offset = i + 1;
    }
  }

  stableSnapTo(i: number): void {
    if (this.snapshot !== undefined && this.snapshot.metadata.index === i) this.snapshot = undefined;
  }

  restore(snapshot: Snapshot): void {
    this.offset = snapshot.metadata.index + 1;
    this.entries = [];
    this.snapshot = snapshot;
  }

  truncateAndAppend(entries: Entry[]): void {
    const after = (entries[0] as Entry).index;
    if (after === this.offset + this.entries.length) {
      // after is the next index in the entries: directly append
      for (const entry of entries) this.entries.push(entry);
    } else if (after <= this.offset) {
      this.logger.info(`replace the unstable entries from index ${after}`);
      // The log is being truncated to before our current offset portion, so set the offset
      // and replace the entries
      this.offset = after;
      this.entries = entries.slice();
    } else {
      // truncate to after and copy to the new entries, then append
      this.logger.info(`truncate the unstable entries before index ${after}`);
      this.entries = [...this.slice(this.offset, after), ...entries];
    }
  }

  slice(lo: number, hi: number): Entry[] {
    this.mustCheckOutOfBounds(lo, hi);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }

  // u.offset <= lo <= hi <= u.offset+len(u.entries)
  private mustCheckOutOfBounds(lo: number, hi: number): void {
    if (lo > hi) throw invariant(`invalid unstable.slice ${lo} > ${hi}`);
    const upper = this.offset + this.entries.length;
    if (lo < this.offset || hi > upper) {
      throw invariant(`unstable.slice[${lo},${hi}) out of bound [${this.offset},${upper}]`);
    }
  }
}
