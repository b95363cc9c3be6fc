// The ledger contract. Blocks are stored and served as the marshalled bytes they were written
// with: Deliver sends those bytes without re-encoding them.

export interface StoredBlock {
  number: number;
  /** Marshalled common.Block. */
  bytes: Buffer;
}

export interface BlockReader {
  readonly channelId: string;
  height(): number;
  /** undefined when number >= height(). */
  getBlock(number: number): Promise<StoredBlock | undefined>;
  /**
   * Resolves once height() > number (the block exists), or rejects with an AbortError when
   * signal aborts or the store closes. Many waiters are woken together by one append.
   */
  waitForBlock(number: number, signal?: AbortSignal): Promise<void>;
}

export interface BlockWriterStore extends BlockReader {
  /**
   * Appends the next block (number must equal height()). Resolves once the block is durable
   * (fsync'd); only then does height() grow and are readers woken. Concurrent appends are
   * group-committed with one fsync.
   */
  append(block: StoredBlock): Promise<void>;
}

export interface BlockStore extends BlockWriterStore {
  close(): Promise<void>;
}

export interface LedgerFactory {
  /** Channels with a ledger on disk (or in memory), sorted. */
  channelIds(): string[];
  /** Opens (creating if needed) the ledger of a channel; the same instance for repeated calls. */
  open(channelId: string): Promise<BlockStore>;
  /** Closes and deletes a channel's ledger and its join block; crash-safe (a half-removed ledger is not reopened). */
  remove(channelId: string): Promise<void>;
  /**
   * Keeps, durably, the config block a channel was joined with past its genesis block while the
   * ledger is brought up to it (Fabric's pendingops/join/<channel>.join): a restart during
   * onboarding resumes from it.
   */
  saveJoinBlock(channelId: string, blockBytes: Buffer): Promise<void>;
  /** The join block kept for a channel, if any. */
  joinBlock(channelId: string): Promise<Buffer | undefined>;
  removeJoinBlock(channelId: string): Promise<void>;
  close(): Promise<void>;
}
