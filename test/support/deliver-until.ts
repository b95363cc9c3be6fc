// Waiting on a channel's blocks as they are written, with one Deliver stream, instead of re-reading the
// chain with sleeps in between: the stream follows the chain from Oldest and the wait ends on the
// block that makes `done` true.
import * as grpc from '@grpc/grpc-js';
import { common as hlCommon, type orderer as hlOrderer } from '@hyperledger/fabric-protos';
import type { atomicBroadcastClient, ClientIdentity } from './fabric-clients.js';
import { seekEnvelope } from './process-load.js';

/**
 * Streams the channel's blocks from Oldest (marshalled as delivered) until done(blocks) holds, then
 * cancels the stream and resolves with the blocks so far. Rejects when the stream ends or fails first
 * (with the status or error), or after timeoutMs, naming `what`: a safety net, not a pace.
 */
export function blocksUntil(
  client: ReturnType<typeof atomicBroadcastClient>,
  signer: ClientIdentity,
  channelId: string,
  what: string,
  done: (blocks: readonly Buffer[]) => boolean,
  timeoutMs = 30_000,
): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const stream = client.deliver();
    const blocks: Buffer[] = [];
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.cancel();
      if (err) reject(err);
      else resolve(blocks);
    };
    const timer = setTimeout(
      () =>
        finish(
          new Error(`${channelId}: ${what} did not happen within ${timeoutMs} ms (${blocks.length} blocks)`),
        ),
      timeoutMs,
    );
    stream.on('data', (response: hlOrderer.DeliverResponse) => {
      if (!response.hasBlock()) {
        finish(new Error(`${channelId}: Deliver ended with status ${response.getStatus()} before ${what}`));
        return;
      }
      blocks.push(Buffer.from(response.getBlock()!.serializeBinary()));
      if (done(blocks)) finish();
    });
    stream.on('error', (err: grpc.ServiceError) => {
      if (err.code !== grpc.status.CANCELLED)
        finish(new Error(`${channelId}: Deliver failed before ${what}: ${err.message}`));
    });
    stream.on('end', () => finish(new Error(`${channelId}: Deliver ended before ${what}`)));
    stream.write(
      hlCommon.Envelope.deserializeBinary(seekEnvelope(signer, channelId, 'oldest', 1_000_000_000)),
    );
  });
}
