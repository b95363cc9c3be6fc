// The flags of `npm run bench`, parsed into what bench/run.ts dispatches on.
import { resolve } from 'node:path';
import { SCENARIO_NAMES, type ScenarioName } from './vs-fabric-orderers.js';

export interface BenchArgs {
  /** Envelopes per scenario (standard) or per side and round (--vs-fabric). */
  count: number;
  warmup: number;
  json?: string;
  profile?: string;
  tsx?: boolean;
  kafka?: boolean;
  vsFabric?: boolean;
  scenarios: ScenarioName[];
  rounds: number;
  size: number;
  streams: number;
  window: number;
  /** --vs-fabric, etcdraft: ours with Consensus.IdleCutAfter set to this duration (e.g. "20ms"). */
  idleCutAfter?: string;
}

export const USAGE =
  'use -n N, --warmup N, --kafka, --json FILE, --profile DIR, --tsx; with --vs-fabric also ' +
  `--scenario ${SCENARIO_NAMES.join(',')} (comma-separated), --rounds N, --size BYTES, --streams N, --window N, ` +
  '--idle-cut-after DURATION (ours, etcdraft: Consensus.IdleCutAfter)';

export function parseArgs(argv: readonly string[]): BenchArgs {
  const vsFabric = argv.includes('--vs-fabric');
  const out: BenchArgs = {
    count: vsFabric ? 20_000 : 40_000,
    warmup: vsFabric ? 5_000 : 10_000,
    scenarios: ['solo', 'solo-tls'],
    rounds: 3,
    size: 1024,
    streams: 64,
    window: 16,
    ...(vsFabric ? { vsFabric } : {}),
  };
  const whole = (value: string | undefined, flag: string, min: number) => {
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < min)
      throw new Error(`${flag} needs a whole number >= ${min} (got ${value})`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = argv[i + 1];
    const takesValue = () => {
      i++;
      return value;
    };
    if (arg === '-n' || arg === '--count') out.count = whole(takesValue(), arg, 1);
    else if (arg === '--warmup') out.warmup = whole(takesValue(), arg, 0);
    else if (arg === '--rounds') out.rounds = whole(takesValue(), arg, 1);
    else if (arg === '--size') out.size = whole(takesValue(), arg, 0);
    else if (arg === '--streams') out.streams = whole(takesValue(), arg, 1);
    else if (arg === '--window') out.window = whole(takesValue(), arg, 1);
    else if (arg === '--json' && value) out.json = resolve(takesValue()!);
    else if (arg === '--profile' && value) out.profile = resolve(takesValue()!);
    else if (arg === '--idle-cut-after') {
      const duration = takesValue();
      if (!duration || !/^\d+(\.\d+)?(ns|us|µs|ms|s|m|h)$/.test(duration))
        throw new Error(`--idle-cut-after needs a duration such as 20ms (got ${duration})`);
      out.idleCutAfter = duration;
    } else if (arg === '--scenario' && value) {
      const names = takesValue()!.split(',');
      const unknown = names.filter((n) => !(SCENARIO_NAMES as readonly string[]).includes(n));
      if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; ${USAGE}`);
      out.scenarios = names as ScenarioName[];
    } else if (arg === '--tsx') out.tsx = true;
    else if (arg === '--kafka') out.kafka = true;
    else if (arg === '--vs-fabric') out.vsFabric = true;
    else throw new Error(`unknown argument ${arg}; ${USAGE}`);
  }
  if (!out.vsFabric && argv.some((a) => ['--scenario', '--rounds', '--idle-cut-after'].includes(a)))
    throw new Error('--scenario, --rounds and --idle-cut-after go with --vs-fabric');
  if (out.vsFabric && (out.kafka || out.tsx))
    throw new Error('--vs-fabric runs bin/orderer.js; pick its Kafka scenario with --scenario kafka');
  return out;
}
