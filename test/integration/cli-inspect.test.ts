// `orderer inspect` on the Go orderer's golden blocks and on a ledger folder in Fabric's format:
// the decoded config tree matches configtxlator's proto_decode (golden N.json), signers are named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectCommandOutput, inspectFile, inspectLedger, summarizeLedger } from '../../src/cli/inspect.js';
import { readDevInfo, startDevOrderer } from '../../src/dev/index.js';
import { silentLogger } from '../../src/logging.js';
import { runCli } from '../../src/cli/main.js';
import { goldenBlocks, goldenDir, writeGoOrdererLedger } from '../support/ledger.js';
import { systemClock } from '../../src/clock.js';

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Every group/value/policy path of a configtxlator-style group, with versions and mod_policies. */
function paths(group: Any, prefix = '', out: string[] = []): string[] {
  out.push(`G ${prefix} v${Number(group.version)} ${group.mod_policy}`);
  for (const [k, v] of Object.entries(group.values ?? {}) as [string, Any][])
    out.push(`V ${prefix}/${k} v${Number(v.version)} ${v.mod_policy}`);
  for (const [k, p] of Object.entries(group.policies ?? {}) as [string, Any][])
    out.push(`P ${prefix}/${k} v${Number(p.version)} ${p.mod_policy} t${p.policy.type}`);
  for (const [k, g] of Object.entries(group.groups ?? {}) as [string, Any][]) paths(g, `${prefix}/${k}`, out);
  return out.sort();
}

test('inspect a config block: the tree matches configtxlator proto_decode of the same block', () => {
  const mine = inspectFile(join(goldenDir, 'mychannel/2.block')) as Any;
  const theirs = JSON.parse(readFileSync(join(goldenDir, 'mychannel/2.json'), 'utf8')) as Any;
  const myPayload = mine.block.data.data[0].payload;
  const theirPayload = theirs.data.data[0].payload;
  assert.equal(myPayload.header.channel_header.type_name, 'CONFIG');
  assert.equal(myPayload.header.channel_header.channel_id, 'mychannel');
  assert.equal(
    myPayload.header.channel_header.timestamp,
    new Date(theirPayload.header.channel_header.timestamp).toISOString(),
  );
  const myGroup = myPayload.data.config.channel_group;
  const theirGroup = theirPayload.data.config.channel_group;
  assert.deepEqual(paths(myGroup), paths(theirGroup));
  assert.equal(myPayload.data.config.sequence, Number(theirPayload.data.config.sequence));
  assert.deepEqual(
    myGroup.groups.Orderer.values.BatchSize.value,
    theirGroup.groups.Orderer.values.BatchSize.value,
  );
  assert.deepEqual(myGroup.policies.Admins.policy.value, theirGroup.policies.Admins.policy.value);
  assert.equal(myGroup.policies.Admins.policy.rule_text, 'MAJORITY Admins');
  assert.equal(
    myGroup.groups.Application.groups.Org1MSP.policies.Writers.policy.rule_text,
    "OR('Org1MSP.admin', 'Org1MSP.client')",
  );
  const myMsp = myGroup.groups.Orderer.groups.OrdererOrg.values.MSP.value.config;
  const theirMsp = theirGroup.groups.Orderer.groups.OrdererOrg.values.MSP.value.config;
  assert.deepEqual(
    myMsp.root_certs,
    theirMsp.root_certs.map((b64: string) => Buffer.from(b64, 'base64').toString('utf8')),
  );
  // The config update that made this block, signed by the orderer org's admin.
  const lastUpdate = myPayload.data.last_update.payload;
  assert.equal(lastUpdate.header.channel_header.type_name, 'CONFIG_UPDATE');
  const signer = lastUpdate.data.signatures[0].signature_header.creator;
  assert.equal(signer.msp_id, 'OrdererMSP');
  assert.equal(signer.common_name, 'Admin@example.com');
  // Block metadata: signed by orderer0, last config = itself.
  const metadata = mine.block.metadata;
  assert.equal(metadata.signatures.value.last_config.index, 2);
  assert.equal(
    metadata.signatures.signatures[0].signature_header.creator.common_name,
    'orderer0.example.com',
  );
  assert.match(mine.block.header.previous_hash, /^[0-9a-f]{64}$/);
});

test('inspect a ledger folder in Fabric format: channel, range, data envelopes with creators', async () => {
  const location = mkdtempSync(join(tmpdir(), 'inspect-ledger-'));
  try {
    await writeGoOrdererLedger(location, 'mychannel', await goldenBlocks('mychannel'));
    const result = (await inspectLedger(location, { channel: 'mychannel', from: 1, to: 3 })) as Any;
    const channel = result.channels[0];
    assert.equal(channel.channel, 'mychannel');
    assert.equal(channel.height, 6);
    assert.equal(channel.consensus_type, 'solo');
    assert.deepEqual(
      channel.blocks.map((b: Any) => b.header.number),
      [1, 2, 3],
    );
    // The header chain as printed: each previous_hash is the hash of the block before.
    assert.equal(channel.blocks[1].header.previous_hash, channel.blocks[0].header.hash);
    const txs = channel.blocks[0].data.data;
    assert.equal(txs.length, 25);
    assert.equal(txs[0].payload.header.channel_header.type_name, 'ENDORSER_TRANSACTION');
    assert.equal(txs[0].payload.header.signature_header.creator.common_name, 'User1@org1.example.com');
    assert.equal(channel.blocks[0].metadata.signatures.value.last_config.index, 0);
    await assert.rejects(inspectLedger(location, { channel: 'nochannel' }), /channels there: mychannel/);
    await assert.rejects(inspectLedger(location, { channel: 'mychannel', from: 9 }), /past the end/);
    await assert.rejects(inspectLedger(join(location, 'chains')), /not a ledger folder/);
  } finally {
    rmSync(location, { recursive: true, force: true });
  }
});

test('inspect reads a ledger folder without changing it: a torn tail is reported, left out and left in place', async () => {
  const location = mkdtempSync(join(tmpdir(), 'inspect-torn-'));
  try {
    await writeGoOrdererLedger(location, 'mychannel', await goldenBlocks('mychannel'));
    const blockFile = join(location, 'chains/mychannel/blockfile_000000');
    // A block being written: a length prefix promising more bytes than follow.
    appendFileSync(blockFile, Buffer.from([0xe8, 0x07, 0x0a, 0x02]));
    const before = readFileSync(blockFile);
    const listing = readdirSync(join(location, 'chains/mychannel')).sort();

    const result = (await inspectLedger(location, { channel: 'mychannel', from: 4 })) as Any;
    const channel = result.channels[0];
    assert.equal(channel.height, 6, 'the six complete blocks count');
    assert.deepEqual(
      channel.blocks.map((b: Any) => b.header.number),
      [4, 5],
    );
    assert.match(channel.incomplete_tail, /block file 0 at byte \d+: the block record needs 1000 bytes/);
    assert.equal(channel.consensus_type, 'solo', 'found through the last config block, outside the range');

    assert.ok(readFileSync(blockFile).equals(before), 'the block file is byte for byte as it was');
    assert.deepEqual(
      readdirSync(join(location, 'chains/mychannel')).sort(),
      listing,
      'no file added or removed',
    );
  } finally {
    rmSync(location, { recursive: true, force: true });
  }
});

test('orderer inspect (command line): block file to a JSON file; a channel creation .tx as an envelope', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'inspect-cli-'));
  try {
    const out = join(dir, 'genesis.json');
    const code = await runCli([
      'node',
      'orderer',
      'inspect',
      join(goldenDir, '../blocks/appsolo-genesis.block'),
      '-o',
      out,
    ]);
    assert.equal(code, 0);
    const json = JSON.parse(readFileSync(out, 'utf8')) as Any;
    assert.equal(json.block.header.number, 0);
    const group = json.block.data.data[0].payload.data.config.channel_group;
    assert.equal(group.groups.Orderer.values.ConsensusType.value.type, 'solo');
    assert.deepEqual(Object.keys(group.groups.Application.groups), ['Org1MSP', 'Org2MSP']);
    assert.equal(json.block.metadata.last_config, null, 'configtxgen leaves LAST_CONFIG empty');

    const tx = inspectFile(join(goldenDir, '../blocks/mychannel-create.tx')) as Any;
    const update = tx.envelope.payload.data.config_update;
    assert.equal(update.channel_id, 'mychannel');
    assert.deepEqual(Object.keys(update.write_set.groups.Application.groups).sort(), ['Org1MSP', 'Org2MSP']);

    assert.equal(await runCli(['node', 'orderer', 'inspect', join(dir, 'missing.block')]), 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('orderer inspect LEDGER: one line per block (number, transactions, size, type, hash) by default, JSON with --json/--full', async () => {
  const location = mkdtempSync(join(tmpdir(), 'inspect-summary-'));
  try {
    const golden = await goldenBlocks('mychannel');
    await writeGoOrdererLedger(location, 'mychannel', golden);
    const full = (await inspectLedger(location, { channel: 'mychannel' })) as Any;
    const summary = await summarizeLedger(location, { channel: 'mychannel' });
    const channel = summary.channels[0]!;
    assert.equal(channel.height, 6);
    assert.deepEqual(
      channel.blocks.map((b) => b.number),
      [0, 1, 2, 3, 4, 5],
    );
    // Each line agrees with the full decoding and with the bytes Fabric's orderer wrote.
    for (const [i, b] of channel.blocks.entries()) {
      const block = full.channels[0].blocks[i];
      assert.equal(b.hash, block.header.hash);
      assert.equal(b.transactions, block.data.data.length);
      assert.equal(b.bytes, golden[i]!.length);
    }
    assert.equal(channel.blocks[0]!.type, 'CONFIG');
    assert.equal(channel.blocks[1]!.type, 'ENDORSER_TRANSACTION');
    assert.equal(channel.blocks[1]!.transactions, 25);
    assert.equal(channel.blocks[2]!.type, 'CONFIG');
    assert.equal(channel.blocks[1]!.hash, full.channels[0].blocks[2].header.previous_hash);

    const text = await inspectCommandOutput(location, { channel: 'mychannel' });
    const lines = text.split('\n');
    assert.match(text, /channel mychannel: height 6, consensus solo/);
    assert.match(lines.find((l) => /^\s*block\s+txs\s+size\s+type\s+hash$/.test(l)) ?? '', /hash/);
    const blockLines = lines.filter((l) => /^\s+\d+\s+\d+\s/.test(l));
    assert.equal(blockLines.length, 6, text);
    assert.match(
      blockLines[1]!,
      new RegExp(`^\\s+1\\s+25\\s+[\\d.]+ (B|KiB)\\s+ENDORSER_TRANSACTION\\s+${channel.blocks[1]!.hash}$`),
    );

    for (const flag of ['json', 'full'] as const) {
      const json = JSON.parse(
        await inspectCommandOutput(location, { channel: 'mychannel', [flag]: true }),
      ) as Any;
      assert.deepEqual(json, JSON.parse(JSON.stringify(full)), `--${flag} prints the full JSON`);
    }
    // The command line prints the summary too.
    const out = join(location, 'summary.txt');
    assert.equal(await runCli(['node', 'orderer', 'inspect', location, '-o', out]), 0);
    assert.equal(readFileSync(out, 'utf8'), text);
  } finally {
    rmSync(location, { recursive: true, force: true });
  }
});

test('orderer inspect ./orderer-data: the dev data folder itself, its ledger found through dev-info.json', async () => {
  const root = mkdtempSync(join(tmpdir(), 'inspect-dev-'));
  const dataDir = join(root, 'orderer-data');
  const dev = await startDevOrderer(
    { dataDir, port: 0, adminPort: 0, operationsPort: 0 },
    { logger: silentLogger(), clock: systemClock },
  );
  try {
    const info = readDevInfo(dataDir)!;
    assert.notEqual(info.ledgerDir, dataDir, 'the ledger is a folder inside the data folder');
    const summary = await summarizeLedger(dataDir);
    assert.equal(summary.ledger, info.ledgerDir);
    const channel = summary.channels.find((c) => c.channel === 'devchannel')!;
    assert.equal(channel.height, dev.orderer.registrar.channelInfo('devchannel')?.height);
    assert.equal(channel.blocks[0]!.type, 'CONFIG');
    assert.equal(channel.blocks[0]!.number, 0);
    const text = await inspectCommandOutput(dataDir, {});
    assert.match(text, /channel devchannel: height \d+, consensus solo/);
    assert.match(
      text,
      new RegExp(`^\\s+0\\s+1\\s+[\\d.]+ (B|KiB)\\s+CONFIG\\s+${channel.blocks[0]!.hash}$`, 'm'),
    );
    const full = JSON.parse(await inspectCommandOutput(dataDir, { full: true })) as Any;
    assert.equal(full.ledger, info.ledgerDir);
    // A folder that is neither says what to give.
    await assert.rejects(
      inspectCommandOutput(root, {}),
      /not a ledger folder.*dev data folder such as \.\/orderer-data/,
    );
  } finally {
    await dev.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
