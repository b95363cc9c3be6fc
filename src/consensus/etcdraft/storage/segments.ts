// The WAL's segment files: `%016x-%016x.wal` (seq, index of the first entry expected in it), cut
// once the current one reaches the segment size. A new segment is written as a temp file with its
// header, fsync'd, renamed and its directory fsync'd, so a segment on disk always has a header.
// Only the last segment can have a torn tail: a segment is cut only after its last write is durable.
import path from 'node:path';
import type { RaftStorageError } from './errors.js';
import type { StorageFileHandle, StorageFs } from './fs.js';
import type { GroupCommitTarget } from '../../../wal/index.js';
import { decodeRecords, encodeSegmentHeader } from './records.js';
import type { ReplaySegment } from './replay.js';
import type { HardState } from './types.js';

/** Where the log stands after an append: what the header of a segment cut right after it holds. */
export interface LogPosition {
  readonly hardState: HardState;
  readonly lastIndex: number;
  readonly snapshotTerm: number;
  readonly snapshotIndex: number;
}

export interface SegmentInfo {
  readonly seq: number;
  readonly firstIndex: number;
  readonly name: string;
}

const SEGMENT_PATTERN = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;
const TEMP_SUFFIX = '.tmp';

export function segmentName(seq: number, firstIndex: number): string {
  return `${seq.toString(16).padStart(16, '0')}-${firstIndex.toString(16).padStart(16, '0')}.wal`;
}

export function parseSegmentName(name: string): SegmentInfo | undefined {
  const match = SEGMENT_PATTERN.exec(name);
  if (!match) return undefined;
  const seq = Number.parseInt(match[1]!, 16);
  const firstIndex = Number.parseInt(match[2]!, 16);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(firstIndex)) return undefined;
  return { seq, firstIndex, name };
}

export interface SegmentOptions {
  readonly dir: string;
  readonly segmentSizeBytes: number;
}

export interface SegmentDependencies {
  readonly fs: StorageFs;
}

export interface ReadSegmentsResult {
  readonly replay: ReplaySegment[];
  readonly segments: SegmentInfo[];
  /** Size of the last segment once any torn tail is cut off. */
  readonly lastSize: number;
  /** The torn tail cut off the last segment, if there was one. */
  readonly truncated:
    { readonly file: string; readonly offset: number; readonly droppedBytes: number } | undefined;
}

/**
 * Reads every segment in dir, cutting a torn tail off the last one (durably) and refusing any other
 * damage. corrupt builds the error for damage at file:offset.
 */
export async function readSegments(
  options: SegmentOptions,
  deps: SegmentDependencies,
  corrupt: (file: string, offset: number, reason: string) => RaftStorageError,
): Promise<ReadSegmentsResult> {
  const { fs } = deps;
  const names = await fs.readdir(options.dir);
  let removedTemp = false;
  for (const name of names)
    if (name.endsWith(TEMP_SUFFIX)) {
      // Left by a crash while cutting a segment: the segment before it is still the last one.
      await fs.unlink(path.join(options.dir, name));
      removedTemp = true;
    }
  if (removedTemp) await fs.fsyncDirectory(options.dir);
  const segments = names
    .map(parseSegmentName)
    .filter((info): info is SegmentInfo => info !== undefined)
    .sort((a, b) => a.seq - b.seq);
  for (let i = 1; i < segments.length; i++)
    if (segments[i]!.seq !== segments[i - 1]!.seq + 1)
      throw corrupt(
        path.join(options.dir, segments[i]!.name),
        0,
        `segment seq ${segments[i - 1]!.seq + 1} is missing before it`,
      );

  const replay: ReplaySegment[] = [];
  let lastSize = 0;
  let truncated: ReadSegmentsResult['truncated'];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const file = path.join(options.dir, segment.name);
    const bytes = await fs.readFile(file);
    const decoded = decodeRecords(bytes);
    const isLast = i === segments.length - 1;
    if (decoded.tail.kind === 'corrupt') throw corrupt(file, decoded.tail.offset, decoded.tail.reason);
    if (decoded.tail.kind === 'torn') {
      if (!isLast)
        throw corrupt(
          file,
          decoded.tail.offset,
          'a segment that is not the last one ends in an incomplete record',
        );
      if (decoded.records.length === 0) {
        if (i === 0)
          throw corrupt(
            file,
            0,
            'the only segment has no complete header, so the log state it began with is lost',
          );
        // A segment is renamed into place only once its header is durable, so this takes damage,
        // but nothing acknowledged can be in a segment without a header either.
        await fs.unlink(file);
        await fs.fsyncDirectory(options.dir);
        segments.pop();
        truncated = { file, offset: 0, droppedBytes: bytes.length };
        break;
      }
      await fs.truncate(file, decoded.validBytes);
      const handle = await fs.open(file, 'append');
      try {
        await handle.fsync();
      } finally {
        await handle.close();
      }
      truncated = { file, offset: decoded.validBytes, droppedBytes: bytes.length - decoded.validBytes };
    }
    replay.push({ file, seq: segment.seq, firstIndex: segment.firstIndex, records: decoded.records });
    lastSize = decoded.validBytes;
  }
  return { replay, segments, lastSize, truncated };
}

/** The open log: appends go to the last segment, which is cut once it is full. */
export class WalSegments implements GroupCommitTarget<LogPosition> {
  private readonly fs: StorageFs;
  private readonly dir: string;
  private readonly segmentSizeBytes: number;
  private readonly segments: SegmentInfo[];
  private handle: StorageFileHandle | undefined;
  private size: number;
  /** Segments cut since open (for tests and the benchmark). */
  cuts = 0;

  private constructor(
    options: SegmentOptions,
    deps: SegmentDependencies,
    segments: SegmentInfo[],
    size: number,
  ) {
    this.fs = deps.fs;
    this.dir = options.dir;
    this.segmentSizeBytes = options.segmentSizeBytes;
    this.segments = segments;
    this.size = size;
  }

  /** Opens the log read by readSegments, or creates its first segment when there is none. */
  static async open(
    options: SegmentOptions,
    deps: SegmentDependencies,
    existing: { segments: SegmentInfo[]; lastSize: number },
  ): Promise<WalSegments> {
    const log = new WalSegments(options, deps, [...existing.segments], existing.lastSize);
    if (log.segments.length === 0) {
      await log.createSegment(0, {
        hardState: { term: 0, vote: 0, commit: 0 },
        lastIndex: 0,
        snapshotTerm: 0,
        snapshotIndex: 0,
      });
    } else {
      log.handle = await deps.fs.open(log.pathOf(log.segments.at(-1)!), 'append');
    }
    return log;
  }

  /** The segments now on disk, oldest first. */
  list(): readonly SegmentInfo[] {
    return this.segments;
  }

  async commit(chunks: readonly Uint8Array[], marks: readonly LogPosition[]): Promise<void> {
    const handle = this.handle;
    if (!handle) throw new Error(`the WAL in ${this.dir} is closed`);
    await handle.write(chunks);
    await handle.fsync();
    for (const chunk of chunks) this.size += chunk.length;
    if (this.size >= this.segmentSizeBytes) await this.cut(marks.at(-1)!);
  }

  /**
   * Deletes, oldest first, the segments whose every live entry is at or below snapshotIndex. The
   * last segment always stays; a crash part-way leaves a shorter run of whole segments.
   */
  async pruneThrough(snapshotIndex: number): Promise<string[]> {
    const removed: string[] = [];
    while (this.segments.length > 1 && this.segments[1]!.firstIndex - 1 <= snapshotIndex) {
      const oldest = this.segments[0]!;
      await this.fs.unlink(this.pathOf(oldest));
      this.segments.shift();
      removed.push(oldest.name);
    }
    if (removed.length > 0) await this.fs.fsyncDirectory(this.dir);
    return removed;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  private async cut(position: LogPosition): Promise<void> {
    const next = this.segments.at(-1)!.seq + 1;
    const previous = this.handle;
    this.handle = undefined;
    await previous?.close();
    await this.createSegment(next, position);
    this.cuts++;
  }

  private async createSegment(seq: number, position: LogPosition): Promise<void> {
    const info: SegmentInfo = {
      seq,
      firstIndex: position.lastIndex + 1,
      name: segmentName(seq, position.lastIndex + 1),
    };
    const header = encodeSegmentHeader({
      seq,
      firstIndex: info.firstIndex,
      hardState: position.hardState,
      snapshotTerm: position.snapshotTerm,
      snapshotIndex: position.snapshotIndex,
    });
    const finalPath = this.pathOf(info);
    const tempPath = finalPath + TEMP_SUFFIX;
    const temp = await this.fs.open(tempPath, 'create');
    try {
      await temp.write([header]);
      await temp.fsync();
    } finally {
      await temp.close();
    }
    await this.fs.rename(tempPath, finalPath);
    await this.fs.fsyncDirectory(this.dir);
    this.segments.push(info);
    this.size = header.length;
    this.handle = await this.fs.open(finalPath, 'append');
  }

  private pathOf(info: SegmentInfo): string {
    return path.join(this.dir, info.name);
  }
}
