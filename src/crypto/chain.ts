// Certificate path verification as Go's x509.Certificate.Verify does it for TLS certificates
// in Fabric's etcdraft checks: a chain from the leaf through the given intermediates to one of
// the roots, each link signed by a CA, with the requested extended key usages allowed along it.
// Validity periods are not checked here: Fabric ignores expiration for consenter certificates in
// channel config, and callers that care (the TLS handshake, a newly added consenter) check it.
import { Oid, checkIssuedBy } from './x509.js';
import type { Certificate } from './x509.js';

export interface ChainVerifyOptions {
  readonly roots: readonly Certificate[];
  readonly intermediates: readonly Certificate[];
  /** The leaf (and every CA above it that names extended key usages) must allow one of these. */
  readonly keyUsages: readonly string[];
}

/** Go limits path building in the same spirit; Fabric's CA hierarchies are one or two levels deep. */
const MAX_CHAIN_DEPTH = 8;

/** Returns undefined when a valid chain exists, else why none does. */
export function verifyCertificateChain(leaf: Certificate, options: ChainVerifyOptions): string | undefined {
  if (options.roots.length === 0) return 'no root certificates to verify against';
  const usageProblem = extKeyUsageProblem(leaf, options.keyUsages);
  if (usageProblem) return usageProblem;
  const reasons: string[] = [];
  if (findPath(leaf, options, 0, reasons)) return undefined;
  return reasons.length
    ? `certificate signed by unknown authority (${[...new Set(reasons)].join('; ')})`
    : `certificate signed by unknown authority (no CA named "${leaf.issuer.toString()}")`;
}

function findPath(cert: Certificate, options: ChainVerifyOptions, depth: number, reasons: string[]): boolean {
  if (depth > MAX_CHAIN_DEPTH) return false;
  for (const root of options.roots) {
    if (root.der.equals(cert.der)) return true;
  }
  for (const root of options.roots) {
    if (!root.subject.raw.equals(cert.issuer.raw)) continue;
    const problem = checkIssuedBy(cert, root);
    if (problem === undefined) return true;
    reasons.push(problem);
  }
  for (const intermediate of options.intermediates) {
    if (intermediate.der.equals(cert.der) || !intermediate.subject.raw.equals(cert.issuer.raw)) continue;
    const problem = checkIssuedBy(cert, intermediate) ?? extKeyUsageProblem(intermediate, options.keyUsages);
    if (problem !== undefined) {
      reasons.push(problem);
      continue;
    }
    if (findPath(intermediate, options, depth + 1, reasons)) return true;
  }
  return false;
}

function extKeyUsageProblem(cert: Certificate, wanted: readonly string[]): string | undefined {
  if (wanted.length === 0 || cert.extKeyUsage.length === 0) return undefined;
  if (cert.extKeyUsage.includes(Oid.ekuAny)) return undefined;
  if (wanted.some((usage) => cert.extKeyUsage.includes(usage))) return undefined;
  return `${cert.label} has an extended key usage that allows neither ${wanted.join(' nor ')}`;
}
