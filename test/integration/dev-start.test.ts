// Zero-config dev mode from an empty folder: the orderer makes its identities and channel, a client
// using the generated identity (through Hyperledger's own bindings) broadcasts and reads the block
// back; after a restart everything is reused and the chain goes on, this time over TLS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { common as hlCommon } from '@hyperledger/fabric-protos';
import { startDevOrderer, readDevInfo, formatDevBanner } from '../../src/dev/index.js';
import { silentLogger } from '../../src/logging.js';
import { isDevModeStart } from '../../src/server/start.js';
import {
  atomicBroadcastClient,
  broadcastAll,
  deliver,
  HeaderType,
  identityFromFolder,
  seekInfo,
  signedEnvelope,
  type TlsClientOptions,
} from '../support/fabric-clients.js';
import { FABRIC_FIXTURES } from '../support/fabric-fixtures.js';
import { systemClock } from '../../src/clock.js';

const ports = { port: 0, adminPort: 0, operationsPort: 0 };

function txIdOf(block: hlCommon.Block, index: number): string {
  const envelope = hlCommon.Envelope.deserializeBinary(block.getData()!.getDataList_asU8()[index]!);
  const payload = hlCommon.Payload.deserializeBinary(envelope.getPayload_asU8());
  return hlCommon.ChannelHeader.deserializeBinary(payload.getHeader()!.getChannelHeader_asU8()).getTxId();
}

async function sendAndReadBack(
  address: string,
  dataDir: string,
  expectedBlock: number,
  tls?: TlsClientOptions,
) {
  const info = readDevInfo(dataDir)!;
  const client = identityFromFolder(info.client.mspId, info.client.dir);
  const ab = atomicBroadcastClient(address, tls);
  try {
    const txId = `dev-${expectedBlock}-${Date.now()}`;
    const responses = await broadcastAll(ab, [signedEnvelope(client, { channelId: info.channel, txId })]);
    assert.deepEqual(
      responses.map((r) => r.status),
      [200],
    );
    const result = await deliver(
      ab,
      signedEnvelope(client, {
        type: HeaderType.DELIVER_SEEK_INFO,
        channelId: info.channel,
        data: seekInfo(expectedBlock, expectedBlock),
      }),
      { maxBlocks: 1 },
    );
    assert.equal(result.error, undefined);
    assert.equal(result.blocks.length, 1);
    const block = result.blocks[0]!;
    assert.equal(block.getHeader()!.getNumber(), expectedBlock);
    assert.equal(txIdOf(block, 0), txId);
  } finally {
    ab.close();
  }
}

test('dev mode: empty folder -> identities, channel, broadcast + deliver; restart reuses everything', async () => {
  const root = mkdtempSync(join(tmpdir(), 'orderer-dev-'));
  const dataDir = join(root, 'data');
  try {
    const first = await startDevOrderer(
      { dataDir, ...ports },
      { logger: silentLogger(), clock: systemClock },
    );
    let genesisBytes: Buffer;
    try {
      assert.equal(first.created, true);
      assert.equal(first.joined, true);
      const info = readDevInfo(dataDir)!;
      assert.equal(info.channel, 'devchannel');
      assert.equal(info.runtime?.address, `127.0.0.1:${first.orderer.port}`);
      assert.equal(info.runtime?.tls, false);
      assert.equal(info.ordererEndpoint, `127.0.0.1:${first.orderer.port}`);
      for (const path of [info.genesisBlock, info.client.mspDir, info.admin.mspDir, info.orderer.tlsCaFile]) {
        assert.ok(existsSync(path), path);
      }
      assert.equal(first.config.general.bootstrapMethod, 'none');
      assert.equal(first.config.channelParticipation.enabled, true);
      assert.equal(first.config.fileLedger.location, join(dataDir, 'ledger'));
      assert.deepEqual(first.orderer.registrar.channelIds(), ['devchannel']);
      const banner = formatDevBanner(first, root);
      assert.match(banner, new RegExp(`127\\.0\\.0\\.1:${first.orderer.port}`));
      assert.match(banner, /devchannel/);
      assert.match(banner, /User1@org1\.example\.com\/msp/);
      assert.match(banner, /TLS off/);
      genesisBytes = readFileSync(info.genesisBlock);

      await sendAndReadBack(info.runtime!.address, dataDir, 1);
    } finally {
      await first.stop();
    }
    assert.ok(readDevInfo(dataDir)!.runtime?.stoppedAt, 'a clean stop is recorded');

    // Second start: same folder, now with TLS on the gRPC listener.
    const second = await startDevOrderer(
      { dataDir, ...ports, tls: true },
      { logger: silentLogger(), clock: systemClock },
    );
    try {
      assert.equal(second.created, false);
      assert.equal(second.joined, false);
      const info = readDevInfo(dataDir)!;
      assert.deepEqual(readFileSync(info.genesisBlock), genesisBytes, 'genesis block not regenerated');
      assert.equal(second.orderer.registrar.channelInfo('devchannel')?.height, 2);
      assert.equal(info.runtime?.tls, true);
      assert.equal(info.runtime?.stoppedAt, undefined);
      const address = `localhost:${second.orderer.port}`;
      await sendAndReadBack(address, dataDir, 2, { caPem: readFileSync(info.orderer.tlsCaFile) });
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('dev mode refuses a folder with a ledger but no dev-info.json, and another channel name', async () => {
  const root = mkdtempSync(join(tmpdir(), 'orderer-dev-'));
  try {
    const dataDir = join(root, 'data');
    const dev = await startDevOrderer({ dataDir, ...ports }, { logger: silentLogger(), clock: systemClock });
    await dev.stop();
    await assert.rejects(
      startDevOrderer(
        { dataDir, ...ports, channel: 'otherchannel' },
        { logger: silentLogger(), clock: systemClock },
      ),
      /holds the dev channel devchannel, not otherchannel/,
    );
    rmSync(join(dataDir, 'dev-info.json'));
    await assert.rejects(
      startDevOrderer({ dataDir, ...ports }, { logger: silentLogger(), clock: systemClock }),
      /holds a ledger but no dev-info\.json/,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('start decides dev mode only when nothing configures the orderer', () => {
  const root = mkdtempSync(join(tmpdir(), 'orderer-dev-'));
  try {
    assert.equal(isDevModeStart({}, {}, root), true);
    assert.equal(isDevModeStart({ dev: true }, { FABRIC_CFG_PATH: '/etc' }, root), true);
    assert.equal(isDevModeStart({ configPath: 'x.yaml' }, {}, root), false);
    assert.equal(isDevModeStart({}, { FABRIC_CFG_PATH: '/etc/hyperledger/fabric' }, root), false);
    assert.equal(isDevModeStart({}, { ORDERER_GENERAL_BOOTSTRAPFILE: '/x.block' }, root), false);
    assert.equal(isDevModeStart({}, {}, join(FABRIC_FIXTURES, 'sampleconfig')), false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
