// etcd raft v3.5.9 confchange/restore.go: rebuilds the tracker configuration a ConfState
// describes by running the conf changes that lead to it.
import type { TrackerConfig } from '../tracker/tracker.js';
import type { ProgressMap } from '../tracker/progress.js';
import type { ConfChangeSingle, ConfState } from '../types.js';
import { ConfChangeType } from '../types.js';
import type { ChangeResult, ChangerTracker } from './confchange.js';
import { Changer } from './confchange.js';

// Translates a ConfState into (outgoing, incoming) change lists: the outgoing ones, applied
// first as simple changes, build the outgoing config; the incoming ones, applied with
// enterJoint, turn it into the ConfState's joint config. Outside a joint config only the
// incoming list is used, one simple change at a time.
export function toConfChangeSingle(cs: ConfState): {
  outgoing: ConfChangeSingle[];
  incoming: ConfChangeSingle[];
} {
  const outgoing: ConfChangeSingle[] = [];
  const incoming: ConfChangeSingle[] = [];
  for (const id of cs.votersOutgoing) {
    // If there are outgoing voters, first add them one by one so that the (non-joint) config
    // has them all.
    outgoing.push({ type: ConfChangeType.AddNode, nodeId: id });
  }
  // We're done constructing the outgoing slice, now on to the incoming one (which will apply
  // on top of the config created by the outgoing slice).

  // First, we'll remove all of the outgoing voters.
  for (const id of cs.votersOutgoing) incoming.push({ type: ConfChangeType.RemoveNode, nodeId: id });
  // Then we'll add the incoming voters and learners.
  for (const id of cs.voters) incoming.push({ type: ConfChangeType.AddNode, nodeId: id });
  for (const id of cs.learners) incoming.push({ type: ConfChangeType.AddLearnerNode, nodeId: id });
  // Same for LearnersNext; these are nodes we want to be learners but which are currently
  // voters in the outgoing config.
  for (const id of cs.learnersNext) incoming.push({ type: ConfChangeType.AddLearnerNode, nodeId: id });
  return { outgoing, incoming };
}

type Operation = (changer: Changer) => ChangeResult;

function chain(tracker: ChangerTracker, lastIndex: number, ops: Operation[]): ChangeResult {
  // A private copy of the tracker's fields, as Go's Changer is passed by value.
  let config: TrackerConfig = tracker.config;
  let progress: ProgressMap = tracker.progress;
  for (const op of ops) {
    const result = op(new Changer({ config, progress, maxInflight: tracker.maxInflight }, lastIndex));
    config = result.config;
    progress = result.progress;
  }
  return { config, progress };
}

// Takes a Changer (which must represent an empty configuration), and runs a sequence of
// changes enacting the configuration described in the ConfState. Throws RaftError('config').
export function restore(changer: Changer, cs: ConfState): ChangeResult {
  const { outgoing, incoming } = toConfChangeSingle(cs);
  const ops: Operation[] = [];
  if (outgoing.length === 0) {
    // No outgoing config, so just apply the incoming changes one by one.
    for (const cc of incoming) ops.push((chg) => chg.simple([cc]));
  } else {
    // The ConfState describes a joint configuration.
    //
    // First, apply all of the changes of the outgoing config one by one, so that it
    // temporarily becomes the incoming active config. For example, if the config is
    // (1 2 3)&(2 3 4), this will establish (2 3 4)&().
    for (const cc of outgoing) ops.push((chg) => chg.simple([cc]));
    // Now enter the joint state, which rotates the above additions into the outgoing config,
    // and adds the incoming config in. Continuing the example above, we'd get
    // (1 2 3)&(2 3 4), i.e. the incoming operations would be removing 2,3,4 and then adding
    // in 1,2,3 while transitioning into a joint state.
    ops.push((chg) => chg.enterJoint(cs.autoLeave, incoming));
  }
  return chain(changer.tracker, changer.lastIndex, ops);
}
