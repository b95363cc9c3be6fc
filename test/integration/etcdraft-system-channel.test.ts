// Fabric 1.4/2.x style Raft: three orderer processes boot from Fabric's system channel genesis
// block (blocks/sys-raft.block, made by configtxgen), elect a leader among themselves, create
// mychannel from `peer channel create`'s signed transaction sent to a follower, and order
// transactions sent to every node; each node's chain of both channels is identical and verifies
// as a peer verifies it. Run with three of ours, and mixed: Fabric's Go orderer as nodes 0 and 2.
// The fixture's consenters are at 127.0.0.1:7051-7053, so the cluster listeners use those ports.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { common } from '../../src/protos/index.js';
import { blockHeaderHash } from '../../src/protoutil/index.js';
import {
  CRYPTO,
  FIXTURES,
  atomicBroadcastClient,
  broadcastAll,
  loadIdentity,
  signChannelCreateTx,
  signedEnvelope,
  type TlsClientOptions,
} from '../support/fabric-clients.js';
import { CLI_SOURCE, REPO_ROOT, freePort } from '../support/orderer-process.js';
import { readChain, txIdsOfBlock, verifyChain } from '../support/process-load.js';
import { fabricBin, skipWithoutFabricBin } from '../support/fabric-fixtures.js';

const org1Admin = loadIdentity('org1Admin');
const org1User = loadIdentity('org1User');
const ordererAdmin = loadIdentity('ordererAdmin');
const ORDERERS = join(CRYPTO, 'ordererOrganizations/example.com/orderers');
const CLUSTER_PORTS = [7051, 7052, 7053];

type Impl = 'ours' | 'go';

interface Node {
  readonly index: number;
  readonly address: string;
  readonly tls: TlsClientOptions;
  readonly child: ChildProcess;
  readonly output: string[];
}

const started: Node[] = [];
const dirs: string[] = [];

after(() => {
  for (const node of started) node.child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function waitForPort(port: number, timeoutMs: number, node: { output: string[]; child: ChildProcess }) {
  const deadline = Date.now() + timeoutMs;
  return new Promise<void>((resolve, reject) => {
    const attempt = () => {
      if (node.child.exitCode !== null)
        return reject(new Error(`orderer exited before listening:\n${node.output.join('')}`));
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`port ${port} not open:\n${node.output.join('')}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

async function startNode(index: number, impl: Impl, root: string): Promise<Node> {
  const dir = join(ORDERERS, `orderer${index}.example.com`);
  const port = await freePort();
  const tlsFile = (name: string) => join(dir, 'tls', name);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    FABRIC_CFG_PATH: join(FIXTURES, 'sampleconfig'),
    FABRIC_LOGGING_SPEC: 'info',
    ORDERER_GENERAL_LISTENADDRESS: '127.0.0.1',
    ORDERER_GENERAL_LISTENPORT: String(port),
    ORDERER_GENERAL_BOOTSTRAPMETHOD: 'file',
    ORDERER_GENERAL_BOOTSTRAPFILE: join(FIXTURES, 'blocks/sys-raft.block'),
    ORDERER_GENERAL_LOCALMSPDIR: join(dir, 'msp'),
    ORDERER_GENERAL_LOCALMSPID: 'OrdererMSP',
    ORDERER_GENERAL_TLS_ENABLED: 'true',
    ORDERER_GENERAL_TLS_CERTIFICATE: tlsFile('server.crt'),
    ORDERER_GENERAL_TLS_PRIVATEKEY: tlsFile('server.key'),
    ORDERER_GENERAL_TLS_ROOTCAS: `[${tlsFile('ca.crt')}]`,
    ORDERER_GENERAL_CLUSTER_LISTENADDRESS: '127.0.0.1',
    ORDERER_GENERAL_CLUSTER_LISTENPORT: String(CLUSTER_PORTS[index]),
    ORDERER_GENERAL_CLUSTER_SERVERCERTIFICATE: tlsFile('server.crt'),
    ORDERER_GENERAL_CLUSTER_SERVERPRIVATEKEY: tlsFile('server.key'),
    ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE: tlsFile('server.crt'),
    ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY: tlsFile('server.key'),
    ORDERER_GENERAL_CLUSTER_ROOTCAS: `[${tlsFile('ca.crt')}]`,
    ORDERER_FILELEDGER_LOCATION: join(root, `o${index}`, 'ledger'),
    ORDERER_CONSENSUS_WALDIR: join(root, `o${index}`, 'wal'),
    ORDERER_CONSENSUS_SNAPDIR: join(root, `o${index}`, 'snap'),
    ORDERER_ADMIN_LISTENADDRESS: `127.0.0.1:${await freePort()}`,
    ORDERER_OPERATIONS_LISTENADDRESS: `127.0.0.1:${await freePort()}`,
  };
  const [command, args] =
    impl === 'ours'
      ? [process.execPath, ['--import', 'tsx', CLI_SOURCE, 'start']]
      : [fabricBin('orderer'), ['start']];
  const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const node: Node = {
    index,
    address: `127.0.0.1:${port}`,
    tls: { caPem: readFileSync(tlsFile('ca.crt')) },
    child,
    output,
  };
  started.push(node);
  await waitForPort(port, 30_000, node);
  return node;
}

/** Broadcasts until SUCCESS: while no leader is elected yet, nodes answer SERVICE_UNAVAILABLE. */
async function broadcastWhenLed(node: Node, envelope: () => Buffer, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  const client = atomicBroadcastClient(node.address, node.tls);
  try {
    for (;;) {
      const [response] = await broadcastAll(client, [envelope()]).catch((err: Error) => [
        { status: 0, info: err.message },
      ]);
      if (response?.status === 200) return;
      if (Date.now() > deadline)
        throw new Error(`node ${node.index} never accepted: ${JSON.stringify(response)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    client.close();
  }
}

async function chainOf(
  node: Node,
  channelId: string,
  minHeight: number,
  reader = org1User,
): Promise<Buffer[]> {
  const client = atomicBroadcastClient(node.address, node.tls);
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const result = await readChain(client, reader, channelId);
      if (result.status === 200 && result.blockBytes.length >= minHeight) return result.blockBytes;
      if (Date.now() > deadline)
        throw new Error(`node ${node.index}: ${channelId} height ${result.blockBytes.length} < ${minHeight}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    client.close();
  }
}

function headerHashes(blocks: readonly Buffer[]): string[] {
  return blocks.map((bytes) => blockHeaderHash(common.Block.decode(bytes).header!).toString('hex'));
}

async function runCluster(impls: readonly Impl[]) {
  const root = mkdtempSync(join(tmpdir(), 'etcdraft-sys-'));
  dirs.push(root);
  const nodes = await Promise.all(impls.map((impl, i) => startNode(i, impl, root)));
  try {
    // Channel creation through a node that is ours, wherever the leader is.
    const creator = nodes[impls.indexOf('ours')]!;
    const createTx = readFileSync(join(FIXTURES, 'blocks/mychannel-create.tx'));
    await broadcastWhenLed(creator, () => signChannelCreateTx(createTx, [org1Admin]));
    for (const node of nodes) await chainOf(node, 'mychannel', 1);

    const txIds: string[] = [];
    for (const node of nodes) {
      const ids = Array.from({ length: 20 }, (_, i) => `sys-${node.index}-${i}-${Date.now()}`);
      txIds.push(...ids);
      const client = atomicBroadcastClient(node.address, node.tls);
      try {
        const responses = await broadcastAll(
          client,
          ids.map((txId) => signedEnvelope(org1User, { channelId: 'mychannel', txId })),
          30_000,
        );
        assert.deepEqual(
          responses.map((r) => r.status),
          ids.map(() => 200),
          `node ${node.index} (${impls[node.index]}): ${JSON.stringify(responses.find((r) => r.status !== 200))}`,
        );
      } finally {
        client.close();
      }
    }

    // Every node ends with the same blocks, holding every transaction exactly once.
    const chains = await Promise.all(
      nodes.map(async (node) => {
        for (;;) {
          const blocks = await chainOf(node, 'mychannel', 2);
          const ids = blocks.slice(1).flatMap((b) => txIdsOfBlock(b));
          if (ids.length >= txIds.length) return blocks;
          await new Promise((r) => setTimeout(r, 250));
        }
      }),
    );
    const heights = Math.min(...chains.map((c) => c.length));
    for (const chain of chains) {
      assert.deepEqual(headerHashes(chain.slice(0, heights)), headerHashes(chains[0]!.slice(0, heights)));
      await verifyChain('mychannel', chain);
      const ids = chain.slice(1).flatMap((b) => txIdsOfBlock(b));
      assert.deepEqual([...ids].sort(), [...txIds].sort());
    }
    const system = await Promise.all(nodes.map((node) => chainOf(node, 'system-channel', 2, ordererAdmin)));
    for (const chain of system) {
      assert.deepEqual(headerHashes(chain.slice(0, 2)), headerHashes(system[0]!.slice(0, 2)));
      await verifyChain('system-channel', chain);
    }
  } finally {
    for (const node of nodes) {
      node.child.kill('SIGKILL');
      started.splice(started.indexOf(node), 1);
    }
  }
}

describe('etcdraft with a system channel (sys-raft.block)', () => {
  it('three of our orderers create mychannel and order through every node', async () => {
    await runCluster(['ours', 'ours', 'ours']);
  });

  it(
    "one of ours between two of Fabric's Go orderers does the same",
    { skip: skipWithoutFabricBin('orderer') },
    async () => {
      await runCluster(['go', 'ours', 'go']);
    },
  );
});
