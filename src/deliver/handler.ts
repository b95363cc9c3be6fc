// Deliver: SeekInfo in, blocks and one status out (Fabric's common/deliver/deliver.go, spec §2).
// No gRPC types here: the server adapter passes raw request bytes and a block sender.
import { createHash } from 'node:crypto';
import { common, orderer, asBuffer, toNumber, type ProtoLong } from '../protos/index.js';
import { varintSize, writeVarint } from '../protos/varint.js';
import { badRequest, errorCode, errorMessage, OrdererError, unavailable } from '../errors.js';
import { wireStatusOf } from '../status.js';
import { resolveSeekRange } from './seek.js';
import { decodeEnvelope } from '../protoutil/envelope.js';
import { envelopeAsSignedData, type CertificateExpiryCache } from '../msgprocessor/filters.js';
import { ChannelOrdererReaders, ChannelReaders } from '../policies/types.js';
import type { ReceivedEnvelope } from '../consensus/types.js';
import type { ChannelConfigBundle } from '../channelconfig/types.js';
import type { BlockReader } from '../ledger/types.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logging.js';

/** What Deliver needs of a channel. */
export interface DeliverChain {
  readonly reader: BlockReader;
  bundle(): ChannelConfigBundle;
  /** An error while the chain cannot serve STRICT requests. */
  errored(): Error | undefined;
  /** Calls the listener whenever errored() may have changed; returns the function that stops it. */
  onStatusChange(listener: () => void): () => void;
}

export interface DeliverChains {
  getDeliverChain(channelId: string): DeliverChain | undefined;
}

export interface DeliverOptions {
  /** General.Authentication.TimeWindow in ms. */
  timeWindowMs: number;
  /** With mutual TLS, channel headers must carry the client certificate's hash. */
  mutualTls: boolean;
  noExpirationChecks: boolean;
}

export interface DeliverRequestContext {
  /** DER of the client's TLS certificate, when there is one. */
  clientCertDer?: Buffer;
  signal: AbortSignal;
  sendBlock(blockBytes: Buffer): Promise<void>;
}

export interface DeliverObserver {
  requestReceived?(channel: string): void;
  requestCompleted?(channel: string, status: number): void;
  blockSent?(channel: string): void;
}

export class DeliverHandler {
  constructor(
    private readonly options: DeliverOptions,
    private readonly deps: {
      chains: DeliverChains;
      clock: Clock;
      logger: Logger;
      expiry: CertificateExpiryCache;
      observer?: DeliverObserver;
    },
  ) {}

  /** Serves one SeekInfo envelope; returns the status that ends it. */
  async handle(raw: Buffer, ctx: DeliverRequestContext): Promise<number> {
    let channel = '';
    try {
      const env = this.parse(raw, ctx);
      channel = env.channelHeader.channelId;
      this.deps.observer?.requestReceived?.(channel);
      await this.deliverBlocks(env, ctx);
      this.deps.observer?.requestCompleted?.(channel, common.Status.SUCCESS);
      return common.Status.SUCCESS;
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      const status = wireStatusOf(err);
      this.deps.logger.debug(
        { channel, status, code: errorCode(err), err: errorMessage(err) },
        'deliver request ended with an error',
      );
      this.deps.observer?.requestCompleted?.(channel, status);
      return status;
    }
  }

  private parse(raw: Buffer, ctx: DeliverRequestContext): ReceivedEnvelope {
    const env = decodeEnvelope(raw);
    const timestamp = env.channelHeader.timestamp;
    if (!timestamp) throw badRequest('channel header in envelope must contain timestamp');
    // Seconds are any int64 (2^63 on the wire reads as -2^63): compare as numbers, which stay
    // finite, and never build a Date outside its range, which would throw and answer 500.
    const envTime = toNumber(timestamp.seconds) * 1000 + Math.floor((timestamp.nanos ?? 0) / 1e6);
    const now = this.deps.clock.now();
    if (!(Math.abs(now - envTime) <= this.options.timeWindowMs)) {
      throw badRequest(
        `envelope timestamp ${describeTimestamp(timestamp, envTime)} is more than ${this.options.timeWindowMs / 1000}s apart from current server time ${new Date(now).toISOString()}: synchronize the client's clock (General.Authentication.TimeWindow)`,
      );
    }
    if (this.options.mutualTls) {
      const claimed = asBuffer(env.channelHeader.tlsCertHash);
      if (claimed.length === 0)
        throw badRequest("client didn't include its TLS cert hash in the channel header");
      if (!ctx.clientCertDer) throw badRequest('client did not present a TLS certificate');
      const actual = createHash('sha256').update(ctx.clientCertDer).digest();
      if (!actual.equals(claimed)) {
        throw badRequest(
          `claimed TLS cert hash is ${claimed.toString('hex')} but actual TLS cert hash is ${actual.toString('hex')}: compute tls_cert_hash from the certificate this connection uses`,
        );
      }
    }
    return env;
  }

  private async deliverBlocks(env: ReceivedEnvelope, ctx: DeliverRequestContext): Promise<void> {
    const channelId = env.channelHeader.channelId;
    const chain = this.deps.chains.getDeliverChain(channelId);
    if (!chain) {
      throw new OrdererError('channel-not-found', `channel ${channelId} not found on this orderer`, {
        channel: channelId,
      });
    }

    let seekInfo: orderer.SeekInfo;
    try {
      seekInfo = orderer.SeekInfo.decode(env.data);
    } catch (err) {
      throw badRequest(`received a badly formatted SeekInfo: ${errorMessage(err)}`);
    }
    const strict = seekInfo.errorResponse !== orderer.SeekInfo.SeekErrorResponse.BEST_EFFORT;
    const checkErrored = () => {
      const error = strict ? chain.errored() : undefined;
      if (error)
        throw unavailable(
          `channel ${channelId} cannot serve blocks right now: ${error.message}; retry later or ask with BEST_EFFORT`,
        );
    };
    checkErrored();

    const access = new SessionAccessControl(
      env,
      chain,
      this.deps.clock,
      this.deps.expiry,
      this.options.noExpirationChecks,
    );
    await access.evaluate();

    const reader = chain.reader;
    const range = resolveSeekRange(seekInfo.start, seekInfo.stop, reader.height(), channelId);
    let number = range.start;
    const stopNumber = range.stop;

    const failIfNotReady = seekInfo.behavior === orderer.SeekInfo.SeekBehavior.FAIL_IF_NOT_READY;
    for (;;) {
      if (failIfNotReady && number > reader.height() - 1) {
        throw new OrdererError(
          'block-not-found',
          `block ${number} of channel ${channelId} does not exist yet (FAIL_IF_NOT_READY)`,
          { channel: channelId, number },
        );
      }
      if (number >= reader.height())
        await this.waitForBlock(reader, number, ctx.signal, strict ? chain : undefined);
      const block = await reader.getBlock(number);
      if (!block) {
        throw new OrdererError(
          'block-not-found',
          `block ${number} of channel ${channelId} is not available`,
          {
            channel: channelId,
            number,
          },
        );
      }
      checkErrored();
      await access.evaluate();
      await ctx.sendBlock(block.bytes);
      this.deps.observer?.blockSent?.(channelId);
      if (number === stopNumber) return;
      number++;
    }
  }

  private async waitForBlock(
    reader: BlockReader,
    number: number,
    signal: AbortSignal,
    strictChain?: DeliverChain,
  ) {
    if (!strictChain) return reader.waitForBlock(number, signal);
    // A STRICT request waiting at the tip must end with SERVICE_UNAVAILABLE when the chain errs:
    // the chain says when that may have happened, and the state is read once after listening, as
    // it may have changed while the previous block was being sent.
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    // The client may have gone while the previous block was being sent: 'abort' will not fire again.
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const abortIfErrored = () => {
      if (strictChain.errored()) controller.abort(new OrdererError('unavailable', 'chain errored'));
    };
    const stopListening = strictChain.onStatusChange(abortIfErrored);
    abortIfErrored();
    try {
      await reader.waitForBlock(number, controller.signal);
    } catch (err) {
      const error = strictChain.errored();
      if (error && !signal.aborted)
        throw unavailable(`channel cannot serve blocks right now: ${error.message}`);
      throw err;
    } finally {
      stopListening();
      signal.removeEventListener('abort', onAbort);
    }
  }
}

/**
 * Fabric's SessionAccessControl: the creator's certificate expiry is checked before every block, the
 * Readers policy again whenever the channel config sequence has moved since the last check.
 */
class SessionAccessControl {
  private evaluatedSequence = -1;
  private readonly expiresAt: number | undefined;

  constructor(
    private readonly env: ReceivedEnvelope,
    private readonly chain: DeliverChain,
    private readonly clock: Clock,
    expiry: CertificateExpiryCache,
    noExpirationChecks: boolean,
  ) {
    this.expiresAt = noExpirationChecks ? undefined : expiry.expiresAt(asBuffer(env.signatureHeader.creator));
  }

  async evaluate(): Promise<void> {
    if (this.expiresAt !== undefined && this.clock.now() >= this.expiresAt) {
      throw new OrdererError(
        'identity-expired',
        `deliver client identity expired at ${new Date(this.expiresAt).toISOString()}: enroll a new certificate`,
        { expiresAt: this.expiresAt },
      );
    }
    const bundle = this.chain.bundle();
    if (bundle.sequence === this.evaluatedSequence) return;
    // Fabric's Deliver policy checker (orderer/common/server/server.go): in maintenance mode only
    // /Channel/Orderer/Readers may read, so peers stop at the backup point of a migration while the
    // orderer admins (and orderers pulling blocks) go on reading.
    const maintenance = bundle.orderer?.consensusState === 'MAINTENANCE';
    const policyName = maintenance ? ChannelOrdererReaders : ChannelReaders;
    const policy = bundle.policyManager.getPolicy(policyName);
    if (!policy) {
      throw new OrdererError(
        'permission-denied',
        `policy ${policyName} is not defined on channel ${bundle.channelId}`,
        { policy: policyName, channel: bundle.channelId },
      );
    }
    try {
      await policy.evaluateSignedData(envelopeAsSignedData(this.env));
    } catch (err) {
      const why = maintenance
        ? ' (the channel is in maintenance mode, where only orderer-org readers may read blocks; retry once ConsensusType.State is STATE_NORMAL again)'
        : '';
      throw new OrdererError(
        'permission-denied',
        `access denied by policy ${policyName} of channel ${bundle.channelId}${why}: ${errorMessage(err)}`,
        { policy: policyName, channel: bundle.channelId },
        { cause: err },
      );
    }
    this.evaluatedSequence = bundle.sequence;
  }
}

/** Largest |ms| since the epoch a Date holds (ECMAScript's time value range). */
const MAX_DATE_MS = 8.64e15;

function describeTimestamp(timestamp: { seconds?: ProtoLong; nanos?: number | null }, ms: number): string {
  if (Math.abs(ms) <= MAX_DATE_MS) return new Date(ms).toISOString();
  return `${String(timestamp.seconds)}s ${timestamp.nanos ?? 0}ns since the epoch (outside any date)`;
}

/** DeliverResponse{block} built around stored block bytes without decoding or re-encoding them. */
export function deliverBlockResponse(blockBytes: Buffer): Buffer {
  const out = Buffer.allocUnsafe(1 + varintSize(blockBytes.length) + blockBytes.length);
  out[0] = 0x12;
  out.set(blockBytes, writeVarint(out, 1, blockBytes.length));
  return out;
}

/**
 * The DeliverResponse of the last few blocks sent, by the very block buffer the ledger served:
 * streams that follow the tip of a channel ask for the same block at about the same time, and
 * each would otherwise copy it into a response of its own. Bounded by count and bytes, so that
 * what it holds beside the ledger's cache stays small.
 */
export class RecentBlockResponses {
  private readonly responses = new Map<Buffer, Buffer>();
  private bytes = 0;

  constructor(
    private readonly maxEntries = 4,
    private readonly maxBytes = 16 * 1024 * 1024,
  ) {}

  responseFor(blockBytes: Buffer): Buffer {
    const known = this.responses.get(blockBytes);
    if (known) return known;
    const response = deliverBlockResponse(blockBytes);
    if (response.length > this.maxBytes) return response;
    this.responses.set(blockBytes, response);
    this.bytes += response.length;
    for (const [oldest, held] of this.responses) {
      if (this.responses.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.responses.delete(oldest);
      this.bytes -= held.length;
    }
    return response;
  }
}

export function deliverStatusResponse(status: number): Buffer {
  const out = Buffer.allocUnsafe(1 + varintSize(status));
  out[0] = 0x08;
  writeVarint(out, 1, status);
  return out;
}
