// What EtcdraftChain reports to its EtcdraftChainObserver (the consensus_etcdraft_* metrics), the
// active nodes it counts and spreads as Fabric's Tracker and Disseminator do, and the reason it
// gives while it has no leader: three chains of the in-memory RaftChainNet, each with a
// recording observer.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EtcdraftChainObserver } from '../../../../src/consensus/etcdraft/observer.js';
import { makeEnvelope } from '../../../support/solo.js';
import { BATCH_TIMEOUT_MS, CHANNEL, RaftChainNet } from '../../../support/raft-chain-net.js';

type Event =
  | ['clusterSize', number]
  | ['leadership', boolean]
  | ['leaderChanged']
  | ['activeNodes', number]
  | ['committedBlock', number]
  | ['snapshotBlock', number]
  | ['proposalFailed']
  | ['dataPersisted', number]
  | ['proposalReceived', boolean];

class RecordingObserver implements EtcdraftChainObserver {
  readonly events: Event[] = [];
  clusterSize(size: number): void {
    this.events.push(['clusterSize', size]);
  }
  leadership(isLeader: boolean): void {
    this.events.push(['leadership', isLeader]);
  }
  leaderChanged(): void {
    this.events.push(['leaderChanged']);
  }
  activeNodes(count: number): void {
    this.events.push(['activeNodes', count]);
  }
  committedBlock(blockNumber: number): void {
    this.events.push(['committedBlock', blockNumber]);
  }
  snapshotBlock(blockNumber: number): void {
    this.events.push(['snapshotBlock', blockNumber]);
  }
  proposalFailed(): void {
    this.events.push(['proposalFailed']);
  }
  dataPersisted(seconds: number): void {
    this.events.push(['dataPersisted', seconds]);
  }
  proposalReceived(isConfig: boolean): void {
    this.events.push(['proposalReceived', isConfig]);
  }

  /** The last value reported for a gauge-like event, undefined when never reported. */
  last<K extends Event[0]>(kind: K): Extract<Event, [K, unknown]>[1] | undefined {
    const found = this.events.filter((e) => e[0] === kind).at(-1);
    return found?.[1] as Extract<Event, [K, unknown]>[1] | undefined;
  }

  count(kind: Event[0]): number {
    return this.events.filter((e) => e[0] === kind).length;
  }
}

let net: RaftChainNet | undefined;
afterEach(async () => {
  await net?.close();
  net = undefined;
});

async function startNet(
  size: number,
): Promise<{ n: RaftChainNet; observers: Map<number, RecordingObserver> }> {
  const n = new RaftChainNet(size);
  net = n;
  await n.init();
  const observers = new Map<number, RecordingObserver>();
  n.observerOf = (id) => {
    const observer = new RecordingObserver();
    observers.set(id, observer);
    return observer;
  };
  for (const id of n.ids) await n.start(id);
  return { n, observers };
}

/** Orders `count` envelopes through chain `on` and waits until they are in blocks everywhere. */
async function orderAll(n: RaftChainNet, on: number, prefix: string, count: number): Promise<void> {
  const answers = Array.from({ length: count }, (_, i) =>
    n.chain(on).order(makeEnvelope(`${prefix}-${i}`, { channelId: CHANNEL }), 0),
  );
  await n.settle();
  n.clock.advance(BATCH_TIMEOUT_MS);
  await n.settle();
  await Promise.all(answers);
  await n.tick(2); // heartbeats carry the commit index to the followers
}

describe('EtcdraftChain metrics', () => {
  test('cluster size, one leader, committed blocks, proposals counted by the leader, WAL persist times', async () => {
    const { n, observers } = await startNet(3);
    for (const id of n.ids) {
      assert.equal(observers.get(id)!.last('clusterSize'), 3, `cluster size on ${id}`);
      assert.equal(observers.get(id)!.last('committedBlock'), 0, `committed block on ${id} at start`);
    }
    const leader = await n.electLeader();
    const followers = n.ids.filter((id) => id !== leader);
    assert.equal(observers.get(leader)!.last('leadership'), true);
    for (const id of followers)
      assert.equal(observers.get(id)!.last('leadership'), false, `is_leader on ${id}`);
    for (const id of n.ids)
      assert.ok(observers.get(id)!.count('leaderChanged') >= 1, `leader change on ${id}`);

    // Five envelopes through a follower (forwarded) and one through the leader: the leader alone
    // counts what it receives, as Fabric counts in the leader's ordered().
    await orderAll(n, followers[0]!, 'via-follower', 5);
    await orderAll(n, leader, 'via-leader', 1);
    assert.equal(observers.get(leader)!.count('proposalReceived'), 6);
    for (const id of followers) assert.equal(observers.get(id)!.count('proposalReceived'), 0);
    assert.ok(
      observers.get(leader)!.events.every((e) => e[0] !== 'proposalReceived' || e[1] === false),
      'no config proposals counted',
    );

    const height = n.support(leader).blocks.length;
    assert.ok(height >= 3);
    for (const id of n.ids) {
      assert.equal(observers.get(id)!.last('committedBlock'), height - 1, `committed block on ${id}`);
      assert.ok(observers.get(id)!.count('dataPersisted') > 0, `WAL persist times on ${id}`);
      for (const e of observers.get(id)!.events)
        if (e[0] === 'dataPersisted') assert.ok(e[1] >= 0 && Number.isFinite(e[1]));
    }
  });

  test('active nodes: the leader counts them once stable and followers take the count from the leader only', async () => {
    const { n, observers } = await startNet(3);
    const leader = await n.electLeader();
    const followers = n.ids.filter((id) => id !== leader);
    // Stable for 3 more checks after the first, then published and carried by the next
    // heartbeat to each follower.
    await n.tick(6);
    for (const id of n.ids) {
      assert.equal(observers.get(id)!.last('activeNodes'), 3, `active nodes on ${id}`);
      assert.deepEqual([...n.chain(id).activeNodeIds].sort(), [1, 2, 3], `active node IDs on ${id}`);
    }

    // A follower stops: after an election timeout (CheckQuorum resets RecentActive) the leader
    // counts two, and the remaining follower hears it.
    const [gone, staying] = followers as [number, number];
    await n.stop(gone);
    await n.tick(30);
    assert.equal(n.leader(), leader, 'two of three keep the leader');
    assert.equal(observers.get(leader)!.last('activeNodes'), 2);
    assert.equal(observers.get(staying)!.last('activeNodes'), 2);
    assert.deepEqual([...n.chain(staying).activeNodeIds].sort(), [leader, staying].sort());
  });

  test('the leader is stopped: followers count a leader change and one of them becomes leader', async () => {
    const { n, observers } = await startNet(3);
    const oldLeader = await n.electLeader();
    const followers = n.ids.filter((id) => id !== oldLeader);
    const before = new Map(followers.map((id) => [id, observers.get(id)!.count('leaderChanged')]));
    await n.stop(oldLeader);
    const newLeader = await n.electLeader();
    assert.notEqual(newLeader, oldLeader);
    for (const id of followers)
      assert.ok(observers.get(id)!.count('leaderChanged') > before.get(id)!, `leader changes on ${id}`);
    assert.equal(observers.get(newLeader)!.last('leadership'), true);
    for (const id of followers.filter((f) => f !== newLeader))
      assert.equal(observers.get(id)!.last('leadership'), false);
  });
});

describe('EtcdraftChain snapshot metric', () => {
  test('the block of each snapshot taken, of one installed by catching up, and of the one restarted from', async () => {
    const n = new RaftChainNet(3);
    net = n;
    await n.init();
    n.snapshotIntervalSize = 1; // a snapshot after every block
    const observers = new Map<number, RecordingObserver>();
    n.observerOf = (id) => {
      const observer = new RecordingObserver();
      observers.set(id, observer);
      return observer;
    };
    for (const id of n.ids) await n.start(id);
    const leader = await n.electLeader();
    const lagging = n.ids.find((id) => id !== leader)!;
    await orderAll(n, leader, 'before', 3);
    await n.stop(lagging);
    await orderAll(n, leader, 'meanwhile', 30);
    const last = n.support(leader).blocks.length - 1;
    assert.equal(observers.get(leader)!.last('snapshotBlock'), last);

    // The stopped member catches up to the leader's snapshot by pulling blocks.
    await n.start(lagging);
    await n.tick(5);
    assert.ok(n.pulled.length > 0, 'caught up by pulling blocks');
    assert.ok(observers.get(lagging)!.count('snapshotBlock') > 0);
    assert.ok(observers.get(lagging)!.last('snapshotBlock')! >= last - 1);

    // A restart reports the block of the snapshot it starts from.
    await n.stop(leader);
    await n.start(leader);
    const restarted = observers.get(leader)!;
    assert.equal(restarted.events.find((e) => e[0] === 'snapshotBlock')?.[1], last);
  });
});

describe('EtcdraftChain without a leader', () => {
  test('at start: an election is in progress, with when to retry', async () => {
    const { n } = await startNet(3);
    const message = n.chain(1).errored()?.message ?? '';
    assert.match(message, /^no Raft leader for channel testchannel: an election is in progress/);
    // ElectionTick 10 × TickInterval 100 ms.
    assert.match(message, /retry in about 1s$/);
  });

  test('two of three stopped: the survivor names both unreachable consenters and the quorum it lacks', async () => {
    const { n } = await startNet(3);
    const leader = await n.electLeader();
    const survivor = n.ids.find((id) => id !== leader)!;
    const stopped = n.ids.filter((id) => id !== survivor);
    for (const id of stopped) await n.stop(id);
    await n.tick(40);
    const error = n.chain(survivor).errored();
    assert.equal((error as { kind?: string } | undefined)?.kind, 'unavailable');
    const message = error!.message;
    assert.match(message, /^no Raft leader for channel testchannel: no quorum reachable since /);
    for (const id of stopped) assert.ok(message.includes(`consenter ${id} at orderer${id}:7050`), message);
    assert.match(message, /1 of 3 consenters are reachable and a leader needs 2/);
    assert.match(message, /retry in about 1s$/);
    // Broadcast is refused with the same reason.
    await assert.rejects(n.chain(survivor).order(makeEnvelope('refused', { channelId: CHANNEL }), 0), {
      kind: 'unavailable',
      message,
    });

    // Reported by the cluster client (a broken stream) it is named with that reason.
    n.chain(survivor).reportUnreachable(stopped[0]!, 'cannot connect within General.Cluster.DialTimeout');
    assert.ok(
      n.chain(survivor).errored()!.message.includes('cannot connect within General.Cluster.DialTimeout'),
    );
  });
});
