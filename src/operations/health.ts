// Health checks for GET /healthz (Fabric's fabric-lib-go healthz): each registered check is a
// component name and an async function that throws when the component is unhealthy; the error's
// message becomes the `reason` operators see.
import { randomBytes } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../errors.js';

export interface HealthCheck {
  readonly component: string;
  check(): Promise<void>;
}

export interface FailedCheck {
  component: string;
  reason: string;
}

/**
 * The ledger folder accepts writes: a file is created, written, fsynced and deleted under
 * FileLedger.Location. Fails on a full or read-only disk, a missing folder or one that is a file.
 */
export function ledgerWritableCheck(options: { location: string; component?: string }): HealthCheck {
  return {
    component: options.component ?? 'ledger',
    async check() {
      const probe = join(options.location, `.healthz-${randomBytes(6).toString('hex')}`);
      let handle;
      try {
        handle = await open(probe, 'wx');
        await handle.writeFile('healthz');
        await handle.sync();
      } catch (err) {
        throw new Error(
          `ledger folder ${options.location} is not writable: ${errorMessage(err)}; check the disk and FileLedger.Location`,
          { cause: err },
        );
      } finally {
        await handle?.close();
      }
      await unlink(probe);
    },
  };
}

/** What chainHealthCheck needs of the registrar. */
export interface ChainHealthSource {
  channelIds(): string[];
  getChain(
    channelId: string,
  ): { readonly chain: { errored(): Error | undefined; stalled?(): Error | undefined } } | undefined;
}

/**
 * Every channel's consenter is serving: fails naming each channel whose chain.errored() reports
 * an error (halted, failed, Kafka disconnected...). Channels without a consenter (being joined,
 * or followers) are not failures by themselves.
 */
export function chainHealthCheck(registrar: ChainHealthSource, component = 'consensus'): HealthCheck {
  return {
    component,
    async check() {
      const failures: string[] = [];
      for (const channelId of registrar.channelIds()) {
        const support = registrar.getChain(channelId);
        let error: Error | undefined;
        try {
          // A chain stalled on a full disk still serves (Deliver) but is not healthy until it writes again.
          error = support?.chain.errored() ?? support?.chain.stalled?.();
        } catch {
          continue; // no consenter attached to this channel
        }
        if (error) failures.push(`channel ${channelId}: ${error.message}`);
      }
      if (failures.length > 0) throw new Error(failures.join('; '));
    },
  };
}

/** What etcdraftLeaderCheck needs of the etcdraft consenter. */
export interface LeaderlessChannelSource {
  leaderlessChannels(): readonly { readonly channel: string; readonly reason: string }[];
}

/**
 * Every etcdraft channel running on this node knows of a Raft leader: fails naming each one that
 * does not, with why (election in progress, or which consenters cannot be reached). Fabric's
 * orderer has no such check (its /healthz stays 200 while a channel has lost its quorum); this
 * one goes beyond it so that a load balancer or an operator sees a channel that cannot order.
 */
export function etcdraftLeaderCheck(source: LeaderlessChannelSource, component = 'etcdraft'): HealthCheck {
  return {
    component,
    async check() {
      const leaderless = source.leaderlessChannels();
      if (leaderless.length > 0)
        throw new Error(
          leaderless
            // The chain's reason names its channel already; say it once.
            .map(({ channel, reason }) =>
              reason.includes(channel) ? reason : `channel ${channel}: ${reason}`,
            )
            .join('; '),
        );
    },
  };
}

/** Runs the checks concurrently; a check that throws (or rejects) is a failed check. */
export async function runHealthChecks(checks: Iterable<HealthCheck>): Promise<FailedCheck[]> {
  const list = [...checks];
  // async wrapper: a check that throws synchronously fails like one that rejects.
  const results = await Promise.allSettled(list.map(async (c) => c.check()));
  const failed: FailedCheck[] = [];
  results.forEach((result, i) => {
    if (result.status === 'rejected')
      failed.push({ component: list[i]!.component, reason: errorMessage(result.reason) });
  });
  return failed.sort((a, b) => a.component.localeCompare(b.component));
}
