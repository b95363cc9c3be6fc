// The orderer as an operator runs it: its own process, started by the package's `orderer start`
// command with FABRIC_CFG_PATH=<fixtures>/sampleconfig and ORDERER_* overrides, stopped with SIGTERM
// or killed with SIGKILL, restarted on the same ledger folder.
// (a) Restart: channels come back and Deliver from Oldest serves byte-identical blocks, and new
//     blocks chain onto the old ones. Run once with bin/orderer.js (the built dist/) and once from
//     the sources (the same CLI through tsx), since dist/ may lag behind src/.
// (b) kill -9 under sustained Broadcast load from several streams, a torn write at the ledger's
//     tail, restart: every envelope answered SUCCESS is in exactly one block, nothing appears
//     twice, the chain verifies as a peer verifies it, blocks served before the crash are served
//     unchanged, and the torn bytes are never served.
import { after, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FIXTURES,
  atomicBroadcastClient,
  broadcastAll,
  deliver,
  loadIdentity,
  signChannelCreateTx,
  signedEnvelope,
} from '../support/fabric-clients.js';
import {
  channelGenesisBlock,
  ORDERER_BIN,
  distStaleness,
  freePort,
  ordererBin,
  logEntries,
  startOrdererProcess,
  waitForLog,
  type OrdererProcess,
  type OrdererProcessOptions,
} from '../support/orderer-process.js';
import {
  deliverToStatus,
  joinChannelOverHttp,
  readChain,
  seekEnvelope,
  startLoad,
  txIdsOfBlock,
  verifyChain,
} from '../support/process-load.js';
import { blocksUntil } from '../support/deliver-until.js';

const org1Admin = loadIdentity('org1Admin');
const org1User = loadIdentity('org1User');
/** The system channel's Readers are the orderer org's: Org1 is a consortium member only. */
const ordererAdmin = loadIdentity('ordererAdmin');
const readerOf = (channel: string) => (channel === 'system-channel' ? ordererAdmin : org1User);

const started: OrdererProcess[] = [];
const tempDirs: string[] = [];
after(async () => {
  await Promise.all(started.map((p) => p.kill()));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempLedger(): string {
  const dir = mkdtempSync(join(tmpdir(), 'orderer-process-'));
  tempDirs.push(dir);
  return dir;
}

async function start(options: OrdererProcessOptions): Promise<OrdererProcess> {
  const proc = await startOrdererProcess({ startTimeoutMs: 60_000, ...options });
  started.push(proc);
  return proc;
}

/** The channels the process reported in its "orderer started" log entry. */
async function startedChannels(proc: OrdererProcess): Promise<unknown> {
  return (await waitForLog(proc, (e) => e.msg === 'orderer started')).channels;
}

/** A blocksUntil condition: true once the blocks streamed so far hold every one of the tx IDs. */
function holdsAll(txIds: Iterable<string>): (blocks: readonly Buffer[]) => boolean {
  const left = new Set(txIds);
  let read = 0;
  return (blocks) => {
    for (; read < blocks.length; read++) for (const id of txIdsOfBlock(blocks[read]!)) left.delete(id);
    return left.size === 0;
  };
}

/** Whether the blocks hold every one of the tx IDs. */
function containsAll(blocks: readonly Buffer[], txIds: Iterable<string>): boolean {
  const present = new Set(blocks.flatMap(txIdsOfBlock));
  for (const id of txIds) if (!present.has(id)) return false;
  return true;
}

/** Broadcasts `count` envelopes on one stream, all SUCCESS, and waits for the block they fill. */
async function orderRound(
  client: ReturnType<typeof atomicBroadcastClient>,
  channelId: string,
  label: string,
  count: number,
  heightBefore: number,
): Promise<string[]> {
  const txIds = Array.from({ length: count }, (_, i) => `${label}-${i}-${Date.now()}`);
  const responses = await broadcastAll(
    client,
    txIds.map((txId) => signedEnvelope(org1User, { channelId, txId })),
  );
  assert.deepEqual(
    responses,
    txIds.map(() => ({ status: 200, info: '' })),
  );
  // Cut by the channel's 2 s BatchTimeout: wait (bounded) for the block at heightBefore.
  const result = await deliver(client, seekEnvelope(org1User, channelId, heightBefore, heightBefore), {
    timeoutMs: 15_000,
  });
  assert.equal(result.status, 200, `block ${heightBefore} of ${channelId}`);
  assert.deepEqual(txIdsOfBlock(result.blockBytes[0]!), txIds);
  return txIds;
}

describe('bin/orderer.js start, the packaged command itself', () => {
  it('boots from the sample config and genesis block, serves Deliver, exits 0 on SIGTERM, restarts on its ledger', async (t: TestContext) => {
    const stale = distStaleness();
    if (stale) t.diagnostic(`${ORDERER_BIN} runs dist/ as it is: ${stale}`);
    const ledgerDir = tempLedger();
    const options: OrdererProcessOptions = {
      ledgerDir,
      port: await freePort(),
      entry: 'bin',
      bin: ORDERER_BIN,
    };
    const genesis = readFileSync(join(FIXTURES, 'blocks/sys-solo.block'));
    for (const round of ['first start', 'restart']) {
      const proc = await start(options);
      assert.deepEqual(await startedChannels(proc), ['system-channel'], round);
      const client = atomicBroadcastClient(proc.address);
      try {
        // Settles on the status: a dist/ built before "end the stream with OK trailers after a
        // status" never ends the stream, which is not what this smoke test is about.
        const chain = await deliverToStatus(
          client,
          seekEnvelope(ordererAdmin, 'system-channel', 'oldest', 'newest'),
        );
        assert.equal(chain.status, 200, `${round}: ${chain.error ?? ''}`);
        assert.equal(chain.blockBytes.length, 1, round);
        assert.ok(chain.blockBytes[0]!.equals(genesis), `${round}: block 0 is sys-solo.block byte for byte`);
      } finally {
        client.close();
      }
      await proc.stop();
      assert.deepEqual(await proc.exited, { code: 0, signal: null }, round);
    }
    assert.ok(statSync(join(ledgerDir, 'chains/system-channel')).isDirectory());
  });
});

for (const entry of ['bin', 'source'] as const) {
  describe(`orderer start (${entry === 'bin' ? 'bin/orderer.js' : 'src/cli/main.ts via tsx'}): SIGTERM and restart`, () => {
    it('restores the channels and serves byte-identical blocks from Oldest after a restart', async (t: TestContext) => {
      let bin: string | undefined;
      if (entry === 'bin') {
        const chosen = await ordererBin();
        bin = chosen.bin;
        if (chosen.note) t.diagnostic(chosen.note);
      }
      const ledgerDir = tempLedger();
      const port = await freePort();
      // Exactly the operator's set-up: sample orderer.yaml, system channel genesis block, local MSP.
      const options: OrdererProcessOptions = { ledgerDir, port, entry, ...(bin ? { bin } : {}) };
      let proc = await start(options);
      assert.deepEqual(await startedChannels(proc), ['system-channel']);

      let client = atomicBroadcastClient(proc.address);
      const chains = new Map<string, Buffer[]>();
      const ordered: string[] = [];
      try {
        const createTx = readFileSync(join(FIXTURES, 'blocks/mychannel-create.tx'));
        assert.deepEqual(await broadcastAll(client, [signChannelCreateTx(createTx, [org1Admin])]), [
          { status: 200, info: '' },
        ]);
        const created = await readChain(client, org1User, 'mychannel');
        assert.equal(created.status, 200);
        assert.equal(created.blocks.length, 1);
        ordered.push(...(await orderRound(client, 'mychannel', 'before-a', 3, 1)));
        ordered.push(...(await orderRound(client, 'mychannel', 'before-b', 4, 2)));

        for (const channel of ['system-channel', 'mychannel']) {
          const chain = await readChain(client, readerOf(channel), channel);
          assert.equal(chain.status, 200, channel);
          await verifyChain(channel, chain.blockBytes);
          chains.set(channel, chain.blockBytes);
        }
        assert.equal(chains.get('system-channel')!.length, 2, 'genesis + the creation of mychannel');
        assert.equal(chains.get('mychannel')!.length, 3);
        assert.deepEqual(chains.get('mychannel')!.slice(1).flatMap(txIdsOfBlock), ordered);
      } finally {
        client.close();
      }

      await proc.stop();
      assert.deepEqual(await proc.exited, { code: 0, signal: null }, 'SIGTERM is an orderly exit');
      assert.ok(
        logEntries(proc.output).some((e) => e.msg === 'orderer stopped'),
        'the orderer logged its orderly stop',
      );

      proc = await start(options);
      assert.deepEqual(await startedChannels(proc), ['mychannel', 'system-channel']);
      client = atomicBroadcastClient(proc.address);
      try {
        for (const [channel, before] of chains) {
          const after = await readChain(client, readerOf(channel), channel);
          assert.equal(after.status, 200, channel);
          assert.equal(after.blockBytes.length, before.length, `${channel}: same height`);
          after.blockBytes.forEach((bytes, i) =>
            assert.ok(bytes.equals(before[i]!), `${channel} block ${i} is byte-identical after the restart`),
          );
        }
        // The restarted chain goes on where it stopped: block 3 chains onto the old block 2.
        const more = await orderRound(client, 'mychannel', 'after', 2, 3);
        const whole = await readChain(client, org1User, 'mychannel');
        assert.equal(whole.blockBytes.length, 4);
        await verifyChain('mychannel', whole.blockBytes);
        assert.deepEqual(whole.blockBytes.slice(1).flatMap(txIdsOfBlock), [...ordered, ...more]);
      } finally {
        client.close();
      }
      await proc.stop();
      assert.deepEqual(await proc.exited, { code: 0, signal: null });
    });
  });
}

describe('orderer start: kill -9 under Broadcast load, then restart', () => {
  it('every envelope answered SUCCESS lands in exactly one block; the chain verifies; no partial block is served', async (t: TestContext) => {
    const CHANNEL = 'load';
    const ledgerDir = tempLedger();
    const port = await freePort();
    const adminPort = await freePort();
    const options: OrdererProcessOptions = {
      ledgerDir,
      port,
      env: {
        ORDERER_GENERAL_BOOTSTRAPMETHOD: 'none',
        ORDERER_CHANNELPARTICIPATION_ENABLED: 'true',
        ORDERER_ADMIN_LISTENADDRESS: `127.0.0.1:${adminPort}`,
      },
    };
    let proc = await start(options);
    // Small blocks, cut by count or after 50 ms, so a crash lands between many block writes.
    const genesis = channelGenesisBlock(CHANNEL, { maxMessageCount: 20, batchTimeout: '50ms' });
    const joined = await joinChannelOverHttp(adminPort, genesis);
    assert.equal(joined.status, 201, joined.body);

    // A Deliver stream that follows the chain while the load runs: what was served before the crash.
    const observerClient = atomicBroadcastClient(proc.address);
    const observed = deliver(observerClient, seekEnvelope(org1User, CHANNEL, 'oldest', 1_000_000_000), {
      timeoutMs: 60_000,
    });

    const load = startLoad({
      address: proc.address,
      signer: org1User,
      channelId: CHANNEL,
      streams: 4,
      window: 25,
    });
    await load.ackedAtLeast(600);
    // Killed while all four streams still have envelopes in flight.
    process.kill(proc.pid, 'SIGKILL');
    assert.deepEqual(await proc.exited, { code: null, signal: 'SIGKILL' });
    const { sent, acked, refused, endings } = await load.finished();
    const servedBeforeCrash = await observed;
    observerClient.close();
    assert.deepEqual([...refused.entries()], [], 'no envelope was refused before the crash');
    assert.equal(endings.length, 4);
    for (const how of endings) assert.match(how, /^error 14: /, 'each stream failed with UNAVAILABLE');
    assert.ok(sent.size > acked.size, 'some envelopes were in flight, unanswered, at the kill');
    assert.ok(servedBeforeCrash.blockBytes.length >= 2, 'blocks were served before the crash');
    t.diagnostic(
      `acked ${acked.size}, sent ${sent.size}, blocks served before the kill ${servedBeforeCrash.blockBytes.length}`,
    );

    // A torn write on top of whatever the kill left: the start of a block record that never finished.
    const chainDir = join(ledgerDir, 'chains', CHANNEL);
    const blockFiles = readdirSync(chainDir)
      .filter((f) => f.startsWith('blockfile_'))
      .sort();
    assert.ok(blockFiles.length > 0, `block files in ${chainDir}`);
    const lastFile = join(chainDir, blockFiles.at(-1)!);
    const sizeBeforeTear = statSync(lastFile).size;
    appendFileSync(lastFile, Buffer.concat([Buffer.from([0x80, 0x08]), Buffer.alloc(300, 0xab)]));

    proc = await start(options);
    assert.deepEqual(await startedChannels(proc), [CHANNEL]);
    const everAcked: string[] = [];
    let servedSoFar: Buffer[];
    const client = atomicBroadcastClient(proc.address);
    try {
      // The write-ahead log replays what was acknowledged but not yet in a block: follow the chain
      // until every acknowledged envelope is in a block (the wait fails if that never happens).
      await blocksUntil(client, org1User, CHANNEL, 'every acknowledged envelope in a block', holdsAll(acked));
      const chain = await readChain(client, org1User, CHANNEL);
      assert.equal(chain.status, 200);
      assert.ok(
        containsAll(chain.blockBytes, acked),
        'every acknowledged envelope is in a block after the restart',
      );

      const counts = new Map<string, number>();
      for (const id of chain.blockBytes.slice(1).flatMap(txIdsOfBlock))
        counts.set(id, (counts.get(id) ?? 0) + 1);
      const duplicates = [...counts].filter(([, n]) => n > 1);
      assert.deepEqual(duplicates, [], 'no envelope is in two blocks');
      const unknown = [...counts.keys()].filter((id) => !sent.has(id));
      assert.deepEqual(unknown, [], 'every ordered envelope was sent by the load');
      for (const id of acked) assert.equal(counts.get(id), 1, `${id} exactly once`);

      // Peer-style verification of the whole chain; block 0 is the genesis block as joined.
      await verifyChain(CHANNEL, chain.blockBytes);
      assert.ok(chain.blockBytes[0]!.equals(genesis));
      // Blocks served before the crash are served unchanged after it.
      servedBeforeCrash.blockBytes.forEach((bytes, i) =>
        assert.ok(bytes.equals(chain.blockBytes[i]!), `block ${i} served before the crash is unchanged`),
      );
      // The torn bytes were cut off, not served: the file holds only whole blocks again.
      const recovered = logEntries(proc.output).find((e) =>
        /truncating an incomplete block/.test(String(e.msg)),
      );
      assert.ok(recovered, 'recovery reported the torn tail it truncated');
      assert.ok(
        readFileSync(lastFile).subarray(sizeBeforeTear).indexOf(Buffer.alloc(300, 0xab)) < 0,
        'the torn record is gone from the block file',
      );

      // And the channel keeps ordering after recovery: a new envelope lands once, after the replay.
      const fresh = `after-crash-${Date.now()}`;
      assert.deepEqual(
        await broadcastAll(client, [signedEnvelope(org1User, { channelId: CHANNEL, txId: fresh })]),
        [{ status: 200, info: '' }],
      );
      await blocksUntil(client, org1User, CHANNEL, `${fresh} in a block`, holdsAll([fresh]));
      const final = await readChain(client, org1User, CHANNEL);
      const finalIds = final.blockBytes.slice(1).flatMap(txIdsOfBlock);
      assert.equal(finalIds.filter((id) => id === fresh).length, 1, 'the new envelope is ordered once');
      assert.equal(new Set(finalIds).size, finalIds.length, 'still no envelope in two blocks');
      for (const id of acked) assert.ok(finalIds.includes(id), `${id} is still in the chain`);
      await verifyChain(CHANNEL, final.blockBytes);
      chain.blockBytes.forEach((bytes, i) =>
        assert.ok(bytes.equals(final.blockBytes[i]!), `block ${i} is unchanged by later ordering`),
      );
      everAcked.push(...acked, fresh);
      servedSoFar = final.blockBytes;
    } finally {
      client.close();
    }

    // A second kill -9 under load, after a replay: the replayed envelopes must not come back again.
    const second = startLoad({
      address: proc.address,
      signer: org1User,
      channelId: CHANNEL,
      streams: 3,
      window: 20,
      label: 'second',
    });
    await second.ackedAtLeast(300);
    await proc.kill();
    assert.equal((await proc.exited).signal, 'SIGKILL');
    const secondResult = await second.finished();
    everAcked.push(...secondResult.acked);
    proc = await start(options);
    const again = atomicBroadcastClient(proc.address);
    try {
      await blocksUntil(
        again,
        org1User,
        CHANNEL,
        'every envelope acknowledged in either run in a block',
        holdsAll(everAcked),
      );
      const chain = await readChain(again, org1User, CHANNEL);
      assert.equal(chain.status, 200);
      assert.ok(
        containsAll(chain.blockBytes, everAcked),
        'every envelope acknowledged in either run is in a block',
      );
      const ids = chain.blockBytes.slice(1).flatMap(txIdsOfBlock);
      assert.equal(new Set(ids).size, ids.length, 'no envelope in two blocks after the second crash');
      await verifyChain(CHANNEL, chain.blockBytes);
      servedSoFar.forEach((bytes, i) =>
        assert.ok(bytes.equals(chain.blockBytes[i]!), `block ${i} is unchanged by the second crash`),
      );
      t.diagnostic(`second run: acked ${secondResult.acked.size}; chain height ${chain.blockBytes.length}`);
    } finally {
      again.close();
    }
    await proc.stop();
    assert.deepEqual(await proc.exited, { code: 0, signal: null });
  });
});
