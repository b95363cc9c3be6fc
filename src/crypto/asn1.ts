// A small strict DER reader and writer: enough for X.509 certificates, CRLs and ECDSA signatures.
// We parse certificates ourselves because Fabric's rules need the raw subject/issuer bytes, the
// exact TBS bytes, key identifiers and the signature value, which node:crypto does not expose.

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One decoded TLV. `raw` is the whole element (tag, length, content); `content` its value. */
export interface Der {
  readonly tag: number;
  readonly raw: Buffer;
  readonly content: Buffer;
}

export class DerError extends Error {
  constructor(message: string) {
    super(`malformed DER: ${message}`);
    this.name = 'DerError';
  }
}

/** Reads the element at offset; lengths must be minimal (DER), as Go's encoding/asn1 requires. */
export function readDer(buf: Buffer, offset = 0): Der {
  if (offset + 2 > buf.length) throw new DerError('truncated header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not supported');
  let pos = offset + 1;
  const first = buf[pos++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    if (count === 0) throw new DerError('indefinite length');
    if (count > 4) throw new DerError('length too large');
    if (pos + count > buf.length) throw new DerError('truncated length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[pos++]!;
    if (buf[pos - count] === 0 || length < 0x80) throw new DerError('non-minimal length');
  }
  const end = pos + length;
  if (end > buf.length) throw new DerError('truncated content');
  return { tag, raw: buf.subarray(offset, end), content: buf.subarray(pos, end) };
}

/** Decodes exactly one element filling the whole buffer. */
export function readDerExact(buf: Buffer): Der {
  const el = readDer(buf, 0);
  if (el.raw.length !== buf.length) throw new DerError('trailing data');
  return el;
}

export function children(el: Der): Der[] {
  const out: Der[] = [];
  let pos = 0;
  while (pos < el.content.length) {
    const child = readDer(el.content, pos);
    out.push(child);
    pos += child.raw.length;
  }
  return out;
}

export function expectTag(el: Der | undefined, tag: number, what: string): Der {
  if (!el) throw new DerError(`${what} missing`);
  if (el.tag !== tag)
    throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got 0x${el.tag.toString(16)}`);
  return el;
}

/** INTEGER content as an unsigned bigint; rejects negative and non-minimal encodings. */
export function readUnsignedInteger(el: Der, what: string): bigint {
  expectTag(el, Tag.INTEGER, what);
  const c = el.content;
  if (c.length === 0) throw new DerError(`${what}: empty integer`);
  if (c.length > 1 && ((c[0] === 0 && c[1]! < 0x80) || (c[0] === 0xff && c[1]! >= 0x80))) {
    throw new DerError(`${what}: integer not minimally encoded`);
  }
  if (c[0]! >= 0x80) throw new DerError(`${what}: negative integer`);
  return c.length === 0 ? 0n : BigInt('0x' + c.toString('hex'));
}

/** INTEGER content as signed bigint (certificate serial numbers may be negative in the wild). */
export function readSignedInteger(el: Der, what: string): bigint {
  expectTag(el, Tag.INTEGER, what);
  const c = el.content;
  if (c.length === 0) throw new DerError(`${what}: empty integer`);
  let v = BigInt('0x' + c.toString('hex'));
  if (c[0]! >= 0x80) v -= 1n << BigInt(c.length * 8);
  return v;
}

export function readOid(el: Der): string {
  expectTag(el, Tag.OID, 'object identifier');
  const c = el.content;
  if (c.length === 0) throw new DerError('empty OID');
  const parts: number[] = [];
  let value = 0;
  for (let i = 0; i < c.length; i++) {
    value = value * 128 + (c[i]! & 0x7f);
    if ((c[i]! & 0x80) === 0) {
      if (parts.length === 0) {
        const first = value < 40 ? 0 : value < 80 ? 1 : 2;
        parts.push(first, value - first * 40);
      } else {
        parts.push(value);
      }
      value = 0;
    }
  }
  return parts.join('.');
}

export function readTime(el: Der): number {
  const s = el.content.toString('latin1');
  let m: RegExpMatchArray | null;
  if (el.tag === Tag.UTC_TIME) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
    if (!m) throw new DerError(`bad UTCTime ${s}`);
    const yy = Number(m[1]);
    const year = yy >= 50 ? 1900 + yy : 2000 + yy;
    return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  if (el.tag === Tag.GENERALIZED_TIME) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d+))?Z$/.exec(s);
    if (!m) throw new DerError(`bad GeneralizedTime ${s}`);
    const ms = m[7] ? Math.floor(Number('0.' + m[7]) * 1000) : 0;
    return Date.UTC(
      Number(m[1]),
      Number(m[2]) - 1,
      Number(m[3]),
      Number(m[4]),
      Number(m[5]),
      Number(m[6]),
      ms,
    );
  }
  throw new DerError(`expected a time, got tag 0x${el.tag.toString(16)}`);
}

export function readString(el: Der): string {
  switch (el.tag) {
    case Tag.UTF8_STRING:
      return el.content.toString('utf8');
    case Tag.PRINTABLE_STRING:
    case Tag.IA5_STRING:
    case Tag.T61_STRING:
      return el.content.toString('latin1');
    case Tag.BMP_STRING:
      return Buffer.from(el.content).swap16().toString('utf16le');
    default:
      return el.content.toString('latin1');
  }
}

// ---------------------------------------------------------------------------------------------
// Writer

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let l = length; l > 0; l = Math.floor(l / 256)) bytes.unshift(l & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

export const derSequence = (...items: Buffer[]): Buffer => tlv(Tag.SEQUENCE, Buffer.concat(items));
export const derSet = (...items: Buffer[]): Buffer => tlv(Tag.SET, Buffer.concat(items));
export const derOctetString = (b: Buffer): Buffer => tlv(Tag.OCTET_STRING, b);
export const derBitString = (b: Buffer): Buffer => tlv(Tag.BIT_STRING, Buffer.concat([Buffer.from([0]), b]));
export const derUtf8 = (s: string): Buffer => tlv(Tag.UTF8_STRING, Buffer.from(s, 'utf8'));
export const derPrintable = (s: string): Buffer => tlv(Tag.PRINTABLE_STRING, Buffer.from(s, 'latin1'));
export const derIa5 = (s: string): Buffer => tlv(Tag.IA5_STRING, Buffer.from(s, 'latin1'));
export const derNull = (): Buffer => Buffer.from([Tag.NULL, 0]);
export const derBoolean = (v: boolean): Buffer => Buffer.from([Tag.BOOLEAN, 1, v ? 0xff : 0]);
/** Context-specific constructed (EXPLICIT) tag [n]. */
export const derExplicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);
/** Context-specific primitive (IMPLICIT) tag [n]. */
export const derImplicit = (n: number, content: Buffer): Buffer => tlv(0x80 | n, content);

/** Minimal two's-complement encoding of a non-negative integer. */
export function derUnsignedInteger(value: bigint | Buffer): Buffer {
  let bytes: Buffer;
  if (Buffer.isBuffer(value)) {
    let i = 0;
    while (i < value.length - 1 && value[i] === 0) i++;
    bytes = value.subarray(i);
    if (bytes.length === 0) bytes = Buffer.from([0]);
  } else {
    if (value < 0n) throw new RangeError('negative integer');
    let hex = value.toString(16);
    if (hex.length % 2) hex = '0' + hex;
    bytes = Buffer.from(hex, 'hex');
  }
  if (bytes[0]! >= 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(Tag.INTEGER, bytes);
}

export function derOid(oid: string): Buffer {
  const parts = oid.split('.').map(Number);
  if (parts.length < 2) throw new RangeError(`bad OID ${oid}`);
  const values = [parts[0]! * 40 + parts[1]!, ...parts.slice(2)];
  const bytes: number[] = [];
  for (const v of values) {
    const chunk: number[] = [v & 0x7f];
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) chunk.unshift((x & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(Tag.OID, Buffer.from(bytes));
}

/** RFC 5280: UTCTime through 2049, GeneralizedTime from 2050. */
export function derTime(ms: number): Buffer {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  const year = d.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(Tag.UTC_TIME, Buffer.from(p(year % 100) + rest, 'latin1'));
  return tlv(Tag.GENERALIZED_TIME, Buffer.from(p(year, 4) + rest, 'latin1'));
}
