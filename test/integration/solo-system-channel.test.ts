// A single-node orderer driven by clients this project did not write: boot from Fabric's system
// channel genesis block, create mychannel with `peer channel create`'s signed transaction, send
// transactions with fabric-common's Committer, and read blocks back with Hyperledger's generated
// Deliver client. Every block must verify as a peer verifies it.
import type * as FabricCommon from 'fabric-common';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { common as hlCommon } from '@hyperledger/fabric-protos';
import { common } from '../../src/protos/index.js';
import { verifyBlock } from '../../src/protoutil/index.js';
import { channelResources } from '../../src/server/orderer.js';
import { readConfigBlock } from '../../src/channelconfig/index.js';
import {
  FIXTURES,
  HeaderType,
  atomicBroadcastClient,
  broadcastAll,
  deliver,
  loadIdentity,
  seekInfo,
  signChannelCreateTx,
  signedEnvelope,
} from '../support/fabric-clients.js';
import { startTestOrderer, type TestOrderer } from '../support/orderer.js';

const require = createRequire(import.meta.url);

const { Client } = require('fabric-common') as typeof FabricCommon;

const org1Admin = loadIdentity('org1Admin');
const org1User = loadIdentity('org1User');

async function deliverUntil(
  client: ReturnType<typeof atomicBroadcastClient>,
  channelId: string,
  start: number | 'oldest',
  stop: number,
) {
  // The channel appears once its creation block is committed: retry NOT_FOUND briefly.
  for (let attempt = 0; attempt < 50; attempt++) {
    const result = await deliver(
      client,
      signedEnvelope(org1User, {
        type: HeaderType.DELIVER_SEEK_INFO,
        channelId,
        data: seekInfo(start, stop),
      }),
    );
    if (result.status !== 404) return result;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`channel ${channelId} never appeared`);
}

describe('solo orderer with a system channel, driven by Fabric clients', () => {
  let node: TestOrderer;
  let client: ReturnType<typeof atomicBroadcastClient>;

  before(async () => {
    node = await startTestOrderer();
    client = atomicBroadcastClient(node.address);
  });

  after(async () => {
    client?.close();
    await node?.destroy();
  });

  it('creates mychannel, orders transactions from the Node SDK, and delivers verifiable blocks', async () => {
    const createTx = readFileSync(join(FIXTURES, 'blocks/mychannel-create.tx'));
    const [created] = await broadcastAll(client, [signChannelCreateTx(createTx, [org1Admin])]);
    assert.deepEqual(created, { status: 200, info: '' });

    const genesis = await deliverUntil(client, 'mychannel', 0, 0);
    assert.equal(genesis.status, 200);
    assert.equal(genesis.blocks.length, 1);

    // fabric-common's Committer: one Broadcast stream per envelope, as the Node SDK sends them.
    const sdk = Client.newClient('it');
    const endpoint = sdk.newEndpoint({ url: `grpc://${node.address}`, requestTimeout: 10000 });
    const committer = sdk.newCommitter('orderer0', 'OrdererMSP');
    await committer.connect(endpoint);
    const txIds: string[] = [];
    const envelopes = Array.from({ length: 25 }, (_, i) => {
      const txId = `tx-${i}-${Date.now()}`;
      txIds.push(txId);
      return signedEnvelope(org1User, { channelId: 'mychannel', txId });
    });
    // The SDK hands its Committer an Envelope message ({signature, payload}), as Channel/Commit do.
    const responses = await Promise.all(
      envelopes.map((bytes) => {
        const env = hlCommon.Envelope.deserializeBinary(bytes);
        const message = { signature: env.getSignature_asU8(), payload: env.getPayload_asU8() };
        // fabric-common declares the parameter as bytes but encodes it as a common.Envelope message.
        return committer.sendBroadcast(message as unknown as Buffer, 10000);
      }),
    );
    committer.disconnect();
    for (const r of responses) assert.equal((r as { status: string }).status, 'SUCCESS', JSON.stringify(r));

    // Read everything back: the 25 transactions arrive (cut by the 2 s BatchTimeout).
    const received = new Set<string>();
    let height = 1;
    while (received.size < txIds.length) {
      const more = await deliverUntil(client, 'mychannel', height, height);
      assert.equal(more.status, 200);
      for (const block of more.blocks) {
        for (const data of block.getData()!.getDataList_asU8()) {
          const env = common.Envelope.decode(data);
          const chdr = common.ChannelHeader.decode(common.Payload.decode(env.payload).header!.channelHeader!);
          received.add(chdr.txId);
        }
      }
      height++;
    }
    assert.deepEqual([...received].sort(), [...txIds].sort());

    // Every block verifies as a peer verifies it: chain, data hash, BlockValidation signature.
    const all = await deliverUntil(client, 'mychannel', 'oldest', height - 1);
    const decoded = all.blockBytes.map((b) => common.Block.decode(b));
    const bundle = channelResources().createBundle(
      'mychannel',
      readConfigBlock(decoded[0]!).configEnvelope.config!,
    );
    for (let i = 1; i < decoded.length; i++) {
      await verifyBlock(decoded[i]!, { previous: decoded[i - 1]!, policyManager: bundle.policyManager });
    }
    await verifyBlock(decoded[0]!);
  });
});
