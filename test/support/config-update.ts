// Config updates as operators make them with configtxlator compute_update: the changed values of
// a group at their version + 1 under a read set of the group's version, in a CONFIG_UPDATE envelope
// signed by the given admins.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { common as hlCommon } from '@hyperledger/fabric-protos';
import { asBuffer, common, etcdraft, orderer, toNumber } from '../../src/protos/index.js';
import { HeaderType, signConfigUpdate, signedEnvelope, type ClientIdentity } from './fabric-clients.js';
import { fabricBin } from './fabric-fixtures.js';

/**
 * A CONFIG_UPDATE envelope of `update` as `peer channel update` makes it, with Hyperledger's
 * bindings: a config signature of every signer, then the envelope signature (the first signer's
 * unless another is given).
 */
export function configUpdateEnvelope(
  channelId: string,
  update: common.IConfigUpdate,
  signers: ClientIdentity[],
  envelopeSigner: ClientIdentity = signers[0]!,
): Buffer {
  const cue = new hlCommon.ConfigUpdateEnvelope();
  cue.setConfigUpdate(common.ConfigUpdate.encode(update).finish());
  signConfigUpdate(cue, signers);
  return signedEnvelope(envelopeSigner, {
    type: HeaderType.CONFIG_UPDATE,
    channelId,
    data: cue.serializeBinary(),
  });
}

/** An update of /Channel/Orderer values, each at its current version + 1 (configtxlator's shape). */
export function ordererValues(
  channelId: string,
  config: common.IConfig,
  values: Record<string, Uint8Array>,
): common.IConfigUpdate {
  const group = config.channelGroup!.groups!.Orderer!;
  const version = toNumber(group.version);
  return {
    channelId,
    readSet: { groups: { Orderer: { version } } },
    writeSet: {
      groups: {
        Orderer: {
          version,
          values: Object.fromEntries(
            Object.entries(values).map(([key, value]) => [
              key,
              {
                version: toNumber(group.values![key]!.version) + 1,
                modPolicy: group.values![key]!.modPolicy,
                value,
              },
            ]),
          ),
        },
      },
    },
  };
}

/** The config's ConsensusType value with the given fields changed. */
export function consensusType(config: common.IConfig, change: Partial<orderer.IConsensusType>): Uint8Array {
  const current = orderer.ConsensusType.decode(
    asBuffer(config.channelGroup!.groups!.Orderer!.values!.ConsensusType!.value),
  );
  return orderer.ConsensusType.encode({
    type: change.type ?? current.type,
    metadata: change.metadata ?? current.metadata,
    state: change.state ?? current.state,
  }).finish();
}

/** The config's etcdraft ConfigMetadata with `edit` applied, encoded (for consensusType's metadata). */
export function editedEtcdraftMetadata(
  config: common.IConfig,
  edit: (metadata: etcdraft.ConfigMetadata) => void,
): Uint8Array {
  const current = orderer.ConsensusType.decode(
    asBuffer(config.channelGroup!.groups!.Orderer!.values!.ConsensusType!.value),
  );
  const metadata = etcdraft.ConfigMetadata.decode(current.metadata);
  edit(metadata);
  return etcdraft.ConfigMetadata.encode(metadata).finish();
}

/**
 * The update Fabric's own `configtxlator compute_update` computes from `config` to the same config
 * with the given /Channel/Orderer values, as an operator runs it (original and updated config as
 * common.Config files, the ConfigUpdate read back from its output file).
 */
export async function configtxlatorOrdererValues(
  channelId: string,
  config: common.IConfig,
  values: Record<string, Uint8Array>,
): Promise<common.ConfigUpdate> {
  const original = common.Config.encode(config).finish();
  const updated = common.Config.decode(original);
  for (const [key, value] of Object.entries(values))
    updated.channelGroup!.groups!.Orderer!.values![key]!.value = value;
  const dir = mkdtempSync(join(tmpdir(), 'compute-update-'));
  try {
    const file = (name: string) => join(dir, name);
    writeFileSync(file('original.pb'), original);
    writeFileSync(file('updated.pb'), common.Config.encode(updated).finish());
    // To a file: configtxlator opens /dev/stdout by name, which a pipe to a child cannot be.
    await promisify(execFile)(fabricBin('configtxlator'), [
      'compute_update',
      '--channel_id',
      channelId,
      '--original',
      file('original.pb'),
      '--updated',
      file('updated.pb'),
      '--output',
      file('update.pb'),
    ]);
    return common.ConfigUpdate.decode(readFileSync(file('update.pb')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
