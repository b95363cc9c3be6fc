// Reading a ledger folder without changing it, for tools (`orderer inspect`) that may look at the
// folder of a running orderer: opening it as a ledger would run recovery, which truncates a block
// the orderer is still writing. Here the block files are only read and scanned; a torn or
// unfinished tail is reported, never repaired.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { marshalBlock, deserializeFileRecord, readVarint } from './blockcodec.js';
import { blockFilePath, parseBlockFileName } from './blockfiles.js';
import { emptyTip } from './chaincheck.js';
import { chainsDirectory } from './fileledger.js';
import { scanBlockRecords } from './recovery.js';

export interface ReadOnlyChannel {
  readonly channelId: string;
  /** Number of complete, chained blocks in the block files. */
  readonly height: number;
  /** Marshalled blocks from..to (inclusive) of the request, as common.Block bytes. */
  readonly blocks: readonly Buffer[];
  /** Why reading stopped before the end of the files (a block being written, or damage). */
  readonly incompleteTail?: string;
}

/** The channels of a ledger folder (FileLedger.Location), sorted. */
export async function ledgerChannelIds(location: string): Promise<string[]> {
  const entries = await readdir(chainsDirectory(location), { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/**
 * Scans every block file of a channel in order, checking numbers, hash chain and data hashes as
 * recovery does, and returns the blocks in [from, to]. Writes nothing.
 */
export async function readChannelBlocks(
  location: string,
  channelId: string,
  range: { from?: number; to?: number } = {},
): Promise<ReadOnlyChannel> {
  const directory = path.join(chainsDirectory(location), channelId);
  const fileNumbers = (await readdir(directory))
    .map(parseBlockFileName)
    .filter((n): n is number => n !== undefined)
    .sort((a, b) => a - b);
  const from = range.from ?? 0;
  const to = range.to ?? Number.MAX_SAFE_INTEGER;
  const blocks: Buffer[] = [];
  let tip = emptyTip();
  let incompleteTail: string | undefined;
  for (const [i, fileNumber] of fileNumbers.entries()) {
    if (fileNumber !== i) {
      incompleteTail = `block file ${fileNumber} follows file ${i - 1}: files are missing`;
      break;
    }
    const bytes = await readFile(blockFilePath(directory, fileNumber));
    const firstNumber = tip.height;
    const scan = scanBlockRecords(bytes, 0, tip);
    for (const [k, offset] of scan.offsets.entries()) {
      const number = firstNumber + k;
      if (number < from || number > to) continue;
      const prefix = readVarint(bytes, offset)!;
      const record = bytes.subarray(prefix.next, prefix.next + prefix.value);
      blocks.push(marshalBlock(deserializeFileRecord(record)));
    }
    tip = scan.tip;
    if (scan.problem) {
      incompleteTail = `block file ${fileNumber} at byte ${scan.validEnd}: ${scan.problem}`;
      break;
    }
  }
  return { channelId, height: tip.height, blocks, ...(incompleteTail ? { incompleteTail } : {}) };
}
