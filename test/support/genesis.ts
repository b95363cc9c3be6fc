// Genesis blocks for tests made from the fixtures' configtxgen blocks with parts of the config
// edited, re-wrapped as configtxgen writes a genesis block: the same envelope signature and
// signature header, a new data hash, the original metadata unless replaced.
import { asBuffer, common } from '../../src/protos/index.js';
import { marshalConfigEnvelope } from '../../src/channelconfig/index.js';
import { blockDataHash } from '../../src/protoutil/index.js';

export interface GenesisEdits {
  /** Edits the channel header (channel ID, ...); untouched, its bytes are kept as they were. */
  channelHeader?: (channelHeader: common.ChannelHeader) => void;
  config?: (configEnvelope: common.ConfigEnvelope) => void;
  /** The block's metadata entries (marshalled), to replace. */
  metadata?: (entries: Buffer[]) => Buffer[];
}

export function rewriteGenesisBlock(source: Uint8Array, edits: GenesisEdits): Buffer {
  const original = common.Block.decode(source);
  const envelope = common.Envelope.decode(asBuffer(original.data!.data![0]));
  const payload = common.Payload.decode(asBuffer(envelope.payload));
  let channelHeaderBytes = payload.header!.channelHeader;
  if (edits.channelHeader) {
    const channelHeader = common.ChannelHeader.decode(asBuffer(channelHeaderBytes));
    edits.channelHeader(channelHeader);
    channelHeaderBytes = common.ChannelHeader.encode(channelHeader).finish();
  }
  const configEnvelope = common.ConfigEnvelope.decode(asBuffer(payload.data));
  edits.config?.(configEnvelope);
  const newPayload = common.Payload.encode({
    header: { channelHeader: channelHeaderBytes, signatureHeader: payload.header!.signatureHeader },
    data: marshalConfigEnvelope(configEnvelope),
  }).finish();
  const envelopeBytes = common.Envelope.encode({
    payload: newPayload,
    signature: envelope.signature,
  }).finish();
  const entries = (original.metadata?.metadata ?? []).map(asBuffer);
  const block = common.Block.create({
    header: { number: 0, dataHash: blockDataHash([envelopeBytes]) },
    data: { data: [envelopeBytes] },
    metadata: { metadata: edits.metadata ? edits.metadata(entries) : entries },
  });
  return asBuffer(common.Block.encode(block).finish());
}

/** The Orderer group of a config envelope. */
export function ordererGroupOf(configEnvelope: common.IConfigEnvelope): common.IConfigGroup {
  return configEnvelope.config!.channelGroup!.groups!['Orderer']!;
}
