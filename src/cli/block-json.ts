// Blocks as readable JSON for `orderer inspect`: header hashes in hex, metadata decoded (signers
// with MSP ID and certificate subject, last config, consenter metadata), every envelope's headers,
// and config envelopes as a tree like `configtxlator proto_decode` (values decoded by their proto
// types, policies decoded, certificates as PEM). Field names follow Fabric's proto names.
import { createHash } from 'node:crypto';
import { asBuffer, common, etcdraft, msp, orderer, peer, toNumber } from '../protos/index.js';
import { parseCertificatePem } from '../crypto/index.js';
import { formatSignaturePolicy, roleName } from '../policies/index.js';
import { blockHeaderHash, BlockMetadataIndex } from '../protoutil/index.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const hex = (bytes: Uint8Array | null | undefined) => asBuffer(bytes).toString('hex');

const HEADER_TYPES: Record<number, string> = {
  0: 'MESSAGE',
  1: 'CONFIG',
  2: 'CONFIG_UPDATE',
  3: 'ENDORSER_TRANSACTION',
  4: 'ORDERER_TRANSACTION',
  5: 'DELIVER_SEEK_INFO',
  6: 'CHAINCODE_PACKAGE',
};

/** Options that change how opaque parts are read. */
export interface DecodeContext {
  /** The channel's consensus type, to decode consenter metadata ("etcdraft", "kafka", "solo"). */
  consensusType?: string;
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** A protobufjs message as JSON with snake_case names, numbers for 64-bit values, enum names, bytes in base64. */
function plain(message: object, type: { toObject(m: never, o: object): object }): Json {
  const object = type.toObject(message as never, {
    longs: Number,
    enums: String,
    bytes: String,
    defaults: true,
  });
  const convert = (value: unknown): Json => {
    if (Array.isArray(value)) return value.map(convert);
    if (value && typeof value === 'object') {
      const out: JsonObject = {};
      for (const [k, v] of Object.entries(value)) if (k !== '$unknowns') out[snake(k)] = convert(v);
      return out;
    }
    return value as Json;
  };
  return convert(object);
}

function pemText(bytes: Uint8Array): string {
  return asBuffer(bytes).toString('utf8');
}

/** A serialized identity: MSP ID plus the certificate's subject, issuer, serial and validity. */
export function identityJson(serialized: Uint8Array | null | undefined): Json {
  const bytes = asBuffer(serialized);
  if (bytes.length === 0) return null;
  let identity: msp.SerializedIdentity;
  try {
    identity = msp.SerializedIdentity.decode(bytes);
  } catch {
    return { undecodable: hex(bytes) };
  }
  const out: JsonObject = { msp_id: identity.mspid };
  try {
    const cert = parseCertificatePem(asBuffer(identity.idBytes), 'identity');
    out.subject = cert.subject.toString();
    out.common_name = cert.subject.commonName;
    out.issuer = cert.issuer.toString();
    out.serial = cert.serialHex;
    out.not_after = new Date(cert.notAfter).toISOString();
  } catch (err) {
    out.certificate_error = (err as Error).message;
  }
  return out;
}

function signatureHeaderJson(bytes: Uint8Array | null | undefined): Json {
  const header = common.SignatureHeader.decode(asBuffer(bytes));
  return { creator: identityJson(header.creator), nonce: hex(header.nonce) };
}

function timestampIso(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): Json {
  if (!ts) return null;
  const ms = toNumber(ts.seconds as number) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
  return new Date(ms).toISOString();
}

// ---------------------------------------------------------------------------------------------
// Config trees

function mspJson(bytes: Uint8Array): Json {
  const config = msp.MSPConfig.decode(bytes);
  if (config.type !== 0) return { type: config.type, config: asBuffer(config.config).toString('base64') };
  const fabric = msp.FabricMSPConfig.decode(asBuffer(config.config));
  const pems = (list: Uint8Array[] | null | undefined) => (list ?? []).map(pemText);
  const ou = (id: msp.IFabricOUIdentifier | null | undefined): Json =>
    id
      ? {
          certificate: id.certificate?.length ? pemText(id.certificate) : '',
          organizational_unit_identifier: id.organizationalUnitIdentifier ?? '',
        }
      : null;
  return {
    type: 0,
    config: {
      name: fabric.name,
      root_certs: pems(fabric.rootCerts),
      intermediate_certs: pems(fabric.intermediateCerts),
      admins: pems(fabric.admins),
      revocation_list: pems(fabric.revocationList),
      signing_identity: fabric.signingIdentity
        ? plain(fabric.signingIdentity, msp.SigningIdentityInfo)
        : null,
      organizational_unit_identifiers: (fabric.organizationalUnitIdentifiers ?? []).map(ou),
      crypto_config: fabric.cryptoConfig ? plain(fabric.cryptoConfig, msp.FabricCryptoConfig) : null,
      tls_root_certs: pems(fabric.tlsRootCerts),
      tls_intermediate_certs: pems(fabric.tlsIntermediateCerts),
      fabric_node_ous: fabric.fabricNodeOus
        ? {
            enable: !!fabric.fabricNodeOus.enable,
            client_ou_identifier: ou(fabric.fabricNodeOus.clientOuIdentifier),
            peer_ou_identifier: ou(fabric.fabricNodeOus.peerOuIdentifier),
            admin_ou_identifier: ou(fabric.fabricNodeOus.adminOuIdentifier),
            orderer_ou_identifier: ou(fabric.fabricNodeOus.ordererOuIdentifier),
          }
        : null,
    },
  };
}

function consensusTypeJson(bytes: Uint8Array): Json {
  const value = orderer.ConsensusType.decode(bytes);
  const out = plain(value, orderer.ConsensusType) as JsonObject;
  if (value.type === 'etcdraft' && value.metadata?.length) {
    const metadata = etcdraft.ConfigMetadata.decode(asBuffer(value.metadata));
    out.metadata = {
      consenters: (metadata.consenters ?? []).map((c) => ({
        host: c.host ?? '',
        port: c.port ?? 0,
        client_tls_cert: pemText(c.clientTlsCert ?? new Uint8Array()),
        server_tls_cert: pemText(c.serverTlsCert ?? new Uint8Array()),
      })),
      options: metadata.options ? plain(metadata.options, etcdraft.Options) : null,
    };
  }
  return out;
}

const VALUE_DECODERS: Record<string, (bytes: Uint8Array) => Json> = {
  HashingAlgorithm: (b) => plain(common.HashingAlgorithm.decode(b), common.HashingAlgorithm),
  BlockDataHashingStructure: (b) =>
    plain(common.BlockDataHashingStructure.decode(b), common.BlockDataHashingStructure),
  OrdererAddresses: (b) => plain(common.OrdererAddresses.decode(b), common.OrdererAddresses),
  Endpoints: (b) => plain(common.OrdererAddresses.decode(b), common.OrdererAddresses),
  Consortium: (b) => plain(common.Consortium.decode(b), common.Consortium),
  Capabilities: (b) => ({
    capabilities: Object.fromEntries(
      Object.keys(common.Capabilities.decode(b).capabilities ?? {}).map((k) => [k, {}]),
    ),
  }),
  ConsensusType: consensusTypeJson,
  BatchSize: (b) => plain(orderer.BatchSize.decode(b), orderer.BatchSize),
  BatchTimeout: (b) => plain(orderer.BatchTimeout.decode(b), orderer.BatchTimeout),
  KafkaBrokers: (b) => plain(orderer.KafkaBrokers.decode(b), orderer.KafkaBrokers),
  ChannelRestrictions: (b) => plain(orderer.ChannelRestrictions.decode(b), orderer.ChannelRestrictions),
  MSP: mspJson,
  AnchorPeers: (b) => plain(peer.AnchorPeers.decode(b), peer.AnchorPeers),
  ACLs: (b) => plain(peer.ACLs.decode(b), peer.ACLs),
  ChannelCreationPolicy: (b) => policyJson(common.Policy.decode(b)),
};

function principalJson(principal: common.IMSPPrincipal): Json {
  const classification = principal.principalClassification ?? 0;
  const bytes = asBuffer(principal.principal);
  try {
    if (classification === common.MSPPrincipal.Classification.ROLE) {
      const role = common.MSPRole.decode(bytes);
      return {
        principal_classification: 'ROLE',
        principal: { msp_identifier: role.mspIdentifier, role: roleName(role.role).toUpperCase() },
      };
    }
    if (classification === common.MSPPrincipal.Classification.ORGANIZATION_UNIT) {
      return {
        principal_classification: 'ORGANIZATION_UNIT',
        principal: plain(common.OrganizationUnit.decode(bytes), common.OrganizationUnit),
      };
    }
    if (classification === common.MSPPrincipal.Classification.IDENTITY) {
      return { principal_classification: 'IDENTITY', principal: identityJson(bytes) };
    }
  } catch {
    // fall through to the raw form
  }
  return { principal_classification: classification, principal: bytes.toString('base64') };
}

export function policyJson(policy: common.IPolicy | null | undefined): Json {
  if (!policy) return null;
  const bytes = asBuffer(policy.value);
  if (policy.type === common.Policy.PolicyType.SIGNATURE) {
    const envelope = common.SignaturePolicyEnvelope.decode(bytes);
    return {
      type: 1,
      type_name: 'SIGNATURE',
      rule_text: formatSignaturePolicy(envelope),
      value: {
        version: envelope.version,
        rule: plain(envelope.rule ?? {}, common.SignaturePolicy),
        identities: (envelope.identities ?? []).map(principalJson),
      },
    };
  }
  if (policy.type === common.Policy.PolicyType.IMPLICIT_META) {
    const meta = common.ImplicitMetaPolicy.decode(bytes);
    return {
      type: 3,
      type_name: 'IMPLICIT_META',
      rule_text: `${common.ImplicitMetaPolicy.Rule[meta.rule]} ${meta.subPolicy}`,
      value: { sub_policy: meta.subPolicy, rule: common.ImplicitMetaPolicy.Rule[meta.rule] ?? meta.rule },
    };
  }
  return { type: policy.type ?? 0, value: bytes.toString('base64') };
}

function valueJson(key: string, bytes: Uint8Array | null | undefined): Json {
  const buffer = asBuffer(bytes);
  const decoder = VALUE_DECODERS[key];
  if (!decoder) return { undecoded: buffer.toString('base64') };
  try {
    return decoder(buffer);
  } catch (err) {
    return { undecodable: buffer.toString('base64'), error: (err as Error).message };
  }
}

/** A ConfigGroup as configtxlator shows it, with keys sorted. */
export function configGroupJson(group: common.IConfigGroup | null | undefined): Json {
  if (!group) return null;
  const sorted = <T>(map: Record<string, T> | null | undefined) =>
    Object.keys(map ?? {})
      .sort()
      .map((k) => [k, map![k]!] as const);
  return {
    groups: Object.fromEntries(sorted(group.groups).map(([k, g]) => [k, configGroupJson(g)])),
    mod_policy: group.modPolicy ?? '',
    policies: Object.fromEntries(
      sorted(group.policies).map(([k, p]) => [
        k,
        { mod_policy: p.modPolicy ?? '', policy: policyJson(p.policy), version: toNumber(p.version) },
      ]),
    ),
    values: Object.fromEntries(
      sorted(group.values).map(([k, v]) => [
        k,
        { mod_policy: v.modPolicy ?? '', value: valueJson(k, v.value), version: toNumber(v.version) },
      ]),
    ),
    version: toNumber(group.version),
  };
}

function configUpdateEnvelopeJson(bytes: Buffer): Json {
  const envelope = common.ConfigUpdateEnvelope.decode(bytes);
  const update = common.ConfigUpdate.decode(asBuffer(envelope.configUpdate));
  return {
    config_update: {
      channel_id: update.channelId,
      read_set: configGroupJson(update.readSet),
      write_set: configGroupJson(update.writeSet),
      isolated_data: Object.fromEntries(
        Object.entries(update.isolatedData ?? {}).map(([k, v]) => [k, asBuffer(v).toString('base64')]),
      ),
    },
    signatures: (envelope.signatures ?? []).map((s) => ({
      signature_header: signatureHeaderJson(s.signatureHeader),
      signature: hex(s.signature),
    })),
  };
}

function dataJson(type: number, data: Buffer, context: DecodeContext): Json {
  try {
    switch (type) {
      case common.HeaderType.CONFIG: {
        const envelope = common.ConfigEnvelope.decode(data);
        return {
          config: {
            sequence: toNumber(envelope.config?.sequence),
            channel_group: configGroupJson(envelope.config?.channelGroup),
          },
          last_update: envelope.lastUpdate
            ? envelopeJson(asBuffer(common.Envelope.encode(envelope.lastUpdate).finish()), context)
            : null,
        };
      }
      case common.HeaderType.CONFIG_UPDATE:
        return configUpdateEnvelopeJson(data);
      case common.HeaderType.ORDERER_TRANSACTION:
        return { envelope: envelopeJson(data, context) };
      case common.HeaderType.DELIVER_SEEK_INFO:
        return plain(orderer.SeekInfo.decode(data), orderer.SeekInfo);
    }
  } catch (err) {
    return { undecodable: data.toString('base64'), error: (err as Error).message };
  }
  // Transactions are opaque to the orderer: their size and digest identify them.
  return { bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') };
}

/** One marshalled Envelope: headers decoded, data decoded by header type. */
export function envelopeJson(bytes: Buffer, context: DecodeContext = {}): Json {
  let envelope: common.Envelope;
  let payload: common.Payload;
  try {
    envelope = common.Envelope.decode(bytes);
    payload = common.Payload.decode(asBuffer(envelope.payload));
  } catch (err) {
    return { undecodable: true, bytes: bytes.length, error: (err as Error).message };
  }
  const header: JsonObject = {};
  let type = -1;
  try {
    if (payload.header?.channelHeader?.length) {
      const ch = common.ChannelHeader.decode(asBuffer(payload.header.channelHeader));
      type = ch.type;
      header.channel_header = {
        type: ch.type,
        type_name: HEADER_TYPES[ch.type] ?? `UNKNOWN(${ch.type})`,
        version: ch.version,
        timestamp: timestampIso(ch.timestamp),
        channel_id: ch.channelId,
        tx_id: ch.txId,
        epoch: toNumber(ch.epoch),
        ...(ch.extension?.length ? { extension: hex(ch.extension) } : {}),
        ...(ch.tlsCertHash?.length ? { tls_cert_hash: hex(ch.tlsCertHash) } : {}),
      };
    }
    if (payload.header?.signatureHeader?.length) {
      header.signature_header = signatureHeaderJson(payload.header.signatureHeader);
    }
  } catch (err) {
    header.error = (err as Error).message;
  }
  return {
    payload: { header, data: dataJson(type, asBuffer(payload.data), context) },
    signature: hex(envelope.signature),
  };
}

function consenterMetadataJson(bytes: Buffer, context: DecodeContext): Json {
  if (bytes.length === 0) return null;
  try {
    const inner = common.Metadata.decode(bytes);
    const value = asBuffer(inner.value);
    if (context.consensusType === 'etcdraft') {
      return plain(etcdraft.BlockMetadata.decode(value), etcdraft.BlockMetadata);
    }
    if (context.consensusType === 'kafka')
      return plain(orderer.KafkaMetadata.decode(value), orderer.KafkaMetadata);
    return { value: value.toString('base64') };
  } catch {
    return { undecodable: bytes.toString('base64') };
  }
}

function metadataJson(block: common.IBlock, context: DecodeContext): JsonObject {
  const slots = block.metadata?.metadata ?? [];
  const slot = (i: number) => asBuffer(slots[i]);
  const out: JsonObject = {};
  try {
    const signatures = common.Metadata.decode(slot(BlockMetadataIndex.SIGNATURES));
    const value = asBuffer(signatures.value);
    let decoded: Json = null;
    if (value.length) {
      const ordererMetadata = common.OrdererBlockMetadata.decode(value);
      decoded = {
        last_config: ordererMetadata.lastConfig
          ? { index: toNumber(ordererMetadata.lastConfig.index) }
          : null,
        consenter_metadata: consenterMetadataJson(asBuffer(ordererMetadata.consenterMetadata), context),
      };
    }
    out.signatures = {
      value: decoded,
      signatures: (signatures.signatures ?? []).map((s) => ({
        signature_header: signatureHeaderJson(s.signatureHeader),
        signature: hex(s.signature),
      })),
    };
  } catch (err) {
    out.signatures = { undecodable: slot(0).toString('base64'), error: (err as Error).message };
  }
  try {
    const lastConfig = common.Metadata.decode(slot(BlockMetadataIndex.LAST_CONFIG));
    out.last_config = slot(BlockMetadataIndex.LAST_CONFIG).length
      ? {
          index: toNumber(common.LastConfig.decode(asBuffer(lastConfig.value)).index),
          signatures: (lastConfig.signatures ?? []).length,
        }
      : null;
  } catch {
    out.last_config = { undecodable: slot(1).toString('base64') };
  }
  out.transactions_filter = hex(slot(BlockMetadataIndex.TRANSACTIONS_FILTER));
  out.orderer = slot(BlockMetadataIndex.ORDERER).toString('base64');
  out.commit_hash = hex(slot(BlockMetadataIndex.COMMIT_HASH));
  return out;
}

/** The consensus type a config block declares, if it is one. */
export function consensusTypeOf(block: common.IBlock): string | undefined {
  try {
    const envelope = common.Envelope.decode(asBuffer(block.data?.data?.[0]));
    const payload = common.Payload.decode(asBuffer(envelope.payload));
    const ch = common.ChannelHeader.decode(asBuffer(payload.header?.channelHeader));
    if (ch.type !== common.HeaderType.CONFIG) return undefined;
    const config = common.ConfigEnvelope.decode(asBuffer(payload.data));
    const value = config.config?.channelGroup?.groups?.Orderer?.values?.ConsensusType?.value;
    return value ? orderer.ConsensusType.decode(asBuffer(value)).type : undefined;
  } catch {
    return undefined;
  }
}

/** A whole block: header (hex hashes, and the header hash computed here), data, metadata. */
export function blockJson(block: common.IBlock, context: DecodeContext = {}): JsonObject {
  const consensusType = context.consensusType ?? consensusTypeOf(block);
  const ctx: DecodeContext = consensusType ? { consensusType } : {};
  const header = block.header ?? {};
  return {
    header: {
      number: toNumber(header.number),
      previous_hash: hex(header.previousHash),
      data_hash: hex(header.dataHash),
      hash: blockHeaderHash(header).toString('hex'),
    },
    data: { data: (block.data?.data ?? []).map((d) => envelopeJson(asBuffer(d), ctx)) },
    metadata: metadataJson(block, ctx),
  };
}

/** One block in brief, for `orderer inspect`'s summary: what an operator scans a ledger for. */
export interface BlockSummary {
  readonly number: number;
  readonly transactions: number;
  /** Bytes of the marshalled block. */
  readonly bytes: number;
  /** Header type of the block's transactions (CONFIG, ENDORSER_TRANSACTION...), "+"-joined if mixed. */
  readonly type: string;
  /** SHA-256 of the block header, as the next block's previous_hash. */
  readonly hash: string;
}

export function blockSummary(block: common.IBlock, marshalledBytes: number): BlockSummary {
  const data = block.data?.data ?? [];
  const types = new Set<string>();
  for (const bytes of data) {
    try {
      const envelope = common.Envelope.decode(asBuffer(bytes));
      const payload = common.Payload.decode(asBuffer(envelope.payload));
      const ch = common.ChannelHeader.decode(asBuffer(payload.header?.channelHeader));
      types.add(HEADER_TYPES[ch.type] ?? `UNKNOWN(${ch.type})`);
    } catch {
      types.add('UNDECODABLE');
    }
  }
  return {
    number: toNumber(block.header?.number),
    transactions: data.length,
    bytes: marshalledBytes,
    type: types.size ? [...types].join('+') : 'EMPTY',
    hash: blockHeaderHash(block.header ?? {}).toString('hex'),
  };
}
