// Who is who in a channel's consenter set (Fabric's cluster MemberMapping): a sender is known only
// by the public key of its TLS client certificate, and this node finds its own Raft ID by the
// public key of its server certificate (etcdraft consenter.go detectSelfID). Certificates are
// compared by public key, not by bytes, because a node may renew its certificate with the same key.
import { X509Certificate } from 'node:crypto';
import { badRequest, errorMessage } from '../errors.js';
import { LruCache } from '../lru.js';

export interface ClusterMember {
  /** Raft ID (etcdraft BlockMetadata consenter_ids). */
  readonly id: number;
  readonly host: string;
  readonly port: number;
  /** PEM (or DER) bytes of the certificate it dials with. */
  readonly clientTlsCert: Buffer;
  /** PEM (or DER) bytes of the certificate its cluster listener presents. */
  readonly serverTlsCert: Buffer;
}

/** The certificate's SubjectPublicKeyInfo, DER, hex: equal for certificates of the same key. */
export function publicKeyOf(certificate: Buffer): string {
  try {
    return new X509Certificate(certificate).publicKey.export({ type: 'spki', format: 'der' }).toString('hex');
  } catch (err) {
    throw badRequest(`not a valid X.509 certificate: ${errorMessage(err)}`);
  }
}

export class MemberMapping {
  private readonly byId = new Map<number, ClusterMember>();
  private readonly byClientKey = new Map<string, ClusterMember>();
  private readonly byServerKey = new Map<string, ClusterMember>();
  // Senders present the same certificate on every stream: remember the answer, as Fabric's
  // CachePublicKeyComparisons does, instead of parsing the certificate each time.
  private readonly senders = new LruCache<string, ClusterMember | null>(256);

  constructor(members: readonly ClusterMember[]) {
    for (const member of members) {
      if (this.byId.has(member.id)) throw badRequest(`consenter ID ${member.id} appears twice`);
      this.byId.set(member.id, member);
      this.byClientKey.set(publicKeyOf(member.clientTlsCert), member);
      this.byServerKey.set(publicKeyOf(member.serverTlsCert), member);
    }
  }

  get members(): ClusterMember[] {
    return [...this.byId.values()];
  }

  member(id: number): ClusterMember | undefined {
    return this.byId.get(id);
  }

  /** The consenter whose client_tls_cert has the public key of the certificate a sender presented. */
  lookupByClientCert(certificate: Buffer): ClusterMember | undefined {
    const cacheKey = certificate.toString('base64');
    const cached = this.senders.get(cacheKey);
    if (cached !== undefined) return cached ?? undefined;
    let member: ClusterMember | undefined;
    try {
      member = this.byClientKey.get(publicKeyOf(certificate));
    } catch {
      member = undefined;
    }
    this.senders.set(cacheKey, member ?? null);
    return member;
  }

  /** This node's own entry: the consenter whose server_tls_cert has the key of our server certificate. */
  lookupByServerCert(certificate: Buffer): ClusterMember | undefined {
    return this.byServerKey.get(publicKeyOf(certificate));
  }
}
