// The eviction suspicion's decisions as tables: when a leaderless chain pulls the last config
// block (once per threshold, counting again after a leader was seen), and what that block means.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EvictionSuspicion,
  LEADERLESS_CHECK_INTERVAL_MS,
  evictionVerdict,
  type EvictionEvidence,
  type EvictionVerdict,
} from '../../../../src/consensus/etcdraft/eviction.js';

test('EvictionSuspicion is due once per threshold of uninterrupted leaderlessness', () => {
  const suspicion = new EvictionSuspicion({ thresholdMs: 60_000 });
  assert.equal(suspicion.checkIntervalMs, LEADERLESS_CHECK_INTERVAL_MS);
  // [now, leaderlessSince, due]
  const steps: [number, number | undefined, boolean][] = [
    [10_000, undefined, false],
    [20_000, 15_000, false],
    [70_000, 15_000, false], // 55 s leaderless
    [80_000, 15_000, true], // 65 s: the first check
    [90_000, 15_000, false], // not again before 2x the threshold
    [140_000, 15_000, true], // 125 s: the second check
    [150_000, undefined, false], // a leader: the count starts again
    [160_000, 155_000, false],
    [220_000, 155_000, true],
  ];
  for (const [now, since, due] of steps) assert.equal(suspicion.observe(now, since), due, `at ${now}`);
});

test('EvictionSuspicion checks at the threshold when it is shorter than Fabric’s 10 s interval', () => {
  assert.equal(new EvictionSuspicion({ thresholdMs: 3_000 }).checkIntervalMs, 3_000);
  assert.equal(new EvictionSuspicion({ thresholdMs: 0 }).checkIntervalMs, 1);
});

test('evictionVerdict: a last config block past the ledger is caught up to; one held decides at once', () => {
  const cases: [EvictionEvidence, EvictionVerdict][] = [
    [{ lastConfigNumber: 9, height: 5, listedInLedger: true }, { kind: 'catch-up', to: 9 }],
    [{ lastConfigNumber: 5, height: 5, listedInLedger: true }, { kind: 'catch-up', to: 5 }],
    [{ lastConfigNumber: 9, height: 5, listedInLedger: false }, { kind: 'catch-up', to: 9 }],
    [{ lastConfigNumber: 4, height: 5, listedInLedger: true }, { kind: 'still-a-consenter' }],
    [{ lastConfigNumber: 4, height: 5, listedInLedger: false }, { kind: 'evicted' }],
  ];
  for (const [evidence, verdict] of cases) assert.deepEqual(evictionVerdict(evidence), verdict, JSON.stringify(evidence));
});
