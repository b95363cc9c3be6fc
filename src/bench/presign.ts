// The load generator's first phase: every envelope signed and framed for gRPC before the run, so
// that signing costs nothing while the orderer is measured, plus the two indexes that find a
// delivered envelope again (by its signature bytes, else by its tx ID).
import { grpcFrame } from './client.js';
import { transactionEnvelope, type ClientSigner } from './envelopes.js';

export interface PresignedLoad {
  /** gRPC frames, one per envelope, ready to write. */
  readonly frames: readonly Buffer[];
  /** Bytes of one marshalled envelope. */
  readonly envelopeBytes: number;
  /** Envelope index by tx ID (the slow path of finding a delivered envelope). */
  readonly byTxId: ReadonlyMap<string, number>;
  /** Envelope index by signature bytes as latin1 (the fast path: no decoding of the payload). */
  readonly bySignature: ReadonlyMap<string, number>;
  readonly signingMs: number;
}

export interface PresignOptions {
  readonly signer: ClientSigner;
  readonly channel: string;
  readonly count: number;
  /** Payload data bytes per envelope. */
  readonly size: number;
}

/** Signs `count` envelopes; yields to the event loop every 1024 so progress can be shown. */
export async function presignEnvelopes(
  options: PresignOptions,
  onSigned: (signed: number) => void = () => {},
): Promise<PresignedLoad> {
  const started = performance.now();
  const frames: Buffer[] = new Array(options.count);
  let envelopeBytes = 0;
  const byTxId = new Map<string, number>();
  const bySignature = new Map<string, number>();
  const nowMs = Date.now();
  for (let i = 0; i < options.count; i++) {
    const tx = transactionEnvelope(options.signer, options.channel, options.size, nowMs);
    frames[i] = grpcFrame(tx.bytes);
    envelopeBytes = tx.bytes.length;
    byTxId.set(tx.txId, i);
    const key = envelopeSignatureKey(tx.bytes);
    if (key !== undefined) bySignature.set(key, i);
    if ((i & 1023) === 1023) {
      onSigned(i + 1);
      await new Promise((r) => setImmediate(r));
    }
  }
  onSigned(options.count);
  return { frames, envelopeBytes, byTxId, bySignature, signingMs: performance.now() - started };
}

/** Reads a length-delimited field's varint length at pos; [length, start of value] or undefined. */
function readLength(bytes: Uint8Array, pos: number): [number, number] | undefined {
  let length = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= bytes.length) return undefined;
    const b = bytes[pos++]!;
    length += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return pos + length <= bytes.length ? [length, pos] : undefined;
  }
  return undefined;
}

/**
 * The signature of a marshalled Envelope (field 2) as a map key, without decoding the payload;
 * undefined when the bytes are not a plain payload-then-signature envelope.
 */
export function envelopeSignatureKey(bytes: Uint8Array): string | undefined {
  let pos = 0;
  let key: string | undefined;
  while (pos < bytes.length) {
    const tag = bytes[pos++]!;
    if (tag !== 0x0a && tag !== 0x12) return undefined;
    const field = readLength(bytes, pos);
    if (!field) return undefined;
    const [length, start] = field;
    if (tag === 0x12) key = Buffer.from(bytes.buffer, bytes.byteOffset + start, length).toString('latin1');
    pos = start + length;
  }
  return key;
}
