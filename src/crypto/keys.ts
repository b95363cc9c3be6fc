import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { curveOfKey } from './ecdsa.js';

/**
 * Loads a private key from PEM: PKCS#8 ("PRIVATE KEY", what cryptogen and Fabric CA write) or
 * SEC1 ("EC PRIVATE KEY"). Only ECDSA keys on P-256/P-384/P-521 are accepted, as in Fabric.
 */
export function loadPrivateKeyPem(pem: string | Buffer, source = 'private key'): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new Error(
      `${source} is not a PEM private key (PKCS#8 or SEC1 expected): ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (!curveOfKey(key)) {
    throw new Error(
      `${source} is a ${key.asymmetricKeyType} key; Fabric identities need ECDSA keys on P-256, P-384 or P-521`,
    );
  }
  return key;
}

export function privateKeyToPkcs8Pem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function publicKeyToSpkiDer(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

/** True when both keys (private or public) have the same public part. */
export function samePublicKey(a: KeyObject, b: KeyObject): boolean {
  return publicKeyToSpkiDer(a).equals(publicKeyToSpkiDer(b));
}

export function publicKeyFromSpki(spkiDer: Buffer): KeyObject {
  return createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
}

/**
 * A bounded cache of public KeyObjects by SubjectPublicKeyInfo bytes. createPublicKey costs far
 * more than a Map lookup, and the same few keys (orderers, admins, clients) sign over and over.
 */
export class PublicKeyCache {
  private readonly entries = new Map<string, KeyObject>();

  constructor(private readonly capacity = 10_000) {}

  get(spkiDer: Buffer): KeyObject {
    const cacheKey = spkiDer.toString('latin1');
    let key = this.entries.get(cacheKey);
    if (key) {
      this.entries.delete(cacheKey);
      this.entries.set(cacheKey, key);
      return key;
    }
    key = publicKeyFromSpki(spkiDer);
    this.entries.set(cacheKey, key);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return key;
  }

  get size(): number {
    return this.entries.size;
  }
}
