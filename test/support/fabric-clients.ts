// Client side of the integration tests, built only on Hyperledger's own code: envelopes are made
// with @hyperledger/fabric-protos (google-protobuf), Deliver and Broadcast streams use its generated
// grpc-js client, and fabric-common's Committer sends Broadcasts as the Node SDK does. None of it
// shares a codec with the server, so a codec mistake on either side cannot hide.
import { constants, createPrivateKey, randomBytes, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import { common as hlCommon, msp as hlMsp, orderer as hlOrderer } from '@hyperledger/fabric-protos';
import { FABRIC_FIXTURES } from './fabric-fixtures.js';

const require = createRequire(import.meta.url);

const { AtomicBroadcastClient } = require('@hyperledger/fabric-protos/lib/orderer/ab_grpc_pb.js') as {
  AtomicBroadcastClient: new (
    address: string,
    credentials: grpc.ChannelCredentials,
    options?: object,
  ) => grpc.Client & {
    deliver(): grpc.ClientDuplexStream<hlCommon.Envelope, hlOrderer.DeliverResponse>;
    broadcast(): grpc.ClientDuplexStream<hlCommon.Envelope, hlOrderer.BroadcastResponse>;
  };
};

export const FIXTURES = `${FABRIC_FIXTURES}/`;
export const CRYPTO = join(FIXTURES, 'crypto');

const identityDirs = {
  orderer0: ['OrdererMSP', 'ordererOrganizations/example.com/orderers/orderer0.example.com'],
  ordererAdmin: ['OrdererMSP', 'ordererOrganizations/example.com/users/Admin@example.com'],
  org1Admin: ['Org1MSP', 'peerOrganizations/org1.example.com/users/Admin@org1.example.com'],
  org1User: ['Org1MSP', 'peerOrganizations/org1.example.com/users/User1@org1.example.com'],
  org1Peer: ['Org1MSP', 'peerOrganizations/org1.example.com/peers/peer0.org1.example.com'],
  org2Admin: ['Org2MSP', 'peerOrganizations/org2.example.com/users/Admin@org2.example.com'],
  org2User: ['Org2MSP', 'peerOrganizations/org2.example.com/users/User1@org2.example.com'],
} as const;
export type FixtureName = keyof typeof identityDirs;

export interface ClientIdentity {
  mspId: string;
  certPem: Buffer;
  key: KeyObject;
  /** Marshalled msp.SerializedIdentity. */
  serialized: Buffer;
  /** The identity's folder (msp/ and tls/ inside). */
  dir: string;
  sign(data: Uint8Array): Buffer;
}

const P256_N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

/** ECDSA-SHA256 DER signature normalized to low-S, as Fabric's signers produce. */
export function signLowS(key: KeyObject, data: Uint8Array): Buffer {
  const raw = cryptoSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  const r = BigInt('0x' + raw.subarray(0, 32).toString('hex'));
  let s = BigInt('0x' + raw.subarray(32).toString('hex'));
  if (s > P256_N / 2n) s = P256_N - s;
  return derSignature(r, s);
}

/** The same signature with S replaced by N - S: valid math, but Fabric rejects it. */
export function toHighS(signature: Buffer): Buffer {
  const { r, s } = parseDerSignature(signature);
  return derSignature(r, s > P256_N / 2n ? s : P256_N - s);
}

function derInt(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  let b = Buffer.from(hex, 'hex');
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return Buffer.concat([Buffer.from([0x02, b.length]), b]);
}

function derSignature(r: bigint, s: bigint): Buffer {
  const body = Buffer.concat([derInt(r), derInt(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

function parseDerSignature(sig: Buffer): { r: bigint; s: bigint } {
  let at = 2;
  const rLen = sig[at + 1]!;
  const r = BigInt('0x' + sig.subarray(at + 2, at + 2 + rLen).toString('hex'));
  at += 2 + rLen;
  const sLen = sig[at + 1]!;
  const s = BigInt('0x' + sig.subarray(at + 2, at + 2 + sLen).toString('hex'));
  return { r, s };
}

export function serializeIdentity(mspId: string, certPem: Uint8Array): Buffer {
  const id = new hlMsp.SerializedIdentity();
  id.setMspid(mspId);
  id.setIdBytes(certPem);
  return Buffer.from(id.serializeBinary());
}

export function loadIdentity(name: FixtureName): ClientIdentity {
  const [mspId, relative] = identityDirs[name];
  return identityFromFolder(mspId, join(CRYPTO, relative));
}

/** An identity from a folder holding msp/signcerts/*.pem and msp/keystore/*. */
export function identityFromFolder(mspId: string, dir: string): ClientIdentity {
  const signcerts = join(dir, 'msp', 'signcerts');
  const keystore = join(dir, 'msp', 'keystore');
  const certPem = readFileSync(join(signcerts, readdirSync(signcerts)[0]!));
  const key = createPrivateKey(readFileSync(join(keystore, readdirSync(keystore)[0]!)));
  const serialized = serializeIdentity(mspId, certPem);
  return { mspId, certPem, key, serialized, dir, sign: (data) => signLowS(key, data) };
}

export interface EnvelopeOptions {
  type?: number;
  channelId: string;
  data?: Uint8Array;
  txId?: string;
  timestampMs?: number;
  tlsCertHash?: Uint8Array;
  /** Replace the signature (e.g. a high-S twin or garbage). */
  signature?: (good: Buffer) => Buffer;
}

export const HeaderType = {
  CONFIG: 1,
  CONFIG_UPDATE: 2,
  ENDORSER_TRANSACTION: 3,
  ORDERER_TRANSACTION: 4,
  DELIVER_SEEK_INFO: 5,
};

/** A signed common.Envelope built with Hyperledger's protobuf bindings. */
export function signedEnvelope(signer: ClientIdentity, options: EnvelopeOptions): Buffer {
  const now = options.timestampMs ?? Date.now();
  const ts = new (require('google-protobuf/google/protobuf/timestamp_pb.js').Timestamp)();
  ts.setSeconds(Math.floor(now / 1000));
  ts.setNanos((now % 1000) * 1e6);
  const chdr = new hlCommon.ChannelHeader();
  chdr.setType(options.type ?? HeaderType.ENDORSER_TRANSACTION);
  chdr.setChannelId(options.channelId);
  chdr.setTimestamp(ts);
  chdr.setTxId(options.txId ?? randomBytes(32).toString('hex'));
  if (options.tlsCertHash) chdr.setTlsCertHash(options.tlsCertHash);
  const shdr = new hlCommon.SignatureHeader();
  shdr.setCreator(signer.serialized);
  shdr.setNonce(randomBytes(24));
  const header = new hlCommon.Header();
  header.setChannelHeader(chdr.serializeBinary());
  header.setSignatureHeader(shdr.serializeBinary());
  const payload = new hlCommon.Payload();
  payload.setHeader(header);
  payload.setData(options.data ?? randomBytes(300));
  const payloadBytes = payload.serializeBinary();
  const good = signer.sign(payloadBytes);
  const env = new hlCommon.Envelope();
  env.setPayload(payloadBytes);
  env.setSignature(options.signature ? options.signature(good) : good);
  return Buffer.from(env.serializeBinary());
}

export type Position = 'oldest' | 'newest' | 'nextCommit' | number;

export function seekInfo(
  start: Position | undefined,
  stop: Position | undefined,
  behavior: 'block' | 'fail' = 'block',
  errorResponse: 'strict' | 'bestEffort' = 'strict',
): Buffer {
  const position = (p: Position) => {
    const pos = new hlOrderer.SeekPosition();
    if (p === 'oldest') pos.setOldest(new hlOrderer.SeekOldest());
    else if (p === 'newest') pos.setNewest(new hlOrderer.SeekNewest());
    else if (p === 'nextCommit') pos.setNextCommit(new hlOrderer.SeekNextCommit());
    else {
      const spec = new hlOrderer.SeekSpecified();
      spec.setNumber(p);
      pos.setSpecified(spec);
    }
    return pos;
  };
  const info = new hlOrderer.SeekInfo();
  if (start !== undefined) info.setStart(position(start));
  if (stop !== undefined) info.setStop(position(stop));
  info.setBehavior(
    behavior === 'block'
      ? hlOrderer.SeekInfo.SeekBehavior.BLOCK_UNTIL_READY
      : hlOrderer.SeekInfo.SeekBehavior.FAIL_IF_NOT_READY,
  );
  info.setErrorResponse(
    errorResponse === 'strict'
      ? hlOrderer.SeekInfo.SeekErrorResponse.STRICT
      : hlOrderer.SeekInfo.SeekErrorResponse.BEST_EFFORT,
  );
  return Buffer.from(info.serializeBinary());
}

export interface TlsClientOptions {
  caPem: Buffer;
  certPem?: Buffer;
  keyPem?: Buffer;
}

export function grpcCredentials(tls?: TlsClientOptions): grpc.ChannelCredentials {
  return tls
    ? grpc.credentials.createSsl(tls.caPem, tls.keyPem ?? null, tls.certPem ?? null)
    : grpc.credentials.createInsecure();
}

export function atomicBroadcastClient(address: string, tls?: TlsClientOptions) {
  return new AtomicBroadcastClient(address, grpcCredentials(tls), {
    'grpc.max_receive_message_length': 200 * 1024 * 1024,
  });
}

export interface DeliverResult {
  blocks: hlCommon.Block[];
  blockBytes: Buffer[];
  status: number | undefined;
  /** A gRPC error, if the stream failed rather than ending with a status. */
  error?: grpc.ServiceError;
}

/** Sends one SeekInfo envelope on a Deliver stream; collects blocks until a status arrives. */
export function deliver(
  client: ReturnType<typeof atomicBroadcastClient>,
  envelope: Buffer,
  options: { timeoutMs?: number; maxBlocks?: number; onBlock?: (block: Buffer) => void } = {},
): Promise<DeliverResult> {
  return new Promise((resolve) => {
    const stream = client.deliver();
    const result: DeliverResult = { blocks: [], blockBytes: [], status: undefined };
    const timer = setTimeout(() => {
      stream.cancel();
    }, options.timeoutMs ?? 15000);
    const finish = () => {
      clearTimeout(timer);
      resolve(result);
    };
    stream.on('data', (response: hlOrderer.DeliverResponse) => {
      if (response.hasBlock()) {
        const block = response.getBlock()!;
        const bytes = Buffer.from(block.serializeBinary());
        result.blocks.push(block);
        result.blockBytes.push(bytes);
        options.onBlock?.(bytes);
        if (options.maxBlocks !== undefined && result.blocks.length >= options.maxBlocks) {
          stream.cancel();
        }
      } else {
        result.status = response.getStatus();
        stream.end();
      }
    });
    stream.on('error', (err: grpc.ServiceError) => {
      if (err.code !== grpc.status.CANCELLED) result.error = err;
      finish();
    });
    stream.on('end', finish);
    stream.write(hlCommon.Envelope.deserializeBinary(envelope));
  });
}

/**
 * deliver() for a request that must end with a status: the blocks as delivered (marshalled) and
 * the status; rejects when none arrives within timeoutMs or the stream fails.
 */
export async function deliverOnce(
  client: ReturnType<typeof atomicBroadcastClient>,
  envelope: Buffer,
  options: { timeoutMs?: number; onBlock?: (block: Buffer) => void } = {},
): Promise<{ status: number; blocks: Buffer[] }> {
  const result = await deliver(client, envelope, { ...options, timeoutMs: options.timeoutMs ?? 20000 });
  if (result.status === undefined) {
    throw new Error(
      `deliver ended without a status after ${result.blocks.length} blocks${result.error ? `: ${result.error.message}` : ' (timed out)'}`,
    );
  }
  return { status: result.status, blocks: result.blockBytes };
}

/** Sends envelopes on one Broadcast stream; resolves with every response received. */
export function broadcastAll(
  client: ReturnType<typeof atomicBroadcastClient>,
  envelopes: Buffer[],
  timeoutMs = 15000,
): Promise<{ status: number; info: string }[]> {
  return new Promise((resolve, reject) => {
    const stream = client.broadcast();
    const responses: { status: number; info: string }[] = [];
    const timer = setTimeout(() => {
      stream.cancel();
      reject(new Error(`broadcast timed out with ${responses.length}/${envelopes.length} responses`));
    }, timeoutMs);
    stream.on('data', (r: hlOrderer.BroadcastResponse) => {
      responses.push({ status: r.getStatus(), info: r.getInfo() });
      if (responses.length === envelopes.length) stream.end();
    });
    stream.on('error', (err: grpc.ServiceError) => {
      clearTimeout(timer);
      if (err.code === grpc.status.CANCELLED) resolve(responses);
      else reject(err);
    });
    stream.on('end', () => {
      clearTimeout(timer);
      resolve(responses);
    });
    for (const env of envelopes) stream.write(hlCommon.Envelope.deserializeBinary(env));
  });
}

/**
 * What `peer channel create` does with a channel transaction: sign the ConfigUpdateEnvelope as
 * each admin (ConfigSignature over signature_header || config_update), then wrap it in a new
 * CONFIG_UPDATE envelope signed by the first admin.
 */
export function signChannelCreateTx(txBytes: Buffer, admins: ClientIdentity[]): Buffer {
  const env = hlCommon.Envelope.deserializeBinary(txBytes);
  const payload = hlCommon.Payload.deserializeBinary(env.getPayload_asU8());
  const chdr = hlCommon.ChannelHeader.deserializeBinary(payload.getHeader()!.getChannelHeader_asU8());
  const cue = hlCommon.ConfigUpdateEnvelope.deserializeBinary(payload.getData_asU8());
  signConfigUpdate(cue, admins);
  return signedEnvelope(admins[0]!, {
    type: HeaderType.CONFIG_UPDATE,
    channelId: chdr.getChannelId(),
    data: cue.serializeBinary(),
  });
}

export function signConfigUpdate(cue: hlCommon.ConfigUpdateEnvelope, admins: ClientIdentity[]): void {
  for (const admin of admins) {
    const shdr = new hlCommon.SignatureHeader();
    shdr.setCreator(admin.serialized);
    shdr.setNonce(randomBytes(24));
    const shdrBytes = shdr.serializeBinary();
    const sig = new hlCommon.ConfigSignature();
    sig.setSignatureHeader(shdrBytes);
    sig.setSignature(admin.sign(Buffer.concat([shdrBytes, cue.getConfigUpdate_asU8()])));
    cue.addSignatures(sig);
  }
}

export { constants as cryptoConstants };
