// `npm run bench -- --vs-fabric ...`: the flags to runVsFabric, its tables on stdout, --json FILE.
import { writeFileSync } from 'node:fs';
import { fabricBin } from '../test/support/fabric-fixtures.js';
import type { BenchArgs } from './args.js';
import { runVsFabric } from './vs-fabric.js';

/** Runs the comparison; false when some envelope was not ordered on either side. */
export async function runVsFabricCli(root: string, args: BenchArgs): Promise<boolean> {
  // First, so that without Fabric's binary the run says at once where it looked and how to get it.
  fabricBin('orderer');
  const result = await runVsFabric(
    {
      scenarios: args.scenarios,
      rounds: args.rounds,
      count: args.count,
      warmup: args.warmup,
      size: args.size,
      streams: args.streams,
      window: args.window,
      root,
      ...(args.profile ? { profileDir: args.profile } : {}),
      ...(args.idleCutAfter ? { oursIdleCutAfter: args.idleCutAfter } : {}),
    },
    { log: (text) => console.log(text), now: () => performance.now() },
  );
  if (args.json) {
    writeFileSync(args.json, JSON.stringify(result, null, 2) + '\n');
    console.log(`JSON written to ${args.json}`);
  }
  if (!result.complete) console.error('not every envelope was accepted and delivered on both sides');
  return result.complete;
}
