// The registrar over a memory ledger and Fabric's real genesis blocks, with a recording consenter:
// which consenter gets a channel, with which logger, what the participation API reports, and
// that removing a channel reaches every consenter.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { ManualClock } from '../../../src/clock.js';
import { OrdererError } from '../../../src/errors.js';
import { BlockCutter } from '../../../src/blockcutter/index.js';
import { MemoryLedgerFactory } from '../../../src/ledger/index.js';
import { Registrar, migrationTargetsFor } from '../../../src/multichannel/registrar.js';
import { channelResources } from '../../../src/server/orderer.js';
import type { Logger } from '../../../src/logging.js';
import type { SigningIdentity } from '../../../src/msp/types.js';
import type {
  Chain,
  ChainStatusReport,
  ChannelBlockPuller,
  ChannelJoin,
  Consenter,
  ConsenterSupport,
} from '../../../src/consensus/types.js';
import { common } from '../../../src/protos/index.js';
import { blockHeaderHash } from '../../../src/protoutil/block.js';
import { FIXTURES } from '../../support/fabric-clients.js';
import { goldenBlocks } from '../../support/ledger.js';

const block = (name: string) => readFileSync(join(FIXTURES, 'blocks', name));

class RecordingChain implements Chain {
  readonly ordersOnCall = false;
  readonly cluster = undefined;
  started = 0;
  halted = 0;
  report: ChainStatusReport = { consensusRelation: 'consenter', status: 'active' };
  constructor(readonly support: ConsenterSupport) {}
  order = async () => {};
  configure = async () => {};
  waitReady = async () => {};
  errored = () => undefined;
  onStatusChange = () => () => {};
  statusReport = () => this.report;
  start = () => void this.started++;
  halt = async () => void this.halted++;
}

class RecordingConsenter implements Consenter {
  readonly chains: RecordingChain[] = [];
  readonly joins: (ChannelJoin | undefined)[] = [];
  readonly removed: string[] = [];
  readonly membershipAsked: common.IBlock[] = [];
  failWith: Error | undefined;
  onboarding: Consenter['onboarding'];
  handleChain(support: ConsenterSupport, _metadata: Buffer | undefined, join?: ChannelJoin): Chain {
    if (this.failWith) throw this.failWith;
    const chain = new RecordingChain(support);
    this.chains.push(chain);
    this.joins.push(join);
    return chain;
  }
  isChannelMember(configBlock: common.IBlock): boolean {
    this.membershipAsked.push(configBlock);
    return true;
  }
  validateConsensusMetadata(): void {}
  async removeChannel(channelId: string): Promise<void> {
    this.removed.push(channelId);
  }
}

function setup(types: string[] = ['solo', 'kafka'], ledgerFactory = new MemoryLedgerFactory()) {
  const consenters = new Map(types.map((type) => [type, new RecordingConsenter()]));
  const loggers = new Map<string, Logger>(types.map((type) => [type, pino({ level: 'silent', name: type })]));
  const infos: [string, string | undefined][] = [];
  const clock = new ManualClock();
  const registrar = new Registrar(
    { noExpirationChecks: true },
    {
      ledgerFactory,
      signer: { mspId: 'OrdererMSP' } as SigningIdentity,
      clock,
      logger: pino({ level: 'silent' }),
      resources: channelResources(),
      consenters: new Map(
        [...consenters].map(([type, consenter]) => [type, { consenter, logger: loggers.get(type)! }]),
      ),
      createBlockCutter: (batchSize) => new BlockCutter({ batchSize }, { clock }),
      onChannelInfo: (channel, info) => infos.push([channel, info?.status]),
    },
  );
  return { registrar, consenters, ledgerFactory, infos };
}

describe('registrar', () => {
  test('bootstraps the system channel from its genesis block with the consenter its config names', async () => {
    const { registrar, consenters, infos } = setup();
    await registrar.initialize(block('sys-solo.block'));
    assert.deepEqual(registrar.channelIds(), ['system-channel']);
    assert.equal(registrar.systemChannelName(), 'system-channel');
    const [chain] = consenters.get('solo')!.chains;
    assert.ok(chain);
    assert.equal(chain.started, 1);
    assert.equal(consenters.get('kafka')!.chains.length, 0);
    assert.equal(chain.support.channelId, 'system-channel');
    assert.equal(chain.support.height(), 1);
    // The consenter logs through its own logger (orderer.consensus.solo), with the channel bound.
    assert.deepEqual((chain.support.logger as pino.Logger).bindings(), {
      name: 'solo',
      channel: 'system-channel',
    });
    assert.deepEqual(infos, [['system-channel', 'active']]);
  });

  test("reports the chain's own relation and status to the participation API", async () => {
    const { registrar, consenters } = setup();
    await registrar.joinChannel(block('appsolo-genesis.block'));
    const chain = consenters.get('solo')!.chains[0]!;
    const table: ChainStatusReport[] = [
      { consensusRelation: 'consenter', status: 'active' },
      { consensusRelation: 'follower', status: 'onboarding' },
      { consensusRelation: 'other', status: 'inactive' },
      { consensusRelation: 'config-tracker', status: 'failed' },
    ];
    for (const report of table) {
      chain.report = report;
      assert.deepEqual(registrar.channelInfo('appsolo'), { name: 'appsolo', ...report, height: 1 });
    }
    assert.equal(registrar.channelInfo('nochannel'), undefined);
  });

  test('join asks the consenter whether this orderer is a member, given the join block', async () => {
    const { registrar, consenters } = setup();
    const info = await registrar.joinChannel(block('appsolo-genesis.block'));
    assert.equal(info.name, 'appsolo');
    const asked = consenters.get('solo')!.membershipAsked;
    assert.equal(asked.length, 1);
    assert.equal(Number(asked[0]!.header!.number), 0);
  });

  const refusals: { name: string; types: string[]; blockFile: string; fail?: Error; message: RegExp }[] = [
    {
      name: 'a consensus type this orderer does not run',
      types: ['kafka'],
      blockFile: 'appsolo-genesis.block',
      message: /consensus type 'solo' is not available on this orderer \(available: kafka\)/,
    },
    {
      name: 'a consenter that cannot make the chain',
      types: ['solo'],
      blockFile: 'appsolo-genesis.block',
      fail: new OrdererError('bad-request', 'no brokers configured'),
      message: /no brokers configured/,
    },
    {
      name: 'a system channel block',
      types: ['solo'],
      blockFile: 'sys-solo.block',
      message: /is a system channel/,
    },
  ];
  for (const refusal of refusals) {
    test(`join refuses ${refusal.name} and leaves nothing behind`, async () => {
      const { registrar, consenters, ledgerFactory } = setup(refusal.types);
      for (const consenter of consenters.values()) consenter.failWith = refusal.fail;
      await assert.rejects(registrar.joinChannel(block(refusal.blockFile)), (err: unknown) => {
        assert.ok(err instanceof OrdererError);
        assert.match(err.message, refusal.message);
        return true;
      });
      assert.deepEqual(registrar.channelIds(), []);
      assert.deepEqual(ledgerFactory.channelIds(), []);
    });
  }

  test('removing a channel halts its chain and reaches every consenter (state of a migrated channel too)', async () => {
    const { registrar, consenters, ledgerFactory, infos } = setup();
    await registrar.joinChannel(block('appsolo-genesis.block'));
    const chain = consenters.get('solo')!.chains[0]!;
    await registrar.removeChannel('appsolo');
    assert.equal(chain.halted, 1);
    assert.deepEqual(consenters.get('solo')!.removed, ['appsolo']);
    assert.deepEqual(consenters.get('kafka')!.removed, ['appsolo']);
    assert.deepEqual(ledgerFactory.channelIds(), []);
    assert.deepEqual(infos.at(-1), ['appsolo', undefined]);
    await assert.rejects(registrar.removeChannel('appsolo'), /does not exist/);
  });

  test('migration targets are the Fabric targets that have a consenter here', () => {
    const table: [string[], string[]][] = [
      [['solo', 'kafka'], []],
      [['solo', 'kafka', 'etcdraft'], ['etcdraft']],
      [['etcdraft'], ['etcdraft']],
      [['bft'], []],
    ];
    for (const [types, targets] of table)
      assert.deepEqual([...migrationTargetsFor(types)], targets, types.join(','));
  });

  describe('joining past the genesis block', () => {
    /** A consenter that can onboard, whose puller serves `served` (block n at index n). */
    function onboardingSetup(served: Buffer[], ledgerFactory?: MemoryLedgerFactory) {
      const parts = setup(['solo'], ledgerFactory);
      const consenter = parts.consenters.get('solo')!;
      const pulled: number[] = [];
      consenter.onboarding = {
        pullerFor: (): ChannelBlockPuller => ({
          pullBlock: async (number) => {
            pulled.push(number);
            const bytes = served[number];
            if (!bytes) throw new Error(`no orderer serves block ${number}`);
            return { bytes, block: common.Block.decode(bytes) };
          },
          lastConfigBlock: () => Promise.reject(new Error('onboarding does not ask for the last config block')),
          distrustCurrent: () => {},
          close: () => {},
        }),
      };
      return { ...parts, consenter, pulled };
    }

    test('pulls the genesis block, keeps the join block and gives the consenter the join point', async () => {
      const golden = await goldenBlocks('mychannel');
      const { registrar, consenter, ledgerFactory, pulled } = onboardingSetup(golden);
      await registrar.joinChannel(golden[2]!);
      assert.deepEqual(pulled, [0]);
      const store = await ledgerFactory.open('mychannel');
      assert.equal(store.height(), 1);
      assert.ok((await store.getBlock(0))!.bytes.equals(golden[0]!), 'the genesis block stored as received');
      assert.ok((await ledgerFactory.joinBlock('mychannel'))!.equals(golden[2]!));
      const join = consenter.joins[0]!;
      assert.equal(join.number, 2);
      assert.ok(join.headerHash.equals(blockHeaderHash(common.Block.decode(golden[2]!).header!)));
      // The join block's config, while the channel is at its genesis config until it pulls on.
      const chain = consenter.chains[0]!;
      assert.equal(join.bundle.sequence, 2);
      assert.equal(chain.support.sequence(), 1);
      assert.equal(chain.started, 1);
    });

    test('a restart resumes onboarding below the join block and drops the join block past it', async () => {
      const golden = await goldenBlocks('mychannel');
      const first = onboardingSetup(golden);
      await first.registrar.joinChannel(golden[2]!);
      await first.registrar.halt();

      // Still at height 1: the consenter gets the join point again.
      const again = onboardingSetup(golden, first.ledgerFactory);
      const resumed = again.registrar;
      await resumed.initialize();
      assert.equal(again.consenter.joins[0]?.number, 2);
      assert.deepEqual(again.pulled, [], 'the genesis block is not pulled twice');
      await resumed.halt();

      // Past the join block (the follower appended 1..3): an ordinary channel, join block gone.
      const store = await first.ledgerFactory.open('mychannel');
      for (const number of [1, 2, 3]) await store.append({ number, bytes: golden[number]! });
      const later = onboardingSetup(golden, first.ledgerFactory);
      const reopened = later.registrar;
      await reopened.initialize();
      assert.deepEqual(later.consenter.joins, [undefined]);
      assert.equal(await first.ledgerFactory.joinBlock('mychannel'), undefined);
      assert.equal(reopened.channelInfo('mychannel')?.height, 4);
    });

    test('a restart after a crash before the genesis block was stored pulls it again', async () => {
      const golden = await goldenBlocks('mychannel');
      const crashed = onboardingSetup(golden);
      await crashed.ledgerFactory.open('mychannel');
      await crashed.ledgerFactory.saveJoinBlock('mychannel', golden[2]!);
      await crashed.registrar.initialize();
      assert.deepEqual(crashed.pulled, [0]);
      assert.equal(crashed.consenter.joins[0]?.number, 2);
      assert.equal(crashed.registrar.channelInfo('mychannel')?.height, 1);
    });

    test('an empty ledger without a join block (a join that crashed at once) is removed at start', async () => {
      const { registrar, ledgerFactory } = setup(['solo']);
      await ledgerFactory.open('mychannel');
      await registrar.initialize();
      assert.deepEqual(registrar.channelIds(), []);
      assert.deepEqual(ledgerFactory.channelIds(), []);
    });

    const refusals: { name: string; served: (golden: Buffer[]) => Buffer[]; message: RegExp }[] = [
      {
        name: 'no orderer serves the genesis block',
        served: () => [],
        message: /cannot pull the genesis block of channel mychannel .*no orderer serves block 0.*join again/,
      },
      {
        name: 'the pulled block 0 is not a config block',
        served: (golden) => [golden[1]!],
        message: /the block 0 pulled for channel mychannel is not a genesis block/,
      },
      {
        name: 'the pulled block 0 is of another channel',
        served: () => [block('appsolo-genesis.block')],
        message: /the block 0 pulled for channel mychannel is the genesis block of channel appsolo/,
      },
    ];
    for (const refusal of refusals) {
      test(`refuses the join when ${refusal.name}, leaving nothing behind`, async () => {
        const golden = await goldenBlocks('mychannel');
        const { registrar, ledgerFactory, consenter } = onboardingSetup(refusal.served(golden));
        await assert.rejects(registrar.joinChannel(golden[2]!), refusal.message);
        assert.deepEqual(registrar.channelIds(), []);
        assert.deepEqual(ledgerFactory.channelIds(), []);
        assert.equal(await ledgerFactory.joinBlock('mychannel'), undefined);
        assert.equal(consenter.chains.length, 0);
      });
    }

    test('a consenter that cannot pull blocks refuses a join past genesis, saying to join with the genesis block', async () => {
      const golden = await goldenBlocks('mychannel');
      const { registrar, ledgerFactory } = setup(['solo']);
      await assert.rejects(
        registrar.joinChannel(golden[2]!),
        /joining channel mychannel at block 2 needs its blocks pulled from other orderers, which this orderer does not do for solo channels: join with the genesis block/,
      );
      assert.deepEqual(ledgerFactory.channelIds(), []);
    });
  });
});
