// `orderer channel list|join|remove` against a real dev-mode orderer with no -o: the admin endpoint
// comes from the dev data folder's dev-info.json; a refused connection names the endpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerChannelCommand, resolveAdminAddress } from '../../src/cli/channel.js';
import { readDevInfo, startDevOrderer } from '../../src/dev/index.js';
import { silentLogger } from '../../src/logging.js';
import { systemClock } from '../../src/clock.js';

function channelCli(env: NodeJS.ProcessEnv, cwd: string) {
  return async (...args: string[]) => {
    let output = '';
    const program = new Command('orderer').exitOverride();
    registerChannelCommand(program, { write: (text) => (output += text), env, cwd });
    await program.parseAsync(['node', 'orderer', 'channel', ...args]);
    return output;
  };
}

/** A loopback port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test(
  'orderer channel list|remove|join find the dev orderer through its data folder',
  { timeout: 120_000 },
  async () => {
    const root = mkdtempSync(join(tmpdir(), 'cli-channel-'));
    const dataDir = join(root, 'orderer-data');
    const dev = await startDevOrderer(
      { dataDir, port: 0, adminPort: 0, operationsPort: 0 },
      { logger: silentLogger(), clock: systemClock },
    );
    let stopped = false;
    try {
      const adminAddress = readDevInfo(dataDir)!.runtime!.adminAddress!;
      assert.match(adminAddress, /^127\.0\.0\.1:\d+$/);
      assert.equal(resolveAdminAddress({}, {}, root), adminAddress, './orderer-data in the working folder');
      assert.equal(resolveAdminAddress({}, { ORDERER_DEV_DATA_DIR: dataDir }, '/'), adminAddress);
      assert.equal(resolveAdminAddress({ ordererAddress: 'h:1' }, {}, root), 'h:1', '-o wins');

      // ./orderer-data in the working folder, no flags at all.
      const run = channelCli({}, root);
      const list = await run('list');
      assert.match(list, /^Status: 200\n/);
      const listed = JSON.parse(list.slice('Status: 200\n'.length)) as { channels: { name: string }[] };
      assert.deepEqual(
        listed.channels.map((c) => c.name),
        ['devchannel'],
      );
      // --data-dir from anywhere.
      const elsewhere = channelCli({}, '/');
      assert.match(
        await elsewhere('list', '--data-dir', dataDir, '-c', 'devchannel'),
        /"name": "devchannel"/,
      );
      assert.equal(await elsewhere('remove', '--data-dir', dataDir, '-c', 'devchannel'), 'Status: 204\n\n');
      assert.equal(dev.orderer.registrar.channelInfo('devchannel'), undefined, 'the channel is gone');
      const joined = await run('join', '-c', 'devchannel', '-b', dev.info.genesisBlock);
      assert.match(joined, /^Status: 201\n/);
      assert.match(joined, /"name": "devchannel"/);
      assert.ok(dev.orderer.registrar.channelInfo('devchannel'), 'joined again');

      await dev.stop();
      stopped = true;
      await assert.rejects(
        run('list'),
        /the dev orderer of .*orderer-data is not running \(stopped at .*\): start it with `orderer start --dev`/,
      );
    } finally {
      if (!stopped) await dev.stop();
      rmSync(root, { recursive: true, force: true });
    }
  },
);

test('orderer channel: no dev folder and no -o, or a refused connection, say what to check', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cli-channel-none-'));
  try {
    const run = channelCli({}, root);
    await assert.rejects(
      run('list'),
      /no --orderer-address given and no dev orderer found \(.*orderer-data.dev-info\.json does not exist\): give -o host:port/,
    );
    const port = await closedPort();
    await assert.rejects(run('list', '-o', `127.0.0.1:${port}`), (err: Error) => {
      assert.match(
        err.message,
        new RegExp(`connection to the admin endpoint http://127\\.0\\.0\\.1:${port} was refused`),
      );
      assert.match(
        err.message,
        /check that the orderer is running, that ChannelParticipation\.Enabled is true and that its Admin\.ListenAddress is 127\.0\.0\.1:\d+/,
      );
      assert.match(err.message, /--ca-file, --client-cert and --client-key/);
      return true;
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
