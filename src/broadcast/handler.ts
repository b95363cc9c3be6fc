// Broadcast: one response per envelope, in order (Fabric's orderer/common/broadcast/broadcast.go).
// No gRPC types here: the server adapter feeds raw envelope bytes and writes the responses.
import { common } from '../protos/index.js';
import { errorMessage } from '../errors.js';
import { statusOf } from '../status.js';
import { decodeEnvelope } from '../protoutil/envelope.js';
import type { Chain, ReceivedEnvelope } from '../consensus/types.js';
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
    const started = this.now();
    let response = SUCCESS;
    try {
      const chain = validated.target.chain.chain;
      await chain.waitReady();
      await this.handOver(chain, validated);
    } catch (err) {
      response = this.refused(validated, err);
    }
    this.observeAccepted(validated, response, started);
    return response;
  }

  /**
   * True when the message may be handed over before the previous message of its stream settled:
   * its consenter fixes the order inside order()/configure() (Chain.ordersOnCall), and it is valid
   * (an invalid message ends the stream, so nothing after it may be handed over).
   */
  canPipeline(validated: Validated): boolean {
    return validated.ok && validated.target.chain.chain.ordersOnCall === true;
  }

  /**
   * Phase 2 for a consenter that orders on call: the message takes its place in the order before
   * this returns; the promise settles with the response once the consenter made it durable.
   * Refusals (chain not started, halted, failed) come back as SERVICE_UNAVAILABLE as in enqueue().
   */
  submit(validated: Validated): Promise<BroadcastResponse> {
    if (!validated.ok || !validated.target.chain.chain.ordersOnCall) return this.enqueue(validated);
    const started = this.now();
    let accepted: Promise<void>;
    try {
      accepted = this.handOver(validated.target.chain.chain, validated);
    } catch (err) {
      accepted = Promise.reject(err);
    }
    return accepted.then(
      () => {
        this.observeAccepted(validated, SUCCESS, started);
        return SUCCESS;
      },
      (err: unknown) => {
        const response = this.refused(validated, err);
        this.observeAccepted(validated, response, started);
        return response;
      },
    );
  }

  private handOver(chain: Chain, validated: Extract<Validated, { ok: true }>): Promise<void> {
    return validated.target.isConfig
      ? chain.configure(validated.env, validated.configSeq)
      : chain.order(validated.env, validated.configSeq);
  }

  private refused(validated: Extract<Validated, { ok: true }>, err: unknown): BroadcastResponse {
    // Fabric answers every failure to wait for or enter the consenter with SERVICE_UNAVAILABLE.
    const response = { status: common.Status.SERVICE_UNAVAILABLE, info: errorMessage(err) };
    this.deps.logger.warn(
      { channel: validated.target.chain.channelId, err: response.info },
      'consenter did not accept message',
    );
    return response;
  }

  private observeAccepted(
    validated: Extract<Validated, { ok: true }>,
    response: BroadcastResponse,
    started: number,
  ): void {
    if (!this.deps.observer) return;
    this.observe(
      validated.target.chain.channelId,
      validated.target.channelHeader.type,
      response.status,
      validated.validateMs,
      this.now() - started,
    );
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
 * With a consenter that orders on call (solo), message k+1 is handed over as soon as it is valid,
 * without waiting until message k is durable, so concurrent messages of one stream share one
 * write-ahead-log fsync; the responses still go out in order, each only once its message is durable.
 * The first non-SUCCESS response ends the stream; later messages are dropped unanswered (and an
 * invalid message stops the hand-over of every message after it).
 */
export class BroadcastSession {
  /** Settles once the last pushed message was handed over (or dropped). */
  private handOffTail: Promise<void> = Promise.resolve();
  /** Settles once the last pushed message was answered (or dropped). */
  private tail: Promise<void> = Promise.resolve();
  private inFlight = 0;
  private finished = false;
  /** No more hand-overs: an earlier message was invalid, or the stream is finished. */
  private stopped = false;

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
    let response!: Promise<BroadcastResponse | undefined>;
    // Hand-over, in stream order. For a pipelining consenter it completes as soon as the message
    // has its place in the order; otherwise only once the consenter answered (as in Fabric).
    const handedOver = this.handOffTail.then(async () => {
      const result = await validated;
      if (this.stopped) {
        response = Promise.resolve(undefined);
        return;
      }
      if (!result.ok) this.stopped = true;
      if (this.handler.canPipeline(result)) {
        response = this.handler.submit(result);
        return;
      }
      const answer = await this.handler.enqueue(result);
      response = Promise.resolve(answer);
    });
    this.handOffTail = handedOver.catch(() => {});
    this.tail = this.tail
      .then(async () => {
        await handedOver;
        const answer = await response;
        if (this.finished || answer === undefined) return;
        this.io.send(answer);
        if (answer.status !== common.Status.SUCCESS) {
          this.finished = true;
          this.stopped = true;
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
    this.stopped = true;
  }
}
