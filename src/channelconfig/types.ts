// The typed, validated view of a channel config (Fabric's channelconfig.Bundle). Built by
// src/channelconfig/bundle.ts from a common.Config; immutable once built.
import type { common } from '../protos/index.js';
import type { MSPManager } from '../msp/types.js';
import type { PolicyManager } from '../policies/types.js';

export interface BatchSize {
  maxMessageCount: number;
  absoluteMaxBytes: number;
  preferredMaxBytes: number;
}

export type ConsensusState = 'NORMAL' | 'MAINTENANCE';

export interface OrdererOrg {
  name: string;
  mspId: string;
  endpoints: string[];
}

export interface OrdererConfig {
  consensusType: string; // 'solo' | 'kafka' | 'etcdraft'
  consensusMetadata: Buffer;
  consensusState: ConsensusState;
  batchSize: BatchSize;
  batchTimeoutMs: number;
  kafkaBrokers: string[];
  /** ChannelRestrictions.max_count; 0 means unlimited. */
  maxChannels: number;
  capabilities: ReadonlySet<string>;
  organizations: ReadonlyMap<string, OrdererOrg>;
  /**
   * consensusType 'etcdraft' only: ConsensusType.Metadata decoded and checked once, when the
   * bundle was built (see checkEtcdraftMetadata); read it through etcdraftConfigOf.
   */
  etcdraft?: EtcdraftMetadataCheck;
}

export interface EtcdraftConsenter {
  readonly host: string;
  readonly port: number;
  /** PEM bytes exactly as in the config: consenters are identified by these bytes. */
  readonly clientTlsCert: Buffer;
  readonly serverTlsCert: Buffer;
}

export interface EtcdraftOptions {
  /** The tick interval as written in the config (e.g. "500ms"). */
  readonly tickInterval: string;
  readonly tickIntervalMs: number;
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly maxInflightBlocks: number;
  /** Bytes of blocks between snapshots; DEFAULT_SNAPSHOT_INTERVAL_SIZE when the config says 0. */
  readonly snapshotIntervalSize: number;
}

export interface EtcdraftConfig {
  readonly consenters: readonly EtcdraftConsenter[];
  readonly options: EtcdraftOptions;
}

/** The outcome of Fabric's etcdraft VerifyConfigMetadata on a channel's Orderer config. */
export type EtcdraftMetadataCheck =
  | { readonly config: EtcdraftConfig; readonly error?: undefined }
  | { readonly config?: undefined; readonly error: Error };

export interface AnchorPeer {
  host: string;
  port: number;
}

export interface ApplicationOrg {
  name: string;
  mspId: string;
  /** The org's AnchorPeers value (peers only; the orderer does not use it). */
  anchorPeers?: readonly AnchorPeer[];
}

export interface ApplicationConfig {
  capabilities: ReadonlySet<string>;
  organizations: ReadonlyMap<string, ApplicationOrg>;
  /** The ACLs value: resource name -> policy reference (peers only). */
  acls?: ReadonlyMap<string, string>;
}

export interface ConsortiumConfig {
  name: string;
  channelCreationPolicy: common.IPolicy;
  organizations: ReadonlyMap<string, { name: string; mspId: string }>;
}

export interface ChannelValues {
  hashingAlgorithm: string;
  blockDataHashingWidth: number;
  ordererAddresses: string[];
  consortium: string | undefined;
  capabilities: ReadonlySet<string>;
}

export interface ChannelConfigBundle {
  readonly channelId: string;
  readonly sequence: number;
  /** The config as decoded; raw bytes of values stay inside (ConfigValue.value). */
  readonly config: common.IConfig;
  readonly channel: ChannelValues;
  /** Present on every orderer channel. */
  readonly orderer: OrdererConfig | undefined;
  readonly application: ApplicationConfig | undefined;
  /** Only on a system channel. */
  readonly consortiums: ReadonlyMap<string, ConsortiumConfig> | undefined;
  readonly mspManager: MSPManager;
  readonly policyManager: PolicyManager;
}
