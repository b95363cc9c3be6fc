// The only place blocks are chained, signed and handed to the ledger (Fabric's multichannel/blockwriter.go).
import { common, asBuffer } from '../protos/index.js';
import { internal } from '../errors.js';
import {
  BlockMetadataIndex,
  blockHeaderBytes,
  blockHeaderHash,
  marshalBlock,
  newBlock,
} from '../protoutil/block.js';
import { canonicalEnvelopeBytes, newSignatureHeader } from '../protoutil/envelope.js';
import type { ReceivedEnvelope } from '../consensus/types.js';
import type { BlockWriterStore } from '../ledger/types.js';
import type { SigningIdentity } from '../msp/types.js';
import type { Logger } from '../logging.js';

export interface BlockWriterOptions {
  /** The last block on the ledger (decoded). */
  lastBlock: common.IBlock;
  /** Number of the last config block (LastConfig.index of lastBlock). */
  lastConfigBlockNumber: number;
}

export interface BlockWriterDeps {
  store: BlockWriterStore;
  signer: SigningIdentity;
  logger: Logger;
  /** Called for each block once it is durable (metrics, logging). */
  onCommitted?: (block: common.IBlock, bytes: Buffer) => void;
}

export class BlockWriter {
  /** The last block handed over: the next one is built on it, before it is durable. */
  private lastBlock: common.IBlock;
  private lastConfigBlockNumber: number;
  /** The last block the store made durable, and the last config as of it: where a failed write rolls back to. */
  private committedBlock: common.IBlock;
  private committedLastConfigNumber: number;
  private lastCommit: Promise<void> = Promise.resolve();
  /** Bumped by a roll-back: writes handed over before it can no longer roll the writer back. */
  private generation = 0;

  constructor(
    options: BlockWriterOptions,
    private readonly deps: BlockWriterDeps,
  ) {
    this.lastBlock = this.committedBlock = options.lastBlock;
    this.lastConfigBlockNumber = this.committedLastConfigNumber = options.lastConfigBlockNumber;
  }

  /** Number of the last block the store made durable. */
  get committedNumber(): number {
    return Number(this.committedBlock.header!.number);
  }

  get lastConfigNumber(): number {
    return this.lastConfigBlockNumber;
  }

  /** Block number lastBlock+1 over the batch: previous hash and data hash set, metadata empty. */
  createNextBlock(messages: readonly ReceivedEnvelope[]): common.Block {
    const header = this.lastBlock.header!;
    const previousHash = blockHeaderHash(header);
    const data = messages.map(canonicalEnvelopeBytes);
    return newBlock(Number(header.number) + 1, previousHash, data);
  }

  /**
   * Signs and appends a normal block. Blocks must be written in order; the returned promise
   * resolves once the block is durable. The next block may be created before that.
   */
  writeBlock(block: common.Block, consenterMetadata?: Buffer): Promise<void> {
    return this.write(block, consenterMetadata, this.lastConfigBlockNumber);
  }

  private write(
    block: common.Block,
    consenterMetadata: Buffer | undefined,
    lastConfigNumber: number,
  ): Promise<void> {
    const outOfOrder = this.checkNext(block);
    if (outOfOrder) return Promise.reject(outOfOrder);
    let bytes: Buffer;
    try {
      this.addLastConfig(block, lastConfigNumber);
      this.addBlockSignature(block, consenterMetadata, lastConfigNumber);
      bytes = marshalBlock(block);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.enqueue(block, bytes, lastConfigNumber);
  }

  /**
   * Appends a block signed by another orderer exactly as received (its metadata is its signer's):
   * the caller has verified it. A config block becomes the last config.
   */
  appendReceived(block: common.Block, bytes: Buffer, isConfig: boolean): Promise<void> {
    const outOfOrder = this.checkNext(block);
    if (outOfOrder) return Promise.reject(outOfOrder);
    const number = Number(block.header!.number);
    return this.enqueue(block, bytes, isConfig ? number : this.lastConfigBlockNumber);
  }

  /** The last block handed over (durable or not): what the next block must follow. */
  get lastHandedOver(): common.IBlock {
    return this.lastBlock;
  }

  private checkNext(block: common.IBlock): Error | undefined {
    const expected = Number(this.lastBlock.header!.number) + 1;
    const number = Number(block.header!.number);
    if (number === expected) return undefined;
    return internal(`block writer expected block ${expected} but was given block ${number}`);
  }

  private enqueue(block: common.Block, bytes: Buffer, lastConfigNumber: number): Promise<void> {
    const number = Number(block.header!.number);
    // Only a block that is signed and encoded becomes the base of the next one.
    this.lastBlock = block;
    this.lastConfigBlockNumber = lastConfigNumber;
    const generation = this.generation;
    const commit = this.lastCommit.then(async () => {
      await this.deps.store.append({ number, bytes });
      this.committedBlock = block;
      this.committedLastConfigNumber = lastConfigNumber;
      this.deps.onCommitted?.(block, bytes);
    });
    // A failed append fails every write handed over after it (nothing may follow a missing block),
    // then the writer continues from the last durable block so that the consenter can retry.
    this.lastCommit = commit;
    commit.catch(() => this.rollBack(generation));
    return commit;
  }

  /** As writeBlock, for a block holding one config (or orderer) transaction: it becomes the last config. */
  writeConfigBlock(block: common.Block, consenterMetadata?: Buffer): Promise<void> {
    return this.write(block, consenterMetadata, Number(block.header!.number));
  }

  /** Resolves when every block handed over so far is durable; rejects when one failed. */
  flushed(): Promise<void> {
    return this.lastCommit;
  }

  private rollBack(generation: number): void {
    if (generation !== this.generation) return;
    this.generation++;
    this.lastBlock = this.committedBlock;
    this.lastConfigBlockNumber = this.committedLastConfigNumber;
    this.lastCommit = Promise.resolve();
  }

  private addLastConfig(block: common.Block, lastConfigNumber: number): void {
    const value = common.LastConfig.encode(lastConfig(lastConfigNumber)).finish();
    block.metadata!.metadata![BlockMetadataIndex.LAST_CONFIG] = common.Metadata.encode(
      value.length ? { value } : {},
    ).finish();
  }

  private addBlockSignature(
    block: common.Block,
    consenterMetadata: Buffer | undefined,
    lastConfigNumber: number,
  ): void {
    const signatureHeader = newSignatureHeader(this.deps.signer);
    const innerMetadata = common.Metadata.encode(
      consenterMetadata?.length ? { value: consenterMetadata } : {},
    ).finish();
    const value = asBuffer(
      common.OrdererBlockMetadata.encode({
        lastConfig: lastConfig(lastConfigNumber),
        ...(innerMetadata.length ? { consenterMetadata: innerMetadata } : {}),
      }).finish(),
    );
    const signature = this.deps.signer.sign(
      Buffer.concat([value, signatureHeader, blockHeaderBytes(block.header!)]),
    );
    block.metadata!.metadata![BlockMetadataIndex.SIGNATURES] = common.Metadata.encode({
      value,
      signatures: [{ signatureHeader, signature }],
    }).finish();
  }
}

/** LastConfig with proto3 default omitted, as Go marshals it (index 0 encodes as empty). */
function lastConfig(index: number): common.ILastConfig {
  return index ? { index } : {};
}

/** Block 0 of a channel created through the system channel: unsigned, one config envelope. */
export function channelGenesisBlock(configEnvelope: ReceivedEnvelope): common.Block {
  return newBlock(0, Buffer.alloc(0), [canonicalEnvelopeBytes(configEnvelope)]);
}
