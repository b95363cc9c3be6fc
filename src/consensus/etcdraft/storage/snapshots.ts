// Snap files: `%016x-%016x.snap` (term, index) in the channel's snap dir, as Fabric names them.
// Each is written to a temp file, fsync'd, renamed and its directory fsync'd, so a snap file that
// exists is whole; the WAL's marker record for it is written only after that.
import path from 'node:path';
import type { StorageFs } from './fs.js';
import { decodeSnapshotFile, encodeSnapshotFile } from './records.js';
import type { Snapshot } from './types.js';

export interface SnapFileInfo {
  readonly term: number;
  readonly index: number;
  readonly name: string;
}

const SNAP_PATTERN = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;
const TEMP_SUFFIX = '.tmp';

export function snapFileName(term: number, index: number): string {
  return `${term.toString(16).padStart(16, '0')}-${index.toString(16).padStart(16, '0')}.snap`;
}

export function parseSnapFileName(name: string): SnapFileInfo | undefined {
  const match = SNAP_PATTERN.exec(name);
  if (!match) return undefined;
  const term = Number.parseInt(match[1]!, 16);
  const index = Number.parseInt(match[2]!, 16);
  if (!Number.isSafeInteger(term) || !Number.isSafeInteger(index)) return undefined;
  return { term, index, name };
}

export interface SnapshotFilesOptions {
  readonly dir: string;
  /** Snap files kept after a new one is durable (Fabric's MaxSnapshotFiles). */
  readonly maxFiles: number;
}

export class SnapshotFiles {
  private readonly fs: StorageFs;
  readonly dir: string;
  private readonly maxFiles: number;

  constructor(options: SnapshotFilesOptions, deps: { readonly fs: StorageFs }) {
    this.fs = deps.fs;
    this.dir = options.dir;
    this.maxFiles = options.maxFiles;
  }

  pathOf(term: number, index: number): string {
    return path.join(this.dir, snapFileName(term, index));
  }

  /** Snap files on disk, oldest (lowest index) first; temp files left by a crash are removed. */
  async list(): Promise<SnapFileInfo[]> {
    const names = await this.fs.readdir(this.dir);
    let removed = false;
    for (const name of names)
      if (name.endsWith(TEMP_SUFFIX)) {
        await this.fs.unlink(path.join(this.dir, name));
        removed = true;
      }
    if (removed) await this.fs.fsyncDirectory(this.dir);
    return names
      .map(parseSnapFileName)
      .filter((info): info is SnapFileInfo => info !== undefined)
      .sort((a, b) => a.index - b.index || a.term - b.term);
  }

  async write(snapshot: Snapshot): Promise<void> {
    const finalPath = this.pathOf(snapshot.metadata.term, snapshot.metadata.index);
    const tempPath = finalPath + TEMP_SUFFIX;
    const handle = await this.fs.open(tempPath, 'create');
    try {
      await handle.write([encodeSnapshotFile(snapshot)]);
      await handle.fsync();
    } finally {
      await handle.close();
    }
    await this.fs.rename(tempPath, finalPath);
    await this.fs.fsyncDirectory(this.dir);
  }

  /** The snapshot in the named file, or why it cannot be read. */
  async load(term: number, index: number): Promise<Snapshot | string> {
    let bytes: Buffer;
    try {
      bytes = await this.fs.readFile(this.pathOf(term, index));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'the file does not exist';
      throw err;
    }
    const decoded = decodeSnapshotFile(bytes);
    if (typeof decoded === 'string') return decoded;
    if (decoded.metadata.term !== term || decoded.metadata.index !== index)
      return `the file holds the snapshot at term ${decoded.metadata.term}, index ${decoded.metadata.index}`;
    return decoded;
  }

  /** Removes the given files (oldest first) and makes the removal durable. */
  async remove(files: readonly SnapFileInfo[]): Promise<string[]> {
    for (const file of files) await this.fs.unlink(path.join(this.dir, file.name));
    if (files.length > 0) await this.fs.fsyncDirectory(this.dir);
    return files.map((file) => file.name);
  }

  /** The files beyond the newest maxFiles. */
  async beyondNewest(): Promise<SnapFileInfo[]> {
    const files = await this.list();
    return files.slice(0, Math.max(0, files.length - this.maxFiles));
  }
}
