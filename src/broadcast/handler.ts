// Broadcast: one response per envelope, in order (Fabric's orderer/common/broadcast/broadcast.go).
// No gRPC types here: the server adapter feeds raw envelope bytes and writes the responses.
import { common } from '../protos/index.js';
import { errorMessage } from '../errors.js';
import { statusOf } from '../status.js';
import { decodeEnvelope } from '../protoutil/envelope.js';
import type { ReceivedEnvelope } from '../consensus/types.js';
import type { BroadcastTarget } from '../multichannel/registrar.js';
import type { Logger } from '../logging.js';

export interface BroadcastResponse {
  status: number;
  info: string;
}

/** What broadcast needs from the registrar. */
export interface BroadcastSupport {
  broadcastChannelSupport(env: ReceivedEnvelope): BroadcastTarget;
}

export interface BroadcastObserver {
  /** Called once per message with its final status and how long validation and enqueueing took (ms). */
  processed(info: {
    channel: string;
    type: number;
    status: number;
    validateMs: number;
    enqueueMs: number;
  }): void;
}

type Validated =
  | { ok: true; env: ReceivedEnvelope; target: BroadcastTarget; configSeq: number; validateMs: number }
  | { ok: false; response: BroadcastResponse; channel: string; type: number; validateMs: number };

const SUCCESS: BroadcastResponse = { status: common.Status.SUCCESS, info: '' };

export class BroadcastHandler {
  constructor(
    private readonly deps: {
      support: BroadcastSupport;
      logger: Logger;
      observer?: BroadcastObserver;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return this.deps.now ? this.deps.now() : performance.now();
  }

  /**
   * Phase 1, safe to run concurrently for many messages of one stream: decode, classify, filter
   * (signature checks included), or validate a config update into an orderer-signed config envelope.
   */
  async validate(raw: Buffer): Promise<Validated> {
    const started = this.now();
    let env: ReceivedEnvelope | undefined;
    try {
      env = decodeEnvelope(raw);
      const target = this.deps.support.broadcastChannelSupport(env);
      if (target.isConfig) {
        const { config, configSeq } = await target.chain.processor.processConfigUpdateMsg(env);
        return {
          ok: true,
          env: config,
          target: { ...target, isConfig: true },
          configSeq,
          validateMs: this.now() - started,
        };
      }
      const configSeq = await target.chain.processor.processNormalMsg(env);
      return { ok: true, env, target, configSeq, validateMs: this.now() - started };
    } catch (err) {
      const status = statusOf(err, common.Status.BAD_REQUEST);
      this.deps.logger.debug({ err: errorMessage(err), status }, 'broadcast message rejected');
      return {
        ok: false,
        response: { status, info: errorMessage(err) },
        channel: env?.channelHeader.channelId ?? '',
        type: env?.channelHeader.type ?? -1,
        validateMs: this.now() - started,
      };
    }
  }

  /** Phase 2, strictly in stream order: wait for the consenter and hand the message over. */
  async enqueue(validated: Validated): Promise<BroadcastResponse> {
    if (!validated.ok) {
      this.observe(validated.channel, validated.type, validated.response.status, validated.validateMs, 0);
      return validated.response;
    }
    const { env, target, configSeq } = validated;
    const started = this.now();
    let response = SUCCESS;
    try {
      const chain = target.chain.chain;
      await chain.waitReady();
      if (target.isConfig) await chain.configure(env, configSeq);
      else await chain.order(env, configSeq);
    } catch (err) {
      // Fabric answers every failure to wait for or enter the consenter with SERVICE_UNAVAILABLE.
      response = { status: common.Status.SERVICE_UNAVAILABLE, info: errorMessage(err) };
      this.deps.logger.warn(
        { channel: target.chain.channelId, err: response.info },
        'consenter did not accept message',
      );
    }
    this.observe(
      target.chain.channelId,
      target.channelHeader.type,
      response.status,
      validated.validateMs,
      this.now() - started,
    );
    return response;
  }

  private observe(
    channel: string,
    type: number,
    status: number,
    validateMs: number,
    enqueueMs: number,
  ): void {
    this.deps.observer?.processed({ channel, type, status, validateMs, enqueueMs });
  }

  async processMessage(raw: Buffer): Promise<BroadcastResponse> {
    return this.enqueue(await this.validate(raw));
  }
}

/**
 * One Broadcast stream: validation of several messages runs concurrently (so both cores verify
 * signatures), while consenter hand-off and responses keep the order in which messages arrived.
 * The first non-SUCCESS response ends the stream; later messages are dropped unanswered.
 */
export class BroadcastSession {
  private tail: Promise<void> = Promise.resolve();
  private inFlight = 0;
  private finished = false;

  constructor(
    private readonly handler: BroadcastHandler,
    private readonly io: {
      send(response: BroadcastResponse): void;
      /** Called after the first non-SUCCESS response was sent. */
      end(): void;
      /** Backpressure: pause/resume reading from the client. */
      pause(): void;
      resume(): void;
    },
    private readonly maxInFlight = 256,
  ) {}

  push(raw: Buffer): void {
    if (this.finished) return;
    const validated = this.handler.validate(raw);
    this.inFlight++;
    if (this.inFlight === this.maxInFlight) this.io.pause();
    this.tail = this.tail
      .then(async () => {
        const result = await validated;
        if (this.finished) return;
        const response = await this.handler.enqueue(result);
        if (this.finished) return;
        this.io.send(response);
        if (response.status !== common.Status.SUCCESS) {
          this.finished = true;
          this.io.end();
        }
      })
      .finally(() => {
        this.inFlight--;
        if (this.inFlight === this.maxInFlight - 1) this.io.resume();
      });
  }

  /** Resolves when every pushed message has been answered or dropped. */
  drained(): Promise<void> {
    return this.tail;
  }

  close(): void {
    this.finished = true;
  }
}
