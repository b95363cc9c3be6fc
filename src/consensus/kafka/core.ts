// The decision logic of Fabric's Kafka chain (orderer/consensus/kafka/chain.go: processMessagesToBlocks,
// processConnect, processRegular, processTimeToCut, and the batch timer), without I/O. Every orderer of
// a channel consumes the same partition in the same order and feeds it to this core, so all of them cut
// the same blocks: a block is cut only by what is in the partition (a full batch, a config message, or
// a TIME_TO_CUT message naming the block), never by a local clock.
//
// The driver (chain.ts) feeds events in (a consumed message, the batch timer firing, the outcome of a
// re-validation it was asked for) one at a time and carries out the returned effects in order before
// the next event: write blocks, arm or cancel the timer, post TIME_TO_CUT, re-validate and re-submit,
// block or unblock ingress.
import { HeaderType } from '../../protoutil/envelope.js';
import type { BlockCutterLike, ReceivedEnvelope } from '../types.js';
import { decodeKafkaMessage, type KafkaMetadataValues } from './messages.js';

/** What the core reads from the current channel config with each event. */
export interface CoreContext {
  /** The channel's config sequence now. */
  sequence: number;
  /** Orderer capability V1_1 or later: stale messages are re-validated and re-ordered. */
  resubmission: boolean;
  /** BatchTimeout now, for a timer armed by this event. */
  batchTimeoutMs: number;
}

export type KafkaEffect =
  /** Create the next block (number blockNumber) from batch and write it with this KafkaMetadata. */
  | {
      type: 'write-block';
      kind: 'normal' | 'config';
      blockNumber: number;
      batch: ReceivedEnvelope[];
      metadata: KafkaMetadataValues;
    }
  /** Start the batch timer; when it fires, feed timerFired(generation). */
  | { type: 'arm-timer'; generation: number; timeoutMs: number }
  | { type: 'cancel-timer' }
  /** Post TIME_TO_CUT for this block; on failure feed timeToCutPostFailed(). */
  | { type: 'post-time-to-cut'; blockNumber: number }
  /** Re-validate (processNormalMsg) and, if still valid, post it again as NORMAL with originalOffset. */
  | { type: 'resubmit-normal'; env: ReceivedEnvelope; originalOffset: number }
  /** Re-validate (processConfigMsg) and, if still valid, post the result as CONFIG with originalOffset,
   *  then feed configResubmitted(originalOffset); if re-validation rejects it, feed configRejected(). */
  | { type: 'resubmit-config'; env: ReceivedEnvelope; originalOffset: number }
  /** Compatibility mode (no resubmission): validate, and if valid feed commitValidated(). */
  | { type: 'validate'; kind: 'normal' | 'config'; env: ReceivedEnvelope; receivedOffset: number }
  /** Hold new Broadcast messages until unblock-ingress (a re-submitted config message is in flight). */
  | { type: 'block-ingress' }
  | { type: 'unblock-ingress' }
  /** A consumed message was dropped; log why. */
  | { type: 'discard'; offset: number; reason: string; level: 'debug' | 'warn' }
  /** The partition holds something this chain cannot go past: stop processing the channel. */
  | { type: 'fatal'; offset: number; reason: string };

export interface KafkaCoreState extends KafkaMetadataValues {
  /** Number of the last block in the ledger (height - 1). */
  lastCutBlockNumber: number;
}

export interface KafkaCoreDependencies {
  blockCutter: BlockCutterLike;
  decodeEnvelope: (raw: Buffer) => ReceivedEnvelope;
}

export class KafkaCore {
  private lastOffsetPersisted: number;
  private lastOriginalOffsetProcessed: number;
  private lastResubmittedConfigOffset: number;
  private lastCutBlockNumber: number;
  private timerGeneration = 0;
  private timerArmed = false;
  /** Whether the block cutter holds messages (as its last answer said). */
  private pending = false;
  private ingressBlocked: boolean;
  /** The stale config message of the last resubmit-config effect, until its outcome is fed back. */
  private staleConfig: { receivedOffset: number; originalOffset: number } | undefined;
  private readonly blockCutter: BlockCutterLike;
  private readonly decodeEnvelope: (raw: Buffer) => ReceivedEnvelope;

  constructor(state: KafkaCoreState, deps: KafkaCoreDependencies) {
    this.lastOffsetPersisted = state.lastOffsetPersisted;
    this.lastOriginalOffsetProcessed = state.lastOriginalOffsetProcessed;
    this.lastResubmittedConfigOffset = state.lastResubmittedConfigOffset;
    this.lastCutBlockNumber = state.lastCutBlockNumber;
    this.blockCutter = deps.blockCutter;
    this.decodeEnvelope = deps.decodeEnvelope;
    // Ingress stays open unless a config message we re-submitted has not come back yet: none was
    // re-submitted (0), or something at or after it is already in a block.
    this.ingressBlocked =
      state.lastResubmittedConfigOffset !== 0 &&
      state.lastResubmittedConfigOffset > state.lastOriginalOffsetProcessed;
  }

  /** True while Broadcast must wait (see block-ingress). */
  get isIngressBlocked(): boolean {
    return this.ingressBlocked;
  }

  get isTimerArmed(): boolean {
    return this.timerArmed;
  }

  get state(): Readonly<KafkaCoreState> {
    return {
      lastOffsetPersisted: this.lastOffsetPersisted,
      lastOriginalOffsetProcessed: this.lastOriginalOffsetProcessed,
      lastResubmittedConfigOffset: this.lastResubmittedConfigOffset,
      lastCutBlockNumber: this.lastCutBlockNumber,
    };
  }

  /** A message consumed from the partition at offset. */
  consumed(offset: number, value: Buffer, ctx: CoreContext): KafkaEffect[] {
    let message;
    try {
      message = decodeKafkaMessage(value);
    } catch (err) {
      // Fabric: "This shouldn't happen, it should be filtered at ingress" - skip it.
      return [
        {
          type: 'discard',
          offset,
          level: 'warn',
          reason: `unable to unmarshal consumed message: ${text(err)}`,
        },
      ];
    }
    switch (message.type) {
      case 'connect':
        return [];
      case 'time-to-cut':
        return this.timeToCut(message.blockNumber, offset);
      case 'regular':
        return this.regular(message, offset, ctx);
    }
  }

  /** The batch timer armed with this generation fired. */
  timerFired(generation: number): KafkaEffect[] {
    if (!this.timerArmed || generation !== this.timerGeneration) return [];
    this.timerArmed = false;
    return [{ type: 'post-time-to-cut', blockNumber: this.lastCutBlockNumber + 1 }];
  }

  /** Posting TIME_TO_CUT failed: arm the timer again so the pending batch is not stranded. */
  timeToCutPostFailed(blockNumber: number, ctx: CoreContext): KafkaEffect[] {
    if (this.timerArmed || !this.pending || blockNumber !== this.lastCutBlockNumber + 1) return [];
    return [this.armTimer(ctx)];
  }

  /** Re-validation rejected the config message of the resubmit-config effect with this originalOffset.
   *  If that message was a copy of the re-submission ingress is waiting for, nothing will come back to
   *  unblock it: every orderer rejects the same copies. Fabric's chain.go keeps Broadcast blocked for
   *  good then (and again after a restart, as the block metadata still names the re-submission); here
   *  ingress is unblocked and the re-submission forgotten (0), so a restart does not block either. */
  configRejected(originalOffset: number): KafkaEffect[] {
    const stale = this.staleConfig;
    this.staleConfig = undefined;
    if (stale?.receivedOffset !== originalOffset) return [];
    if (stale.originalOffset === 0 || stale.originalOffset !== this.lastResubmittedConfigOffset) return [];
    this.lastResubmittedConfigOffset = 0;
    if (!this.ingressBlocked) return [];
    this.ingressBlocked = false;
    return [{ type: 'unblock-ingress' }];
  }

  /** A config message re-submitted by this chain (resubmit-config) is in Kafka. */
  configResubmitted(originalOffset: number): KafkaEffect[] {
    this.staleConfig = undefined;
    this.lastResubmittedConfigOffset = originalOffset;
    if (this.ingressBlocked) return [];
    this.ingressBlocked = true;
    return [{ type: 'block-ingress' }];
  }

  /** Compatibility mode: the message of a validate effect passed validation. */
  commitValidated(
    kind: 'normal' | 'config',
    env: ReceivedEnvelope,
    receivedOffset: number,
    ctx: CoreContext,
  ) {
    return kind === 'config'
      ? this.commitConfig(env, this.lastOriginalOffsetProcessed, receivedOffset)
      : this.commitNormal(env, this.lastOriginalOffsetProcessed, receivedOffset, ctx);
  }

  private timeToCut(blockNumber: number, offset: number): KafkaEffect[] {
    const expected = this.lastCutBlockNumber + 1;
    if (blockNumber < expected) {
      return [
        {
          type: 'discard',
          offset,
          level: 'debug',
          reason: `stale time-to-cut message for block ${blockNumber}`,
        },
      ];
    }
    if (blockNumber > expected) {
      return [
        {
          type: 'fatal',
          offset,
          reason: `got larger time-to-cut message (${blockNumber}) than allowed/expected (${expected}); this might indicate a bug`,
        },
      ];
    }
    const effects: KafkaEffect[] = [this.cancelTimer()];
    const batch = this.blockCutter.cut();
    this.pending = false;
    if (batch.length === 0) {
      effects.push({
        type: 'fatal',
        offset,
        reason: `got right time-to-cut message (for block ${expected}), no pending requests though; this might indicate a bug`,
      });
      return effects;
    }
    // Fabric's processTimeToCut leaves LastResubmittedConfigOffset out (0) of this block's metadata,
    // so a restart from it forgets a re-submitted config message in flight; it is recorded here.
    effects.push(
      this.cut('normal', batch, {
        lastOffsetPersisted: offset,
        lastOriginalOffsetProcessed: this.lastOriginalOffsetProcessed,
        lastResubmittedConfigOffset: this.lastResubmittedConfigOffset,
      }),
    );
    return effects;
  }

  private regular(
    message: {
      payload: Buffer;
      configSeq: number;
      class: 'unknown' | 'normal' | 'config';
      originalOffset: number;
    },
    offset: number,
    ctx: CoreContext,
  ): KafkaEffect[] {
    let env: ReceivedEnvelope;
    try {
      env = this.decodeEnvelope(message.payload);
    } catch (err) {
      return [
        {
          type: 'discard',
          offset,
          level: 'warn',
          reason: `failed to unmarshal payload of regular message: ${text(err)}`,
        },
      ];
    }

    // Messages from v1.0 orderers (class UNKNOWN), or a channel without the resubmission capability:
    // validate again and never re-order, as the pre-v1.1 orderers do (they cannot spot re-ordered copies).
    if (message.class === 'unknown' || !ctx.resubmission) {
      const type = env.channelHeader.type;
      if (type === HeaderType.CONFIG || type === HeaderType.ORDERER_TRANSACTION) {
        return [{ type: 'validate', kind: 'config', env, receivedOffset: offset }];
      }
      if (type === HeaderType.CONFIG_UPDATE) {
        return [
          { type: 'discard', offset, level: 'warn', reason: 'not expecting message of type ConfigUpdate' },
        ];
      }
      return [{ type: 'validate', kind: 'normal', env, receivedOffset: offset }];
    }

    const effects: KafkaEffect[] = [];
    if (message.originalOffset !== 0) {
      if (message.originalOffset <= this.lastOriginalOffsetProcessed) {
        return [
          {
            type: 'discard',
            offset,
            level: 'debug',
            reason: `re-submitted message with original offset ${message.originalOffset} was processed already (last original offset processed ${this.lastOriginalOffsetProcessed})`,
          },
        ];
      }
      if (message.class === 'config') {
        if (
          message.originalOffset === this.lastResubmittedConfigOffset &&
          message.configSeq === ctx.sequence
        ) {
          // The last config message in flight came back and needs no further re-validation.
          if (this.ingressBlocked) {
            this.ingressBlocked = false;
            effects.push({ type: 'unblock-ingress' });
          }
        }
        // Another orderer re-submitted a message we judged invalid: follow it, so all agree.
        if (this.lastResubmittedConfigOffset < message.originalOffset) {
          this.lastResubmittedConfigOffset = message.originalOffset;
        }
      }
    }

    if (message.configSeq < ctx.sequence) {
      // The config changed since the message was validated: validate again and order it anew, with
      // this offset as its original offset (every orderer does this; the copies are de-duplicated).
      if (message.class === 'config') {
        this.staleConfig = { receivedOffset: offset, originalOffset: message.originalOffset };
        effects.push({ type: 'resubmit-config', env, originalOffset: offset });
      } else effects.push({ type: 'resubmit-normal', env, originalOffset: offset });
      return effects;
    }

    // Valid under the current config. lastOriginalOffsetProcessed advances only for re-ordered messages.
    const newOffset =
      message.originalOffset !== 0 ? message.originalOffset : this.lastOriginalOffsetProcessed;
    effects.push(
      ...(message.class === 'config'
        ? this.commitConfig(env, newOffset, offset)
        : this.commitNormal(env, newOffset, offset, ctx)),
    );
    return effects;
  }

  private commitNormal(env: ReceivedEnvelope, newOffset: number, receivedOffset: number, ctx: CoreContext) {
    const effects: KafkaEffect[] = [];
    const { batches, pending } = this.blockCutter.ordered(env);
    this.pending = pending;
    if (this.timerArmed && !pending) effects.push(this.cancelTimer());
    else if (!this.timerArmed && pending) effects.push(this.armTimer(ctx));

    if (batches.length === 0) {
      this.lastOriginalOffsetProcessed = newOffset;
      return effects;
    }
    // When this message is not in the first batch, that block ends at the previous offset and
    // records the lastOriginalOffsetProcessed from before this message.
    let offset = receivedOffset;
    if (pending || batches.length === 2) offset--;
    else this.lastOriginalOffsetProcessed = newOffset;
    effects.push(
      this.cut('normal', batches[0]!, {
        lastOffsetPersisted: offset,
        lastOriginalOffsetProcessed: this.lastOriginalOffsetProcessed,
        lastResubmittedConfigOffset: this.lastResubmittedConfigOffset,
      }),
    );
    // Fabric's commitNormalMsg forgets this when the message stays pending after one cut batch. Then
    // the other copies of a re-submitted message (every orderer posts one) are ordered again, and an
    // orderer restarted from the block just cut (which sets it when it re-reads the message) writes
    // different blocks than one that kept running. Advancing it here keeps every orderer in step.
    this.lastOriginalOffsetProcessed = newOffset;
    if (batches.length === 2) {
      offset++;
      effects.push(
        this.cut('normal', batches[1]!, {
          lastOffsetPersisted: offset,
          lastOriginalOffsetProcessed: newOffset,
          lastResubmittedConfigOffset: this.lastResubmittedConfigOffset,
        }),
      );
    }
    return effects;
  }

  private commitConfig(env: ReceivedEnvelope, newOffset: number, receivedOffset: number): KafkaEffect[] {
    const effects: KafkaEffect[] = [];
    const pendingBatch = this.blockCutter.cut();
    this.pending = false;
    if (pendingBatch.length > 0) {
      effects.push(
        this.cut('normal', pendingBatch, {
          lastOffsetPersisted: receivedOffset - 1,
          lastOriginalOffsetProcessed: this.lastOriginalOffsetProcessed,
          lastResubmittedConfigOffset: this.lastResubmittedConfigOffset,
        }),
      );
    }
    this.lastOriginalOffsetProcessed = newOffset;
    effects.push(
      this.cut('config', [env], {
        lastOffsetPersisted: receivedOffset,
        lastOriginalOffsetProcessed: this.lastOriginalOffsetProcessed,
        lastResubmittedConfigOffset: this.lastResubmittedConfigOffset,
      }),
    );
    if (this.timerArmed) effects.push(this.cancelTimer());
    return effects;
  }

  private cut(
    kind: 'normal' | 'config',
    batch: ReceivedEnvelope[],
    metadata: KafkaMetadataValues,
  ): KafkaEffect {
    this.lastCutBlockNumber++;
    this.lastOffsetPersisted = metadata.lastOffsetPersisted;
    return { type: 'write-block', kind, blockNumber: this.lastCutBlockNumber, batch, metadata };
  }

  private armTimer(ctx: CoreContext): KafkaEffect {
    this.timerArmed = true;
    return { type: 'arm-timer', generation: ++this.timerGeneration, timeoutMs: ctx.batchTimeoutMs };
  }

  private cancelTimer(): KafkaEffect {
    this.timerArmed = false;
    this.timerGeneration++;
    return { type: 'cancel-timer' };
  }
}

function text(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
