// Fabric v2.5.12's own osnadmin against our orderer's channel participation API, over mutual TLS
// with the fixture certificates: Fabric's client joins, lists and removes channels, and our
// `orderer channel` prints byte for byte what osnadmin prints for the same request and state.
// Needs Fabric's osnadmin ($FABRIC_BIN, else ../shared/fabric-bin): skipped without it, failed
// without it under CI.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { registerChannelCommand } from '../../src/cli/channel.js';
import { CRYPTO, FIXTURES } from '../support/fabric-clients.js';
import { fabricBin, skipWithoutFabricBin } from '../support/fabric-fixtures.js';
import { ORDERER0_DIR, startTestOrderer, type TestOrderer } from '../support/orderer.js';

const run = promisify(execFile);

const ORDERER_TLS = join(ORDERER0_DIR, 'tls');
const ADMIN_TLS = join(CRYPTO, 'ordererOrganizations/example.com/users/Admin@example.com/tls');
const APPSOLO_BLOCK = join(FIXTURES, 'blocks/appsolo-genesis.block');

/** What a command printed and how it ended. */
interface Outcome {
  stdout: string;
  stderr: string;
  exitCode: number;
}

// On each test rather than the suite: Node 20 counts the tests of a skipped suite nowhere.
const skip = skipWithoutFabricBin('osnadmin');

describe("Fabric's osnadmin against our orderer", () => {
  let node: TestOrderer;
  let osnadmin: string;
  let connection: string[];

  before(async () => {
    if (skip) return;
    // First, so that without the binary (under CI) the suite fails with how to get it.
    osnadmin = fabricBin('osnadmin');
    node = await startTestOrderer({
      env: {
        ORDERER_GENERAL_BOOTSTRAPMETHOD: 'none',
        ORDERER_CHANNELPARTICIPATION_ENABLED: 'true',
        ORDERER_ADMIN_TLS_ENABLED: 'true',
        ORDERER_ADMIN_TLS_CERTIFICATE: join(ORDERER_TLS, 'server.crt'),
        ORDERER_ADMIN_TLS_PRIVATEKEY: join(ORDERER_TLS, 'server.key'),
        ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED: 'true',
        ORDERER_ADMIN_TLS_CLIENTROOTCAS: `[${join(ADMIN_TLS, 'ca.crt')}]`,
      },
    });
    assert.ok(node.orderer.adminPort, 'the orderer started no admin endpoint');
    connection = [
      '-o',
      `127.0.0.1:${node.orderer.adminPort}`,
      '--ca-file',
      join(ORDERER_TLS, 'ca.crt'),
      '--client-cert',
      join(ADMIN_TLS, 'client.crt'),
      '--client-key',
      join(ADMIN_TLS, 'client.key'),
    ];
  });

  after(async () => {
    await node?.destroy();
  });

  async function fabric(...args: string[]): Promise<Outcome> {
    try {
      const { stdout, stderr } = await run(osnadmin, args, { encoding: 'utf8' });
      return { stdout, stderr, exitCode: 0 };
    } catch (err) {
      const failed = err as { stdout?: string; stderr?: string; code?: number | string };
      if (typeof failed.code !== 'number') throw err;
      return { stdout: failed.stdout ?? '', stderr: failed.stderr ?? '', exitCode: failed.code };
    }
  }

  async function ours(...args: string[]): Promise<Outcome> {
    let stdout = '';
    const program = new Command('orderer').exitOverride();
    registerChannelCommand(program, { write: (text) => (stdout += text) });
    await program.parseAsync(['node', 'orderer', ...args]);
    return { stdout, stderr: '', exitCode: 0 };
  }

  /** Runs `channel <args>` with osnadmin, then with ours (state must not change in between). */
  async function sameOutput(...args: string[]): Promise<string> {
    const go = await fabric('channel', ...args, ...connection);
    const ts = await ours('channel', ...args, ...connection);
    assert.equal(go.exitCode, 0, `osnadmin channel ${args.join(' ')} failed: ${go.stdout}`);
    assert.equal(ts.stdout, go.stdout, `orderer channel ${args.join(' ')} prints what osnadmin prints`);
    return go.stdout;
  }

  it('lists no channels the same way', { skip }, async () => {
    assert.equal(
      await sameOutput('list'),
      'Status: 200\n{\n\t"systemChannel": null,\n\t"channels": null\n}\n\n',
    );
  });

  it("osnadmin joins the orderer to appsolo from configtxgen's genesis block", { skip }, async () => {
    const joined = await fabric(
      'channel',
      'join',
      '--channelID',
      'appsolo',
      '--config-block',
      APPSOLO_BLOCK,
      ...connection,
    );
    assert.equal(joined.exitCode, 0, joined.stdout);
    assert.equal(
      joined.stdout,
      'Status: 201\n{\n\t"name": "appsolo",\n\t"url": "/participation/v1/channels/appsolo",\n\t"consensusRelation": "other",\n\t"status": "active",\n\t"height": 1\n}\n\n',
    );
    assert.ok(node.orderer.registrar.getChain('appsolo'), 'the joined channel is served');
  });

  it('lists the joined channel, all and by name, the same way', { skip }, async () => {
    assert.match(
      await sameOutput('list'),
      /"name": "appsolo",\n\t\t\t"url": "\/participation\/v1\/channels\/appsolo"/,
    );
    assert.match(
      await sameOutput('list', '--channelID', 'appsolo'),
      /^Status: 200\n\{\n\t"name": "appsolo",/,
    );
    assert.match(await sameOutput('list', '--no-status', '-c', 'appsolo'), /^\{\n\t"name": "appsolo",/);
  });

  it('a second join and a channel that is not there give the same errors', { skip }, async () => {
    assert.match(
      await sameOutput('join', '--channelID', 'appsolo', '--config-block', APPSOLO_BLOCK),
      /^Status: 405\n\{\n\t"error": "[^"]+"\n\}\n\n$/,
    );
    assert.match(await sameOutput('list', '-c', 'nosuchchannel'), /^Status: 404\n\{\n\t"error": /);
    assert.match(await sameOutput('remove', '-c', 'nosuchchannel'), /^Status: 404\n\{\n\t"error": /);
  });

  it('osnadmin removes the channel and both then see it gone', { skip }, async () => {
    const removed = await fabric('channel', 'remove', '--channelID', 'appsolo', ...connection);
    assert.deepEqual(removed, { stdout: 'Status: 204\n\n', stderr: '', exitCode: 0 });
    assert.equal(node.orderer.registrar.getChain('appsolo'), undefined);
    assert.match(await sameOutput('list', '-c', 'appsolo'), /^Status: 404\n/);
    assert.equal(
      await sameOutput('list'),
      'Status: 200\n{\n\t"systemChannel": null,\n\t"channels": null\n}\n\n',
    );
  });

  it('refuses a block of another channel before sending it, as osnadmin does', { skip }, async () => {
    const go = await fabric(
      'channel',
      'join',
      '--channelID',
      'other',
      '--config-block',
      APPSOLO_BLOCK,
      ...connection,
    );
    const mismatch = /specified --channelID other does not match channel ID appsolo in config block/;
    assert.notEqual(go.exitCode, 0);
    assert.match(go.stderr, mismatch);
    await assert.rejects(
      ours('channel', 'join', '--channelID', 'other', '--config-block', APPSOLO_BLOCK, ...connection),
      mismatch,
    );
  });
});
