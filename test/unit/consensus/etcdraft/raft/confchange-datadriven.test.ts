// Replays etcd raft v3.5.9's confchange/testdata/*.txt with a port of
// confchange/datadriven_test.go: the tracker's Config and Progress printed after each change.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runDataDrivenFile, scanArg } from '../../../../support/datadriven.js';
import type { TestData } from '../../../../support/datadriven.js';
import { Changer } from '../../../../../src/consensus/etcdraft/raft/confchange/confchange.js';
import type { ChangeResult } from '../../../../../src/consensus/etcdraft/raft/confchange/confchange.js';
import { RaftError } from '../../../../../src/consensus/etcdraft/raft/errors.js';
import { progressMapString } from '../../../../../src/consensus/etcdraft/raft/tracker/progress.js';
import { ProgressTracker } from '../../../../../src/consensus/etcdraft/raft/tracker/tracker.js';
import type { ConfChangeSingle } from '../../../../../src/consensus/etcdraft/raft/types.js';
import { ConfChangeType } from '../../../../../src/consensus/etcdraft/raft/types.js';

const TESTDATA = fileURLToPath(new URL('../../../../fixtures/etcd-raft-v3.5.9/confchange/', import.meta.url));

function runScript(path: string): number {
  const tracker = new ProgressTracker(10);
  let lastIndex = 0; // incremented in this test with each cmd
  // The commands: simple, enter-joint (autoleave=bool) and leave-joint; the input is a list of
  // vN (make N a voter), lN (learner), rN (remove), uN (update).
  const handle = (d: TestData): string => {
    try {
      return step(d);
    } finally {
      lastIndex++;
    }
  };
  const step = (d: TestData): string => {
    const ccs: ConfChangeSingle[] = [];
    const trimmed = d.input.trim();
    const toks = trimmed === '' ? [] : trimmed.split(' ');
    for (const tok of toks) {
      if (tok.length < 2) return `unknown token ${tok}`;
      let type: ConfChangeType;
      switch (tok[0]) {
        case 'v':
          type = ConfChangeType.AddNode;
          break;
        case 'l':
          type = ConfChangeType.AddLearnerNode;
          break;
        case 'r':
          type = ConfChangeType.RemoveNode;
          break;
        case 'u':
          type = ConfChangeType.UpdateNode;
          break;
        default:
          return `unknown input: ${tok}`;
      }
      const id = tok.slice(1);
      if (!/^\d+$/.test(id)) return `strconv.ParseUint: parsing "${id}": invalid syntax`;
      ccs.push({ type, nodeId: Number(id) });
    }
    const changer = new Changer(tracker, lastIndex);
    let result: ChangeResult;
    try {
      switch (d.cmd) {
        case 'simple':
          result = changer.simple(ccs);
          break;
        case 'enter-joint': {
          let autoLeave = false;
          if (d.cmdArgs.length > 0) {
            const arg = scanArg(d, 'autoleave');
            if (arg === undefined) throw new Error(`${d.pos}: missing argument autoleave`);
            autoLeave = arg.vals[0] === 'true';
          }
          result = changer.enterJoint(autoLeave, ccs);
          break;
        }
        case 'leave-joint':
          if (ccs.length > 0) return 'this command takes no input\n';
          result = changer.leaveJoint();
          break;
        default:
          return 'unknown command';
      }
    } catch (err) {
      if (err instanceof RaftError && err.code === 'config') return err.message + '\n';
      throw err;
    }
    tracker.config = result.config;
    tracker.progress = result.progress;
    return `${tracker.config.toString()}\n${progressMapString(tracker.progress)}`;
  };
  return runDataDrivenFile(path, handle);
}

describe('etcd raft confchange datadriven scripts (confchange/testdata)', () => {
  const files = readdirSync(TESTDATA).filter((name) => name.endsWith('.txt')).sort();
  it('has the nine etcd scripts', () => assert.equal(files.length, 9));
  for (const name of files) {
    it(name, () => assert.ok(runScript(TESTDATA + name) > 0));
  }
});
