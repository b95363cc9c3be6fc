// The orderer's metrics move with the traffic that moves Fabric's: a real orderer (solo system channel,
// Prometheus provider) scraped before and after a channel creation, six Broadcasts (five accepted, one
// for a channel that does not exist) and one Deliver of two blocks. Each series must have the value
// that traffic gives it, not merely be declared (metrics.test.ts checks names and types).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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
import { startObservedOrderer, type ObservedOrderer } from '../support/observed-orderer.js';

let node: ObservedOrderer;
let client: ReturnType<typeof atomicBroadcastClient>;

before(async () => {
  node = await startObservedOrderer({ env: { ORDERER_METRICS_PROVIDER: 'prometheus' } });
  client = atomicBroadcastClient(node.address);
});

after(async () => {
  client?.close();
  await node?.destroy();
});

async function scrape(): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${node.orderer.operationsPort}/metrics`);
  assert.equal(response.status, 200);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

/** The sum of every series of a metric (all label sets). */
function total(samples: Map<string, number>, name: string): number {
  let sum = 0;
  for (const [series, value] of samples) if (series === name || series.startsWith(`${name}{`)) sum += value;
  return sum;
}

test('broadcast, deliver, block cutter, ledger and logging metrics move with traffic as Fabric counts it', async () => {
  const before = await scrape();
  const user = loadIdentity('org1User');
  const createTx = readFileSync(join(FIXTURES, 'blocks/mychannel-create.tx'));
  assert.deepEqual(await broadcastAll(client, [signChannelCreateTx(createTx, [loadIdentity('org1Admin')])]), [
    { status: 200, info: '' },
  ]);
  await node.logged(
    'the creation of mychannel',
    (l) => l.msg === 'created channel through the system channel',
  );
  const txs = Array.from({ length: 5 }, (_, i) =>
    signedEnvelope(user, { channelId: 'mychannel', txId: `metrics-${i}` }),
  );
  const missing = signedEnvelope(user, { channelId: 'nochannel', txId: 'metrics-missing' });
  const responses = await broadcastAll(client, [...txs, missing]);
  assert.deepEqual(
    responses.map((r) => r.status),
    [200, 200, 200, 200, 200, 404],
  );
  const seek = { type: HeaderType.DELIVER_SEEK_INFO, channelId: 'mychannel', data: seekInfo(0, 1) };
  const delivered = await deliverOnce(client, signedEnvelope(user, seek));
  assert.equal(delivered.status, 200);
  assert.equal(delivered.blocks.length, 2, 'genesis and the block of the five transactions');
  const afterTraffic = await scrape();

  const mine = 'channel="mychannel",type="ENDORSER_TRANSACTION",status="SUCCESS"';
  const create = 'channel="system-channel",type="CONFIG_UPDATE",status="SUCCESS"';
  const notFound = 'channel="nochannel",type="ENDORSER_TRANSACTION",status="NOT_FOUND"';
  const deliverLabels = 'channel="mychannel",filtered="false",data_type="block"';
  const expected: [string, number][] = [
    [`broadcast_processed_count{${mine}}`, 5],
    [`broadcast_processed_count{${create}}`, 1],
    [`broadcast_processed_count{${notFound}}`, 1],
    [`broadcast_validate_duration_count{${mine}}`, 5],
    [`broadcast_validate_duration_count{${create}}`, 1],
    [`broadcast_validate_duration_count{${notFound}}`, 1],
    [`broadcast_enqueue_duration_count{${mine}}`, 5],
    [`broadcast_enqueue_duration_count{${create}}`, 1],
    [`deliver_requests_received{${deliverLabels}}`, 1],
    [`deliver_requests_completed{${deliverLabels},success="true"}`, 1],
    [`deliver_blocks_sent{${deliverLabels}}`, 2],
    // One block cut, by the 2 s BatchTimeout: its fill duration is that timeout.
    ['blockcutter_block_fill_duration_count{channel="mychannel"}', 1],
    ['ledger_blockchain_height{channel="mychannel"}', 2],
    ['ledger_blockchain_height{channel="system-channel"}', 2],
    ['ledger_blockstorage_commit_time_count{channel="mychannel"}', 2],
  ];
  for (const [series, value] of expected) {
    assert.equal(afterTraffic.get(series), value, `${series} after the traffic`);
    // Nothing of this traffic had happened at start: each series was absent or lower.
    assert.ok((before.get(series) ?? 0) < value, `${series} did not move (was ${before.get(series)})`);
  }
  // Enqueue time is only observed for accepted messages (Fabric's broadcast handler).
  assert.equal(afterTraffic.get(`broadcast_enqueue_duration_count{${notFound}}`), undefined);
  const fill = afterTraffic.get('blockcutter_block_fill_duration_sum{channel="mychannel"}')!;
  assert.ok(fill >= 1.9 && fill < 10, `block fill duration ${fill} s, expected about the 2 s BatchTimeout`);
  assert.ok(afterTraffic.get(`broadcast_validate_duration_sum{${mine}}`)! > 0);
  assert.ok(afterTraffic.get('ledger_blockstorage_commit_time_sum{channel="mychannel"}')! > 0);
  assert.equal(
    total(afterTraffic, 'ledger_blockstorage_commit_time_count') -
      total(before, 'ledger_blockstorage_commit_time_count'),
    3,
    'system channel block 1, mychannel genesis and block 1',
  );
  // deliverOnce opens one stream and the orderer closes it after the last block.
  assert.equal(total(afterTraffic, 'deliver_streams_opened') - total(before, 'deliver_streams_opened'), 1);
  assert.equal(total(afterTraffic, 'deliver_streams_closed') - total(before, 'deliver_streams_closed'), 1);
  // Every line the orderer logged is counted by level, from the moment the metrics exist: as in
  // Fabric's Main, the effective configuration and the local MSP are logged before that.
  const counted = node.lines.findIndex((l) => l.msg === 'loaded local MSP') + 1;
  assert.ok(counted > 0, 'the orderer logged loading its local MSP');
  const loggedInfo = node.lines.slice(counted).filter((l) => l.level === 'info').length;
  assert.equal(afterTraffic.get('logging_entries_written{level="info"}'), loggedInfo);
  assert.ok(loggedInfo > (before.get('logging_entries_written{level="info"}') ?? 0));
  assert.equal(total(afterTraffic, 'fabric_version'), 1);
});
