// Where a Deliver request starts and stops (Fabric's deliver.go, deliverBlocks): a pure function
// of the SeekInfo's positions and the ledger height, so every rule has a row in a table test.
import { toNumber, type orderer } from '../protos/index.js';
import { badRequest, notFound } from '../errors.js';

/** "Until the client goes away": a stop no ledger reaches. */
export const SEEK_FOREVER = Number.MAX_SAFE_INTEGER;

export interface SeekRange {
  /** The first block to send. */
  readonly start: number;
  /** The last block to send (inclusive); SEEK_FOREVER for NextCommit. */
  readonly stop: number;
}

/**
 * Resolves a SeekInfo's start and stop against the ledger height as it is now. Throws
 * OrdererError('bad-request') for a missing or unknown position or an empty range, and
 * ('not-found') for a start beyond the next block.
 */
export function resolveSeekRange(
  start: orderer.ISeekPosition | null | undefined,
  stop: orderer.ISeekPosition | null | undefined,
  height: number,
  channelId: string,
): SeekRange {
  const startType = start?.Type;
  const stopType = stop?.Type;
  if (!startType || !stopType) throw badRequest('seek info is missing its start or stop position');
  let first: number;
  switch (startType) {
    case 'oldest':
      first = 0;
      break;
    case 'newest':
      first = Math.max(height - 1, 0);
      break;
    case 'specified':
      first = toNumber(start!.specified?.number);
      if (first > height) {
        throw notFound(`requested block ${first} is beyond the next block ${height} of channel ${channelId}`);
      }
      break;
    case 'nextCommit':
      first = height;
      break;
    default:
      throw badRequest('unknown seek start position');
  }
  let last: number;
  switch (stopType) {
    case 'oldest':
      last = first;
      break;
    case 'newest':
      // Start and stop both Newest means exactly one block, even if another is committed meanwhile.
      last = startType === 'newest' ? first : height - 1;
      break;
    case 'specified':
      last = toNumber(stop!.specified?.number);
      if (last < first)
        throw badRequest(`stop block ${last} is before start block ${first}: the range is empty`);
      break;
    case 'nextCommit':
      last = SEEK_FOREVER;
      break;
    default:
      throw badRequest('unknown seek stop position');
  }
  return { start: first, stop: last };
}
