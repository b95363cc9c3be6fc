// Blocks an orderer writes have the layout of the golden blocks (written by Fabric's Go orderer) of
// the same kind, field by field: a system-channel ORDERER_TRANSACTION block, the genesis block of a
// channel created through it, a data block and a config block, each next to its golden twin. Every
// block, golden and written, verifies as a peer verifies it. The same assertions run over the
// blocks ours writes and over those Fabric v2.5.12's orderer writes now, from the same requests
// (test/support/both-orderers.ts): an assertion Fabric's own blocks fail is a wrong assertion.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { asBuffer, common, orderer, toNumber } from '../../src/protos/index.js';
import { marshalConfig, readConfigBlock, type ChannelConfigBundle } from '../../src/channelconfig/index.js';
import { verifyBlock } from '../../src/protoutil/index.js';
import { channelResources } from '../../src/server/orderer.js';
import {
  FIXTURES,
  HeaderType,
  atomicBroadcastClient,
  broadcastAll,
  loadIdentity,
  seekInfo,
  signChannelCreateTx,
  signedEnvelope,
  deliverOnce,
} from '../support/fabric-clients.js';
import { configUpdateEnvelope } from '../support/config-update.js';
import { goldenBlocks } from '../support/ledger.js';
import {
  ORDERER_KINDS,
  skipWithout,
  startOrdererUnderTest,
  untilDelivers,
  type OrdererUnderTest,
} from '../support/both-orderers.js';

const CHANNEL = 'mychannel';
const SYSTEM = 'system-channel';
const org1Admin = loadIdentity('org1Admin');
const org1User = loadIdentity('org1User');
const ordererAdmin = loadIdentity('ordererAdmin');
const orderer0 = loadIdentity('orderer0');

/** Field numbers of a protobuf message in wire order (the layout, independent of values). */
function wireFields(bytes: Uint8Array): number[] {
  const fields: number[] = [];
  let pos = 0;
  const varint = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[pos++]!;
      result += (byte & 0x7f) * 2 ** shift;
      if (!(byte & 0x80)) return result;
      shift += 7;
    }
  };
  while (pos < bytes.length) {
    const tag = varint();
    fields.push(Math.floor(tag / 8));
    const wireType = tag & 7;
    if (wireType === 0) varint();
    else if (wireType === 2) {
      const length = varint();
      pos += length;
    } else throw new Error(`unexpected wire type ${wireType}`);
  }
  return fields;
}

/** The layout of an envelope the orderer made and signed itself. */
function ordererEnvelopeLayout(envelopeBytes: Uint8Array): Record<string, unknown> {
  const envelope = common.Envelope.decode(envelopeBytes);
  const payload = common.Payload.decode(asBuffer(envelope.payload));
  const channelHeaderBytes = asBuffer(payload.header!.channelHeader);
  const signatureHeaderBytes = asBuffer(payload.header!.signatureHeader);
  const channelHeader = common.ChannelHeader.decode(channelHeaderBytes);
  const signatureHeader = common.SignatureHeader.decode(signatureHeaderBytes);
  const layout: Record<string, unknown> = {
    envelopeFields: wireFields(envelopeBytes),
    payloadFields: wireFields(asBuffer(envelope.payload)),
    headerFields: wireFields(common.Header.encode(payload.header!).finish()),
    channelHeaderFields: wireFields(channelHeaderBytes),
    type: channelHeader.type,
    version: channelHeader.version,
    timestampFields: wireFields(common.ChannelHeader.encode({ timestamp: channelHeader.timestamp }).finish()),
    timestampNanos: channelHeader.timestamp?.nanos ?? 0,
    channelId: channelHeader.channelId,
    txId: channelHeader.txId,
    epoch: toNumber(channelHeader.epoch),
    extension: asBuffer(channelHeader.extension).length,
    tlsCertHash: asBuffer(channelHeader.tlsCertHash).length,
    signatureHeaderFields: wireFields(signatureHeaderBytes),
    creator: asBuffer(signatureHeader.creator).toString('hex'),
    nonceLength: signatureHeader.nonce.length,
    signatureIsDerEcdsa: envelope.signature.length > 0 && envelope.signature[0] === 0x30,
  };
  if (channelHeader.type === HeaderType.ORDERER_TRANSACTION) {
    layout.inner = ordererEnvelopeLayout(asBuffer(payload.data));
  } else if (channelHeader.type === HeaderType.CONFIG) {
    const configEnvelope = common.ConfigEnvelope.decode(asBuffer(payload.data));
    layout.configEnvelopeFields = wireFields(asBuffer(payload.data));
    layout.lastUpdateType = common.ChannelHeader.decode(
      asBuffer(common.Payload.decode(asBuffer(configEnvelope.lastUpdate!.payload)).header!.channelHeader),
    ).type;
  }
  return layout;
}

/** Everything about a block's layout that does not depend on time, randomness or client payloads. */
function blockLayout(blockBytes: Uint8Array, ordererMadeData: boolean): Record<string, unknown> {
  const block = common.Block.decode(blockBytes);
  const metadata = block.metadata!.metadata!.map((slot) => asBuffer(slot));
  const layout: Record<string, unknown> = {
    blockFields: wireFields(blockBytes),
    headerFields: wireFields(common.BlockHeader.encode(block.header!).finish()),
    number: toNumber(block.header!.number),
    previousHashLength: asBuffer(block.header!.previousHash).length,
    dataHashLength: asBuffer(block.header!.dataHash).length,
    dataCount: block.data!.data!.length,
    metadataSlots: metadata.length,
    emptySlots: metadata.flatMap((slot, i) => (slot.length === 0 ? [i] : [])),
    lastConfigSlot: metadata[1]!.toString('hex'),
  };
  if (metadata[0]!.length > 0) {
    const signatures = common.Metadata.decode(metadata[0]!);
    layout.signaturesMetadataFields = wireFields(metadata[0]!);
    layout.ordererBlockMetadata = asBuffer(signatures.value).toString('hex');
    layout.ordererBlockMetadataLastConfig = toNumber(
      common.OrdererBlockMetadata.decode(asBuffer(signatures.value)).lastConfig?.index,
    );
    layout.signatures = signatures.signatures.map((s) => {
      const header = common.SignatureHeader.decode(asBuffer(s.signatureHeader));
      return {
        fields: wireFields(common.MetadataSignature.encode(s).finish()),
        signatureHeaderFields: wireFields(asBuffer(s.signatureHeader)),
        creator: asBuffer(header.creator).toString('hex'),
        nonceLength: header.nonce.length,
        signatureIsDerEcdsa: asBuffer(s.signature)[0] === 0x30,
      };
    });
  }
  if (ordererMadeData) layout.envelopes = block.data!.data!.map((d) => ordererEnvelopeLayout(d));
  return layout;
}

/** The config a block's (possibly ORDERER_TRANSACTION-wrapped) CONFIG envelope carries. */
function configOf(blockBytes: Uint8Array): common.IConfig {
  const block = common.Block.decode(blockBytes);
  const envelope = common.Envelope.decode(block.data!.data![0]!);
  let payload = common.Payload.decode(asBuffer(envelope.payload));
  const type = common.ChannelHeader.decode(asBuffer(payload.header!.channelHeader)).type;
  if (type === HeaderType.ORDERER_TRANSACTION) {
    payload = common.Payload.decode(asBuffer(common.Envelope.decode(asBuffer(payload.data)).payload));
  }
  return common.ConfigEnvelope.decode(asBuffer(payload.data)).config!;
}

async function verifyChain(blocks: Buffer[], channelId: string): Promise<void> {
  const resources = channelResources();
  let bundle: ChannelConfigBundle | undefined;
  for (let i = 0; i < blocks.length; i++) {
    const block = common.Block.decode(blocks[i]!);
    if (i === 0) {
      await verifyBlock(block);
    } else {
      await verifyBlock(block, {
        previous: common.Block.decode(blocks[i - 1]!),
        policyManager: bundle!.policyManager,
      });
    }
    // The config a block is verified with is the one in force before it; a config block changes it after.
    const type = common.ChannelHeader.decode(
      asBuffer(
        common.Payload.decode(asBuffer(common.Envelope.decode(block.data!.data![0]!).payload)).header!
          .channelHeader,
      ),
    ).type;
    if (type === HeaderType.CONFIG)
      bundle = resources.createBundle(channelId, readConfigBlock(block).configEnvelope.config!);
  }
}

for (const kind of ORDERER_KINDS)
  describe(`block layout: blocks written by the orderer next to the Go orderer golden blocks (${kind})`, () => {
    // On each test rather than the suite: Node 20 counts the tests of a skipped suite nowhere.
    const skip = skipWithout(kind);
    let node: OrdererUnderTest;
    let client: ReturnType<typeof atomicBroadcastClient>;
    let goldenSystem: Buffer[];
    let goldenChannel: Buffer[];
    let writtenSystem: Buffer[];
    let writtenChannel: Buffer[];

    async function blocks(channelId: string, start: number, stop: number): Promise<Buffer[]> {
      const seek = { type: HeaderType.DELIVER_SEEK_INFO, channelId, data: seekInfo(start, stop) };
      const reader = channelId === SYSTEM ? orderer0 : org1User;
      const result = await deliverOnce(client, signedEnvelope(reader, seek));
      assert.equal(result.status, 200, `deliver ${channelId} ${start}..${stop} ended with ${result.status}`);
      return result.blocks;
    }

    before(async () => {
      if (skip) return;
      goldenSystem = await goldenBlocks(SYSTEM);
      goldenChannel = await goldenBlocks(CHANNEL);
      node = await startOrdererUnderTest(kind);
      client = atomicBroadcastClient(node.address);

      // What the golden ledger went through: create mychannel, 25 transactions, BatchSize 500 -> 10.
      const createTx = readFileSync(join(FIXTURES, 'blocks/mychannel-create.tx'));
      assert.deepEqual(await broadcastAll(client, [signChannelCreateTx(createTx, [org1Admin])]), [
        { status: 200, info: '' },
      ]);
      writtenSystem = await blocks(SYSTEM, 0, 1);
      // Block 1 of the system channel is durable before the channel exists; wait for the channel.
      await untilDelivers(node, CHANNEL);

      const txs = Array.from({ length: 25 }, (_, i) =>
        signedEnvelope(org1User, { channelId: CHANNEL, txId: `layout-${i}` }),
      );
      for (const r of await broadcastAll(client, txs)) assert.deepEqual(r, { status: 200, info: '' });
      await blocks(CHANNEL, 1, 1);

      const update: common.IConfigUpdate = {
        channelId: CHANNEL,
        readSet: { groups: { Orderer: {} } },
        writeSet: {
          groups: {
            Orderer: {
              values: {
                BatchSize: {
                  version: 1,
                  modPolicy: 'Admins',
                  value: orderer.BatchSize.encode({
                    maxMessageCount: 10,
                    absoluteMaxBytes: 10 * 1024 * 1024,
                    preferredMaxBytes: 2 * 1024 * 1024,
                  }).finish(),
                },
              },
            },
          },
        },
      };
      assert.deepEqual(await broadcastAll(client, [configUpdateEnvelope(CHANNEL, update, [ordererAdmin])]), [
        { status: 200, info: '' },
      ]);
      writtenChannel = await blocks(CHANNEL, 0, 2);
    });

    after(async () => {
      client?.close();
      await node?.stop();
    });

    it('signs with the identity bytes of the golden blocks (orderer0 serialized)', { skip }, () => {
      const golden = blockLayout(goldenChannel[1]!, false) as { signatures: { creator: string }[] };
      const written = blockLayout(writtenChannel[1]!, false) as { signatures: { creator: string }[] };
      assert.equal(golden.signatures[0]!.creator, orderer0.serialized.toString('hex'));
      assert.equal(written.signatures[0]!.creator, golden.signatures[0]!.creator);
    });

    it('system channel block 1 (ORDERER_TRANSACTION) has the golden layout', { skip }, () => {
      assert.deepEqual(blockLayout(writtenSystem[1]!, true), blockLayout(goldenSystem[1]!, true));
      assert.deepEqual(marshalConfig(configOf(writtenSystem[1]!)), marshalConfig(configOf(goldenSystem[1]!)));
    });

    it(
      'channel block 0 created through the system channel has the golden layout and config',
      { skip },
      () => {
        const written = blockLayout(writtenChannel[0]!, true);
        assert.deepEqual(written, blockLayout(goldenChannel[0]!, true));
        assert.deepEqual(written.emptySlots, [0, 1, 2, 3, 4], 'a created channel genesis block is unsigned');
        assert.deepEqual(
          marshalConfig(configOf(writtenChannel[0]!)),
          marshalConfig(configOf(goldenChannel[0]!)),
        );
        // The genesis block carries the very CONFIG envelope the ORDERER_TRANSACTION wrapped.
        const wrapped = common.Payload.decode(
          asBuffer(common.Envelope.decode(common.Block.decode(writtenSystem[1]!).data!.data![0]!).payload),
        ).data;
        assert.deepEqual(
          asBuffer(common.Block.decode(writtenChannel[0]!).data!.data![0]!),
          asBuffer(wrapped),
        );
      },
    );

    it(
      'a data block has the golden layout (SIGNATURES with last_config 0, empty LAST_CONFIG slot)',
      { skip },
      () => {
        const written = blockLayout(writtenChannel[1]!, false);
        assert.deepEqual(written, blockLayout(goldenChannel[1]!, false));
        assert.deepEqual(written.emptySlots, [1, 2, 3, 4]);
        assert.equal(written.ordererBlockMetadata, '0a00');
      },
    );

    it(
      'a config block has the golden layout (LAST_CONFIG = its own number) and the golden config',
      { skip },
      () => {
        const written = blockLayout(writtenChannel[2]!, true);
        assert.deepEqual(written, blockLayout(goldenChannel[2]!, true));
        assert.equal(written.lastConfigSlot, '0a020802');
        assert.equal(written.ordererBlockMetadataLastConfig, 2);
        assert.deepEqual(
          marshalConfig(configOf(writtenChannel[2]!)),
          marshalConfig(configOf(goldenChannel[2]!)),
        );
      },
    );

    it('data blocks after a config block carry its number, as golden block 3 does', { skip }, async () => {
      const txs = Array.from({ length: 10 }, (_, i) =>
        signedEnvelope(org1User, { channelId: CHANNEL, txId: `after-${i}` }),
      );
      for (const r of await broadcastAll(client, txs)) assert.deepEqual(r, { status: 200, info: '' });
      const [block3] = await blocks(CHANNEL, 3, 3);
      assert.deepEqual(blockLayout(block3!, false), blockLayout(goldenChannel[3]!, false));
      writtenChannel.push(block3!);
    });

    it('every golden block and every block written verifies as a peer verifies it', { skip }, async () => {
      await verifyChain(goldenSystem, SYSTEM);
      await verifyChain(goldenChannel, CHANNEL);
      await verifyChain(writtenSystem, SYSTEM);
      await verifyChain(writtenChannel, CHANNEL);
    });
  });
