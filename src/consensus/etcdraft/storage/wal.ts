// A channel's durable Raft state: the write-ahead log under <WALDir>/<channel> and the snap files
// under <SnapDir>/<channel>. The node driver saves each Ready (snapshot, entries, HardState) and
// sends the Ready's messages only once save() has resolved, i.e. once all of it is fsync'd;
// concurrent saves share one fsync. On open it returns what raft restarts from.
import path from 'node:path';
import { isValidChannelId } from '../../../ledger/channelid.js';
import { errorMessage } from '../../../errors.js';
import { RaftStorageError, repairAdvice } from './errors.js';
import { NodeStorageFs, type StorageFs } from './fs.js';
import { GroupCommitWriter, type GroupCommitStats } from '../../../wal/index.js';
import {
  RecordEncodingError,
  encodeEntryChunks,
  encodeHardState,
  encodeSnapshotMarker,
  type SnapshotMarkerKind,
} from './records.js';
import { replaySegments } from './replay.js';
import { WalSegments, readSegments, type LogPosition, type SegmentInfo } from './segments.js';
import { SnapshotFiles } from './snapshots.js';
import type { Entry, HardState, Snapshot } from './types.js';

/** etcd's SegmentSizeBytes, the size Fabric's segments are seen preallocated to. */
export const DEFAULT_SEGMENT_SIZE_BYTES = 64_000_000;
/** Fabric's MaxSnapshotFiles. */
export const DEFAULT_MAX_SNAPSHOT_FILES = 4;

export interface RaftWalOptions {
  /** Consensus.WALDir; the channel's log is in <walDir>/<channel>. */
  readonly walDir: string;
  /** Consensus.SnapDir; the channel's snap files are in <snapDir>/<channel>. */
  readonly snapDir: string;
  readonly channel: string;
  readonly segmentSizeBytes?: number;
  readonly maxSnapshotFiles?: number;
}

/** pino's calling convention, so the orderer's logger fits. */
export interface StorageLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface RaftWalDependencies {
  readonly fs?: StorageFs;
  readonly logger?: StorageLogger;
}

/** What raft restarts from: load it into a MemoryStorage (snapshot, then entries, then HardState). */
export interface RecoveredRaftState {
  readonly hardState: HardState;
  /** undefined when the channel has never had a snapshot. */
  readonly snapshot: Snapshot | undefined;
  /** The entries after the snapshot, contiguous from its index + 1. */
  readonly entries: Entry[];
}

/** A Ready's part to persist. A snapshot here is one raft installed: it replaces the whole log. */
export interface RaftSave {
  readonly hardState?: HardState;
  readonly entries?: readonly Entry[];
  readonly snapshot?: Snapshot;
}

export interface RaftWalStats extends GroupCommitStats {
  /** save() and saveSnapshot() calls accepted. */
  readonly saves: number;
  readonly segmentsCut: number;
  readonly segmentsPruned: number;
  readonly snapFilesPruned: number;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export class RaftWal {
  private readonly channel: string;
  readonly walDir: string;
  readonly snapDir: string;
  private readonly segments: WalSegments;
  private readonly snapFiles: SnapshotFiles;
  private readonly writer: GroupCommitWriter<LogPosition>;
  private readonly logger: StorageLogger | undefined;
  /** Where the log stands once every save requested so far is durable. */
  private position: LogPosition;
  private closed = false;
  private saves = 0;
  private segmentsPruned = 0;
  private snapFilesPruned = 0;

  private constructor(
    options: { channel: string; walDir: string; snapDir: string; position: LogPosition },
    deps: { segments: WalSegments; snapFiles: SnapshotFiles; logger: StorageLogger | undefined },
  ) {
    this.channel = options.channel;
    this.walDir = options.walDir;
    this.snapDir = options.snapDir;
    this.position = options.position;
    this.segments = deps.segments;
    this.snapFiles = deps.snapFiles;
    this.logger = deps.logger;
    this.writer = new GroupCommitWriter<LogPosition>(
      {},
      { target: deps.segments, failure: (cause) => this.failureError(cause) },
    );
  }

  static async open(
    options: RaftWalOptions,
    deps: RaftWalDependencies = {},
  ): Promise<{ wal: RaftWal; recovered: RecoveredRaftState }> {
    if (!isValidChannelId(options.channel))
      throw new RaftStorageError(
        'invalid-save',
        `cannot keep a Raft log for channel ${JSON.stringify(options.channel)}: not a valid channel name`,
        { channel: options.channel },
      );
    const fs = deps.fs ?? new NodeStorageFs();
    const walDir = path.join(options.walDir, options.channel);
    const snapDir = path.join(options.snapDir, options.channel);
    for (const [parent, dir] of [
      [options.walDir, walDir],
      [options.snapDir, snapDir],
    ] as const) {
      await fs.mkdir(dir);
      // The channel's directory itself must survive a crash, or everything in it goes with it.
      await fs.fsyncDirectory(parent);
    }
    const advice = repairAdvice(walDir, snapDir);
    const corrupt = (file: string, offset: number, reason: string) =>
      new RaftStorageError(
        'wal-corrupt',
        `the Raft WAL of channel ${options.channel} is damaged in ${file} at byte offset ${offset}: ${reason}. ${advice}`,
        { channel: options.channel, file, offset, reason },
      );
    const segmentOptions = {
      dir: walDir,
      segmentSizeBytes: options.segmentSizeBytes ?? DEFAULT_SEGMENT_SIZE_BYTES,
    };
    const read = await readSegments(segmentOptions, { fs }, corrupt);
    const replayed = replaySegments(read.replay);
    if (!replayed.ok) throw corrupt(replayed.file, replayed.offset, replayed.reason);
    const { log } = replayed;

    const snapFiles = new SnapshotFiles(
      { dir: snapDir, maxFiles: options.maxSnapshotFiles ?? DEFAULT_MAX_SNAPSHOT_FILES },
      { fs },
    );
    let snapshot: Snapshot | undefined;
    if (log.snapshotIndex > 0) {
      const loaded = await snapFiles.load(log.snapshotTerm, log.snapshotIndex);
      if (typeof loaded === 'string') {
        const file = snapFiles.pathOf(log.snapshotTerm, log.snapshotIndex);
        throw new RaftStorageError(
          'snapshot-corrupt',
          `the Raft WAL of channel ${options.channel} rests on the snapshot at term ${log.snapshotTerm}, ` +
            `index ${log.snapshotIndex}, but ${file} cannot be used: ${loaded}. ${advice}`,
          { channel: options.channel, file, reason: loaded },
        );
      }
      snapshot = loaded;
    }
    // A snap file without its WAL marker was being saved when the process died: never acknowledged.
    const orphans = (await snapFiles.list()).filter((file) => file.index > log.snapshotIndex);
    if (orphans.length > 0) {
      const removed = await snapFiles.remove(orphans);
      deps.logger?.info(
        { channel: options.channel, removed },
        'removed snap files whose save never completed',
      );
    }
    if (read.truncated)
      deps.logger?.warn(
        { channel: options.channel, ...read.truncated },
        'cut a torn record off the end of the Raft WAL (a crash in the middle of an unacknowledged write)',
      );

    const segments = await WalSegments.open(segmentOptions, { fs }, read);
    const wal = new RaftWal(
      {
        channel: options.channel,
        walDir,
        snapDir,
        position: {
          hardState: log.hardState,
          lastIndex: log.lastIndex,
          snapshotTerm: log.snapshotTerm,
          snapshotIndex: log.snapshotIndex,
        },
      },
      { segments, snapFiles, logger: deps.logger },
    );
    return { wal, recovered: { hardState: log.hardState, snapshot, entries: log.entries } };
  }

  get stats(): RaftWalStats {
    return {
      ...this.writer.stats,
      saves: this.saves,
      segmentsCut: this.segments.cuts,
      segmentsPruned: this.segmentsPruned,
      snapFilesPruned: this.snapFilesPruned,
    };
  }

  /** The segment files now in use, oldest first. */
  segmentFiles(): readonly SegmentInfo[] {
    return this.segments.list();
  }

  /**
   * Persists a Ready: its snapshot (a snap file, then a restore marker), its entries (an entry at
   * index i replaces every entry >= i) and its HardState, in that order, so a crash part-way never
   * leaves a HardState that commits entries the log does not have. Resolves once all of it, and
   * every save requested before it, is fsync'd.
   */
  save(update: RaftSave): Promise<void> {
    let position = this.position;
    const chunks: Uint8Array[] = [];
    try {
      this.assertOpen();
      const { snapshot, entries, hardState } = update;
      if (snapshot && snapshot.metadata.index > 0) {
        position = this.withSnapshot(position, snapshot, 'restore');
        chunks.push(encodeSnapshotMarker('restore', snapshot.metadata.term, snapshot.metadata.index));
      }
      if (entries && entries.length > 0) {
        this.checkEntries(position, entries);
        for (const entry of entries) chunks.push(...encodeEntryChunks(entry));
        position = { ...position, lastIndex: entries.at(-1)!.index };
      }
      if (hardState && !sameHardState(hardState, position.hardState)) {
        if (hardState.commit > position.lastIndex)
          throw this.invalid(
            `the hard state commits index ${hardState.commit} but the log ends at ${position.lastIndex}`,
          );
        chunks.push(encodeHardState(hardState));
        position = { ...position, hardState: { ...hardState } };
      }
    } catch (err) {
      return Promise.reject(this.asInvalid(err));
    }
    this.position = position;
    this.saves++;
    const snapshot = update.snapshot && update.snapshot.metadata.index > 0 ? update.snapshot : undefined;
    if (snapshot) void this.writer.exclusive(() => this.snapFiles.write(snapshot)).catch(() => {});
    const durable = this.writer.append(chunks, position);
    if (snapshot) this.prune(snapshot.metadata.index);
    return durable;
  }

  /**
   * Persists a snapshot the application took of its own state at an applied index (Fabric's
   * TakeSnapshot): the snap file, then a compaction marker; entries after index stay in the log.
   * Then removes WAL segments wholly at or below index and snap files beyond the newest N.
   */
  saveSnapshot(snapshot: Snapshot): Promise<void> {
    let position: LogPosition;
    let marker: Buffer;
    try {
      this.assertOpen();
      const { index, term } = snapshot.metadata;
      if (index > this.position.hardState.commit)
        throw this.invalid(
          `a snapshot at index ${index} covers entries that are not committed (commit is ${this.position.hardState.commit})`,
        );
      position = this.withSnapshot(this.position, snapshot, 'compaction');
      marker = encodeSnapshotMarker('compaction', term, index);
    } catch (err) {
      return Promise.reject(this.asInvalid(err));
    }
    this.position = position;
    this.saves++;
    void this.writer.exclusive(() => this.snapFiles.write(snapshot)).catch(() => {});
    const durable = this.writer.append([marker], position);
    this.prune(snapshot.metadata.index);
    return durable;
  }

  /** Resolves once everything requested before, pruning included, is done. */
  flush(): Promise<void> {
    return this.writer.exclusive(async () => {});
  }

  /** Stops taking saves; those still queued are rejected, the one being written completes. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.writer.close(this.closedError());
      await this.segments.close();
    }
  }

  private withSnapshot(position: LogPosition, snapshot: Snapshot, kind: SnapshotMarkerKind): LogPosition {
    const { index, term } = snapshot.metadata;
    if (index <= position.snapshotIndex)
      throw this.invalid(
        `the snapshot at index ${index} is not newer than the one already saved at index ${position.snapshotIndex}`,
      );
    if (kind === 'compaction') {
      if (index > position.lastIndex)
        throw this.invalid(`a snapshot at index ${index} is beyond the last entry ${position.lastIndex}`);
      return { ...position, snapshotIndex: index, snapshotTerm: term };
    }
    return { ...position, snapshotIndex: index, snapshotTerm: term, lastIndex: index };
  }

  private checkEntries(position: LogPosition, entries: readonly Entry[]): void {
    const first = entries[0]!.index;
    if (first <= position.snapshotIndex || first > position.lastIndex + 1)
      throw this.invalid(
        `entries starting at index ${first} do not fit a log holding ${position.snapshotIndex + 1}..${position.lastIndex}: ` +
          `the first entry must be after the snapshot and at most one past the last entry`,
      );
    for (let i = 1; i < entries.length; i++)
      if (entries[i]!.index !== entries[i - 1]!.index + 1)
        throw this.invalid(
          `entry ${entries[i]!.index} follows entry ${entries[i - 1]!.index}: entries must be consecutive`,
        );
  }

  private prune(snapshotIndex: number): void {
    // Best effort: a file left behind costs disk space, never correctness, so it must not stop saves.
    void this.writer
      .exclusive(async () => {
        try {
          const segments = await this.segments.pruneThrough(snapshotIndex);
          const snapFiles = await this.snapFiles.remove(await this.snapFiles.beyondNewest());
          this.segmentsPruned += segments.length;
          this.snapFilesPruned += snapFiles.length;
        } catch (err) {
          this.logger?.warn(
            { channel: this.channel, err: errorMessage(err) },
            'could not remove old Raft WAL segments or snap files; will try again after the next snapshot',
          );
        }
      })
      .catch(() => {});
  }

  private assertOpen(): void {
    if (this.closed) throw this.closedError();
    if (this.writer.failed) throw this.writer.failed;
  }

  private invalid(reason: string): RaftStorageError {
    return new RaftStorageError(
      'invalid-save',
      `cannot save to the Raft WAL of channel ${this.channel}: ${reason}`,
      {
        channel: this.channel,
      },
    );
  }

  private asInvalid(err: unknown): Error {
    if (err instanceof RecordEncodingError) return this.invalid(err.message);
    return err instanceof Error ? err : new Error(String(err));
  }

  private closedError(): RaftStorageError {
    return new RaftStorageError('wal-closed', `the Raft WAL of channel ${this.channel} is closed`, {
      channel: this.channel,
    });
  }

  private failureError(cause: unknown): RaftStorageError {
    return new RaftStorageError(
      'wal-failed',
      `writing the Raft WAL of channel ${this.channel} in ${this.walDir} failed (${errorMessage(cause)}); it takes ` +
        `no more saves, because after a failed write or fsync the kernel may have dropped data it reported ` +
        `written. Fix the disk problem and restart the orderer: the channel recovers from what is durable`,
      { channel: this.channel, dir: this.walDir },
      { cause },
    );
  }
}
