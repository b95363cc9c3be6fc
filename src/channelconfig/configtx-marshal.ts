// Deterministic encoding of config trees.
//
// A ConfigGroup holds three protobuf maps. The Go orderer marshals them in Go's random map order
// (golden/mychannel/0.block lists /Channel's groups as "Orderer, Application"), so byte equality with
// a Go-made config is not something any encoder can promise; what matters is that the same config
// always gives the same bytes here, and that two configs compare equal exactly when their contents do.
// protobufjs writes map entries in Object.keys() order, which is insertion order except that
// integer-like keys ("1", "42") always come first. So instead of relying on object construction,
// this writer sorts every map by key bytes, the order Go uses with proto.MarshalOptions{Deterministic: true}.
// Everything other than the maps is written exactly as the generated encoders do (field order,
// default values omitted, unknown fields kept at the end).
import $protobuf from 'protobufjs/minimal.js';
import { common } from '../protos/index.js';
import { sortedKeys } from './configtx-map.js';

type Writer = $protobuf.Writer;

function writeUint64(writer: Writer, tag: number, value: common.IConfigGroup['version']): void {
  const numeric = typeof value === 'number' ? value : value ? value.toNumber() : 0;
  if (numeric !== 0) writer.uint32(tag).uint64(numeric);
}

function writeUnknowns(writer: Writer, message: { $unknowns?: Uint8Array[] }): void {
  for (const raw of message.$unknowns ?? []) writer.raw(raw);
}

function writeConfigGroup(writer: Writer, group: common.IConfigGroup): void {
  writeUint64(writer, 8, group.version);
  for (const key of sortedKeys(group.groups)) {
    writer.uint32(18).fork().uint32(10).string(key).uint32(18).fork();
    writeConfigGroup(writer, group.groups![key]!);
    writer.ldelim().ldelim();
  }
  for (const key of sortedKeys(group.values)) {
    writer.uint32(26).fork().uint32(10).string(key);
    common.ConfigValue.encode(group.values![key]!, writer.uint32(18).fork()).ldelim();
    writer.ldelim();
  }
  for (const key of sortedKeys(group.policies)) {
    writer.uint32(34).fork().uint32(10).string(key);
    common.ConfigPolicy.encode(group.policies![key]!, writer.uint32(18).fork()).ldelim();
    writer.ldelim();
  }
  if (group.modPolicy) writer.uint32(42).string(group.modPolicy);
  writeUnknowns(writer, group);
}

function writeConfig(writer: Writer, config: common.IConfig): void {
  writeUint64(writer, 8, config.sequence);
  if (config.channelGroup) {
    writer.uint32(18).fork();
    writeConfigGroup(writer, config.channelGroup);
    writer.ldelim();
  }
  writeUnknowns(writer, config);
}

/** common.ConfigGroup bytes with every map sorted by key. */
export function marshalConfigGroup(group: common.IConfigGroup): Buffer {
  const writer = $protobuf.Writer.create();
  writeConfigGroup(writer, group);
  return Buffer.from(writer.finish());
}

/** common.Config bytes with every map sorted by key. */
export function marshalConfig(config: common.IConfig): Buffer {
  const writer = $protobuf.Writer.create();
  writeConfig(writer, config);
  return Buffer.from(writer.finish());
}

/**
 * common.ConfigEnvelope bytes with every map sorted by key; last_update is written from its fields,
 * which for a decoded Envelope are the payload and signature bytes exactly as received.
 */
export function marshalConfigEnvelope(envelope: common.IConfigEnvelope): Buffer {
  const writer = $protobuf.Writer.create();
  if (envelope.config) {
    writer.uint32(10).fork();
    writeConfig(writer, envelope.config);
    writer.ldelim();
  }
  if (envelope.lastUpdate) common.Envelope.encode(envelope.lastUpdate, writer.uint32(18).fork()).ldelim();
  writeUnknowns(writer, envelope);
  return Buffer.from(writer.finish());
}
