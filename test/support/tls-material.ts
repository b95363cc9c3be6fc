// TLS material and clients for the gRPC TLS tests: Fabric's fixture TLS certificates (orderer0's
// server pair, its TLS CA, Org1's TLS CA and User1's client pair), certificates issued on the fly by
// a trusted or an untrusted CA, and AtomicBroadcast clients with explicit channel options.
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { common as hlCommon, orderer as hlOrderer } from '@hyperledger/fabric-protos';
import {
  createRootCa,
  issueCertificate,
  loadPrivateKeyPem,
  parseCertificatePem,
  type CertifiedKey,
} from '../../src/crypto/index.js';
import { CRYPTO } from './fabric-clients.js';
import { ORDERER0_DIR } from './orderer.js';
import { systemClock } from '../../src/clock.js';

const require = createRequire(import.meta.url);

export const ORDERER0_TLS = join(ORDERER0_DIR, 'tls');
export const ORG1_DIR = join(CRYPTO, 'peerOrganizations/org1.example.com');
export const ORG1_TLSCA_CERT = join(ORG1_DIR, 'tlsca/tlsca.org1.example.com-cert.pem');
export const USER1_TLS = join(ORG1_DIR, 'users/User1@org1.example.com/tls');

export interface ClientTls {
  caPem: Buffer;
  certPem?: Buffer;
  keyPem?: Buffer;
}

export const ordererTlsCaPem = (): Buffer => readFileSync(join(ORDERER0_TLS, 'ca.crt'));
export const org1TlsCaPem = (): Buffer => readFileSync(ORG1_TLSCA_CERT);

/** User1@org1's TLS client pair, as cryptogen wrote it. */
export function user1ClientPair(): { certPem: Buffer; keyPem: Buffer } {
  return {
    certPem: readFileSync(join(USER1_TLS, 'client.crt')),
    keyPem: readFileSync(join(USER1_TLS, 'client.key')),
  };
}

/** User1@org2's TLS client pair: Org2 is on every channel the tests make, in ClientRootCAs never. */
export function org2User1ClientPair(): { certPem: Buffer; keyPem: Buffer } {
  const dir = join(CRYPTO, 'peerOrganizations/org2.example.com/users/User1@org2.example.com/tls');
  return { certPem: readFileSync(join(dir, 'client.crt')), keyPem: readFileSync(join(dir, 'client.key')) };
}

/** A CA of the fixtures (cryptogen's certificate and priv_sk) with its key, to issue more certificates under it. */
export function fixtureCa(certFile: string, keyFile: string): CertifiedKey {
  const certPem = readFileSync(certFile, 'utf8');
  const keyPem = readFileSync(keyFile, 'utf8');
  return { cert: parseCertificatePem(certPem), certPem, privateKey: loadPrivateKeyPem(keyPem), keyPem };
}

/** Org1's TLS CA with its private key, so a test can issue more certificates under it. */
export function org1TlsCa(): CertifiedKey {
  return fixtureCa(ORG1_TLSCA_CERT, join(ORG1_DIR, 'tlsca/priv_sk'));
}

/** The orderer org's TLS CA (it issued every orderer's TLS certificate) with its private key. */
export function ordererTlsCa(): CertifiedKey {
  const dir = join(CRYPTO, 'ordererOrganizations/example.com/tlsca');
  return fixtureCa(join(dir, 'tlsca.example.com-cert.pem'), join(dir, 'priv_sk'));
}

/** A CA nobody trusts, with the same shape as cryptogen's TLS CAs. */
export function untrustedTlsCa(): CertifiedKey {
  return createRootCa({
    clock: systemClock,
    commonName: 'tlsca.org1.example.com',
    organization: 'org1.example.com',
  });
}

/** A TLS client certificate (serverAuth+clientAuth EKUs, as cryptogen issues them) under `ca`. */
export function issueClientPair(ca: CertifiedKey, commonName: string): { certPem: Buffer; keyPem: Buffer } {
  const leaf = issueCertificate(ca, {
    clock: systemClock,
    commonName,
    organization: 'org1.example.com',
    tls: true,
  });
  return { certPem: Buffer.from(leaf.certPem), keyPem: Buffer.from(leaf.keyPem) };
}

/** SHA-256 of the certificate's DER encoding: what channel_header.tls_cert_hash must carry. */
export function certDerHash(certPem: Buffer): Buffer {
  return createHash('sha256').update(new X509Certificate(certPem).raw).digest();
}

type AbClient = grpc.Client & {
  deliver(): grpc.ClientDuplexStream<hlCommon.Envelope, hlOrderer.DeliverResponse>;
  broadcast(): grpc.ClientDuplexStream<hlCommon.Envelope, hlOrderer.BroadcastResponse>;
};

const { AtomicBroadcastClient } = require('@hyperledger/fabric-protos/lib/orderer/ab_grpc_pb.js') as {
  AtomicBroadcastClient: new (
    address: string,
    credentials: grpc.ChannelCredentials,
    options?: grpc.ChannelOptions,
  ) => AbClient;
};

/** Hyperledger's generated AtomicBroadcast client over TLS (or plaintext when `tlsOptions` is undefined). */
export function tlsAtomicBroadcastClient(
  address: string,
  tlsOptions: ClientTls | undefined,
  channelOptions: grpc.ChannelOptions = {},
): AbClient {
  const credentials = tlsOptions
    ? grpc.credentials.createSsl(tlsOptions.caPem, tlsOptions.keyPem ?? null, tlsOptions.certPem ?? null)
    : grpc.credentials.createInsecure();
  return new AtomicBroadcastClient(address, credentials, channelOptions);
}

export interface HandshakeResult {
  /** The server's certificate (DER), when the handshake got that far. */
  serverCertDer?: Buffer;
  alpn?: string | false | null;
  /** Whether the server accepted the connection (the socket stayed usable after the handshake). */
  accepted: boolean;
  error?: string;
}

/**
 * A bare TLS handshake with the server (ALPN h2, as gRPC offers it). With TLS 1.3 a server that
 * refuses the client certificate says so only after the client's handshake completes, so the
 * connection is watched for a short while afterwards: accepted means no alert and no close.
 */
export function tlsHandshake(
  port: number,
  options: { ca: Buffer; cert?: Buffer; key?: Buffer; servername?: string },
): Promise<HandshakeResult> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca: options.ca,
      ...(options.cert ? { cert: options.cert } : {}),
      ...(options.key ? { key: options.key } : {}),
      ...(options.servername ? { servername: options.servername } : {}),
      ALPNProtocols: ['h2'],
    });
    let result: HandshakeResult = { accepted: false };
    let settled = false;
    const finish = (patch: Partial<HandshakeResult>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...result, ...patch });
    };
    const timer = setTimeout(() => finish({ error: 'handshake timed out' }), 5000);
    socket.once('secureConnect', () => {
      result = { serverCertDer: socket.getPeerCertificate().raw, alpn: socket.alpnProtocol, accepted: true };
      // A server refusing the client certificate closes right after the handshake (TLS 1.3).
      // An HTTP/2 client preface makes an accepting server answer with its SETTINGS frame.
      socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
      socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
      socket.once('data', () => finish({ accepted: true }));
    });
    socket.once('error', (err) => finish({ accepted: false, error: err.message }));
    socket.once('close', () => finish({ accepted: false, error: result.error ?? 'closed by the server' }));
  });
}
