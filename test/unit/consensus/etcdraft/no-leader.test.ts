// The reason Broadcast and STRICT Deliver get while a channel has no Raft leader, chosen from what
// the chain knows: which state it is in, since when, and which consenters it cannot reach.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatDuration,
  noLeaderMessage,
  type NoLeaderFacts,
} from '../../../../src/consensus/etcdraft/no-leader.js';
import { StateType } from '../../../../src/consensus/etcdraft/raft/index.js';

const since = Date.parse('2026-01-02T03:04:05.000Z');
const facts = (overrides: Partial<NoLeaderFacts>): NoLeaderFacts => ({
  channel: 'mychannel',
  selfId: 1,
  raftState: StateType.StatePreCandidate,
  leaderlessSince: since,
  now: since + 3_500,
  electionTimeoutMs: 2_000,
  consenters: [
    { id: 2, endpoint: 'orderer2.example.com:7050' },
    { id: 3, endpoint: 'orderer3.example.com:7050' },
  ],
  unreachable: new Map(),
  ...overrides,
});

describe('noLeaderMessage', () => {
  const cases: { name: string; facts: NoLeaderFacts; expected: string }[] = [
    {
      name: 'pre-candidate with every consenter reachable: an election',
      facts: facts({}),
      expected:
        'no Raft leader for channel mychannel: an election is in progress, this node is a pre-candidate ' +
        'since 2026-01-02T03:04:05.000Z (3.5s ago); retry in about 2s',
    },
    {
      name: 'candidate with one of three unreachable: still a quorum, an election, naming the one',
      facts: facts({ raftState: StateType.StateCandidate, unreachable: new Map([[3, 'stream ended: EOF']]) }),
      expected:
        'no Raft leader for channel mychannel: an election is in progress, this node is a candidate ' +
        'since 2026-01-02T03:04:05.000Z (3.5s ago) (it cannot reach consenter 3 at orderer3.example.com:7050 ' +
        '(stream ended: EOF)); retry in about 2s',
    },
    {
      name: 'a follower waiting for a leader',
      facts: facts({ raftState: StateType.StateFollower, now: since + 250, electionTimeoutMs: 800 }),
      expected:
        'no Raft leader for channel mychannel: an election is in progress, this node is a follower waiting ' +
        'for a leader since 2026-01-02T03:04:05.000Z (250ms ago); retry in about 800ms',
    },
    {
      name: 'two of three unreachable: no quorum, naming both with host:port and reason',
      facts: facts({
        unreachable: new Map([
          [2, 'cannot connect within General.Cluster.DialTimeout (5000 ms)'],
          [3, 'its stream could not take the message'],
        ]),
      }),
      expected:
        'no Raft leader for channel mychannel: no quorum reachable since 2026-01-02T03:04:05.000Z (3.5s ago): ' +
        'this node (consenter 1) cannot reach consenter 2 at orderer2.example.com:7050 (cannot connect within ' +
        'General.Cluster.DialTimeout (5000 ms)), consenter 3 at orderer3.example.com:7050 (its stream could not ' +
        'take the message); 1 of 3 consenters are reachable and a leader needs 2. Start or reconnect them, then ' +
        'retry in about 2s',
    },
    {
      name: 'unreachable IDs that are not consenters are not counted',
      facts: facts({ unreachable: new Map([[9, 'gone']]) }),
      expected:
        'no Raft leader for channel mychannel: an election is in progress, this node is a pre-candidate ' +
        'since 2026-01-02T03:04:05.000Z (3.5s ago); retry in about 2s',
    },
  ];
  for (const c of cases) test(c.name, () => assert.equal(noLeaderMessage(c.facts), c.expected));

  test('a clock behind the leaderless time does not give a negative age', () => {
    assert.match(noLeaderMessage(facts({ now: since - 10 })), /\(0ms ago\)/);
  });
});

test('formatDuration', () => {
  assert.deepEqual([0, 800, 1000, 1500, 2049, 90_000].map(formatDuration), [
    '0ms',
    '800ms',
    '1s',
    '1.5s',
    '2s',
    '90s',
  ]);
});
