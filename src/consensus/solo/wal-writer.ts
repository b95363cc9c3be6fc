// Group commit over a WalFile: records handed in while an fsync is running are written together
// and share the next fsync, so many concurrent order() calls cost one fsync, not one each.
// Operations run strictly in the order they were requested; a compaction is one of them.
import { encodeBatchRecord, encodeEnvelopeRecordChunks, encodeRecordChunks } from './wal-records.js';
import type { EnvelopeRecord, MessageKind } from './wal-records.js';
import type { WalFile } from './wal.js';
import { isDiskFull } from '../../ledger/index.js';

export interface WalWriterOptions {
  /** The seq the next envelope gets (from recovery). */
  nextSeq: number;
  /** Bytes already in the log. */
  sizeBytes: number;
}

export interface WalWriterStats {
  /** fsyncs of appended records (one per group commit). */
  syncs: number;
  /** Records made durable by those fsyncs. */
  recordsSynced: number;
  compactions: number;
}

interface AppendOp {
  type: 'append';
  /** The record's bytes, in one or more chunks. */
  chunks: readonly Buffer[];
  size: number;
  /** Called, in log order, once the record is durable and before the caller's promise settles. */
  onDurable: (() => void) | undefined;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface CompactOp {
  type: 'compact';
  collect: () => readonly EnvelopeRecord[];
  resolve: () => void;
  reject: (err: Error) => void;
}

type Op = AppendOp | CompactOp;

export class WalWriter {
  private readonly file: WalFile;
  private readonly queue: Op[] = [];
  private seq: number;
  private size: number;
  private lastCompactedBytes = 0;
  private working = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};
  private failure: Error | undefined;
  private closing: Error | undefined;
  readonly stats: WalWriterStats = { syncs: 0, recordsSynced: 0, compactions: 0 };

  constructor(options: WalWriterOptions, deps: { file: WalFile }) {
    this.file = deps.file;
    this.seq = options.nextSeq;
    this.size = options.sizeBytes;
  }

  get location(): string {
    return this.file.location;
  }

  /** Bytes the last compaction left (the envelopes not yet in a block then). */
  get compactedBytes(): number {
    return this.lastCompactedBytes;
  }

  /** Bytes in the log, including records queued but not yet written. */
  get sizeBytes(): number {
    return this.size;
  }

  /**
   * Assigns the envelope its seq now (so seqs follow call order) and resolves once it is durable.
   * onDurable(seq) runs in seq order, synchronously when the fsync completes.
   */
  appendEnvelope(
    kind: MessageKind,
    configSeq: number,
    raw: Buffer,
    onDurable: (seq: number) => void,
  ): Promise<void> {
    const seq = this.seq++;
    const chunks = encodeEnvelopeRecordChunks({ seq, kind, configSeq, raw });
    return this.append(chunks, () => onDurable(seq));
  }

  appendBatch(blockNumber: number, firstSeq: number, lastSeq: number): Promise<void> {
    return this.append([encodeBatchRecord({ blockNumber, firstSeq, lastSeq })], undefined);
  }

  /**
   * Replaces the log with just the envelopes collect() returns (called when the compaction runs,
   * after every earlier append is durable). The caller guarantees no block is between its BATCH
   * record and its ledger write, so no BATCH record needs to survive.
   */
  compact(collect: () => readonly EnvelopeRecord[]): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ type: 'compact', collect, resolve, reject }));
  }

  /** Stops taking work: queued operations are rejected with reason; the one running completes. */
  async close(reason: Error): Promise<void> {
    if (!this.closing) {
      this.closing = reason;
      for (const op of this.queue.splice(0)) op.reject(reason);
    }
    await this.idle;
    await this.file.close();
  }

  private append(chunks: readonly Buffer[], onDurable: (() => void) | undefined): Promise<void> {
    let size = 0;
    for (const chunk of chunks) size += chunk.length;
    this.size += size;
    return new Promise((resolve, reject) =>
      this.enqueue({ type: 'append', chunks, size, onDurable, resolve, reject }),
    );
  }

  private enqueue(op: Op): void {
    const refusal = this.closing ?? this.failure;
    if (refusal) {
      op.reject(refusal);
      return;
    }
    this.queue.push(op);
    if (!this.working) {
      this.working = true;
      this.idle = new Promise((resolve) => (this.markIdle = resolve));
      void this.work();
    }
  }

  private async work(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        if (this.queue[0]!.type === 'compact') {
          await this.runCompaction(this.queue.shift() as CompactOp);
          continue;
        }
        let end = 0;
        while (end < this.queue.length && this.queue[end]!.type === 'append') end++;
        await this.runAppends(this.queue.splice(0, end) as AppendOp[]);
      }
    } finally {
      this.working = false;
      this.markIdle();
    }
  }

  private async runAppends(group: AppendOp[]): Promise<void> {
    try {
      await this.file.appendDurably(group.flatMap((op) => op.chunks));
    } catch (err) {
      if (isDiskFull(err)) {
        // The file cut the log back: only these records are refused, the log goes on after them.
        for (const op of group) this.size -= op.size;
        for (const op of group) op.reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      this.fail(err, group);
      return;
    }
    this.stats.syncs++;
    this.stats.recordsSynced += group.length;
    for (const op of group) op.onDurable?.();
    for (const op of group) op.resolve();
  }

  private async runCompaction(op: CompactOp): Promise<void> {
    try {
      const content = Buffer.concat(op.collect().flatMap(encodeRecordChunks));
      await this.file.replaceDurably(content);
      this.lastCompactedBytes = content.length;
      // Appends queued behind this compaction go into the new log.
      this.size = content.length + this.queue.reduce((n, o) => n + (o.type === 'append' ? o.size : 0), 0);
      this.stats.compactions++;
    } catch (err) {
      if (isDiskFull(err)) {
        // The old log is whole: the compaction is refused and may be tried again later.
        op.reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      this.fail(err, [op]);
      return;
    }
    op.resolve();
  }

  private fail(err: unknown, current: Op[]): void {
    // After a failed fsync the kernel may have dropped the dirty pages: never retry, stop for good
    // (a full disk is the exception: the file cut the log back to bytes that were durable).
    const failure = err instanceof Error ? err : new Error(String(err));
    this.failure ??= failure;
    for (const op of current) op.reject(failure);
    for (const op of this.queue.splice(0)) op.reject(failure);
  }
}
