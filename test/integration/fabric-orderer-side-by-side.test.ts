// Fabric v2.5.12's own Go orderer and ours side by side: both booted from the fixtures' solo system
// channel with Fabric's sample orderer.yaml and the same ORDERER_* overrides, sent the same
// Broadcast and Deliver requests by the same Hyperledger client, must answer with the same
// statuses, order the same envelope into the same block, and create the same channel config.
// Needs Fabric's orderer ($FABRIC_BIN, else ../shared/fabric-bin): skipped without it, failed
// without it under CI.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  HeaderType,
  atomicBroadcastClient,
  broadcastAll,
  deliver,
  loadIdentity,
  seekInfo,
  signedEnvelope,
  toHighS,
} from '../support/fabric-clients.js';
import { skipWithout, startOrdererUnderTest, type OrdererUnderTest } from '../support/both-orderers.js';
import { channelCreateTx } from '../support/kafka-processes.js';
import { common, asBuffer } from '../../src/protos/index.js';

// On each test rather than the suite: Node 20 counts the tests of a skipped suite nowhere.
const skip = skipWithout('go');

const CHANNEL = 'sidebyside';
const org1User = loadIdentity('org1User');

type Client = ReturnType<typeof atomicBroadcastClient>;

describe("Fabric's Go orderer and ours answer the same", () => {
  let go: OrdererUnderTest | undefined;
  let ours: OrdererUnderTest | undefined;
  let clients: { go: Client; ours: Client };

  before(async () => {
    if (skip) return;
    [go, ours] = await Promise.all([startOrdererUnderTest('go'), startOrdererUnderTest('ours')]);
    clients = { go: atomicBroadcastClient(go.address), ours: atomicBroadcastClient(ours.address) };
  });

  after(async () => {
    clients?.go.close();
    clients?.ours.close();
    await Promise.all([ours?.stop(), go?.stop()]);
  });

  /** Sends each envelope on its own Broadcast stream to both orderers; the statuses by request name. */
  async function broadcastBoth(requests: Record<string, Buffer>) {
    const statuses = { go: {} as Record<string, number>, ours: {} as Record<string, number> };
    for (const [name, envelope] of Object.entries(requests)) {
      for (const side of ['go', 'ours'] as const) {
        const [response] = await broadcastAll(clients[side], [envelope]);
        statuses[side][name] = response?.status ?? -1;
      }
    }
    return statuses;
  }

  function seek(start: number | 'oldest' | 'newest', stop: number | 'newest', behavior: 'block' | 'fail') {
    return signedEnvelope(org1User, {
      type: HeaderType.DELIVER_SEEK_INFO,
      channelId: CHANNEL,
      data: seekInfo(start, stop, behavior),
    });
  }

  it('creates a channel from the same signed creation transaction', { skip }, async () => {
    const statuses = await broadcastBoth({ create: channelCreateTx(CHANNEL) });
    assert.deepEqual(statuses.ours, statuses.go);
    assert.equal(statuses.go.create, 200, "Fabric's orderer refused the creation");
    // SUCCESS means queued, on both; the channel exists once the system channel's block 1 (the
    // creation) is out, as `peer channel create` waits for it. Readers there: the orderer org.
    const systemBlock1 = signedEnvelope(loadIdentity('ordererAdmin'), {
      type: HeaderType.DELIVER_SEEK_INFO,
      channelId: 'system-channel',
      data: seekInfo(1, 1, 'block'),
    });
    for (const side of ['go', 'ours'] as const) {
      const result = await deliver(clients[side], systemBlock1, { timeoutMs: 30_000 });
      assert.equal(result.blocks.length, 1, `${side}: system channel block 1 (${result.error?.message})`);
    }
  });

  it('Broadcast: the same status for good and bad envelopes', { skip }, async () => {
    const good = signedEnvelope(org1User, { channelId: CHANNEL, txId: 'side-by-side-tx-1' });
    const statuses = await broadcastBoth({
      good,
      'unknown channel': signedEnvelope(org1User, { channelId: 'nosuchchannel' }),
      'garbage signature': signedEnvelope(org1User, {
        channelId: CHANNEL,
        signature: (s) => Buffer.from(s.map((b) => b ^ 0xff)),
      }),
      'high-S signature': signedEnvelope(org1User, { channelId: CHANNEL, signature: toHighS }),
      'not a writer of the system channel': signedEnvelope(org1User, { channelId: 'system-channel' }),
      'empty payload': Buffer.from(common.Envelope.encode({ signature: Buffer.alloc(8, 1) }).finish()),
      'channel created twice': channelCreateTx(CHANNEL),
    });
    assert.deepEqual(statuses.ours, statuses.go);
    // What Fabric answers, so that the comparison cannot pass on two equally wrong answers.
    assert.deepEqual(statuses.go, {
      good: 200,
      'unknown channel': 404,
      'garbage signature': 403,
      'high-S signature': 403,
      'not a writer of the system channel': 403,
      'empty payload': 400,
      'channel created twice': 400,
    });
  });

  it('Deliver: the same blocks for the channel and the same envelope in block 1', { skip }, async () => {
    // Block 1 holds the good envelope, cut by the sample config's 2 s BatchTimeout on both.
    const results = {
      go: await deliver(clients.go, seek(0, 1, 'block'), { timeoutMs: 30_000 }),
      ours: await deliver(clients.ours, seek(0, 1, 'block'), { timeoutMs: 30_000 }),
    };
    for (const side of ['go', 'ours'] as const) {
      assert.equal(results[side].error, undefined, `${side}: ${results[side].error?.message}`);
      assert.equal(results[side].status, 200, side);
      assert.equal(results[side].blocks.length, 2, side);
    }
    const [goGenesis, goBlock1] = results.go.blocks.map((b) => common.Block.decode(b.serializeBinary()));
    const [ourGenesis, ourBlock1] = results.ours.blocks.map((b) => common.Block.decode(b.serializeBinary()));
    // The same envelopes, bytes as received, so the same data hash.
    assert.deepEqual(ourBlock1!.data!.data!.map(asBuffer), goBlock1!.data!.data!.map(asBuffer));
    assert.deepEqual(asBuffer(ourBlock1!.header!.dataHash), asBuffer(goBlock1!.header!.dataHash));
    // The channel's genesis config: the same tree, versions and mod policies, values and policies.
    const tree = configTree(goGenesis!) as { channel: { groups: Record<string, { groups: object }> } };
    assert.deepEqual(Object.keys(tree.channel.groups.Application!.groups), ['Org1MSP', 'Org2MSP']);
    assert.deepEqual(configTree(ourGenesis!), tree);
  });

  it('Deliver: the same status for requests that cannot be served', { skip }, async () => {
    const requests: Record<string, Buffer> = {
      'a block not yet there, fail if not ready': seek(50, 50, 'fail'),
      'start after stop': seek(1, 0, 'fail'),
      'unknown channel': signedEnvelope(org1User, {
        type: HeaderType.DELIVER_SEEK_INFO,
        channelId: 'nosuchchannel',
        data: seekInfo('oldest', 'newest', 'fail'),
      }),
      'garbage signature': signedEnvelope(org1User, {
        type: HeaderType.DELIVER_SEEK_INFO,
        channelId: CHANNEL,
        data: seekInfo('oldest', 'newest', 'fail'),
        signature: (s) => Buffer.from(s.map((b) => b ^ 0xff)),
      }),
      'not a seek info': signedEnvelope(org1User, {
        type: HeaderType.DELIVER_SEEK_INFO,
        channelId: CHANNEL,
        data: Buffer.from([0xff, 0xff, 0xff]),
      }),
    };
    const statuses = { go: {} as Record<string, unknown>, ours: {} as Record<string, unknown> };
    for (const [name, envelope] of Object.entries(requests)) {
      for (const side of ['go', 'ours'] as const) {
        const result = await deliver(clients[side], envelope, { timeoutMs: 15_000 });
        statuses[side][name] = result.error ? `gRPC ${result.error.code}` : result.status;
      }
    }
    assert.deepEqual(statuses.ours, statuses.go);
    assert.deepEqual(statuses.go, {
      'a block not yet there, fail if not ready': 404,
      'start after stop': 400,
      'unknown channel': 404,
      'garbage signature': 403,
      'not a seek info': 400,
    });
  });
});

/** The channel config of a config block as a comparable tree (maps decoded, so Go's order is gone). */
function configTree(block: common.Block): unknown {
  const envelope = common.Envelope.decode(asBuffer(block.data!.data![0]!));
  const payload = common.Payload.decode(asBuffer(envelope.payload));
  const configEnvelope = common.ConfigEnvelope.decode(asBuffer(payload.data));
  const group = (g: common.IConfigGroup): unknown => ({
    version: String(g.version ?? 0),
    modPolicy: g.modPolicy ?? '',
    values: Object.fromEntries(
      Object.entries(g.values ?? {})
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [
          k,
          { version: String(v.version ?? 0), modPolicy: v.modPolicy, value: valueOf(k, v) },
        ]),
    ),
    policies: Object.fromEntries(
      Object.entries(g.policies ?? {})
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, p]) => [
          k,
          {
            version: String(p.version ?? 0),
            modPolicy: p.modPolicy,
            type: p.policy?.type,
            value: asBuffer(p.policy?.value).toString('hex'),
          },
        ]),
    ),
    groups: Object.fromEntries(
      Object.entries(g.groups ?? {})
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, sub]) => [k, group(sub)]),
    ),
  });
  return {
    sequence: String(configEnvelope.config!.sequence ?? 0),
    channel: group(configEnvelope.config!.channelGroup!),
  };
}

/** A value's bytes, decoded where they hold a map (Capabilities), whose order Go does not fix. */
function valueOf(key: string, value: common.IConfigValue): unknown {
  if (key === 'Capabilities') {
    return Object.keys(common.Capabilities.decode(asBuffer(value.value)).capabilities ?? {}).sort();
  }
  return asBuffer(value.value).toString('hex');
}
