// Client-side envelopes: ENDORSER_TRANSACTION envelopes with random data, and Deliver SeekInfo
// requests, signed (low-S ECDSA) by a client identity from an MSP folder.
import { createHash, randomBytes } from 'node:crypto';
import { asBuffer, common, orderer } from '../protos/index.js';

/** What signs client envelopes (a LocalSigningIdentity of src/msp fits). */
export interface ClientSigner {
  readonly mspId: string;
  /** Marshalled msp.SerializedIdentity. */
  readonly serialized: Buffer;
  sign(message: Buffer): Buffer;
}

export interface SignedTx {
  readonly txId: string;
  /** Marshalled common.Envelope. */
  readonly bytes: Buffer;
}

function signedEnvelope(
  signer: ClientSigner,
  type: number,
  channelId: string,
  data: Uint8Array,
  nowMs: number,
): SignedTx {
  const nonce = randomBytes(24);
  // Fabric's protoutil.ComputeTxID: hex(SHA-256(nonce || creator)).
  const txId = createHash('sha256').update(nonce).update(signer.serialized).digest('hex');
  const channelHeader = common.ChannelHeader.encode({
    type,
    channelId,
    timestamp: { seconds: Math.floor(nowMs / 1000), nanos: (nowMs % 1000) * 1_000_000 },
    txId,
  }).finish();
  const signatureHeader = common.SignatureHeader.encode({ creator: signer.serialized, nonce }).finish();
  const payload = asBuffer(
    common.Payload.encode({
      header: { channelHeader, signatureHeader },
      ...(data.length ? { data } : {}),
    }).finish(),
  );
  const signature = signer.sign(payload);
  return { txId, bytes: asBuffer(common.Envelope.encode({ payload, signature }).finish()) };
}

/** An ENDORSER_TRANSACTION envelope carrying `dataSize` random bytes (the orderer never looks inside). */
export function transactionEnvelope(
  signer: ClientSigner,
  channelId: string,
  dataSize: number,
  nowMs = Date.now(),
): SignedTx {
  return signedEnvelope(
    signer,
    common.HeaderType.ENDORSER_TRANSACTION,
    channelId,
    randomBytes(dataSize),
    nowMs,
  );
}

export type SeekPoint = 'oldest' | 'newest' | 'nextCommit' | number;

function seekPosition(point: SeekPoint): orderer.ISeekPosition {
  if (point === 'oldest') return { oldest: {} };
  if (point === 'newest') return { newest: {} };
  if (point === 'nextCommit') return { nextCommit: {} };
  return { specified: { number: point } };
}

/** A signed DELIVER_SEEK_INFO envelope (BLOCK_UNTIL_READY, STRICT). */
export function seekEnvelope(
  signer: ClientSigner,
  channelId: string,
  start: SeekPoint,
  stop: SeekPoint,
  nowMs = Date.now(),
): Buffer {
  const seekInfo = orderer.SeekInfo.encode({
    start: seekPosition(start),
    stop: seekPosition(stop),
    behavior: orderer.SeekInfo.SeekBehavior.BLOCK_UNTIL_READY,
  }).finish();
  return signedEnvelope(signer, common.HeaderType.DELIVER_SEEK_INFO, channelId, seekInfo, nowMs).bytes;
}
