// The checks every ledger makes before accepting a block, as Fabric's blockfileMgr.addBlock does:
// the next number, and a previous_hash equal to the header hash of the block before.
import { internal } from '../errors.js';
import { blockHeaderHash } from './blockhash.js';
import { unmarshalCanonicalBlock, type BlockParts } from './blockcodec.js';
import type { StoredBlock } from './types.js';

export interface ChainTip {
  height: number;
  /** Header hash of block height-1; empty when height is 0. */
  lastHeaderHash: Buffer;
}

export const emptyTip = (): ChainTip => ({ height: 0, lastHeaderHash: Buffer.alloc(0) });

/** Validates block as the successor of tip and returns its parts and the tip after it. */
export function checkNextBlock(
  channelId: string,
  block: StoredBlock,
  tip: ChainTip,
): { parts: BlockParts; tip: ChainTip } {
  const parts = unmarshalCanonicalBlock(block.bytes);
  if (parts.number !== block.number) {
    throw internal(
      `block for channel ${channelId} is labelled number ${block.number} but its header says ${parts.number}`,
      { channelId, expected: block.number, actual: parts.number },
    );
  }
  if (parts.number !== tip.height) {
    throw internal(
      `cannot append block ${parts.number} to the ledger of channel ${channelId}: expected block ${tip.height} ` +
        `(the ledger height); blocks must be appended in order without gaps`,
      { channelId, expected: tip.height, actual: parts.number },
    );
  }
  if (!tip.lastHeaderHash.equals(parts.previousHash)) {
    if (tip.height === 0) {
      throw internal(
        `cannot append block 0 to the ledger of channel ${channelId}: a genesis block must have an empty previous_hash`,
        { channelId, blockNumber: 0 },
      );
    }
    throw internal(
      `cannot append block ${parts.number} to the ledger of channel ${channelId}: its previous_hash ` +
        `${Buffer.from(parts.previousHash).toString('hex') || '(empty)'} is not the header hash of block ` +
        `${tip.height - 1} (${tip.lastHeaderHash.toString('hex') || '(empty)'})`,
      { channelId, blockNumber: parts.number },
    );
  }
  return { parts, tip: { height: tip.height + 1, lastHeaderHash: blockHeaderHash(parts) } };
}
