// etcd raft v3.5.9 tracker/inflights.go: a sliding window of the last index of each MsgApp in
// flight to a follower, bounded by MaxInflightMsgs.
import { invariant } from '../errors.js';

export class Inflights {
  // the starting index in the buffer
  start = 0;
  // number of inflights in the buffer
  count = 0;
  // the size of the buffer
  readonly size: number;
  // buffer contains the index of the last entry inside one message; a ring buffer grown lazily.
  buffer: number[] = [];

  constructor(size: number) {
    this.size = size;
  }

  clone(): Inflights {
    const copy = new Inflights(this.size);
    copy.start = this.start;
    copy.count = this.count;
    copy.buffer = this.buffer.slice();
    return copy;
  }

  // Notifies the window about a new inflight message, whose last index must be larger than the
  // previous one's.
  add(inflight: number): void {
    if (this.full()) throw invariant('cannot add into a Full inflights');
    let next = this.start + this.count;
    const size = this.size;
    if (next >= size) next -= size;
    if (next >= this.buffer.length) this.grow();
    this.buffer[next] = inflight;
    this.count++;
  }

  // Doubles the buffer (up to size) when it is full, as etcd grows lazily to save memory.
  private grow(): void {
    let newSize = this.buffer.length * 2;
    if (newSize === 0) newSize = 1;
    else if (newSize > this.size) newSize = this.size;
    const newBuffer = new Array<number>(newSize).fill(0);
    for (let i = 0; i < this.buffer.length; i++) newBuffer[i] = this.buffer[i] as number;
    this.buffer = newBuffer;
  }

  // Frees the inflights smaller or equal to the given `to` flight.
  freeLE(to: number): void {
    if (this.count === 0 || to < (this.buffer[this.start] as number)) {
      // out of the left side of the window
      return;
    }
    let idx = this.start;
    let i: number;
    for (i = 0; i < this.count; i++) {
      if (to < (this.buffer[idx] as number)) break; // found the first large inflight
      // increase index and maybe rotate
      const size = this.size;
      if (++idx >= size) idx -= size;
    }
    // free i inflights and set new start index
    this.count -= i;
    this.start = idx;
    if (this.count === 0) {
      // inflights is empty, reset the start index so that we don't grow the buffer
      // unnecessarily.
      this.start = 0;
    }
  }

  freeFirstOne(): void {
    this.freeLE(this.buffer[this.start] as number);
  }

  full(): boolean {
    return this.count === this.size;
  }

  // The number of inflight messages.
  countInflight(): number {
    return this.count;
  }

  reset(): void {
    this.count = 0;
    this.start = 0;
  }
}
