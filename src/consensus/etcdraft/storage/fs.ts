// The few file-system calls the Raft storage makes, behind an interface so tests can record their
// order and inject faults, and the one real adapter over node:fs.
import { mkdir, open, readFile, readdir, rename, truncate, unlink, type FileHandle } from 'node:fs/promises';

export interface StorageFileHandle {
  /** Writes every byte of the chunks, in order, at the end of the file. */
  write(chunks: readonly Uint8Array[]): Promise<void>;
  /** Returns once the written data is on stable storage. */
  fsync(): Promise<void>;
  close(): Promise<void>;
}

export interface StorageFs {
  /** Creates the directory and its parents; no error when it exists. */
  mkdir(dir: string): Promise<void>;
  /** File names in dir; empty when it does not exist. */
  readdir(dir: string): Promise<string[]>;
  readFile(path: string): Promise<Buffer>;
  /** 'append' creates the file when missing and keeps its content; 'create' starts it empty. */
  open(path: string, mode: 'append' | 'create'): Promise<StorageFileHandle>;
  rename(from: string, to: string): Promise<void>;
  truncate(path: string, length: number): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Makes the directory's entries (created, renamed, removed files) durable. */
  fsyncDirectory(dir: string): Promise<void>;
}

/** Buffers per writev call: Linux's IOV_MAX; libuv writes no more than that at once. */
const MAX_CHUNKS_PER_WRITE = 1024;

async function writeAllChunks(handle: FileHandle, chunks: readonly Uint8Array[]): Promise<void> {
  let pending = chunks.filter((chunk) => chunk.length > 0);
  while (pending.length > 0) {
    const batch = pending.length > MAX_CHUNKS_PER_WRITE ? pending.slice(0, MAX_CHUNKS_PER_WRITE) : pending;
    let { bytesWritten } = await handle.writev(batch);
    if (bytesWritten === 0) throw new Error('the file accepted no bytes (writev wrote 0)');
    // writev may stop short (signals, quotas, IOV_MAX): go on after the last byte written.
    let done = 0;
    while (done < pending.length && bytesWritten >= pending[done]!.length)
      bytesWritten -= pending[done++]!.length;
    pending = pending.slice(done);
    if (bytesWritten > 0) pending[0] = pending[0]!.subarray(bytesWritten);
  }
}

class NodeFileHandle implements StorageFileHandle {
  constructor(private readonly handle: FileHandle) {}

  write(chunks: readonly Uint8Array[]): Promise<void> {
    return writeAllChunks(this.handle, chunks);
  }

  fsync(): Promise<void> {
    // fdatasync: the file size is data for it, so appended records are covered.
    return this.handle.datasync();
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

export class NodeStorageFs implements StorageFs {
  async mkdir(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
  }

  async readdir(dir: string): Promise<string[]> {
    try {
      return await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  readFile(path: string): Promise<Buffer> {
    return readFile(path);
  }

  async open(path: string, mode: 'append' | 'create'): Promise<StorageFileHandle> {
    return new NodeFileHandle(await open(path, mode === 'append' ? 'a' : 'w'));
  }

  rename(from: string, to: string): Promise<void> {
    return rename(from, to);
  }

  truncate(path: string, length: number): Promise<void> {
    return truncate(path, length);
  }

  unlink(path: string): Promise<void> {
    return unlink(path);
  }

  async fsyncDirectory(dir: string): Promise<void> {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
