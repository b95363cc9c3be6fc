// Reading the channel config out of a config block: Block.data.data[0] -> Envelope -> Payload
// (channel header type CONFIG) -> ConfigEnvelope.
import { badRequest, errorMessage } from '../errors.js';
import { common } from '../protos/index.js';

export interface ConfigBlockContents {
  readonly channelId: string;
  readonly envelope: common.Envelope;
  readonly payload: common.Payload;
  readonly channelHeader: common.ChannelHeader;
  readonly configEnvelope: common.ConfigEnvelope;
}

interface FirstEnvelope {
  envelope: common.Envelope;
  payload: common.Payload;
  channelHeader: common.ChannelHeader;
}

function blockLabel(block: common.IBlock): string {
  const number = block.header?.number;
  return number === undefined || number === null ? 'block' : `block ${number}`;
}

function readFirstEnvelope(block: common.IBlock): FirstEnvelope {
  const label = blockLabel(block);
  const first = block.data?.data?.[0];
  if (!first) throw badRequest(`${label} has no data: a config block holds exactly one envelope`);
  let envelope: common.Envelope;
  let payload: common.Payload;
  try {
    envelope = common.Envelope.decode(first);
    payload = common.Payload.decode(envelope.payload ?? new Uint8Array());
  } catch (err) {
    throw badRequest(`${label}: data[0] is not an Envelope with a Payload: ${errorMessage(err)}`);
  }
  if (!payload.header?.channelHeader) throw badRequest(`${label}: data[0] payload has no channel header`);
  let channelHeader: common.ChannelHeader;
  try {
    channelHeader = common.ChannelHeader.decode(payload.header.channelHeader);
  } catch (err) {
    throw badRequest(`${label}: data[0] channel header does not decode: ${errorMessage(err)}`);
  }
  return { envelope, payload, channelHeader };
}

/** Everything on the way to the ConfigEnvelope of a config block; throws bad-request saying which step failed. */
export function readConfigBlock(block: common.IBlock): ConfigBlockContents {
  const { envelope, payload, channelHeader } = readFirstEnvelope(block);
  const label = blockLabel(block);
  if (channelHeader.type !== common.HeaderType.CONFIG) {
    throw badRequest(
      `${label} is not a config block: its first envelope has header type ${channelHeader.type}, expected CONFIG (1)`,
    );
  }
  if ((block.data?.data?.length ?? 0) !== 1) {
    throw badRequest(
      `${label} is not a valid config block: it holds ${block.data?.data?.length} envelopes, expected 1`,
    );
  }
  let configEnvelope: common.ConfigEnvelope;
  try {
    configEnvelope = common.ConfigEnvelope.decode(payload.data ?? new Uint8Array());
  } catch (err) {
    throw badRequest(`${label}: payload data is not a ConfigEnvelope: ${errorMessage(err)}`);
  }
  if (!configEnvelope.config?.channelGroup) {
    throw badRequest(`${label}: the ConfigEnvelope holds no config (or a config without channel group)`);
  }
  return { channelId: channelHeader.channelId, envelope, payload, channelHeader, configEnvelope };
}

export function configEnvelopeFromBlock(block: common.IBlock): common.ConfigEnvelope {
  return readConfigBlock(block).configEnvelope;
}

/** The channel ID in the channel header of the block's first envelope. */
export function channelIdOfBlock(block: common.IBlock): string {
  return readFirstEnvelope(block).channelHeader.channelId;
}

/** The header type of the block's first envelope, or undefined when it cannot be read. */
export function headerTypeOfBlock(block: common.IBlock): number | undefined {
  try {
    return readFirstEnvelope(block).channelHeader.type;
  } catch {
    return undefined;
  }
}

/**
 * True when the block's first envelope is of type CONFIG. Unlike Fabric's protoutil.IsConfigBlock
 * this does not count ORDERER_TRANSACTION (system channel) blocks; use headerTypeOfBlock for those.
 */
export function isConfigBlock(block: common.IBlock): boolean {
  return headerTypeOfBlock(block) === common.HeaderType.CONFIG;
}
