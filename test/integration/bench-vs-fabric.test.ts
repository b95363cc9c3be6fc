// `npm run bench -- --vs-fabric` with a tiny load: Fabric's Go orderer and ours started side by
// side from the same fixtures, one round of 500 envelopes each (solo, no TLS); the report must have
// every part the README's table is made of, and both sides must have ordered every envelope. Speed
// is not asserted: that is what the benchmark itself is for. Needs Fabric's orderer ($FABRIC_BIN,
// else ../shared/fabric-bin): skipped without it, failed without it under CI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { processExists } from '../../src/bench/index.js';
import { fabricBin, skipWithoutFabricBin } from '../support/fabric-fixtures.js';
import { REPO_ROOT, ordererBin } from '../support/orderer-process.js';
import { runVsFabric } from '../../bench/vs-fabric.js';
import { startScenario } from '../../bench/vs-fabric-orderers.js';
import { SIDES } from '../../bench/vs-fabric-report.js';

const skip = skipWithoutFabricBin('orderer');

test(
  'vs Fabric, solo without TLS: one round of 500 envelopes ordered by both, a complete report',
  { skip, timeout: 240_000 },
  async () => {
    fabricBin('orderer'); // under CI without the binary: fails here, saying how to get it
    const { bin } = await ordererBin();
    const logged: string[] = [];
    const pids: number[] = [];
    const result = await runVsFabric(
      {
        scenarios: ['solo'],
        rounds: 1,
        count: 500,
        warmup: 100,
        size: 256,
        streams: 8,
        window: 8,
        root: REPO_ROOT,
        oursBin: bin,
      },
      {
        log: (text) => logged.push(text),
        now: () => performance.now(),
        startScenario: async (name, options) => {
          const setup = await startScenario(name, options);
          pids.push(...setup.orderers.ours.pids, ...setup.orderers.fabric.pids);
          return setup;
        },
      },
    );
    const output = logged.join('\n');
    assert.equal(result.complete, true, output);
    assert.equal(result.scenarios.length, 1);
    const [solo] = result.scenarios;
    assert.equal(solo!.title, 'solo, no TLS');
    assert.deepEqual(solo!.rounds.map((r) => r.side).sort(), ['fabric', 'ours']);
    for (const r of solo!.rounds) {
      assert.equal(r.accepted, 500, `${r.side} accepted`);
      assert.equal(r.delivered, 500, `${r.side} delivered`);
      assert.ok(r.blocks >= 1, `${r.side} cut blocks`);
      assert.ok(r.endToEndTps > 0 && r.p50Ms > 0 && r.p99Ms >= r.p50Ms, `${r.side} throughput and latency`);
      assert.ok(r.cpuUsPerTx > 0, `${r.side} orderer CPU per transaction read off /proc`);
      assert.ok(r.rssBytes > 10 * 1024 * 1024, `${r.side} VmRSS read off /proc`);
      assert.match(r.limitText, /machine|orderer|load generator|disk|nothing saturated/);
    }
    for (const side of SIDES) {
      for (const metric of ['endToEndTps', 'p50Ms', 'p99Ms', 'cpuUsPerTx', 'rssBytes'] as const) {
        assert.ok(Number.isFinite(solo!.sides[side][metric].median), `${side} ${metric}`);
        assert.ok(Number.isFinite(solo!.ratios[metric].median), `ratio ${metric}`);
      }
    }
    // What a reader gets: per-round lines, the table with both sides and the ratio, the limits.
    assert.match(output, /round 1 ours .* tx\/s .*\| /);
    assert.match(output, /round 1 Fabric v2\.5\.12 .* tx\/s .*\| /);
    assert.match(output, /end-to-end tx\/s .* ≥ 2 (ok|MISSED)/);
    assert.match(output, /limit, ours: /);
    assert.match(output, /limit, Fabric v2\.5\.12: /);
    // --json is the result as it stands.
    const json = JSON.parse(JSON.stringify(result)) as typeof result;
    assert.equal(json.scenarios[0]!.rounds.length, 2);
    assert.equal(json.settings.batchTimeout, '2s');
    // Both orderers were stopped.
    assert.equal(pids.length, 2);
    for (const pid of pids) assert.equal(processExists(pid), false, `orderer ${pid} still runs`);
  },
);
