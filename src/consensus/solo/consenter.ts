// Fabric's solo consenter: one orderer, no replication. handleChain makes a SoloChain per channel;
// with walDir set, each channel keeps its write-ahead log in <walDir>/<channelId>.
import { join } from 'node:path';
import { badRequest } from '../../errors.js';
import type { Consenter, ConsenterSupport, ReceivedEnvelope } from '../types.js';
import { SoloChain } from './chain.js';
import { FsWalStorage, type WalStorage } from './wal.js';

export interface SoloConsenterOptions {
  /** Root of the per-channel write-ahead logs, e.g. <FileLedger.Location>/solo-wal. Undefined: no WAL. */
  walDir?: string | undefined;
  /** Compact a channel's log once it holds this many bytes. */
  walCompactThresholdBytes?: number;
}

export interface SoloConsenterDependencies {
  walStorage?: WalStorage;
  decodeEnvelope?: (raw: Buffer) => ReceivedEnvelope;
}

export class SoloConsenter implements Consenter {
  /** The latest chain per channel: a new one waits until the previous one has let go of the log. */
  private readonly chains = new Map<string, SoloChain>();
  private readonly walStorage: WalStorage;

  constructor(
    private readonly options: SoloConsenterOptions = {},
    private readonly deps: SoloConsenterDependencies = {},
  ) {
    this.walStorage = deps.walStorage ?? new FsWalStorage();
  }

  /** The WAL directory of a channel, or undefined when running without a WAL. */
  walDirFor(channelId: string): string | undefined {
    if (this.options.walDir === undefined) return undefined;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(channelId)) {
      throw badRequest(
        `channel ID '${channelId}' cannot name a write-ahead log directory; use [a-z][a-z0-9.-]*`,
      );
    }
    return join(this.options.walDir, channelId);
  }

  /** Solo's only orderer is always the channel's consenter. */
  isChannelMember(): boolean {
    return true;
  }

  /** Fabric's solo has no consensus metadata to check. */
  validateConsensusMetadata(): void {}

  handleChain(support: ConsenterSupport, _metadata: Buffer | undefined): SoloChain {
    const previous = this.chains.get(support.channelId);
    const chain = new SoloChain(
      support,
      {
        walDir: this.walDirFor(support.channelId),
        walCompactThresholdBytes: this.options.walCompactThresholdBytes,
      },
      {
        walStorage: this.walStorage,
        decodeEnvelope: this.deps.decodeEnvelope,
        // Two live chains on one channel would fork its ledger and share one log.
        previousChainHalted: previous?.halt(),
      },
    );
    this.chains.set(support.channelId, chain);
    return chain;
  }

  /**
   * Halts the channel's chain and deletes its WAL. Call when the channel is removed: a channel
   * joined again later under the same name must not replay the old channel's messages.
   */
  async removeChannel(channelId: string): Promise<void> {
    const chain = this.chains.get(channelId);
    this.chains.delete(channelId);
    await chain?.halt();
    const dir = this.walDirFor(channelId);
    if (dir !== undefined) await this.walStorage.remove(dir);
  }
}
