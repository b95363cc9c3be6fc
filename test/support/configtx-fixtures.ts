// Fixture access and CONFIG_UPDATE construction for config update tests.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { asBuffer, common } from '../../src/protos/index.js';
import { FIXTURES, type FixtureSigner, signConfigUpdateEnvelope } from './configtx-crypto.js';

export function fixtureBytes(relative: string): Buffer {
  return readFileSync(join(FIXTURES, relative));
}

/** The ConfigEnvelope of a config block (`wrapped`: data[0] is an ORDERER_TRANSACTION around the CONFIG). */
export function configEnvelopeOfBlock(relative: string, wrapped = false): common.ConfigEnvelope {
  const block = common.Block.decode(fixtureBytes(relative));
  let payload = common.Payload.decode(
    asBuffer(common.Envelope.decode(asBuffer(block.data!.data![0])).payload),
  );
  if (wrapped)
    payload = common.Payload.decode(asBuffer(common.Envelope.decode(asBuffer(payload.data)).payload));
  return common.ConfigEnvelope.decode(asBuffer(payload.data));
}

/** The raw bytes of ConfigEnvelope.config.channel_group inside a config block, exactly as the Go orderer wrote them. */
export function rawChannelGroupOfBlock(relative: string, wrapped = false): Buffer {
  const block = common.Block.decode(fixtureBytes(relative));
  let payload = common.Payload.decode(
    asBuffer(common.Envelope.decode(asBuffer(block.data!.data![0])).payload),
  );
  if (wrapped)
    payload = common.Payload.decode(asBuffer(common.Envelope.decode(asBuffer(payload.data)).payload));
  const reader = asBuffer(payload.data);
  // ConfigEnvelope field 1 (config) -> Config field 2 (channel_group); walk the wire format by hand.
  const config = lengthDelimitedField(reader, 1);
  return lengthDelimitedField(config, 2);
}

function readVarint(buf: Buffer, offset: number): [number, number] {
  let result = 0;
  let shift = 0;
  let pos = offset;
  for (;;) {
    const byte = buf[pos++]!;
    result += (byte & 0x7f) * 2 ** shift;
    if (!(byte & 0x80)) return [result, pos];
    shift += 7;
  }
}

function lengthDelimitedField(buf: Buffer, field: number): Buffer {
  let pos = 0;
  while (pos < buf.length) {
    const [tag, afterTag] = readVarint(buf, pos);
    const wireType = tag & 7;
    if (wireType === 0) {
      pos = readVarint(buf, afterTag)[1];
      continue;
    }
    if (wireType !== 2) throw new Error(`unexpected wire type ${wireType}`);
    const [length, start] = readVarint(buf, afterTag);
    if (tag >>> 3 === field) return buf.subarray(start, start + length);
    pos = start + length;
  }
  throw new Error(`field ${field} not found`);
}

/** A CONFIG_UPDATE envelope for `channelId` carrying `configUpdate`, signed by `signers` (config signatures + envelope). */
export function makeConfigUpdateEnvelope(
  channelId: string,
  configUpdate: common.IConfigUpdate,
  signers: readonly FixtureSigner[],
): Buffer {
  const channelHeader = common.ChannelHeader.encode({
    type: common.HeaderType.CONFIG_UPDATE,
    channelId,
    timestamp: { seconds: 1700000000, nanos: 0 },
  }).finish();
  const payload = common.Payload.encode({
    header: {
      channelHeader,
      signatureHeader: common.SignatureHeader.encode({
        creator: signers[0]?.serialized,
        nonce: randomBytes(24),
      }).finish(),
    },
    data: common.ConfigUpdateEnvelope.encode({
      configUpdate: common.ConfigUpdate.encode(configUpdate).finish(),
    }).finish(),
  }).finish();
  const unsigned = Buffer.from(common.Envelope.encode({ payload }).finish());
  return signConfigUpdateEnvelope(unsigned, signers);
}

/** Decodes the ConfigUpdate of a CONFIG_UPDATE envelope, lets `mutate` change it and re-wraps it unsigned. */
export function rewriteConfigUpdate(
  envelopeBytes: Buffer,
  mutate: (update: common.ConfigUpdate) => void,
): Buffer {
  const envelope = common.Envelope.decode(envelopeBytes);
  const payload = common.Payload.decode(asBuffer(envelope.payload));
  const configUpdateEnvelope = common.ConfigUpdateEnvelope.decode(asBuffer(payload.data));
  const update = common.ConfigUpdate.decode(asBuffer(configUpdateEnvelope.configUpdate));
  mutate(update);
  const newPayload = common.Payload.encode({
    header: payload.header,
    data: common.ConfigUpdateEnvelope.encode({
      configUpdate: common.ConfigUpdate.encode(update).finish(),
    }).finish(),
  }).finish();
  return Buffer.from(common.Envelope.encode({ payload: newPayload }).finish());
}

/** The ConfigEnvelope's last_update as bytes (what the Go orderer stored). */
export function lastUpdateBytes(envelope: common.IConfigEnvelope): Buffer {
  return Buffer.from(common.Envelope.encode(envelope.lastUpdate!).finish());
}
