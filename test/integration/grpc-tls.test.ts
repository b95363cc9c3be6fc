// The AtomicBroadcast listener over TLS and mutual TLS, configured as an operator configures
// Fabric's orderer (sample orderer.yaml + ORDERER_GENERAL_TLS_* variables) with Fabric's fixture
// TLS material. Clients are Hyperledger's generated gRPC client and fabric-common's Committer.
// Server TLS: a client trusting the fixture TLS CA orders and delivers; a client trusting another
// CA, a client expecting another host name and a plaintext client get nothing. Mutual TLS: a client
// certificate from ClientRootCAs gets in, none or one from another CA does not; Deliver checks
// channel_header.tls_cert_hash against the client certificate (spec §2.2).
import type * as FabricCommon from 'fabric-common';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import { common as hlCommon } from '@hyperledger/fabric-protos';
import {
  HeaderType,
  broadcastAll,
  deliver,
  loadIdentity,
  seekInfo,
  signedEnvelope,
  type Position,
} from '../support/fabric-clients.js';
import { startTestOrderer, type TestOrderer } from '../support/orderer.js';
import { channelGenesisBlock } from '../support/orderer-process.js';
import {
  ORDERER0_TLS,
  ORG1_TLSCA_CERT,
  certDerHash,
  issueClientPair,
  org1TlsCa,
  org1TlsCaPem,
  org2User1ClientPair,
  ordererTlsCaPem,
  tlsAtomicBroadcastClient,
  tlsHandshake,
  untrustedTlsCa,
  user1ClientPair,
  type ClientTls,
} from '../support/tls-material.js';

const require = createRequire(import.meta.url);
const { Client } = require('fabric-common') as typeof FabricCommon;

const CHANNEL = 'tlschannel';
/** Blocks are cut by count only, so each batch of BATCH envelopes is exactly one block. */
const BATCH = 2;
const SUCCESS = 200;
const BAD_REQUEST = 400;
const org1User = loadIdentity('org1User');

type AbClient = ReturnType<typeof tlsAtomicBroadcastClient>;

const serverTlsEnv = {
  ORDERER_GENERAL_BOOTSTRAPMETHOD: 'none',
  ORDERER_GENERAL_TLS_ENABLED: 'true',
  ORDERER_GENERAL_TLS_CERTIFICATE: join(ORDERER0_TLS, 'server.crt'),
  ORDERER_GENERAL_TLS_PRIVATEKEY: join(ORDERER0_TLS, 'server.key'),
  // The sample config's RootCAs (tls/ca.crt next to orderer.yaml) does not exist in the fixtures.
  ORDERER_GENERAL_TLS_ROOTCAS: `[${join(ORDERER0_TLS, 'ca.crt')}]`,
};

async function startTlsOrderer(env: Record<string, string>): Promise<TestOrderer> {
  const node = await startTestOrderer({ env });
  try {
    await node.orderer.registrar.joinChannel(
      channelGenesisBlock(CHANNEL, { maxMessageCount: BATCH, batchTimeout: '1h' }),
    );
  } catch (err) {
    await node.destroy();
    throw err;
  }
  return node;
}

function seekEnvelope(start: Position, stop: Position, tlsCertHash?: Uint8Array): Buffer {
  return signedEnvelope(org1User, {
    type: HeaderType.DELIVER_SEEK_INFO,
    channelId: CHANNEL,
    data: seekInfo(start, stop),
    ...(tlsCertHash ? { tlsCertHash } : {}),
  });
}

function txIdOf(envelopeBytes: Uint8Array): string {
  const env = hlCommon.Envelope.deserializeBinary(envelopeBytes);
  const payload = hlCommon.Payload.deserializeBinary(env.getPayload_asU8());
  return hlCommon.ChannelHeader.deserializeBinary(payload.getHeader()!.getChannelHeader_asU8()).getTxId();
}

/** Broadcasts one batch on `client`, then waits for the block it makes and returns its tx IDs. */
async function orderOneBlock(node: TestOrderer, client: AbClient, label: string): Promise<string[]> {
  const before = node.orderer.registrar.channelInfo(CHANNEL)!.height;
  const txIds = Array.from({ length: BATCH }, (_, i) => `${label}-${i}-${randomBytes(4).toString('hex')}`);
  const responses = await broadcastAll(
    client,
    txIds.map((txId) => signedEnvelope(org1User, { channelId: CHANNEL, txId })),
  );
  assert.deepEqual(
    responses,
    txIds.map(() => ({ status: SUCCESS, info: '' })),
  );
  const deadline = Date.now() + 10_000;
  while (node.orderer.registrar.channelInfo(CHANNEL)!.height <= before) {
    if (Date.now() > deadline) throw new Error(`no block was cut after ${label}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return txIds;
}

/** What a refused client sees: the stream fails with a gRPC error, no response ever arrives. */
async function assertRefused(client: AbClient, what: string): Promise<void> {
  await assert.rejects(
    broadcastAll(client, [signedEnvelope(org1User, { channelId: CHANNEL })], 10_000),
    (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAVAILABLE, `${what}: Broadcast ${err.code} ${err.message}`);
      return true;
    },
  );
  const result = await deliver(client, seekEnvelope('oldest', 'newest'), { timeoutMs: 10_000 });
  assert.equal(result.status, undefined, `${what}: Deliver must not get a status`);
  assert.deepEqual(result.blocks, [], `${what}: Deliver must not get a block`);
  assert.equal(result.error?.code, grpc.status.UNAVAILABLE, `${what}: Deliver ${result.error?.message}`);
}

function sdkEndpointOptions(node: TestOrderer, tls: ClientTls) {
  return {
    url: `grpcs://${node.address}`,
    pem: tls.caPem.toString(),
    ...(tls.certPem && tls.keyPem
      ? { clientCert: tls.certPem.toString(), clientKey: tls.keyPem.toString() }
      : {}),
    requestTimeout: 10_000,
  };
}

/** fabric-common's Committer, as the Node SDK submits transactions: one Broadcast per envelope. */
async function sdkBroadcast(node: TestOrderer, tls: ClientTls, txIds: string[]): Promise<string[]> {
  const sdk = Client.newClient('grpc-tls-it');
  const committer = sdk.newCommitter('orderer0', 'OrdererMSP');
  await committer.connect(sdk.newEndpoint(sdkEndpointOptions(node, tls)));
  try {
    const responses = await Promise.all(
      txIds.map((txId) => {
        const env = hlCommon.Envelope.deserializeBinary(
          signedEnvelope(org1User, { channelId: CHANNEL, txId }),
        );
        const message = { signature: env.getSignature_asU8(), payload: env.getPayload_asU8() };
        // fabric-common declares the parameter as bytes but encodes it as a common.Envelope message.
        return committer.sendBroadcast(message as unknown as Buffer, 10_000);
      }),
    );
    return responses.map((r) => (r as { status: string }).status);
  } finally {
    committer.disconnect();
  }
}

/**
 * fabric-common gets nowhere: connect() fails, or (TLS 1.3 with a refused client certificate: the
 * client's handshake completes before the server's alert arrives) the broadcast itself fails.
 */
async function sdkRefused(node: TestOrderer, tls: ClientTls): Promise<void> {
  const sdk = Client.newClient('grpc-tls-it');
  const committer = sdk.newCommitter('orderer0', 'OrdererMSP');
  try {
    const connected = await committer
      .connect(sdk.newEndpoint({ ...sdkEndpointOptions(node, tls), 'grpc-wait-for-ready-timeout': 1000 }))
      .then(
        () => true,
        () => false,
      );
    if (connected) {
      const env = hlCommon.Envelope.deserializeBinary(signedEnvelope(org1User, { channelId: CHANNEL }));
      const message = { signature: env.getSignature_asU8(), payload: env.getPayload_asU8() };
      const outcome = await committer.sendBroadcast(message as unknown as Buffer, 5000).then(
        (r) => `answered ${JSON.stringify(r)}`,
        (err: Error) => `failed: ${err.message}`,
      );
      assert.match(outcome, /^failed: /, 'fabric-common must not get a Broadcast answer');
    } else {
      assert.equal((committer as unknown as { connected: boolean }).connected, false);
    }
  } finally {
    committer.disconnect();
  }
}

describe('AtomicBroadcast over server TLS (ORDERER_GENERAL_TLS_ENABLED=true)', () => {
  let node: TestOrderer;
  const trusted: ClientTls = { caPem: ordererTlsCaPem() };

  before(async () => {
    node = await startTlsOrderer(serverTlsEnv);
  });
  after(async () => {
    await node?.destroy();
  });

  it('presents orderer0.example.com/tls/server.crt, negotiates h2, and verifies for 127.0.0.1 and localhost', async () => {
    const expected = new X509Certificate(readFileSync(join(ORDERER0_TLS, 'server.crt'))).raw;
    for (const servername of [undefined, 'localhost', 'orderer0.example.com']) {
      const hs = await tlsHandshake(node.orderer.port, {
        ca: trusted.caPem,
        ...(servername ? { servername } : {}),
      });
      assert.equal(hs.error, undefined, `servername ${servername}`);
      assert.equal(hs.accepted, true);
      assert.equal(hs.alpn, 'h2');
      assert.ok(hs.serverCertDer?.equals(expected), 'the configured server certificate is served');
    }
  });

  it('a client trusting the fixture TLS CA broadcasts and delivers', async () => {
    const client = tlsAtomicBroadcastClient(node.address, trusted);
    try {
      const txIds = await orderOneBlock(node, client, 'tls');
      const all = await deliver(client, seekEnvelope('oldest', 'newest'));
      assert.equal(all.error, undefined);
      assert.equal(all.status, SUCCESS);
      assert.deepEqual(
        all.blocks.map((b) => b.getHeader()!.getNumber()),
        [0, 1],
      );
      assert.deepEqual(all.blocks[1]!.getData()!.getDataList_asU8().map(txIdOf), txIds);
      // Without client authentication, a tls_cert_hash is not required (and not checked).
      const noHash = await deliver(client, seekEnvelope(1, 1));
      assert.equal(noHash.status, SUCCESS);
      assert.equal(noHash.blocks.length, 1);
    } finally {
      client.close();
    }
  });

  it("fabric-common's Committer broadcasts over grpcs:// with the fixture TLS CA", async () => {
    const before = node.orderer.registrar.channelInfo(CHANNEL)!.height;
    const txIds = [`sdk-a-${Date.now()}`, `sdk-b-${Date.now()}`];
    assert.deepEqual(await sdkBroadcast(node, trusted, txIds), ['SUCCESS', 'SUCCESS']);
    const client = tlsAtomicBroadcastClient(node.address, trusted);
    try {
      const block = await deliver(client, seekEnvelope(before, before));
      assert.equal(block.status, SUCCESS);
      assert.deepEqual(block.blocks[0]!.getData()!.getDataList_asU8().map(txIdOf).sort(), [...txIds].sort());
    } finally {
      client.close();
    }
  });

  it('a client trusting another CA is refused by its own certificate check', async () => {
    const heightBefore = node.orderer.registrar.channelInfo(CHANNEL)!.height;
    for (const [what, caPem] of [
      ['Org1 TLS CA', org1TlsCaPem()],
      ['a fresh CA with the same name', Buffer.from(untrustedTlsCa().certPem)],
    ] as const) {
      const client = tlsAtomicBroadcastClient(node.address, { caPem });
      try {
        await assertRefused(client, what);
      } finally {
        client.close();
      }
      const hs = await tlsHandshake(node.orderer.port, { ca: caPem });
      assert.equal(hs.accepted, false, what);
      assert.match(hs.error ?? '', /certificate/i, what);
      await sdkRefused(node, { caPem });
    }
    assert.equal(node.orderer.registrar.channelInfo(CHANNEL)!.height, heightBefore, 'nothing was ordered');
  });

  it('a client expecting another host name is refused (SAN check)', async () => {
    const client = tlsAtomicBroadcastClient(node.address, trusted, {
      'grpc.ssl_target_name_override': 'orderer1.example.com',
      'grpc.default_authority': 'orderer1.example.com',
    });
    try {
      await assertRefused(client, 'wrong host name');
    } finally {
      client.close();
    }
  });

  it('a plaintext client is refused', async () => {
    const client = tlsAtomicBroadcastClient(node.address, undefined);
    try {
      await assertRefused(client, 'plaintext');
    } finally {
      client.close();
    }
    // And the TLS clients are still served afterwards.
    const good = tlsAtomicBroadcastClient(node.address, trusted);
    try {
      const newest = await deliver(good, seekEnvelope('newest', 'newest'));
      assert.equal(newest.status, SUCCESS);
      assert.equal(newest.blocks.length, 1);
    } finally {
      good.close();
    }
  });
});

describe('AtomicBroadcast over mutual TLS (ORDERER_GENERAL_TLS_CLIENTAUTHREQUIRED=true)', () => {
  let node: TestOrderer;
  const user1 = user1ClientPair();
  const trusted: ClientTls = { caPem: ordererTlsCaPem(), ...user1 };
  const user1Hash = certDerHash(user1.certPem);

  before(async () => {
    node = await startTlsOrderer({
      ...serverTlsEnv,
      ORDERER_GENERAL_TLS_CLIENTAUTHREQUIRED: 'true',
      ORDERER_GENERAL_TLS_CLIENTROOTCAS: `[${ORG1_TLSCA_CERT}]`,
    });
  });
  after(async () => {
    await node?.destroy();
  });

  it('User1@org1 (client.crt from the Org1 TLS CA) broadcasts and delivers with its tls_cert_hash', async () => {
    const client = tlsAtomicBroadcastClient(node.address, trusted);
    try {
      // Broadcast has no TLS binding check in Fabric; only Deliver does.
      const txIds = await orderOneBlock(node, client, 'mtls');
      const all = await deliver(client, seekEnvelope('oldest', 'newest', user1Hash));
      assert.equal(all.error, undefined);
      assert.equal(all.status, SUCCESS);
      assert.deepEqual(
        all.blocks.map((b) => b.getHeader()!.getNumber()),
        [0, 1],
      );
      assert.deepEqual(all.blocks[1]!.getData()!.getDataList_asU8().map(txIdOf), txIds);
    } finally {
      client.close();
    }
  });

  it('Deliver without tls_cert_hash, or with a wrong one, gets BAD_REQUEST (spec §2.2)', async () => {
    const client = tlsAtomicBroadcastClient(node.address, trusted);
    const otherCert = issueClientPair(org1TlsCa(), 'Other@org1.example.com').certPem;
    try {
      for (const [what, hash] of [
        ['missing', undefined],
        ['random', randomBytes(32)],
        ['of another trusted certificate', certDerHash(otherCert)],
        ['truncated', user1Hash.subarray(0, 31)],
        ['of the PEM text instead of the DER', createHash('sha256').update(user1.certPem).digest()],
      ] as const) {
        const result = await deliver(client, seekEnvelope('oldest', 'newest', hash));
        assert.equal(result.error, undefined, what);
        assert.equal(result.status, BAD_REQUEST, `tls_cert_hash ${what}`);
        assert.deepEqual(result.blocks, [], `no block with a ${what} tls_cert_hash`);
      }
      // The same connection is served again once the request carries the right hash.
      const ok = await deliver(client, seekEnvelope(0, 0, user1Hash));
      assert.equal(ok.status, SUCCESS);
      assert.equal(ok.blocks.length, 1);
    } finally {
      client.close();
    }
  });

  it('a certificate issued now by the Org1 TLS CA is accepted, with its own hash only', async () => {
    const pair = issueClientPair(org1TlsCa(), 'Fresh@org1.example.com');
    const client = tlsAtomicBroadcastClient(node.address, { caPem: ordererTlsCaPem(), ...pair });
    try {
      const own = await deliver(client, seekEnvelope(0, 0, certDerHash(pair.certPem)));
      assert.equal(own.status, SUCCESS);
      assert.equal(own.blocks.length, 1);
      // User1's hash belongs to another connection's certificate.
      const borrowed = await deliver(client, seekEnvelope(0, 0, user1Hash));
      assert.equal(borrowed.status, BAD_REQUEST);
    } finally {
      client.close();
    }
  });

  it("fabric-common's Committer broadcasts with User1's client certificate", async () => {
    const statuses = await sdkBroadcast(node, trusted, [`sdk-m1-${Date.now()}`, `sdk-m2-${Date.now()}`]);
    assert.deepEqual(statuses, ['SUCCESS', 'SUCCESS']);
  });

  it('a client without a certificate is refused', async () => {
    const client = tlsAtomicBroadcastClient(node.address, { caPem: ordererTlsCaPem() });
    try {
      await assertRefused(client, 'no client certificate');
    } finally {
      client.close();
    }
    const hs = await tlsHandshake(node.orderer.port, { ca: ordererTlsCaPem() });
    assert.equal(hs.accepted, false);
    await sdkRefused(node, { caPem: ordererTlsCaPem() });
  });

  it('a client certificate from an untrusted CA is refused, though the same shape from Org1 TLS CA is not', async () => {
    const heightBefore = node.orderer.registrar.channelInfo(CHANNEL)!.height;
    const rogue = issueClientPair(untrustedTlsCa(), 'User1@org1.example.com');
    const client = tlsAtomicBroadcastClient(node.address, { caPem: ordererTlsCaPem(), ...rogue });
    try {
      await assertRefused(client, 'untrusted client CA');
    } finally {
      client.close();
    }
    const rogueHs = await tlsHandshake(node.orderer.port, {
      ca: ordererTlsCaPem(),
      cert: rogue.certPem,
      key: rogue.keyPem,
    });
    assert.equal(rogueHs.accepted, false);
    await sdkRefused(node, { caPem: ordererTlsCaPem(), ...rogue });

    // Control: the same request path with a trusted certificate is accepted at the TLS layer.
    const control = issueClientPair(org1TlsCa(), 'User1@org1.example.com');
    const controlHs = await tlsHandshake(node.orderer.port, {
      ca: ordererTlsCaPem(),
      cert: control.certPem,
      key: control.keyPem,
    });
    assert.equal(controlHs.error, undefined);
    assert.equal(controlHs.accepted, true);
    assert.equal(node.orderer.registrar.channelInfo(CHANNEL)!.height, heightBefore, 'nothing was ordered');
  });

  it('a plaintext client is refused', async () => {
    const client = tlsAtomicBroadcastClient(node.address, undefined);
    try {
      await assertRefused(client, 'plaintext');
    } finally {
      client.close();
    }
  });
});

describe("mutual TLS trusts the TLS CAs of the channels' orgs (Fabric's caManager.updateTrustedRoots)", () => {
  let node: TestOrderer;

  before(async () => {
    // ClientRootCAs names Org1's TLS CA only; Org2 is a member of the joined channel, and its MSP
    // in the channel config carries Org2's TLS root certificate (msp/tlscacerts).
    node = await startTlsOrderer({
      ...serverTlsEnv,
      ORDERER_GENERAL_TLS_CLIENTAUTHREQUIRED: 'true',
      ORDERER_GENERAL_TLS_CLIENTROOTCAS: `[${ORG1_TLSCA_CERT}]`,
    });
  });
  after(async () => {
    await node?.destroy();
  });

  it('accepts a client certificate from the TLS CA of an org on a channel, though not in ClientRootCAs', async () => {
    const org2 = org2User1ClientPair();
    // Still refused: a CA that is neither in ClientRootCAs nor in any channel's MSPs.
    const rogue = issueClientPair(untrustedTlsCa(), 'User1@org2.example.com');
    const rogueHs = await tlsHandshake(node.orderer.port, {
      ca: ordererTlsCaPem(),
      cert: rogue.certPem,
      key: rogue.keyPem,
    });
    assert.equal(rogueHs.accepted, false, 'a CA of no channel org is refused');

    const hs = await tlsHandshake(node.orderer.port, {
      ca: ordererTlsCaPem(),
      cert: org2.certPem,
      key: org2.keyPem,
    });
    // Fabric v2.5 (orderer/common/server/main.go tlsCallback -> caManager.updateTrustedRoots) adds
    // every channel's org TLS root and intermediate certificates to the trusted client roots of a
    // mutual-TLS listener, on start and on every config block.
    assert.equal(hs.accepted, true, `Org2's TLS client certificate is refused: ${hs.error ?? ''}`);
    const client = tlsAtomicBroadcastClient(node.address, { caPem: ordererTlsCaPem(), ...org2 });
    try {
      const result = await deliver(client, seekEnvelope(0, 0, certDerHash(org2.certPem)));
      assert.equal(result.status, SUCCESS);
    } finally {
      client.close();
    }

    // The channel was joined after start-up, so trust followed the join; it follows a removal too.
    await node.orderer.registrar.removeChannel(CHANNEL);
    const afterRemoval = await tlsHandshake(node.orderer.port, {
      ca: ordererTlsCaPem(),
      cert: org2.certPem,
      key: org2.keyPem,
    });
    assert.equal(afterRemoval.accepted, false, 'with its channel gone, Org2 is trusted no more');
    const user1 = user1ClientPair();
    const org1 = await tlsHandshake(node.orderer.port, {
      ca: ordererTlsCaPem(),
      cert: user1.certPem,
      key: user1.keyPem,
    });
    assert.equal(org1.accepted, true, `ClientRootCAs still admit Org1: ${org1.error ?? ''}`);
  });
});
