// Fabric's orderer/common/blockcutter/blockcutter.go: decides where one block ends and the next
// begins. Pure: it never touches timers or disks; the consenter owns the batch timer.
import type { BatchSize } from '../channelconfig/types.js';
import type { BlockCutterLike, ReceivedEnvelope } from '../consensus/types.js';
import type { Clock } from '../clock.js';

export interface BlockCutterOptions {
  /** The BatchSize of the channel's current config, read on every call so config updates apply at once. */
  batchSize: () => BatchSize;
}

export interface BlockCutterDependencies {
  /** For block_fill_duration: when the first pending message arrived. */
  clock: Clock;
  /** Called with the seconds from the first pending message to its cut (blockcutter_block_fill_duration). */
  observeBlockFillDuration?: (seconds: number) => void;
}

/** The size the cutter counts for an envelope, as Fabric's messageSizeBytes. */
export function messageSizeBytes(env: Pick<ReceivedEnvelope, 'payload' | 'signature'>): number {
  return env.payload.length + env.signature.length;
}

export class BlockCutter implements BlockCutterLike {
  private readonly batchSize: () => BatchSize;
  private readonly clock: Clock;
  private readonly observeFill: (seconds: number) => void;
  private pendingBatch: ReceivedEnvelope[] = [];
  private pendingBatchBytes = 0;
  private pendingSince = 0;

  constructor(options: BlockCutterOptions, deps: BlockCutterDependencies) {
    this.batchSize = options.batchSize;
    this.clock = deps.clock;
    this.observeFill = deps.observeBlockFillDuration ?? (() => {});
  }

  get pendingCount(): number {
    return this.pendingBatch.length;
  }

  get pendingBytes(): number {
    return this.pendingBatchBytes;
  }

  ordered(env: ReceivedEnvelope): { batches: ReceivedEnvelope[][]; pending: boolean } {
    if (this.pendingBatch.length === 0) this.pendingSince = this.clock.now();
    const { maxMessageCount, preferredMaxBytes } = this.batchSize();
    const size = messageSizeBytes(env);
    const batches: ReceivedEnvelope[][] = [];

    if (size > preferredMaxBytes) {
      // An oversized message goes alone so it cannot push a whole batch past the preferred size.
      if (this.pendingBatch.length > 0) batches.push(this.cut());
      batches.push([env]);
      this.observeFill(0);
      return { batches, pending: false };
    }

    if (this.pendingBatchBytes + size > preferredMaxBytes) {
      batches.push(this.cut());
      this.pendingSince = this.clock.now();
    }

    this.pendingBatch.push(env);
    this.pendingBatchBytes += size;
    if (this.pendingBatch.length >= maxMessageCount) {
      batches.push(this.cut());
      return { batches, pending: false };
    }
    return { batches, pending: true };
  }

  cut(): ReceivedEnvelope[] {
    const batch = this.pendingBatch;
    if (batch.length > 0) this.observeFill(Math.max(0, this.clock.now() - this.pendingSince) / 1000);
    this.pendingBatch = [];
    this.pendingBatchBytes = 0;
    this.pendingSince = 0;
    return batch;
  }
}
