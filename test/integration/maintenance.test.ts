// Maintenance mode end to end over gRPC, on a ledger the Go orderer wrote: the orderer admin enters
// it with an update that only changes ConsensusType.State; normal traffic is then refused with
// SERVICE_UNAVAILABLE, only orderer-org readers may read blocks and only orderer-org writers may update
// the config, entry/exit may not carry other changes, a consensus-type migration from solo is refused
// (Kafka to Raft only); leaving it restores traffic.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asBuffer, common, etcdraft, orderer } from '../../src/protos/index.js';
import {
  HeaderType,
  atomicBroadcastClient,
  broadcastAll,
  loadIdentity,
  seekInfo,
  signedEnvelope,
  deliverOnce,
} from '../support/fabric-clients.js';
import { goldenBlocks, writeGoOrdererLedger } from '../support/ledger.js';
import { configUpdateEnvelope, consensusType, ordererValues } from '../support/config-update.js';
import { startTestOrderer, type TestOrderer } from '../support/orderer.js';

const CHANNEL = 'mychannel';
const org1Admin = loadIdentity('org1Admin');
const org1User = loadIdentity('org1User');
const ordererAdmin = loadIdentity('ordererAdmin');

/** Block `number` read by the orderer admin (in maintenance mode only orderer-org readers may read). */
async function block(
  client: ReturnType<typeof atomicBroadcastClient>,
  number: number,
  reader = ordererAdmin,
) {
  const seek = { type: HeaderType.DELIVER_SEEK_INFO, channelId: CHANNEL, data: seekInfo(number, number) };
  const { status, blocks } = await deliverOnce(client, signedEnvelope(reader, seek));
  return { status, blocks: blocks.map((bytes) => common.Block.decode(bytes)) };
}

function envelopeTypeAndTxIds(b: common.Block): { type: number; txIds: string[] } {
  const headers = b.data!.data!.map((d) =>
    common.ChannelHeader.decode(
      asBuffer(common.Payload.decode(asBuffer(common.Envelope.decode(d).payload)).header!.channelHeader),
    ),
  );
  return { type: headers[0]!.type, txIds: headers.map((h) => h.txId) };
}

const MAINTENANCE = orderer.ConsensusType.State.STATE_MAINTENANCE;
const NORMAL = orderer.ConsensusType.State.STATE_NORMAL;

describe('maintenance mode over gRPC', () => {
  let node: TestOrderer;
  let client: ReturnType<typeof atomicBroadcastClient>;
  const support = () => node.orderer.registrar.getChain(CHANNEL)!;
  const config = () => support().bundle().config;

  async function applyUpdate(envelope: Buffer): Promise<void> {
    const number = support().height();
    assert.deepEqual(await broadcastAll(client, [envelope]), [{ status: 200, info: '' }]);
    const { status, blocks } = await block(client, number);
    assert.equal(status, 200);
    assert.equal(envelopeTypeAndTxIds(blocks[0]!).type, HeaderType.CONFIG);
  }

  before(async () => {
    const ledgerDir = mkdtempSync(join(tmpdir(), 'maintenance-'));
    await writeGoOrdererLedger(ledgerDir, 'system-channel', await goldenBlocks('system-channel'));
    await writeGoOrdererLedger(ledgerDir, CHANNEL, (await goldenBlocks(CHANNEL)).slice(0, 2));
    node = await startTestOrderer({
      ledgerDir,
    });
    client = atomicBroadcastClient(node.address);
  });

  after(async () => {
    client?.close();
    await node?.destroy();
  });

  it('enters, refuses what maintenance forbids, and leaves maintenance mode', async () => {
    // Entering together with another change is refused.
    const [mixedEntry] = await broadcastAll(client, [
      configUpdateEnvelope(
        CHANNEL,
        ordererValues(CHANNEL, config(), {
          ConsensusType: consensusType(config(), { state: MAINTENANCE }),
          BatchSize: orderer.BatchSize.encode({
            maxMessageCount: 1,
            absoluteMaxBytes: 10485760,
            preferredMaxBytes: 2097152,
          }).finish(),
        }),
        [ordererAdmin],
      ),
    ]);
    assert.equal(mixedEntry?.status, 400);
    assert.match(
      mixedEntry!.info,
      /config transaction inspection failed: config update contain more then just the ConsensusType value in the Orderer group \(BatchSize, ConsensusType\): ConsensusType.State is changing from STATE_NORMAL to STATE_MAINTENANCE, so submit the state change alone and make other changes in separate updates/,
    );
    assert.equal(support().bundle().orderer!.consensusState, 'NORMAL');

    // The orderer admin enters maintenance with the state change alone.
    await applyUpdate(
      configUpdateEnvelope(
        CHANNEL,
        ordererValues(CHANNEL, config(), { ConsensusType: consensusType(config(), { state: MAINTENANCE }) }),
        [ordererAdmin],
      ),
    );
    assert.equal(support().bundle().orderer!.consensusState, 'MAINTENANCE');

    // Normal transactions: SERVICE_UNAVAILABLE, saying why and what to do.
    const [normal] = await broadcastAll(client, [signedEnvelope(org1User, { channelId: CHANNEL })]);
    assert.equal(normal?.status, 503);
    assert.match(
      normal!.info,
      /normal transactions are rejected: channel mychannel is in maintenance mode; retry after the orderer admins set ConsensusType.State back to STATE_NORMAL/,
    );

    // Config updates: only orderer-org writers may send them (/Channel/Orderer/Writers).
    const batchSize1 = orderer.BatchSize.encode({
      maxMessageCount: 1,
      absoluteMaxBytes: 10485760,
      preferredMaxBytes: 2097152,
    }).finish();
    const [fromOrg1] = await broadcastAll(client, [
      configUpdateEnvelope(CHANNEL, ordererValues(CHANNEL, config(), { BatchSize: batchSize1 }), [org1Admin]),
    ]);
    assert.equal(fromOrg1?.status, 403);
    assert.match(fromOrg1!.info, /access denied by policy \/Channel\/Orderer\/Writers/);

    // Blocks can still be read by the orderer org (/Channel/Orderer/Readers), not by peers and
    // clients of the application orgs (/Channel/Readers), as in Fabric.
    const tip = await block(client, support().height() - 1);
    assert.equal(tip.status, 200);
    const peerRead = await block(client, support().height() - 1, org1User);
    assert.equal(peerRead.status, 403);

    // A solo channel may migrate to etcdraft (solo-etcdraft-migration.test.ts), but metadata that
    // could not run a Raft group is refused before it is ordered, saying what is missing.
    const raftMetadata = etcdraft.ConfigMetadata.encode({
      consenters: [
        { host: '127.0.0.1', port: 7051, clientTlsCert: Buffer.from('c'), serverTlsCert: Buffer.from('s') },
      ],
    }).finish();
    const [migration] = await broadcastAll(client, [
      configUpdateEnvelope(
        CHANNEL,
        ordererValues(CHANNEL, config(), {
          ConsensusType: consensusType(config(), {
            type: 'etcdraft',
            metadata: raftMetadata,
            state: MAINTENANCE,
          }),
        }),
        [ordererAdmin],
      ),
    ]);
    assert.equal(migration?.status, 400);
    assert.match(
      migration!.info,
      /invalid etcdraft metadata for the migration from solo: nil Raft config metadata options: the etcdraft ConfigMetadata must set Options/,
    );

    // Inside maintenance other changes go through on their own (here: one transaction per block).
    await applyUpdate(
      configUpdateEnvelope(CHANNEL, ordererValues(CHANNEL, config(), { BatchSize: batchSize1 }), [
        ordererAdmin,
      ]),
    );
    assert.equal(support().sharedConfig().batchSize.maxMessageCount, 1);

    // Leaving together with another change is refused; the state change alone is accepted.
    const [mixedExit] = await broadcastAll(client, [
      configUpdateEnvelope(
        CHANNEL,
        ordererValues(CHANNEL, config(), {
          ConsensusType: consensusType(config(), { state: NORMAL }),
          BatchTimeout: orderer.BatchTimeout.encode({ timeout: '1s' }).finish(),
        }),
        [ordererAdmin],
      ),
    ]);
    assert.equal(mixedExit?.status, 400);
    assert.match(
      mixedExit!.info,
      /ConsensusType.State is changing from STATE_MAINTENANCE to STATE_NORMAL, so submit the state change alone/,
    );

    await applyUpdate(
      configUpdateEnvelope(
        CHANNEL,
        ordererValues(CHANNEL, config(), { ConsensusType: consensusType(config(), { state: NORMAL }) }),
        [ordererAdmin],
      ),
    );
    assert.equal(support().bundle().orderer!.consensusState, 'NORMAL');

    // Normal traffic flows again.
    const number = support().height();
    assert.deepEqual(
      await broadcastAll(client, [
        signedEnvelope(org1User, { channelId: CHANNEL, txId: 'after-maintenance' }),
      ]),
      [{ status: 200, info: '' }],
    );
    const delivered = await block(client, number, org1User);
    assert.equal(delivered.status, 200);
    assert.deepEqual(envelopeTypeAndTxIds(delivered.blocks[0]!).txIds, ['after-maintenance']);
  });
});
