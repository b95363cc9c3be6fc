// Decoding an Envelope once on the way in, and building the envelopes the orderer signs itself.
import { randomBytes } from 'node:crypto';
import { common } from '../protos/index.js';
import { asBuffer } from '../protos/index.js';
import { badRequest } from '../errors.js';
import type { ReceivedEnvelope } from '../consensus/types.js';
import type { SigningIdentity } from '../msp/types.js';

export const HeaderType = {
  MESSAGE: 0,
  CONFIG: 1,
  CONFIG_UPDATE: 2,
  ENDORSER_TRANSACTION: 3,
  ORDERER_TRANSACTION: 4,
  DELIVER_SEEK_INFO: 5,
} as const;

const NONCE_BYTES = 24;

/**
 * Envelope bytes -> ReceivedEnvelope. Every byte field is a view into `raw`: the signed bytes stay
 * exactly as the client sent them. Throws a bad-request OrdererError saying which layer is broken.
 */
export function decodeEnvelope(raw: Buffer): ReceivedEnvelope {
  let envelope: common.Envelope;
  try {
    envelope = common.Envelope.decode(raw);
  } catch (err) {
    throw badRequest(
      `could not determine channel ID: envelope is not a valid common.Envelope (${(err as Error).message})`,
    );
  }
  const payload = asBuffer(envelope.payload);
  if (payload.length === 0) {
    throw badRequest(
      'could not determine channel ID: envelope has an empty payload; sign and send a common.Payload',
    );
  }
  let decodedPayload: common.Payload;
  try {
    decodedPayload = common.Payload.decode(payload);
  } catch (err) {
    throw badRequest(
      `could not determine channel ID: envelope payload is not a valid common.Payload (${(err as Error).message})`,
    );
  }
  const header = decodedPayload.header;
  if (!header) throw badRequest('could not determine channel ID: payload has no header; set payload.header');
  const channelHeaderBytes = asBuffer(header.channelHeader);
  if (channelHeaderBytes.length === 0) {
    throw badRequest('could not determine channel ID: payload header has no channel header');
  }
  let channelHeader: common.ChannelHeader;
  let signatureHeader: common.SignatureHeader;
  try {
    channelHeader = common.ChannelHeader.decode(channelHeaderBytes);
  } catch (err) {
    throw badRequest(
      `could not determine channel ID: channel header does not decode (${(err as Error).message})`,
    );
  }
  try {
    signatureHeader = common.SignatureHeader.decode(asBuffer(header.signatureHeader));
  } catch (err) {
    throw badRequest(`bad signature header: ${(err as Error).message}`);
  }
  return {
    raw,
    payload,
    signature: asBuffer(envelope.signature),
    channelHeader,
    signatureHeader,
    data: asBuffer(decodedPayload.data),
  };
}

/**
 * The canonical marshalling peers expect in block data (field 1, then field 2, no unknown fields).
 * The received bytes when they already are exactly that (what every SDK sends), else re-encoded.
 */
export function canonicalEnvelopeBytes(env: ReceivedEnvelope): Buffer {
  if (isCanonicalEnvelope(env)) return env.raw;
  const writer = common.Envelope.encode({
    ...(env.payload.length ? { payload: env.payload } : {}),
    ...(env.signature.length ? { signature: env.signature } : {}),
  });
  return asBuffer(writer.finish());
}

/** Bytes of a protobuf varint. */
function varintLength(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

/** Checks a length-delimited field header (tag, minimal varint length) at pos; returns where its value starts, or -1. */
function fieldHeaderMatches(raw: Buffer, pos: number, tag: number, length: number): number {
  if (raw[pos] !== tag) return -1;
  pos++;
  let value = length;
  while (value >= 0x80) {
    if (raw[pos] !== ((value & 0x7f) | 0x80)) return -1;
    value = Math.floor(value / 128);
    pos++;
  }
  if (raw[pos] !== value) return -1;
  return pos + 1;
}

/**
 * raw is exactly tag 1 + payload, then tag 2 + signature (each omitted when empty), minimal
 * varints, nothing else: then it equals what canonicalEnvelopeBytes would encode.
 */
function isCanonicalEnvelope(env: ReceivedEnvelope): boolean {
  const { raw, payload, signature } = env;
  const expected =
    (payload.length ? 1 + varintLength(payload.length) + payload.length : 0) +
    (signature.length ? 1 + varintLength(signature.length) + signature.length : 0);
  if (raw.length !== expected) return false;
  let pos = 0;
  if (payload.length) {
    pos = fieldHeaderMatches(raw, pos, 0x0a, payload.length);
    if (pos < 0 || !sameBytes(raw, pos, payload)) return false;
    pos += payload.length;
  }
  if (signature.length) {
    pos = fieldHeaderMatches(raw, pos, 0x12, signature.length);
    if (pos < 0 || !sameBytes(raw, pos, signature)) return false;
  }
  return true;
}

/** raw[pos, pos+part.length) holds part: by position when part is a view of raw, else compared. */
function sameBytes(raw: Buffer, pos: number, part: Buffer): boolean {
  if (part.buffer === raw.buffer && part.byteOffset === raw.byteOffset + pos) return true;
  return raw.subarray(pos, pos + part.length).equals(part);
}

export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

/** Marshalled SignatureHeader{creator, nonce} for the local signer. */
export function newSignatureHeader(signer: SigningIdentity): Buffer {
  return asBuffer(common.SignatureHeader.encode({ creator: signer.serialized, nonce: newNonce() }).finish());
}

/**
 * Fabric's protoutil.CreateSignedEnvelope with msgVersion 0 and epoch 0: an envelope the orderer
 * signs itself (config envelopes it makes from config updates, ORDERER_TRANSACTION wrappers).
 */
export function createSignedEnvelope(
  type: number,
  channelId: string,
  signer: SigningIdentity,
  data: Uint8Array,
  nowMs: number,
): ReceivedEnvelope {
  const channelHeader = common.ChannelHeader.create({
    type,
    timestamp: { seconds: Math.floor(nowMs / 1000) },
    channelId,
  });
  const channelHeaderBytes = asBuffer(common.ChannelHeader.encode(channelHeader).finish());
  const signatureHeaderBytes = newSignatureHeader(signer);
  const payload = asBuffer(
    common.Payload.encode({
      header: { channelHeader: channelHeaderBytes, signatureHeader: signatureHeaderBytes },
      ...(data.length ? { data } : {}),
    }).finish(),
  );
  const signature = signer.sign(payload);
  const raw = asBuffer(common.Envelope.encode({ payload, signature }).finish());
  return decodeEnvelope(raw);
}

/** Payload.data of an envelope decoded as `type`, with a clear error if it is something else. */
export function unwrapEnvelopeOfType(env: ReceivedEnvelope, type: number): Buffer {
  if (env.channelHeader.type !== type) {
    throw badRequest(`expected an envelope of header type ${type}, got ${env.channelHeader.type}`);
  }
  return env.data;
}
