// Why a channel has no Raft leader, and when to retry: the SERVICE_UNAVAILABLE message Broadcast
// and STRICT Deliver give while there is none (Fabric only says "no Raft leader"). Pure: the chain
// passes what it knows (Raft state, since when, which consenters it cannot reach) and the clock.
import { StateType } from './raft/index.js';

export interface NoLeaderFacts {
  readonly channel: string;
  readonly selfId: number;
  /** This node's Raft state now. */
  readonly raftState: StateType;
  /** When this node last lost (or started without) a leader, in clock milliseconds. */
  readonly leaderlessSince: number;
  readonly now: number;
  /** ElectionTick × TickInterval: how long an election round takes. */
  readonly electionTimeoutMs: number;
  /** The other consenters, with their cluster endpoints (host:port). */
  readonly consenters: readonly { readonly id: number; readonly endpoint: string }[];
  /** Consenters this node failed to reach since it last heard from them, with the last failure. */
  readonly unreachable: ReadonlyMap<number, string>;
}

export function noLeaderMessage(facts: NoLeaderFacts): string {
  const clusterSize = facts.consenters.length + 1;
  const quorum = Math.floor(clusterSize / 2) + 1;
  const unreachable = facts.consenters.filter((c) => facts.unreachable.has(c.id));
  const reachable = clusterSize - unreachable.length;
  const since = `since ${new Date(facts.leaderlessSince).toISOString()} (${formatDuration(
    Math.max(0, facts.now - facts.leaderlessSince),
  )} ago)`;
  const retry = `retry in about ${formatDuration(facts.electionTimeoutMs)}`;
  const head = `no Raft leader for channel ${facts.channel}`;
  const cannotReach = unreachable
    .map((c) => `consenter ${c.id} at ${c.endpoint} (${facts.unreachable.get(c.id)})`)
    .join(', ');
  if (reachable < quorum)
    return (
      `${head}: no quorum reachable ${since}: this node (consenter ${facts.selfId}) cannot reach ${cannotReach}; ` +
      `${reachable} of ${clusterSize} consenters are reachable and a leader needs ${quorum}. ` +
      `Start or reconnect them, then ${retry}`
    );
  const role =
    facts.raftState === StateType.StateCandidate
      ? 'this node is a candidate'
      : facts.raftState === StateType.StatePreCandidate
        ? 'this node is a pre-candidate'
        : 'this node is a follower waiting for a leader';
  const alsoDown = unreachable.length > 0 ? ` (it cannot reach ${cannotReach})` : '';
  return `${head}: an election is in progress, ${role} ${since}${alsoDown}; ${retry}`;
}

/** 2000 -> "2s", 1500 -> "1.5s", 800 -> "800ms", 90000 -> "90s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return `${Math.round(ms / 100) / 10}s`;
}
