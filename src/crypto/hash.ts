import { createHash } from 'node:crypto';

export type HashAlgorithm = 'sha256' | 'sha384' | 'sha512' | 'sha3-256' | 'sha3-384';

export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

export function sha384(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha384');
  for (const p of parts) h.update(p);
  return h.digest();
}

export function hash(algorithm: HashAlgorithm, ...parts: Uint8Array[]): Buffer {
  const h = createHash(algorithm);
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * Fabric's FabricCryptoConfig.signature_hash_family: SHA2 signs SHA-256 digests and SHA3 signs
 * SHA3-256 digests, whatever the curve (a P-384 key still signs a SHA-256 digest in Fabric).
 */
export function signatureHashForFamily(family: string | null | undefined): HashAlgorithm {
  switch (family || 'SHA2') {
    case 'SHA2':
      return 'sha256';
    case 'SHA3':
      return 'sha3-256';
    default:
      throw new Error(`unsupported signature hash family '${family}'; Fabric supports SHA2 and SHA3`);
  }
}

/** Fabric's FabricCryptoConfig.identity_identifier_hash_function (bccsp hash option names). */
export function identifierHashFunction(name: string | null | undefined): HashAlgorithm {
  switch (name || 'SHA256') {
    case 'SHA256':
    case 'SHA2':
      return 'sha256';
    case 'SHA384':
      return 'sha384';
    case 'SHA3_256':
    case 'SHA3':
      return 'sha3-256';
    case 'SHA3_384':
      return 'sha3-384';
    default:
      throw new Error(
        `unsupported identity identifier hash function '${name}'; use SHA256, SHA384, SHA3_256 or SHA3_384`,
      );
  }
}
