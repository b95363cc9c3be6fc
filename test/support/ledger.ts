// Test helpers for ledgers: real common.Block encodings with proper header chaining, the golden
// Go-orderer blocks, and ledger folders laid out as Fabric's Go orderer writes them.
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { common, asBuffer, toNumber } from '../../src/protos/index.js';
import { blockDataHash, blockHeaderHash, marshalBlock } from '../../src/ledger/index.js';
import type { StoredBlock } from '../../src/ledger/index.js';
import { FABRIC_FIXTURES } from './fabric-fixtures.js';

export const goldenDir = path.join(FABRIC_FIXTURES, 'golden');

export interface TestBlock extends StoredBlock {
  headerHash: Buffer;
}

/** Deterministic bytes: the same (seed, length) always gives the same content. */
export function pseudoRandomBytes(seed: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let filled = 0, counter = 0; filled < length; counter++) {
    filled += createHash('sha256').update(`${seed}/${counter}`).digest().copy(out, filled);
  }
  return out;
}

/**
 * A real block: signed-envelope-sized data entries, data_hash over them, previous_hash chained,
 * five metadata slots with SIGNATURES and LAST_CONFIG filled as an orderer does.
 */
export function makeBlock(
  number: number,
  previousHash: Uint8Array,
  options: { transactions?: number; transactionSize?: number; seed?: string } = {},
): TestBlock {
  const seed = options.seed ?? 'test';
  const data = Array.from({ length: options.transactions ?? 3 }, (_, i) =>
    Buffer.from(
      common.Envelope.encode({
        payload: pseudoRandomBytes(`${seed}/${number}/${i}/payload`, options.transactionSize ?? 200),
        signature: pseudoRandomBytes(`${seed}/${number}/${i}/signature`, 71),
      }).finish(),
    ),
  );
  const lastConfig = Buffer.from(common.LastConfig.encode({ index: 0 }).finish());
  const metadata = [
    Buffer.from(common.Metadata.encode({ value: pseudoRandomBytes(`${seed}/${number}/sig`, 40) }).finish()),
    Buffer.from(common.Metadata.encode({ value: lastConfig }).finish()),
    Buffer.alloc(0),
    Buffer.alloc(0),
    Buffer.alloc(0),
  ];
  const parts = { number, previousHash, dataHash: blockDataHash(data), data, metadata };
  return { number, bytes: marshalBlock(parts), headerHash: blockHeaderHash(parts) };
}

/** Blocks from..from+count-1 chained onto previousHash (empty for a chain from genesis). */
export function makeChain(
  count: number,
  options: {
    from?: number;
    previousHash?: Uint8Array;
    transactions?: number;
    transactionSize?: number;
    seed?: string;
  } = {},
): TestBlock[] {
  const blocks: TestBlock[] = [];
  let previous: Uint8Array = options.previousHash ?? Buffer.alloc(0);
  for (let i = 0; i < count; i++) {
    const block = makeBlock((options.from ?? 0) + i, previous, options);
    blocks.push(block);
    previous = block.headerHash;
  }
  return blocks;
}

export async function goldenBlocks(channelId: 'mychannel' | 'system-channel'): Promise<Buffer[]> {
  const count = channelId === 'mychannel' ? 6 : 2;
  return Promise.all(
    Array.from({ length: count }, (_, i) => readFile(path.join(goldenDir, channelId, `${i}.block`))),
  );
}

/**
 * Lays out <location>/chains/<channelId>/blockfile_NNNNNN as Fabric's blkstorage writes it, written
 * here independently of src/ledger from Fabric's block_serialization.go: varint(number),
 * bytes(data_hash), bytes(previous_hash), varint(#data), bytes(data)..., varint(#metadata),
 * bytes(metadata)...; each record behind a varint length; a new file before one would exceed
 * maxFileSize (Fabric moves on even from an empty file, which leaves an empty file behind).
 */
export async function writeGoOrdererLedger(
  location: string,
  channelId: string,
  blocks: readonly Uint8Array[],
  maxFileSize = 64 * 1024 * 1024,
): Promise<string> {
  const directory = path.join(location, 'chains', channelId);
  await mkdir(directory, { recursive: true });
  const files: Buffer[][] = [[]];
  let size = 0;
  for (const bytes of blocks) {
    const block = common.Block.decode(bytes);
    const data = block.data?.data ?? [];
    const metadata = block.metadata?.metadata ?? [];
    const fields: Buffer[] = [
      varint(toNumber(block.header!.number)),
      lengthDelimited(asBuffer(block.header!.dataHash)),
      lengthDelimited(asBuffer(block.header!.previousHash)),
      varint(data.length),
      ...data.map((entry) => lengthDelimited(asBuffer(entry))),
      varint(metadata.length),
      ...metadata.map((entry) => lengthDelimited(asBuffer(entry))),
    ];
    const framed = lengthDelimited(Buffer.concat(fields));
    if (size + framed.length > maxFileSize) {
      files.push([]);
      size = 0;
    }
    files[files.length - 1]!.push(framed);
    size += framed.length;
  }
  for (const [i, parts] of files.entries()) {
    await writeFile(path.join(directory, `blockfile_${String(i).padStart(6, '0')}`), Buffer.concat(parts));
  }
  return directory;
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  while (value >= 0x80) {
    bytes.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  bytes.push(value);
  return Buffer.from(bytes);
}

function lengthDelimited(bytes: Buffer): Buffer {
  return Buffer.concat([varint(bytes.length), bytes]);
}

export async function withTempDir<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ledger-test-'));
  try {
    return await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
