// The block puller's decisions (PullPlan, blockProblem) as tables, and the BlockPuller driving a
// fake block source with a manual clock: rotation on a failed, stalled or lying endpoint, the retry
// wait, giving up after ReplicationMaxRetries, and one stream reused for consecutive blocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ManualClock } from '../../../src/clock.js';
import { OrdererError } from '../../../src/errors.js';
import { common } from '../../../src/protos/index.js';
import { BlockPuller, PullPlan, blockProblem, headerHashOf, isPullerClosed } from '../../../src/replication/index.js';
import type { BlockSource, BlockStream } from '../../../src/replication/index.js';
import { goldenBlocks } from '../../support/ledger.js';
import { lastConfigIndexOf } from '../../../src/protoutil/block.js';

test('PullPlan rotates through the endpoints on failure, waiting the retry timeout, and gives up after maxRetries', () => {
  const plan = new PullPlan({ maxRetries: 4, retryTimeoutMs: 250 }, ['a:1', 'b:2', 'c:3']);
  assert.equal(plan.current(), 'a:1');
  assert.deepEqual(plan.failed('refused'), { giveUp: false, endpoint: 'b:2', waitMs: 250 });
  assert.deepEqual(plan.failed('timeout'), { giveUp: false, endpoint: 'c:3', waitMs: 250 });
  assert.deepEqual(plan.failed('bad hash'), { giveUp: false, endpoint: 'a:1', waitMs: 250 });
  const last = plan.failed('refused again');
  assert.equal(last.giveUp, true);
  assert.match(
    (last as { reason: string }).reason,
    /4 failed attempts in a row.*a:1: refused again; b:2: timeout; c:3: bad hash/,
  );
});

test('PullPlan: a received block refills the retry budget and keeps the endpoint', () => {
  const plan = new PullPlan({ maxRetries: 2, retryTimeoutMs: 10 }, ['a:1', 'b:2']);
  assert.equal(plan.failed('x').giveUp, false);
  plan.succeeded();
  assert.equal(plan.current(), 'b:2');
  assert.equal(plan.failed('y').giveUp, false);
  assert.equal(plan.failed('z').giveUp, true);
});

test('PullPlan refuses a channel with no endpoints, saying where endpoints come from', () => {
  assert.throws(
    () => new PullPlan({ maxRetries: 1, retryTimeoutMs: 1 }, []),
    (err: unknown) => err instanceof OrdererError && err.kind === 'unavailable' && /OrdererEndpoints/.test(err.message),
  );
});

test('blockProblem names the check a pulled block fails', async () => {
  const golden = await goldenBlocks('mychannel');
  const block1 = common.Block.decode(golden[1]!);
  const hash0 = headerHashOf(common.Block.decode(golden[0]!));
  const cases: { name: string; block: common.Block; expected: number; previous?: Buffer; problem: RegExp | undefined }[] = [
    { name: 'the block asked for, chained', block: block1, expected: 1, previous: hash0, problem: undefined },
    { name: 'another number', block: block1, expected: 2, problem: /sent block \[1\] where block \[2\]/ },
    {
      name: 'a broken chain',
      block: block1,
      expected: 1,
      previous: Buffer.alloc(32, 7),
      problem: /previous_hash is not the header hash of block \[0\]/,
    },
    {
      name: 'data not matching the header',
      block: (() => {
        const b = common.Block.decode(golden[1]!);
        b.data!.data!.push(Buffer.from('extra'));
        return b;
      })(),
      expected: 1,
      problem: /does not hash to its header's data_hash/,
    },
  ];
  for (const c of cases) {
    const problem = blockProblem(c.block, c.expected, c.previous);
    if (c.problem) assert.match(problem ?? '', c.problem, c.name);
    else assert.equal(problem, undefined, c.name);
  }
});

/** Serves golden blocks per endpoint; an endpoint can fail, stall or serve a different block. */
class FakeSource implements BlockSource {
  readonly opened: string[] = [];
  constructor(
    private readonly blocks: Buffer[],
    private readonly behaviour: Record<string, 'ok' | 'fail' | 'stall' | 'wrong'>,
    /** How many of the blocks an endpoint has (all by default). */
    private readonly heights: Record<string, number> = {},
  ) {}
  private heightOf(endpoint: string): number {
    return this.heights[endpoint] ?? this.blocks.length;
  }
  open(endpoint: string, _channelId: string, from: number | 'newest'): BlockStream {
    this.opened.push(`${endpoint}@${from}`);
    let next = from === 'newest' ? this.heightOf(endpoint) - 1 : from;
    const mode = this.behaviour[endpoint] ?? 'ok';
    return {
      next: () => {
        if (mode === 'fail') return Promise.reject(new Error('connection refused'));
        if (mode === 'stall' || next >= this.blocks.length) return new Promise<Buffer>(() => {});
        if (mode === 'wrong') return Promise.resolve(this.blocks[(next++ + 1) % this.blocks.length]!);
        return Promise.resolve(this.blocks[next++]!);
      },
      close: () => {},
    };
  }
}

/** Moves the manual clock on in small steps until the promise settles. */
async function advanceUntilSettled<T>(clock: ManualClock, promise: Promise<T>): Promise<T> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  while (!settled) {
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(50);
  }
  return promise;
}

function puller(source: BlockSource, clock: ManualClock, endpoints: string[], maxRetries = 5) {
  return new BlockPuller(
    { channelId: 'mychannel', maxRetries, retryTimeoutMs: 100, pullTimeoutMs: 1_000 },
    { source, clock, logger: pino({ level: 'silent' }), endpoints: () => endpoints },
  );
}

test('BlockPuller keeps one stream for consecutive blocks and returns them as received', async () => {
  const golden = await goldenBlocks('mychannel');
  const source = new FakeSource(golden, {});
  const p = puller(source, new ManualClock(), ['a:1', 'b:2']);
  let previous: Buffer | undefined;
  for (let n = 0; n < golden.length; n++) {
    const { bytes, block } = await p.pullBlock(n, previous);
    assert.ok(bytes.equals(golden[n]!), `block ${n} as received`);
    previous = headerHashOf(block);
  }
  assert.deepEqual(source.opened, ['a:1@0']);
});

test('BlockPuller rotates past a refusing, a lying and a stalled endpoint, waiting between attempts', async () => {
  const golden = await goldenBlocks('mychannel');
  const source = new FakeSource(golden, { 'a:1': 'fail', 'b:2': 'wrong', 'c:3': 'stall' });
  const clock = new ManualClock();
  const p = puller(source, clock, ['a:1', 'b:2', 'c:3', 'd:4']);
  const started = clock.now();
  const { bytes } = await advanceUntilSettled(clock, p.pullBlock(2, headerHashOf(common.Block.decode(golden[1]!))));
  assert.ok(bytes.equals(golden[2]!));
  // Three retry waits and one ReplicationPullTimeout passed on the clock, nothing less.
  assert.ok(clock.now() - started >= 3 * 100 + 1_000);
  assert.deepEqual(source.opened, ['a:1@2', 'b:2@2', 'c:3@2', 'd:4@2']);
});

test('BlockPuller gives up after ReplicationMaxRetries, naming each endpoint and what it did', async () => {
  const golden = await goldenBlocks('mychannel');
  const source = new FakeSource(golden, { 'a:1': 'fail', 'b:2': 'wrong' });
  const clock = new ManualClock();
  const p = puller(source, clock, ['a:1', 'b:2'], 3);
  const err = await advanceUntilSettled(
    clock,
    p.pullBlock(1).then(
      () => assert.fail('expected a refusal'),
      (failure: unknown) => failure,
    ),
  );
  assert.ok(err instanceof OrdererError && err.kind === 'unavailable');
  assert.match(err.message, /cannot pull block \[1\] of channel mychannel: gave up after 3 failed attempts/);
  assert.match(err.message, /a:1: connection refused; b:2: sent block \[2\] where block \[1\]/);
});

test('BlockPuller.close ends a pull that is waiting, with a rejection isPullerClosed recognises', async () => {
  const golden = await goldenBlocks('mychannel');
  const p = puller(new FakeSource(golden, { 'a:1': 'stall' }), new ManualClock(), ['a:1']);
  const pulled = p.pullBlock(0).then(
    () => assert.fail('expected the pull to end'),
    (err: unknown) => err,
  );
  await new Promise((resolve) => setImmediate(resolve));
  p.close();
  assert.ok(isPullerClosed(await pulled));
});

test('BlockPuller.lastConfigBlock takes the newest block of the highest endpoint and pulls its last config block', async () => {
  const golden = await goldenBlocks('mychannel');
  const lastConfig = golden.findLastIndex((bytes) => {
    const block = common.Block.decode(bytes);
    return lastConfigIndexOf(block) === Number(block.header!.number);
  });
  assert.ok(lastConfig > 0 && lastConfig < golden.length - 1, 'the golden ledger has a config block before its end');
  // a:1 is behind, b:2 refuses, c:3 has every block.
  const source = new FakeSource(golden, { 'b:2': 'fail' }, { 'a:1': lastConfig });
  const p = puller(source, new ManualClock(), ['a:1', 'b:2', 'c:3']);
  const { bytes, block } = await p.lastConfigBlock();
  assert.equal(Number(block.header!.number), lastConfig);
  assert.ok(bytes.equals(golden[lastConfig]!));
  assert.deepEqual(source.opened.slice(0, 3), ['a:1@newest', 'b:2@newest', 'c:3@newest']);
});

test('BlockPuller.lastConfigBlock names what every endpoint did when none says its height', async () => {
  const golden = await goldenBlocks('mychannel');
  const clock = new ManualClock();
  const p = puller(new FakeSource(golden, { 'a:1': 'fail', 'b:2': 'stall' }), clock, ['a:1', 'b:2']);
  await assert.rejects(
    advanceUntilSettled(clock, p.lastConfigBlock()),
    (err: unknown) =>
      err instanceof OrdererError &&
      err.kind === 'unavailable' &&
      /a:1: connection refused; b:2: its newest block did not arrive from b:2 within General.Cluster.ReplicationPullTimeout/.test(
        err.message,
      ),
  );
});
