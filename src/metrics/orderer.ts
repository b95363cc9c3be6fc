// The orderer's metrics, with Fabric's names, labels and buckets (Fabric's metrics reference,
// orderer section), and adapters for the hooks the components expose: BroadcastObserver,
// DeliverObserver, BlockCutter's observeBlockFillDuration, FileLedgerFactory's onCommit.
import { common } from '../protos/index.js';
import type { BroadcastObserver } from '../broadcast/index.js';
import type { DeliverObserver } from '../deliver/index.js';
import type { CommitEvent } from '../ledger/index.js';
import type { Counter, Gauge, Histogram, Labels, MetricsProvider } from './provider.js';
import { newEtcdraftMetrics, type EtcdraftMetrics } from './etcdraft.js';
import { newClusterMetrics, type ClusterMetrics } from './cluster.js';
import { newKafkaMetrics, type KafkaMetrics } from './kafka.js';

// The orderer's Deliver service serves whole blocks (Fabric's orderer responseSender).
const ORDERER_DELIVER_LABELS = { filtered: 'false', data_type: 'block' } as const;

// common/ledger/blkstorage: commit times are short, so Fabric uses finer buckets than DefBuckets.
const LEDGER_COMMIT_BUCKETS = [0.005, 0.01, 0.015, 0.05, 0.1, 1, 10];

function headerTypeName(type: number): string {
  return type < 0 ? 'unknown' : (common.HeaderType[type] ?? String(type));
}

function statusName(status: number): string {
  return common.Status[status] ?? String(status);
}

// Label objects are made once per distinct label set and reused, so observing a message allocates
// nothing here. Channel names come from clients (a Broadcast to a channel that does not exist is
// counted under its name, as Fabric does), so the caches stop growing at this many channels; past
// it, label objects are made per call.
const MAX_CACHED_CHANNELS = 1024;

/**
 * channel -> key -> labels, bounded by MAX_CACHED_CHANNELS channels. `make` runs on a miss only,
 * and is given once, so a hit allocates nothing (no closure per call).
 */
class LabelCache<K> {
  private readonly byChannel = new Map<string, Map<K, Labels>>();

  constructor(private readonly make: (channel: string, key: K) => Labels) {}

  get(channel: string, key: K): Labels {
    let forChannel = this.byChannel.get(channel);
    if (!forChannel) {
      if (this.byChannel.size >= MAX_CACHED_CHANNELS) return this.make(channel, key);
      forChannel = new Map();
      this.byChannel.set(channel, forChannel);
    }
    let labels = forChannel.get(key);
    if (!labels) {
      labels = Object.freeze(this.make(channel, key));
      forChannel.set(key, labels);
    }
    return labels;
  }
}

// Broadcast label key: header type (-1 when unknown) and status in one number.
const BROADCAST_KEY_SHIFT = 0x10000;
const broadcastKey = (type: number, status: number) => (type + 1) * BROADCAST_KEY_SHIFT + status;

/** Fabric's types.Status as participation_status reports it. */
const PARTICIPATION_STATUS: Readonly<Record<string, number>> = {
  inactive: 0,
  active: 1,
  onboarding: 2,
  failed: 3,
};
/** Fabric's types.ConsensusRelation as participation_consensus_relation reports it. */
const PARTICIPATION_RELATION: Readonly<Record<string, number>> = {
  other: 0,
  consenter: 1,
  follower: 2,
  'config-tracker': 3,
};

export interface ParticipationMetrics {
  /** 0 inactive, 1 active, 2 onboarding, 3 failed. */
  readonly status: Gauge;
  /** 0 other, 1 consenter, 2 follower, 3 config-tracker. */
  readonly consensusRelation: Gauge;
}

export interface BroadcastMetrics {
  readonly validateDuration: Histogram;
  readonly enqueueDuration: Histogram;
  readonly processedCount: Counter;
}

export interface DeliverMetrics {
  readonly streamsOpened: Counter;
  readonly streamsClosed: Counter;
  readonly requestsReceived: Counter;
  readonly requestsCompleted: Counter;
  readonly blocksSent: Counter;
}

export interface LedgerMetrics {
  readonly blockchainHeight: Gauge;
  readonly blockstorageCommitTime: Histogram;
}

function newBroadcastMetrics(p: MetricsProvider): BroadcastMetrics {
  const broadcastLabels = ['channel', 'type', 'status'];
  return {
    validateDuration: p.newHistogram({
      namespace: 'broadcast',
      name: 'validate_duration',
      help: 'The time to validate a transaction in seconds.',
      labelNames: broadcastLabels,
    }),
    enqueueDuration: p.newHistogram({
      namespace: 'broadcast',
      name: 'enqueue_duration',
      help: 'The time to enqueue a transaction in seconds.',
      labelNames: broadcastLabels,
    }),
    processedCount: p.newCounter({
      namespace: 'broadcast',
      name: 'processed_count',
      help: 'The number of transactions processed.',
      labelNames: broadcastLabels,
    }),
  };
}

function newDeliverMetrics(p: MetricsProvider): DeliverMetrics {
  const deliverLabels = ['channel', 'filtered', 'data_type'];
  return {
    streamsOpened: p.newCounter({
      namespace: 'deliver',
      name: 'streams_opened',
      help: 'The number of GRPC streams that have been opened for the deliver service.',
    }),
    streamsClosed: p.newCounter({
      namespace: 'deliver',
      name: 'streams_closed',
      help: 'The number of GRPC streams that have been closed for the deliver service.',
    }),
    requestsReceived: p.newCounter({
      namespace: 'deliver',
      name: 'requests_received',
      help: 'The number of deliver requests that have been received.',
      labelNames: deliverLabels,
    }),
    requestsCompleted: p.newCounter({
      namespace: 'deliver',
      name: 'requests_completed',
      help: 'The number of deliver requests that have been completed.',
      labelNames: [...deliverLabels, 'success'],
    }),
    blocksSent: p.newCounter({
      namespace: 'deliver',
      name: 'blocks_sent',
      help: 'The number of blocks sent by the deliver service.',
      labelNames: deliverLabels,
    }),
  };
}

function newLedgerMetrics(p: MetricsProvider): LedgerMetrics {
  const channelLabels = ['channel'];
  return {
    blockchainHeight: p.newGauge({
      namespace: 'ledger',
      name: 'blockchain_height',
      help: 'Height of the chain in blocks.',
      labelNames: channelLabels,
    }),
    blockstorageCommitTime: p.newHistogram({
      namespace: 'ledger',
      name: 'blockstorage_commit_time',
      help: 'Time taken in seconds for committing the block to storage.',
      labelNames: channelLabels,
      buckets: LEDGER_COMMIT_BUCKETS,
    }),
  };
}

function newParticipationMetrics(p: MetricsProvider): ParticipationMetrics {
  const channelLabels = ['channel'];
  return {
    status: p.newGauge({
      namespace: 'participation',
      name: 'status',
      help: 'The channel participation status of the node: 0 if inactive, 1 if active, 2 if onboarding, 3 if failed.',
      labelNames: channelLabels,
    }),
    consensusRelation: p.newGauge({
      namespace: 'participation',
      name: 'consensus_relation',
      help: 'The channel participation consensus relation of the node: 0 if other, 1 if consenter, 2 if follower, 3 if config-tracker.',
      labelNames: channelLabels,
    }),
  };
}

export class OrdererMetrics {
  readonly broadcast: BroadcastMetrics;
  readonly deliver: DeliverMetrics;
  readonly blockFillDuration: Histogram;
  readonly ledger: LedgerMetrics;
  readonly kafka: KafkaMetrics;
  readonly etcdraft: EtcdraftMetrics;
  readonly cluster: ClusterMetrics;
  readonly participation: ParticipationMetrics;
  readonly loggingEntriesWritten: Counter;
  readonly fabricVersion: Gauge;

  constructor(options: { version: string }, deps: { provider: MetricsProvider }) {
    const p = deps.provider;
    this.broadcast = newBroadcastMetrics(p);
    this.deliver = newDeliverMetrics(p);
    this.blockFillDuration = p.newHistogram({
      namespace: 'blockcutter',
      name: 'block_fill_duration',
      help: 'The time from first transaction enqueing to the block being cut in seconds.',
      labelNames: ['channel'],
    });
    this.ledger = newLedgerMetrics(p);
    this.kafka = newKafkaMetrics(p);
    this.etcdraft = newEtcdraftMetrics(p);
    this.cluster = newClusterMetrics(p);
    this.participation = newParticipationMetrics(p);
    this.loggingEntriesWritten = p.newCounter({
      namespace: 'logging',
      name: 'entries_written',
      help: 'Number of log entries that are written',
      labelNames: ['level'],
    });
    this.fabricVersion = p.newGauge({
      namespace: 'fabric',
      name: 'version',
      help: 'The active version of Fabric.',
      labelNames: ['version'],
    });
    this.fabricVersion.set(1, { version: options.version });
  }

  /**
   * For BroadcastHandler's `observer` (Fabric's broadcast MetricsTracker.Record). One frozen label
   * object per (channel, type, status), made on first use.
   */
  broadcastObserver(): BroadcastObserver {
    const cache = new LabelCache<number>((channel, key) => ({
      channel,
      type: headerTypeName(Math.floor(key / BROADCAST_KEY_SHIFT) - 1),
      status: statusName(key % BROADCAST_KEY_SHIFT),
    }));
    const { validateDuration, enqueueDuration, processedCount } = this.broadcast;
    return {
      processed: ({ channel, type, status, validateMs, enqueueMs }) => {
        const labels = cache.get(channel || 'unknown', broadcastKey(type, status));
        validateDuration.observe(validateMs / 1000, labels);
        // A message rejected while validating never reached the consenter: no enqueue time (as Fabric).
        if (enqueueMs > 0) enqueueDuration.observe(enqueueMs / 1000, labels);
        processedCount.add(1, labels);
      },
    };
  }

  /** For DeliverHandler's `observer`. Requests that fail before their channel is known are not counted, as in Fabric. */
  deliverObserver(): Required<DeliverObserver> {
    const plain = new LabelCache<'plain'>((channel) => ({ channel, ...ORDERER_DELIVER_LABELS }));
    const completed = new LabelCache<boolean>((channel, success) => ({
      channel,
      ...ORDERER_DELIVER_LABELS,
      success: String(success),
    }));
    const labelsOf = (channel: string) => plain.get(channel, 'plain');
    const { requestsReceived, requestsCompleted, blocksSent } = this.deliver;
    return {
      requestReceived: (channel) => {
        requestsReceived.add(1, labelsOf(channel));
      },
      requestCompleted: (channel, status) => {
        if (!channel) return;
        const success = status === common.Status.SUCCESS;
        requestsCompleted.add(1, completed.get(channel, success));
      },
      blockSent: (channel) => {
        blocksSent.add(1, labelsOf(channel));
      },
    };
  }

  /** For the gRPC Deliver service: one call per stream opened and closed. */
  deliverStreamObserver(): { opened(): void; closed(): void } {
    const { streamsOpened, streamsClosed } = this.deliver;
    return {
      opened: () => streamsOpened.add(1),
      closed: () => streamsClosed.add(1),
    };
  }

  /**
   * For the registrar's `onChannelInfo` (Fabric's ReportConsensusRelationAndStatusMetrics): the
   * channel's status and consensus relation, or, for a channel that was removed, no series at all.
   */
  participationObserver(): (
    channel: string,
    info: { consensusRelation: string; status: string } | undefined,
  ) => void {
    const { status, consensusRelation } = this.participation;
    return (channel, info) => {
      const labels = { channel };
      if (!info) {
        status.remove?.(labels);
        consensusRelation.remove?.(labels);
        return;
      }
      status.set(PARTICIPATION_STATUS[info.status] ?? 0, labels);
      consensusRelation.set(PARTICIPATION_RELATION[info.consensusRelation] ?? 0, labels);
    };
  }

  /** For BlockCutter's `observeBlockFillDuration` of one channel's cutter. */
  blockFillObserver(channel: string): (seconds: number) => void {
    return (seconds) => this.blockFillDuration.observe(seconds, { channel });
  }

  /** For FileLedgerFactory's `onCommit`: height and commit time per group commit. */
  ledgerCommitObserver(): (event: CommitEvent) => void {
    return ({ channelId, height, durationMs }) => {
      this.ledger.blockchainHeight.set(height, { channel: channelId });
      this.ledger.blockstorageCommitTime.observe(durationMs / 1000, { channel: channelId });
    };
  }

  /** For LoggingSystem.observeEntries. */
  loggingObserver(): (level: string) => void {
    const labels = new Map<string, Labels>();
    return (level) => {
      let forLevel = labels.get(level);
      if (!forLevel) {
        forLevel = Object.freeze({ level });
        labels.set(level, forLevel);
      }
      this.loggingEntriesWritten.add(1, forLevel);
    };
  }
}
