// The machine's own yardstick: how many ECDSA P-256 (SHA-256) verifications one thread does per
// second with node:crypto, on a message of the benchmark's envelope size.
import { generateKeyPairSync, sign, verify } from 'node:crypto';

export interface VerifyRate {
  readonly perSecond: number;
  readonly messageBytes: number;
  readonly durationMs: number;
  /** Rates of the separate measurements perSecond is the mean of (before and after the load). */
  readonly samples?: readonly number[];
}

/**
 * The mean of measurements taken at different times of one run: on a shared machine the rate
 * drifts by tens of percent within a minute, so one measurement before the load says little
 * about the speed of the machine while the load ran.
 */
export function combineVerifyRates(rates: readonly VerifyRate[]): VerifyRate {
  if (rates.length === 0) throw new Error('no verify rate measured');
  return {
    perSecond: rates.reduce((sum, r) => sum + r.perSecond, 0) / rates.length,
    messageBytes: rates[0]!.messageBytes,
    durationMs: rates.reduce((sum, r) => sum + r.durationMs, 0),
    samples: rates.map((r) => r.perSecond),
  };
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
