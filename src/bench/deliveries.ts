// The load generator's reading side: one Deliver stream from just after the tip, each block's
// envelopes matched to the ones this run sent (by signature bytes, else by tx ID) and the time from
// send to "seen in a delivered block" recorded per envelope.
import { asBuffer, common, orderer as ordererProto, toNumber } from '../protos/index.js';
import type { RawDuplex } from './client.js';
import { envelopeSignatureKey, type PresignedLoad } from './presign.js';

export class DeliveryTracker {
  delivered = 0;
  blocks = 0;
  firstBlock: number | undefined;
  lastBlock: number | undefined;
  lastDeliveredAt = 0;
  private latencyCount = 0;
  private readonly latencies: Float64Array;
  private readonly seen: Uint8Array;

  /**
   * sentAt[i] is when envelope i was written (performance.now()); onBlock runs after each block,
   * onEnd once when the stream ends or fails (with why, unless it was cancelled by this side).
   */
  constructor(
    private readonly load: PresignedLoad,
    private readonly sentAt: Float64Array,
    private readonly events: { onBlock(): void; onEnd(error: string | undefined): void },
  ) {
    this.latencies = new Float64Array(load.frames.length);
    this.seen = new Uint8Array(load.frames.length);
  }

  /** Reads `stream`, which has been (or is about to be) sent its seek request. */
  follow(stream: RawDuplex): void {
    stream.on('data', (raw: Buffer) => {
      const response = ordererProto.DeliverResponse.decode(raw);
      if (!response.block) {
        this.events.onEnd(`Deliver ended with status ${response.status}`);
        return;
      }
      this.takeBlock(response.block, performance.now());
      this.events.onBlock();
    });
    stream.on('error', (err) => {
      this.events.onEnd(/CANCELLED|Cancelled/.test(err.message) ? undefined : `Deliver: ${err.message}`);
    });
  }

  /** Send-to-delivered latencies (ms) of the envelopes seen so far. */
  latenciesMs(): Float64Array {
    return this.latencies.subarray(0, this.latencyCount);
  }

  private takeBlock(block: common.IBlock, now: number): void {
    const number = toNumber(block.header?.number);
    this.firstBlock ??= number;
    this.lastBlock = number;
    this.blocks++;
    for (const data of block.data?.data ?? []) {
      const i = this.indexOf(data);
      if (i === undefined || this.seen[i]) continue;
      this.seen[i] = 1;
      this.latencies[this.latencyCount++] = now - this.sentAt[i]!;
      this.delivered++;
      this.lastDeliveredAt = now;
    }
  }

  /** Our envelope's index, read off its signature bytes; only a miss is decoded to its tx ID. */
  private indexOf(data: Uint8Array): number | undefined {
    const key = envelopeSignatureKey(data);
    const bySignature = key === undefined ? undefined : this.load.bySignature.get(key);
    if (bySignature !== undefined) return bySignature;
    try {
      const payload = common.Payload.decode(asBuffer(common.Envelope.decode(data).payload));
      return this.load.byTxId.get(common.ChannelHeader.decode(asBuffer(payload.header?.channelHeader)).txId);
    } catch {
      return undefined;
    }
  }
}
