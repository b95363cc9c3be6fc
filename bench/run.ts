// `npm run bench`: starts an orderer in a child process exactly as `npm start` does (bin/orderer.js
// on the compiled dist/, rebuilt first when a source is newer), runs the standard scenarios against
// it with the load generator of `orderer bench` (bench/standard.ts) and prints one table each; or,
// with --vs-fabric, compares ours with Fabric's Go orderer side by side (bench/vs-fabric.ts).
//
//   npm run bench                       both solo scenarios on a zero-config dev orderer, 40000 envelopes each,
//                                       after an unreported warm-up run of 10000 envelopes
//   npm run bench -- -n 80000           more envelopes
//   npm run bench -- --warmup 0         no warm-up (the first scenario then also measures JIT warm-up)
//   npm run bench -- --kafka            the 1 KB scenario on a Kafka channel: a real broker (scripts/kafka),
//                                       an orderer booted from the fixtures' sys-kafka.block, channel mychannel
//   npm run bench -- --json out.json    also write the reports as JSON
//   npm run bench -- --profile DIR      run the orderer under node --cpu-prof (profile in DIR)
//   npm run bench -- --tsx              run the orderer from the TypeScript sources through tsx
//   npm run bench -- --vs-fabric        Fabric's Go orderer (../shared/fabric-bin/orderer, or $FABRIC_BIN) and ours
//                                       side by side: 3 alternating rounds of 20000 envelopes (1 KiB data),
//                                       64 streams x 16 in flight, after 5000 warm-up envelopes each, in the
//                                       scenarios solo and solo-tls; --scenario solo,solo-tls,kafka, --rounds N,
//                                       -n N, --warmup N, --size BYTES, --streams N, --window N, --json FILE,
//                                       --profile DIR (ours under node --cpu-prof)
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from './args.js';
import { ensureBuilt } from './build.js';
import { runStandardBench } from './standard.js';

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  if (!args.tsx) ensureBuilt(root);
  const ok = args.vsFabric
    ? await (await import('./vs-fabric-cli.js')).runVsFabricCli(root, args)
    : await runStandardBench(root, args);
  if (!ok) process.exitCode = 1;
  if (args.profile) console.log(`CPU profile of the orderer written to ${args.profile}`);
}

await main();
