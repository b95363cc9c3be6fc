// Group commit: appends handed in while a write + fsync is running are written together and share
// the next fsync, so many concurrent saves cost one fsync, not one each. Operations run strictly in
// the order they were requested; an exclusive operation (cut a file, write a snapshot, prune) runs
// after every earlier append is durable and before any later one is written.
//
// Shared by the write-ahead logs: Raft's storage (segments that may be cut between groups) and the
// solo chain's log (one file). The target decides what "durable" means. After a failure the writer
// takes nothing more: a failed fsync may have dropped dirty pages, so retrying could report durable
// what is lost. The one exception is a failure the target declares whole (refusesOnly: a full disk,
// after which the target cut itself back to what was durable): only that group or task is refused.

export interface GroupCommitTarget<Mark> {
  /**
   * Writes the chunks in order and returns once they are on stable storage. marks are the marks of
   * the appends in the group, in order (the target may need the state after the last one).
   */
  commit(chunks: readonly Uint8Array[], marks: readonly Mark[]): Promise<void>;
}

export interface GroupCommitStats {
  /** Groups written and fsync'd. */
  commits: number;
  /** Appends those groups held. */
  appendsCommitted: number;
  bytesCommitted: number;
  exclusiveRuns: number;
}

interface AppendOp<Mark> {
  readonly type: 'append';
  readonly chunks: readonly Uint8Array[];
  readonly mark: Mark;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

interface ExclusiveOp {
  readonly type: 'exclusive';
  readonly run: () => Promise<void>;
  readonly reject: (err: Error) => void;
}

type Op<Mark> = AppendOp<Mark> | ExclusiveOp;

export interface GroupCommitDependencies<Mark> {
  readonly target: GroupCommitTarget<Mark>;
  /** The error every operation gets once the writer has failed: it wraps the first cause. */
  readonly failure: (cause: unknown) => Error;
  /**
   * True for a failure that leaves the target as it was before the commit or task (e.g. a full disk
   * on a file that cuts itself back): the operations of that group, or that task, are rejected with
   * the cause and the writer goes on. Absent: every failure stops the writer.
   */
  readonly refusesOnly?: (cause: unknown) => boolean;
}

export interface GroupCommitOptions {
  /**
   * A group stops growing once it holds this many bytes (it always takes at least one append), so
   * a long backlog is written in pieces and a segment can be cut between them.
   */
  readonly maxGroupBytes?: number;
}

const DEFAULT_MAX_GROUP_BYTES = 16 * 1024 * 1024;

export class GroupCommitWriter<Mark> {
  private readonly target: GroupCommitTarget<Mark>;
  private readonly maxGroupBytes: number;
  private readonly makeFailure: (cause: unknown) => Error;
  private readonly refusesOnly: (cause: unknown) => boolean;
  private readonly queue: Op<Mark>[] = [];
  private working = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};
  private failure: Error | undefined;
  private closing: Error | undefined;
  readonly stats: GroupCommitStats = { commits: 0, appendsCommitted: 0, bytesCommitted: 0, exclusiveRuns: 0 };

  constructor(options: GroupCommitOptions, deps: GroupCommitDependencies<Mark>) {
    this.maxGroupBytes = options.maxGroupBytes ?? DEFAULT_MAX_GROUP_BYTES;
    this.target = deps.target;
    this.makeFailure = deps.failure;
    this.refusesOnly = deps.refusesOnly ?? (() => false);
  }

  /** The error that stopped the writer, if one did. */
  get failed(): Error | undefined {
    return this.failure;
  }

  /** Resolves once the chunks, and everything requested before them, are durable. */
  append(chunks: readonly Uint8Array[], mark: Mark): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ type: 'append', chunks, mark, resolve, reject }));
  }

  /**
   * Runs task alone, in request order; a rejection from it stops the writer like a failed fsync
   * (unless refusesOnly says the target is whole: then only this task is rejected, with the cause).
   */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) =>
      this.enqueue({ type: 'exclusive', run: async () => resolve(await task()), reject }),
    );
  }

  /** Stops taking work: queued operations are rejected with reason; the one running completes. */
  async close(reason: Error): Promise<void> {
    if (!this.closing) {
      this.closing = reason;
      for (const op of this.queue.splice(0)) op.reject(reason);
    }
    await this.idle;
  }

  private enqueue(op: Op<Mark>): void {
    const refusal = this.failure ?? this.closing;
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
        const head = this.queue[0]!;
        if (head.type === 'exclusive') {
          this.queue.shift();
          await this.runExclusive(head);
          continue;
        }
        let end = 0;
        let bytes = 0;
        while (end < this.queue.length && bytes < this.maxGroupBytes) {
          const op = this.queue[end]!;
          if (op.type !== 'append') break;
          for (const chunk of op.chunks) bytes += chunk.length;
          end++;
        }
        await this.runGroup(this.queue.splice(0, end) as AppendOp<Mark>[]);
      }
    } finally {
      this.working = false;
      this.markIdle();
    }
  }

  private async runGroup(group: AppendOp<Mark>[]): Promise<void> {
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    for (const op of group)
      for (const chunk of op.chunks) {
        chunks.push(chunk);
        bytes += chunk.length;
      }
    if (bytes > 0) {
      try {
        await this.target.commit(
          chunks,
          group.map((op) => op.mark),
        );
      } catch (err) {
        if (this.refusesOnly(err)) {
          const refusal = asError(err);
          for (const op of group) op.reject(refusal);
        } else this.fail(err, group);
        return;
      }
      this.stats.commits++;
      this.stats.bytesCommitted += bytes;
    }
    this.stats.appendsCommitted += group.length;
    for (const op of group) op.resolve();
  }

  private async runExclusive(op: ExclusiveOp): Promise<void> {
    try {
      await op.run();
      this.stats.exclusiveRuns++;
    } catch (err) {
      if (this.refusesOnly(err)) op.reject(asError(err));
      else this.fail(err, [op]);
    }
  }

  private fail(cause: unknown, current: readonly Op<Mark>[]): void {
    this.failure ??= this.makeFailure(cause);
    for (const op of current) op.reject(this.failure);
    for (const op of this.queue.splice(0)) op.reject(this.failure);
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
