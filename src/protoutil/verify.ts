// Block verification as a Fabric peer does it (core/peer mcs VerifyBlock, cluster.VerifyBlocks):
// the hash chain, the data hash, and the orderer signatures against /Channel/Orderer/BlockValidation.
import { common, asBuffer, toNumber } from '../protos/index.js';
import { badRequest, forbidden, errorMessage } from '../errors.js';
import { BlockMetadataIndex, blockDataHash, blockHeaderBytes, blockHeaderHash } from './block.js';
import { BlockValidation, type PolicyManager, type SignedData } from '../policies/types.js';

/** The SignedData a block's SIGNATURES metadata carries: value || signature_header || header DER. */
export function blockSignatureSet(block: common.IBlock): SignedData[] {
  const slot = block.metadata?.metadata?.[BlockMetadataIndex.SIGNATURES];
  if (!slot || slot.length === 0) return [];
  const metadata = common.Metadata.decode(slot);
  const header = blockHeaderBytes(block.header ?? {});
  return metadata.signatures.map((s) => {
    const signatureHeader = common.SignatureHeader.decode(asBuffer(s.signatureHeader));
    return {
      data: Buffer.concat([asBuffer(metadata.value), asBuffer(s.signatureHeader), header]),
      identity: asBuffer(signatureHeader.creator),
      signature: asBuffer(s.signature),
    };
  });
}

export interface VerifyBlockOptions {
  /** The block before this one: checks number and previous hash. */
  previous?: common.IBlock;
  /** Checks the orderer signatures against /Channel/Orderer/BlockValidation. */
  policyManager?: PolicyManager;
}

export async function verifyBlock(block: common.IBlock, options: VerifyBlockOptions = {}): Promise<void> {
  const number = toNumber(block.header?.number);
  const data = block.data?.data ?? [];
  if (!asBuffer(block.header?.dataHash).equals(blockDataHash(data))) {
    throw badRequest(`block ${number}: data hash does not match the hash of its data`);
  }
  if (options.previous) {
    const previousNumber = toNumber(options.previous.header?.number);
    if (number !== previousNumber + 1) {
      throw badRequest(`block ${number} does not follow block ${previousNumber}`);
    }
    if (!asBuffer(block.header?.previousHash).equals(blockHeaderHash(options.previous.header ?? {}))) {
      throw badRequest(
        `block ${number}: previous hash does not match the header hash of block ${previousNumber}`,
      );
    }
  }
  if (options.policyManager) {
    const policy = options.policyManager.getPolicy(BlockValidation);
    if (!policy) throw forbidden(`no ${BlockValidation} policy to verify block ${number} with`);
    const signatures = blockSignatureSet(block);
    if (signatures.length === 0) throw forbidden(`block ${number} carries no orderer signature`);
    try {
      await policy.evaluateSignedData(signatures);
    } catch (err) {
      throw forbidden(`block ${number} signature does not satisfy ${BlockValidation}: ${errorMessage(err)}`);
    }
  }
}
