// The consenter contract, mirroring Fabric's orderer/consensus/consensus.go.
import type { common } from '../protos/index.js';
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

export interface Chain {
  /**
   * True when order()/configure() take the message's place in the order before they return (the
   * promise only says when it is durable or refused), so a Broadcast stream may hand over its next
   * message before the previous one settled. Absent: the caller waits for each promise (Fabric).
   */
  readonly ordersOnCall?: boolean;
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
  start(): void;
  halt(): Promise<void>;
}

export interface Consenter {
  /** metadata: the consenter metadata from the last block's ORDERER/SIGNATURES metadata. */
  handleChain(support: ConsenterSupport, metadata: Buffer | undefined): Chain;
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
  /** Builds the next block (number, previous hash, data hash) from the batch. */
  createNextBlock(messages: readonly ReceivedEnvelope[]): common.Block;
  /** Signs and durably writes a normal block. consenterMetadata goes into OrdererBlockMetadata. */
  writeBlock(block: common.Block, consenterMetadata?: Buffer): Promise<void>;
  /** Signs and durably writes a config block and applies the new config. */
  writeConfigBlock(block: common.Block, consenterMetadata?: Buffer): Promise<void>;
}
