// Replays what the Go orderer did to mychannel after block 1, on a ledger the Go orderer wrote: the
// signed BatchSize update taken from golden block 2 must produce the same config, and the new
// BatchSize must cut the next 25 transactions 10 + 10 + 5, as golden blocks 3-5 are cut. Run on ours
// and on Fabric v2.5.12's orderer (test/support/both-orderers.ts), each started on the same ledger:
// that Go's orderer opens it and continues it as the golden blocks did checks the ledger writer
// (writeGoOrdererLedger) and every assertion here against Fabric itself.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { asBuffer, common, orderer, toNumber } from '../../src/protos/index.js';
import { marshalConfig, readConfigBlock } from '../../src/channelconfig/index.js';
import { BlockMetadataIndex, blockHeaderHash, verifyBlock } from '../../src/protoutil/index.js';
import { channelResources } from '../../src/server/orderer.js';
import {
  HeaderType,
  atomicBroadcastClient,
  broadcastAll,
  loadIdentity,
  seekInfo,
  signedEnvelope,
  deliverOnce,
} from '../support/fabric-clients.js';
import { goldenBlocks, writeGoOrdererLedger } from '../support/ledger.js';
import {
  ORDERER_KINDS,
  skipWithout,
  startOrdererUnderTest,
  type OrdererUnderTest,
} from '../support/both-orderers.js';

const CHANNEL = 'mychannel';
const org1User = loadIdentity('org1User');
const orderer0 = loadIdentity('orderer0');

function payloadOf(envelopeBytes: Uint8Array) {
  const env = common.Envelope.decode(envelopeBytes);
  const payload = common.Payload.decode(asBuffer(env.payload));
  return {
    payload,
    channelHeader: common.ChannelHeader.decode(asBuffer(payload.header!.channelHeader)),
    signatureHeader: common.SignatureHeader.decode(asBuffer(payload.header!.signatureHeader)),
  };
}

function lastConfigSlot(block: common.IBlock): number {
  return toNumber(
    common.LastConfig.decode(common.Metadata.decode(block.metadata!.metadata![1]!).value).index,
  );
}

function signaturesLastConfig(block: common.IBlock): number {
  const metadata = common.Metadata.decode(block.metadata!.metadata![BlockMetadataIndex.SIGNATURES]!);
  return toNumber(common.OrdererBlockMetadata.decode(metadata.value).lastConfig?.index);
}

for (const kind of ORDERER_KINDS)
  describe(`golden replay: BatchSize update and batch cutting on a Go-written ledger (${kind})`, () => {
    // On each test rather than the suite: Node 20 counts the tests of a skipped suite nowhere.
    const skip = skipWithout(kind);
    let node: OrdererUnderTest;
    let client: ReturnType<typeof atomicBroadcastClient>;
    let golden: Buffer[];

    before(async () => {
      if (skip) return;
      golden = await goldenBlocks(CHANNEL);
      const system = await goldenBlocks('system-channel');
      node = await startOrdererUnderTest(kind, {
        ledger: async (ledgerDir) => {
          await writeGoOrdererLedger(ledgerDir, 'system-channel', system);
          await writeGoOrdererLedger(ledgerDir, CHANNEL, golden.slice(0, 2));
        },
      });
      client = atomicBroadcastClient(node.address);
    });

    after(async () => {
      client?.close();
      await node?.stop();
    });

    async function blocks(start: number, stop: number): Promise<common.Block[]> {
      const seek = { type: HeaderType.DELIVER_SEEK_INFO, channelId: CHANNEL, data: seekInfo(start, stop) };
      const result = await deliverOnce(client, signedEnvelope(org1User, seek));
      assert.equal(result.status, 200, `deliver ${start}..${stop} ended with ${result.status}`);
      return result.blocks.map((bytes) => common.Block.decode(bytes));
    }

    it(
      'orders golden block 2 last_update into the same config, then cuts 10 + 10 + 5 with the new BatchSize',
      { skip },
      async () => {
        const goldenBlock2 = common.Block.decode(golden[2]!);
        const goldenConfig = readConfigBlock(goldenBlock2).configEnvelope;
        const update = asBuffer(common.Envelope.encode(goldenConfig.lastUpdate!).finish());
        assert.equal(payloadOf(update).channelHeader.type, HeaderType.CONFIG_UPDATE);

        const [accepted] = await broadcastAll(client, [update]);
        assert.deepEqual(accepted, { status: 200, info: '' });

        const [block2] = await blocks(2, 2);
        assert.ok(block2);
        // The chain continues the Go orderer's blocks.
        assert.deepEqual(
          asBuffer(block2.header!.previousHash),
          blockHeaderHash(common.Block.decode(golden[1]!).header!),
        );

        // Exactly one envelope, a CONFIG signed by orderer0, whose config equals the Go orderer's.
        assert.equal(block2.data!.data!.length, 1);
        const envelope = payloadOf(block2.data!.data![0]!);
        assert.equal(envelope.channelHeader.type, HeaderType.CONFIG);
        assert.equal(envelope.channelHeader.channelId, CHANNEL);
        assert.deepEqual(asBuffer(envelope.signatureHeader.creator), orderer0.serialized);
        const writtenConfig = readConfigBlock(block2).configEnvelope;
        assert.equal(toNumber(writtenConfig.config!.sequence), toNumber(goldenConfig.config!.sequence));
        assert.deepEqual(marshalConfig(writtenConfig.config!), marshalConfig(goldenConfig.config!));
        assert.deepEqual(
          asBuffer(common.Envelope.encode(writtenConfig.lastUpdate!).finish()),
          update,
          'last_update must be the update exactly as sent',
        );
        assert.equal(lastConfigSlot(block2), 2);
        assert.equal(signaturesLastConfig(block2), 2);
        const batchSize = orderer.BatchSize.decode(
          asBuffer(writtenConfig.config!.channelGroup!.groups!.Orderer!.values!.BatchSize!.value),
        );
        assert.equal(batchSize.maxMessageCount, 10);

        // The new BatchSize is in force: 25 envelopes are cut as 10 + 10 (MaxMessageCount) + 5 (BatchTimeout).
        const txIds = Array.from({ length: 25 }, (_, i) => `replay-${i}`);
        const envelopes = txIds.map((txId) => signedEnvelope(org1User, { channelId: CHANNEL, txId }));
        const responses = await broadcastAll(client, envelopes);
        assert.equal(responses.length, 25);
        for (const r of responses) assert.deepEqual(r, { status: 200, info: '' });

        const cut = await blocks(3, 5);
        assert.deepEqual(
          cut.map((b) => b.data!.data!.length),
          [3, 4, 5].map((n) => common.Block.decode(golden[n]!).data!.data!.length),
        );
        assert.deepEqual(
          cut.map((b) => b.data!.data!.length),
          [10, 10, 5],
        );
        assert.deepEqual(
          cut.flatMap((b) => b.data!.data!.map((d) => payloadOf(d).channelHeader.txId)),
          txIds,
        );
        for (const block of cut) {
          assert.equal(lastConfigSlot(block), 2);
          assert.equal(signaturesLastConfig(block), 2);
        }

        // The golden blocks 0-1 and the written 2-5 form one chain a peer accepts.
        const all = await blocks(0, 5);
        assert.deepEqual(asBuffer(common.Block.encode(all[0]!).finish()), golden[0]);
        assert.deepEqual(asBuffer(common.Block.encode(all[1]!).finish()), golden[1]);
        const genesisBundle = channelResources().createBundle(
          CHANNEL,
          readConfigBlock(all[0]!).configEnvelope.config!,
        );
        const currentBundle = channelResources().createBundle(CHANNEL, writtenConfig.config!);
        await verifyBlock(all[0]!);
        for (let i = 1; i < all.length; i++) {
          const policyManager = i <= 2 ? genesisBundle.policyManager : currentBundle.policyManager;
          await verifyBlock(all[i]!, { previous: all[i - 1]!, policyManager });
        }
      },
    );
  });
