// The consenter contract, mirroring Fabric's orderer/consensus/consensus.go. Every ability a
// consenter may have is a typed member here (solo and Kafka answer the Raft-only ones with their
// fixed answer), so the registrar never has to probe a chain or consenter for optional methods.
import type { common, orderer } from '../protos/index.js';
import type { ChannelConfigBundle, OrdererConfig } from '../channelconfig/types.js';
import type { SigningIdentity } from '../msp/types.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logging.js';

/** An envelope as received, decoded once on the way in. Raw byte fields are views of `raw`. */
export interface ReceivedEnvelope {
  /** The marshalled Envelope exactly as received. */
  readonly raw: Buffer;
  readonly payload: Buffer;
  readonly signature: Buffer;
  readonly channelHeader: common.ChannelHeader;
  readonly signatureHeader: common.SignatureHeader;
  /** payload.data (for CONFIG_UPDATE: the ConfigUpdateEnvelope bytes). */
  readonly data: Buffer;
}

/** How this orderer takes part in a channel (Fabric's types.ConsensusRelation). */
export type ConsensusRelation = 'consenter' | 'follower' | 'config-tracker' | 'other';
/** Fabric's types.Status of a channel on this orderer. */
export type ChannelStatus = 'active' | 'onboarding' | 'inactive' | 'failed';

/** What the channel participation API reports for a chain (Fabric's consensus.StatusReporter). */
export interface ChainStatusReport {
  consensusRelation: ConsensusRelation;
  status: ChannelStatus;
}

/**
 * Where messages of the cluster service (orderer.Cluster/Step) for one channel enter its chain.
 * `from` is the sender's consenter ID, established by the cluster service from the sender's TLS
 * client certificate; a chain never trusts an ID carried in the message itself.
 */
export interface ClusterEndpoint {
  /** A consensus message (for etcdraft, a marshalled raftpb.Message in payload). */
  consensus(request: orderer.IConsensusRequest, from: number): Promise<void>;
  /** An envelope a follower forwards to be ordered here, validated at last_validation_seq. */
  submit(request: orderer.ISubmitRequest, from: number): Promise<void>;
}

export interface Chain {
  /**
   * True when order()/configure() take the message's place in the order before they return (the
   * promise only says when it is durable or refused), so a Broadcast stream may hand over its next
   * message before the previous one settled. False: the caller waits for each promise (Fabric).
   */
  readonly ordersOnCall: boolean;
  /** The cluster service's way in; undefined for consenters with no cluster (solo, Kafka). */
  readonly cluster: ClusterEndpoint | undefined;
  /** Accepts a normal message validated at configSeq. Resolves when the message is accepted for
   *  ordering (and, for solo, durably queued); rejects with OrdererError('unavailable') when the
   *  chain cannot take it. */
  order(env: ReceivedEnvelope, configSeq: number): Promise<void>;
  /** Same for a config message (an orderer-signed CONFIG or ORDERER_TRANSACTION envelope). */
  configure(configEnv: ReceivedEnvelope, configSeq: number): Promise<void>;
  /** Resolves when the chain can accept messages; rejects with OrdererError('unavailable'). */
  waitReady(): Promise<void>;
  /** An error while the chain cannot serve STRICT Deliver requests, else undefined. */
  errored(): Error | undefined;
  /**
   * Calls `listener` (synchronously; it must not throw) whenever errored() may have changed, so a
   * STRICT Deliver waiting at the tip ends as soon as the chain errs instead of polling errored().
   * Returns the function that removes the listener.
   */
  onStatusChange(listener: () => void): () => void;
  /** Relation and status for the channel participation API. */
  statusReport(): ChainStatusReport;
  start(): void;
  halt(): Promise<void>;
}

/**
 * The config block a channel was joined with through channel participation when it is past the
 * channel's genesis block: the ledger must be brought up to it by pulling from other orderers.
 */
export interface ChannelJoin {
  readonly number: number;
  /** Header hash of the join block: the pulled block of that number must be this block. */
  readonly headerHash: Buffer;
  /** The config of the join block: where to pull from, and whether this orderer is a consenter. */
  readonly bundle: ChannelConfigBundle;
}

/** What a consenter that can onboard a channel needs of a block puller (src/replication's BlockPuller). */
export interface ChannelBlockPuller {
  /** Block `number`, checked to chain onto the block with `previousHeaderHash` when given. */
  pullBlock(number: number, previousHeaderHash?: Buffer): Promise<{ bytes: Buffer; block: common.Block }>;
  /** The channel's last config block as the orderer with the highest height has it (Fabric's PullLastConfigBlock). */
  lastConfigBlock(): Promise<{ bytes: Buffer; block: common.Block }>;
  /** The last block pulled failed the writer's checks: pull from another orderer next. */
  distrustCurrent(reason: string): void;
  close(): void;
}

export interface Consenter {
  /**
   * Makes the chain of a channel. metadata: the consenter metadata from the last block's
   * ORDERER/SIGNATURES metadata. A node outside the channel's consenter set gets a follower chain
   * (statusReport says 'follower') that keeps pulling blocks; so does a channel whose ledger is
   * not yet at its join block (`join`, status 'onboarding'). Throws an OrdererError naming what
   * is wrong when the chain cannot be made (e.g. Kafka with no brokers configured).
   */
  handleChain(support: ConsenterSupport, metadata: Buffer | undefined, join?: ChannelJoin): Chain;
  /**
   * Consenters whose channels can be joined past their genesis block (etcdraft): a puller of the
   * channel's blocks from the orderers the config names, for the genesis block of an empty ledger.
   */
  readonly onboarding?: {
    pullerFor(channel: { channelId: string; logger: Logger; bundle(): ChannelConfigBundle }): ChannelBlockPuller;
  };
  /**
   * Whether this orderer is one of the channel's consenters as of the given config block, whose
   * config the bundle holds (Fabric's ClusterConsenter.IsChannelMember). Solo and Kafka: always,
   * every orderer orders.
   */
  isChannelMember(configBlock: common.IBlock, bundle: ChannelConfigBundle): boolean;
  /**
   * Fabric's MetadataValidator: checks that a config update may change the ConsensusType metadata
   * from the old config to the new one (newChannel: the config of a channel being created, old is
   * then the system channel's). Bundles, not only their Orderer parts: etcdraft checks consenter
   * certificates against the orderer orgs' TLS CAs. Throws OrdererError('bad-request') saying what
   * is wrong. Solo and Kafka accept anything.
   */
  validateConsensusMetadata(
    oldBundle: ChannelConfigBundle,
    newBundle: ChannelConfigBundle,
    newChannel: boolean,
  ): void;
  /** Deletes the state this consenter keeps for a channel outside the ledger (e.g. a WAL). */
  removeChannel(channelId: string): Promise<void>;
}

/**
 * Builds blocks ahead of the writer: each block is chained on the previous one *created*, so a
 * Raft leader can cut block N+2 while N+1 is still being agreed on (Fabric's etcdraft
 * blockcreator.go). Reset it to the last written block when created blocks were abandoned.
 */
export interface BlockCreator {
  createNextBlock(messages: readonly ReceivedEnvelope[]): common.Block;
  /** Number of the last block created (or reset to). */
  readonly lastNumber: number;
  resetTo(block: common.IBlock): void;
}

/** What a batch of envelopes becomes once cut. */
export interface BlockCutterLike {
  ordered(env: ReceivedEnvelope): { batches: ReceivedEnvelope[][]; pending: boolean };
  cut(): ReceivedEnvelope[];
}

/** The consenter's only way to the rest of the orderer. */
export interface ConsenterSupport {
  readonly channelId: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly signer: SigningIdentity;
  readonly blockCutter: BlockCutterLike;
  /** The current channel config. */
  bundle(): ChannelConfigBundle;
  sharedConfig(): OrdererConfig;
  /** Current config sequence. */
  sequence(): number;
  height(): number;
  /** Re-validates a normal message against the current config; returns the config sequence. */
  processNormalMsg(env: ReceivedEnvelope): Promise<number>;
  /** Re-validates a config message; returns the (re-)wrapped config envelope and sequence. */
  processConfigMsg(env: ReceivedEnvelope): Promise<{ config: ReceivedEnvelope; configSeq: number }>;
  /** Builds the next block (number, previous hash, data hash) from the batch, chained on the last
   *  block handed to writeBlock/writeConfigBlock. */
  createNextBlock(messages: readonly ReceivedEnvelope[]): common.Block;
  /** A block creator starting at the last block handed to the writer (see BlockCreator). */
  newBlockCreator(): BlockCreator;
  /** A block already written (catch-up, snapshots); undefined at or above the height. */
  block(number: number): Promise<common.Block | undefined>;
  /**
   * Writes a block built and signed by another orderer, stored as received (onboarding, a
   * follower pulling blocks): it must be the next block, chain onto the last one, and satisfy
   * /Channel/Orderer/BlockValidation of the current config; a config block then becomes the
   * channel's config. Throws OrdererError('bad-request'/'forbidden') naming the failed check.
   */
  appendVerified(blockBytes: Buffer): Promise<void>;
  /** Signs and durably writes a normal block. consenterMetadata goes into OrdererBlockMetadata. */
  writeBlock(block: common.Block, consenterMetadata?: Buffer): Promise<void>;
  /** Signs and durably writes a config block and applies the new config. */
  writeConfigBlock(block: common.Block, consenterMetadata?: Buffer): Promise<void>;
  /**
   * The chain gives way to a new chain of the same consenter, made from the ledger as it is now
   * and started (a follower whose channel made this orderer a consenter). Call once the old chain
   * has stopped. Absent where a channel cannot change chains (test supports of one chain).
   */
  replaceChain?(): void;
}
