// Test-only: the real file system with every call recorded (relative to a root) and hooks that
// can hold or fail a call, for checking the WAL's write/fsync/rename order and its failure paths.
import path from 'node:path';
import {
  NodeStorageFs,
  type StorageFileHandle,
  type StorageFs,
} from '../../../../../src/consensus/etcdraft/storage/index.js';
import type { Entry, HardState } from '../../../../../src/consensus/etcdraft/storage/index.js';
import { EntryType } from '../../../../../src/consensus/etcdraft/storage/index.js';

export type FsOperation = 'write' | 'fsync' | 'rename' | 'truncate' | 'unlink' | 'fsync-dir' | 'open';

export interface FsHooks {
  /** Runs before the call; may wait (to hold it) or throw (to fail it). */
  before?: (operation: FsOperation, file: string) => Promise<void> | void;
}

export class RecordingFs implements StorageFs {
  readonly events: string[] = [];
  hooks: FsHooks = {};
  private readonly inner = new NodeStorageFs();

  constructor(private readonly root: string) {}

  private name(file: string): string {
    return path.relative(this.root, file) || '.';
  }

  private async call(operation: FsOperation, file: string, detail = ''): Promise<void> {
    await this.hooks.before?.(operation, this.name(file));
    this.events.push(`${operation} ${this.name(file)}${detail}`);
  }

  mkdir(dir: string): Promise<void> {
    return this.inner.mkdir(dir);
  }

  readdir(dir: string): Promise<string[]> {
    return this.inner.readdir(dir);
  }

  readFile(file: string): Promise<Buffer> {
    return this.inner.readFile(file);
  }

  async open(file: string, mode: 'append' | 'create'): Promise<StorageFileHandle> {
    await this.call('open', file, ` ${mode}`);
    const handle = await this.inner.open(file, mode);
    return {
      write: async (chunks) => {
        await this.call('write', file, ` ${chunks.reduce((n, c) => n + c.length, 0)}`);
        await handle.write(chunks);
      },
      fsync: async () => {
        await this.call('fsync', file);
        await handle.fsync();
      },
      close: () => handle.close(),
    };
  }

  async rename(from: string, to: string): Promise<void> {
    await this.call('rename', from, ` -> ${this.name(to)}`);
    await this.inner.rename(from, to);
  }

  async truncate(file: string, length: number): Promise<void> {
    await this.call('truncate', file, ` ${length}`);
    await this.inner.truncate(file, length);
  }

  async unlink(file: string): Promise<void> {
    await this.call('unlink', file);
    await this.inner.unlink(file);
  }

  async fsyncDirectory(dir: string): Promise<void> {
    await this.call('fsync-dir', dir);
    await this.inner.fsyncDirectory(dir);
  }
}

/** A promise with its resolve, for holding a file-system call until the test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Deterministic entry bytes, so a reopened log can be compared with what was saved. */
export function entry(index: number, term: number, size = 32, type: EntryType = EntryType.Normal): Entry {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (index * 31 + term * 7 + i) & 0xff;
  return { index, term, type, data };
}

export function entries(first: number, last: number, term: number, size = 32): Entry[] {
  const out: Entry[] = [];
  for (let index = first; index <= last; index++) out.push(entry(index, term, size));
  return out;
}

export function hardState(term: number, vote: number, commit: number): HardState {
  return { term, vote, commit };
}

/** Entries as plain objects with Buffer data, for deepEqual against what open() returns. */
export function plain(list: readonly Entry[]): Entry[] {
  return list.map((e) => ({ index: e.index, term: e.term, type: e.type, data: Buffer.from(e.data) }));
}
