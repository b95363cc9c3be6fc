// Differential test of our Raft core against etcd's real RawNode (go.etcd.io/etcd/raft/v3 v3.5.9,
// hosted by the Go harness in test/differential/raft). Seeded random schedules of ticks,
// proposals, dropped, delayed (reordered) and partitioned messages, crashes and restarts,
// snapshots with log compaction, leader transfers, proposals made while a Ready is handled and
// membership changes (v1, and ConfChangeV2 joint changes in some schedules) run:
//   (a) lockstep: on an all-etcd group and an all-ours group side by side; every command's result,
//       every Ready (messages, HardState, entries, committed entries, snapshot, ConfState) and
//       every 5 rounds each node's Status (the leader's Progress of each peer included) must be
//       identical byte for byte;
//   (b) mixed: on groups of etcd and our nodes exchanging encoded messages; Raft safety (one leader
//       per term, the same entry applied at every index on every node) and, after healing, progress.
// Each suite runs 100 schedules by default; RAFT_DIFF_SCHEDULES=5000 runs more, RAFT_DIFF_SEED=<n>
// replays one seed (printed on failure). Without Go the suite is skipped, or fails when CI is set.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawNode } from '../../src/consensus/etcdraft/raft/rawnode.js';
import type { Ready } from '../../src/consensus/etcdraft/raft/rawnode.js';
import { MemoryStorage } from '../../src/consensus/etcdraft/raft/storage.js';
import { StateType } from '../../src/consensus/etcdraft/raft/raft.js';
import { EntryType } from '../../src/consensus/etcdraft/raft/types.js';
import type { ConfChange, ConfChangeV2, Entry } from '../../src/consensus/etcdraft/raft/types.js';
import { decodeConfChange, decodeConfChangeV2 } from '../../src/consensus/etcdraft/raft/wire.js';
import {
  FABRIC_RAFT_CONFIG,
  GoHost,
  int31nStream,
  TsHost,
  Simulation,
  describeTraceLine,
  emptyStats,
  raftDiffBinary,
} from '../support/raft-diff.js';
import type { Backend, Host, NodeConfig, ScheduleOptions, SimulationStats } from '../support/raft-diff.js';

const binary = raftDiffBinary();
const skip = 'skip' in binary ? binary.skip : undefined;
if (skip !== undefined && process.env.CI) {
  throw new Error(`the Raft differential test needs Go in CI: ${skip}`);
}

const SCHEDULES = Number(process.env.RAFT_DIFF_SCHEDULES ?? '100');
const ONE_SEED = process.env.RAFT_DIFF_SEED === undefined ? undefined : Number(process.env.RAFT_DIFF_SEED);
// RAFT_DIFF_SEED_OFFSET moves every suite to fresh seeds, for long runs beyond the default ones.
const OFFSET = Number(process.env.RAFT_DIFF_SEED_OFFSET ?? '0');
const seeds = (base: number): number[] =>
  ONE_SEED !== undefined ? [ONE_SEED] : Array.from({ length: SCHEDULES }, (_, i) => OFFSET + base + i);

// The fault mix of a schedule, varied by seed so that some schedules are calm (long stretches of
// replication) and some are stormy.
function schedule(seed: number, backends: Backend[], addBackend: Backend | 'mixed'): ScheduleOptions {
  const calm = seed % 3 === 0;
  return {
    seed,
    backends,
    rounds: 160,
    dropPercent: calm ? 0 : 5 + (seed % 7),
    delayPercent: calm ? 2 : 10,
    proposePercent: 40,
    partitionPercent: calm ? 1 : 4,
    crashPercent: calm ? 1 : 3,
    snapshotPercent: 6,
    confChangePercent: 4,
    transferPercent: 1,
    campaignPercent: 1,
    addBackend,
    maxMembers: backends.length + 2,
    jointConsensus: seed % 5 === 4,
    statusEvery: 5,
  };
}

// Fabric's settings for half the schedules; the others let followers forward proposals
// (MsgProp on the wire), and every fourth also has small messages and a small in-flight window,
// so that appends are split and flow control pauses replication.
function config(seed: number): NodeConfig {
  if (seed % 4 < 2) return FABRIC_RAFT_CONFIG;
  const forwarding = { ...FABRIC_RAFT_CONFIG, disableProposalForwarding: false };
  return seed % 4 === 3 ? { ...forwarding, maxSizePerMsg: 300, maxInflightMsgs: 2 } : forwarding;
}

function decodeConfChangeAny(e: Entry): ConfChange | ConfChangeV2 {
  return e.type === EntryType.ConfChange ? decodeConfChange(e.data) : decodeConfChangeV2(e.data);
}

const rerun = (seed: number): string => `replay with RAFT_DIFF_SEED=${seed}`;

// Sums the stats of a suite's schedules and checks that they exercised what the issue asks for:
// elections and re-elections after leader loss, replication, partitions, dropped and reordered
// messages, restarts, snapshots sent to lagging nodes, committed membership changes, and in a
// mixed group, messages crossing between etcd and our nodes.
function coverage(): { add(sim: Simulation): void; check(mixed: boolean): void } {
  const sum = emptyStats();
  let schedules = 0;
  return {
    add(sim) {
      schedules++;
      for (const key of Object.keys(sum) as Array<keyof SimulationStats>) sum[key] += sim.stats[key];
    },
    check(isMixed) {
      if (ONE_SEED !== undefined) return;
      const low = Object.entries({
        leaderTerms: schedules + 1,
        committed: 20 * schedules,
        partitioned: schedules,
        dropped: schedules,
        delayed: schedules,
        restarts: 1,
        snapshotsSent: 1,
        snapshotsApplied: 1,
        confChangesCommitted: 1,
        crossImplementation: isMixed ? 100 * schedules : 0,
        crossSnapshots: isMixed ? 1 : 0,
        goLeaderTerms: isMixed ? 1 : 0,
        tsLeaderTerms: isMixed ? 1 : 0,
      }).filter(([key, min]) => sum[key as keyof SimulationStats] < min);
      assert.deepEqual(low, [], `the schedules exercised too little: ${JSON.stringify(sum)}`);
    },
  };
}

describe('Raft core against etcd raft v3.5.9 (differential)', { skip }, () => {
  let go: GoHost;
  let ts: TsHost;
  let hosts: Record<Backend, Host>;

  before(() => {
    go = new GoHost((binary as { path: string }).path);
    ts = new TsHost();
    hosts = { go, ts };
  });
  after(async () => {
    await go.close();
    await ts.close();
  });

  async function lockstep(seed: number, size: number, cov: ReturnType<typeof coverage>): Promise<void> {
    const etcd = new Simulation(
      hosts,
      `etcd${seed}`,
      schedule(seed, Array(size).fill('go'), 'go'),
      config(seed),
    );
    const ours = new Simulation(
      hosts,
      `ours${seed}`,
      schedule(seed, Array(size).fill('ts'), 'ts'),
      config(seed),
    );
    let compared = 0; // trace lines found equal so far
    const compare = (): void => {
      const n = Math.max(etcd.trace.length, ours.trace.length);
      for (let i = compared; i < n; compared = ++i) {
        if (etcd.trace[i] === ours.trace[i]) continue;
        const context = etcd.trace.slice(Math.max(0, i - 8), i).map(describeTraceLine);
        assert.fail(
          `seed ${seed} (${size} nodes): our core diverged from etcd at trace line ${i} (${rerun(seed)})\n` +
            `  preceding (etcd):\n    ${context.join('\n    ')}\n` +
            `  etcd: ${describeTraceLine(etcd.trace[i] ?? '(nothing)')}\n` +
            `  ours: ${describeTraceLine(ours.trace[i] ?? '(nothing)')}`,
        );
      }
    };
    try {
      await etcd.start();
      await ours.start();
      compare();
      for (let r = 0; r < etcd.options.rounds; r++) {
        await etcd.runRound();
        await ours.runRound();
        compare();
      }
      const [etcdRounds, ourRounds] = [await etcd.converge(), await ours.converge()];
      compare();
      await etcd.statuses();
      await ours.statuses();
      compare();
      assert.equal(ourRounds, etcdRounds);
      cov.add(ours);
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      throw new Error(`seed ${seed} (${size} nodes, lockstep): ${(err as Error).message} (${rerun(seed)})`, {
        cause: err,
      });
    } finally {
      await etcd.close();
      await ours.close();
    }
  }

  async function mixed(seed: number, size: number, cov: ReturnType<typeof coverage>): Promise<void> {
    // At least one etcd and one of ours; the rest chosen by the seed.
    const backends: Backend[] = Array.from({ length: size }, (_, i) =>
      i === 0 ? 'go' : i === 1 ? 'ts' : (seed >> i) % 2 === 0 ? 'go' : 'ts',
    );
    if (seed % 2 === 1) backends.reverse();
    const sim = new Simulation(hosts, `mixed${seed}`, schedule(seed, backends, 'mixed'), config(seed));
    try {
      await sim.start();
      for (let r = 0; r < sim.options.rounds; r++) await sim.runRound();
      await sim.converge();
      assert.ok(sim.leaders.size > 0, 'a leader was elected');
      cov.add(sim);
    } catch (err) {
      const tail = sim.trace.slice(-12).map(describeTraceLine).join('\n    ');
      throw new Error(
        `seed ${seed} (${backends.join(',')}, mixed): ${(err as Error).message} (${rerun(seed)})\n  last commands:\n    ${tail}`,
        { cause: err },
      );
    } finally {
      await sim.close();
    }
  }

  it('lockstep, 3 nodes: every Ready of our core equals etcd’s byte for byte', async () => {
    const cov = coverage();
    for (const seed of seeds(1000)) await lockstep(seed, 3, cov);
    cov.check(false);
  });

  it('lockstep, 5 nodes: every Ready of our core equals etcd’s byte for byte', async () => {
    const cov = coverage();
    for (const seed of seeds(2000)) await lockstep(seed, 5, cov);
    cov.check(false);
  });

  it('mixed group of 3: safety, and progress after healing', async () => {
    const cov = coverage();
    for (const seed of seeds(3000)) await mixed(seed, 3, cov);
    cov.check(true);
  });

  it('mixed group of 5: safety, and progress after healing', async () => {
    const cov = coverage();
    for (const seed of seeds(4000)) await mixed(seed, 5, cov);
    cov.check(true);
  });
});

// Divergences the differential test found, pinned down without the Go harness so that they run
// everywhere. Each names the etcd behaviour our core got wrong.
describe('Raft core regressions found by the differential test', () => {
  const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
  const handle = (storage: MemoryStorage, rn: RawNode, rd: Ready): void => {
    storage.append(rd.entries);
    if (rd.hardState.term !== 0) storage.setHardState(rd.hardState);
    for (const e of rd.committedEntries)
      if (e.type !== EntryType.Normal) rn.applyConfChange(decodeConfChangeAny(e));
    rn.advance(rd);
  };

  // etcd's Ready.Entries is a slice header: entries appended to the unstable log after Ready()
  // (a proposal, or the leader's auto-leave ConfChangeV2 appended by Advance itself) are not in
  // it, so Advance marks only the Ready's own entries stable (seed 1164 of the 3-node lockstep).
  it('entries appended after ready() are not in that Ready, and advance() does not mark them stable', () => {
    const storage = new MemoryStorage();
    const rn = new RawNode({ id: 1, ...FABRIC_RAFT_CONFIG, storage, random: int31nStream(1) });
    rn.bootstrap([{ id: 1 }]);
    handle(storage, rn, rn.ready());
    rn.campaign();
    while (rn.hasReady()) handle(storage, rn, rn.ready());
    assert.equal(rn.status().softState.raftState, StateType.StateLeader);

    rn.propose(new TextEncoder().encode('a'));
    const rd = rn.ready();
    assert.deepEqual(
      rd.entries.map((e) => text(e.data)),
      ['a'],
    );
    rn.propose(new TextEncoder().encode('b'));
    assert.deepEqual(
      rd.entries.map((e) => text(e.data)),
      ['a'],
      'a later proposal changed a handed-out Ready',
    );
    handle(storage, rn, rd);

    const next = rn.ready();
    assert.deepEqual(
      next.entries.map((e) => text(e.data)),
      ['b'],
      'the proposal made between ready() and advance() was lost',
    );
    handle(storage, rn, next);
    assert.equal(storage.lastIndex(), rn.raft.raftLog.lastIndex());
  });
});
