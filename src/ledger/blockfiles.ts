// Names and small on-disk structures of a channel's ledger folder:
//
//   <FileLedger.Location>/chains/<channelId>/blockfile_000000, blockfile_000001, ...   (Fabric's files)
//   <FileLedger.Location>/chains/<channelId>/blocklocations.idx                          (our index)
//
// The block files are exactly Fabric's (blkstorage: varint length + record, rolled over before a
// block would make the file exceed the maximum size). Fabric ignores other files in the folder,
// so our index can live next to them. The index is derived data: 8 bytes per block (uint32 file
// number, uint32 offset of the block's length prefix, big endian), so block N's location is read at
// N * 8. It is written after the block files are fsync'd and never fsync'd itself: recovery
// checks it and rebuilds what is missing or wrong from the block files.
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { readVarint } from './blockcodec.js';

export const blockFilePrefix = 'blockfile_';
export const indexFileName = 'blocklocations.idx';
export const indexEntrySize = 8;
export const defaultMaxBlockFileSize = 64 * 1024 * 1024;
/** Offsets are stored as uint32. */
export const maxSupportedBlockFileSize = 0xffffffff;
const maxVarintSize = 10;

export interface BlockLocation {
  file: number;
  /** Offset of the block's length prefix. */
  offset: number;
}

export function blockFileName(fileNumber: number): string {
  return blockFilePrefix + String(fileNumber).padStart(6, '0');
}

export function blockFilePath(directory: string, fileNumber: number): string {
  return path.join(directory, blockFileName(fileNumber));
}

/** The number of a block file name, or undefined for any other name. */
export function parseBlockFileName(name: string): number | undefined {
  const match = /^blockfile_(\d{6,})$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

export function encodeIndexEntries(locations: readonly BlockLocation[]): Buffer {
  const out = Buffer.allocUnsafe(locations.length * indexEntrySize);
  locations.forEach((location, i) => {
    out.writeUInt32BE(location.file, i * indexEntrySize);
    out.writeUInt32BE(location.offset, i * indexEntrySize + 4);
  });
  return out;
}

export function decodeIndexEntry(source: Buffer, at: number): BlockLocation {
  return { file: source.readUInt32BE(at), offset: source.readUInt32BE(at + 4) };
}

/** Positional read that loops until length bytes are read or the file ends. */
export async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

/**
 * Reads the framed record (varint length + record) starting at offset, never past end. Returns
 * undefined when the frame is incomplete before end (a torn tail).
 */
export async function readFramedRecord(
  handle: FileHandle,
  offset: number,
  end: number,
): Promise<{ record: Buffer; next: number } | undefined> {
  const head = await readAt(handle, offset, Math.min(maxVarintSize, Math.max(0, end - offset)));
  const prefix = readVarint(head, 0);
  if (!prefix) return undefined;
  const recordStart = offset + prefix.next;
  if (recordStart + prefix.value > end) return undefined;
  const record = await readAt(handle, recordStart, prefix.value);
  if (record.length < prefix.value) return undefined;
  return { record, next: recordStart + prefix.value };
}

export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
