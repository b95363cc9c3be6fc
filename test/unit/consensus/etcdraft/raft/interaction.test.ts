// Replays etcd raft v3.5.9's interaction scripts (raft/testdata/*.txt) against our core, as
// etcd's interaction_test.go does: a fresh InteractionEnv per script, every directive's output
// compared byte for byte with the script's (see the fixture README for the adaptations).
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runDataDrivenFile } from '../../../../support/datadriven.js';
import { InteractionEnv } from '../../../../support/rafttest/interaction-env.js';
import { describeEntry, goFormatConfChange } from '../../../../../src/consensus/etcdraft/raft/describe.js';
import { seededRandom } from '../../../../../src/consensus/etcdraft/raft/raft.js';
import { RawNode } from '../../../../../src/consensus/etcdraft/raft/rawnode.js';
import { MemoryStorage } from '../../../../../src/consensus/etcdraft/raft/storage.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  isEmptyHardState,
} from '../../../../../src/consensus/etcdraft/raft/types.js';

const TESTDATA = fileURLToPath(
  new URL('../../../../fixtures/etcd-raft-v3.5.9/interaction/', import.meta.url),
);

describe('etcd raft interaction scripts (raft/testdata)', () => {
  const files = readdirSync(TESTDATA)
    .filter((name) => name.endsWith('.txt'))
    .sort();
  it('has the ten etcd v3.5.9 scripts', () => assert.equal(files.length, 10));
  for (const name of files) {
    it(name, () => {
      const env = new InteractionEnv();
      assert.ok(runDataDrivenFile(TESTDATA + name, (d) => env.handle(d)) > 0);
    });
  }
});

// Focused checks of the core divergences the scripts revealed, so a regression names its cause.
describe('divergences from etcd found by the interaction scripts', () => {
  const newLeader = (): { rn: RawNode; storage: MemoryStorage } => {
    const storage = new MemoryStorage();
    const rn = new RawNode({
      id: 1,
      electionTick: 3,
      heartbeatTick: 1,
      storage,
      maxSizePerMsg: Number.MAX_SAFE_INTEGER,
      maxInflightMsgs: 256,
      random: seededRandom(1),
    });
    rn.bootstrap([{ id: 1 }]);
    const persist = (): void => {
      const rd = rn.ready();
      storage.append(rd.entries);
      if (!isEmptyHardState(rd.hardState)) storage.setHardState(rd.hardState);
      rn.advance(rd);
    };
    persist();
    rn.campaign();
    persist();
    return { rn, storage };
  };

  it("a Ready's entries stay as handed out when raft appends before advance (Go slice semantics)", () => {
    const { rn, storage } = newLeader();
    const text = new TextEncoder();
    rn.propose(text.encode('a'));
    const rd = rn.ready();
    assert.deepEqual(
      rd.entries.map((e) => describeEntry(e)),
      ['2/3 EntryNormal "a"'],
    );
    storage.append(rd.entries);
    // A proposal between ready() and advance() (or the auto-leave entry raft appends inside
    // advance) belongs to the next Ready, not to this one.
    rn.propose(text.encode('b'));
    assert.equal(rd.entries.length, 1, 'the handed-out Ready changed after ready() returned');
    rn.advance(rd);
    const next = rn.ready();
    assert.deepEqual(
      next.entries.map((e) => describeEntry(e)),
      ['2/4 EntryNormal "b"'],
      'the entry proposed before advance was marked stable without being handed out',
    );
  });

  it('logs a refused conf change with Go %v of the ConfChange / ConfChangeV2 value', () => {
    assert.equal(
      goFormatConfChange({ type: ConfChangeType.AddNode, nodeId: 2, context: undefined, id: 0 }),
      '{ConfChangeAddNode 2 [] 0}',
    );
    assert.equal(
      goFormatConfChange({
        transition: ConfChangeTransition.JointExplicit,
        changes: [
          { type: ConfChangeType.AddLearnerNode, nodeId: 3 },
          { type: ConfChangeType.RemoveNode, nodeId: 4 },
        ],
        context: Uint8Array.of(1, 2),
      }),
      '{ConfChangeTransitionJointExplicit [{ConfChangeAddLearnerNode 3} {ConfChangeRemoveNode 4}] [1 2]}',
    );
  });
});
