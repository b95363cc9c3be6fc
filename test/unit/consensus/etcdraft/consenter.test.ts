// The etcdraft consenter as Fabric's consenter.go behaves: a node knows itself by the public key
// of its cluster server certificate, gets its Raft ID from the block metadata, is refused a chain
// for a channel it is not a consenter of (saying why), registers its chain with the cluster
// service and takes it off again when halted; config updates are checked as etcdraft configs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { EtcdraftConsenter, type ChannelBlockPuller } from '../../../../src/consensus/etcdraft/consenter.js';
import { EtcdraftChain } from '../../../../src/consensus/etcdraft/chain.js';
import { FollowerChain } from '../../../../src/consensus/follower/index.js';
import { encodeBlockMetadata } from '../../../../src/consensus/etcdraft/metadata.js';
import { readConfigBlock } from '../../../../src/channelconfig/index.js';
import type { ChannelConfigBundle } from '../../../../src/channelconfig/types.js';
import type { ConsenterSupport } from '../../../../src/consensus/types.js';
import { channelResources } from '../../../../src/server/orderer.js';
import { common, etcdraft, orderer } from '../../../../src/protos/index.js';
import { OrdererError } from '../../../../src/errors.js';
import { ManualClock } from '../../../../src/clock.js';
import { CRYPTO, FIXTURES } from '../../../support/fabric-clients.js';

const APPRAFT = common.Block.decode(readFileSync(join(FIXTURES, 'blocks/appraft-genesis.block')));
const serverCert = (i: number) =>
  readFileSync(
    join(CRYPTO, `ordererOrganizations/example.com/orderers/orderer${i}.example.com/tls/server.crt`),
  );
const OTHER_CERT = readFileSync(
  join(CRYPTO, 'peerOrganizations/org1.example.com/peers/peer0.org1.example.com/tls/server.crt'),
);

function bundleWith(edit?: (metadata: etcdraft.ConfigMetadata) => void): ChannelConfigBundle {
  const { channelId, configEnvelope } = readConfigBlock(APPRAFT);
  const config = common.Config.decode(common.Config.encode(configEnvelope.config!).finish());
  if (edit) {
    const value = config.channelGroup!.groups!.Orderer!.values!.ConsensusType!;
    const consensusType = orderer.ConsensusType.decode(value.value!);
    const metadata = etcdraft.ConfigMetadata.decode(consensusType.metadata);
    edit(metadata);
    consensusType.metadata = etcdraft.ConfigMetadata.encode(metadata).finish();
    value.value = orderer.ConsensusType.encode(consensusType).finish();
  }
  return channelResources().createBundle(channelId, config);
}

const silent = pino({ level: 'silent' });

function raftChainOf(chain: unknown): EtcdraftChain {
  assert.ok(chain instanceof EtcdraftChain, 'an etcdraft chain');
  return chain;
}

function consenterAs(
  certificate: Buffer | undefined,
  dirs: { wal: string; snap: string },
  pullerFor?: (channel: { channelId: string; bundle(): ChannelConfigBundle }) => ChannelBlockPuller,
) {
  const disconnected: [string, number][] = [];
  const consenter = new EtcdraftConsenter(
    { walDir: dirs.wal, snapDir: dirs.snap },
    {
      serverCertificatePem: certificate,
      client: {
        sendConsensus: () => true,
        sendSubmit: async () => {},
        disconnect: (channel, id) => disconnected.push([channel, id]),
      },
      logger: silent,
      clock: new ManualClock(Date.parse('2026-12-01T00:00:00Z')),
      ...(pullerFor ? { pullerFor } : {}),
    },
  );
  return { consenter, disconnected };
}

function supportFor(bundle: ChannelConfigBundle, height: number): ConsenterSupport {
  // Only what handleChain and the chain's constructor read: the chain is not started here.
  return {
    channelId: bundle.channelId,
    clock: new ManualClock(),
    logger: silent,
    bundle: () => bundle,
    sharedConfig: () => bundle.orderer!,
    height: () => height,
  } as unknown as ConsenterSupport;
}

function tempDirs() {
  const root = mkdtempSync(join(tmpdir(), 'etcdraft-consenter-'));
  return { wal: join(root, 'wal'), snap: join(root, 'snap'), root };
}

test('a node is a member of the channel whose consenters hold its server certificate', () => {
  const dirs = tempDirs();
  try {
    const bundle = bundleWith();
    assert.equal(consenterAs(serverCert(1), dirs).consenter.isChannelMember(APPRAFT, bundle), true);
    assert.equal(consenterAs(OTHER_CERT, dirs).consenter.isChannelMember(APPRAFT, bundle), false);
  } finally {
    rmSync(dirs.root, { recursive: true, force: true });
  }
});

test('the Raft ID comes from the block metadata at the position of the own consenter', async () => {
  const dirs = tempDirs();
  try {
    const bundle = bundleWith();
    const { consenter, disconnected } = consenterAs(serverCert(2), dirs);
    const genesisChain = raftChainOf(consenter.handleChain(supportFor(bundle, 1), undefined));
    assert.equal(genesisChain.raftId, 3);
    // After a membership change IDs are not positions: the third consenter may be node 7.
    const metadata = encodeBlockMetadata({ consenterIds: [1, 2, 7], nextConsenterId: 8, raftIndex: 40 });
    const later = raftChainOf(consenter.handleChain(supportFor(bundle, 12), metadata));
    assert.equal(later.raftId, 7);
    assert.equal(consenter.clusterChannel('appraft')?.endpoint, later.cluster);
    assert.equal(consenter.clusterChannel('appraft')?.members.lookupByClientCert(serverCert(0))?.id, 1);
    await later.halt();
    assert.equal(consenter.clusterChannel('appraft'), undefined);
    assert.deepEqual(
      disconnected.map(([, id]) => id),
      [1, 2, 7],
    );
  } finally {
    rmSync(dirs.root, { recursive: true, force: true });
  }
});

test('after a migration (blocks, but no consenter metadata on the last one) the chain bootstraps a new Raft group', async () => {
  const dirs = tempDirs();
  try {
    const bundle = bundleWith();
    const { consenter } = consenterAs(serverCert(1), dirs);
    // Fabric's ReadBlockMetadata on empty metadata: IDs 1..n in consenter order, next ID n+1; and
    // MigrationInit: not a join, so every consenter bootstraps the peers' log itself.
    const migrated = raftChainOf(consenter.handleChain(supportFor(bundle, 9), undefined));
    assert.equal(migrated.raftId, 2);
    assert.deepEqual(migrated.membership().metadata, {
      consenterIds: [1, 2, 3],
      nextConsenterId: 4,
      raftIndex: 0,
    });
    const options = (migrated as unknown as { options: { join?: boolean } }).options;
    assert.equal(options.join, false, 'a migrated channel is not joined: its consenters bootstrap Raft');
    await migrated.halt();
    // With etcdraft metadata on the last block, a node without Raft state past genesis joins.
    const metadata = encodeBlockMetadata({ consenterIds: [1, 2, 3], nextConsenterId: 4, raftIndex: 9 });
    const joined = raftChainOf(consenter.handleChain(supportFor(bundle, 9), metadata));
    assert.equal((joined as unknown as { options: { join?: boolean } }).options.join, true);
    await joined.halt();
  } finally {
    rmSync(dirs.root, { recursive: true, force: true });
  }
});

test('a chain is refused, saying why, to a node that is not a consenter or has no TLS identity', () => {
  const dirs = tempDirs();
  try {
    const bundle = bundleWith();
    assert.throws(
      () => consenterAs(OTHER_CERT, dirs).consenter.handleChain(supportFor(bundle, 1), undefined),
      (err: unknown) => err instanceof OrdererError && /not a consenter of channel appraft/.test(err.message),
    );
    assert.throws(
      () => consenterAs(undefined, dirs).consenter.handleChain(supportFor(bundle, 1), undefined),
      (err: unknown) =>
        err instanceof OrdererError && /etcdraft, which needs TLS between orderers/.test(err.message),
    );
  } finally {
    rmSync(dirs.root, { recursive: true, force: true });
  }
});

test('with a block puller, a non-consenter follows the channel and a joined channel onboards first', () => {
  const dirs = tempDirs();
  try {
    const bundle = bundleWith();
    const pulledFor: { channelId: string; bundle: ChannelConfigBundle }[] = [];
    const puller: ChannelBlockPuller = {
      pullBlock: () => new Promise(() => {}),
      lastConfigBlock: () => new Promise(() => {}),
      distrustCurrent: () => {},
      close: () => {},
    };
    const pullerFor = (channel: { channelId: string; bundle(): ChannelConfigBundle }) => {
      pulledFor.push({ channelId: channel.channelId, bundle: channel.bundle() });
      return puller;
    };
    const follower = consenterAs(OTHER_CERT, dirs, pullerFor).consenter.handleChain(
      supportFor(bundle, 3),
      undefined,
    );
    assert.ok(follower instanceof FollowerChain);
    assert.deepEqual(follower.statusReport(), { consensusRelation: 'follower', status: 'active' });
    assert.match(follower.errored()?.message ?? 'no error', /no error/);

    // A consenter joined with a config block past its ledger pulls up to it first, with the join
    // block's config telling it where from.
    const joinBundle = bundleWith();
    const { consenter } = consenterAs(serverCert(0), dirs, pullerFor);
    const join = { number: 7, headerHash: Buffer.alloc(32, 1), bundle: joinBundle };
    const onboarding = consenter.handleChain(supportFor(bundle, 1), undefined, join);
    assert.ok(onboarding instanceof FollowerChain);
    assert.deepEqual(onboarding.statusReport(), { consensusRelation: 'follower', status: 'onboarding' });
    assert.match(onboarding.errored()?.message ?? '', /onboarding: this orderer has 1 of its blocks.*join block \[7\]/);
    assert.equal(pulledFor.at(-1)!.bundle, joinBundle);
    assert.equal(consenter.clusterChannel('appraft'), undefined, 'a follower takes no Step messages');
    // Past the join block, the same consenter makes its Raft chain.
    assert.equal(raftChainOf(consenter.handleChain(supportFor(bundle, 8), undefined, join)).raftId, 1);
    assert.ok(consenter.onboarding, 'a consenter with a puller can onboard channels');
    assert.equal(consenterAs(serverCert(0), dirs).consenter.onboarding, undefined);
  } finally {
    rmSync(dirs.root, { recursive: true, force: true });
  }
});

test('updates may change options and one consenter at a time, never into quorum loss', () => {
  const dirs = tempDirs();
  try {
    const { consenter } = consenterAs(serverCert(0), dirs);
    const current = bundleWith();
    consenter.validateConsensusMetadata(
      current,
      bundleWith((m) => (m.options!.tickInterval = '250ms')),
      false,
    );
    // No chain has seen any node active here: removing one of three leaves no known quorum.
    assert.throws(
      () => consenter.validateConsensusMetadata(current, bundleWith((m) => m.consenters.pop()), false),
      /0 out of 2 nodes are alive, configuration will result in quorum loss/,
    );
    assert.throws(
      () =>
        consenter.validateConsensusMetadata(
          current,
          bundleWith((m) => m.consenters.splice(1, 2)),
          false,
        ),
      /update of more than one consenter at a time is not supported/,
    );
    assert.throws(
      () =>
        consenter.validateConsensusMetadata(
          current,
          bundleWith((m) => (m.options!.electionTick = m.options!.heartbeatTick)),
          false,
        ),
      (err: unknown) => err instanceof OrdererError && err.kind === 'bad-request',
    );
  } finally {
    rmSync(dirs.root, { recursive: true, force: true });
  }
});

test('removing a channel deletes its WAL and snapshot folders', async () => {
  const dirs = tempDirs();
  try {
    const { consenter } = consenterAs(serverCert(0), dirs);
    consenter.handleChain(supportFor(bundleWith(), 1), undefined);
    mkdirSync(join(dirs.wal, 'appraft'), { recursive: true });
    mkdirSync(join(dirs.snap, 'appraft'), { recursive: true });
    await consenter.removeChannel('appraft');
    assert.equal(existsSync(join(dirs.wal, 'appraft')), false);
    assert.equal(existsSync(join(dirs.snap, 'appraft')), false);
    assert.equal(consenter.chainOf('appraft'), undefined);
  } finally {
    rmSync(dirs.root, { recursive: true, force: true });
  }
});
