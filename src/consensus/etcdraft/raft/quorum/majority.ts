// etcd raft v3.5.9 quorum/majority.go: a set of voters making decisions by majority.
import type { AckedIndexer, Index } from './quorum.js';
import { INDEX_INFINITY, VoteResult } from './quorum.js';

const byNumber = (a: number, b: number): number => a - b;

export class MajorityConfig {
  readonly ids: Set<number>;

  constructor(ids: Iterable<number> = []) {
    this.ids = new Set(ids);
  }

  get size(): number {
    return this.ids.size;
  }

  has(id: number): boolean {
    return this.ids.has(id);
  }

  toString(): string {
    return `(${this.slice().join(' ')})`;
  }

  // A multi-line representation of the acked indexes of the voters, as etcd's Describe.
  describe(l: AckedIndexer): string {
    if (this.ids.size === 0) return '<empty majority quorum>';
    interface Tup {
      id: number;
      idx: Index;
      ok: boolean; // idx found?
      bar: number; // length of bar displayed for this tup
    }
    // Below, populate .bar so that the i-th largest commit index has bar i (we plot this as
    // sort of a progress bar). The actual code is a bit more complicated and also makes sure
    // that equal index => equal bar.
    const n = this.ids.size;
    const info: Tup[] = [];
    for (const id of this.ids) {
      const idx = l.ackedIndex(id);
      info.push({ id, idx: idx ?? 0, ok: idx !== undefined, bar: 0 });
    }
    // Sort by index
    info.sort((a, b) => (a.idx === b.idx ? a.id - b.id : a.idx - b.idx));
    // Populate .bar.
    for (let i = 0; i < info.length; i++) {
      if (i > 0 && (info[i - 1] as Tup).idx < (info[i] as Tup).idx) (info[i] as Tup).bar = i;
    }
    // Sort by ID.
    info.sort((a, b) => a.id - b.id);
    let buf = ' '.repeat(n) + '    idx\n';
    for (const tup of info) {
      buf += tup.ok ? 'x'.repeat(tup.bar) + '>' + ' '.repeat(n - tup.bar) : '?' + ' '.repeat(n);
      buf += ` ${String(tup.idx).padStart(5)}    (id=${tup.id})\n`;
    }
    return buf;
  }

  // The voter IDs, sorted.
  slice(): number[] {
    return [...this.ids].sort(byNumber);
  }

  // The largest index acknowledged by a majority; INDEX_INFINITY for an empty configuration
  // (so that a joint configuration with an empty half behaves like its other half).
  committedIndex(l: AckedIndexer): Index {
    const n = this.ids.size;
    if (n === 0) return INDEX_INFINITY;
    // Voters that have not acked count as zero, so fill from the right.
    const srt = new Array<number>(n).fill(0);
    let i = n - 1;
    for (const id of this.ids) {
      const idx = l.ackedIndex(id);
      if (idx !== undefined) srt[i--] = idx;
    }
    srt.sort(byNumber);
    // The smallest index into the array for which the value is acked by a quorum: in an array
    // sorted ascending, the element at n - (n/2 + 1).
    const pos = n - (Math.floor(n / 2) + 1);
    return srt[pos] as number;
  }

  // Whether the votes (true for yes, false for no, absent for not yet voted) win or lose.
  voteResult(votes: ReadonlyMap<number, boolean>): VoteResult {
    // By convention, the elections on an empty config win. This comes in handy with joint
    // quorums because it'll make a half-populated joint quorum behave like a majority quorum.
    if (this.ids.size === 0) return VoteResult.VoteWon;
    let yes = 0;
    let missing = 0;
    for (const id of this.ids) {
      const v = votes.get(id);
      if (v === undefined) missing++;
      else if (v) yes++;
    }
    const q = Math.floor(this.ids.size / 2) + 1;
    if (yes >= q) return VoteResult.VoteWon;
    if (yes + missing >= q) return VoteResult.VotePending;
    return VoteResult.VoteLost;
  }
}
