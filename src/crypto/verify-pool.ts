// ECDSA verification on worker threads, in batches: the event loop only copies each message into
// a batch and resolves a promise, while the curve arithmetic (and the hashing) runs beside it. One
// message per batch crosses to a worker and one comes back. With node:crypto's async verify every
// signature is a libuv job of its own, and under Broadcast load dispatching and collecting those
// jobs took over a quarter of the event loop (cpu profile of `npm run bench`, 1 KB x 64 streams);
// batched, end-to-end throughput went from 36-39% to 47-49% of the verify rate on 2 cores.
import { Worker } from 'node:worker_threads';
import type { KeyObject } from 'node:crypto';
import type { HashAlgorithm } from './hash.js';
import { precheckEcdsaSignature } from './ecdsa.js';

/** Verifies an ECDSA signature (DER, low-S) over message; false for malformed, high-S or wrong ones. */
export type AsyncSignatureVerifier = (
  publicKey: KeyObject,
  message: Uint8Array,
  signature: Uint8Array,
  hashAlgorithm: HashAlgorithm,
) => Promise<boolean>;

/** What the worker runs (CommonJS, evaluated: no file to resolve under tsx or from dist/). */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { verify } = require('node:crypto');
const keys = new Map();
parentPort.on('message', (batch) => {
  if (batch.resetKeys) keys.clear();
  for (const [id, key] of batch.newKeys) keys.set(id, key);
  const bytes = new Uint8Array(batch.bytes);
  const results = new Uint8Array(batch.count);
  for (let i = 0; i < batch.count; i++) {
    const at = i * 5;
    const dataStart = batch.offsets[at], dataEnd = batch.offsets[at + 1], sigEnd = batch.offsets[at + 2];
    const key = keys.get(batch.offsets[at + 3]);
    const hash = batch.offsets[at + 4] === 1 ? 'sha384' : 'sha256';
    try {
      results[i] = verify(hash, bytes.subarray(dataStart, dataEnd), { key, dsaEncoding: 'ieee-p1363' },
        bytes.subarray(dataEnd, sigEnd)) ? 1 : 0;
    } catch {
      results[i] = 0;
    }
  }
  parentPort.postMessage({ id: batch.id, results }, [results.buffer]);
});
`;

const MAX_KEYS_PER_WORKER = 20_000;

interface Pending {
  readonly resolve: (ok: boolean) => void;
  readonly reject: (err: Error) => void;
}

interface OpenBatch {
  readonly pending: Pending[];
  readonly chunks: Uint8Array[];
  /** Per item: data start, data end (= signature start), signature end, key id, hash (0 sha256, 1 sha384). */
  readonly offsets: number[];
  /** The keys the batch uses, by id. */
  readonly keys: Map<number, KeyObject>;
  bytes: number;
}

interface VerifyWorker {
  readonly worker: Worker;
  /** Key ids this worker has been sent. */
  readonly knownKeys: Set<number>;
  readonly inFlight: Map<number, Pending[]>;
}

export interface VerifyPoolOptions {
  /** Worker threads. */
  readonly workers: number;
  /** A batch is sent when it holds this many signatures (else at the end of the event-loop turn). */
  readonly maxBatch?: number;
  /** A batch is also sent once its messages add up to this many bytes (they are copied into it). */
  readonly maxBatchBytes?: number;
}

export class VerifyWorkerPool {
  private readonly workers: VerifyWorker[] = [];
  private readonly keyIds = new WeakMap<KeyObject, number>();
  private nextKeyId = 1;
  private nextBatchId = 1;
  private nextWorker = 0;
  private open: OpenBatch | undefined;
  private readonly maxBatch: number;
  private readonly maxBatchBytes: number;
  private closed = false;

  constructor(private readonly options: VerifyPoolOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1) {
      throw new Error(`a verify pool needs at least one worker (got ${options.workers})`);
    }
    this.maxBatch = options.maxBatch ?? 64;
    this.maxBatchBytes = options.maxBatchBytes ?? 1024 * 1024;
  }

  /** An AsyncSignatureVerifier: the same checks as verifyEcdsaAsync, the arithmetic on a worker. */
  readonly verify: AsyncSignatureVerifier = (publicKey, message, signature, hashAlgorithm) => {
    const pre = precheckEcdsaSignature(publicKey, signature);
    if (!pre.p1363) return Promise.resolve(false);
    if (this.closed) return Promise.reject(new Error('the signature verification pool is closed'));
    let keyId = this.keyIds.get(publicKey);
    if (keyId === undefined) {
      keyId = this.nextKeyId++;
      this.keyIds.set(publicKey, keyId);
    }
    const batch = this.open ?? this.startBatch();
    const start = batch.bytes;
    batch.chunks.push(message, pre.p1363);
    batch.bytes += message.length + pre.p1363.length;
    batch.offsets.push(start, start + message.length, batch.bytes, keyId, hashAlgorithm === 'sha384' ? 1 : 0);
    if (!batch.keys.has(keyId)) batch.keys.set(keyId, publicKey);
    return new Promise<boolean>((resolve, reject) => {
      batch.pending.push({ resolve, reject });
      if (batch.pending.length >= this.maxBatch || batch.bytes >= this.maxBatchBytes) this.flush();
    });
  };

  /** Stops the workers; pending verifications are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((w) => w.worker.terminate()));
    for (const w of workers) this.failAll(w, new Error('the signature verification pool was closed'));
  }

  private startBatch(): OpenBatch {
    const batch: OpenBatch = { pending: [], chunks: [], offsets: [], keys: new Map(), bytes: 0 };
    this.open = batch;
    setImmediate(() => {
      if (this.open === batch) this.flush();
    });
    return batch;
  }

  private flush(): void {
    const batch = this.open;
    if (!batch || batch.pending.length === 0) return;
    this.open = undefined;
    const target = this.pickWorker();
    const bytes = new Uint8Array(batch.bytes);
    let at = 0;
    for (const chunk of batch.chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    // A worker keeps every key it was sent; past a bound it starts over (keys are re-sent as used).
    const resetKeys = target.knownKeys.size >= MAX_KEYS_PER_WORKER;
    if (resetKeys) target.knownKeys.clear();
    const newKeys: [number, KeyObject][] = [];
    for (const [keyId, key] of batch.keys) {
      if (!target.knownKeys.has(keyId)) {
        target.knownKeys.add(keyId);
        newKeys.push([keyId, key]);
      }
    }
    const id = this.nextBatchId++;
    target.inFlight.set(id, batch.pending);
    target.worker.postMessage(
      { id, count: batch.pending.length, bytes: bytes.buffer, offsets: batch.offsets, newKeys, resetKeys },
      [bytes.buffer],
    );
  }

  private pickWorker(): VerifyWorker {
    if (this.workers.length < this.options.workers) return this.spawn();
    // The least busy worker, round robin among equals.
    let best = this.workers[this.nextWorker % this.workers.length]!;
    for (const w of this.workers) if (w.inFlight.size < best.inFlight.size) best = w;
    this.nextWorker++;
    return best;
  }

  private spawn(): VerifyWorker {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // The worker holds keys and one batch at a time: a small heap keeps its memory small, and
      // no loader flags of the parent (tsx under tests) are needed for plain JavaScript.
      resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 },
      execArgv: [],
    });
    worker.unref();
    const entry: VerifyWorker = { worker, knownKeys: new Set(), inFlight: new Map() };
    worker.on('message', (reply: { id: number; results: Uint8Array }) => {
      const pending = entry.inFlight.get(reply.id);
      if (!pending) return;
      entry.inFlight.delete(reply.id);
      pending.forEach((p, i) => p.resolve(reply.results[i] === 1));
    });
    const fail = (err: Error) => {
      const index = this.workers.indexOf(entry);
      if (index >= 0) this.workers.splice(index, 1);
      this.failAll(entry, err);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!this.closed) fail(new Error(`the signature verification worker exited (code ${code})`));
    });
    this.workers.push(entry);
    return entry;
  }

  private failAll(entry: VerifyWorker, err: Error): void {
    for (const pending of entry.inFlight.values()) for (const p of pending) p.reject(err);
    entry.inFlight.clear();
  }
}
