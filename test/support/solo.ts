// Test helpers for the block cutter and the solo consenter: real envelopes, a recording
// ConsenterSupport, a gate-able in-memory WAL storage and a tiny fsync'd file block log.
import { randomBytes } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { common } from '../../src/protos/index.js';
import { asBuffer, toNumber } from '../../src/protos/index.js';
import {
  blockHeaderHash,
  consenterMetadataOf,
  decodeEnvelope,
  marshalBlock,
  newBlock,
} from '../../src/protoutil/index.js';
import { BlockCutter } from '../../src/blockcutter/index.js';
import { ManualClock, type Clock } from '../../src/clock.js';
import type { Logger } from '../../src/logging.js';
import type { BatchSize, ChannelConfigBundle, OrdererConfig } from '../../src/channelconfig/types.js';
import type { BlockCreator, ConsenterSupport, ReceivedEnvelope } from '../../src/consensus/types.js';
import { ChainedBlockCreator } from '../../src/multichannel/blockcreator.js';
import type { SigningIdentity } from '../../src/msp/types.js';
import type { WalFile, WalStorage } from '../../src/consensus/solo/index.js';

/** A real, marshalled ENDORSER_TRANSACTION envelope whose tx_id is id, decoded as broadcast would. */
export function makeEnvelope(
  id: string,
  options: { channelId?: string; dataBytes?: number; type?: number; data?: Buffer } = {},
): ReceivedEnvelope {
  const channelHeader = common.ChannelHeader.encode({
    type: options.type ?? 3,
    channelId: options.channelId ?? 'testchannel',
    txId: id,
  }).finish();
  const signatureHeader = common.SignatureHeader.encode({
    creator: Buffer.from('creator'),
    nonce: randomBytes(24),
  }).finish();
  const payload = common.Payload.encode({
    header: { channelHeader, signatureHeader },
    data: options.data ?? Buffer.alloc(options.dataBytes ?? 16, 7),
  }).finish();
  const raw = asBuffer(common.Envelope.encode({ payload, signature: randomBytes(70) }).finish());
  return decodeEnvelope(raw);
}

/** A stand-in for the block cutter tests: only payload and signature lengths matter there. */
export function sizedEnvelope(id: string, size: number): ReceivedEnvelope {
  const payload = Buffer.alloc(Math.max(0, size - 1));
  const signature = Buffer.alloc(Math.min(1, size));
  return {
    raw: Buffer.concat([payload, signature]),
    payload,
    signature,
    channelHeader: common.ChannelHeader.create({ type: 3, channelId: 'testchannel', txId: id }),
    signatureHeader: common.SignatureHeader.create({}),
    data: Buffer.alloc(0),
  };
}

export function txIdOf(env: ReceivedEnvelope): string {
  return env.channelHeader.txId;
}

/** The tx IDs in a block's data, read back from the marshalled envelopes. */
export function txIdsOfBlock(block: common.IBlock): string[] {
  return (block.data?.data ?? []).map((bytes) => decodeEnvelope(asBuffer(bytes)).channelHeader.txId);
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger whose lines are kept for assertions (level 40 = warn, 50 = error). */
export function capturingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as LogLine);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

export interface WrittenBlock {
  number: number;
  kind: 'normal' | 'config';
  txIds: string[];
  block: common.Block;
  consenterMetadata: Buffer | undefined;
}

export interface FakeSupportOptions {
  channelId?: string;
  clock?: Clock;
  logger?: Logger;
  batchSize?: BatchSize;
  batchTimeoutMs?: number;
  sequence?: number;
  /** Blocks already in the ledger (e.g. what survived a crash). */
  blocks?: WrittenBlock[];
  /** Where written blocks also go (a file for crash tests). */
  store?: { append(bytes: Buffer): Promise<void> };
}

/** Records every block; validation and writes can be scripted per test. */
export class FakeConsenterSupport implements ConsenterSupport {
  readonly channelId: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly signer = { mspId: 'OrdererMSP' } as SigningIdentity;
  readonly blockCutter: BlockCutter;
  readonly blocks: WrittenBlock[];
  config: OrdererConfig;
  seq: number;
  /** Re-validation of a normal message at a stale configSeq; throw to reject. */
  validateNormal: (env: ReceivedEnvelope) => Promise<void> | void = () => {};
  /** Re-validation of a config message; return the re-wrapped envelope, throw to reject. */
  reprocessConfig: (env: ReceivedEnvelope) => Promise<ReceivedEnvelope> | ReceivedEnvelope = (env) => env;
  /** Awaited inside every write before the block counts as written (hang or throw to simulate). */
  beforeWrite: (number: number) => Promise<void> | void = () => {};
  normalValidations = 0;
  configValidations = 0;
  writesInFlight = 0;
  maxWritesInFlight = 0;
  /** Blocks handed to writeBlock/writeConfigBlock that are not durable yet, oldest first. */
  private readonly handedOver: common.Block[] = [];
  private lastCommit: Promise<void> = Promise.resolve();
  private writeGeneration = 0;
  private readonly store: FakeSupportOptions['store'];

  constructor(options: FakeSupportOptions = {}) {
    this.channelId = options.channelId ?? 'testchannel';
    this.clock = options.clock ?? new ManualClock();
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.blocks = [...(options.blocks ?? [])];
    this.seq = options.sequence ?? 0;
    this.store = options.store;
    this.config = {
      consensusType: 'solo',
      consensusMetadata: Buffer.alloc(0),
      consensusState: 'NORMAL',
      batchSize: options.batchSize ?? {
        maxMessageCount: 3,
        absoluteMaxBytes: 1 << 20,
        preferredMaxBytes: 1 << 19,
      },
      batchTimeoutMs: options.batchTimeoutMs ?? 2000,
      kafkaBrokers: [],
      maxChannels: 0,
      capabilities: new Set(['V2_0']),
      organizations: new Map(),
    };
    this.blockCutter = new BlockCutter({ batchSize: () => this.config.batchSize }, { clock: this.clock });
  }

  get txIds(): string[][] {
    return this.blocks.map((b) => b.txIds);
  }

  bundle(): ChannelConfigBundle {
    throw new Error('the solo consenter should not need the config bundle');
  }

  sharedConfig(): OrdererConfig {
    return this.config;
  }

  sequence(): number {
    return this.seq;
  }

  height(): number {
    return this.blocks.length;
  }

  async processNormalMsg(env: ReceivedEnvelope): Promise<number> {
    this.normalValidations++;
    await this.validateNormal(env);
    return this.seq;
  }

  async processConfigMsg(env: ReceivedEnvelope): Promise<{ config: ReceivedEnvelope; configSeq: number }> {
    this.configValidations++;
    return { config: await this.reprocessConfig(env), configSeq: this.seq };
  }

  /** As the real block writer: chained on the last block handed over, durable or not. */
  createNextBlock(messages: readonly ReceivedEnvelope[]): common.Block {
    const previous = (this.handedOver.at(-1) ?? this.blocks[this.blocks.length - 1]?.block)?.header;
    const previousHash = previous
      ? blockHeaderHash({
          number: toNumber(previous.number),
          previousHash: asBuffer(previous.previousHash),
          dataHash: asBuffer(previous.dataHash),
        })
      : Buffer.alloc(0);
    return newBlock(
      this.height() + this.handedOver.length,
      previousHash,
      messages.map((m) => m.raw),
    );
  }

  writeBlock(block: common.Block, consenterMetadata?: Buffer): Promise<void> {
    return this.write('normal', block, consenterMetadata);
  }

  newBlockCreator(): BlockCreator {
    const last = this.blocks[this.blocks.length - 1]?.block;
    if (!last) throw new Error('the fake support has no block to create blocks after');
    return new ChainedBlockCreator(last);
  }

  async block(number: number): Promise<common.Block | undefined> {
    return this.blocks[number]?.block;
  }

  /**
   * A block made by another member (an etcdraft node catching up to a snapshot): it must be the
   * next block and chain onto the last one; its consenter metadata is kept as the source wrote it.
   */
  async appendVerified(blockBytes: Buffer): Promise<void> {
    const block = common.Block.decode(blockBytes);
    const number = toNumber(block.header?.number);
    if (number !== this.height()) throw new Error(`block ${number} appended at height ${this.height()}`);
    const previous = this.blocks[this.blocks.length - 1]?.block.header;
    if (previous && !asBuffer(block.header!.previousHash).equals(blockHeaderHash(previous)))
      throw new Error(`block ${number} does not chain onto block ${number - 1}`);
    const data = block.data?.data ?? [];
    const first = data.length === 1 ? decodeEnvelope(asBuffer(data[0]!)) : undefined;
    const isConfig = first?.channelHeader.type === 1;
    this.blocks.push({
      number,
      kind: isConfig ? 'config' : 'normal',
      txIds: txIdsOfBlock(block),
      block,
      consenterMetadata: consenterMetadataOf(block),
    });
    if (isConfig) this.seq++;
  }

  async writeConfigBlock(block: common.Block, consenterMetadata?: Buffer): Promise<void> {
    await this.write('config', block, consenterMetadata);
    this.seq++;
  }

  /**
   * As the real block writer (src/multichannel/blockwriter.ts): the block is handed over at once,
   * so the next one can be created on it, and made durable after the ones before it; a failed write
   * fails every write handed over after it, and the writer goes back to the last durable block.
   */
  private write(kind: 'normal' | 'config', block: common.Block, consenterMetadata?: Buffer): Promise<void> {
    const number = toNumber(block.header?.number);
    const expected = this.height() + this.handedOver.length;
    if (number !== expected)
      return Promise.reject(new Error(`block ${number} written at height ${expected}`));
    this.handedOver.push(block);
    this.writesInFlight++;
    this.maxWritesInFlight = Math.max(this.maxWritesInFlight, this.writesInFlight);
    const generation = this.writeGeneration;
    const commit = this.lastCommit.then(async () => {
      await this.beforeWrite(number);
      await this.store?.append(marshalBlock(block));
      this.blocks.push({ number, kind, txIds: txIdsOfBlock(block), block, consenterMetadata });
      this.handedOver.shift();
    });
    this.lastCommit = commit;
    commit.then(
      () => this.writesInFlight--,
      () => {
        this.writesInFlight--;
        if (generation !== this.writeGeneration) return;
        this.writeGeneration++;
        this.handedOver.length = 0;
        this.lastCommit = Promise.resolve();
      },
    );
    return commit;
  }
}

/** A promise with its resolve/reject handed out, for gating fakes. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: Error) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** An in-memory WAL whose appends can be held back, to count group commits deterministically. */
export class MemoryWalStorage implements WalStorage {
  readonly files = new Map<string, MemoryWalFile>();
  gate: Promise<void> | undefined;
  failNextAppend: Error | undefined;

  async open(dir: string): Promise<WalFile> {
    const existing = this.files.get(dir);
    const file = new MemoryWalFile(dir, this, existing?.content ?? Buffer.alloc(0));
    this.files.set(dir, file);
    return file;
  }

  async remove(dir: string): Promise<void> {
    this.files.delete(dir);
  }
}

export class MemoryWalFile implements WalFile {
  appends = 0;
  constructor(
    readonly location: string,
    private readonly storage: MemoryWalStorage,
    public content: Buffer,
  ) {}

  async readAll(): Promise<Buffer> {
    return this.content;
  }

  async appendDurably(chunks: readonly Buffer[]): Promise<void> {
    this.appends++;
    if (this.storage.gate) await this.storage.gate;
    const failure = this.storage.failNextAppend;
    if (failure) {
      this.storage.failNextAppend = undefined;
      throw failure;
    }
    this.content = Buffer.concat([this.content, ...chunks]);
  }

  async replaceDurably(content: Buffer): Promise<void> {
    this.content = Buffer.from(content);
  }

  async close(): Promise<void> {}
}

/**
 * A minimal fsync'd block log for the kill -9 test: u32 length | u32 CRC-32 | marshalled block.
 * A torn last record (the process died mid-append) is ignored on read, as a ledger must.
 */
export class FileBlockLog {
  constructor(readonly path: string) {}

  async readBlocks(): Promise<common.Block[]> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const blocks: common.Block[] = [];
    let offset = 0;
    while (offset + 8 <= bytes.length) {
      const length = bytes.readUInt32BE(offset);
      const end = offset + 8 + length;
      if (end > bytes.length) break;
      const body = bytes.subarray(offset + 8, end);
      if (crc32(body) !== bytes.readUInt32BE(offset + 4)) break;
      blocks.push(common.Block.decode(body));
      offset = end;
    }
    return blocks;
  }

  /** Rewrites the file to its intact prefix so later appends follow whole records. */
  async truncateToIntact(): Promise<common.Block[]> {
    const blocks = await this.readBlocks();
    const intact = Buffer.concat(blocks.map((b) => this.frame(marshalBlock(b))));
    const handle = await open(this.path, 'w');
    try {
      await handle.write(intact);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return blocks;
  }

  async append(bytes: Buffer): Promise<void> {
    const handle = await open(this.path, 'a');
    try {
      await handle.write(this.frame(bytes));
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  private frame(bytes: Buffer): Buffer {
    const header = Buffer.alloc(8);
    header.writeUInt32BE(bytes.length, 0);
    header.writeUInt32BE(crc32(bytes), 4);
    return Buffer.concat([header, bytes]);
  }
}

/** Blocks read back from a file, in the shape FakeConsenterSupport keeps. */
export function asWrittenBlocks(blocks: common.Block[]): WrittenBlock[] {
  return blocks.map((block) => ({
    number: toNumber(block.header?.number),
    kind: 'normal',
    txIds: txIdsOfBlock(block),
    block,
    consenterMetadata: undefined,
  }));
}
