// Broadcast against bad input (spec §1), over real gRPC with Hyperledger's client bindings: every
// rejection carries the status Fabric gives, an info message naming the cause, ends its stream, and
// leaves the server serving other streams. The order of checks is pinned by envelopes that are bad
// in two ways at once: the earlier check must be the one that answers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { common as hlCommon, orderer as hlOrderer } from '@hyperledger/fabric-protos';
import {
  FIXTURES,
  HeaderType,
  atomicBroadcastClient,
  broadcastAll,
  loadIdentity,
  signChannelCreateTx,
  signLowS,
  signedEnvelope,
  toHighS,
  type ClientIdentity,
} from '../support/fabric-clients.js';
import { expiredOrg1User, org3User } from '../support/bad-identities.js';
import { startTestOrderer, type TestOrderer } from '../support/orderer.js';
import { channelGenesisBlock, freePort } from '../support/orderer-process.js';

const org1User = loadIdentity('org1User');
const org1Admin = loadIdentity('org1Admin');
const org2User = loadIdentity('org2User');

type Client = ReturnType<typeof atomicBroadcastClient>;

/** Org1 User1's certificate, but signing with Org2 User1's key. */
const wrongKeyUser: ClientIdentity = { ...org1User, sign: (data) => signLowS(org2User.key, data) };

function envelopeBytes(parts: { payload?: Uint8Array; signature?: Uint8Array }): Buffer {
  const env = new hlCommon.Envelope();
  if (parts.payload) env.setPayload(parts.payload);
  if (parts.signature) env.setSignature(parts.signature);
  return Buffer.from(env.serializeBinary());
}

function payloadBytes(parts: {
  channelHeader?: Uint8Array;
  signatureHeader?: Uint8Array;
  data?: Uint8Array;
}) {
  const payload = new hlCommon.Payload();
  if (parts.channelHeader || parts.signatureHeader) {
    const header = new hlCommon.Header();
    if (parts.channelHeader) header.setChannelHeader(parts.channelHeader);
    if (parts.signatureHeader) header.setSignatureHeader(parts.signatureHeader);
    payload.setHeader(header);
  }
  if (parts.data) payload.setData(parts.data);
  return payload.serializeBinary();
}

function signatureHeader(identity: ClientIdentity): Uint8Array {
  const shdr = new hlCommon.SignatureHeader();
  shdr.setCreator(identity.serialized);
  shdr.setNonce(randomBytes(24));
  return shdr.serializeBinary();
}

/** size = len(payload) + len(signature), exactly as the size filter measures it. */
function envelopeSize(bytes: Buffer): number {
  const env = hlCommon.Envelope.deserializeBinary(bytes);
  return env.getPayload_asU8().length + env.getSignature_asU8().length;
}

/** A normal transaction whose payload + signature is exactly `target` bytes. */
function envelopeOfSize(signer: ClientIdentity, channelId: string, target: number): Buffer {
  let dataLength = target - 1200;
  for (let attempt = 0; attempt < 100; attempt++) {
    const bytes = signedEnvelope(signer, { channelId, data: randomBytes(dataLength) });
    const size = envelopeSize(bytes);
    if (size === target) return bytes;
    // DER signatures vary by a byte or two; step towards the target and retry.
    dataLength += target - size;
  }
  throw new Error(`could not build an envelope of exactly ${target} bytes`);
}

/**
 * Garbage that is not a protobuf Envelope cannot go through a generated client: send raw bytes on
 * the same method path with grpc-js and decode the answers with Hyperledger's BroadcastResponse.
 */
function broadcastRawBytes(address: string, messages: Buffer[]): Promise<{ status: number; info: string }[]> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const call = client.makeBidiStreamRequest(
      '/orderer.AtomicBroadcast/Broadcast',
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    const responses: { status: number; info: string }[] = [];
    call.on('data', (raw: Buffer) => {
      const r = hlOrderer.BroadcastResponse.deserializeBinary(raw);
      responses.push({ status: r.getStatus(), info: r.getInfo() });
    });
    call.on('error', (err) => {
      client.close();
      reject(err);
    });
    call.on('end', () => {
      client.close();
      resolve(responses);
    });
    for (const m of messages) call.write(m);
  });
}

const CHANNEL = 'mychannel';
const NO_SYS_CHANNEL = 'appsolo';
const TINY_CHANNEL = 'tiny';
const TINY_MAX = 4096;

interface BadCase {
  name: string;
  node: 'system' | 'noSystem';
  envelope: () => Buffer;
  /** Send as raw bytes (not decodable as an Envelope). */
  raw?: boolean;
  status: number;
  info: RegExp;
}

const BAD_REQUEST = 400;
const FORBIDDEN = 403;
const NOT_FOUND = 404;

const cases: BadCase[] = [
  {
    name: 'garbage bytes',
    node: 'system',
    raw: true,
    envelope: () => Buffer.from([0x0a, 0xff, 0xff, 0x01, 0x02]),
    status: BAD_REQUEST,
    info: /could not determine channel ID/,
  },
  {
    name: 'empty payload',
    node: 'system',
    envelope: () => envelopeBytes({ signature: randomBytes(70) }),
    status: BAD_REQUEST,
    info: /empty payload/,
  },
  {
    name: 'payload that is not a Payload',
    node: 'system',
    envelope: () => envelopeBytes({ payload: Buffer.from([0x0a, 0xff, 0xff]), signature: randomBytes(70) }),
    status: BAD_REQUEST,
    info: /could not determine channel ID.*not a valid common\.Payload/,
  },
  {
    name: 'payload without header',
    node: 'system',
    envelope: () =>
      envelopeBytes({ payload: payloadBytes({ data: randomBytes(50) }), signature: randomBytes(70) }),
    status: BAD_REQUEST,
    info: /could not determine channel ID.*no header/,
  },
  {
    name: 'bad channel header',
    node: 'system',
    envelope: () =>
      envelopeBytes({
        payload: payloadBytes({
          channelHeader: Buffer.from([0x0a, 0xff, 0x01]),
          signatureHeader: signatureHeader(org1User),
          data: randomBytes(50),
        }),
        signature: randomBytes(70),
      }),
    status: BAD_REQUEST,
    info: /could not determine channel ID.*channel header/,
  },
  {
    name: 'unknown channel with a system channel',
    node: 'system',
    envelope: () => signedEnvelope(org1User, { channelId: 'nosuchchannel' }),
    status: NOT_FOUND,
    info: /channel nosuchchannel does not exist/,
  },
  {
    // Channel existence is decided before any signature is looked at.
    name: 'unknown channel with a system channel, bad signature',
    node: 'system',
    envelope: () =>
      signedEnvelope(org3User, { channelId: 'nosuchchannel', signature: () => randomBytes(71) }),
    status: NOT_FOUND,
    info: /channel nosuchchannel does not exist/,
  },
  {
    name: 'unknown channel without a system channel',
    node: 'noSystem',
    envelope: () => signedEnvelope(org1User, { channelId: 'nosuchchannel' }),
    status: BAD_REQUEST,
    info: /channel creation request not allowed because the orderer system channel is not defined/,
  },
  {
    name: 'CONFIG sent directly',
    node: 'system',
    envelope: () => signedEnvelope(org1Admin, { channelId: CHANNEL, type: HeaderType.CONFIG }),
    status: BAD_REQUEST,
    info: /CONFIG cannot be processed directly/,
  },
  {
    // Classification comes before the signature check: a forged CONFIG is still BAD_REQUEST.
    name: 'ORDERER_TRANSACTION sent directly, forged signature',
    node: 'system',
    envelope: () =>
      signedEnvelope(org3User, {
        channelId: CHANNEL,
        type: HeaderType.ORDERER_TRANSACTION,
        signature: () => randomBytes(71),
      }),
    status: BAD_REQUEST,
    info: /ORDERER_TRANSACTION cannot be processed directly/,
  },
  {
    name: 'one byte over AbsoluteMaxBytes',
    node: 'noSystem',
    envelope: () => envelopeOfSize(org1User, TINY_CHANNEL, TINY_MAX + 1),
    status: BAD_REQUEST,
    info: new RegExp(`${TINY_MAX + 1} bytes and exceeds maximum allowed ${TINY_MAX} bytes`),
  },
  {
    // Size is checked before expiry and signatures.
    name: 'oversize from an expired identity',
    node: 'noSystem',
    envelope: () => envelopeOfSize(expiredOrg1User, TINY_CHANNEL, TINY_MAX + 50),
    status: BAD_REQUEST,
    info: /exceeds maximum allowed/,
  },
  {
    name: 'expired creator certificate',
    node: 'system',
    envelope: () => signedEnvelope(expiredOrg1User, { channelId: CHANNEL }),
    status: BAD_REQUEST,
    info: /client identity expired at/,
  },
  {
    // Expiry is checked before the signature policy (which would answer FORBIDDEN).
    name: 'expired creator certificate, bad signature',
    node: 'noSystem',
    envelope: () =>
      signedEnvelope(expiredOrg1User, { channelId: NO_SYS_CHANNEL, signature: () => randomBytes(71) }),
    status: BAD_REQUEST,
    info: /client identity expired at/,
  },
  {
    name: 'identity of an MSP that is not on the channel',
    node: 'system',
    envelope: () => signedEnvelope(org3User, { channelId: CHANNEL }),
    status: FORBIDDEN,
    info: /\/Channel\/Writers.*MSP Org3MSP is not defined on channel mychannel/,
  },
  {
    name: 'signature made with a different key than the certificate',
    node: 'noSystem',
    envelope: () => signedEnvelope(wrongKeyUser, { channelId: NO_SYS_CHANNEL }),
    status: FORBIDDEN,
    info: /\/Channel\/Writers.*User1@org1\.example\.com" does not verify/,
  },
  {
    name: 'signature bytes that are not a signature',
    node: 'system',
    envelope: () => signedEnvelope(org1User, { channelId: CHANNEL, signature: () => randomBytes(71) }),
    status: FORBIDDEN,
    info: /\/Channel\/Writers.*User1@org1\.example\.com" does not verify/,
  },
  {
    name: 'high-S signature',
    node: 'noSystem',
    envelope: () => signedEnvelope(org1User, { channelId: NO_SYS_CHANNEL, signature: toHighS }),
    status: FORBIDDEN,
    info: /\/Channel\/Writers.*User1@org1\.example\.com" does not verify/,
  },
];

describe('Broadcast rejects bad input with Fabric statuses (spec §1)', () => {
  let system: TestOrderer;
  let noSystem: TestOrderer;
  let systemClient: Client;
  let noSystemClient: Client;
  const ledgers: string[] = [];

  before(async () => {
    system = await startTestOrderer({ env: { ORDERER_GENERAL_LISTENPORT: String(await freePort()) } });
    systemClient = atomicBroadcastClient(system.address);
    const createTx = readFileSync(join(FIXTURES, 'blocks/mychannel-create.tx'));
    const [created] = await broadcastAll(systemClient, [signChannelCreateTx(createTx, [org1Admin])]);
    assert.deepEqual(created, { status: 200, info: '' });
    // The creation block is cut at once (config messages are never batched); wait until it is written.
    await waitFor(() => system.orderer.registrar.channelIds().includes(CHANNEL), 'mychannel created');

    const ledgerDir = mkdtempSync(join(tmpdir(), 'orderer-it-nosys-'));
    ledgers.push(ledgerDir);
    noSystem = await startTestOrderer({
      ledgerDir,
      env: {
        ORDERER_GENERAL_BOOTSTRAPMETHOD: 'none',
        ORDERER_GENERAL_LISTENPORT: String(await freePort()),
      },
    });
    await noSystem.orderer.registrar.joinChannel(
      readFileSync(join(FIXTURES, 'blocks/appsolo-genesis.block')),
    );
    await noSystem.orderer.registrar.joinChannel(
      channelGenesisBlock(TINY_CHANNEL, { absoluteMaxBytes: TINY_MAX, preferredMaxBytes: TINY_MAX }),
    );
    noSystemClient = atomicBroadcastClient(noSystem.address);
  });

  after(async () => {
    systemClient?.close();
    noSystemClient?.close();
    await system?.destroy();
    await noSystem?.destroy();
    for (const dir of ledgers) rmSync(dir, { recursive: true, force: true });
  });

  const stillServes = async (node: 'system' | 'noSystem') => {
    const client = node === 'system' ? systemClient : noSystemClient;
    const channelId = node === 'system' ? CHANNEL : NO_SYS_CHANNEL;
    const responses = await broadcastAll(client, [signedEnvelope(org1User, { channelId })]);
    assert.deepEqual(responses, [{ status: 200, info: '' }], `${node} orderer still serves new streams`);
  };

  for (const c of cases) {
    it(`${c.name} -> ${c.status}`, async () => {
      const bad = c.envelope();
      const good = signedEnvelope(org1User, { channelId: c.node === 'system' ? CHANNEL : NO_SYS_CHANNEL });
      // The good envelope behind the bad one on the same stream is never answered: the stream ends.
      const node = c.node === 'system' ? system : noSystem;
      const responses = c.raw
        ? await broadcastRawBytes(node.address, [bad, good])
        : await broadcastAll(c.node === 'system' ? systemClient : noSystemClient, [bad, good]);
      assert.equal(responses.length, 1, `one response, then the stream ends: ${JSON.stringify(responses)}`);
      assert.equal(responses[0]!.status, c.status, responses[0]!.info);
      assert.match(responses[0]!.info, c.info);
      await stillServes(c.node);
    });
  }

  it('accepts an envelope of exactly AbsoluteMaxBytes (equal passes)', async () => {
    const exact = envelopeOfSize(org1User, TINY_CHANNEL, TINY_MAX);
    assert.equal(envelopeSize(exact), TINY_MAX);
    const responses = await broadcastAll(noSystemClient, [
      exact,
      envelopeOfSize(org1User, TINY_CHANNEL, TINY_MAX - 1),
    ]);
    assert.deepEqual(responses, [
      { status: 200, info: '' },
      { status: 200, info: '' },
    ]);
  });

  it('keeps a stream open across many SUCCESS responses, answering in order', async () => {
    const envelopes = Array.from({ length: 40 }, () => signedEnvelope(org1User, { channelId: CHANNEL }));
    const responses = await broadcastAll(systemClient, envelopes);
    assert.equal(responses.length, 40);
    assert.ok(responses.every((r) => r.status === 200));
  });
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
