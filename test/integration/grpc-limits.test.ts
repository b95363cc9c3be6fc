// General.MaxRecvMsgSize and General.MaxSendMsgSize over real gRPC: a Broadcast message above the
// receive limit is refused by gRPC (RESOURCE_EXHAUSTED, spec §1.5) and a block above the send
// limit is not sent, while other streams keep being served.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { common as hlCommon, type orderer as hlOrderer } from '@hyperledger/fabric-protos';
import {
  HeaderType,
  atomicBroadcastClient,
  broadcastAll,
  deliver,
  loadIdentity,
  seekInfo,
  signedEnvelope,
} from '../support/fabric-clients.js';
import { startTestOrderer, type TestOrderer } from '../support/orderer.js';
import { channelGenesisBlock } from '../support/orderer-process.js';

const CHANNEL = 'limits';
const MAX_RECV = 64 * 1024;
const MAX_SEND = 48 * 1024;
const org1User = loadIdentity('org1User');

/** The status of a Broadcast stream that sent one envelope: a response status, or the gRPC error code. */
function broadcastOne(
  client: ReturnType<typeof atomicBroadcastClient>,
  envelope: Buffer,
): Promise<{ status?: number; grpcCode?: number; details?: string }> {
  return new Promise((resolve) => {
    const stream = client.broadcast();
    stream.on('data', (r: hlOrderer.BroadcastResponse) => {
      resolve({ status: r.getStatus() });
      stream.end();
    });
    stream.on('error', (err: grpc.ServiceError) => resolve({ grpcCode: err.code, details: err.details }));
    stream.write(hlCommon.Envelope.deserializeBinary(envelope));
  });
}

function seek(start: number, stop: number): Buffer {
  return signedEnvelope(org1User, {
    type: HeaderType.DELIVER_SEEK_INFO,
    channelId: CHANNEL,
    data: seekInfo(start, stop),
  });
}

describe('gRPC message size limits (General.MaxRecvMsgSize, General.MaxSendMsgSize)', () => {
  let node: TestOrderer;
  let client: ReturnType<typeof atomicBroadcastClient>;

  before(async () => {
    node = await startTestOrderer({
      env: {
        ORDERER_GENERAL_BOOTSTRAPMETHOD: 'none',
        ORDERER_GENERAL_MAXRECVMSGSIZE: String(MAX_RECV),
        ORDERER_GENERAL_MAXSENDMSGSIZE: String(MAX_SEND),
      },
    });
    // One envelope a block, so block sizes follow envelope sizes.
    await node.orderer.registrar.joinChannel(
      channelGenesisBlock(CHANNEL, { maxMessageCount: 1, batchTimeout: '1h' }),
    );
    client = atomicBroadcastClient(node.address);
  });

  after(async () => {
    client?.close();
    await node?.destroy();
  });

  it('refuses a Broadcast message above MaxRecvMsgSize with RESOURCE_EXHAUSTED, then serves the next stream', async () => {
    const big = signedEnvelope(org1User, { channelId: CHANNEL, data: Buffer.alloc(MAX_RECV + 1024, 7) });
    const refused = await broadcastOne(client, big);
    assert.equal(refused.grpcCode, grpc.status.RESOURCE_EXHAUSTED, JSON.stringify(refused));
    assert.equal(node.orderer.registrar.channelInfo(CHANNEL)!.height, 1, 'nothing was ordered');

    const small = signedEnvelope(org1User, { channelId: CHANNEL, data: Buffer.alloc(1000, 1) });
    assert.deepEqual(
      (await broadcastAll(client, [small])).map((r) => r.status),
      [200],
    );
  });

  it('does not send a block above MaxSendMsgSize; smaller blocks of the channel still go out', async () => {
    // ~52 KB envelope: under the receive limit, but its block is above the send limit.
    const wide = signedEnvelope(org1User, { channelId: CHANNEL, data: Buffer.alloc(MAX_SEND + 4096, 3) });
    assert.deepEqual(
      (await broadcastAll(client, [wide])).map((r) => r.status),
      [200],
    );
    const deadline = Date.now() + 10_000;
    while (node.orderer.registrar.channelInfo(CHANNEL)!.height < 3) {
      if (Date.now() > deadline) throw new Error('the wide block was not written');
      await new Promise((r) => setTimeout(r, 10));
    }
    const wideBlock = await deliver(client, seek(2, 2), { timeoutMs: 10_000 });
    assert.equal(wideBlock.blocks.length, 0, 'the oversize block is not delivered');
    assert.equal(wideBlock.error?.code, grpc.status.RESOURCE_EXHAUSTED, String(wideBlock.error));

    const smallBlock = await deliver(client, seek(1, 1));
    assert.equal(smallBlock.status, 200);
    assert.equal(smallBlock.blocks.length, 1);
  });
});
