// The file ledger factory: one FileBlockStore per channel under FileLedger.Location, laid out as
// Fabric's Go orderer lays it out (common/ledger/blockledger/fileledger):
//
//   <location>/chains/<channelId>/blockfile_NNNNNN    block files (plus our blocklocations.idx)
//   <location>/pendingops/remove/<channelId>.remove   marker of a removal in progress
//   <location>/pendingops/join/<channelId>.join       the join block of a channel being onboarded
//
// Removal is crash-safe the way Fabric makes it so, and compatible with it: the marker is made
// durable before anything is deleted, and on start every marked channel is deleted before the
// channels are listed, so a half-removed ledger is never reopened (by us or by a Go orderer).
import { mkdir, open, readFile, readdir, rename, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { unavailable } from '../errors.js';
import { silentLogger, type Logger } from '../logging.js';
import { assertValidChannelId, isValidChannelId } from './channelid.js';
import { syncDirectory } from './blockfiles.js';
import { FileBlockStore, type FileBlockStoreDependencies } from './filestore.js';
import type { LedgerFactory } from './types.js';

export interface FileLedgerFactoryOptions {
  /** FileLedger.Location of orderer.yaml. */
  location: string;
  /** See FileBlockStoreOptions. */
  maxBlockFileSize?: number;
  cachedBlocks?: number;
}

export type FileLedgerFactoryDependencies = FileBlockStoreDependencies;

const removeMarkerSuffix = '.remove';
const joinBlockSuffix = '.join';

export class FileLedgerFactory implements LedgerFactory {
  private readonly chainsDir: string;
  private readonly removeMarkersDir: string;
  private readonly joinBlocksDir: string;
  private readonly logger: Logger;
  private readonly known: Set<string>;
  private readonly stores = new Map<string, Promise<FileBlockStore>>();
  private readonly removals = new Map<string, Promise<void>>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly options: FileLedgerFactoryOptions,
    private readonly dependencies: FileLedgerFactoryDependencies,
    channelIds: string[],
  ) {
    this.chainsDir = chainsDirectory(options.location);
    this.removeMarkersDir = removeMarkersDirectory(options.location);
    this.joinBlocksDir = joinBlocksDirectory(options.location);
    this.logger = dependencies.logger ?? silentLogger();
    this.known = new Set(channelIds);
  }

  /** Prepares the folders, finishes interrupted removals and lists the channels on disk. */
  static async open(
    options: FileLedgerFactoryOptions,
    dependencies: FileLedgerFactoryDependencies,
  ): Promise<FileLedgerFactory> {
    const logger = dependencies.logger ?? silentLogger();
    const chainsDir = chainsDirectory(options.location);
    const markersDir = removeMarkersDirectory(options.location);
    await makeDurableDirectory(chainsDir);
    await makeDurableDirectory(markersDir);
    await makeDurableDirectory(joinBlocksDirectory(options.location));

    for (const name of await readdir(markersDir)) {
      if (name.endsWith(removeMarkerSuffix + '~')) {
        await unlink(path.join(markersDir, name));
        continue;
      }
      if (!name.endsWith(removeMarkerSuffix)) continue;
      const channelId = name.slice(0, -removeMarkerSuffix.length);
      logger.warn({ channelId }, 'finishing the removal of a channel ledger that was interrupted');
      await deleteChannelFolder(chainsDir, channelId);
      await unlink(path.join(markersDir, name));
      await syncDirectory(markersDir);
    }

    const channelIds: string[] = [];
    for (const entry of await readdir(chainsDir, { withFileTypes: true })) {
      if (entry.isDirectory() && isValidChannelId(entry.name)) channelIds.push(entry.name);
      else
        logger.warn(
          { name: entry.name, chainsDir },
          'ignoring an entry of the ledger folder that is not a channel',
        );
    }
    return new FileLedgerFactory(options, dependencies, channelIds);
  }

  channelIds(): string[] {
    return [...this.known].sort();
  }

  open(channelId: string): Promise<FileBlockStore> {
    try {
      assertValidChannelId(channelId);
      this.assertOpen(`the ledger of channel ${channelId} cannot be opened`);
    } catch (err) {
      return Promise.reject(err);
    }
    let store = this.stores.get(channelId);
    if (!store) {
      store = this.openStore(channelId);
      this.stores.set(channelId, store);
      const opening = store;
      opening.then(
        () => {
          if (this.stores.get(channelId) === opening) this.known.add(channelId);
        },
        () => {
          if (this.stores.get(channelId) === opening) this.stores.delete(channelId);
        },
      );
    }
    return store;
  }

  remove(channelId: string): Promise<void> {
    try {
      assertValidChannelId(channelId);
      this.assertOpen(`the ledger of channel ${channelId} cannot be removed`);
    } catch (err) {
      return Promise.reject(err);
    }
    // Detached now, so that an open() issued after this call waits for the removal and gets a fresh ledger.
    const openStore = this.stores.get(channelId);
    const exists = openStore !== undefined || this.known.has(channelId);
    this.stores.delete(channelId);
    this.known.delete(channelId);
    const previous = this.removals.get(channelId) ?? Promise.resolve();
    const removal = previous
      .catch(() => undefined)
      .then(() => (exists ? this.removeChannel(channelId, openStore) : undefined));
    this.removals.set(channelId, removal);
    void removal
      .finally(() => {
        if (this.removals.get(channelId) === removal) this.removals.delete(channelId);
      })
      .catch(() => undefined);
    return removal;
  }

  async saveJoinBlock(channelId: string, blockBytes: Buffer): Promise<void> {
    assertValidChannelId(channelId);
    await writeDurably(this.joinBlockPath(channelId), blockBytes);
    await syncDirectory(this.joinBlocksDir);
  }

  async joinBlock(channelId: string): Promise<Buffer | undefined> {
    assertValidChannelId(channelId);
    try {
      return await readFile(this.joinBlockPath(channelId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async removeJoinBlock(channelId: string): Promise<void> {
    assertValidChannelId(channelId);
    await rm(this.joinBlockPath(channelId), { force: true });
    await syncDirectory(this.joinBlocksDir);
  }

  private joinBlockPath(channelId: string): string {
    return path.join(this.joinBlocksDir, channelId + joinBlockSuffix);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.removals.values()]);
      const stores = await Promise.allSettled([...this.stores.values()]);
      this.stores.clear();
      await Promise.all(stores.map((s) => (s.status === 'fulfilled' ? s.value.close() : undefined)));
    })();
    return this.closing;
  }

  private assertOpen(what: string): void {
    if (this.closing) throw unavailable(`the ledger factory is closed; ${what}`);
  }

  private async openStore(channelId: string): Promise<FileBlockStore> {
    await this.removals.get(channelId)?.catch(() => undefined);
    const directory = path.join(this.chainsDir, channelId);
    const created = await mkdir(directory, { recursive: true });
    if (created !== undefined) await syncDirectory(this.chainsDir);
    const store = await FileBlockStore.open(
      {
        channelId,
        directory,
        maxBlockFileSize: this.options.maxBlockFileSize,
        cachedBlocks: this.options.cachedBlocks,
      },
      { ...this.dependencies, logger: this.logger.child({ channel: channelId }) },
    );
    return store;
  }

  private async removeChannel(
    channelId: string,
    openStore: Promise<FileBlockStore> | undefined,
  ): Promise<void> {
    const directory = path.join(this.chainsDir, channelId);
    const marker = path.join(this.removeMarkersDir, channelId + removeMarkerSuffix);
    await writeDurably(marker, Buffer.alloc(0));
    await syncDirectory(this.removeMarkersDir);

    const store = await openStore?.catch(() => undefined);
    await store?.close();

    await deleteChannelFolder(this.chainsDir, channelId);
    await this.removeJoinBlock(channelId);
    await unlink(marker);
    await syncDirectory(this.removeMarkersDir);
    this.logger.info({ channelId, directory }, 'removed channel ledger');
  }
}

export function chainsDirectory(location: string): string {
  return path.join(location, 'chains');
}

function joinBlocksDirectory(location: string): string {
  return path.join(location, 'pendingops', 'join');
}

function removeMarkersDirectory(location: string): string {
  return path.join(location, 'pendingops', 'remove');
}

async function deleteChannelFolder(chainsDir: string, channelId: string): Promise<void> {
  await rm(path.join(chainsDir, channelId), { recursive: true, force: true });
  await syncDirectory(chainsDir);
}

/** mkdir -p that also makes the new directory entries durable. */
async function makeDurableDirectory(directory: string): Promise<void> {
  const firstCreated = await mkdir(directory, { recursive: true });
  if (firstCreated === undefined) return;
  for (let dir = directory; ; dir = path.dirname(dir)) {
    await syncDirectory(path.dirname(dir));
    if (dir === firstCreated || path.dirname(dir) === dir) break;
  }
}

/** Writes a file through a temporary name (Fabric's filerepo uses the same '~' suffix). */
async function writeDurably(filePath: string, content: Buffer): Promise<void> {
  const temporary = filePath + '~';
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.write(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, filePath);
}
