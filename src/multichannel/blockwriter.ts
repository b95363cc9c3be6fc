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
  private lastBlock: common.IBlock;
  private lastConfigBlockNumber: number;
  private lastCommit: Promise<void> = Promise.resolve();

  constructor(
    options: BlockWriterOptions,
    private readonly deps: BlockWriterDeps,
  ) {
    this.lastBlock = options.lastBlock;
    this.lastConfigBlockNumber = options.lastConfigBlockNumber;
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
    const expected = Number(this.lastBlock.header!.number) + 1;
    const number = Number(block.header!.number);
    if (number !== expected) {
      return Promise.reject(
        internal(`block writer expected block ${expected} but was given block ${number}`),
      );
    }
    this.lastBlock = block;
    this.addLastConfig(block);
    this.addBlockSignature(block, consenterMetadata);
    const bytes = marshalBlock(block);
    const previous = this.lastCommit;
    const commit = previous.then(async () => {
      await this.deps.store.append({ number, bytes });
      this.deps.onCommitted?.(block, bytes);
    });
    // A failed append poisons the chain of writes: nothing after a missing block may be written.
    this.lastCommit = commit;
    return commit;
  }

  /** As writeBlock, for a block holding one config (or orderer) transaction: it becomes the last config. */
  writeConfigBlock(block: common.Block, consenterMetadata?: Buffer): Promise<void> {
    this.lastConfigBlockNumber = Number(block.header!.number);
    return this.writeBlock(block, consenterMetadata);
  }

  /** Resolves when every block handed over so far is durable. */
  flushed(): Promise<void> {
    return this.lastCommit;
  }

  private addLastConfig(block: common.Block): void {
    const value = common.LastConfig.encode(lastConfig(this.lastConfigBlockNumber)).finish();
    block.metadata!.metadata![BlockMetadataIndex.LAST_CONFIG] = common.Metadata.encode(
      value.length ? { value } : {},
    ).finish();
  }

  private addBlockSignature(block: common.Block, consenterMetadata: Buffer | undefined): void {
    const signatureHeader = newSignatureHeader(this.deps.signer);
    const innerMetadata = common.Metadata.encode(
      consenterMetadata?.length ? { value: consenterMetadata } : {},
    ).finish();
    const value = asBuffer(
      common.OrdererBlockMetadata.encode({
        lastConfig: lastConfig(this.lastConfigBlockNumber),
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
