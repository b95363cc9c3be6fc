// ECDSA as Fabric does it: DER signatures, always low-S when signing, high-S rejected when
// verifying (bccsp/sw/ecdsa.go). Node's crypto.sign returns a high-S signature about half the
// time, so every signature is normalized here.
import { sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { children, derSequence, derUnsignedInteger, readDer, readSignedInteger, Tag } from './asn1.js';
import type { HashAlgorithm } from './hash.js';

export type CurveName = 'P-256' | 'P-384' | 'P-521';

interface CurveInfo {
  readonly name: CurveName;
  readonly order: bigint;
  readonly halfOrder: bigint;
  /** order and halfOrder as big-endian bytes of byteLength, for comparisons without bigints. */
  readonly orderBytes: Buffer;
  readonly halfOrderBytes: Buffer;
  readonly byteLength: number;
  readonly oid: string;
  readonly nodeName: string;
}

function curve(
  name: CurveName,
  nodeName: string,
  oid: string,
  orderHex: string,
  byteLength: number,
): CurveInfo {
  const order = BigInt('0x' + orderHex);
  const halfOrder = order >> 1n;
  const bytes = (v: bigint) => Buffer.from(v.toString(16).padStart(byteLength * 2, '0'), 'hex');
  return {
    name,
    order,
    halfOrder,
    orderBytes: bytes(order),
    halfOrderBytes: bytes(halfOrder),
    byteLength,
    oid,
    nodeName,
  };
}

const CURVES: readonly CurveInfo[] = [
  curve(
    'P-256',
    'prime256v1',
    '1.2.840.10045.3.1.7',
    'FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551',
    32,
  ),
  curve(
    'P-384',
    'secp384r1',
    '1.3.132.0.34',
    'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973',
    48,
  ),
  curve(
    'P-521',
    'secp521r1',
    '1.3.132.0.35',
    '01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409',
    66,
  ),
];

export function curveByName(name: string): CurveInfo | undefined {
  return CURVES.find((c) => c.name === name || c.nodeName === name);
}

export function curveByOid(oid: string): CurveInfo | undefined {
  return CURVES.find((c) => c.oid === oid);
}

const curveOfKeyCache = new WeakMap<KeyObject, CurveInfo | null>();

/** The curve of an EC key, or undefined for non-EC keys and unsupported curves. */
export function curveOfKey(key: KeyObject): CurveInfo | undefined {
  const cached = curveOfKeyCache.get(key);
  if (cached !== undefined) return cached ?? undefined;
  let found: CurveInfo | undefined;
  if (key.asymmetricKeyType === 'ec') {
    const named = key.asymmetricKeyDetails?.namedCurve;
    found = named ? curveByName(named) : undefined;
  }
  curveOfKeyCache.set(key, found ?? null);
  return found;
}

export interface EcdsaSignature {
  readonly r: bigint;
  readonly s: bigint;
}

/**
 * Parses an ECDSA-Sig-Value as Go's encoding/asn1 does for Fabric: strict DER integers, r and s
 * positive; extra bytes after the structure are ignored (Go ignores them too).
 */
export function parseEcdsaSignature(signature: Uint8Array): EcdsaSignature {
  const buf = Buffer.isBuffer(signature) ? signature : Buffer.from(signature);
  const seq = readDer(buf, 0);
  if (seq.tag !== Tag.SEQUENCE) throw new Error('ECDSA signature is not an ASN.1 SEQUENCE');
  const items = children(seq);
  if (items.length < 2) throw new Error('ECDSA signature must hold two integers r and s');
  const r = readSignedInteger(items[0]!, 'signature r');
  const s = readSignedInteger(items[1]!, 'signature s');
  if (r <= 0n) throw new Error('invalid ECDSA signature: r must be larger than zero');
  if (s <= 0n) throw new Error('invalid ECDSA signature: s must be larger than zero');
  return { r, s };
}

export function encodeEcdsaSignature(sig: EcdsaSignature): Buffer {
  return derSequence(derUnsignedInteger(sig.r), derUnsignedInteger(sig.s));
}

export function isLowS(curveInfo: CurveInfo, s: bigint): boolean {
  return s <= curveInfo.halfOrder;
}

/** Returns the low-S form of a DER signature (unchanged bytes when already low-S and canonical). */
export function toLowS(curveInfo: CurveInfo, signature: Buffer): Buffer {
  const { r, s } = parseEcdsaSignature(signature);
  const normalized = encodeEcdsaSignature({ r, s: isLowS(curveInfo, s) ? s : curveInfo.order - s });
  return normalized.equals(signature) ? signature : normalized;
}

function requireCurve(key: KeyObject): CurveInfo {
  const c = curveOfKey(key);
  if (!c) {
    throw new Error(
      `unsupported key type ${key.asymmetricKeyType}${key.asymmetricKeyDetails?.namedCurve ? ' ' + key.asymmetricKeyDetails.namedCurve : ''}; ECDSA P-256, P-384 or P-521 required`,
    );
  }
  return c;
}

/** ECDSA over hash(message), DER encoded, always low-S. */
export function signEcdsa(
  privateKey: KeyObject,
  message: Uint8Array,
  hashAlgorithm: HashAlgorithm = 'sha256',
): Buffer {
  const c = requireCurve(privateKey);
  const p1363 = nodeSign(hashAlgorithm, message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const r = BigInt('0x' + p1363.subarray(0, c.byteLength).toString('hex'));
  let s = BigInt('0x' + p1363.subarray(c.byteLength).toString('hex'));
  if (!isLowS(c, s)) s = c.order - s;
  return encodeEcdsaSignature({ r, s });
}

function toP1363(c: CurveInfo, sig: EcdsaSignature): Buffer | undefined {
  if (sig.r >= c.order || sig.s >= c.order) return undefined;
  const width = c.byteLength * 2;
  return Buffer.from(
    sig.r.toString(16).padStart(width, '0') + sig.s.toString(16).padStart(width, '0'),
    'hex',
  );
}

/**
 * The P1363 form of a DER signature in its common shape (short lengths, SEQUENCE of exactly two
 * positive INTEGERs, r < order, s <= half order), without bigints; undefined for anything else,
 * which the general path below then judges (with the same outcome for what this accepts).
 */
function fastP1363(c: CurveInfo, sig: Uint8Array): Buffer | undefined {
  if (sig.length < 8 || sig[0] !== 0x30) return undefined;
  const seqLength = sig[1]!;
  if (seqLength >= 0x80 || 2 + seqLength > sig.length) return undefined;
  const seqEnd = 2 + seqLength;
  if (sig[2] !== 0x02) return undefined;
  const rLength = sig[3]!;
  const rStart = 4;
  const rEnd = rStart + rLength;
  if (rLength === 0 || rLength >= 0x80 || rEnd + 2 > seqEnd || sig[rEnd] !== 0x02) return undefined;
  const sLength = sig[rEnd + 1]!;
  const sStart = rEnd + 2;
  const sEnd = sStart + sLength;
  if (sLength === 0 || sLength >= 0x80 || sEnd !== seqEnd) return undefined;
  const out = Buffer.alloc(2 * c.byteLength);
  if (!placeInteger(sig, rStart, rEnd, out, 0, c.byteLength, c.orderBytes, false)) return undefined;
  if (!placeInteger(sig, sStart, sEnd, out, c.byteLength, c.byteLength, c.halfOrderBytes, true))
    return undefined;
  return out;
}

/**
 * Copies a positive DER integer right-aligned into out[at, at+width); false when it is negative,
 * zero, wider than width, or not below (or, with orEqual, above) limit.
 */
function placeInteger(
  sig: Uint8Array,
  start: number,
  end: number,
  out: Buffer,
  at: number,
  width: number,
  limit: Buffer,
  orEqual: boolean,
): boolean {
  if (sig[start]! >= 0x80) return false;
  while (start < end && sig[start] === 0) start++;
  const length = end - start;
  if (length === 0 || length > width) return false;
  out.set(sig.subarray(start, end), at + width - length);
  const cmp = Buffer.compare(out.subarray(at, at + width), limit);
  return orEqual ? cmp <= 0 : cmp < 0;
}

/**
 * Why a signature cannot be valid before any curve arithmetic (malformed, high-S, out of range),
 * or undefined when it is worth verifying. Returns the P1363 form for the verifier.
 */
export function precheckEcdsaSignature(
  publicKey: KeyObject,
  signature: Uint8Array,
): { problem: string; p1363?: undefined } | { problem?: undefined; p1363: Buffer } {
  const c = curveOfKey(publicKey);
  if (!c) return { problem: `public key is not an ECDSA key on a supported curve` };
  const fast = fastP1363(c, signature);
  if (fast) return { p1363: fast };
  let parsed: EcdsaSignature;
  try {
    parsed = parseEcdsaSignature(signature);
  } catch (err) {
    return { problem: `malformed ECDSA signature: ${(err as Error).message}` };
  }
  if (!isLowS(c, parsed.s)) {
    return { problem: 'ECDSA signature has a high S value; Fabric accepts only low-S signatures' };
  }
  const p1363 = toP1363(c, parsed);
  if (!p1363) return { problem: 'ECDSA signature values out of range for the curve' };
  return { p1363 };
}

/** Synchronous verify; false for malformed, high-S or wrong signatures. */
export function verifyEcdsa(
  publicKey: KeyObject,
  message: Uint8Array,
  signature: Uint8Array,
  hashAlgorithm: HashAlgorithm = 'sha256',
): boolean {
  const pre = precheckEcdsaSignature(publicKey, signature);
  if (!pre.p1363) return false;
  return nodeVerify(hashAlgorithm, message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, pre.p1363);
}

/**
 * How many async verifications an AsyncVerifyQueue lets onto libuv's threadpool at once. The
 * threadpool is shared with file I/O (write-ahead-log and ledger writes, fsyncs): with a thousand
 * verifications queued there, every fsync waited behind all of them, so a Broadcast answer took as
 * long as verifying everything in flight. The rest wait in the queue, in arrival order. The limit
 * is well above the thread count: completions are collected once per event-loop turn, and under
 * load a turn takes milliseconds, so a slot turns over about once per turn (measured: 16 slots gave
 * ~2,300 verifies/s with 7 ms turns). With 32 per core an fsync waits behind at most ~64 verifies
 * (about 1-2 ms of work on a 4-thread pool) instead of a thousand.
 */
export const DEFAULT_ASYNC_VERIFY_CONCURRENCY = 32 * Math.max(1, availableParallelism());

interface VerifyJob {
  readonly hashAlgorithm: HashAlgorithm;
  readonly message: Uint8Array;
  readonly publicKey: KeyObject;
  readonly p1363: Buffer;
  readonly resolve: (ok: boolean) => void;
  readonly reject: (err: Error) => void;
}

export interface AsyncVerifyQueueOptions {
  /** Verifications on the threadpool at once; default DEFAULT_ASYNC_VERIFY_CONCURRENCY. */
  readonly concurrency?: number;
}

function checkConcurrency(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new Error(
      `async verify concurrency must be >= 1 (got ${limit}); pass a whole number of verifications`,
    );
  }
  return limit;
}

/**
 * ECDSA verification on libuv's threadpool, a bounded number at a time (see
 * DEFAULT_ASYNC_VERIFY_CONCURRENCY). One queue is made by whoever owns the threadpool budget (the
 * composition root) and its `verify` handed to the MSPs; queues made separately do not share
 * their limits.
 */
export class AsyncVerifyQueue {
  private limit: number;
  private running = 0;
  private readonly queue: VerifyJob[] = [];

  constructor(options: AsyncVerifyQueueOptions = {}) {
    this.limit = checkConcurrency(options.concurrency ?? DEFAULT_ASYNC_VERIFY_CONCURRENCY);
  }

  /** An AsyncSignatureVerifier: the same checks as verifyEcdsa, the arithmetic on the threadpool. */
  readonly verify = (
    publicKey: KeyObject,
    message: Uint8Array,
    signature: Uint8Array,
    hashAlgorithm: HashAlgorithm = 'sha256',
  ): Promise<boolean> => {
    const pre = precheckEcdsaSignature(publicKey, signature);
    if (!pre.p1363) return Promise.resolve(false);
    const p1363 = pre.p1363;
    return new Promise((resolve, reject) => {
      const job: VerifyJob = { hashAlgorithm, message, publicKey, p1363, resolve, reject };
      if (this.running < this.limit) this.start(job);
      else this.queue.push(job);
    });
  };

  /** Sets how many verifications may be on the threadpool at once; waiting ones start at once if allowed. */
  setConcurrency(limit: number): void {
    this.limit = checkConcurrency(limit);
    while (this.running < this.limit && this.queue.length > 0) this.start(this.queue.shift()!);
  }

  /** Verifications running on the threadpool and waiting for a slot (for tests and metrics). */
  backlog(): { running: number; queued: number } {
    return { running: this.running, queued: this.queue.length };
  }

  private start(job: VerifyJob): void {
    this.running++;
    try {
      nodeVerify(
        job.hashAlgorithm,
        job.message,
        { key: job.publicKey, dsaEncoding: 'ieee-p1363' },
        job.p1363,
        (err, ok) => {
          this.done();
          if (err) job.reject(err);
          else job.resolve(ok);
        },
      );
    } catch (err) {
      this.done();
      job.reject(err as Error);
    }
  }

  private done(): void {
    this.running--;
    const next = this.queue.shift();
    if (next) this.start(next);
  }
}

/**
 * Same as verifyEcdsa, but the curve arithmetic runs on libuv's threadpool, unbounded: for a few
 * verifications at a time. Under load use an AsyncVerifyQueue (or a VerifyWorkerPool), so that
 * verifications do not crowd file I/O off the threadpool.
 */
export function verifyEcdsaAsync(
  publicKey: KeyObject,
  message: Uint8Array,
  signature: Uint8Array,
  hashAlgorithm: HashAlgorithm = 'sha256',
): Promise<boolean> {
  const pre = precheckEcdsaSignature(publicKey, signature);
  if (!pre.p1363) return Promise.resolve(false);
  const p1363 = pre.p1363;
  // A synchronous throw from nodeVerify (e.g. a key it cannot use) becomes the rejection.
  return new Promise((resolve, reject) => {
    nodeVerify(hashAlgorithm, message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, p1363, (err, ok) => {
      if (err) reject(err);
      else resolve(ok);
    });
  });
}
