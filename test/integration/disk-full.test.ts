// The orderer on a real, small tmpfs that fills up (issue #8 defect 2): while the disk is full,
// Broadcast answers SERVICE_UNAVAILABLE naming ENOSPC, /healthz answers 503 and Deliver keeps
// serving the blocks already written; once space returns the chain resumes by itself, with every
// acknowledged envelope in the chain exactly once and no refused one in it. Needs root (mount).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FIXTURES,
  HeaderType,
  atomicBroadcastClient,
  broadcastAll,
  deliverOnce,
  loadIdentity,
  seekInfo,
  signChannelCreateTx,
  signedEnvelope,
} from '../support/fabric-clients.js';
import { startTestOrderer, type TestOrderer } from '../support/orderer.js';
import { asBuffer, common } from '../../src/protos/index.js';

const CHANNEL = 'mychannel';
const SUCCESS = 200;
const SERVICE_UNAVAILABLE = 503;
const WAIT_MS = 90_000;

function mountTmpfs(): { dir: string; skip?: string } {
  const dir = mkdtempSync(join(tmpdir(), 'orderer-diskfull-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'pipe' });
    return { dir };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const reason = (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
    return { dir, skip: `cannot mount a 2 MiB tmpfs (needs root): ${reason}` };
  }
}

function healthz(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Repeats check (each try a real request) until it returns a value, failing after a generous deadline. */
async function poll<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function txIdsOf(blockBytes: Buffer): string[] {
  const block = common.Block.decode(blockBytes);
  return (block.data?.data ?? []).map((raw) => {
    const payload = common.Payload.decode(asBuffer(common.Envelope.decode(raw).payload));
    return common.ChannelHeader.decode(asBuffer(payload.header!.channelHeader)).txId;
  });
}

const mounted = mountTmpfs();

describe('disk full on a real tmpfs', { skip: mounted.skip }, () => {
  const ledgerDir = mounted.dir;
  const filler = join(ledgerDir, 'filler');
  const org1User = loadIdentity('org1User');
  let orderer: TestOrderer;
  let client: ReturnType<typeof atomicBroadcastClient>;
  let opsPort: number;
  let counter = 0;
  const acknowledged: string[] = [];
  const refused: string[] = [];

  const envelope = (dataBytes = 300) => {
    const txId = `diskfull-${counter++}`;
    return {
      txId,
      bytes: signedEnvelope(org1User, { channelId: CHANNEL, txId, data: Buffer.alloc(dataBytes, 7) }),
    };
  };

  /** Broadcasts one envelope and records whether it was acknowledged. */
  async function broadcastOne(dataBytes?: number): Promise<{ status: number; info: string }> {
    const { txId, bytes } = envelope(dataBytes);
    const [response] = await broadcastAll(client, [bytes], 60_000);
    assert.ok(response, 'a broadcast response');
    (response.status === SUCCESS ? acknowledged : refused).push(txId);
    return response;
  }

  async function deliverAll(stop: number): Promise<{ status: number; blocks: Buffer[] }> {
    return deliverOnce(
      client,
      signedEnvelope(org1User, {
        type: HeaderType.DELIVER_SEEK_INFO,
        channelId: CHANNEL,
        data: seekInfo(0, stop),
      }),
      { timeoutMs: 60_000 },
    );
  }

  before(async () => {
    orderer = await startTestOrderer({ ledgerDir });
    opsPort = orderer.orderer.operationsPort;
    client = atomicBroadcastClient(orderer.address);
    const createTx = readFileSync(join(FIXTURES, 'blocks/mychannel-create.tx'));
    const created = await broadcastAll(client, [signChannelCreateTx(createTx, [loadIdentity('org1Admin')])]);
    assert.equal(created[0]?.status, SUCCESS, created[0]?.info);
    await poll('mychannel to serve block 0', async () => {
      const answer = await deliverAll(0).catch(() => undefined);
      return answer?.status === SUCCESS ? answer : undefined;
    });
  });

  after(async () => {
    client?.close();
    await orderer?.stop();
    execFileSync('umount', [ledgerDir]);
    rmSync(ledgerDir, { recursive: true, force: true });
  });

  it('refuses with ENOSPC while full, keeps delivering, resumes by itself with nothing lost or duplicated', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await broadcastOne()).status, SUCCESS);
    const before = await poll('the first transactions in a block', async () => {
      const answer = await deliverAll(1).catch(() => undefined);
      return answer?.status === SUCCESS && answer.blocks.length === 2 ? answer : undefined;
    });
    assert.equal((await healthz(opsPort)).status, 200);

    // Fill the disk: write until the file system refuses.
    const handle = await open(filler, 'w');
    const chunk = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) await handle.write(chunk);
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      await handle.close();
    }

    // Partly filled pages of the log may take a few more: broadcast until refused.
    const refusal = await poll('a Broadcast refusal naming ENOSPC', async () => {
      const response = await broadcastOne(20_000);
      return response.status === SUCCESS ? undefined : response;
    });
    assert.equal(refusal.status, SERVICE_UNAVAILABLE, refusal.info);
    assert.match(refusal.info, /ENOSPC/);

    const unhealthy = await healthz(opsPort);
    assert.equal(unhealthy.status, 503);
    assert.match(unhealthy.body, /ENOSPC|no space/);

    // Deliver still serves what was written before the disk filled.
    const whileFull = await deliverAll(1);
    assert.equal(whileFull.status, SUCCESS);
    assert.deepEqual(whileFull.blocks, before.blocks);

    await unlink(filler);
    const resumed = await poll('Broadcast SUCCESS after space returned', async () => {
      const response = await broadcastOne();
      return response.status === SUCCESS ? response : undefined;
    });
    assert.equal(resumed.status, SUCCESS);
    await poll('/healthz 200 again', async () =>
      (await healthz(opsPort)).status === 200 ? true : undefined,
    );

    const counts = await poll('every acknowledged envelope in a block', async () => {
      const newest = await deliverOnce(
        client,
        signedEnvelope(org1User, {
          type: HeaderType.DELIVER_SEEK_INFO,
          channelId: CHANNEL,
          data: seekInfo(0, 'newest'),
        }),
        { timeoutMs: 60_000 },
      );
      const seen = new Map<string, number>();
      for (const block of newest.blocks.slice(1))
        for (const id of txIdsOf(block)) seen.set(id, (seen.get(id) ?? 0) + 1);
      return acknowledged.every((id) => seen.has(id)) ? seen : undefined;
    });
    for (const id of acknowledged) assert.equal(counts.get(id), 1, `${id} is in the chain exactly once`);
    for (const id of refused) assert.equal(counts.get(id), undefined, `refused ${id} is not in the chain`);
    assert.equal(
      [...counts.values()].reduce((a, b) => a + b, 0),
      acknowledged.length,
    );
  });
});
