// Deliver (spec §2) over real gRPC with Hyperledger's client bindings: bad requests get Fabric's
// statuses in Fabric's order of checks, seek positions resolve as Fabric resolves them, one stream
// serves several requests after SUCCESS and ends after anything else, and a bad stream never
// disturbs the others. Run against ours and against Fabric v2.5.12's Go orderer
// (test/support/both-orderers.ts), so every expectation is Fabric's own.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, verify as cryptoVerify } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { common as hlCommon, orderer as hlOrderer } from '@hyperledger/fabric-protos';
import {
  HeaderType,
  atomicBroadcastClient,
  broadcastAll,
  deliver,
  loadIdentity,
  seekInfo,
  signLowS,
  signedEnvelope,
  toHighS,
  type ClientIdentity,
  type Position,
} from '../support/fabric-clients.js';
import { expiredOrg1User, org3User } from '../support/bad-identities.js';
import {
  ORDERER_KINDS,
  joinThroughAdmin,
  skipWithout,
  startOrdererUnderTest,
  untilDelivers,
  type OrdererUnderTest,
} from '../support/both-orderers.js';
import { singleRaftChannelGenesisBlock } from '../support/orderer-process.js';

type Client = ReturnType<typeof atomicBroadcastClient>;

const CHANNEL = 'deliv';
/** Blocks are cut by count only (the timer is far away), so the chain's shape is deterministic. */
const BATCH = 5;
const org1User = loadIdentity('org1User');
const org2User = loadIdentity('org2User');

const wrongKeyUser: ClientIdentity = { ...org1User, sign: (data) => signLowS(org2User.key, data) };

function seekEnvelope(
  start: Position | undefined,
  stop: Position | undefined,
  options: {
    signer?: ClientIdentity;
    channelId?: string;
    behavior?: 'block' | 'fail';
    timestampMs?: number;
    /** Replaces the envelope signature (a high-S twin, garbage). */
    signature?: (good: Buffer) => Buffer;
  } = {},
): Buffer {
  return signedEnvelope(options.signer ?? org1User, {
    type: HeaderType.DELIVER_SEEK_INFO,
    channelId: options.channelId ?? CHANNEL,
    data: seekInfo(start, stop, options.behavior ?? 'block'),
    ...(options.timestampMs !== undefined ? { timestampMs: options.timestampMs } : {}),
    ...(options.signature ? { signature: options.signature } : {}),
  });
}

/** The same request with its channel header edited and the payload signed again. */
function withChannelHeader(
  envelope: Buffer,
  edit: (chdr: hlCommon.ChannelHeader) => void,
  signer = org1User,
  /** Wire bytes appended to the edited channel header (fields the bindings cannot encode). */
  extraFields: Buffer = Buffer.alloc(0),
): Buffer {
  const env = hlCommon.Envelope.deserializeBinary(envelope);
  const payload = hlCommon.Payload.deserializeBinary(env.getPayload_asU8());
  const header = payload.getHeader()!;
  const chdr = hlCommon.ChannelHeader.deserializeBinary(header.getChannelHeader_asU8());
  edit(chdr);
  header.setChannelHeader(Buffer.concat([chdr.serializeBinary(), extraFields]));
  payload.setHeader(header);
  const payloadBytes = payload.serializeBinary();
  env.setPayload(payloadBytes);
  env.setSignature(signer.sign(payloadBytes));
  return Buffer.from(env.serializeBinary());
}

/** Varint of an unsigned 64-bit value, for fields the protobuf bindings refuse to encode. */
function varint64(value: bigint): Buffer {
  const bytes: number[] = [];
  let v = BigInt.asUintN(64, value);
  while (v > 0x7fn) {
    bytes.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Buffer.from(bytes);
}

/**
 * The request with its channel header timestamp replaced by one with any 64-bit seconds and 32-bit
 * nanos, written as wire bytes: the bindings assert on seconds beyond 2^53, but a client written
 * in another language can send anything. Protobuf allows fields in any order.
 */
function withRawTimestamp(envelope: Buffer, seconds: bigint, nanos = 0): Buffer {
  const timestamp = Buffer.concat([
    Buffer.from([0x08]),
    varint64(seconds),
    ...(nanos !== 0 ? [Buffer.from([0x10]), varint64(BigInt(nanos))] : []),
  ]);
  // ChannelHeader.timestamp is field 3, length-delimited.
  const field = Buffer.concat([Buffer.from([0x1a]), varint64(BigInt(timestamp.length)), timestamp]);
  return withChannelHeader(envelope, (chdr) => chdr.clearTimestamp(), org1User, field);
}

function blockNumbers(blocks: hlCommon.Block[]): number[] {
  return blocks.map((b) => b.getHeader()!.getNumber());
}

interface SeekResult {
  blocks: number[];
  status: number | undefined;
}

/**
 * Several SeekInfo requests on one Deliver stream, one at a time, each answered by blocks and a
 * status. `ended` settles when the server ends the stream.
 */
function deliverSession(client: Client) {
  const stream = client.deliver();
  let current: { blocks: number[]; resolve: (r: SeekResult) => void } | undefined;
  let endedFlag = false;
  const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
    stream.on('end', () => resolve(undefined));
    stream.on('error', (err: grpc.ServiceError) => resolve(err));
  });
  void ended.then(() => {
    endedFlag = true;
    current?.resolve({ blocks: current.blocks, status: undefined });
    current = undefined;
  });
  stream.on('data', (response: hlOrderer.DeliverResponse) => {
    if (!current) throw new Error('response without a request');
    if (response.hasBlock()) current.blocks.push(response.getBlock()!.getHeader()!.getNumber());
    else {
      const done = current;
      current = undefined;
      done.resolve({ blocks: done.blocks, status: response.getStatus() });
    }
  });
  return {
    request(envelope: Buffer): Promise<SeekResult> {
      if (current) throw new Error('one request at a time');
      if (endedFlag) return Promise.resolve({ blocks: [], status: undefined });
      return new Promise((resolve) => {
        current = { blocks: [], resolve };
        stream.write(hlCommon.Envelope.deserializeBinary(envelope));
      });
    },
    /** Whether the server ended the stream (gRPC OK) within the deadline. */
    async endedWithin(ms: number): Promise<boolean> {
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());
      return (await Promise.race([ended.then(() => 'ended' as const), timer])) === 'ended';
    },
    close() {
      stream.cancel();
    },
  };
}

/** Bytes that are not an Envelope go over the raw method path; answers decode with Hyperledger's types. */
function deliverRawBytes(address: string, message: Buffer): Promise<number[]> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const call = client.makeBidiStreamRequest(
      '/orderer.AtomicBroadcast/Deliver',
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    const statuses: number[] = [];
    call.on('data', (raw: Buffer) =>
      statuses.push(hlOrderer.DeliverResponse.deserializeBinary(raw).getStatus()),
    );
    call.on('error', (err) => {
      client.close();
      reject(err);
    });
    call.on('end', () => {
      client.close();
      resolve(statuses);
    });
    call.write(message);
  });
}

const BAD_REQUEST = 400;
const FORBIDDEN = 403;
const NOT_FOUND = 404;
const MINUTE = 60_000;

for (const kind of ORDERER_KINDS)
  describe(`Deliver over gRPC (spec §2) (${kind})`, () => {
    // On each test rather than the suite: Node 20 counts the tests of a skipped suite nowhere.
    const skip = skipWithout(kind);
    let node: OrdererUnderTest;
    let client: Client;
    /** Height of the channel after set-up: genesis + 3 blocks of BATCH envelopes. */
    const HEIGHT = 4;

    /** The channel's height, as Deliver tells it: the number of its newest block, plus one. */
    const height = async () => {
      const newest = await deliver(client, seekEnvelope('newest', 'newest'));
      assert.equal(newest.status, 200, `Deliver of the newest block: ${newest.status}`);
      return newest.blocks[0]!.getHeader()!.getNumber() + 1;
    };
    /** Waits (asking every 10 ms, at most 10 s) until the block that makes the height `target` is out. */
    const waitForHeight = async (target: number) => {
      const deadline = Date.now() + 10_000;
      for (let now = await height(); now < target; now = await height()) {
        if (Date.now() > deadline) throw new Error(`channel stayed at height ${now}, expected ${target}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const broadcastBatch = async () => {
      const envelopes = Array.from({ length: BATCH }, () => signedEnvelope(org1User, { channelId: CHANNEL }));
      const responses = await broadcastAll(client, envelopes);
      assert.ok(
        responses.length === BATCH && responses.every((r) => r.status === 200),
        JSON.stringify(responses),
      );
    };

    before(async () => {
      if (skip) return;
      // Without a system channel, joined to a single-consenter raft channel (Fabric joins no solo one).
      node = await startOrdererUnderTest(kind, { admin: true, noSystemChannel: true });
      await joinThroughAdmin(
        node,
        singleRaftChannelGenesisBlock(CHANNEL, { maxMessageCount: BATCH, batchTimeout: '1h' }),
      );
      await untilDelivers(node, CHANNEL);
      client = atomicBroadcastClient(node.address);
      for (let h = 2; h <= HEIGHT; h++) {
        await broadcastBatch();
        await waitForHeight(h);
      }
    });

    after(async () => {
      client?.close();
      await node?.stop();
    });

    /** After a bad request, a new stream on the same server is served normally. */
    const stillServes = async () => {
      const result = await deliver(client, seekEnvelope('newest', 'newest'));
      assert.equal(result.status, 200);
      assert.equal(result.blocks.length, 1);
    };

    const rejects = (name: string, envelope: () => Buffer, status: number) =>
      it(`${name} -> ${status}`, { skip }, async () => {
        const session = deliverSession(client);
        const first = await session.request(envelope());
        assert.equal(first.status, status);
        assert.deepEqual(first.blocks, [], 'no block before a rejection');
        // Any status but SUCCESS ends the stream: a second request is never answered.
        assert.ok(await session.endedWithin(5000), 'the server ends the stream after a non-SUCCESS status');
        session.close();
        await stillServes();
      });

    // Bytes that are not an Envelope at all. Fabric's gRPC server fails to unmarshal the message and
    // ends the call with gRPC INTERNAL before its Deliver handler sees anything; ours goes beyond
    // (the spec does not cover it) and answers BAD_REQUEST, then ends the stream.
    it('garbage bytes: gRPC INTERNAL on Fabric, 400 on ours', { skip }, async () => {
      const garbage = Buffer.from([0x0a, 0xff, 0xff, 0x01]);
      if (kind === 'go') {
        await assert.rejects(deliverRawBytes(node.address, garbage), {
          code: grpc.status.INTERNAL,
          details: /failed to unmarshal the received message/,
        });
      } else {
        assert.deepEqual(await deliverRawBytes(node.address, garbage), [BAD_REQUEST]);
      }
      await stillServes();
    });
    rejects(
      'timestamp 16 minutes in the past',
      () => seekEnvelope(0, 0, { timestampMs: Date.now() - 16 * MINUTE }),
      BAD_REQUEST,
    );
    rejects(
      'timestamp 16 minutes in the future',
      () => seekEnvelope(0, 0, { timestampMs: Date.now() + 16 * MINUTE }),
      BAD_REQUEST,
    );
    // Seconds that overflow int64 or the range of a date: Fabric answers BAD_REQUEST (the time window
    // check fails), never INTERNAL_SERVER_ERROR.
    for (const [name, seconds, nanos] of [
      ['timestamp seconds 2^63 (wraps to -2^63)', 2n ** 63n, 0],
      ['timestamp seconds 2^63 - 1', 2n ** 63n - 1n, 0],
      ['timestamp seconds 2^64 - 1 (wraps to -1)', 2n ** 64n - 1n, 0],
      ['timestamp seconds 10^15 (beyond any date)', 10n ** 15n, 0],
      ['timestamp seconds -10^15', -(10n ** 15n), 0],
      ['timestamp 2^63 seconds and -2^31 nanos', 2n ** 63n, -(2 ** 31)],
    ] as const) {
      rejects(name, () => withRawTimestamp(seekEnvelope(0, 0), seconds, nanos), BAD_REQUEST);
    }
    rejects(
      'no timestamp',
      () => withChannelHeader(seekEnvelope(0, 0), (chdr) => chdr.clearTimestamp()),
      BAD_REQUEST,
    );
    // The timestamp is checked before the channel is looked up.
    rejects(
      'stale timestamp for an unknown channel',
      () => seekEnvelope(0, 0, { channelId: 'nosuchchannel', timestampMs: Date.now() - 20 * MINUTE }),
      BAD_REQUEST,
    );
    rejects('unknown channel', () => seekEnvelope(0, 0, { channelId: 'nosuchchannel' }), NOT_FOUND);
    // The channel is looked up before any identity check.
    rejects(
      'unknown channel, identity of another org',
      () => seekEnvelope(0, 0, { channelId: 'nosuch', signer: org3User }),
      NOT_FOUND,
    );
    rejects(
      'payload data that is not a SeekInfo',
      () =>
        signedEnvelope(org1User, {
          type: HeaderType.DELIVER_SEEK_INFO,
          channelId: CHANNEL,
          data: Buffer.from([0x0a, 0xff, 0x07]),
        }),
      BAD_REQUEST,
    );
    rejects('expired creator certificate', () => seekEnvelope(0, 0, { signer: expiredOrg1User }), FORBIDDEN);
    // Identity checks come before the seek positions are looked at.
    rejects(
      'expired creator certificate, no start',
      () => seekEnvelope(undefined, 0, { signer: expiredOrg1User }),
      FORBIDDEN,
    );
    rejects(
      'identity of an MSP that is not on the channel',
      () => seekEnvelope(0, 0, { signer: org3User }),
      FORBIDDEN,
    );
    rejects(
      'signature by another key than the certificate',
      () => seekEnvelope(0, 0, { signer: wrongKeyUser }),
      FORBIDDEN,
    );
    // The Readers policy drops signatures that do not verify, so these fail it (spec §2.2, §5.3).
    rejects('high-S twin of a valid signature', () => seekEnvelope(0, 0, { signature: toHighS }), FORBIDDEN);
    rejects(
      'garbage signature bytes',
      () => seekEnvelope(0, 0, { signature: () => randomBytes(71) }),
      FORBIDDEN,
    );
    rejects('empty signature', () => seekEnvelope(0, 0, { signature: () => Buffer.alloc(0) }), FORBIDDEN);
    // Identity checks come before the seek positions: a bad signature wins over a missing start.
    rejects(
      'high-S signature, no start',
      () => seekEnvelope(undefined, 0, { signature: toHighS }),
      FORBIDDEN,
    );

    it(
      'the high-S twin is a mathematically valid signature (so only the low-S rule refuses it)',
      { skip },
      () => {
        const env = hlCommon.Envelope.deserializeBinary(seekEnvelope(0, 0, { signature: toHighS }));
        const payload = env.getPayload_asU8();
        const highS = Buffer.from(env.getSignature_asU8());
        const lowS = org1User.sign(payload);
        assert.equal(cryptoVerify('sha256', payload, org1User.certPem.toString(), highS), true);
        assert.ok(!toHighS(lowS).equals(lowS), 'the twin differs from the low-S signature');
      },
    );

    it(
      'bad signatures end only their own stream: a concurrent session keeps being served',
      { skip },
      async () => {
        const healthy = deliverSession(client);
        assert.deepEqual(await healthy.request(seekEnvelope(0, 0)), { blocks: [0], status: 200 });
        const bad = await Promise.all(
          [toHighS, () => randomBytes(71), () => randomBytes(8)].map(async (signature) => {
            const session = deliverSession(client);
            const result = await session.request(seekEnvelope(0, 'newest', { signature }));
            const ended = await session.endedWithin(5000);
            session.close();
            return { ...result, ended };
          }),
        );
        assert.deepEqual(
          bad,
          Array.from({ length: 3 }, () => ({ blocks: [], status: FORBIDDEN, ended: true })),
        );
        // The healthy stream, opened before the bad ones, still answers on the same stream.
        assert.deepEqual(await healthy.request(seekEnvelope(1, 2)), { blocks: [1, 2], status: 200 });
        healthy.close();
      },
    );
    rejects('missing start', () => seekEnvelope(undefined, 0), BAD_REQUEST);
    rejects('missing stop', () => seekEnvelope(0, undefined), BAD_REQUEST);
    rejects('start after stop', () => seekEnvelope(3, 1), BAD_REQUEST);
    rejects('specified start beyond the height', () => seekEnvelope(HEIGHT + 1, HEIGHT + 1), NOT_FOUND);

    it('accepts a timestamp 14 minutes off (inside the 15 minute TimeWindow)', { skip }, async () => {
      for (const skew of [-14 * MINUTE, 14 * MINUTE]) {
        const result = await deliver(client, seekEnvelope(0, 0, { timestampMs: Date.now() + skew }));
        assert.equal(result.status, 200);
        assert.deepEqual(blockNumbers(result.blocks), [0]);
      }
    });

    it('FAIL_IF_NOT_READY streams the blocks that exist, then NOT_FOUND', { skip }, async () => {
      const result = await deliver(client, seekEnvelope(1, HEIGHT + 5, { behavior: 'fail' }));
      assert.deepEqual(blockNumbers(result.blocks), [1, 2, 3]);
      assert.equal(result.status, NOT_FOUND);
      await stillServes();
    });

    it('Newest..Newest gives exactly the last block', { skip }, async () => {
      const result = await deliver(client, seekEnvelope('newest', 'newest'));
      assert.equal(result.status, 200);
      assert.deepEqual(blockNumbers(result.blocks), [HEIGHT - 1]);
    });

    it('Oldest..Oldest gives exactly block 0; Oldest..Newest gives the whole chain', { skip }, async () => {
      const first = await deliver(client, seekEnvelope('oldest', 'oldest'));
      assert.equal(first.status, 200);
      assert.deepEqual(blockNumbers(first.blocks), [0]);
      const all = await deliver(client, seekEnvelope('oldest', 'newest'));
      assert.equal(all.status, 200);
      assert.deepEqual(blockNumbers(all.blocks), [0, 1, 2, 3]);
      // Every data block holds the BATCH envelopes it was cut with.
      for (const block of all.blocks.slice(1)) assert.equal(block.getData()!.getDataList().length, BATCH);
    });

    it('serves several SeekInfo requests on one stream, each ended by SUCCESS', { skip }, async () => {
      const session = deliverSession(client);
      assert.deepEqual(await session.request(seekEnvelope(0, 1)), { blocks: [0, 1], status: 200 });
      assert.deepEqual(await session.request(seekEnvelope('newest', 'newest')), {
        blocks: [HEIGHT - 1],
        status: 200,
      });
      assert.deepEqual(await session.request(seekEnvelope(2, 'newest')), { blocks: [2, 3], status: 200 });
      // Then a bad one ends the stream.
      assert.deepEqual(await session.request(seekEnvelope(3, 1)), { blocks: [], status: BAD_REQUEST });
      assert.ok(await session.endedWithin(5000));
      session.close();
    });

    it(
      'NextCommit waits for the next block; a Specified start at the height waits too',
      { skip },
      async () => {
        const before = await height();
        const session = deliverSession(client);
        // A first answered request proves the stream is established, so the next one reaches the server
        // at once; both waiting requests are sent before the block they wait for is ordered.
        assert.equal((await session.request(seekEnvelope('newest', 'newest'))).status, 200);
        const nextCommit = session.request(seekEnvelope('nextCommit', before));
        const specifiedAtHeight = deliver(client, seekEnvelope(before, before));
        await broadcastBatch();
        assert.deepEqual(await nextCommit, { blocks: [before], status: 200 });
        const atHeight = await specifiedAtHeight;
        assert.equal(atHeight.status, 200);
        assert.deepEqual(blockNumbers(atHeight.blocks), [before]);
        session.close();
      },
    );

    it('keeps serving other streams while one waits at the tip', { skip }, async () => {
      const tip = await height();
      const session = deliverSession(client);
      // An answered first request proves the stream is up, so the waiting one reaches the server now.
      assert.equal((await session.request(seekEnvelope('newest', 'newest'))).status, 200);
      let settled = false;
      const waiting = session.request(seekEnvelope('nextCommit', tip));
      void waiting.then(() => (settled = true));
      for (let i = 0; i < 3; i++) await stillServes();
      assert.equal(
        settled,
        false,
        'the request for the next block is still waiting after the others were served',
      );
      // It was waiting on the server, not lost: the next block answers it on the same stream.
      await broadcastBatch();
      assert.deepEqual(await waiting, { blocks: [tip], status: 200 });
      session.close();
    });

    it(
      'Broadcast accepts overflowing timestamps (Fabric does not check them) and Deliver serves the block',
      { skip },
      async () => {
        const tip = await height();
        const envelopes = [2n ** 63n, 2n ** 63n - 1n, 2n ** 64n - 1n, 10n ** 15n, -(10n ** 15n)].map(
          (seconds) => withRawTimestamp(signedEnvelope(org1User, { channelId: CHANNEL }), seconds),
        );
        assert.equal(envelopes.length, BATCH, 'one full batch, so the block is cut by count');
        const responses = await broadcastAll(client, envelopes);
        assert.deepEqual(
          responses.map((r) => r.status),
          envelopes.map(() => 200),
          JSON.stringify(responses),
        );
        await waitForHeight(tip + 1);
        const result = await deliver(client, seekEnvelope(tip, tip));
        assert.equal(result.status, 200);
        assert.equal(result.blocks[0]!.getData()!.getDataList().length, BATCH);
      },
    );
  });
