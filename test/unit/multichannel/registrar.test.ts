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
import type { Chain, ChainStatusReport, Consenter, ConsenterSupport } from '../../../src/consensus/types.js';
import type { common } from '../../../src/protos/index.js';
import { FIXTURES } from '../../support/fabric-clients.js';

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
  readonly removed: string[] = [];
  readonly membershipAsked: common.IBlock[] = [];
  failWith: Error | undefined;
  handleChain(support: ConsenterSupport): Chain {
    if (this.failWith) throw this.failWith;
    const chain = new RecordingChain(support);
    this.chains.push(chain);
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

function setup(types: string[] = ['solo', 'kafka']) {
  const consenters = new Map(types.map((type) => [type, new RecordingConsenter()]));
  const loggers = new Map<string, Logger>(types.map((type) => [type, pino({ level: 'silent', name: type })]));
  const infos: [string, string | undefined][] = [];
  const ledgerFactory = new MemoryLedgerFactory();
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
});
