// etcd raft v3.5.9 storage.go: the Storage the Raft log reads its stable part from, and
// MemoryStorage, the in-memory implementation (Fabric keeps a MemoryStorage in front of its WAL).
// Methods are synchronous like etcd's; where Go returns an error value, these throw the shared
// RaftError sentinels of errors.ts (ErrCompacted, ErrUnavailable, ...), compared by identity.
import { ErrCompacted, ErrSnapOutOfDate, ErrUnavailable, invariant } from './errors.js';
import { limitSize } from './entry-size.js';
import type { ConfState, Entry, HardState, Snapshot } from './types.js';
import { emptyHardState, emptySnapshot, newEntry } from './types.js';

export interface InitialState {
  hardState: HardState;
  confState: ConfState;
}

export interface Storage {
  // The saved HardState and ConfState.
  initialState(): InitialState;
  // Entries in [lo, hi), limited to maxSize bytes but always at least one entry if any.
  // Throws ErrCompacted when lo has been compacted, ErrUnavailable when the range is not there.
  entries(lo: number, hi: number, maxSize: number): Entry[];
  // The term of entry i, which must be in [firstIndex()-1, lastIndex()]. The term of the entry
  // before firstIndex is kept for matching even though the entry itself is compacted.
  term(i: number): number;
  lastIndex(): number;
  // The index of the first entry possibly available through entries (older ones are in a snapshot).
  firstIndex(): number;
  // The most recent snapshot; may throw ErrSnapshotTemporarilyUnavailable.
  snapshot(): Snapshot;
}

export class MemoryStorage implements Storage {
  private hardState: HardState = emptyHardState();
  private currentSnapshot: Snapshot = emptySnapshot();
  // ents[i] has raft log position i+snapshot.metadata.index; ents[0] is a dummy entry holding
  // the index and term of the last compacted entry.
  ents: Entry[] = [newEntry({})];

  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.currentSnapshot.metadata.confState };
  }

  setHardState(state: HardState): void {
    this.hardState = state;
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const offset = this.dummy().index;
    if (lo <= offset) throw ErrCompacted;
    if (hi > this.lastIndexInner() + 1) {
      throw invariant(`entries' hi(${hi}) is out of bound lastindex(${this.lastIndexInner()})`);
    }
    // only contains dummy entries.
    if (this.ents.length === 1) throw ErrUnavailable;
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSize);
  }

  term(i: number): number {
    const offset = this.dummy().index;
    if (i < offset) throw ErrCompacted;
    if (i - offset >= this.ents.length) throw ErrUnavailable;
    return (this.ents[i - offset] as Entry).term;
  }

  lastIndex(): number {
    return this.lastIndexInner();
  }

  firstIndex(): number {
    return this.dummy().index + 1;
  }

  snapshot(): Snapshot {
    return this.currentSnapshot;
  }

  // Overwrites the contents of this storage with the snapshot's.
  applySnapshot(snapshot: Snapshot): void {
    // handle check for old snapshot being applied
    if (this.currentSnapshot.metadata.index >= snapshot.metadata.index) throw ErrSnapOutOfDate;
    this.currentSnapshot = snapshot;
    this.ents = [newEntry({ term: snapshot.metadata.term, index: snapshot.metadata.index })];
  }

  // Makes a snapshot at index i that can be read with snapshot(); i must be applied already.
  createSnapshot(i: number, confState: ConfState | undefined, data: Uint8Array): Snapshot {
    if (i <= this.currentSnapshot.metadata.index) throw ErrSnapOutOfDate;
    const offset = this.dummy().index;
    if (i > this.lastIndexInner()) {
      throw invariant(`snapshot ${i} is out of bound lastindex(${this.lastIndexInner()})`);
    }
    const previous = this.currentSnapshot.metadata;
    this.currentSnapshot = {
      data,
      metadata: {
        index: i,
        term: (this.ents[i - offset] as Entry).term,
        confState: confState ?? previous.confState,
      },
    };
    return this.currentSnapshot;
  }

  // Discards all entries before compactIndex; the application must not compact past applied.
  compact(compactIndex: number): void {
    const offset = this.dummy().index;
    if (compactIndex <= offset) throw ErrCompacted;
    if (compactIndex > this.lastIndexInner()) {
      throw invariant(`compact ${compactIndex} is out of bound lastindex(${this.lastIndexInner()})`);
    }
    const i = compactIndex - offset;
    const kept = this.ents[i] as Entry;
    this.ents = [newEntry({ index: kept.index, term: kept.term }), ...this.ents.slice(i + 1)];
  }

  // Appends entries, which must be continuous; entries that overlap existing ones replace them.
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = (entries[0] as Entry).index + entries.length - 1;
    // shortcut if there is no new entry.
    if (last < first) return;
    // truncate compacted entries
    if (first > (entries[0] as Entry).index) entries = entries.slice(first - (entries[0] as Entry).index);
    const offset = (entries[0] as Entry).index - this.dummy().index;
    if (this.ents.length > offset) {
      this.ents = [...this.ents.slice(0, offset), ...entries];
    } else if (this.ents.length === offset) {
      for (const entry of entries) this.ents.push(entry);
    } else {
      throw invariant(
        `missing log entry [last: ${this.lastIndexInner()}, append at: ${(entries[0] as Entry).index}]`,
      );
    }
  }

  private dummy(): Entry {
    return this.ents[0] as Entry;
  }

  private lastIndexInner(): number {
    return this.dummy().index + this.ents.length - 1;
  }
}
