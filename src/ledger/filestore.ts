// One channel's append-only file ledger in Fabric's block file format (see blockfiles.ts).
//
// append() queues; a single commit loop takes everything queued, writes it at the tail, fsyncs
// once (group commit), writes the index entries, then raises the height and wakes the readers.
// Readers get the canonical marshalled block, which is byte for byte what was appended (append
// only accepts canonical bytes) and what Fabric's Go orderer would serve for the same folder.
import { open, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { internal, unavailable } from '../errors.js';
import type { Clock } from '../clock.js';
import { silentLogger, type Logger } from '../logging.js';
import {
  BlockFormatError,
  deserializeFileRecord,
  encodeVarint,
  marshalBlock,
  fileRecordChunks,
} from './blockcodec.js';
import {
  blockFilePath,
  decodeIndexEntry,
  defaultMaxBlockFileSize,
  encodeIndexEntries,
  indexEntrySize,
  indexFileName,
  maxSupportedBlockFileSize,
  readAt,
  readFramedRecord,
  syncDirectory,
  type BlockLocation,
} from './blockfiles.js';
import { checkNextBlock, type ChainTip } from './chaincheck.js';
import { HeightWaiter } from './heightwaiter.js';
import { diskFullCode } from './diskfull.js';
import { recoverLedgerFolder } from './recovery.js';
import type { BlockStore, StoredBlock } from './types.js';

export interface FileBlockStoreOptions {
  channelId: string;
  /** The channel's folder, <FileLedger.Location>/chains/<channelId>; it must exist. */
  directory: string;
  /** Roll over to a new block file before one would exceed this; Fabric's default is 64 MiB. */
  maxBlockFileSize?: number;
  /** How many recently written or read blocks to keep in memory (default 64). */
  cachedBlocks?: number;
  /**
   * At most this many bytes of blocks in that cache (default 8 MiB): Deliver followers read the
   * blocks just written, and 64 blocks of 1 MB each would keep 64 MB alive for nothing.
   */
  cachedBlockBytes?: number;
  /** How many block files to keep open for reading. */
  openReadFiles?: number;
}

export interface CommitEvent {
  channelId: string;
  blocks: number;
  height: number;
  durationMs: number;
}

export interface FileBlockStoreDependencies {
  logger?: Logger;
  /** Times each group commit (CommitEvent.durationMs). */
  clock: Clock;
  /** Told after every group commit (for ledger_blockchain_height / ledger_blockstorage_commit_time). */
  onCommit?: (event: CommitEvent) => void;
  /** Opens block files for writing; tests inject faults (a full disk) through it. */
  openFile?: (path: string, flags: string) => Promise<FileHandle>;
}

export interface FileBlockStoreStats {
  appendedBlocks: number;
  commitGroups: number;
  /** fsync/fdatasync calls on block and index files, recovery included. */
  fileSyncs: number;
  directorySyncs: number;
  /** Blocks indexed by scanning the block files when the ledger was opened. */
  reindexedBlocks: number;
  /** Bytes of an incomplete tail truncated when the ledger was opened. */
  droppedBytes: number;
  /** Group commits that failed on a full disk and were cut back to the last good length. */
  diskFullRepairs: number;
}

interface PendingAppend {
  number: number;
  bytes: Buffer;
  /** Length prefix and record in pieces: written together with writev, never joined into one copy. */
  frame: readonly Uint8Array[];
  frameLength: number;
  /** The chain tip once this block is committed. */
  tip: ChainTip;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class FileBlockStore implements BlockStore {
  readonly channelId: string;
  private readonly directory: string;
  private readonly maxBlockFileSize: number;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly onCommit: ((event: CommitEvent) => void) | undefined;
  private readonly waiter: HeightWaiter;
  private readonly cache: BlockCache;
  private readonly readFiles: ReadFilePool;
  private readonly reads = new Map<number, Promise<StoredBlock | undefined>>();
  private readonly counters: FileBlockStoreStats;

  private committedHeight: number;
  private pendingTip: ChainTip;
  private committedTip: ChainTip;
  private readonly openFile: (path: string, flags: string) => Promise<FileHandle>;
  private queue: PendingAppend[] = [];
  private commitLoop: Promise<void> | undefined;
  private failure: unknown;
  private closing: Promise<void> | undefined;

  private constructor(
    options: FileBlockStoreOptions,
    dependencies: FileBlockStoreDependencies,
    private readonly fileSizes: number[],
    tip: ChainTip,
    private readonly index: FileHandle,
    private writeFile: FileHandle,
    counters: FileBlockStoreStats,
  ) {
    this.channelId = options.channelId;
    this.directory = options.directory;
    this.maxBlockFileSize = options.maxBlockFileSize ?? defaultMaxBlockFileSize;
    this.logger = dependencies.logger ?? silentLogger();
    this.clock = dependencies.clock;
    this.onCommit = dependencies.onCommit;
    this.committedHeight = tip.height;
    this.pendingTip = tip;
    this.committedTip = tip;
    this.openFile = dependencies.openFile ?? ((file, flags) => open(file, flags));
    this.counters = counters;
    this.cache = new BlockCache(
      options.cachedBlocks ?? DEFAULT_CACHED_BLOCKS,
      options.cachedBlockBytes ?? DEFAULT_CACHED_BLOCK_BYTES,
    );
    this.readFiles = new ReadFilePool(options.directory, options.openReadFiles ?? 8);
    this.waiter = new HeightWaiter(this.channelId, () => this.committedHeight);
  }

  /** Opens the channel's folder, recovering from an interrupted write or a missing index. */
  static async open(
    options: FileBlockStoreOptions,
    dependencies: FileBlockStoreDependencies,
  ): Promise<FileBlockStore> {
    const maxBlockFileSize = options.maxBlockFileSize ?? defaultMaxBlockFileSize;
    if (
      !Number.isInteger(maxBlockFileSize) ||
      maxBlockFileSize <= 0 ||
      maxBlockFileSize > maxSupportedBlockFileSize
    ) {
      throw internal(
        `maxBlockFileSize ${maxBlockFileSize} is invalid: use a positive number of bytes up to ${maxSupportedBlockFileSize}`,
      );
    }
    const logger = dependencies.logger ?? silentLogger();
    const recovered = await recoverLedgerFolder(
      options.directory,
      path.join(options.directory, indexFileName),
      options.channelId,
      logger,
    );
    let writeFile: FileHandle;
    try {
      writeFile = await (dependencies.openFile ?? open)(
        blockFilePath(options.directory, recovered.fileSizes.length - 1),
        'r+',
      );
    } catch (err) {
      await recovered.index.close();
      throw err;
    }
    const counters: FileBlockStoreStats = {
      appendedBlocks: 0,
      commitGroups: 0,
      fileSyncs: recovered.fileSyncs,
      directorySyncs: recovered.directorySyncs,
      reindexedBlocks: recovered.reindexedBlocks,
      droppedBytes: recovered.droppedBytes,
      diskFullRepairs: 0,
    };
    logger.debug({ channelId: options.channelId, height: recovered.tip.height }, 'opened ledger');
    return new FileBlockStore(
      options,
      dependencies,
      recovered.fileSizes,
      recovered.tip,
      recovered.index,
      writeFile,
      counters,
    );
  }

  height(): number {
    return this.committedHeight;
  }

  stats(): FileBlockStoreStats {
    return { ...this.counters };
  }

  waitForBlock(number: number, signal?: AbortSignal): Promise<void> {
    return this.waiter.waitForBlock(number, signal);
  }

  append(block: StoredBlock): Promise<void> {
    try {
      this.assertWritable(block.number);
      // The cache keeps the block: a view into a larger buffer (a request body, say) is copied so
      // that it does not keep all of that alive; a buffer of its own is kept as it is.
      const bytes = ownsItsMemory(block.bytes) ? block.bytes : Buffer.from(block.bytes);
      const { parts, tip } = checkNextBlock(this.channelId, { number: block.number, bytes }, this.pendingTip);
      // The record's entries are views into bytes, which nothing changes while the write is queued.
      const record = fileRecordChunks(parts);
      let recordSize = 0;
      for (const piece of record) recordSize += piece.length;
      const frame = [encodeVarint(recordSize), ...record];
      const frameLength = frame[0]!.length + recordSize;
      this.pendingTip = tip;
      return new Promise<void>((resolve, reject) => {
        this.queue.push({ number: parts.number, bytes, frame, frameLength, tip, resolve, reject });
        // Started in a microtask so that appends issued together share the first fsync too.
        this.commitLoop ??= Promise.resolve().then(() => this.runCommitLoop());
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  getBlock(number: number): Promise<StoredBlock | undefined> {
    if (this.closing) return Promise.reject(this.closedError(`block ${number} cannot be read`));
    if (!Number.isSafeInteger(number) || number < 0 || number >= this.committedHeight) {
      return Promise.resolve(undefined);
    }
    const cached = this.cache.get(number);
    if (cached) return Promise.resolve({ number, bytes: cached });
    let read = this.reads.get(number);
    if (!read) {
      read = this.readBlock(number).finally(() => this.reads.delete(number));
      this.reads.set(number, read);
    }
    return read;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.waiter.close();
    // Appends already accepted are finished (committed or failed), never dropped.
    while (this.commitLoop) await this.commitLoop;
    await Promise.allSettled([...this.reads.values()]);
    await this.readFiles.closeAll();
    await this.writeFile.close();
    await this.index.close();
    this.cache.clear();
  }

  private assertWritable(number: number): void {
    if (this.closing) throw this.closedError(`block ${number} was not appended`);
    if (this.failure !== undefined) {
      throw internal(
        `the ledger of channel ${this.channelId} stopped accepting blocks after a write failure ` +
          `(${(this.failure as Error).message ?? this.failure}); block ${number} was not appended. ` +
          'Fix the disk problem and restart the orderer: the ledger recovers from its files on start',
        { channelId: this.channelId, blockNumber: number },
        { cause: this.failure },
      );
    }
  }

  private closedError(what: string) {
    return unavailable(`the ledger of channel ${this.channelId} is closed; ${what}`, {
      channelId: this.channelId,
    });
  }

  private async runCommitLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group = this.queue;
        this.queue = [];
        if (this.failure !== undefined) {
          for (const item of group) item.reject(this.writableErrorFor(item.number));
          continue;
        }
        const tailBefore = { files: this.fileSizes.length, size: this.fileSizes[this.fileSizes.length - 1]! };
        try {
          await this.commitGroup(group);
          for (const item of group) item.resolve();
        } catch (err) {
          const code = diskFullCode(err);
          if (code !== undefined && (await this.repairAfterDiskFull(tailBefore, err))) {
            this.rejectAfterDiskFull(group, code, err);
            continue;
          }
          this.failure = err;
          this.logger.error(
            { err, channelId: this.channelId },
            'ledger write failed; the ledger stops accepting blocks',
          );
          const error = internal(
            `writing blocks ${group[0]!.number}-${group[group.length - 1]!.number} of channel ${this.channelId} failed: ` +
              `${(err as Error).message}; the ledger stops accepting blocks, restart the orderer once the disk is fixed`,
            { channelId: this.channelId },
            { cause: err },
          );
          for (const item of group) item.reject(error);
        }
      }
    } finally {
      this.commitLoop = undefined;
    }
  }

  /**
   * Cuts the block files back to where they ended before the failed group (no torn record stays
   * between good ones, so the next append lands at the old tail) and makes that durable. False
   * when even that fails: then the ledger stops for good.
   */
  private async repairAfterDiskFull(
    before: { files: number; size: number },
    cause: unknown,
  ): Promise<boolean> {
    try {
      if (this.fileSizes.length > before.files) {
        await this.writeFile.close();
        for (let file = this.fileSizes.length - 1; file >= before.files; file--)
          await unlink(blockFilePath(this.directory, file)).catch(() => {});
        this.fileSizes.length = before.files;
        this.writeFile = await this.openFile(blockFilePath(this.directory, before.files - 1), 'r+');
      }
      await this.writeFile.truncate(before.size);
      await this.writeFile.datasync();
      this.fileSizes[before.files - 1] = before.size;
      this.counters.diskFullRepairs++;
      return true;
    } catch (err) {
      this.logger.error(
        { err, cause, channelId: this.channelId },
        'ledger could not cut back a write that failed on a full disk',
      );
      return false;
    }
  }

  /**
   * The failed group and every append queued behind it are refused; the ledger takes the next block
   * after the committed tip again, so the writer can retry once there is space.
   */
  private rejectAfterDiskFull(group: PendingAppend[], code: string, cause: unknown): void {
    const refused = [...group, ...this.queue];
    this.queue = [];
    this.pendingTip = this.committedTip;
    const error = unavailable(
      `writing block ${refused[0]!.number} of channel ${this.channelId} failed: the disk is full (${code}) ` +
        `under ${this.directory}; nothing was committed and the ledger still ends at block ${this.committedHeight - 1}. ` +
        'Free space on that disk: the ledger accepts the block again once a write succeeds',
      { channelId: this.channelId, blockNumber: refused[0]!.number, code },
      { cause },
    );
    this.logger.warn(
      { err: cause, channelId: this.channelId, code },
      'ledger write failed on a full disk; will accept a retry',
    );
    for (const item of refused) item.reject(error);
  }

  private writableErrorFor(number: number): unknown {
    try {
      this.assertWritable(number);
      return internal(`block ${number} was not appended`);
    } catch (err) {
      return err;
    }
  }

  private async commitGroup(group: PendingAppend[]): Promise<void> {
    const started = this.clock.now();
    const locations: BlockLocation[] = [];
    let run: Uint8Array[] = [];
    let runStart = this.fileSizes[this.fileSizes.length - 1]!;
    let tail = runStart;
    for (const item of group) {
      if (tail > 0 && tail + item.frameLength > this.maxBlockFileSize) {
        await this.writeRun(run, runStart);
        await this.rollOver();
        run = [];
        runStart = tail = 0;
      }
      locations.push({ file: this.fileSizes.length - 1, offset: tail });
      // A loop, not push(...frame): a block of many envelopes has more pieces than a call takes arguments.
      for (const piece of item.frame) run.push(piece);
      tail += item.frameLength;
    }
    await this.writeRun(run, runStart);

    const first = group[0]!.number;
    const entries = encodeIndexEntries(locations);
    const { bytesWritten } = await this.index.write(entries, 0, entries.length, first * indexEntrySize);
    if (bytesWritten !== entries.length)
      throw new Error(`short write to the ledger index (${bytesWritten} bytes)`);

    for (const item of group) this.cache.set(item.number, item.bytes);
    this.committedHeight = first + group.length;
    this.committedTip = group[group.length - 1]!.tip;
    this.counters.appendedBlocks += group.length;
    this.counters.commitGroups++;
    this.waiter.notify();
    this.onCommit?.({
      channelId: this.channelId,
      blocks: group.length,
      height: this.committedHeight,
      durationMs: this.clock.now() - started,
    });
  }

  /** Writes frames contiguously at position in the current file and makes them durable. */
  private async writeRun(frames: Uint8Array[], position: number): Promise<void> {
    if (frames.length === 0) return;
    const length = frames.reduce((sum, frame) => sum + frame.length, 0);
    let written = 0;
    let pending = frames;
    while (written < length) {
      const { bytesWritten } = await this.writeFile.writev(pending, position + written);
      written += bytesWritten;
      if (written < length) pending = [Buffer.concat(frames).subarray(written)];
    }
    await this.writeFile.datasync();
    this.counters.fileSyncs++;
    this.fileSizes[this.fileSizes.length - 1] = position + length;
  }

  private async rollOver(): Promise<void> {
    const next = this.fileSizes.length;
    const handle = await this.openFile(blockFilePath(this.directory, next), 'w+');
    try {
      await syncDirectory(this.directory);
      this.counters.directorySyncs++;
    } catch (err) {
      await handle.close();
      throw err;
    }
    await this.writeFile.close();
    this.writeFile = handle;
    this.fileSizes.push(0);
    this.logger.info({ channelId: this.channelId, file: next }, 'started a new block file');
  }

  private async readBlock(number: number): Promise<StoredBlock | undefined> {
    const location = decodeIndexEntry(await readAt(this.index, number * indexEntrySize, indexEntrySize), 0);
    const end = this.fileSizes[location.file];
    const corrupt = (reason: string, cause?: unknown) =>
      internal(
        `block ${number} of channel ${this.channelId} cannot be read from ${blockFilePath(this.directory, location.file)} ` +
          `offset ${location.offset}: ${reason}. The index or the block file is damaged: stop the orderer, delete ` +
          `${path.join(this.directory, indexFileName)} so that it is rebuilt from the block files, and start it again`,
        { channelId: this.channelId, blockNumber: number },
        { cause },
      );
    if (end === undefined) throw corrupt('the index points to a block file that does not exist');
    const framed = await this.readFiles.use(location.file, (handle) =>
      readFramedRecord(handle, location.offset, end),
    );
    if (!framed) throw corrupt('the block record is incomplete');
    let bytes: Buffer;
    try {
      const parts = deserializeFileRecord(framed.record);
      if (parts.number !== number) throw corrupt(`the record holds block ${parts.number}`);
      bytes = marshalBlock(parts);
    } catch (err) {
      if (err instanceof BlockFormatError) throw corrupt(err.message, err);
      throw err;
    }
    this.cache.set(number, bytes);
    return { number, bytes };
  }
}

/** Read handles of block files, opened on demand, a few kept open, never closed under a read. */
class ReadFilePool {
  private readonly handles = new Map<number, { handle: Promise<FileHandle>; users: number }>();

  constructor(
    private readonly directory: string,
    private readonly capacity: number,
  ) {}

  async use<T>(file: number, read: (handle: FileHandle) => Promise<T>): Promise<T> {
    let entry = this.handles.get(file);
    if (!entry) {
      entry = { handle: open(blockFilePath(this.directory, file), 'r'), users: 0 };
      this.handles.set(file, entry);
    } else {
      this.handles.delete(file);
      this.handles.set(file, entry);
    }
    entry.users++;
    try {
      let handle: FileHandle;
      try {
        handle = await entry.handle;
      } catch (err) {
        if (this.handles.get(file) === entry) this.handles.delete(file);
        throw err;
      }
      return await read(handle);
    } finally {
      entry.users--;
      await this.evictIdle();
    }
  }

  private async evictIdle(): Promise<void> {
    for (const [file, entry] of this.handles) {
      if (this.handles.size <= this.capacity) break;
      if (entry.users > 0) continue;
      this.handles.delete(file);
      await entry.handle.then((h) => h.close()).catch(() => undefined);
    }
  }

  async closeAll(): Promise<void> {
    const entries = [...this.handles.values()];
    this.handles.clear();
    await Promise.allSettled(entries.map((entry) => entry.handle.then((h) => h.close())));
  }
}

function ownsItsMemory(bytes: Buffer): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
}

const DEFAULT_CACHED_BLOCKS = 64;
const DEFAULT_CACHED_BLOCK_BYTES = 8 * 1024 * 1024;

/** Least-recently-used block bytes by number, bounded by count and by total bytes. */
class BlockCache {
  private readonly entries = new Map<number, Buffer>();
  private bytes = 0;

  constructor(
    private readonly maxBlocks: number,
    private readonly maxBytes: number,
  ) {}

  get(number: number): Buffer | undefined {
    const value = this.entries.get(number);
    if (value !== undefined) {
      this.entries.delete(number);
      this.entries.set(number, value);
    }
    return value;
  }

  set(number: number, value: Buffer): void {
    if (this.maxBlocks <= 0 || value.length > this.maxBytes) return;
    const old = this.entries.get(number);
    if (old !== undefined) {
      this.entries.delete(number);
      this.bytes -= old.length;
    }
    this.entries.set(number, value);
    this.bytes += value.length;
    while (this.entries.size > this.maxBlocks || this.bytes > this.maxBytes) {
      const [oldest, bytes] = this.entries.entries().next().value!;
      this.entries.delete(oldest);
      this.bytes -= bytes.length;
    }
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}
