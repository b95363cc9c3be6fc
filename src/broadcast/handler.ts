// Broadcast: one response per envelope, in order (Fabric's orderer/common/broadcast/broadcast.go).
// No gRPC types here: the server adapter feeds raw envelope bytes and writes the responses.
import { common } from '../protos/index.js';
import { errorCode, errorMessage, internal, OrdererError } from '../errors.js';
import { wireStatusOf } from '../status.js';
import { decodeEnvelope } from '../protoutil/envelope.js';
import type { Chain, ReceivedEnvelope } from '../consensus/types.js';
import type { Logger } from '../logging.js';
import type { Clock } from '../clock.js';

export interface BroadcastResponse {
  status: number;
  info: string;
}

/** The chain of a channel, as Broadcast hands messages to it. */
export type BroadcastConsenter = Pick<Chain, 'ordersOnCall' | 'waitReady' | 'order' | 'configure'>;

/** What Broadcast needs of the channel a message is for (Fabric's broadcast.go ChannelSupport). */
export interface BroadcastChannel {
  readonly channelId: string;
  /** Validates a normal message; resolves with the config sequence it was validated at. */
  processNormalMsg(env: ReceivedEnvelope): Promise<number>;
  /** Validates a CONFIG_UPDATE; resolves with the orderer-signed CONFIG envelope and the sequence. */
  processConfigUpdateMsg(env: ReceivedEnvelope): Promise<{ config: ReceivedEnvelope; configSeq: number }>;
  readonly chain: BroadcastConsenter;
}

export interface BroadcastTarget {
  channelHeader: common.ChannelHeader;
  /** A CONFIG_UPDATE (to be validated and wrapped), not a normal message. */
  isConfig: boolean;
  channel: BroadcastChannel;
}

/** What Broadcast needs from the registrar: the channel a message is for. */
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
      /** Validation and enqueue durations are measured on its monotonic clock. */
      clock: Clock;
    },
  ) {}

  private now(): number {
    return this.deps.clock.elapsed();
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
        const { config, configSeq } = await target.channel.processConfigUpdateMsg(env);
        return {
          ok: true,
          env: config,
          target: { ...target, isConfig: true },
          configSeq,
          validateMs: this.now() - started,
        };
      }
      const configSeq = await target.channel.processNormalMsg(env);
      return { ok: true, env, target, configSeq, validateMs: this.now() - started };
    } catch (err) {
      const rejection = rejected(err);
      const status = wireStatusOf(rejection);
      this.deps.logger.debug(
        { err: rejection.message, code: rejection.errorCode, status },
        'broadcast message rejected',
      );
      return {
        ok: false,
        response: { status, info: rejection.message },
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
      const chain = validated.target.channel.chain;
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
    return validated.ok && validated.target.channel.chain.ordersOnCall === true;
  }

  /**
   * Phase 2 for a consenter that orders on call: the message takes its place in the order before
   * this returns; the promise settles with the response once the consenter made it durable.
   * Refusals (chain not started, halted, failed) come back as SERVICE_UNAVAILABLE as in enqueue().
   */
  submit(validated: Validated): Promise<BroadcastResponse> {
    if (!validated.ok || !validated.target.channel.chain.ordersOnCall) return this.enqueue(validated);
    const started = this.now();
    let accepted: Promise<void>;
    try {
      accepted = this.handOver(validated.target.channel.chain, validated);
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

  private handOver(chain: BroadcastConsenter, validated: Extract<Validated, { ok: true }>): Promise<void> {
    return validated.target.isConfig
      ? chain.configure(validated.env, validated.configSeq)
      : chain.order(validated.env, validated.configSeq);
  }

  private refused(validated: Extract<Validated, { ok: true }>, err: unknown): BroadcastResponse {
    const channel = validated.target.channel.channelId;
    const refusal = notAccepted(err, channel);
    const response = { status: wireStatusOf(refusal), info: refusal.message };
    this.deps.logger.warn(
      { channel, err: response.info, code: errorCode(err) },
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
      validated.target.channel.channelId,
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
  /**
   * Messages not answered yet, in arrival order, from `head` on (`head` moves instead of shift(),
   * which would copy the array per message). A slot's response is undefined until known, null
   * when the message is dropped unanswered.
   */
  private slots: Slot[] = [];
  private head = 0;
  /** Index of the next slot to hand over. */
  private handOffAt = 0;
  /** A hand-over to a consenter that does not order on call is waiting for its answer. */
  private handingOver = false;
  private inFlight = 0;
  private finished = false;
  /** No more hand-overs: an earlier message was invalid, or the stream is finished. */
  private stopped = false;
  private drainWaiters: (() => void)[] = [];
  /** The last send() found the response stream full: the client is not reading its answers. */
  private sendBlocked = false;
  private readingPaused = false;

  constructor(
    private readonly handler: BroadcastHandler,
    private readonly io: {
      /** False when the stream's buffer is full; writable() is then called once it has room. */
      send(response: BroadcastResponse): boolean;
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
    const slot: Slot = { validated: undefined, response: undefined };
    this.slots.push(slot);
    this.inFlight++;
    this.updateReading();
    this.handler.validate(raw).then(
      (validated) => this.validated(slot, validated),
      (err: unknown) => this.validated(slot, internalFailure(err)),
    );
  }

  /** Resolves when every pushed message has been answered or dropped. */
  drained(): Promise<void> {
    if (this.head === this.slots.length) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  close(): void {
    this.finished = true;
    this.stopped = true;
  }

  /** The response stream has room again (its 'drain'). */
  writable(): void {
    this.sendBlocked = false;
    this.updateReading();
  }

  /**
   * Reading stops while maxInFlight messages are unanswered, and while the client leaves its
   * answers unread: otherwise such a client could make the server take on envelopes and queue
   * answers without bound. Then HTTP/2 flow control stops the client's sends.
   */
  private updateReading(): void {
    const pause = this.inFlight >= this.maxInFlight || this.sendBlocked;
    if (pause === this.readingPaused) return;
    this.readingPaused = pause;
    if (pause) this.io.pause();
    else this.io.resume();
  }

  private validated(slot: Slot, validated: Validated): void {
    slot.validated = validated;
    this.handOver();
  }

  /** Hands over, in stream order, every validated message whose turn it is. */
  private handOver(): void {
    while (!this.handingOver && this.handOffAt < this.slots.length) {
      const slot = this.slots[this.handOffAt]!;
      const result = slot.validated;
      if (result === undefined) break; // its validation is still running: later ones wait
      this.handOffAt++;
      if (this.stopped) {
        slot.response = null;
        continue;
      }
      if (!result.ok) this.stopped = true;
      const answered = (response: BroadcastResponse) => {
        slot.response = response;
        this.answer();
      };
      if (this.handler.canPipeline(result)) {
        // Its place in the order is taken now; the next message may go at once.
        this.handler.submit(result).then(answered, (err: unknown) => answered(failureResponse(err)));
      } else {
        this.handingOver = true;
        const next = (response: BroadcastResponse) => {
          this.handingOver = false;
          answered(response);
          this.handOver();
        };
        this.handler.enqueue(result).then(next, (err: unknown) => next(failureResponse(err)));
      }
    }
    this.answer();
  }

  /** Sends, in stream order, every response that is known from the oldest unanswered on. */
  private answer(): void {
    while (this.head < this.slots.length) {
      const slot = this.slots[this.head]!;
      if (slot.response === undefined) break;
      this.slots[this.head] = DONE;
      this.head++;
      this.inFlight--;
      const response = slot.response;
      if (response === null || this.finished) continue;
      if (!this.io.send(response)) this.sendBlocked = true;
      if (response.status !== common.Status.SUCCESS) {
        this.finished = true;
        this.stopped = true;
        this.io.end();
      }
    }
    if (this.head > 1024 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.handOffAt -= this.head;
      this.head = 0;
    }
    this.updateReading();
    if (this.head === this.slots.length && this.drainWaiters.length > 0) {
      for (const resolve of this.drainWaiters.splice(0)) resolve();
    }
  }
}

interface Slot {
  validated: Validated | undefined;
  response: BroadcastResponse | null | undefined;
}

const DONE: Slot = { validated: undefined, response: null };

/**
 * Fabric's ClassifyError: a validation failure keeps its code (channel not found, permission
 * denied, maintenance mode...); one that no code classifies is the message's fault, not a bug.
 */
function rejected(err: unknown): OrdererError {
  if (err instanceof OrdererError && err.kind !== 'internal') return err;
  return new OrdererError('message-rejected', errorMessage(err), {}, { cause: err });
}

/** Fabric's ProcessMessage: whatever kept the consenter from taking a message, the client may retry. */
function notAccepted(err: unknown, channel: string): OrdererError {
  return new OrdererError(
    'not-accepted',
    errorMessage(err),
    { channel, causeCode: errorCode(err) },
    { cause: err },
  );
}

/** A failure of the handler itself, not of the message: answered as the bug it is. */
function bug(err: unknown): BroadcastResponse {
  return { status: wireStatusOf(internal(errorMessage(err), {}, { cause: err })), info: errorMessage(err) };
}

/** validate() catches everything it knows; anything else still gets an answer. */
function internalFailure(err: unknown): Validated {
  return {
    ok: false,
    response: bug(err),
    channel: '',
    type: -1,
    validateMs: 0,
  };
}

/** submit() and enqueue() answer refusals themselves; a rejection is a bug, still answered. */
function failureResponse(err: unknown): BroadcastResponse {
  return bug(err);
}
