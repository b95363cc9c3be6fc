// In-memory ledgers for tests of other components: the same checks (order, previous hash,
// canonical encoding) and the same waiting semantics as the file ledger, without files.
import { unavailable } from '../errors.js';
import { checkNextBlock, emptyTip, type ChainTip } from './chaincheck.js';
import { assertValidChannelId } from './channelid.js';
import { HeightWaiter } from './heightwaiter.js';
import type { BlockStore, LedgerFactory, StoredBlock } from './types.js';

export interface MemoryBlockStoreOptions {
  channelId: string;
}

export class MemoryBlockStore implements BlockStore {
  readonly channelId: string;
  private readonly blocks: Buffer[] = [];
  private tip: ChainTip = emptyTip();
  private readonly waiter: HeightWaiter;
  private closed = false;

  constructor(options: MemoryBlockStoreOptions) {
    this.channelId = options.channelId;
    this.waiter = new HeightWaiter(this.channelId, () => this.blocks.length);
  }

  height(): number {
    return this.blocks.length;
  }

  async getBlock(number: number): Promise<StoredBlock | undefined> {
    const bytes = this.blocks[number];
    return bytes ? { number, bytes } : undefined;
  }

  waitForBlock(number: number, signal?: AbortSignal): Promise<void> {
    return this.waiter.waitForBlock(number, signal);
  }

  async append(block: StoredBlock): Promise<void> {
    if (this.closed) {
      throw unavailable(
        `the ledger of channel ${this.channelId} is closed; block ${block.number} was not appended`,
      );
    }
    const { tip } = checkNextBlock(this.channelId, block, this.tip);
    this.blocks.push(Buffer.from(block.bytes));
    this.tip = tip;
    this.waiter.notify();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.waiter.close();
  }
}

export class MemoryLedgerFactory implements LedgerFactory {
  private readonly stores = new Map<string, MemoryBlockStore>();
  private readonly joinBlocks = new Map<string, Buffer>();
  private closed = false;

  channelIds(): string[] {
    return [...this.stores.keys()].sort();
  }

  async open(channelId: string): Promise<MemoryBlockStore> {
    assertValidChannelId(channelId);
    if (this.closed)
      throw unavailable(`the ledger factory is closed; the ledger of channel ${channelId} cannot be opened`);
    let store = this.stores.get(channelId);
    if (!store) {
      store = new MemoryBlockStore({ channelId });
      this.stores.set(channelId, store);
    }
    return store;
  }

  async remove(channelId: string): Promise<void> {
    assertValidChannelId(channelId);
    const store = this.stores.get(channelId);
    this.stores.delete(channelId);
    this.joinBlocks.delete(channelId);
    await store?.close();
  }

  async saveJoinBlock(channelId: string, blockBytes: Buffer): Promise<void> {
    assertValidChannelId(channelId);
    this.joinBlocks.set(channelId, Buffer.from(blockBytes));
  }

  async joinBlock(channelId: string): Promise<Buffer | undefined> {
    return this.joinBlocks.get(channelId);
  }

  async removeJoinBlock(channelId: string): Promise<void> {
    this.joinBlocks.delete(channelId);
  }

  async close(): Promise<void> {
    this.closed = true;
    const stores = [...this.stores.values()];
    this.stores.clear();
    await Promise.all(stores.map((store) => store.close()));
  }
}
