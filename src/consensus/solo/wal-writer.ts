// The solo chain's log over the shared group-commit writer (src/wal/): records handed in while an
// fsync is running are written together and share the next fsync, so many concurrent order() calls
// cost one fsync, not one each. Operations run strictly in the order they were requested; a
// compaction is one of them. A full disk refuses only the records (or the compaction) it hit: the
// file cut the log back to its last whole record, so the log goes on after them.
import { GroupCommitWriter, type GroupCommitTarget } from '../../wal/index.js';
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

/** Appends go to the end of the one log file. */
class LogFileTarget implements GroupCommitTarget<undefined> {
  constructor(private readonly file: WalFile) {}

  commit(chunks: readonly Uint8Array[]): Promise<void> {
    // Every chunk is a Buffer made by wal-records.ts.
    return this.file.appendDurably(chunks as readonly Buffer[]);
  }
}

export class WalWriter {
  private readonly file: WalFile;
  private readonly writer: GroupCommitWriter<undefined>;
  private seq: number;
  /** Bytes in the log file. */
  private durableBytes: number;
  /** Bytes of records handed in and not yet written or refused. */
  private pendingBytes = 0;
  private lastCompactedBytes = 0;
  private compactions = 0;

  constructor(options: WalWriterOptions, deps: { file: WalFile }) {
    this.file = deps.file;
    this.seq = options.nextSeq;
    this.durableBytes = options.sizeBytes;
    this.writer = new GroupCommitWriter<undefined>(
      {},
      {
        target: new LogFileTarget(deps.file),
        // The first failure as it was: the chain words what the caller is told.
        failure: (cause) => (cause instanceof Error ? cause : new Error(String(cause))),
        refusesOnly: isDiskFull,
      },
    );
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
    return this.durableBytes + this.pendingBytes;
  }

  get stats(): WalWriterStats {
    const { commits, appendsCommitted } = this.writer.stats;
    return { syncs: commits, recordsSynced: appendsCommitted, compactions: this.compactions };
  }

  /**
   * Assigns the envelope its seq now (so seqs follow call order) and resolves once it is durable.
   * onDurable(seq) runs in seq order once the fsync completes, before the caller's promise settles.
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
    return this.writer.exclusive(async () => {
      const content = Buffer.concat(collect().flatMap(encodeRecordChunks));
      await this.file.replaceDurably(content);
      // Appends queued behind this compaction go into the new log (they are still pending).
      this.durableBytes = content.length;
      this.lastCompactedBytes = content.length;
      this.compactions++;
    });
  }

  /** Stops taking work: queued operations are rejected with reason; the one running completes. */
  async close(reason: Error): Promise<void> {
    await this.writer.close(reason);
    await this.file.close();
  }

  private append(chunks: readonly Buffer[], onDurable: (() => void) | undefined): Promise<void> {
    let size = 0;
    for (const chunk of chunks) size += chunk.length;
    this.pendingBytes += size;
    // The writer settles a group's appends in log order, so these handlers run in log order too.
    return this.writer.append(chunks, undefined).then(
      () => {
        this.pendingBytes -= size;
        this.durableBytes += size;
        onDurable?.();
      },
      (err: unknown) => {
        this.pendingBytes -= size;
        throw err;
      },
    );
  }
}
