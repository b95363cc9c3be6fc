// The thin file adapter under the solo write-ahead log: one append-only file per channel,
// fsync'd on every append, replaced atomically (write temp, fsync, rename, fsync directory) when
// compacted. Everything that decides what to write lives in wal-records.ts and wal-writer.ts.
import { mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errorMessage } from '../../errors.js';
import { isDiskFull } from '../../ledger/index.js';

export interface WalFile {
  /** Where the log lives, for messages. */
  readonly location: string;
  /** The whole log as it is on disk (empty when there is none yet). */
  readAll(): Promise<Buffer>;
  /**
   * Appends the chunks in order and returns once they are on stable storage (one fsync). When it
   * fails on a full disk (ENOSPC/EDQUOT) the log is cut back to its length before the call, so a
   * retry never leaves a torn record between good ones; when that cut fails too, the error it
   * throws names no disk-full code and the log must not be written again.
   */
  appendDurably(chunks: readonly Buffer[]): Promise<void>;
  /** Atomically replaces the whole log with content; a crash leaves either the old or the new log. */
  replaceDurably(content: Buffer): Promise<void>;
  close(): Promise<void>;
}

export interface WalStorage {
  /** Opens (creating the directory if needed) the log kept in dir. */
  open(dir: string): Promise<WalFile>;
  /** Deletes the log kept in dir (the channel is gone); no error when there is none. */
  remove(dir: string): Promise<void>;
}

const LOG_NAME = 'wal.log';
const TEMP_NAME = 'wal.log.tmp';

/** Buffers per writev call: Linux's IOV_MAX; libuv writes no more than that at once. */
const MAX_CHUNKS_PER_WRITE = 1024;

async function writeAllChunks(handle: FileHandle, chunks: readonly Buffer[]): Promise<void> {
  let pending = chunks.filter((chunk) => chunk.length > 0);
  while (pending.length > 0) {
    const batch = pending.length > MAX_CHUNKS_PER_WRITE ? pending.slice(0, MAX_CHUNKS_PER_WRITE) : pending;
    let { bytesWritten } = await handle.writev(batch);
    if (bytesWritten === 0) throw new Error('the write-ahead log file accepted no bytes (writev wrote 0)');
    // writev may stop short (signals, quotas, IOV_MAX): go on after the last byte written.
    let done = 0;
    while (done < pending.length && bytesWritten >= pending[done]!.length)
      bytesWritten -= pending[done++]!.length;
    pending = pending.slice(done);
    if (bytesWritten > 0) pending[0] = pending[0]!.subarray(bytesWritten);
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

class FsWalFile implements WalFile {
  private handle: FileHandle | undefined;
  /** Bytes known durable in the log: where a failed append is cut back to. */
  private durableLength = 0;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly openFile: OpenFile,
  ) {}

  get location(): string {
    return join(this.dir, LOG_NAME);
  }

  async readAll(): Promise<Buffer> {
    try {
      return await readFile(this.location);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
      throw err;
    }
  }

  async appendDurably(chunks: readonly Buffer[]): Promise<void> {
    this.assertOpen();
    if (!this.handle) {
      this.handle = await this.openFile(this.location, 'a');
      this.durableLength = (await this.handle.stat()).size;
      // The file may have just been created: make its directory entry durable too.
      await fsyncDirectory(this.dir);
    }
    const handle = this.handle;
    try {
      await writeAllChunks(handle, chunks);
      await handle.datasync();
    } catch (err) {
      if (isDiskFull(err)) await this.cutBack(handle, err);
      throw err;
    }
    for (const chunk of chunks) this.durableLength += chunk.length;
  }

  private async cutBack(handle: FileHandle, cause: unknown): Promise<void> {
    try {
      await handle.truncate(this.durableLength);
      await handle.datasync();
    } catch (err) {
      // Its own code: the log may now end in a torn record, so this is not a retryable full disk.
      throw Object.assign(
        new Error(
          `the write-ahead log ${this.location} could not be cut back to ${this.durableLength} bytes after a write failed ` +
            `(${errorMessage(cause)}): ${errorMessage(err)}; it may end in a torn record, restart the orderer once the disk has space`,
          { cause: err },
        ),
        { code: 'EWALREPAIR' },
      );
    }
  }

  async replaceDurably(content: Buffer): Promise<void> {
    this.assertOpen();
    const tempPath = join(this.dir, TEMP_NAME);
    const temp = await open(tempPath, 'w');
    try {
      await writeAllChunks(temp, [content]);
      await temp.sync();
    } catch (err) {
      // The log being replaced is untouched; a half-written copy must not take space it lacks.
      await temp.close().catch(() => {});
      await rm(tempPath, { force: true }).catch(() => {});
      throw err;
    }
    await temp.close();
    await this.handle?.close();
    this.handle = undefined;
    await rename(tempPath, this.location);
    await fsyncDirectory(this.dir);
    this.handle = await this.openFile(this.location, 'a');
    this.durableLength = content.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`write-ahead log ${this.location} is closed`);
  }
}

/** Opens a file for appending; tests inject faults (a full disk) through it. */
export type OpenFile = (path: string, flags: string) => Promise<FileHandle>;

/** Logs as real files: <dir>/wal.log. */
export class FsWalStorage implements WalStorage {
  private readonly openFile: OpenFile;

  constructor(deps: { openFile?: OpenFile } = {}) {
    this.openFile = deps.openFile ?? ((path, flags) => open(path, flags));
  }

  async open(dir: string): Promise<WalFile> {
    await mkdir(dir, { recursive: true });
    // The directory itself must survive a crash, or the log in it could vanish with it.
    await fsyncDirectory(dirname(dir));
    // A temp file is left only by a crash mid-compaction; the log it was replacing is still whole.
    await rm(join(dir, TEMP_NAME), { force: true });
    return new FsWalFile(dir, this.openFile);
  }

  async remove(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
    await fsyncDirectory(dirname(dir)).catch(() => {});
  }
}
