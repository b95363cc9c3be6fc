// Config updates as operators make them with configtxlator compute_update: the changed values of
// a group at their version + 1 under a read set of the group's version, in a CONFIG_UPDATE envelope
// signed by the given admins.
import { common as hlCommon } from '@hyperledger/fabric-protos';
import { asBuffer, common, etcdraft, orderer, toNumber } from '../../src/protos/index.js';
import { HeaderType, signConfigUpdate, signedEnvelope, type ClientIdentity } from './fabric-clients.js';

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
