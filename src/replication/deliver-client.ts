// The gRPC side of the block puller: a Deliver stream to another orderer over TLS, presenting this
// node's TLS client identity (General.Cluster.ClientCertificate/ClientPrivateKey, or General.TLS's
// pair), with a seek envelope signed by the local signer and bound to that certificate
// (tls_cert_hash), asking as Fabric's puller does: from a block on, BLOCK_UNTIL_READY,
// BEST_EFFORT. Received blocks are kept as the bytes the orderer sent.
import { createHash, X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs/minimal.js';
import { asBuffer, common, orderer } from '../protos/index.js';
import { HeaderType, newSignatureHeader } from '../protoutil/envelope.js';
import type { BlockSource, BlockStream } from './block-puller.js';
import type { SigningIdentity } from '../msp/types.js';
import type { Clock } from '../clock.js';

/**
 * Fabric's seekInfo stops at math.MaxUint64, every block there will be. Our protobuf runtime
 * carries uint64 as numbers (src/protos), so the stop is the largest exact one: as endless.
 */
const MAX_BLOCK_NUMBER = Number.MAX_SAFE_INTEGER;
const DELIVER_METHOD = '/orderer.AtomicBroadcast/Deliver';

export interface DeliverClientOptions {
  /** PEM of the client certificate and key; both empty: plain TCP (General.TLS.Enabled false). */
  readonly clientCertificatePem: Buffer;
  readonly clientPrivateKeyPem: Buffer;
  /** General.Cluster.ReplicationBufferSize: received bytes held before the stream is paused. */
  readonly bufferSize: number;
  readonly maxRecvMsgSize: number;
}

export interface DeliverClientDependencies {
  readonly signer: SigningIdentity;
  readonly clock: Clock;
  /** TLS roots to trust for a channel's orderers (its orderer orgs' TLS CAs, General.Cluster.RootCAs). */
  readonly rootCasPem: (channelId: string) => readonly Buffer[];
}

export class DeliverBlockSource implements BlockSource {
  private readonly tlsCertHash: Buffer | undefined;

  constructor(
    private readonly options: DeliverClientOptions,
    private readonly deps: DeliverClientDependencies,
  ) {
    this.tlsCertHash =
      options.clientCertificatePem.length > 0
        ? createHash('sha256').update(new X509Certificate(options.clientCertificatePem).raw).digest()
        : undefined;
  }

  open(endpoint: string, channelId: string, from: number | 'newest'): BlockStream {
    const tls = this.options.clientCertificatePem.length > 0;
    const credentials = tls
      ? grpc.credentials.createSsl(
          Buffer.concat(this.deps.rootCasPem(channelId).flatMap((pem) => [pem, Buffer.from('\n')])),
          this.options.clientPrivateKeyPem,
          this.options.clientCertificatePem,
        )
      : grpc.credentials.createInsecure();
    const client = new grpc.Client(endpoint, credentials, {
      'grpc.max_receive_message_length': this.options.maxRecvMsgSize,
    });
    const call = client.makeBidiStreamRequest<Buffer, Buffer>(
      DELIVER_METHOD,
      (message) => message,
      (bytes) => bytes,
    );
    const stream = new DeliverStream(call, client, this.options.bufferSize, endpoint, from);
    call.write(this.seekEnvelope(channelId, from));
    return stream;
  }

  /** Fabric's seekInfo(startSeq) (or its seekLastConfig's newest) in a signed DELIVER_SEEK_INFO envelope. */
  private seekEnvelope(channelId: string, from: number | 'newest'): Buffer {
    const seekInfo = orderer.SeekInfo.encode({
      start: from === 'newest' ? { newest: {} } : { specified: { number: from } },
      stop: { specified: { number: MAX_BLOCK_NUMBER } },
      behavior: orderer.SeekInfo.SeekBehavior.BLOCK_UNTIL_READY,
      errorResponse: orderer.SeekInfo.SeekErrorResponse.BEST_EFFORT,
    }).finish();
    const nowMs = this.deps.clock.now();
    const channelHeader = common.ChannelHeader.encode({
      type: HeaderType.DELIVER_SEEK_INFO,
      channelId,
      timestamp: { seconds: Math.floor(nowMs / 1000), nanos: (nowMs % 1000) * 1e6 },
      ...(this.tlsCertHash ? { tlsCertHash: this.tlsCertHash } : {}),
    }).finish();
    const payload = asBuffer(
      common.Payload.encode({
        header: { channelHeader, signatureHeader: newSignatureHeader(this.deps.signer) },
        data: seekInfo,
      }).finish(),
    );
    return asBuffer(common.Envelope.encode({ payload, signature: this.deps.signer.sign(payload) }).finish());
  }
}

/** Received blocks queued up to bufferSize bytes (then the call is paused: HTTP/2 flow control). */
class DeliverStream implements BlockStream {
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private failure: Error | undefined;
  private waiter: { resolve: (bytes: Buffer) => void; reject: (err: Error) => void } | undefined;
  private paused = false;

  constructor(
    private readonly call: grpc.ClientDuplexStream<Buffer, Buffer>,
    private readonly client: grpc.Client,
    private readonly bufferSize: number,
    private readonly endpoint: string,
    from: number | 'newest',
  ) {
    call.on('data', (message: Buffer) => this.received(message));
    call.on('error', (err: grpc.ServiceError) => this.fail(new Error(`Deliver from ${endpoint} failed: ${err.message}`)));
    call.on('end', () =>
      this.fail(new Error(`Deliver from ${endpoint} ended without sending the blocks from [${from}] on`)),
    );
  }

  next(): Promise<Buffer> {
    const bytes = this.queue.shift();
    if (bytes) {
      this.queuedBytes -= bytes.length;
      if (this.paused && this.queuedBytes < this.bufferSize) {
        this.paused = false;
        this.call.resume();
      }
      return Promise.resolve(bytes);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  close(): void {
    this.fail(new Error(`the Deliver stream from ${this.endpoint} was closed`));
    this.call.cancel();
    this.client.close();
  }

  private received(message: Buffer): void {
    let bytes: Buffer;
    try {
      const response = deliverResponseParts(message);
      if (response.block === undefined) {
        const status = response.status ?? common.Status.UNKNOWN;
        this.fail(new Error(`${this.endpoint} answered Deliver with status ${common.Status[status] ?? status}`));
        this.call.cancel();
        return;
      }
      bytes = response.block;
    } catch (err) {
      this.fail(new Error(`${this.endpoint} sent a DeliverResponse that does not decode: ${String(err)}`));
      this.call.cancel();
      return;
    }
    if (this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve(bytes);
      return;
    }
    this.queue.push(bytes);
    this.queuedBytes += bytes.length;
    if (!this.paused && this.queuedBytes >= this.bufferSize) {
      this.paused = true;
      this.call.pause();
    }
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    if (this.waiter) {
      const { reject } = this.waiter;
      this.waiter = undefined;
      reject(err);
    }
  }
}

/**
 * The two fields of a DeliverResponse, read off the wire so that the block keeps the exact bytes
 * the orderer signed (decoding and re-encoding it could change them).
 */
export function deliverResponseParts(message: Buffer): { status?: number; block?: Buffer } {
  const reader = protobuf.Reader.create(message);
  const parts: { status?: number; block?: Buffer } = {};
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field === 1 && (tag & 7) === 0) parts.status = reader.int32();
    else if (field === 2 && (tag & 7) === 2) parts.block = Buffer.from(reader.bytes());
    else reader.skipType(tag & 7);
  }
  return parts;
}
