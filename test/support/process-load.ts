// Client-side tools for the orderer-process tests: sustained Broadcast load from several streams
// (recording exactly which envelopes were answered SUCCESS), reading whole chains with Deliver,
// verifying them as a peer does, and joining channels through the admin API over plain HTTP.
import { request } from 'node:http';
import type * as grpc from '@grpc/grpc-js';
import { common as hlCommon, type orderer as hlOrderer } from '@hyperledger/fabric-protos';
import { common } from '../../src/protos/index.js';
import { verifyBlock } from '../../src/protoutil/index.js';
import { channelResources } from '../../src/server/orderer.js';
import { readConfigBlock } from '../../src/channelconfig/index.js';
import {
  HeaderType,
  atomicBroadcastClient,
  deliver,
  seekInfo,
  signedEnvelope,
  type ClientIdentity,
  type DeliverResult,
  type Position,
} from './fabric-clients.js';

type AbClient = ReturnType<typeof atomicBroadcastClient>;

export function seekEnvelope(
  signer: ClientIdentity,
  channelId: string,
  start: Position,
  stop: Position,
  behavior: 'block' | 'fail' = 'block',
): Buffer {
  return signedEnvelope(signer, {
    type: HeaderType.DELIVER_SEEK_INFO,
    channelId,
    data: seekInfo(start, stop, behavior),
  });
}

/** Deliver Oldest..Newest, retrying NOT_FOUND (a channel being created) until the deadline. */
export async function readChain(
  client: AbClient,
  signer: ClientIdentity,
  channelId: string,
  timeoutMs = 15_000,
): Promise<DeliverResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await deliver(client, seekEnvelope(signer, channelId, 'oldest', 'newest'));
    if (result.status !== 404 || Date.now() > deadline) return result;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The tx IDs of a block's envelopes, in order. */
export function txIdsOfBlock(blockBytes: Uint8Array): string[] {
  const block = common.Block.decode(blockBytes);
  return (block.data?.data ?? []).map((data) => {
    const env = common.Envelope.decode(data);
    const payload = common.Payload.decode(env.payload);
    return common.ChannelHeader.decode(payload.header!.channelHeader!).txId;
  });
}

/**
 * Verifies a whole chain as a peer does: block i has number i, block 0 is a config block, every
 * later block's previous hash is the header hash of the one before, every data hash matches, and
 * every later block carries an orderer signature satisfying /Channel/Orderer/BlockValidation.
 */
export async function verifyChain(channelId: string, blockBytes: readonly Buffer[]): Promise<void> {
  if (blockBytes.length === 0) throw new Error(`channel ${channelId}: no blocks`);
  const blocks = blockBytes.map((b) => common.Block.decode(b));
  const genesis = readConfigBlock(blocks[0]!);
  if (genesis.channelId !== channelId) throw new Error(`block 0 is for ${genesis.channelId}`);
  const bundle = channelResources().createBundle(channelId, genesis.configEnvelope.config!);
  await verifyBlock(blocks[0]!);
  for (let i = 1; i < blocks.length; i++) {
    await verifyBlock(blocks[i]!, { previous: blocks[i - 1]!, policyManager: bundle.policyManager });
  }
  blocks.forEach((block, i) => {
    if (Number(block.header?.number ?? 0) !== i)
      throw new Error(`block at position ${i} is numbered ${block.header?.number}`);
  });
}

export interface LoadResult {
  /** Every tx ID written to a stream. */
  sent: Set<string>;
  /** tx IDs answered SUCCESS. */
  acked: Set<string>;
  /** tx IDs answered with another status (status -> count). */
  refused: Map<number, number>;
  /** How each stream ended (an error message, or "stopped"). */
  endings: string[];
}

/**
 * Sustained Broadcast load: `streams` Broadcast streams, each keeping up to `window` envelopes in
 * flight, until stop() is called or the stream fails (e.g. the orderer is killed). A response is
 * matched to its envelope by order, as Broadcast answers in order on each stream.
 */
export function startLoad(options: {
  address: string;
  signer: ClientIdentity;
  channelId: string;
  streams: number;
  window: number;
  dataBytes?: number;
  /** Prefix of the tx IDs, so that several loads in one test never share one. */
  label?: string;
}) {
  const result: LoadResult = { sent: new Set(), acked: new Set(), refused: new Map(), endings: [] };
  let stopping = false;
  const clients: AbClient[] = [];
  const runs = Array.from({ length: options.streams }, (_, streamIndex) => {
    const client = atomicBroadcastClient(options.address);
    clients.push(client);
    return new Promise<void>((resolve) => {
      const stream = client.broadcast();
      const inFlight: string[] = [];
      let seq = 0;
      let done = false;
      let ended = false;
      const finish = (how: string) => {
        if (done) return;
        done = true;
        result.endings.push(how);
        resolve();
      };
      const fill = () => {
        while (!stopping && !done && inFlight.length < options.window) {
          const txId = `${options.label ?? 'load'}-${streamIndex}-${seq++}-${process.pid}`;
          const envelope = signedEnvelope(options.signer, {
            channelId: options.channelId,
            txId,
            data: Buffer.alloc(options.dataBytes ?? 200, seq % 251),
          });
          inFlight.push(txId);
          result.sent.add(txId);
          stream.write(hlCommon.Envelope.deserializeBinary(envelope));
        }
        if (stopping && inFlight.length === 0 && !ended) {
          ended = true;
          stream.end();
        }
      };
      stream.on('data', (response: hlOrderer.BroadcastResponse) => {
        const txId = inFlight.shift();
        if (txId === undefined) return;
        const status = response.getStatus();
        if (status === 200) result.acked.add(txId);
        else result.refused.set(status, (result.refused.get(status) ?? 0) + 1);
        fill();
      });
      stream.on('error', (err: grpc.ServiceError) => finish(`error ${err.code}: ${err.message}`));
      stream.on('end', () => finish('stopped'));
      fill();
    });
  });
  return {
    result,
    /** Waits (bounded) until `acked` holds at least `count` tx IDs. */
    async ackedAtLeast(count: number, timeoutMs = 30_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (result.acked.size < count) {
        if (Date.now() > deadline) {
          throw new Error(`only ${result.acked.size} of ${count} envelopes acknowledged in ${timeoutMs} ms`);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    /** Resolves once every stream has ended (by stop() or by failing). */
    async finished(timeoutMs = 30_000): Promise<LoadResult> {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('load streams did not end')), timeoutMs);
      });
      try {
        await Promise.race([Promise.all(runs), timeout]);
      } finally {
        clearTimeout(timer);
        for (const client of clients) client.close();
      }
      return result;
    },
    stop() {
      stopping = true;
    },
  };
}

/** osnadmin channel join over plain HTTP: the multipart body Go's multipart.Writer makes. */
export function joinChannelOverHttp(
  adminPort: number,
  block: Buffer,
): Promise<{ status: number; body: string }> {
  const boundary = 'process1load2boundary3a4b5c6d7e8f90';
  const body = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="config-block"; filename="config.block"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    ),
    block,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: adminPort,
        method: 'POST',
        path: '/participation/v1/channels',
        headers: {
          'Content-Type': `multipart/form-data; boundary=${boundary}`,
          'Content-Length': body.length,
        },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * One Deliver request that settles as soon as its status arrives (then cancels the stream), so it
 * does not depend on how promptly the server ends the stream afterwards.
 */
export function deliverToStatus(
  client: AbClient,
  envelope: Buffer,
  timeoutMs = 15_000,
): Promise<{ blockBytes: Buffer[]; status: number | undefined; error?: string }> {
  return new Promise((resolve) => {
    const stream = client.deliver();
    const blockBytes: Buffer[] = [];
    let settled = false;
    const settle = (status: number | undefined, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.cancel();
      resolve({ blockBytes, status, ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => settle(undefined, `no status within ${timeoutMs} ms`), timeoutMs);
    stream.on('data', (response: hlOrderer.DeliverResponse) => {
      if (response.hasBlock()) blockBytes.push(Buffer.from(response.getBlock()!.serializeBinary()));
      else settle(response.getStatus());
    });
    stream.on('error', (err: grpc.ServiceError) => settle(undefined, err.message));
    stream.write(hlCommon.Envelope.deserializeBinary(envelope));
  });
}
