// Kafka catch-up side by side: how long a fresh orderer takes to replay a channel's topic from
// offset 0, ours against Fabric's Go orderer v2.5.12 on the same topic. One orderer of ours writes
// the history (a system channel on a real broker, channel `replay` created through it, N envelopes
// of `orderer bench`), then stops; then, in alternating rounds, a fresh orderer of each kind boots
// from the same genesis block on the same broker, so it reads the same topics, writes every block
// again and is timed from its start until it serves the channel's last block. Its CPU is read from
// /proc when it gets there.
//
//   node --import tsx bench/kafka-replay.ts                   100,000 envelopes, 3 rounds
//   node --import tsx bench/kafka-replay.ts -n 300000 --rounds 4
//   node --import tsx bench/kafka-replay.ts --profile DIR     ours replays under node --cpu-prof
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBench } from '../src/bench/index.js';
import { common } from '../src/protos/index.js';
import {
  HeaderType,
  atomicBroadcastClient,
  deliver,
  loadIdentity,
  seekInfo,
  signedEnvelope,
} from '../test/support/fabric-clients.js';
import { fabricBin } from '../test/support/fabric-fixtures.js';
import { startKafkaBroker } from '../test/support/kafka-broker.js';
import { kafkaGenesisBlock } from '../test/support/kafka-processes.js';
import { kafkaOrdererEnv } from '../test/support/kafka-cluster.js';
import { freePort, ordererEnv } from '../test/support/orderer.js';
import { ensureBuilt } from './build.js';
import { readUsage } from './proc-usage.js';
import { launchSide, spawnLogged, type Spawned } from './vs-fabric-orderers.js';
import { spread, type Side } from './vs-fabric-report.js';
import { org1UserSigner } from './signer.js';

const CHANNEL = 'replay';
const SYSTEM = 'sys-replay';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const reader = loadIdentity('org1User');

function parse(argv: readonly string[]): { count: number; rounds: number; profile?: string } {
  const out: { count: number; rounds: number; profile?: string } = { count: 100_000, rounds: 3 };
  for (let i = 0; i < argv.length; i++) {
    const value = Number(argv[i + 1]);
    if ((argv[i] === '-n' || argv[i] === '--count') && Number.isInteger(value) && value > 0)
      out.count = value;
    else if (argv[i] === '--rounds' && Number.isInteger(value) && value > 0) out.rounds = value;
    else if (argv[i] === '--profile' && argv[i + 1]) out.profile = argv[i + 1]!;
    else throw new Error(`unknown argument ${argv[i]}; see the comment at the top of bench/kafka-replay.ts`);
    i++;
  }
  return out;
}

/** The number of the newest block of the channel the orderer serves, or undefined when it does not yet. */
async function newestBlock(address: string): Promise<number | undefined> {
  const client = atomicBroadcastClient(address);
  try {
    const seek = signedEnvelope(reader, {
      type: HeaderType.DELIVER_SEEK_INFO,
      channelId: CHANNEL,
      data: seekInfo('newest', 'newest', 'fail'),
    });
    const result = await deliver(client, seek, { timeoutMs: 5_000 });
    if (result.status !== 200 || result.blockBytes.length !== 1) return undefined;
    return Number(common.Block.decode(result.blockBytes[0]!).header!.number);
  } catch {
    return undefined;
  } finally {
    client.close();
  }
}

interface Replay {
  side: Side;
  seconds: number;
  cpuSeconds: number;
}

/** A fresh orderer of `side` on the genesis block: seconds from its start until it serves block `last`. */
async function replay(side: Side, genesisFile: string, last: number, profile?: string): Promise<Replay> {
  const ledgerDir = mkdtempSync(join(tmpdir(), `kafka-replay-${side}-`));
  const port = await freePort();
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    FABRIC_LOGGING_SPEC: 'warning',
    ...ordererEnv(
      ledgerDir,
      kafkaOrdererEnv(0, {
        ORDERER_GENERAL_BOOTSTRAPFILE: genesisFile,
        ORDERER_METRICS_PROVIDER: 'disabled',
      }),
      port,
    ),
  };
  const started = performance.now();
  const spawned: Spawned =
    side === 'fabric'
      ? spawnLogged(fabricBin('orderer'), [], env, ledgerDir)
      : spawnLogged(
          process.execPath,
          [
            ...(profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : []),
            join(root, 'bin/orderer.js'),
            'start',
          ],
          env,
          root,
        );
  try {
    for (;;) {
      const exited = spawned.exitStatus();
      if (exited) throw new Error(`the ${side} orderer exited while replaying: ${exited}`);
      const newest = await newestBlock(`127.0.0.1:${port}`);
      if (newest !== undefined && newest >= last) break;
      if (performance.now() - started > 600_000)
        throw new Error(`the ${side} orderer did not replay in 10 minutes`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const seconds = (performance.now() - started) / 1000;
    const cpuSeconds = readUsage([spawned.child.pid!], () => performance.now()).orderer?.cpuSeconds ?? NaN;
    return { side, seconds, cpuSeconds };
  } finally {
    await spawned.stop();
    rmSync(ledgerDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { count, rounds, profile } = parse(process.argv.slice(2));
  ensureBuilt(root);
  fabricBin('orderer');
  const work = mkdtempSync(join(tmpdir(), 'kafka-replay-'));
  const broker = await startKafkaBroker({ plaintextPort: 0 });
  try {
    const genesisFile = join(work, `${SYSTEM}.block`);
    writeFileSync(genesisFile, kafkaGenesisBlock({ brokers: [broker.bootstrap], channelId: SYSTEM }));
    const log = (line: string) => console.log(line);
    const history = await launchSide(
      {
        side: 'ours',
        env: kafkaOrdererEnv(0, {
          ORDERER_GENERAL_BOOTSTRAPFILE: genesisFile,
          ORDERER_METRICS_PROVIDER: 'disabled',
        }),
        channel: CHANNEL,
      },
      { root, log },
      undefined,
    );
    let last: number;
    try {
      const signer = org1UserSigner();
      const report = await runBench({
        address: history.address,
        channel: CHANNEL,
        signer,
        count,
        size: 1024,
        streams: 64,
        window: 16,
        timeoutMs: 600_000,
        verifyMs: 0,
      });
      if (report.delivered !== count)
        throw new Error(`the history run delivered ${report.delivered} of ${count}`);
      last = (await newestBlock(history.address))!;
      log(
        `history: ${count.toLocaleString('en-US')} envelopes of 1 KiB data in blocks up to [${last}] of ${CHANNEL} ` +
          `(${Math.round(report.endToEndTps).toLocaleString('en-US')} tx/s), written by ours; now replayed by fresh orderers`,
      );
    } finally {
      await history.stop();
    }
    const results: Replay[] = [];
    for (let round = 0; round < rounds; round++) {
      const order: Side[] = round % 2 === 0 ? ['ours', 'fabric'] : ['fabric', 'ours'];
      for (const side of order) {
        const result = await replay(side, genesisFile, last, profile);
        results.push(result);
        log(
          `  round ${round + 1} ${side === 'ours' ? 'ours  ' : 'Fabric'}  ${result.seconds.toFixed(1)} s to serve block [${last}]` +
            `, CPU ${result.cpuSeconds.toFixed(1)} s`,
        );
      }
    }
    const of = (side: Side, key: 'seconds' | 'cpuSeconds') =>
      spread(results.filter((r) => r.side === side).map((r) => r[key])).median;
    const ratio = spread(
      Array.from({ length: rounds }, (_, round) => {
        const pair = results.slice(round * 2, round * 2 + 2);
        const ours = pair.find((r) => r.side === 'ours')!;
        const fabric = pair.find((r) => r.side === 'fabric')!;
        return ours.seconds / fabric.seconds;
      }),
    );
    log(
      `replay of ${CHANNEL} (and ${SYSTEM}) from offset 0, medians of ${rounds} rounds: ours ${of('ours', 'seconds').toFixed(1)} s ` +
        `(CPU ${of('ours', 'cpuSeconds').toFixed(1)} s), Fabric ${of('fabric', 'seconds').toFixed(1)} s (CPU ${of('fabric', 'cpuSeconds').toFixed(1)} s); ` +
        `ours / Fabric ${ratio.median.toFixed(2)} (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}); target <= 1`,
    );
  } finally {
    await broker.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
