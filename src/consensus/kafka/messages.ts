// The bytes that travel through a channel's Kafka partition (orderer.KafkaMessage) and the Kafka
// consenter's metadata recorded in every block it writes (orderer.KafkaMetadata), encoded as Fabric's
// Go orderer encodes them (proto3: zero fields left out), so that Fabric's own orderers and this one
// can share a topic and read each other's ledgers.
import { orderer, toNumber } from '../../protos/index.js';
import { badRequest } from '../../errors.js';

export type RegularClass = 'unknown' | 'normal' | 'config';

/** A decoded KafkaMessage. */
export type DecodedKafkaMessage =
  | { type: 'connect' }
  | { type: 'time-to-cut'; blockNumber: number }
  | { type: 'regular'; payload: Buffer; configSeq: number; class: RegularClass; originalOffset: number };

/** Fabric's KafkaMetadata: where a block's ordering stopped in the partition. */
export interface KafkaMetadataValues {
  /** Offset of the last Kafka message whose effect is in this block (or earlier ones). */
  lastOffsetPersisted: number;
  /** Largest original offset of a re-submitted message that is in a block (0: none). */
  lastOriginalOffsetProcessed: number;
  /** Original offset of the last config message this chain re-submitted (0: none). */
  lastResubmittedConfigOffset: number;
}

const classOf: Record<number, RegularClass> = {
  [orderer.KafkaMessageRegular.Class.UNKNOWN]: 'unknown',
  [orderer.KafkaMessageRegular.Class.NORMAL]: 'normal',
  [orderer.KafkaMessageRegular.Class.CONFIG]: 'config',
};

function bytes(value: Uint8Array | null | undefined): Buffer {
  if (!value) return Buffer.alloc(0);
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** Proto3 leaves zero-valued scalars out; protobufjs writes every field that is set. */
function nonZero<T extends Record<string, unknown>>(fields: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [key, value] of Object.entries(fields) as [keyof T, T[keyof T]][]) {
    if (value !== 0 && value !== undefined) out[key] = value;
  }
  return out;
}

export function encodeConnect(): Buffer {
  return Buffer.from(orderer.KafkaMessage.encode({ connect: {} }).finish());
}

export function encodeTimeToCut(blockNumber: number): Buffer {
  return Buffer.from(orderer.KafkaMessage.encode({ timeToCut: nonZero({ blockNumber }) }).finish());
}

export function encodeRegular(
  kind: 'normal' | 'config',
  envelope: Buffer,
  configSeq: number,
  originalOffset: number,
): Buffer {
  const regular = {
    ...(envelope.length > 0 ? { payload: envelope } : {}),
    ...nonZero({
      configSeq,
      class:
        kind === 'normal'
          ? orderer.KafkaMessageRegular.Class.NORMAL
          : orderer.KafkaMessageRegular.Class.CONFIG,
      originalOffset,
    }),
  };
  return Buffer.from(orderer.KafkaMessage.encode({ regular }).finish());
}

/** Decodes a consumed message; throws bad-request for bytes that are not a KafkaMessage. */
export function decodeKafkaMessage(value: Buffer): DecodedKafkaMessage {
  let message: orderer.KafkaMessage;
  try {
    message = orderer.KafkaMessage.decode(value);
  } catch (err) {
    throw badRequest(`not a KafkaMessage: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (message.regular) {
    const regular = message.regular;
    const cls = classOf[regular.class ?? 0];
    if (cls === undefined) throw badRequest(`KafkaMessageRegular has unknown class ${regular.class}`);
    return {
      type: 'regular',
      payload: bytes(regular.payload),
      configSeq: toNumber(regular.configSeq),
      class: cls,
      originalOffset: toNumber(regular.originalOffset),
    };
  }
  if (message.timeToCut) return { type: 'time-to-cut', blockNumber: toNumber(message.timeToCut.blockNumber) };
  if (message.connect) return { type: 'connect' };
  throw badRequest('KafkaMessage carries none of regular, time_to_cut, connect');
}

export function encodeKafkaMetadata(values: KafkaMetadataValues): Buffer {
  return Buffer.from(orderer.KafkaMetadata.encode(nonZero({ ...values })).finish());
}

export function decodeKafkaMetadata(value: Buffer): KafkaMetadataValues {
  const decoded = orderer.KafkaMetadata.decode(value);
  return {
    lastOffsetPersisted: toNumber(decoded.lastOffsetPersisted),
    lastOriginalOffsetProcessed: toNumber(decoded.lastOriginalOffsetProcessed),
    lastResubmittedConfigOffset: toNumber(decoded.lastResubmittedConfigOffset),
  };
}
