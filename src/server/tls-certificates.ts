// Server TLS material whose trusted client CAs can change while the server runs (Fabric's
// updateTrustedRoots): grpc-js reads them through a certificate provider on each new handshake.
import type * as grpc from '@grpc/grpc-js';

/**
 * The server's certificate and key (fixed) and the trusted client CAs (updatable; each update
 * reaches new handshakes). One provider serves both roles, so the order of grpc-js's arguments,
 * whose declared names and runtime use differ, does not matter.
 */
export class ServerTlsCertificates implements grpc.experimental.CertificateProvider {
  private clientCas: Buffer;
  private readonly caListeners = new Set<grpc.experimental.CaCertificateUpdateListener>();

  constructor(
    private readonly certificate: Buffer,
    private readonly privateKey: Buffer,
    clientCas: readonly Buffer[],
  ) {
    this.clientCas = joinPems(clientCas);
  }

  updateClientCas(pems: readonly Buffer[]): void {
    const next = joinPems(pems);
    if (next.equals(this.clientCas)) return;
    this.clientCas = next;
    for (const listener of this.caListeners) listener({ caCertificate: next });
  }

  addCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.caListeners.add(listener);
    listener({ caCertificate: this.clientCas });
  }
  removeCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.caListeners.delete(listener);
  }
  addIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    listener({ certificate: this.certificate, privateKey: this.privateKey });
  }
  removeIdentityCertificateListener(): void {}
}

/** PEM certificates concatenated, each ending in a newline, duplicates dropped. */
function joinPems(pems: readonly Buffer[]): Buffer {
  const unique = [...new Set(pems.map((pem) => pem.toString().trim() + '\n'))];
  return Buffer.from(unique.join(''));
}
