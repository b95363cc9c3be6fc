// Fabric's follower.Chain (orderer/common/follower/follower_chain.go): the chain of a channel this
// orderer does not order for. It pulls the channel's blocks from the other orderers and appends
// each one after ConsenterSupport.appendVerified checked it (hash chain, BlockValidation of the
// config the channel is at), first up to the join block (status onboarding), then on (active).
// When a config block from the join block on lists this orderer as a consenter it stops and says
// so, and the registrar hands the channel to the consenter's chain.
import { OrdererError, errorMessage, unavailable } from '../../errors.js';
import type { common } from '../../protos/index.js';
import { isConfigBlock } from '../../channelconfig/index.js';
import type {
  Chain,
  ChainStatusReport,
  ChannelBlockPuller,
  ChannelJoin,
  ConsenterSupport,
  ReceivedEnvelope,
} from '../types.js';
import type { TimerHandle } from '../../clock.js';
import { StatusListeners } from '../status-listeners.js';

/** The join block a channel was joined with, when it was past the genesis block. */
export type JoinPoint = Pick<ChannelJoin, 'number' | 'headerHash'>;

/** What the follower needs of a block puller (src/replication's BlockPuller). */
export type FollowerBlockPuller = ChannelBlockPuller;

export interface FollowerChainOptions {
  /** Set while onboarding; undefined for a follower of a channel it already has up to its join. */
  readonly join: JoinPoint | undefined;
  /** Waits between failed pulls double from the first to the last (Fabric's follower backoff). */
  readonly minRetryWaitMs: number;
  readonly maxRetryWaitMs: number;
}

export interface FollowerChainDependencies {
  readonly support: ConsenterSupport;
  readonly puller: FollowerBlockPuller;
  /** Whether this orderer is a consenter of the channel as of this config block (the consenter's IsChannelMember). */
  readonly isMember: (configBlock: common.Block) => boolean;
  /** Called once, after the chain stopped, with the config block (in the ledger) that made this orderer a consenter. */
  readonly onBecameMember: (configBlock: common.Block) => void;
  /** The orderers a Broadcast client should use instead (for the refusal message). */
  readonly consenterEndpoints: () => readonly string[];
  /** Header hash of a block already in the ledger (for chaining the next pulled block on it). */
  readonly headerHashOf: (block: common.IBlock) => Buffer;
}

type State = 'new' | 'running' | 'member' | 'failed' | 'halted';

export class FollowerChain implements Chain {
  readonly ordersOnCall = false;
  readonly cluster = undefined;
  private state: State = 'new';
  private failure: Error | undefined;
  private loop: Promise<void> | undefined;
  private wait: { timer: TimerHandle; wake: () => void } | undefined;
  private lastHeaderHash: Buffer | undefined;
  private readonly statusListeners = new StatusListeners();

  constructor(
    private readonly options: FollowerChainOptions,
    private readonly deps: FollowerChainDependencies,
  ) {}

  start(): void {
    if (this.state !== 'new') return;
    this.state = 'running';
    this.loop = this.run().catch((err: unknown) => {
      this.failure = err instanceof Error ? err : new Error(String(err));
      this.state = 'failed';
      this.statusListeners.notify();
      this.deps.support.logger.error(
        { channel: this.deps.support.channelId, err: errorMessage(err) },
        `the follower of channel ${this.deps.support.channelId} stopped: ${errorMessage(err)}`,
      );
    });
  }

  async halt(): Promise<void> {
    if (this.state === 'running' || this.state === 'new') this.state = 'halted';
    this.statusListeners.notify();
    this.deps.puller.close();
    this.wait?.timer.cancel();
    this.wait?.wake();
    await this.loop;
  }

  onStatusChange(listener: () => void): () => void {
    return this.statusListeners.add(listener);
  }

  statusReport(): ChainStatusReport {
    if (this.state === 'failed') return { consensusRelation: 'follower', status: 'failed' };
    return { consensusRelation: 'follower', status: this.onboarding() ? 'onboarding' : 'active' };
  }

  errored(): Error | undefined {
    if (this.failure) return this.failure;
    if (this.onboarding())
      return unavailable(
        `channel ${this.deps.support.channelId} is onboarding: this orderer has ${this.deps.support.height()} of its blocks and is pulling them up to the join block [${this.options.join!.number}]`,
      );
    return undefined;
  }

  order(_env: ReceivedEnvelope, _configSeq: number): Promise<void> {
    return Promise.reject(this.notAConsenter());
  }

  configure(_configEnv: ReceivedEnvelope, _configSeq: number): Promise<void> {
    return Promise.reject(this.notAConsenter());
  }

  waitReady(): Promise<void> {
    return Promise.reject(this.notAConsenter());
  }

  private onboarding(): boolean {
    const join = this.options.join;
    return join !== undefined && this.deps.support.height() <= join.number;
  }

  private notAConsenter(): OrdererError {
    const { channelId } = this.deps.support;
    const endpoints = this.deps.consenterEndpoints();
    return unavailable(
      `this orderer is a follower of channel ${channelId}, not one of its consenters: it only ` +
        `replicates the channel's blocks; send transactions to ${endpoints.length ? endpoints.join(', ') : 'a consenter of the channel'}`,
      { channel: channelId, consenters: [...endpoints] },
    );
  }

  private async run(): Promise<void> {
    const { support } = this.deps;
    let failures = 0;
    while (this.state === 'running') {
      const number = support.height();
      let pulled: { bytes: Buffer; block: common.Block };
      try {
        pulled = await this.deps.puller.pullBlock(number, await this.previousHeaderHash(number));
      } catch (err) {
        if (this.state !== 'running') return;
        failures++;
        const waitMs = Math.min(
          this.options.maxRetryWaitMs,
          this.options.minRetryWaitMs * 2 ** Math.min(failures - 1, 30),
        );
        support.logger.warn(
          { channel: support.channelId, block: number, waitMs, err: errorMessage(err) },
          `failed to pull block [${number}]; trying again in ${waitMs} ms`,
        );
        await this.sleep(waitMs);
        continue;
      }
      failures = 0;
      if (this.state !== 'running') return;
      const join = this.options.join;
      if (join && number === join.number) {
        const hash = this.deps.headerHashOf(pulled.block);
        if (!hash.equals(join.headerHash))
          throw new OrdererError(
            'internal',
            `the pulled block [${number}] of channel ${support.channelId} is not the join block ` +
              '(their header hashes differ): the orderers pulled from serve another chain; remove ' +
              'the channel and join again with a config block of the chain they serve',
            { channel: support.channelId, block: number },
          );
      }
      try {
        await support.appendVerified(pulled.bytes);
      } catch (err) {
        if (this.state !== 'running') return;
        // A block that does not verify says nothing about the chain, only about who sent it.
        this.deps.puller.distrustCurrent(errorMessage(err));
        failures++;
        support.logger.warn(
          { channel: support.channelId, block: number, err: errorMessage(err) },
          `pulled block [${number}] failed verification; pulling it from another orderer`,
        );
        await this.sleep(this.options.minRetryWaitMs);
        continue;
      }
      this.lastHeaderHash = this.deps.headerHashOf(pulled.block);
      // Onboarding ends with the join block: errored() changes.
      if (number === this.options.join?.number) this.statusListeners.notify();
      if (join && number === join.number)
        support.logger.info(
          { channel: support.channelId, block: number },
          `onboarding of channel ${support.channelId} reached the join block [${number}]`,
        );
      const fromJoinOn = !join || number >= join.number;
      if (fromJoinOn && isConfigBlock(pulled.block) && this.deps.isMember(pulled.block)) {
        this.state = 'member';
        this.deps.puller.close();
        support.logger.info(
          { channel: support.channelId, block: number },
          `config block [${number}] lists this orderer as a consenter of channel ${support.channelId}: switching from follower to consenter`,
        );
        this.deps.onBecameMember(pulled.block);
        return;
      }
    }
  }

  private async previousHeaderHash(number: number): Promise<Buffer | undefined> {
    if (number === 0) return undefined;
    if (this.lastHeaderHash) return this.lastHeaderHash;
    const previous = await this.deps.support.block(number - 1);
    this.lastHeaderHash = previous ? this.deps.headerHashOf(previous) : undefined;
    return this.lastHeaderHash;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.wait = undefined;
        resolve();
      };
      this.wait = { timer: this.deps.support.clock.setTimer(ms, wake), wake };
    });
  }
}

