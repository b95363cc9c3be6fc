// Opening a channel's ledger folder after anything: a clean shutdown, kill -9 in the middle of a
// write, a lost or stale index, or a folder written by Fabric's Go orderer.
//
// A block is committed once its bytes are fsync'd, and blocks only ever go to the end of the last
// block file (our writer fsyncs a file before rolling over to the next one), so after a crash only
// the tail of the last non-empty file can hold a torn or unfinished block. Recovery trusts the
// index as far as it is consistent, verifies the last block it points to, then scans the block
// files from there to the end, indexing every complete block that decodes with the expected number
// and previous hash. Bytes after the last such block in the last file are truncated (and the
// truncation fsync'd), so a partial block is never served. An invalid block anywhere else is
// corruption, not a torn write: recovery refuses to open rather than throw data away.
import { constants, open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { internal } from '../errors.js';
import type { Logger } from '../logging.js';
import { blockDataHash, blockHeaderHash } from './blockhash.js';
import { BlockFormatError, deserializeFileRecord, readVarint } from './blockcodec.js';
import { emptyTip, type ChainTip } from './chaincheck.js';
import {
  blockFilePath,
  decodeIndexEntry,
  encodeIndexEntries,
  indexEntrySize,
  parseBlockFileName,
  readAt,
  readFramedRecord,
  syncDirectory,
  type BlockLocation,
} from './blockfiles.js';

export interface ScanResult {
  /** Offsets (relative to the scanned buffer's file) of the valid records' length prefixes. */
  offsets: number[];
  tip: ChainTip;
  /** File offset just after the last valid record. */
  validEnd: number;
  /** Why the scan stopped before the end of the buffer; undefined when it reached the end cleanly. */
  problem?: string;
}

/**
 * Scans framed block records in buffer, which holds a block file's bytes from fileOffset on.
 * Pure: stops at the first record that is incomplete, malformed, out of order, not chained, or
 * whose data does not match its data hash.
 */
export function scanBlockRecords(buffer: Uint8Array, fileOffset: number, startTip: ChainTip): ScanResult {
  const offsets: number[] = [];
  let tip = startTip;
  let at = 0;
  const stop = (problem: string): ScanResult => ({ offsets, tip, validEnd: fileOffset + at, problem });
  while (at < buffer.length) {
    let prefix: { value: number; next: number } | undefined;
    try {
      prefix = readVarint(buffer, at);
    } catch (err) {
      return stop(`bad length prefix: ${(err as Error).message}`);
    }
    if (!prefix) return stop('the length prefix is incomplete');
    if (prefix.value === 0) return stop('a zero length prefix');
    const end = prefix.next + prefix.value;
    if (end > buffer.length) {
      return stop(
        `the block record needs ${prefix.value} bytes but only ${buffer.length - prefix.next} remain`,
      );
    }
    let block;
    try {
      block = deserializeFileRecord(buffer.subarray(prefix.next, end));
    } catch (err) {
      if (err instanceof BlockFormatError) return stop(`the block record is malformed: ${err.message}`);
      throw err;
    }
    if (block.number !== tip.height)
      return stop(`found block ${block.number} where block ${tip.height} belongs`);
    if (!tip.lastHeaderHash.equals(block.previousHash)) {
      return stop(`block ${block.number} does not chain to block ${tip.height - 1} (previous_hash mismatch)`);
    }
    if (!blockDataHash(block.data).equals(block.dataHash)) {
      return stop(`the data of block ${block.number} does not match its data hash`);
    }
    offsets.push(fileOffset + at);
    tip = { height: tip.height + 1, lastHeaderHash: blockHeaderHash(block) };
    at = end;
  }
  return { offsets, tip, validEnd: fileOffset + at };
}

export interface RecoveredLedger {
  /** Size of each block file after recovery; the last one is the file to append to. */
  fileSizes: number[];
  tip: ChainTip;
  /** Open read-write handle of the index file, holding exactly tip.height entries. */
  index: FileHandle;
  /** Blocks whose index entries had to be (re)built by scanning. */
  reindexedBlocks: number;
  droppedBytes: number;
  fileSyncs: number;
  directorySyncs: number;
}

export async function recoverLedgerFolder(
  directory: string,
  indexPath: string,
  channelId: string,
  logger: Logger,
): Promise<RecoveredLedger> {
  let fileSyncs = 0;
  let directorySyncs = 0;
  const fileNumbers = (await readdir(directory))
    .map(parseBlockFileName)
    .filter((n): n is number => n !== undefined)
    .sort((a, b) => a - b);
  if (fileNumbers.some((n, i) => n !== i)) {
    throw internal(
      `the ledger of channel ${channelId} in ${directory} has block files numbered ${fileNumbers.join(', ')}, ` +
        'not 0 to N-1 without gaps, so blocks are missing; restore the folder from a backup or remove the channel ' +
        'and let it replicate again',
      { channelId, directory },
    );
  }
  if (fileNumbers.length === 0) {
    const first = await open(blockFilePath(directory, 0), 'a');
    await first.close();
    await syncDirectory(directory);
    directorySyncs++;
    fileNumbers.push(0);
  }
  const fileSizes = await Promise.all(
    fileNumbers.map(async (n) => (await stat(blockFilePath(directory, n))).size),
  );

  const index = await open(indexPath, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    let indexed = await consistentIndexPrefix(index, fileSizes);
    let tip = emptyTip();
    let resumeAt: BlockLocation = { file: 0, offset: 0 };
    if (indexed > 0) {
      const verified = await verifyIndexedBlock(directory, index, indexed - 1, fileSizes);
      if (verified) {
        tip = verified.tip;
        resumeAt = verified.next;
      } else {
        logger.warn(
          { channelId, indexedBlocks: indexed },
          'ledger index does not match the block files; rebuilding it',
        );
        indexed = 0;
      }
    }

    const found: BlockLocation[] = [];
    let droppedBytes = 0;
    for (let file = resumeAt.file; file < fileSizes.length; file++) {
      const from = file === resumeAt.file ? resumeAt.offset : 0;
      const bytes = await readWholeRange(blockFilePath(directory, file), from, fileSizes[file]!);
      const scan = scanBlockRecords(bytes, from, tip);
      for (const offset of scan.offsets) found.push({ file, offset });
      tip = scan.tip;
      if (scan.problem === undefined) continue;

      const laterData = fileSizes.slice(file + 1).some((size) => size > 0);
      if (laterData) {
        throw internal(
          `the ledger of channel ${channelId} is corrupt: ${blockFilePath(directory, file)} offset ${scan.validEnd}: ` +
            `${scan.problem}, yet later block files hold data, so this is not an interrupted write; ` +
            'restore the folder from a backup or remove the channel and let it replicate again',
          { channelId, file, offset: scan.validEnd },
        );
      }
      droppedBytes = fileSizes[file]! - scan.validEnd;
      logger.warn(
        { channelId, file, offset: scan.validEnd, droppedBytes, reason: scan.problem, height: tip.height },
        'truncating an incomplete block at the end of the ledger (interrupted write)',
      );
      const handle = await open(blockFilePath(directory, file), 'r+');
      try {
        await handle.truncate(scan.validEnd);
        await handle.sync();
        fileSyncs++;
      } finally {
        await handle.close();
      }
      fileSizes[file] = scan.validEnd;
      // Only empty files can follow; drop them so that appends continue in this file.
      for (let later = fileSizes.length - 1; later > file; later--)
        await unlink(blockFilePath(directory, later));
      if (fileSizes.length > file + 1) {
        fileSizes.length = file + 1;
        await syncDirectory(directory);
        directorySyncs++;
      }
      break;
    }

    await index.write(encodeIndexEntries(found), 0, found.length * indexEntrySize, indexed * indexEntrySize);
    await index.truncate(tip.height * indexEntrySize);
    if (found.length > 0 || indexed === 0) {
      await index.datasync();
      fileSyncs++;
    }
    if (found.length > 0)
      logger.info({ channelId, blocks: found.length, height: tip.height }, 'indexed blocks from block files');
    return { fileSizes, tip, index, reindexedBlocks: found.length, droppedBytes, fileSyncs, directorySyncs };
  } catch (err) {
    await index.close();
    throw err;
  }
}

/**
 * How many leading index entries are plausible: locations strictly increasing and inside existing
 * files. Entries lost or zeroed by a crash (the index is never fsync'd) break that order.
 */
async function consistentIndexPrefix(index: FileHandle, fileSizes: readonly number[]): Promise<number> {
  const entries = Math.floor((await index.stat()).size / indexEntrySize);
  const chunkEntries = 65536;
  let previous: BlockLocation | undefined;
  for (let first = 0; first < entries; first += chunkEntries) {
    const count = Math.min(chunkEntries, entries - first);
    const chunk = await readAt(index, first * indexEntrySize, count * indexEntrySize);
    for (let i = 0; i < count; i++) {
      const location = decodeIndexEntry(chunk, i * indexEntrySize);
      const size = fileSizes[location.file];
      const ordered =
        !previous ||
        location.file > previous.file ||
        (location.file === previous.file && location.offset > previous.offset);
      if (size === undefined || location.offset >= size || !ordered) return first + i;
      previous = location;
    }
  }
  return entries;
}

async function verifyIndexedBlock(
  directory: string,
  index: FileHandle,
  number: number,
  fileSizes: readonly number[],
): Promise<{ tip: ChainTip; next: BlockLocation } | undefined> {
  const location = decodeIndexEntry(await readAt(index, number * indexEntrySize, indexEntrySize), 0);
  const handle = await open(blockFilePath(directory, location.file), 'r');
  try {
    const framed = await readFramedRecord(handle, location.offset, fileSizes[location.file]!);
    if (!framed) return undefined;
    const parts = deserializeFileRecord(framed.record);
    if (parts.number !== number) return undefined;
    return {
      tip: { height: number + 1, lastHeaderHash: blockHeaderHash(parts) },
      next: { file: location.file, offset: framed.next },
    };
  } catch (err) {
    if (err instanceof BlockFormatError) return undefined;
    throw err;
  } finally {
    await handle.close();
  }
}

async function readWholeRange(filePath: string, from: number, to: number): Promise<Buffer> {
  const handle = await open(filePath, 'r');
  try {
    return await readAt(handle, from, Math.max(0, to - from));
  } finally {
    await handle.close();
  }
}
