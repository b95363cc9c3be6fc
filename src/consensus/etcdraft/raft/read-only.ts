// etcd raft v3.5.9 read_only.go: linearizable read requests waiting for a quorum of heartbeat acks.
import { invariant } from './errors.js';
import type { Message } from './types.js';

export enum ReadOnlyOption {
  // Guarantees linearizability by communicating with the quorum.
  ReadOnlySafe = 0,
  // Relies on the leader lease; affected by clock drift.
  ReadOnlyLeaseBased = 1,
}

// A read-only request's answer: the commit index at the time of the request and its context.
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

export interface ReadIndexStatus {
  req: Message;
  index: number;
  // Only ever set to true; kept as a map so it can be fed to a quorum's voteResult.
  acks: Map<number, boolean>;
}

// Read contexts are compared as byte strings, as Go's map[string] keys do.
export const contextKey = (ctx: Uint8Array | undefined): string =>
  ctx === undefined ? '' : Buffer.from(ctx.buffer, ctx.byteOffset, ctx.byteLength).toString('latin1');

export class ReadOnly {
  readonly option: ReadOnlyOption;
  readonly pendingReadIndex = new Map<string, ReadIndexStatus>();
  readIndexQueue: string[] = [];

  constructor(option: ReadOnlyOption) {
    this.option = option;
  }

  // Adds a read-only request to the pending queue; index is the commit index when received.
  addRequest(index: number, m: Message): void {
    const s = contextKey(m.entries[0]?.data);
    if (this.pendingReadIndex.has(s)) return;
    this.pendingReadIndex.set(s, { index, req: m, acks: new Map() });
    this.readIndexQueue.push(s);
  }

  // Records a heartbeat ack for the request with this context; returns its acks so far.
  recvAck(id: number, context: Uint8Array | undefined): Map<number, boolean> {
    const rs = this.pendingReadIndex.get(contextKey(context));
    if (rs === undefined) return new Map();
    rs.acks.set(id, true);
    return rs.acks;
  }

  // Dequeues the requests up to and including the one with the message's context.
  advance(m: Message): ReadIndexStatus[] {
    let i = 0;
    let found = false;
    const ctx = contextKey(m.context);
    const rss: ReadIndexStatus[] = [];
    for (const okctx of this.readIndexQueue) {
      i++;
      const rs = this.pendingReadIndex.get(okctx);
      if (rs === undefined) throw invariant('cannot find corresponding read state from pending map');
      rss.push(rs);
      if (okctx === ctx) {
        found = true;
        break;
      }
    }
    if (!found) return [];
    this.readIndexQueue = this.readIndexQueue.slice(i);
    for (const rs of rss) this.pendingReadIndex.delete(contextKey(rs.req.entries[0]?.data));
    return rss;
  }

  // The context of the last pending read-only request, '' when none.
  lastPendingRequestCtx(): string {
    if (this.readIndexQueue.length === 0) return '';
    return this.readIndexQueue[this.readIndexQueue.length - 1] as string;
  }
}
