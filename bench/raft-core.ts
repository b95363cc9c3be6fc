// Benchmark of the Raft core alone (no disk, no network): proposals per second through a simulated
// 3-node group, every message encoded and decoded with the raftpb codec as it would cross the wire,
// and heap bytes allocated per proposal. Not a test: the numbers depend on the machine, so the
// rate is also reported as a ratio to the machine's own ECDSA verification rate measured in the
// same run (an orderer verifies at least one signature per envelope, so a ratio well above 1 means
// the core is not what limits throughput).
//
//   node --import tsx bench/raft-core.ts                        1 KiB entries, batches of 64, 3 s
//   node --import tsx bench/raft-core.ts --entry 4096 --batch 1 --seconds 5 --nodes 5
//   node --import tsx bench/raft-core.ts --json
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { measureVerifyRate } from '../src/bench/verify-rate.js';
import {
  MemoryStorage,
  RawNode,
  StateType,
  seededRandom,
  type Message,
  type Ready,
} from '../src/consensus/etcdraft/raft/index.js';
import { decodeMessage, encodeMessage } from '../src/consensus/etcdraft/raft/wire.js';

interface Args {
  entryBytes: number;
  batch: number;
  seconds: number;
  nodes: number;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { entryBytes: 1024, batch: 64, seconds: 3, nodes: 3, json: false };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === '--entry' && value) args.entryBytes = Number(argv[++i]);
    else if (argv[i] === '--batch' && value) args.batch = Number(argv[++i]);
    else if (argv[i] === '--seconds' && value) args.seconds = Number(argv[++i]);
    else if (argv[i] === '--nodes' && value) args.nodes = Number(argv[++i]);
    else if (argv[i] === '--json') args.json = true;
    else throw new Error(`unknown argument ${argv[i]}; see the comment at the top of bench/raft-core.ts`);
  }
  for (const [name, value] of Object.entries(args)) {
    if (typeof value === 'number' && !(Number.isInteger(value) && value > 0)) {
      throw new Error(`--${name} must be a positive integer, got ${value}`);
    }
  }
  return args;
}

interface Member {
  node: RawNode;
  storage: MemoryStorage;
  applied: number;
}

/**
 * A group of RawNodes that persists each Ready to its MemoryStorage (as the etcdraft chain does to
 * its WAL), then delivers the Ready's messages as encoded bytes, decoded on arrival, until quiet.
 */
class SimulatedGroup {
  readonly members = new Map<number, Member>();
  bytesOnWire = 0;
  messages = 0;
  compactEvery = 10_000;

  constructor(size: number) {
    const peers = Array.from({ length: size }, (_, i) => ({ id: i + 1 }));
    for (const { id } of peers) {
      const storage = new MemoryStorage();
      const node = new RawNode({
        id,
        electionTick: 10,
        heartbeatTick: 1,
        storage,
        // Fabric's etcdraft settings (orderer/consensus/etcdraft/chain.go).
        maxSizePerMsg: 1024 * 1024,
        maxInflightMsgs: 256,
        checkQuorum: true,
        preVote: true,
        random: seededRandom(id),
      });
      node.bootstrap(peers);
      this.members.set(id, { node, storage, applied: 0 });
    }
  }

  leader(): Member | undefined {
    for (const member of this.members.values()) {
      if (member.node.status().softState.raftState === StateType.StateLeader) return member;
    }
    return undefined;
  }

  /** Runs Ready/advance on every node and delivers messages until no node has anything to do. */
  settle(): void {
    for (;;) {
      const wire: Uint8Array[] = [];
      for (const member of this.members.values()) {
        if (!member.node.hasReady()) continue;
        const rd = member.node.ready();
        this.persist(member, rd);
        for (const m of rd.messages) wire.push(encodeMessage(m));
        member.node.advance(rd);
      }
      if (wire.length === 0) return;
      for (const bytes of wire) {
        this.bytesOnWire += bytes.length;
        this.messages++;
        const m: Message = decodeMessage(bytes);
        this.members.get(m.to)!.node.step(m);
      }
    }
  }

  private persist(member: Member, rd: Ready): void {
    if (rd.hardState.term !== 0 || rd.hardState.commit !== 0) member.storage.setHardState(rd.hardState);
    if (rd.entries.length) member.storage.append(rd.entries);
    const last = rd.committedEntries[rd.committedEntries.length - 1];
    if (last) {
      member.applied = last.index;
      // Keep the in-memory log bounded, as snapshots do for the chain.
      if (member.applied - member.storage.firstIndex() > this.compactEvery) {
        member.storage.compact(member.applied - 1000);
      }
    }
  }

  elect(): Member {
    for (let ticks = 0; ticks < 1000; ticks++) {
      for (const member of this.members.values()) member.node.tick();
      this.settle();
      const leader = this.leader();
      if (leader) return leader;
    }
    throw new Error('no leader after 1000 ticks');
  }

  minApplied(): number {
    return Math.min(...[...this.members.values()].map((m) => m.applied));
  }
}

interface Result {
  proposals: number;
  seconds: number;
  perSecond: number;
  messagesPerProposal: number;
  wireBytesPerProposal: number;
  heapBytesPerProposal: number | undefined;
  heapWindowsWithoutGc: number;
}

function run(args: Args, seconds: number): Result {
  const group = new SimulatedGroup(args.nodes);
  const leader = group.elect();
  const data = new Uint8Array(args.entryBytes).fill(7);
  // Heap bytes per proposal: the growth of used heap over a batch in which no garbage collection
  // ran (a GC would hide what was allocated). Batches with a GC are left out of that figure.
  let gcs = 0;
  const observer = new PerformanceObserver((list) => (gcs += list.getEntries().length));
  observer.observe({ entryTypes: ['gc'] });
  let cleanBytes = 0;
  let cleanProposals = 0;
  let cleanWindows = 0;
  let proposals = 0;
  const startApplied = group.minApplied();
  const startMessages = group.messages;
  const startWire = group.bytesOnWire;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    const gcsBefore = gcs;
    const heapBefore = getHeapStatistics().used_heap_size;
    for (let i = 0; i < args.batch; i++) leader.node.propose(data);
    group.settle();
    const heapAfter = getHeapStatistics().used_heap_size;
    proposals += args.batch;
    if (gcs === gcsBefore && heapAfter >= heapBefore) {
      cleanBytes += heapAfter - heapBefore;
      cleanProposals += args.batch;
      cleanWindows++;
    }
  }
  const elapsed = (performance.now() - started) / 1000;
  observer.disconnect();
  const committedEverywhere = group.minApplied() - startApplied;
  if (committedEverywhere !== proposals) {
    throw new Error(`${proposals} proposals but ${committedEverywhere} applied on every node`);
  }
  return {
    proposals,
    seconds: elapsed,
    perSecond: proposals / elapsed,
    messagesPerProposal: (group.messages - startMessages) / proposals,
    wireBytesPerProposal: (group.bytesOnWire - startWire) / proposals,
    heapBytesPerProposal: cleanProposals ? cleanBytes / cleanProposals : undefined,
    heapWindowsWithoutGc: cleanWindows,
  };
}

const args = parseArgs(process.argv.slice(2));
run(args, Math.min(1, args.seconds)); // warm-up: JIT and allocation sites settle
const verifyBefore = measureVerifyRate(args.entryBytes, 500);
const result = run(args, args.seconds);
const verifyAfter = measureVerifyRate(args.entryBytes, 500);
const verifyPerSecond = (verifyBefore.perSecond + verifyAfter.perSecond) / 2;
const report = {
  nodes: args.nodes,
  entryBytes: args.entryBytes,
  batch: args.batch,
  ...result,
  verifyPerSecond,
  ratioToVerify: result.perSecond / verifyPerSecond,
};
if (args.json) {
  console.log(JSON.stringify(report, null, 2));
} else {
  const heap =
    report.heapBytesPerProposal === undefined
      ? 'n/a (a GC ran in every batch; try a smaller --batch)'
      : `${Math.round(report.heapBytesPerProposal)} B (${(report.heapBytesPerProposal / args.entryBytes).toFixed(1)}x the entry, from ${report.heapWindowsWithoutGc} batches without GC)`;
  console.log(
    [
      `Raft core, ${args.nodes} nodes in one process, ${args.entryBytes} B entries, ${args.batch} proposals per batch, messages encoded and decoded`,
      `  proposals committed on every node: ${report.proposals} in ${report.seconds.toFixed(2)} s = ${Math.round(report.perSecond)}/s`,
      `  = ${report.ratioToVerify.toFixed(2)}x this machine's ECDSA P-256 verify rate (${Math.round(verifyPerSecond)}/s on one thread)`,
      `  messages per proposal: ${report.messagesPerProposal.toFixed(2)}, wire bytes per proposal: ${Math.round(report.wireBytesPerProposal)}`,
      `  heap allocated per proposal: ${heap}`,
    ].join('\n'),
  );
}
