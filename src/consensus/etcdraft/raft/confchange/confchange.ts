// etcd raft v3.5.9 confchange/confchange.go: computes a new configuration and Progress map
// from the current ones and a list of single changes, without touching the tracker it reads.
// Where Go returns an error, these throw a RaftError with code 'config' and etcd's message.
import { RaftError } from '../errors.js';
import { MajorityConfig } from '../quorum/majority.js';
import { Inflights } from '../tracker/inflights.js';
import { Progress } from '../tracker/progress.js';
import type { ProgressMap } from '../tracker/progress.js';
import type { TrackerConfig } from '../tracker/tracker.js';
import type { ConfChangeSingle } from '../types.js';
import { ConfChangeType } from '../types.js';

// The part of a ProgressTracker a Changer reads.
export interface ChangerTracker {
  config: TrackerConfig;
  progress: ProgressMap;
  maxInflight: number;
}

export interface ChangeResult {
  config: TrackerConfig;
  progress: ProgressMap;
}

const configError = (message: string): RaftError => new RaftError('config', message);

export class Changer {
  readonly tracker: ChangerTracker;
  readonly lastIndex: number;

  constructor(tracker: ChangerTracker, lastIndex: number) {
    this.tracker = tracker;
    this.lastIndex = lastIndex;
  }

  // Verifies that the outgoing (=right) majority config of the joint config is empty and
  // initializes it with a copy of the incoming (=left) majority config, then applies the
  // changes to the incoming config.
  enterJoint(autoLeave: boolean, ccs: ConfChangeSingle[]): ChangeResult {
    const { config: cfg, progress: prs } = this.checkAndCopy();
    if (joint(cfg)) throw configError('config is already joint');
    if (cfg.voters.incoming.size === 0) {
      // We allow adding nodes to an empty config for convenience (testing and bootstrap),
      // but you can't enter a joint state.
      throw configError("can't make a zero-voter config joint");
    }
    // Copy incoming to outgoing.
    cfg.voters.outgoing = new MajorityConfig(cfg.voters.incoming.ids);
    this.apply(cfg, prs, ccs);
    cfg.autoLeave = autoLeave;
    return checkAndReturn(cfg, prs);
  }

  // Transitions out of a joint configuration: the outgoing config is dropped, learnersNext
  // become learners, and nodes in neither remaining role lose their Progress.
  leaveJoint(): ChangeResult {
    const { config: cfg, progress: prs } = this.checkAndCopy();
    if (!joint(cfg)) throw configError("can't leave a non-joint config");
    if (cfg.voters.outgoing.size === 0) throw configError(`configuration is not joint: ${cfg.toString()}`);
    for (const id of cfg.learnersNext ?? []) {
      cfg.learners = nilAwareAdd(cfg.learners, id);
      (prs.get(id) as Progress).isLearner = true;
    }
    cfg.learnersNext = undefined;
    for (const id of cfg.voters.outgoing.ids) {
      const isVoter = cfg.voters.incoming.has(id);
      const isLearner = cfg.learners?.has(id) ?? false;
      if (!isVoter && !isLearner) prs.delete(id);
    }
    cfg.voters.outgoing = new MajorityConfig();
    cfg.autoLeave = false;
    return checkAndReturn(cfg, prs);
  }

  // Carries out a series of changes that (in aggregate) mutate the incoming majority config
  // by at most one voter; the config must not be joint.
  simple(ccs: ConfChangeSingle[]): ChangeResult {
    const { config: cfg, progress: prs } = this.checkAndCopy();
    if (joint(cfg)) throw configError("can't apply simple config change in joint config");
    this.apply(cfg, prs, ccs);
    if (symdiff(this.tracker.config.voters.incoming.ids, cfg.voters.incoming.ids) > 1) {
      throw configError('more than one voter changed without entering joint config');
    }
    return checkAndReturn(cfg, prs);
  }

  // Applies the changes to the incoming majority config (the outgoing one is never touched).
  private apply(cfg: TrackerConfig, prs: ProgressMap, ccs: ConfChangeSingle[]): void {
    for (const cc of ccs) {
      // etcd replaces the NodeID with zero if it decides (downstream of raft) to not apply a
      // change, so we have to have explicit code here to ignore these.
      if (cc.nodeId === 0) continue;
      switch (cc.type) {
        case ConfChangeType.AddNode:
          this.makeVoter(cfg, prs, cc.nodeId);
          break;
        case ConfChangeType.AddLearnerNode:
          this.makeLearner(cfg, prs, cc.nodeId);
          break;
        case ConfChangeType.RemoveNode:
          this.remove(cfg, prs, cc.nodeId);
          break;
        case ConfChangeType.UpdateNode:
          break;
        default:
          throw configError(`unexpected conf type ${cc.type as number}`);
      }
    }
    if (cfg.voters.incoming.size === 0) throw configError('removed all voters');
  }

  private makeVoter(cfg: TrackerConfig, prs: ProgressMap, id: number): void {
    const pr = prs.get(id);
    if (pr === undefined) {
      this.initProgress(cfg, prs, id, false /* isLearner */);
      return;
    }
    pr.isLearner = false;
    cfg.learners = nilAwareDelete(cfg.learners, id);
    cfg.learnersNext = nilAwareDelete(cfg.learnersNext, id);
    cfg.voters.incoming.ids.add(id);
  }

  // Makes id a learner, or a learner-to-be (learnersNext) when it is still a voter of the
  // outgoing config, because a node must not be a voter and a learner at the same time.
  private makeLearner(cfg: TrackerConfig, prs: ProgressMap, id: number): void {
    const pr = prs.get(id);
    if (pr === undefined) {
      this.initProgress(cfg, prs, id, true /* isLearner */);
      return;
    }
    if (pr.isLearner) return;
    // Remove any existing voter in the incoming config...
    this.remove(cfg, prs, id);
    // ... but save the Progress.
    prs.set(id, pr);
    // Use LearnersNext if we can't add the learner to Learners directly, i.e. if the peer is
    // still tracked as a voter in the outgoing config. It will be turned into a learner in
    // LeaveJoint().
    if (cfg.voters.outgoing.has(id)) {
      cfg.learnersNext = nilAwareAdd(cfg.learnersNext, id);
    } else {
      pr.isLearner = true;
      cfg.learners = nilAwareAdd(cfg.learners, id);
    }
  }

  // Removes id from the voters and learners; its Progress goes unless it is an outgoing voter.
  private remove(cfg: TrackerConfig, prs: ProgressMap, id: number): void {
    if (!prs.has(id)) return;
    cfg.voters.incoming.ids.delete(id);
    cfg.learners = nilAwareDelete(cfg.learners, id);
    cfg.learnersNext = nilAwareDelete(cfg.learnersNext, id);
    // If the peer is still a voter in the outgoing config, keep the Progress.
    if (!cfg.voters.outgoing.has(id)) prs.delete(id);
  }

  private initProgress(cfg: TrackerConfig, prs: ProgressMap, id: number, isLearner: boolean): void {
    if (!isLearner) cfg.voters.incoming.ids.add(id);
    else cfg.learners = nilAwareAdd(cfg.learners, id);
    prs.set(
      id,
      new Progress({
        // Initializing the Progress with the last index means that the follower can be
        // probed (with the last index). Match stays zero.
        next: this.lastIndex,
        match: 0,
        inflights: new Inflights(this.tracker.maxInflight),
        isLearner,
        // When a node is first added, we should mark it as recently active. Otherwise,
        // CheckQuorum may cause us to step down if it is invoked before the added node has
        // had a chance to communicate with us.
        recentActive: true,
      }),
    );
  }

  // Copies the tracker's config and Progress map (the Progress values shallowly, sharing their
  // Inflights as Go's struct copy does) and checks the invariants.
  private checkAndCopy(): ChangeResult {
    const cfg = this.tracker.config.clone();
    const prs: ProgressMap = new Map();
    for (const [id, pr] of this.tracker.progress) prs.set(id, copyProgress(pr));
    return checkAndReturn(cfg, prs);
  }
}

export function copyProgress(pr: Progress): Progress {
  return new Progress({
    match: pr.match,
    next: pr.next,
    state: pr.state,
    pendingSnapshot: pr.pendingSnapshot,
    recentActive: pr.recentActive,
    probeSent: pr.probeSent,
    inflights: pr.inflights,
    isLearner: pr.isLearner,
  });
}

// Makes sure that the config and progress are compatible with each other.
function checkInvariants(cfg: TrackerConfig, prs: ProgressMap): void {
  for (const ids of [
    cfg.voters.ids(),
    cfg.learners ?? new Set<number>(),
    cfg.learnersNext ?? new Set<number>(),
  ]) {
    for (const id of ids) {
      if (!prs.has(id)) throw configError(`no progress for ${id}`);
    }
  }
  // Any staged learner was staged because it could not be directly added due to a
  // conflicting voter in the outgoing config.
  for (const id of cfg.learnersNext ?? []) {
    if (!cfg.voters.outgoing.has(id)) throw configError(`${id} is in LearnersNext, but not Voters[1]`);
    if ((prs.get(id) as Progress).isLearner) {
      throw configError(`${id} is in LearnersNext, but is already marked as learner`);
    }
  }
  // Conversely Learners and Voters doesn't intersect at all.
  for (const id of cfg.learners ?? []) {
    if (cfg.voters.outgoing.has(id)) throw configError(`${id} is in Learners and Voters[1]`);
    if (cfg.voters.incoming.has(id)) throw configError(`${id} is in Learners and Voters[0]`);
    if (!(prs.get(id) as Progress).isLearner)
      throw configError(`${id} is in Learners, but is not marked as learner`);
  }
  if (!joint(cfg)) {
    // An empty outgoing config stands for Go's nil one here, so etcd's "Voters[1] must be nil
    // when not joint" holds by construction.
    if (cfg.learnersNext !== undefined) throw configError('cfg.LearnersNext must be nil when not joint');
    if (cfg.autoLeave) throw configError('AutoLeave must be false when not joint');
  }
}

function checkAndReturn(cfg: TrackerConfig, prs: ProgressMap): ChangeResult {
  checkInvariants(cfg, prs);
  return { config: cfg, progress: prs };
}

// Go's nil-aware map helpers: an empty set is represented as undefined (nil) so that the
// config's String() prints learners only when there are some.
function nilAwareAdd(set: Set<number> | undefined, id: number): Set<number> {
  const result = set ?? new Set<number>();
  result.add(id);
  return result;
}

function nilAwareDelete(set: Set<number> | undefined, id: number): Set<number> | undefined {
  if (set === undefined) return undefined;
  set.delete(id);
  return set.size === 0 ? undefined : set;
}

// The number of elements in the symmetric difference of l and r.
function symdiff(l: ReadonlySet<number>, r: ReadonlySet<number>): number {
  let n = 0;
  for (const id of l) if (!r.has(id)) n++;
  for (const id of r) if (!l.has(id)) n++;
  return n;
}

function joint(cfg: TrackerConfig): boolean {
  return cfg.voters.outgoing.size > 0;
}

// etcd's confchange.Describe: the changes as "AddNode(1) RemoveNode(2)".
export function describeConfChanges(ccs: ConfChangeSingle[]): string {
  return ccs.map((cc) => `${confChangeTypeName(cc.type)}(${cc.nodeId})`).join(' ');
}

export function confChangeTypeName(type: ConfChangeType): string {
  switch (type) {
    case ConfChangeType.AddNode:
      return 'ConfChangeAddNode';
    case ConfChangeType.RemoveNode:
      return 'ConfChangeRemoveNode';
    case ConfChangeType.UpdateNode:
      return 'ConfChangeUpdateNode';
    case ConfChangeType.AddLearnerNode:
      return 'ConfChangeAddLearnerNode';
    default:
      return String(type as number);
  }
}
