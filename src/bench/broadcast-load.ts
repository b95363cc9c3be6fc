// The load generator's sending side: K Broadcast streams spread over the given connections, stream
// s sending envelopes s, s+K, s+2K, ... with at most `window` of them unanswered at a time.
import { common, orderer as ordererProto } from '../protos/index.js';
import type { AtomicBroadcastClient, RawDuplex } from './client.js';

export interface BroadcastLoadOptions {
  readonly streams: number;
  readonly window: number;
}

export class BroadcastLoad {
  sent = 0;
  acknowledged = 0;
  accepted = 0;
  lastAckAt = 0;
  unanswered = 0;
  streamsDone = 0;
  readonly rejected: Record<string, number> = {};
  readonly rejectionSamples: string[] = [];
  readonly streamErrors: string[] = [];

  /**
   * sentAt[i] is set when frame i is written; onStreamDone runs as each stream finishes (all its
   * envelopes answered, or it ended or failed early).
   */
  constructor(
    private readonly options: BroadcastLoadOptions,
    private readonly frames: readonly Buffer[],
    private readonly sentAt: Float64Array,
    private readonly onStreamDone: () => void,
  ) {}

  get allStreamsDone(): boolean {
    return this.streamsDone === this.options.streams;
  }

  /** Opens every stream and starts sending; the streams are pushed to openStreams for cancelling. */
  start(clients: readonly AtomicBroadcastClient[], openStreams: RawDuplex[]): void {
    for (let s = 0; s < this.options.streams; s++) {
      const stream = clients[s % clients.length]!.broadcast();
      openStreams.push(stream);
      this.drive(s, stream);
    }
  }

  private drive(s: number, stream: RawDuplex): void {
    const { streams, window } = this.options;
    const mine: number[] = [];
    for (let i = s; i < this.frames.length; i += streams) mine.push(i);
    let next = 0;
    let answered = 0;
    let done = false;
    const close = () => {
      if (done) return;
      done = true;
      this.unanswered += mine.length - answered;
      this.streamsDone++;
      stream.end();
      this.onStreamDone();
    };
    const pump = () => {
      while (!done && next < mine.length && next - answered < window) {
        const i = mine[next++]!;
        this.sentAt[i] = performance.now();
        this.sent++;
        stream.write(this.frames[i]!, true);
      }
    };
    stream.on('data', (raw: Buffer) => {
      const response = ordererProto.BroadcastResponse.decode(raw);
      answered++;
      this.acknowledged++;
      this.lastAckAt = performance.now();
      if (response.status === common.Status.SUCCESS) {
        this.accepted++;
      } else {
        this.rejected[response.status] = (this.rejected[response.status] ?? 0) + 1;
        if (this.rejectionSamples.length < 5)
          this.rejectionSamples.push(`${response.status}: ${response.info}`);
      }
      if (answered === mine.length) close();
      else pump();
    });
    stream.on('error', (err) => {
      if (!done) this.streamErrors.push(`Broadcast stream ${s}: ${err.message}`);
      close();
    });
    stream.on('end', close);
    if (mine.length === 0) close();
    else pump();
  }
}
