// The machine's own yardstick: how many ECDSA P-256 (SHA-256) verifications one thread does per
// second with node:crypto, on a message of the benchmark's envelope size.
import { generateKeyPairSync, sign, verify } from 'node:crypto';

export interface VerifyRate {
  readonly perSecond: number;
  readonly messageBytes: number;
  readonly durationMs: number;
}

export function measureVerifyRate(messageBytes: number, durationMs = 1000): VerifyRate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const message = Buffer.alloc(messageBytes, 0x5a);
  const signature = sign('sha256', message, privateKey);
  // Warm up (JIT, OpenSSL caches) before timing.
  for (let i = 0; i < 50; i++) verify('sha256', message, publicKey, signature);
  let count = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < durationMs) {
    for (let i = 0; i < 50; i++) {
      if (!verify('sha256', message, publicKey, signature)) throw new Error('ECDSA self-check failed');
    }
    count += 50;
    elapsed = performance.now() - start;
  }
  return { perSecond: (count * 1000) / elapsed, messageBytes, durationMs: elapsed };
}
