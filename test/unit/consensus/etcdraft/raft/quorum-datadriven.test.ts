// Replays etcd raft v3.5.9's quorum/testdata/*.txt with a port of quorum/datadriven_test.go
// (including its cross-checks: the alternative computation, zero- and self-joint quorums,
// overlays and symmetry, whose disagreements the scripts expect never to be printed).
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runDataDrivenFile } from '../../../../support/datadriven.js';
import type { TestData } from '../../../../support/datadriven.js';
import { JointConfig } from '../../../../../src/consensus/etcdraft/raft/quorum/joint.js';
import { MajorityConfig } from '../../../../../src/consensus/etcdraft/raft/quorum/majority.js';
import type { AckedIndexer, Index } from '../../../../../src/consensus/etcdraft/raft/quorum/quorum.js';
import {
  INDEX_INFINITY,
  indexString,
  mapAckIndexer,
  voteResultString,
} from '../../../../../src/consensus/etcdraft/raft/quorum/quorum.js';

const TESTDATA = fileURLToPath(new URL('../../../../fixtures/etcd-raft-v3.5.9/quorum/', import.meta.url));

const parseUint = (value: string): number => {
  if (!/^\d+$/.test(value)) throw new Error(`not a number: ${value}`);
  return Number(value);
};

// quick_test.go's alternativeMajorityCommittedIndex.
function alternativeMajorityCommittedIndex(c: MajorityConfig, l: AckedIndexer): Index {
  if (c.size === 0) return INDEX_INFINITY;
  const idToIdx = new Map<number, Index>();
  for (const id of c.ids) {
    const idx = l.ackedIndex(id);
    if (idx !== undefined) idToIdx.set(id, idx);
  }
  // Build a map from index to voters who have acked that or any higher index.
  const idxToVotes = new Map<Index, number>();
  for (const idx of idToIdx.values()) idxToVotes.set(idx, 0);
  for (const idx of idToIdx.values()) {
    for (const idy of idxToVotes.keys()) {
      if (idy > idx) continue;
      idxToVotes.set(idy, (idxToVotes.get(idy) ?? 0) + 1);
    }
  }
  // Find the maximum index that has achieved quorum.
  const q = Math.floor(c.size / 2) + 1;
  let maxQuorumIdx = 0;
  for (const [idx, n] of idxToVotes) if (n >= q && idx > maxQuorumIdx) maxQuorumIdx = idx;
  return maxQuorumIdx;
}

function handle(d: TestData): string {
  // Two majority configs. The first one is always used (though it may be empty) and the
  // second one is used iff joint is true.
  let joint = false;
  const ids: number[] = [];
  const idsj: number[] = [];
  // Indexes (or votes: 1 against, 2 for) in the order of (ids, idsj) without repetition;
  // an underscore is an omission, recorded as zero.
  const idxs: Index[] = [];
  const votes: Index[] = [];
  for (const arg of d.cmdArgs) {
    for (const val of arg.vals) {
      switch (arg.key) {
        case 'cfg':
          ids.push(parseUint(val));
          break;
        case 'cfgj':
          joint = true;
          if (val === 'zero') {
            if (arg.vals.length !== 1) throw new Error("cannot mix 'zero' into configuration");
          } else {
            idsj.push(parseUint(val));
          }
          break;
        case 'idx': {
          let n = 0;
          if (val !== '_') {
            n = parseUint(val);
            if (n === 0) throw new Error('cannot use 0 as idx');
          }
          idxs.push(n);
          break;
        }
        case 'votes':
          if (val === 'y') votes.push(2);
          else if (val === 'n') votes.push(1);
          else if (val === '_') votes.push(0);
          else throw new Error(`unknown vote: ${val}`);
          break;
        default:
          throw new Error(`unknown arg ${arg.key}`);
      }
    }
  }
  const c = new MajorityConfig(ids);
  const cj = new MajorityConfig(idsj);

  // An AckedIndexer mapping the given indexes to the right IDs; zero (a placeholder) means
  // "no entry", which differs from an entry of zero.
  const makeLookuper = (values: Index[]): Map<number, Index> => {
    const l = new Map<number, Index>();
    let p = 0;
    for (const id of [...ids, ...idsj]) {
      if (l.has(id)) continue;
      if (p < values.length) l.set(id, values[p++] as Index);
    }
    for (const [id, idx] of l) if (idx === 0) l.delete(id);
    return l;
  };

  {
    const input = d.cmd === 'vote' ? votes : idxs;
    const voters = new JointConfig(c, cj).ids();
    if (voters.size !== input.length) {
      return `error: mismatched input (explicit or _) for voters ${[...voters].join(' ')}: ${input.join(' ')}`;
    }
  }

  let buf = '';
  switch (d.cmd) {
    case 'committed': {
      const l = mapAckIndexer(makeLookuper(idxs));
      // Branch based on whether this is a majority or joint quorum test case.
      if (!joint) {
        const idx = c.committedIndex(l);
        buf += c.describe(l);
        // These alternative computations should return the same result. If not, print to the
        // output.
        let aIdx = alternativeMajorityCommittedIndex(c, l);
        if (aIdx !== idx) buf += `${indexString(aIdx)} <-- via alternative computation\n`;
        // Joining a majority with the empty majority should give same result.
        aIdx = new JointConfig(c, new MajorityConfig()).committedIndex(l);
        if (aIdx !== idx) buf += `${indexString(aIdx)} <-- via zero-joint quorum\n`;
        // Joining a majority with itself should give same result.
        aIdx = new JointConfig(c, c).committedIndex(l);
        if (aIdx !== idx) buf += `${indexString(aIdx)} <-- via self-joint quorum\n`;
        const overlay = (id: number, value: Index): AckedIndexer => {
          const ll = new Map<number, Index>();
          for (const iid of c.ids) {
            if (iid === id) ll.set(iid, value);
            else {
              const acked = l.ackedIndex(iid);
              if (acked !== undefined) ll.set(iid, acked);
            }
          }
          return mapAckIndexer(ll);
        };
        for (const id of c.ids) {
          const iidx = l.ackedIndex(id) ?? 0;
          if (idx > iidx && iidx > 0) {
            // If the committed index was definitely above the currently inspected idx, the
            // result shouldn't change if we lower it further.
            let lowered = c.committedIndex(overlay(id, iidx - 1));
            if (lowered !== idx) buf += `${indexString(lowered)} <-- overlaying ${id}->${iidx}`;
            lowered = c.committedIndex(overlay(id, 0));
            if (lowered !== idx) buf += `${indexString(lowered)} <-- overlaying ${id}->0`;
          }
        }
        buf += `${indexString(idx)}\n`;
      } else {
        const cc = new JointConfig(c, cj);
        buf += cc.describe(l);
        const idx = cc.committedIndex(l);
        // Interchanging the majorities shouldn't make a difference. If it does, print.
        const aIdx = new JointConfig(cj, c).committedIndex(l);
        if (aIdx !== idx) buf += `${indexString(aIdx)} <-- via symmetry\n`;
        buf += `${indexString(idx)}\n`;
      }
      break;
    }
    case 'vote': {
      const l = new Map<number, boolean>();
      for (const [id, v] of makeLookuper(votes)) l.set(id, v !== 1); // NB: 1 == false, 2 == true
      if (!joint) {
        // Test a majority quorum.
        buf += `${voteResultString(c.voteResult(l))}\n`;
      } else {
        // Run a joint quorum test case.
        const r = new JointConfig(c, cj).voteResult(l);
        // Interchanging the majorities shouldn't make a difference. If it does, print.
        const ar = new JointConfig(cj, c).voteResult(l);
        if (ar !== r) buf += `${voteResultString(ar)} <-- via symmetry\n`;
        buf += `${voteResultString(r)}\n`;
      }
      break;
    }
    default:
      throw new Error(`unknown command: ${d.cmd}`);
  }
  return buf;
}

describe('etcd raft quorum datadriven scripts (quorum/testdata)', () => {
  const files = readdirSync(TESTDATA).filter((name) => name.endsWith('.txt')).sort();
  it('has the four etcd scripts', () => assert.equal(files.length, 4));
  for (const name of files) {
    it(name, () => {
      const directives = runDataDrivenFile(TESTDATA + name, handle);
      assert.ok(directives > 0, `${name} has directives`);
    });
  }
});
