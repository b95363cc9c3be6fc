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

/** The canonical marshalling peers expect in block data (field 1, then field 2, no unknown fields). */
export function canonicalEnvelopeBytes(env: ReceivedEnvelope): Buffer {
  const writer = common.Envelope.encode({
    ...(env.payload.length ? { payload: env.payload } : {}),
    ...(env.signature.length ? { signature: env.signature } : {}),
  });
  return asBuffer(writer.finish());
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
