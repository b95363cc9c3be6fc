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
}

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
