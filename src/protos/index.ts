// The public face of the generated Fabric protobuf code (see scripts/build-protos.mjs).
//
// uint64 fields decode as plain JavaScript numbers: block numbers, offsets and sequences stay
// far below 2^53, and numbers keep the hot path free of Long allocations.
import $protobuf from 'protobufjs/minimal.js';

$protobuf.util.Long = undefined as unknown as typeof $protobuf.util.Long;
$protobuf.configure();

export { common, msp, orderer, protos as peer, google, etcdraft } from './generated/fabric.js';

/** A uint64/int64 field as the generated types declare it (number at run time, see above). */
export type ProtoLong = number | { toNumber(): number } | null | undefined;

export function toNumber(value: ProtoLong): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

/** Bytes fields decode as views into the received buffer; this gives them a Buffer face without copying. */
export function asBuffer(bytes: Uint8Array | null | undefined): Buffer {
  if (!bytes) return Buffer.alloc(0);
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
