// Three orderer processes (the real CLI, one process per orderer with orderer0/1/2's MSPs and their own
// ledgers) bootstrapped from Fabric's sys-kafka.block on one real Kafka broker at 127.0.0.1:9092, as
// issue 5's evidence asks: concurrent Broadcasts to all three give identical ledgers; one orderer
// killed with SIGKILL under load and restarted resumes from its last persisted offset and catches up;
// the broker stopped under load gives SERVICE_UNAVAILABLE, a STRICT Deliver refusal, a BEST_EFFORT
// Deliver that still reads the ledger and a failing "kafka" /healthz check, and once it is back
// ordering resumes without restarting any orderer. Ledgers are read over Deliver, as a peer does.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadIdentity, type ClientIdentity } from '../support/fabric-clients.js';
import { startKafkaBroker, type KafkaBroker } from '../support/kafka-broker.js';
import {
  broadcastTransactions,
  createMyChannel,
  kafkaTestsSkipReason,
  describeBlock,
  txCounts,
  waitFor,
  type LedgerBlock,
} from '../support/kafka-cluster.js';
import { FileLedgerFactory } from '../../src/ledger/index.js';
import {
  broadcastKeepingAcks,
  deliverLedger,
  healthz,
  startKafkaOrdererProcess,
  strictDeliverStatus,
  type KafkaOrdererProcess,
} from '../support/kafka-processes.js';
import { systemClock } from '../../src/clock.js';

const skip = kafkaTestsSkipReason();
if (skip) console.log(`# skipping Kafka orderer process tests: ${skip}`);

const CHANNEL = 'mychannel';

const ordererAdmin = loadIdentity('ordererAdmin');

async function healthy(node: KafkaOrdererProcess, timeoutMs = 60_000) {
  await waitFor(
    () => `/healthz of orderer${node.index} answering 200`,
    async () => (await healthz(node.operationsPort).catch(() => undefined))?.status === 200,
    timeoutMs,
    250,
  );
}

async function servingChannel(node: KafkaOrdererProcess, channelId: string, timeoutMs = 60_000) {
  await waitFor(
    () => `channel ${channelId} served by orderer${node.index} (STRICT Deliver SUCCESS)`,
    async () => (await strictDeliverStatus(node.address, channelId).catch(() => undefined)) === 200,
    timeoutMs,
    250,
  );
}

/** Every orderer has the same blocks (header hashes) in the same order, holding all of txIds. */
async function sameLedgers(
  nodes: KafkaOrdererProcess[],
  channelId: string,
  txIds: Iterable<string>,
  signer?: ClientIdentity,
): Promise<LedgerBlock[]> {
  const wanted = [...txIds];
  let ledgers: LedgerBlock[][] = [];
  await waitFor(
    () =>
      `all ${wanted.length} transactions in every ledger of ${channelId} (heights ${ledgers.map((l) => l.length).join(', ')})`,
    async () => {
      ledgers = await Promise.all(
        nodes.map(async (n) => (await deliverLedger(n.address, channelId, 'strict', signer)).blocks),
      );
      for (const ledger of ledgers) {
        const counts = txCounts(ledger);
        if (!wanted.every((id) => counts.has(id))) return false;
      }
      return ledgers.every((l) => l.length === ledgers[0]!.length);
    },
    90_000,
    250,
  );
  const hashes = ledgers.map((l) => l.map((b) => b.headerHash));
  for (let i = 1; i < ledgers.length; i++)
    assert.deepEqual(hashes[i], hashes[0], `orderer${nodes[i]!.index} and orderer${nodes[0]!.index} differ`);
  for (const [i, block] of ledgers[0]!.entries()) assert.equal(block.number, i);
  return ledgers[0]!;
}

function assertEachOnce(ledger: LedgerBlock[], acknowledged: string[]): void {
  const counts = txCounts(ledger);
  for (const id of acknowledged) assert.equal(counts.get(id), 1, `acknowledged ${id} is in the ledger once`);
  // Config envelopes carry an empty tx_id; every other envelope must occur once.
  const twice = [...counts].filter(([id, n]) => id !== '' && n > 1).map(([id]) => id);
  assert.deepEqual(twice, [], 'no envelope is ordered twice');
}

/** Broadcast load on every running orderer, five envelopes per orderer per round, until stopped. */
function startLoad(nodes: KafkaOrdererProcess[], prefix: string) {
  const acknowledged: string[] = [];
  const acknowledgedBy = nodes.map(() => 0);
  const refused: { node: number; status: number; info: string }[] = [];
  let stopped = false;
  let round = 0;
  const done = (async () => {
    while (!stopped) {
      const batch = await Promise.all(
        nodes.map((n, i) =>
          n.running()
            ? broadcastKeepingAcks(n.address, CHANNEL, `${prefix}${round}-${i}`, 5).then((sent) =>
                sent.map((s) => ({ ...s, node: i })),
              )
            : [],
        ),
      );
      round++;
      for (const s of batch.flat()) {
        if (s.status === 200) {
          acknowledged.push(s.txId);
          acknowledgedBy[s.node]!++;
        } else refused.push({ node: s.node, status: s.status, info: s.info });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    acknowledged,
    acknowledgedBy,
    refused,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/**
 * A failed before() hook is reported after the cancelled tests, where a shortened CI log may cut it
 * off: print what went wrong (the orderers' and the broker's last lines) ahead of them, last of all
 * a one-line summary.
 */
function reportSetupFailure(err: unknown, broker: KafkaBroker | undefined, nodes: KafkaOrdererProcess[]) {
  const lines = [
    ...(broker ? ['Kafka broker log:', ...broker.logTail(6).split('\n')] : ['Kafka broker did not start']),
    ...nodes.flatMap((n) => [`orderer${n.index} (running: ${n.running()}):`, ...n.output.slice(-10)]),
    `SETUP FAILED: ${err instanceof Error ? err.message : String(err)}`.split('\n').slice(0, 3).join(' | '),
  ];
  for (const line of lines) console.log(`# ${line.slice(0, 400)}`);
}

describe('Kafka consenter: three orderer processes from sys-kafka.block', { skip, timeout: 420_000 }, () => {
  let broker: KafkaBroker;
  const nodes: KafkaOrdererProcess[] = [];
  const ledgerDirs: string[] = [];

  before(async () => {
    try {
      broker = await startKafkaBroker({ plaintextPort: 9092 });
      for (let i = 0; i < 3; i++) ledgerDirs.push(mkdtempSync(join(tmpdir(), `kafka-orderer${i}-`)));
      // One after the other: three processes compiling the sources at once next to a starting JVM
      // can starve each other on a small CI machine.
      for (const [index, ledgerDir] of ledgerDirs.entries())
        nodes.push(await startKafkaOrdererProcess({ index, ledgerDir }));
      await Promise.all(nodes.map((n) => healthy(n, 120_000)));
    } catch (err) {
      reportSetupFailure(err, broker, nodes);
      throw err;
    }
  });

  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.kill()));
    await broker?.dispose();
    for (const dir of ledgerDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('Broadcasts to all three processes at once: every ledger has the same blocks (header hashes), each envelope once', async () => {
    await createMyChannel(nodes[0]!.address);
    await Promise.all(nodes.map((n) => servingChannel(n, CHANNEL)));
    const sent = (
      await Promise.all(nodes.map((n, i) => broadcastTransactions(n.address, CHANNEL, `burst${i}`, 50)))
    ).flat();
    assert.ok(
      sent.every((s) => s.status === 200),
      JSON.stringify(sent.find((s) => s.status !== 200)),
    );
    assert.equal(sent.length, 150);
    const ledger = await sameLedgers(
      nodes,
      CHANNEL,
      sent.map((s) => s.txId),
    );
    assertEachOnce(
      ledger,
      sent.map((s) => s.txId),
    );
    assert.equal(txCounts(ledger).size, 151, 'the genesis config transaction plus the 150 sent');
    const system = await sameLedgers(nodes, 'system-channel', [], ordererAdmin);
    assert.equal(system.length, 2, 'the genesis block and the channel creation, ordered through Kafka');
  });

  it('kill -9 one orderer under load and restart it: it resumes after its last persisted offset, catches up, nothing lost or doubled', async () => {
    const victim = nodes[2]!;
    const load = startLoad(nodes, 'kill');
    let resumed: { lastOffsetPersisted: unknown; fromOffset: unknown };
    let lastOnDisk: LedgerBlock;
    try {
      await waitFor(
        () => `load running (${load.acknowledged.length} acknowledged)`,
        () => load.acknowledgedBy[2]! >= 20 && load.acknowledged.length >= 60,
      );
      await victim.kill();
      const beforeRestart = load.acknowledged.length;
      await waitFor(
        () => 'the other two ordering without it',
        () => load.acknowledged.length >= beforeRestart + 40,
      );
      // What the killed orderer's ledger holds (opened as the orderer opens it: a torn tail is cut off).
      const ledgers = await FileLedgerFactory.open({ location: victim.ledgerDir }, { clock: systemClock });
      try {
        const store = await ledgers.open(CHANNEL);
        lastOnDisk = describeBlock((await store.getBlock(store.height() - 1))!.bytes);
      } finally {
        await ledgers.close();
      }
      const runsBefore = victim.logs('Kafka chain started').length;
      await victim.restart();
      await servingChannel(victim, CHANNEL);
      const starting = victim.logs('starting Kafka chain').filter((r) => r['channel'] === CHANNEL);
      const started = victim.logs('Kafka chain started').filter((r) => r['channel'] === CHANNEL);
      assert.ok(victim.logs('Kafka chain started').length > runsBefore);
      resumed = {
        lastOffsetPersisted: starting.at(-1)?.['lastOffsetPersisted'],
        fromOffset: started.at(-1)?.['fromOffset'],
      };
      const ackedByVictim = load.acknowledgedBy[2]!;
      await waitFor(
        () => 'Broadcasts acknowledged by the restarted orderer',
        () => load.acknowledgedBy[2]! >= ackedByVictim + 20,
      );
    } finally {
      await load.stop();
    }
    assert.equal(
      resumed.lastOffsetPersisted,
      lastOnDisk!.kafka!.lastOffsetPersisted,
      `the restarted chain starts from the KafkaMetadata of block ${lastOnDisk!.number}, its last block on disk`,
    );
    assert.ok((resumed.lastOffsetPersisted as number) > 0, JSON.stringify(resumed));
    assert.equal(
      resumed.fromOffset,
      (resumed.lastOffsetPersisted as number) + 1,
      'consumption resumes right after the offset its last block records',
    );
    const ledger = await sameLedgers(nodes, CHANNEL, load.acknowledged);
    assertEachOnce(ledger, load.acknowledged);
    const offsets = ledger.slice(1).map((b) => b.kafka!.lastOffsetPersisted);
    assert.deepEqual(
      offsets,
      [...offsets].sort((a, b) => a - b),
    );
  });

  it('broker stopped under load: 503 on Broadcast and STRICT Deliver, BEST_EFFORT reads on, /healthz fails "kafka"; broker back: ordering resumes, nothing lost or doubled', async () => {
    const before = await deliverLedger(nodes[0]!.address, CHANNEL);
    assert.equal(before.status, 200);
    const load = startLoad(nodes, 'outage');
    let healthBody;
    try {
      await waitFor(
        () => `load running (${load.acknowledged.length})`,
        () => load.acknowledged.length >= 30,
      );
      await broker.stop();
      await waitFor(
        () => `a refusal (${load.refused.length})`,
        () => load.refused.length > 0,
        30_000,
      );
      assert.equal(load.refused[0]!.status, 503, load.refused[0]!.info);
      assert.match(load.refused[0]!.info, /127\.0\.0\.1:9092/);

      await waitFor(
        () => 'STRICT Deliver refused with SERVICE_UNAVAILABLE',
        async () => (await strictDeliverStatus(nodes[0]!.address, CHANNEL)) === 503,
        30_000,
        250,
      );
      const bestEffort = await deliverLedger(nodes[0]!.address, CHANNEL, 'bestEffort');
      assert.equal(bestEffort.status, 200, 'BEST_EFFORT Deliver ignores the chain error');
      assert.ok(bestEffort.blocks.length >= before.blocks.length);
      assert.deepEqual(
        bestEffort.blocks.slice(0, before.blocks.length).map((b) => b.headerHash),
        before.blocks.map((b) => b.headerHash),
      );

      let last: Awaited<ReturnType<typeof healthz>> | undefined;
      await waitFor(
        () => `/healthz of orderer0 failing the kafka check (last: ${JSON.stringify(last)})`,
        async () => {
          last = await healthz(nodes[0]!.operationsPort);
          return last.status === 503 && !!last.body.failed_checks?.some((c) => c.component === 'kafka');
        },
        60_000,
        250,
      );
      healthBody = last!.body;

      const acknowledgedBeforeRestart = load.acknowledged.length;
      await broker.restart();
      await waitFor(
        () => 'every orderer healthy again',
        async () =>
          (await Promise.all(nodes.map((n) => healthz(n.operationsPort).then((h) => h.status)))).every(
            (s) => s === 200,
          ),
        90_000,
        250,
      );
      await waitFor(
        () => 'acknowledgements after the restart',
        () => load.acknowledged.length >= acknowledgedBeforeRestart + 30,
        60_000,
      );
    } finally {
      await load.stop();
    }
    const kafkaCheck = healthBody.failed_checks!.find((c) => c.component === 'kafka')!;
    assert.match(kafkaCheck.reason, /channel mychannel/);
    assert.match(kafkaCheck.reason, /127\.0\.0\.1:9092/);
    assert.equal(healthBody.status, 'Service Unavailable');

    const ledger = await sameLedgers(nodes, CHANNEL, load.acknowledged);
    assertEachOnce(ledger, load.acknowledged);
    console.log(
      `# outage: ${load.acknowledged.length} acknowledged (all in every ledger, once), ${load.refused.length} refused with 503`,
    );
  });
});
