// etcd raft v3.5.9 log.go: the Raft log, a stable part in Storage and an unstable tail.
// Where Go returns (term, err), term() throws ErrCompacted/ErrUnavailable and
// zeroTermOnErrCompacted(i) gives Go's l.zeroTermOnErrCompacted(l.term(i)).
import { ErrCompacted, ErrUnavailable, RaftError, invariant } from './errors.js';
import { NO_LIMIT, limitSize } from './entry-size.js';
import type { RaftLogger } from './logger.js';
import type { Storage } from './storage.js';
import { Unstable } from './log-unstable.js';
import type { Entry, Snapshot } from './types.js';
import { isEmptySnap } from './types.js';

export class RaftLog {
  // all stable entries since the last snapshot.
  readonly storage: Storage;
  // all unstable entries and snapshot; they will be saved into storage.
  readonly unstable: Unstable;
  // the highest log position known to be in stable storage on a quorum of nodes.
  committed: number;
  // the highest log position the application has been told to apply; applied <= committed.
  applied: number;
  readonly logger: RaftLogger;
  // the maximum aggregate byte size of the messages returned from calls to nextEnts.
  readonly maxNextEntsSize: number;

  // etcd's newLog / newLogWithSize: the log is in the state where everything in storage is
  // committed and applied.
  constructor(storage: Storage, logger: RaftLogger, maxNextEntsSize: number = NO_LIMIT) {
    this.storage = storage;
    this.logger = logger;
    this.maxNextEntsSize = maxNextEntsSize;
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    this.unstable = new Unstable(logger, lastIndex + 1);
    // Initialize our committed and applied pointers to the time of the last compaction.
    this.committed = firstIndex - 1;
    this.applied = firstIndex - 1;
  }

  toString(): string {
    return `committed=${this.committed}, applied=${this.applied}, unstable.offset=${this.unstable.offset}, len(unstable.Entries)=${this.unstable.entries.length}`;
  }

  // The last index of the new entries when they could be appended, undefined when not.
  maybeAppend(index: number, logTerm: number, committed: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastnewi = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci === 0) {
      // no conflict
    } else if (ci <= this.committed) {
      throw invariant(`entry ${ci} conflict with committed entry [committed(${this.committed})]`);
    } else {
      const offset = index + 1;
      this.append(ents.slice(ci - offset));
    }
    this.commitTo(Math.min(committed, lastnewi));
    return lastnewi;
  }

  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = (ents[0] as Entry).index - 1;
    if (after < this.committed) {
      throw invariant(`after(${after}) is out of range [committed(${this.committed})]`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  // The index of the first entry that conflicts (same index, different term) with the log, or
  // the first new entry; 0 when all entries are already in the log.
  findConflict(ents: Entry[]): number {
    for (const ne of ents) {
      if (!this.matchTerm(ne.index, ne.term)) {
        if (ne.index <= this.lastIndex()) {
          this.logger.info(
            `found conflict at index ${ne.index} [existing term: ${this.zeroTermOnErrCompacted(ne.index)}, conflicting term: ${ne.term}]`,
          );
        }
        return ne.index;
      }
    }
    return 0;
  }

  // The largest index <= index whose term is <= term (or whose term is unknown), used for the
  // fast backtracking of a rejected MsgApp.
  findConflictByTerm(index: number, term: number): number {
    const li = this.lastIndex();
    if (index > li) {
      // NB: such calls should not exist, but since there is a straightforward way to recover,
      // do it.
      this.logger.warn(`index(${index}) is out of range [0, lastIndex(${li})] in findConflictByTerm`);
      return index;
    }
    for (;;) {
      let logTerm: number;
      try {
        logTerm = this.term(index);
      } catch (err) {
        if (err instanceof RaftError) break;
        throw err;
      }
      if (logTerm <= term) break;
      index--;
    }
    return index;
  }

  // A copy, as Go's slice header is one: a Ready holds these entries until advance(), and
  // entries raft appends meanwhile (the auto-leave ConfChangeV2 appended inside advance) must
  // not show up in it, or advance marks them stable although the application never saw them.
  unstableEntries(): Entry[] {
    return this.unstable.entries.slice();
  }

  // All committed entries available for execution.
  nextEnts(): Entry[] {
    const off = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed + 1 > off) {
      try {
        return this.slice(off, this.committed + 1, this.maxNextEntsSize);
      } catch (err) {
        if (err instanceof RaftError && err.code !== 'invariant') {
          throw invariant(`unexpected error when getting unapplied entries (${err.message})`);
        }
        throw err;
      }
    }
    return [];
  }

  hasNextEnts(): boolean {
    const off = Math.max(this.applied + 1, this.firstIndex());
    return this.committed + 1 > off;
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== undefined && !isEmptySnap(this.unstable.snapshot);
  }

  snapshot(): Snapshot {
    if (this.unstable.snapshot !== undefined) return this.unstable.snapshot;
    return this.storage.snapshot();
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  commitTo(tocommit: number): void {
    // never decrease commit
    if (this.committed < tocommit) {
      if (this.lastIndex() < tocommit) {
        throw invariant(
          `tocommit(${tocommit}) is out of range [lastIndex(${this.lastIndex()})]. Was the raft log corrupted, truncated, or lost?`,
        );
      }
      this.committed = tocommit;
    }
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    if (this.committed < i || i < this.applied) {
      throw invariant(
        `applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`,
      );
    }
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  lastTerm(): number {
    try {
      return this.term(this.lastIndex());
    } catch (err) {
      throw invariant(`unexpected error when getting the last term (${(err as Error).message})`);
    }
  }

  // The term of entry i; 0 outside [firstIndex()-1, lastIndex()]. Throws ErrCompacted or
  // ErrUnavailable as storage does.
  term(i: number): number {
    // the valid term range is [index of dummy entry, last index]
    const dummyIndex = this.firstIndex() - 1;
    if (i < dummyIndex || i > this.lastIndex()) return 0;
    const unstableTerm = this.unstable.maybeTerm(i);
    if (unstableTerm !== undefined) return unstableTerm;
    return this.storage.term(i);
  }

  entries(i: number, maxsize: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxsize);
  }

  // All entries in the log.
  allEntries(): Entry[] {
    for (;;) {
      try {
        return this.entries(this.firstIndex(), NO_LIMIT);
      } catch (err) {
        // try again if there was a racing compaction
        if (err !== ErrCompacted) throw err;
      }
    }
  }

  // Whether the given (lasti, term) log is more up-to-date than this log: the later last term
  // wins; with equal last terms, the longer log.
  isUpToDate(lasti: number, term: number): boolean {
    return term > this.lastTerm() || (term === this.lastTerm() && lasti >= this.lastIndex());
  }

  matchTerm(i: number, term: number): boolean {
    let t: number;
    try {
      t = this.term(i);
    } catch (err) {
      if (err === ErrCompacted || err === ErrUnavailable) return false;
      throw err;
    }
    return t === term;
  }

  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.zeroTermOnErrCompacted(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  restore(snapshot: Snapshot): void {
    this.logger.info(
      `log [${this.toString()}] starts to restore snapshot [index: ${snapshot.metadata.index}, term: ${snapshot.metadata.term}]`,
    );
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }

  // Entries in [lo, hi), limited to maxSize bytes (at least one). Throws ErrCompacted.
  slice(lo: number, hi: number, maxSize: number): Entry[] {
    this.mustCheckOutOfBounds(lo, hi);
    if (lo === hi) return [];
    let ents: Entry[] = [];
    if (lo < this.unstable.offset) {
      const storedHi = Math.min(hi, this.unstable.offset);
      let storedEnts: Entry[];
      try {
        storedEnts = this.storage.entries(lo, storedHi, maxSize);
      } catch (err) {
        if (err === ErrCompacted) throw err;
        if (err === ErrUnavailable) throw invariant(`entries[${lo}:${storedHi}) is unavailable from storage`);
        throw err;
      }
      // check if ents has reached the size limitation
      if (storedEnts.length < storedHi - lo) return storedEnts;
      ents = storedEnts;
    }
    if (hi > this.unstable.offset) {
      const unstable = this.unstable.slice(Math.max(lo, this.unstable.offset), hi);
      ents = ents.length > 0 ? [...ents, ...unstable] : unstable;
    }
    return limitSize(ents, maxSize);
  }

  // firstIndex <= lo <= hi <= firstIndex + len(entries)
  mustCheckOutOfBounds(lo: number, hi: number): void {
    if (lo > hi) throw invariant(`invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) throw ErrCompacted;
    const length = this.lastIndex() + 1 - fi;
    if (hi > fi + length) throw invariant(`slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`);
  }

  // Go's l.zeroTermOnErrCompacted(l.term(i)): the term of entry i, or 0 when it is compacted.
  zeroTermOnErrCompacted(i: number): number {
    try {
      return this.term(i);
    } catch (err) {
      if (err === ErrCompacted) return 0;
      throw invariant(`unexpected error (${(err as Error).message})`);
    }
  }
}
