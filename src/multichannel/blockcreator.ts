// Fabric's etcdraft blockcreator.go: blocks chained on the last block *created*, not the last one
// written, so that a leader can keep several blocks in flight while Raft agrees on them.
import type { common } from '../protos/index.js';
import { blockHeaderHash, newBlock } from '../protoutil/block.js';
import { canonicalEnvelopeBytes } from '../protoutil/envelope.js';
import type { BlockCreator, ReceivedEnvelope } from '../consensus/types.js';

export class ChainedBlockCreator implements BlockCreator {
  private number: number;
  private hash: Buffer;

  /** start: the block the first created block follows (the last block written, usually). */
  constructor(start: common.IBlock) {
    this.number = Number(start.header!.number);
    this.hash = blockHeaderHash(start.header!);
  }

  get lastNumber(): number {
    return this.number;
  }

  createNextBlock(messages: readonly ReceivedEnvelope[]): common.Block {
    const block = newBlock(this.number + 1, this.hash, messages.map(canonicalEnvelopeBytes));
    this.number += 1;
    this.hash = blockHeaderHash(block.header!);
    return block;
  }

  resetTo(block: common.IBlock): void {
    this.number = Number(block.header!.number);
    this.hash = blockHeaderHash(block.header!);
  }
}
