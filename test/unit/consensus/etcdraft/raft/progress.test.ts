// Port of etcd raft v3.5.9 tracker/progress_test.go.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Inflights } from '../../../../../src/consensus/etcdraft/raft/tracker/inflights.js';
import { Progress } from '../../../../../src/consensus/etcdraft/raft/tracker/progress.js';
import { StateType } from '../../../../../src/consensus/etcdraft/raft/tracker/state.js';

describe('Progress (etcd tracker/progress_test.go)', () => {
  it('TestProgressString', () => {
    const ins = new Inflights(1);
    ins.add(123);
    const pr = new Progress({
      match: 1,
      next: 2,
      state: StateType.StateSnapshot,
      pendingSnapshot: 123,
      recentActive: false,
      probeSent: true,
      isLearner: true,
      inflights: ins,
    });
    assert.equal(
      pr.toString(),
      'StateSnapshot match=1 next=2 learner paused pendingSnap=123 inactive inflight=1[full]',
    );
  });

  it('TestProgressIsPaused', () => {
    const tests: [StateType, boolean, boolean][] = [
      [StateType.StateProbe, false, false],
      [StateType.StateProbe, true, true],
      [StateType.StateReplicate, false, false],
      [StateType.StateReplicate, true, false],
      [StateType.StateSnapshot, false, true],
      [StateType.StateSnapshot, true, true],
    ];
    tests.forEach(([state, paused, w], i) => {
      const p = new Progress({ state, probeSent: paused, inflights: new Inflights(256) });
      assert.equal(p.isPaused(), w, `#${i}`);
    });
  });

  // MaybeUpdate and MaybeDecrTo reset ProbeSent.
  it('TestProgressResume', () => {
    const p = new Progress({ next: 2, probeSent: true, inflights: new Inflights(256) });
    p.maybeDecrTo(1, 1);
    assert.equal(p.probeSent, false);
    p.probeSent = true;
    p.maybeUpdate(2);
    assert.equal(p.probeSent, false);
  });

  it('TestProgressBecomeProbe', () => {
    const match = 1;
    const tests: [Progress, number][] = [
      [new Progress({ state: StateType.StateReplicate, match, next: 5, inflights: new Inflights(256) }), 2],
      // snapshot finish
      [
        new Progress({
          state: StateType.StateSnapshot,
          match,
          next: 5,
          pendingSnapshot: 10,
          inflights: new Inflights(256),
        }),
        11,
      ],
      // snapshot failure
      [
        new Progress({
          state: StateType.StateSnapshot,
          match,
          next: 5,
          pendingSnapshot: 0,
          inflights: new Inflights(256),
        }),
        2,
      ],
    ];
    tests.forEach(([p, wnext], i) => {
      p.becomeProbe();
      assert.equal(p.state, StateType.StateProbe, `#${i}`);
      assert.equal(p.match, match, `#${i}`);
      assert.equal(p.next, wnext, `#${i}`);
    });
  });

  it('TestProgressBecomeReplicate', () => {
    const p = new Progress({ state: StateType.StateProbe, match: 1, next: 5, inflights: new Inflights(256) });
    p.becomeReplicate();
    assert.equal(p.state, StateType.StateReplicate);
    assert.equal(p.match, 1);
    assert.equal(p.next, p.match + 1);
  });

  it('TestProgressBecomeSnapshot', () => {
    const p = new Progress({ state: StateType.StateProbe, match: 1, next: 5, inflights: new Inflights(256) });
    p.becomeSnapshot(10);
    assert.equal(p.state, StateType.StateSnapshot);
    assert.equal(p.match, 1);
    assert.equal(p.pendingSnapshot, 10);
  });

  it('TestProgressUpdate', () => {
    const prevM = 3;
    const prevN = 5;
    const tests: [number, number, number, boolean][] = [
      [prevM - 1, prevM, prevN, false], // do not decrease match, next
      [prevM, prevM, prevN, false], // do not decrease next
      [prevM + 1, prevM + 1, prevN, true], // increase match, do not decrease next
      [prevM + 2, prevM + 2, prevN + 1, true], // increase match, next
    ];
    tests.forEach(([update, wm, wn, wok], i) => {
      const p = new Progress({ match: prevM, next: prevN, inflights: new Inflights(256) });
      assert.equal(p.maybeUpdate(update), wok, `#${i}`);
      assert.equal(p.match, wm, `#${i}`);
      assert.equal(p.next, wn, `#${i}`);
    });
  });

  it('TestProgressMaybeDecr', () => {
    const tests: [StateType, number, number, number, number, boolean, number][] = [
      // state replicate and rejected is not greater than match
      [StateType.StateReplicate, 5, 10, 5, 5, false, 10],
      // state replicate and rejected is not greater than match
      [StateType.StateReplicate, 5, 10, 4, 4, false, 10],
      // state replicate and rejected is greater than match: directly decrease to match+1
      [StateType.StateReplicate, 5, 10, 9, 9, true, 6],
      // next-1 != rejected is always false
      [StateType.StateProbe, 0, 0, 0, 0, false, 0],
      // next-1 != rejected is always false
      [StateType.StateProbe, 0, 10, 5, 5, false, 10],
      // next>1 = decremented by 1
      [StateType.StateProbe, 0, 10, 9, 9, true, 9],
      // next>1 = decremented by 1
      [StateType.StateProbe, 0, 2, 1, 1, true, 1],
      // next<=1 = reset to 1
      [StateType.StateProbe, 0, 1, 0, 0, true, 1],
      // decrease to min(rejected, last+1)
      [StateType.StateProbe, 0, 10, 9, 2, true, 3],
      // rejected < 1, reset to 1
      [StateType.StateProbe, 0, 10, 9, 0, true, 1],
    ];
    tests.forEach(([state, m, n, rejected, last, w, wn], i) => {
      const p = new Progress({ state, match: m, next: n, inflights: new Inflights(256) });
      assert.equal(p.maybeDecrTo(rejected, last), w, `#${i}`);
      assert.equal(p.match, m, `#${i}`);
      assert.equal(p.next, wn, `#${i}`);
    });
  });
});
