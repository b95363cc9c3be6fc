// The decisions of Fabric's cluster.BlockPuller (orderer/common/cluster/deliver.go), without I/O:
// which orderer endpoint to pull from next, how long to wait before trying again, when to give up,
// and which checks a pulled block must pass before it is handed on. The driver (block-puller.ts)
// does the waiting and the network calls.
import { unavailable } from '../errors.js';
import { blockDataHash, blockHeaderHash } from '../ledger/index.js';
import { toNumber, type common } from '../protos/index.js';

export interface PullPlanOptions {
  /** General.Cluster.ReplicationMaxRetries: failed attempts in a row before pullBlock gives up. */
  readonly maxRetries: number;
  /** General.Cluster.ReplicationRetryTimeout: the wait before trying again after a failure. */
  readonly retryTimeoutMs: number;
}

/** What to do after an attempt to pull from an endpoint failed. */
export type AfterFailure =
  | { readonly giveUp: false; readonly endpoint: string; readonly waitMs: number }
  | { readonly giveUp: true; readonly reason: string };

/**
 * Endpoint rotation and the retry budget. A failure moves to the next endpoint (so one dead or
 * lying orderer never stalls the pull); every attempt after a failure waits retryTimeoutMs, as
 * Fabric's puller sleeps RetryTimeout between attempts; maxRetries failures in a row give up.
 * A block received resets the count.
 */
export class PullPlan {
  private index = 0;
  private failuresInARow = 0;
  private readonly lastErrors = new Map<string, string>();

  constructor(
    private readonly options: PullPlanOptions,
    private readonly endpoints: readonly string[],
  ) {
    if (endpoints.length === 0)
      throw unavailable(
        'no orderer endpoints to pull blocks from: the channel config lists no OrdererEndpoints ' +
          'for its orderer orgs and no consenters; add the endpoints to the config',
      );
  }

  current(): string {
    return this.endpoints[this.index]!;
  }

  /** A block arrived from the current endpoint: the retry budget is full again. */
  succeeded(): void {
    this.failuresInARow = 0;
    this.lastErrors.delete(this.current());
  }

  failed(reason: string): AfterFailure {
    this.lastErrors.set(this.current(), reason);
    this.failuresInARow++;
    if (this.failuresInARow >= Math.max(1, this.options.maxRetries)) {
      const tried = [...this.lastErrors].map(([endpoint, why]) => `${endpoint}: ${why}`).join('; ');
      return {
        giveUp: true,
        reason: `gave up after ${this.failuresInARow} failed attempts in a row (General.Cluster.ReplicationMaxRetries): ${tried}`,
      };
    }
    this.index = (this.index + 1) % this.endpoints.length;
    return { giveUp: false, endpoint: this.current(), waitMs: this.options.retryTimeoutMs };
  }
}

/**
 * Fabric's VerifyBlockHash, the checks a puller makes on its own: the block is the one asked for,
 * its data hashes to header.data_hash and it chains onto the previous block. Signatures are the
 * writer's check (ConsenterSupport.appendVerified), against the config the chain is at.
 * Returns a reason to distrust the endpoint, or undefined.
 */
export function blockProblem(
  block: common.IBlock,
  expectedNumber: number,
  previousHeaderHash: Buffer | undefined,
): string | undefined {
  const header = block.header;
  if (!header) return `block [${expectedNumber}] has no header`;
  const number = toNumber(header.number);
  if (number !== expectedNumber) return `sent block [${number}] where block [${expectedNumber}] was asked for`;
  const data = block.data?.data ?? [];
  const dataHash = blockDataHash(data);
  if (!dataHash.equals(Buffer.from(header.dataHash ?? []))) return `block [${number}] has data that does not hash to its header's data_hash`;
  if (previousHeaderHash && !previousHeaderHash.equals(Buffer.from(header.previousHash ?? [])))
    return `block [${number}]'s previous_hash is not the header hash of block [${number - 1}]`;
  return undefined;
}

/** The header hash of a block, for chaining the next one on it. */
export function headerHashOf(block: common.IBlock): Buffer {
  const header = block.header!;
  return blockHeaderHash({
    number: toNumber(header.number),
    previousHash: Buffer.from(header.previousHash ?? []),
    dataHash: Buffer.from(header.dataHash ?? []),
  });
}
