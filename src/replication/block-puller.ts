// Fabric's cluster.BlockPuller: pulls the blocks of one channel from the other orderers, one
// Deliver stream at a time, rotating to another endpoint when a stream fails, stalls for longer
// than ReplicationPullTimeout or sends a block that does not chain. The decisions are PullPlan's
// (pull-plan.ts); the network is a BlockSource (deliver-client.ts over gRPC, a fake in tests).
import { OrdererError, errorMessage, unavailable } from '../errors.js';
import { common } from '../protos/index.js';
import { lastConfigIndexOf } from '../protoutil/block.js';
import { PullPlan, blockProblem, headerHashOf } from './pull-plan.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logging.js';

/** A Deliver stream of one channel from one orderer, from a given block on. */
export interface BlockStream {
  /** The next block, exactly as the orderer sent it; rejects when the stream fails or ends. */
  next(): Promise<Buffer>;
  close(): void;
}

/** Where blocks come from (Fabric's ImpatientStream creator). */
export interface BlockSource {
  /** Opens Deliver on `endpoint` (host:port) for blocks `from` (a number, or its newest block) onwards. */
  open(endpoint: string, channelId: string, from: number | 'newest'): BlockStream;
}

export interface BlockPullerOptions {
  readonly channelId: string;
  readonly maxRetries: number;
  readonly retryTimeoutMs: number;
  /** General.Cluster.ReplicationPullTimeout: how long one block may take to arrive. */
  readonly pullTimeoutMs: number;
}

export interface BlockPullerDependencies {
  readonly source: BlockSource;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The endpoints to pull from, as of the channel's current config (read on every rotation). */
  readonly endpoints: () => readonly string[];
}

/** A block as pulled: the bytes as received and their decoding. */
export interface PulledBlock {
  readonly bytes: Buffer;
  readonly block: common.Block;
}

class Halted extends Error {}

export class BlockPuller {
  private plan: PullPlan | undefined;
  private planEndpoints = '';
  private stream: { endpoint: string; stream: BlockStream; next: number } | undefined;
  private closed = false;
  private waiting: { timer: TimerHandle; wake: () => void } | undefined;
  /** Reject the blocks being waited for; close() must not depend on the streams noticing. */
  private readonly abandonReceives = new Set<() => void>();

  constructor(
    private readonly options: BlockPullerOptions,
    private readonly deps: BlockPullerDependencies,
  ) {}

  /**
   * Block `number`, checked to be that block and (when previousHeaderHash is given) to chain onto
   * the block before. Tries ReplicationMaxRetries times across the endpoints, then rejects with
   * OrdererError('unavailable') naming what each endpoint did.
   */
  async pullBlock(number: number, previousHeaderHash?: Buffer): Promise<PulledBlock> {
    const plan = this.currentPlan();
    plan.succeeded();
    for (;;) {
      if (this.closed) throw new Halted(`the block puller of channel ${this.options.channelId} was closed`);
      const endpoint = plan.current();
      let reason: string;
      try {
        const open = this.streamFrom(endpoint, number);
        const bytes = await this.withPullTimeout(open.stream.next(), endpoint, number);
        open.next++;
        let block: common.Block;
        try {
          block = common.Block.decode(bytes);
        } catch (err) {
          throw new Error(`sent bytes that are not a common.Block: ${errorMessage(err)}`, { cause: err });
        }
        const problem = blockProblem(block, number, previousHeaderHash);
        if (problem) throw new Error(problem);
        plan.succeeded();
        return { bytes, block };
      } catch (err) {
        if (this.closed) throw new Halted(`the block puller of channel ${this.options.channelId} was closed`);
        reason = errorMessage(err);
      }
      this.dropStream();
      const next = plan.failed(reason);
      if (next.giveUp)
        throw unavailable(
          `cannot pull block [${number}] of channel ${this.options.channelId}: ${next.reason}`,
          {
            channel: this.options.channelId,
            block: number,
          },
        );
      this.deps.logger.warn(
        { channel: this.options.channelId, block: number, endpoint, next: next.endpoint, err: reason },
        `pulling block [${number}] from ${endpoint} failed; trying ${next.endpoint} in ${next.waitMs} ms`,
      );
      await this.sleep(next.waitMs);
      this.rebuildPlanIfEndpointsChanged();
    }
  }

  /**
   * Fabric's PullLastConfigBlock: the newest block any endpoint has (its height, as Fabric's
   * HeightsByEndpoints asks every endpoint), and the config block its LastConfig index names.
   * Rejects with OrdererError('unavailable') when no endpoint answers, naming what each did.
   */
  async lastConfigBlock(): Promise<PulledBlock> {
    const newest = await this.newestBlock();
    const index = lastConfigIndexOf(newest.block);
    const number = Number(newest.block.header!.number);
    if (index === number) return newest;
    if (index > number)
      throw unavailable(
        `the newest block [${number}] of channel ${this.options.channelId} names a later block [${index}] as its last config block`,
        { channel: this.options.channelId },
      );
    return this.pullBlock(index);
  }

  /** The highest newest block among the endpoints (each asked once, within the pull timeout). */
  private async newestBlock(): Promise<PulledBlock> {
    const endpoints = [...new Set(this.deps.endpoints())];
    const answers = await Promise.all(
      endpoints.map(async (endpoint) => {
        const stream = this.deps.source.open(endpoint, this.options.channelId, 'newest');
        try {
          const bytes = await this.withTimeout(stream.next(), endpoint, 'its newest block');
          const block = common.Block.decode(bytes);
          if (!block.header) throw new Error('sent a block with no header');
          return { endpoint, pulled: { bytes, block } };
        } catch (err) {
          return { endpoint, error: errorMessage(err) };
        } finally {
          stream.close();
        }
      }),
    );
    let best: PulledBlock | undefined;
    for (const answer of answers) {
      if (!answer.pulled) continue;
      if (!best || Number(answer.pulled.block.header!.number) > Number(best.block.header!.number))
        best = answer.pulled;
    }
    if (this.closed) throw new Halted(`the block puller of channel ${this.options.channelId} was closed`);
    if (!best)
      throw unavailable(
        `no orderer of channel ${this.options.channelId} said what its newest block is: ` +
          answers.map((a) => `${a.endpoint}: ${a.error}`).join('; '),
        { channel: this.options.channelId },
      );
    return best;
  }

  /** The last block handed out failed a later check: the next pull starts at another endpoint. */
  distrustCurrent(reason: string): void {
    const plan = this.currentPlan();
    const endpoint = plan.current();
    this.dropStream();
    const next = plan.failed(reason);
    this.deps.logger.warn(
      { channel: this.options.channelId, endpoint, err: reason },
      `a block from ${endpoint} failed verification${next.giveUp ? '' : `; pulling from ${next.endpoint} next`}`,
    );
  }

  /** Ends the open stream and any wait; pending and later pullBlock calls reject. */
  close(): void {
    this.closed = true;
    this.dropStream();
    this.waiting?.timer.cancel();
    this.waiting?.wake();
    for (const abandon of [...this.abandonReceives]) abandon();
  }

  /** The header hash a block's successor must carry as previous_hash. */
  static headerHash(block: common.IBlock): Buffer {
    return headerHashOf(block);
  }

  private currentPlan(): PullPlan {
    this.rebuildPlanIfEndpointsChanged();
    return this.plan!;
  }

  private rebuildPlanIfEndpointsChanged(): void {
    const endpoints = [...new Set(this.deps.endpoints())];
    const key = endpoints.join(',');
    if (this.plan && key === this.planEndpoints) return;
    this.plan = new PullPlan(
      { maxRetries: this.options.maxRetries, retryTimeoutMs: this.options.retryTimeoutMs },
      endpoints,
    );
    this.planEndpoints = key;
  }

  private streamFrom(
    endpoint: string,
    number: number,
  ): { stream: BlockStream; next: number } & { endpoint: string } {
    const open = this.stream;
    if (open && open.endpoint === endpoint && open.next === number) return open;
    this.dropStream();
    this.stream = {
      endpoint,
      stream: this.deps.source.open(endpoint, this.options.channelId, number),
      next: number,
    };
    return this.stream;
  }

  private dropStream(): void {
    this.stream?.stream.close();
    this.stream = undefined;
  }

  private withPullTimeout(next: Promise<Buffer>, endpoint: string, number: number): Promise<Buffer> {
    return this.withTimeout(next, endpoint, `block [${number}]`);
  }

  private withTimeout(next: Promise<Buffer>, endpoint: string, what: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const abandon = () => {
        this.abandonReceives.delete(abandon);
        timer.cancel();
        reject(new Halted(`the block puller of channel ${this.options.channelId} was closed`));
      };
      this.abandonReceives.add(abandon);
      const timer = this.deps.clock.setTimer(this.options.pullTimeoutMs, () =>
        reject(
          new OrdererError(
            'unavailable',
            `${what} did not arrive from ${endpoint} within General.Cluster.ReplicationPullTimeout (${this.options.pullTimeoutMs} ms)`,
          ),
        ),
      );
      next.then(
        (bytes) => {
          this.abandonReceives.delete(abandon);
          timer.cancel();
          resolve(bytes);
        },
        (err: unknown) => {
          this.abandonReceives.delete(abandon);
          timer.cancel();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.waiting = undefined;
        resolve();
      };
      this.waiting = { timer: this.deps.clock.setTimer(ms, wake), wake };
    });
  }
}

/** True for the rejection of a pullBlock cut short by close(). */
export function isPullerClosed(err: unknown): boolean {
  return err instanceof Halted;
}
