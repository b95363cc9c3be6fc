// The 3-node etcdraft scenario of `npm run bench -- --vs-fabric`: three of Fabric's Go orderers and
// three of ours, each side its own cluster on loopback with TLS, configured as
// ../shared/tools/fabric-raft-cluster.sh configures them (no system channel, channel participation,
// cluster listener of its own, plain-HTTP admin), joined with Fabric's osnadmin to an application
// channel made from the fixtures' appraft-genesis.block with that side's cluster ports (BatchSize
// 500 / 2 MB, BatchTimeout 2 s, TickInterval 500 ms as configtxgen writes it). The load goes to
// node 0, whichever node leads; CPU is summed over the three nodes, RSS is the largest node's.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { asBuffer, etcdraft, orderer as ordererProtos } from '../src/protos/index.js';
import {
  CRYPTO,
  FIXTURES,
  atomicBroadcastClient,
  broadcastAll,
  loadIdentity,
  signedEnvelope,
} from '../test/support/fabric-clients.js';
import { fabricBin } from '../test/support/fabric-fixtures.js';
import { ordererGroupOf, rewriteGenesisBlock } from '../test/support/genesis.js';
import { freePort, ordererEnv } from '../test/support/orderer.js';
import {
  spawnLogged,
  type ComparedOrderer,
  type ScenarioStartOptions,
  type Spawned,
} from './vs-fabric-orderers.js';
import type { Side } from './vs-fabric-report.js';

export const RAFT_CHANNEL = 'benchraft';
const NODES = 3;
const ORDERERS = join(CRYPTO, 'ordererOrganizations/example.com/orderers');
const tlsFile = (index: number, name: string) => join(ORDERERS, `orderer${index}.example.com`, 'tls', name);

/** The fixtures' etcdraft application channel genesis with another channel ID and these cluster ports. */
export function raftGenesisBlock(channelId: string, clusterPorts: readonly number[]): Buffer {
  return rewriteGenesisBlock(readFileSync(join(FIXTURES, 'blocks/appraft-genesis.block')), {
    channelHeader: (channelHeader) => {
      channelHeader.channelId = channelId;
    },
    config: (configEnvelope) => {
      const consensusType = ordererGroupOf(configEnvelope).values!['ConsensusType']!;
      const type = ordererProtos.ConsensusType.decode(asBuffer(consensusType.value));
      const metadata = etcdraft.ConfigMetadata.decode(asBuffer(type.metadata));
      if (metadata.consenters.length !== clusterPorts.length)
        throw new Error(
          `appraft-genesis.block has ${metadata.consenters.length} consenters, not ${clusterPorts.length}`,
        );
      metadata.consenters.forEach((consenter, i) => {
        consenter.host = '127.0.0.1';
        consenter.port = clusterPorts[i]!;
      });
      type.metadata = etcdraft.ConfigMetadata.encode(metadata).finish();
      consensusType.value = ordererProtos.ConsensusType.encode(type).finish();
    },
  });
}

interface RaftNode {
  readonly index: number;
  readonly address: string;
  readonly adminAddress: string;
  readonly spawned: Spawned;
}

async function startNode(
  side: Side,
  index: number,
  clusterPort: number,
  dir: string,
  options: ScenarioStartOptions,
): Promise<RaftNode> {
  const port = await freePort();
  const adminAddress = `127.0.0.1:${await freePort()}`;
  const nodeDir = join(dir, `o${index}`);
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    FABRIC_LOGGING_SPEC: 'info',
    ...ordererEnv(
      join(nodeDir, 'ledger'),
      {
        ORDERER_GENERAL_BOOTSTRAPMETHOD: 'none',
        ORDERER_GENERAL_LOCALMSPDIR: join(ORDERERS, `orderer${index}.example.com`, 'msp'),
        ORDERER_GENERAL_TLS_ENABLED: 'true',
        ORDERER_GENERAL_TLS_CERTIFICATE: tlsFile(index, 'server.crt'),
        ORDERER_GENERAL_TLS_PRIVATEKEY: tlsFile(index, 'server.key'),
        ORDERER_GENERAL_TLS_ROOTCAS: `[${tlsFile(index, 'ca.crt')}]`,
        ORDERER_GENERAL_CLUSTER_LISTENADDRESS: '127.0.0.1',
        ORDERER_GENERAL_CLUSTER_LISTENPORT: String(clusterPort),
        ORDERER_GENERAL_CLUSTER_SERVERCERTIFICATE: tlsFile(index, 'server.crt'),
        ORDERER_GENERAL_CLUSTER_SERVERPRIVATEKEY: tlsFile(index, 'server.key'),
        ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE: tlsFile(index, 'server.crt'),
        ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY: tlsFile(index, 'server.key'),
        ORDERER_GENERAL_CLUSTER_ROOTCAS: `[${tlsFile(index, 'ca.crt')}]`,
        ORDERER_CONSENSUS_WALDIR: join(nodeDir, 'etcdraft/wal'),
        ORDERER_CONSENSUS_SNAPDIR: join(nodeDir, 'etcdraft/snapshot'),
        ORDERER_CHANNELPARTICIPATION_ENABLED: 'true',
        ORDERER_ADMIN_LISTENADDRESS: adminAddress,
        ORDERER_ADMIN_TLS_ENABLED: 'false',
        ...(side === 'ours' && options.oursIdleCutAfter
          ? { ORDERER_CONSENSUS_IDLECUTAFTER: options.oursIdleCutAfter }
          : {}),
      },
      port,
    ),
  };
  const spawned =
    side === 'fabric'
      ? spawnLogged(fabricBin('orderer'), [], env, dir)
      : spawnLogged(
          process.execPath,
          [
            ...(options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir] : []),
            options.oursBin ?? join(options.root, 'bin/orderer.js'),
            'start',
          ],
          env,
          options.root,
        );
  return { index, address: `127.0.0.1:${port}`, adminAddress, spawned };
}

async function until(
  what: string,
  node: RaftNode,
  timeoutMs: number,
  attempt: () => Promise<string | undefined>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exited = node.spawned.exitStatus();
    if (exited) throw new Error(`raft node ${node.index} exited before ${what}: ${exited}`);
    let failure: string | undefined;
    try {
      failure = await attempt();
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    }
    if (failure === undefined) return;
    if (Date.now() > deadline)
      throw new Error(
        `${what} on raft node ${node.index} failed for ${timeoutMs / 1000} s: ${failure}\n${node.spawned.output.slice(-20).join('\n')}`,
      );
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** One side's three-node cluster, joined and led, ready for load at node 0. */
export async function startRaftSide(side: Side, options: ScenarioStartOptions): Promise<ComparedOrderer> {
  const dir = mkdtempSync(join(tmpdir(), `vs-fabric-raft-${side}-`));
  const nodes: RaftNode[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.spawned.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const clusterPorts: number[] = [];
    for (let i = 0; i < NODES; i++) clusterPorts.push(await freePort());
    const blockFile = join(dir, `${RAFT_CHANNEL}.block`);
    writeFileSync(blockFile, raftGenesisBlock(RAFT_CHANNEL, clusterPorts));
    for (let i = 0; i < NODES; i++) nodes.push(await startNode(side, i, clusterPorts[i]!, dir, options));
    const osnadmin = fabricBin('osnadmin');
    for (const node of nodes) {
      await until('osnadmin channel join', node, 60_000, async () => {
        const { stdout } = await promisify(execFile)(osnadmin, [
          'channel',
          'join',
          '--channelID',
          RAFT_CHANNEL,
          '--config-block',
          blockFile,
          '-o',
          node.adminAddress,
        ]);
        return /Status: 201/.test(stdout) ? undefined : stdout;
      });
    }
    // Until a leader is elected, Broadcast answers SERVICE_UNAVAILABLE.
    const client = atomicBroadcastClient(nodes[0]!.address, { caPem: readFileSync(tlsFile(0, 'ca.crt')) });
    const user = loadIdentity('org1User');
    try {
      await until('a leader accepting Broadcast', nodes[0]!, 90_000, async () => {
        const [response] = await broadcastAll(
          client,
          [signedEnvelope(user, { channelId: RAFT_CHANNEL })],
          5_000,
        );
        return response?.status === 200 ? undefined : `answered ${JSON.stringify(response)}`;
      });
    } finally {
      client.close();
    }
    const what = side === 'fabric' ? "3 of Fabric's orderers" : '3 of ours (bin/orderer.js start)';
    options.log(
      `  ${what}: pids ${nodes.map((n) => n.spawned.child.pid).join(', ')}, load to node 0 at ${nodes[0]!.address}, channel ${RAFT_CHANNEL}, data in ${dir}`,
    );
    return {
      side,
      pids: nodes.map((n) => n.spawned.child.pid!),
      address: nodes[0]!.address,
      channel: RAFT_CHANNEL,
      describe: what,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The TLS CA the load generator trusts: orderer0's (every fixture orderer's TLS certificate shares it). */
export const raftTlsCaPem = (): Buffer => readFileSync(tlsFile(0, 'ca.crt'));
