// A real etcdraft cluster on loopback for process-level tests: N orderer processes, each ours
// (`bin/orderer.js start`) or Fabric's Go orderer, configured as /work/shared/tools/fabric-raft-cluster.sh
// does it (Fabric's sample orderer.yaml plus ORDERER_* overrides, TLS, a cluster listener of its own,
// channel participation, no system channel). The channel's genesis block is made by Fabric's own
// configtxgen from a configtx.yaml written here, and every node joins it through Fabric's osnadmin.
// Each node's cluster port sits behind a loopback TCP proxy (the consenters' Host/Port point at the
// proxies), so a test can cut a node off from the others and let it back. Every port is picked free.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type * as grpc from '@grpc/grpc-js';
import { common as hlCommon, type orderer as hlOrderer } from '@hyperledger/fabric-protos';
import { common } from '../../src/protos/index.js';
import { blockHeaderHash } from '../../src/protoutil/index.js';
import {
  CRYPTO,
  HeaderType,
  atomicBroadcastClient,
  deliver,
  loadIdentity,
  seekInfo,
  signedEnvelope,
  type TlsClientOptions,
} from './fabric-clients.js';
import { fabricBin, FABRIC_FIXTURES } from './fabric-fixtures.js';
import { issueCertificate } from '../../src/crypto/index.js';
import { ordererTlsCa } from './tls-material.js';
import { systemClock } from '../../src/clock.js';
import { lines, ordererBin, REPO_ROOT } from './orderer-process.js';
import { freePort } from './ports.js';
import { readChain, txIdsOfBlock, verifyChain } from './process-load.js';

export type OrdererImpl = 'ours' | 'go';

const ORDERER_ORG = join(CRYPTO, 'ordererOrganizations/example.com');
/** The fixtures hold TLS and MSP material for three orderers: a cluster starts with at most three (addNode makes more). */
const MAX_NODES = 3;

export interface RaftClusterOptions {
  /** Which orderer runs as node i. */
  impls: readonly OrdererImpl[];
  channelId?: string;
  /** Go duration strings, as in configtx.yaml. */
  tickInterval?: string;
  electionTick?: number;
  heartbeatTick?: number;
  batchTimeout?: string;
  maxMessageCount?: number;
  snapshotIntervalSize?: string;
  /** FABRIC_LOGGING_SPEC of every node. */
  logSpec?: string;
  /** More environment of every node (orderer.yaml overrides such as ORDERER_CONSENSUS_EVICTIONSUSPICION). */
  env?: Readonly<Record<string, string>>;
}

export interface NodePorts {
  /** Broadcast / Deliver (TLS). */
  readonly listen: number;
  /** The node's own cluster listener (orderer.Cluster/Step, mutual TLS). */
  readonly cluster: number;
  /** The proxy in front of the cluster listener: what the genesis block names as the consenter. */
  readonly proxy: number;
  /** Channel participation (plain HTTP). */
  readonly admin: number;
  /** /metrics, /healthz (plain HTTP). */
  readonly operations: number;
}

/** One node of the cluster: its ports and folders stay the same across kills and restarts. */
export class RaftClusterNode {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** Output of the current process only (leadership is read from it). */
  private current: string[] = [];
  /** Every line every process of this node wrote, prefixed by the process's start number. */
  readonly output: string[] = [];
  private starts = 0;

  constructor(
    readonly index: number,
    readonly impl: OrdererImpl,
    readonly ports: NodePorts,
    readonly dir: string,
    private readonly cluster: RaftCluster,
    /** The node's MSP and TLS folders (msp/, tls/server.crt, server.key, ca.crt). */
    private crypto: string,
  ) {}

  /** The node's MSP and TLS folders (msp/, tls/server.crt, server.key, ca.crt), as the next start uses them. */
  get cryptoDir(): string {
    return this.crypto;
  }

  /**
   * A new TLS certificate for this node (a new key pair, issued by the orderer org's TLS CA, in a
   * new folder of its own); the current process keeps the old one, the next start() uses the new.
   * Returns the new certificate (PEM), what a rotating config update names.
   */
  renewTlsCertificate(): Buffer {
    const generation = readdirSync(this.dir).filter((name) => name.startsWith('crypto')).length;
    this.crypto = issueNodeIdentity(join(this.dir, `crypto-${generation}`), this.index);
    return this.tlsCertificate;
  }

  get address(): string {
    return `127.0.0.1:${this.ports.listen}`;
  }

  /** The TLS certificate this node presents everywhere: its consenter identity. */
  get tlsCertificate(): Buffer {
    return readFileSync(join(this.cryptoDir, 'tls/server.crt'));
  }

  get tls(): TlsClientOptions {
    return { caPem: readFileSync(join(this.cryptoDir, 'tls/ca.crt')) };
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.running ? this.child!.pid : undefined;
  }

  /** The current process's output (since its start). */
  get currentOutput(): readonly string[] {
    return this.current;
  }

  /** Starts the orderer on this node's ports and folders; resolves once its admin port answers. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`node ${this.index} is already running`);
    const tlsFile = (name: string) => join(this.cryptoDir, 'tls', name);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      FABRIC_CFG_PATH: join(FABRIC_FIXTURES, 'sampleconfig'),
      FABRIC_LOGGING_SPEC: this.cluster.options.logSpec ?? 'info',
      ORDERER_GENERAL_LISTENADDRESS: '127.0.0.1',
      ORDERER_GENERAL_LISTENPORT: String(this.ports.listen),
      ORDERER_GENERAL_BOOTSTRAPMETHOD: 'none',
      ORDERER_GENERAL_LOCALMSPDIR: join(this.cryptoDir, 'msp'),
      ORDERER_GENERAL_LOCALMSPID: 'OrdererMSP',
      ORDERER_GENERAL_TLS_ENABLED: 'true',
      ORDERER_GENERAL_TLS_CERTIFICATE: tlsFile('server.crt'),
      ORDERER_GENERAL_TLS_PRIVATEKEY: tlsFile('server.key'),
      ORDERER_GENERAL_TLS_ROOTCAS: `[${tlsFile('ca.crt')}]`,
      ORDERER_GENERAL_CLUSTER_LISTENADDRESS: '127.0.0.1',
      ORDERER_GENERAL_CLUSTER_LISTENPORT: String(this.ports.cluster),
      ORDERER_GENERAL_CLUSTER_SERVERCERTIFICATE: tlsFile('server.crt'),
      ORDERER_GENERAL_CLUSTER_SERVERPRIVATEKEY: tlsFile('server.key'),
      ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE: tlsFile('server.crt'),
      ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY: tlsFile('server.key'),
      ORDERER_GENERAL_CLUSTER_ROOTCAS: `[${tlsFile('ca.crt')}]`,
      ORDERER_FILELEDGER_LOCATION: join(this.dir, 'ledger'),
      ORDERER_CONSENSUS_WALDIR: join(this.dir, 'etcdraft/wal'),
      ORDERER_CONSENSUS_SNAPDIR: join(this.dir, 'etcdraft/snapshot'),
      ORDERER_CHANNELPARTICIPATION_ENABLED: 'true',
      ORDERER_ADMIN_LISTENADDRESS: `127.0.0.1:${this.ports.admin}`,
      ORDERER_ADMIN_TLS_ENABLED: 'false',
      ORDERER_OPERATIONS_LISTENADDRESS: `127.0.0.1:${this.ports.operations}`,
      ORDERER_METRICS_PROVIDER: 'prometheus',
      ...this.cluster.options.env,
    };
    const [command, args] =
      this.impl === 'ours'
        ? [process.execPath, [(await ordererBin()).bin, 'start']]
        : [fabricBin('orderer'), ['start']];
    const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.cluster.live.add(child);
    const start = ++this.starts;
    this.current = [];
    const logFile = join(this.dir, 'orderer.log');
    const onLine = (line: string) => {
      this.current.push(line);
      this.output.push(`[start ${start}] ${line}`);
      appendFileSync(logFile, `${line}\n`);
    };
    lines(child.stdout!, onLine);
    lines(child.stderr!, onLine);
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        this.cluster.live.delete(child);
        resolve();
      }),
    );
    await waitFor(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`node ${this.index} (${this.impl}) exited on start:\n${this.tail()}`);
        }
        return (
          (await httpGet(this.ports.admin, '/participation/v1/channels').catch(() => undefined)) !== undefined
        );
      },
      {
        timeoutMs: 30_000,
        what: () => `node ${this.index} (${this.impl}) admin port to answer:\n${this.tail()}`,
      },
    );
  }

  /** SIGKILL (no shutdown code runs), then waits for the process to be gone. */
  async kill(): Promise<void> {
    if (this.child && this.running) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** kill -9, then start again on the same ledger and WAL. */
  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  /** `osnadmin channel join` with the cluster's genesis block (or another config block); returns osnadmin's output. */
  async join(configBlockFile = this.cluster.genesisFile): Promise<string> {
    const { stdout, stderr } = await promisify(execFile)(fabricBin('osnadmin'), [
      'channel',
      'join',
      '--channelID',
      this.cluster.channelId,
      '--config-block',
      configBlockFile,
      '-o',
      `127.0.0.1:${this.ports.admin}`,
    ]);
    const out = `${stdout}${stderr}`;
    if (!/Status: 201/.test(out)) throw new Error(`node ${this.index}: osnadmin join answered:\n${out}`);
    return out;
  }

  /** The channel as the node's participation API reports it (name, consensusRelation, status, height). */
  async channelInfo(): Promise<{ consensusRelation: string; status: string; height: number } | undefined> {
    const body = await httpGet(
      this.ports.admin,
      `/participation/v1/channels/${this.cluster.channelId}`,
    ).catch(() => undefined);
    if (!body) return undefined;
    try {
      return JSON.parse(body) as { consensusRelation: string; status: string; height: number };
    } catch {
      return undefined;
    }
  }

  /**
   * Whether this node is the channel's Raft leader: consensus_etcdraft_is_leader from its /metrics
   * when it reports one for the channel, else the last Raft role change in its log ("became leader
   * at term N", written by etcd's Raft and by ours alike).
   */
  async isLeader(): Promise<boolean> {
    if (!this.running) return false;
    const gauge = await this.channelMetric('consensus_etcdraft_is_leader');
    if (gauge !== undefined) return gauge === 1;
    return this.lastRaftRole()?.role === 'leader';
  }

  /** A per-channel gauge of the cluster's channel from this node's /metrics; undefined when it has none. */
  async channelMetric(name: string): Promise<number | undefined> {
    if (!this.running) return undefined;
    const metrics = await httpGet(this.ports.operations, '/metrics').catch(() => undefined);
    const sample = metrics
      ? new RegExp(`^${name}\\{channel="${this.cluster.channelId}"\\} (\\S+)$`, 'm').exec(metrics)
      : null;
    return sample ? Number(sample[1]) : undefined;
  }

  /** The last "became <role> at term N" line of the current process, if any. */
  lastRaftRole(): { role: string; term: number } | undefined {
    for (let i = this.current.length - 1; i >= 0; i--) {
      const found = /became (leader|follower|candidate|pre-candidate) at term (\d+)/.exec(this.current[i]!);
      if (found) return { role: found[1]!, term: Number(found[2]) };
    }
    return undefined;
  }

  /**
   * Every block of the channel from this node (Deliver, oldest to newest, over TLS). STRICT by
   * default, so a node that knows no leader refuses (503) as Fabric's does; bestEffort reads what
   * the node has regardless, as a node cut off from the others still serves its own ledger.
   */
  async blocks(options: { bestEffort?: boolean } = {}): Promise<Buffer[]> {
    const client = atomicBroadcastClient(this.address, this.tls);
    try {
      const result = options.bestEffort
        ? await deliver(
            client,
            signedEnvelope(this.cluster.reader, {
              type: HeaderType.DELIVER_SEEK_INFO,
              channelId: this.cluster.channelId,
              data: seekInfo('oldest', 'newest', 'block', 'bestEffort'),
            }),
          )
        : await readChain(client, this.cluster.reader, this.cluster.channelId);
      if (result.status !== 200) {
        throw new Error(
          `node ${this.index}: Deliver answered ${result.status}${result.error ? ` (${result.error.message})` : ''}`,
        );
      }
      return result.blockBytes;
    } finally {
      client.close();
    }
  }

  /** The last lines of every process of this node, for failure messages. */
  tail(count = 40): string {
    return this.output.slice(-count).join('\n');
  }
}

/** N orderers, their proxies and the channel's genesis block, under one temporary folder. */
export class RaftCluster {
  readonly nodes: RaftClusterNode[] = [];
  readonly root: string;
  readonly channelId: string;
  readonly genesisFile: string;
  /** Every orderer process running now, so close() leaves none behind. */
  readonly live = new Set<ChildProcess>();
  /** The identity that writes and reads the channel's transactions. */
  readonly writer = loadIdentity('org1User');
  readonly reader = this.writer;
  private readonly proxies: ClusterProxy[] = [];

  private constructor(readonly options: RaftClusterOptions) {
    if (options.impls.length < 1 || options.impls.length > MAX_NODES) {
      throw new Error(`a cluster has 1 to ${MAX_NODES} nodes (the fixtures' orderer identities)`);
    }
    this.root = mkdtempSync(join(tmpdir(), 'raft-cluster-'));
    this.channelId = options.channelId ?? 'appraft';
    this.genesisFile = join(this.root, `${this.channelId}.block`);
  }

  /** Allocates ports, starts the proxies and makes the genesis block; starts no orderer. */
  static async create(options: RaftClusterOptions): Promise<RaftCluster> {
    const cluster = new RaftCluster(options);
    try {
      for (const [index, impl] of options.impls.entries()) {
        const ports = await allocatePorts();
        const dir = join(cluster.root, `o${index}`);
        mkdirSync(dir, { recursive: true });
        const cryptoDir = join(ORDERER_ORG, 'orderers', `orderer${index}.example.com`);
        cluster.nodes.push(new RaftClusterNode(index, impl, ports, dir, cluster, cryptoDir));
      }
      for (const node of cluster.nodes) await cluster.startProxy(node);
      await cluster.makeGenesis();
      return cluster;
    } catch (err) {
      await cluster.close();
      throw err;
    }
  }

  /**
   * A new node, not in the channel's config and not started: its own TLS certificate issued by the
   * orderer org's TLS CA (so the others' cluster listeners trust it once it is a consenter), and
   * orderer0's MSP folder as its signing identity (any OrdererMSP member satisfies BlockValidation).
   */
  async addNode(impl: OrdererImpl): Promise<RaftClusterNode> {
    const index = this.nodes.length;
    const ports = await allocatePorts();
    const dir = join(this.root, `o${index}`);
    const cryptoDir = issueNodeIdentity(join(dir, 'crypto'), index);
    const node = new RaftClusterNode(index, impl, ports, dir, this, cryptoDir);
    this.nodes.push(node);
    await this.startProxy(node);
    return node;
  }

  private async startProxy(node: RaftClusterNode): Promise<void> {
    const proxy = new ClusterProxy(node.ports.proxy, node.ports.cluster, () => this.nodes);
    await proxy.listen();
    this.proxies.push(proxy);
  }

  /** The channel's genesis block as configtxgen wrote it. */
  get genesisBlock(): Buffer {
    return readFileSync(this.genesisFile);
  }

  /** ElectionTick × TickInterval in milliseconds. */
  get electionTimeoutMs(): number {
    return (this.options.electionTick ?? 10) * goDurationMs(this.options.tickInterval ?? '100ms');
  }

  /** Starts every node and joins each to the channel with osnadmin. */
  async startAndJoin(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.start()));
    for (const node of this.nodes) await node.join();
  }

  /** Starts every node that is not running (same ledgers and WALs), e.g. after a failed case. */
  async startStopped(): Promise<void> {
    await Promise.all(this.nodes.filter((n) => !n.running).map((n) => n.start()));
  }

  /** Lets every cut-off node back. */
  restoreAll(): void {
    for (const node of this.nodes) this.restore(node.index);
  }

  /**
   * Cuts node i off: its proxy drops every connection and refuses new ones, and every other proxy
   * does the same to connections that come from node i's process.
   */
  isolate(index: number): void {
    for (const [i, proxy] of this.proxies.entries()) {
      if (i === index) proxy.cutAll();
      else proxy.cutFrom(index);
    }
  }

  /** Undoes isolate(i). */
  restore(index: number): void {
    for (const [i, proxy] of this.proxies.entries()) {
      if (i === index) proxy.restoreAll();
      else proxy.restoreFrom(index);
    }
  }

  /** Waits until exactly one of the given (default: running) nodes is the leader; returns it. */
  /**
   * Kills the leader with -9 until a node that `wanted` accepts leads (at most `attempts` kills),
   * each killed node started again as a follower of whoever leads next; returns the leader then,
   * which the caller checks.
   */
  async killLeadersUntil(
    wanted: (leader: RaftClusterNode) => boolean,
    options: { attempts: number; timeoutMs?: number },
  ): Promise<RaftClusterNode> {
    const timeout = options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {};
    let leader = await this.waitForLeader(timeout);
    for (let attempt = 0; !wanted(leader) && attempt < options.attempts; attempt++) {
      await leader.kill();
      const survivors = this.nodes.filter((n) => n.running).map((n) => n.index);
      leader = await this.waitForLeader({ among: survivors, ...timeout });
      await this.startStopped();
    }
    return leader;
  }

  async waitForLeader(
    options: { among?: readonly number[]; timeoutMs?: number } = {},
  ): Promise<RaftClusterNode> {
    let leader: RaftClusterNode | undefined;
    await waitFor(
      async () => {
        const candidates = (options.among ?? this.nodes.map((n) => n.index))
          .map((i) => this.nodes[i]!)
          .filter((n) => n.running);
        const leaders: RaftClusterNode[] = [];
        for (const node of candidates) if (await node.isLeader()) leaders.push(node);
        // From logs, a deposed leader that has not heard of the new term yet still reads as leader:
        // only one whose term is the highest any running node has logged counts.
        const highestTerm = Math.max(
          0,
          ...this.nodes.filter((n) => n.running).map((n) => n.lastRaftRole()?.term ?? 0),
        );
        leaders.splice(
          0,
          leaders.length,
          ...leaders.filter((n) => {
            const role = n.lastRaftRole();
            return role === undefined || role.term >= highestTerm;
          }),
        );
        leader = leaders.length === 1 ? leaders[0] : undefined;
        return leader !== undefined;
      },
      { timeoutMs: options.timeoutMs ?? 30_000, intervalMs: 50, what: () => `a leader:\n${this.tails()}` },
    );
    return leader!;
  }

  /**
   * Broadcasts one probe envelope to the node until it is answered SUCCESS; returns the tx ID (so
   * the test counts it as acknowledged) and the answers before it.
   */
  async broadcastUntilSuccess(
    node: RaftClusterNode,
    options: { timeoutMs?: number; label?: string } = {},
  ): Promise<{ txId: string; refusals: { status: number; info: string }[] }> {
    const refusals: { status: number; info: string }[] = [];
    let txId = '';
    let attempt = 0;
    await waitFor(
      async () => {
        txId = `${options.label ?? 'probe'}-${node.index}-${attempt++}-${Date.now()}`;
        const response = await this.broadcastOne(node, txId);
        if (response.status === 200) return true;
        refusals.push(response);
        return false;
      },
      {
        timeoutMs: options.timeoutMs ?? 30_000,
        intervalMs: 50,
        what: () => `node ${node.index} to answer SUCCESS (last: ${JSON.stringify(refusals.at(-1))})`,
      },
    );
    return { txId, refusals };
  }

  /**
   * Probes every given node at once, each with one envelope after another (its own tx ID each,
   * attemptTimeoutMs per answer), until one answers SUCCESS: which node, its tx ID (acknowledged)
   * and every probe answered SUCCESS (other nodes' in flight may succeed too), and when (Date.now())
   * the first SUCCESS came. Rejects after timeoutMs.
   */
  async firstSuccess(
    nodes: readonly RaftClusterNode[],
    options: { timeoutMs: number; attemptTimeoutMs?: number; label: string },
  ): Promise<{ node: RaftClusterNode; txId: string; acked: string[]; answeredAt: number }> {
    const acked: string[] = [];
    const deadline = Date.now() + options.timeoutMs;
    let winner: { node: RaftClusterNode; txId: string; answeredAt: number } | undefined;
    let lastRefusal = '';
    await Promise.all(
      nodes.map(async (node) => {
        for (let attempt = 0; winner === undefined && Date.now() < deadline; attempt++) {
          const txId = `${options.label}-${node.index}-${attempt}`;
          const response = await this.broadcastOne(node, txId, options.attemptTimeoutMs ?? 500);
          if (response.status === 200) {
            winner ??= { node, txId, answeredAt: Date.now() };
            acked.push(txId);
            return;
          }
          lastRefusal = `node ${node.index}: ${response.status} ${response.info}`;
          await sleep(20);
        }
      }),
    );
    if (!winner) {
      throw new Error(
        `no node answered SUCCESS within ${options.timeoutMs} ms (last: ${lastRefusal})\n${this.tails()}`,
      );
    }
    return { ...winner, acked };
  }

  /** One envelope on a fresh Broadcast stream: its answer, or status 0 with the stream's error. */
  async broadcastOne(
    node: RaftClusterNode,
    txId: string,
    timeoutMs = 5_000,
  ): Promise<{ status: number; info: string }> {
    const client = atomicBroadcastClient(node.address, node.tls);
    try {
      return await new Promise((resolve) => {
        const stream = client.broadcast();
        const timer = setTimeout(() => {
          stream.cancel();
          resolve({ status: 0, info: `no answer within ${timeoutMs} ms` });
        }, timeoutMs);
        stream.on('data', (r: hlOrderer.BroadcastResponse) => {
          clearTimeout(timer);
          resolve({ status: r.getStatus(), info: r.getInfo() });
          stream.end();
        });
        stream.on('error', (err: grpc.ServiceError) => {
          clearTimeout(timer);
          resolve({ status: 0, info: err.message });
        });
        stream.write(hlCommon.Envelope.deserializeBinary(this.envelope(txId)));
      });
    } finally {
      client.close();
    }
  }

  /** A signed endorser transaction envelope of the channel with the given tx ID. */
  envelope(txId: string, dataBytes = 200): Buffer {
    return signedEnvelope(this.writer, { channelId: this.channelId, txId, data: Buffer.alloc(dataBytes, 7) });
  }

  /** Broadcast load over TLS through the given nodes; see BroadcastLoad. */
  startLoad(options: Omit<BroadcastLoadOptions, 'cluster'>): BroadcastLoad {
    return new BroadcastLoad({ ...options, cluster: this });
  }

  /**
   * Waits until every given (default: running) node's chain holds every acknowledged tx ID, then
   * checks them as a peer would: each chain verifies (numbers, hash chain, data hashes, orderer
   * signatures under BlockValidation), all chains are identical (header hashes), no tx ID appears
   * twice, and every acknowledged one appears. Returns the common chain.
   */
  async verifyLedgers(
    acked: ReadonlySet<string>,
    options: { nodes?: readonly number[]; timeoutMs?: number } = {},
  ): Promise<Buffer[]> {
    const nodes = (options.nodes ?? this.nodes.filter((n) => n.running).map((n) => n.index)).map(
      (i) => this.nodes[i]!,
    );
    const chains = new Map<number, Buffer[]>();
    let lastError = '';
    const missingOf = (blocks: readonly Buffer[]) => {
      const present = new Set(blocks.slice(1).flatMap((b) => txIdsOfBlock(b)));
      return [...acked].filter((id) => !present.has(id));
    };
    await waitFor(
      async () => {
        // A node without a leader yet refuses STRICT Deliver (503), as Fabric's does: ask again.
        for (const node of nodes) {
          try {
            chains.set(node.index, await node.blocks());
          } catch (err) {
            lastError = `node ${node.index}: ${(err as Error).message}`;
            return false;
          }
        }
        const heights = [...chains.values()].map((c) => c.length);
        return (
          [...chains.values()].every((c) => missingOf(c).length === 0) &&
          heights.every((h) => h === heights[0])
        );
      },
      {
        timeoutMs: options.timeoutMs ?? 30_000,
        intervalMs: 250,
        what: () =>
          `every node to hold every acknowledged envelope at the same height: ${[...chains.entries()]
            .map(([i, c]) => `node ${i} height ${c.length}, ${missingOf(c).length} acknowledged missing`)
            .join('; ')}${lastError ? ` (last Deliver error: ${lastError})` : ''}\n${this.tails()}`,
      },
    );
    const reference = chains.get(nodes[0]!.index)!;
    for (const [index, chain] of chains) {
      await verifyChain(this.channelId, chain).catch((err: Error) => {
        throw new Error(`node ${index}'s chain does not verify: ${err.message}`);
      });
      const hashes = headerHashes(chain);
      const expected = headerHashes(reference);
      const differs = hashes.findIndex((h, i) => h !== expected[i]);
      if (differs >= 0) {
        throw new Error(`node ${index}'s block ${differs} differs from node ${nodes[0]!.index}'s`);
      }
    }
    // CONFIG envelopes the orderer makes (one per config update) carry no tx ID.
    const ids = reference
      .slice(1)
      .flatMap((b) => txIdsOfBlock(b))
      .filter((id) => id !== '');
    const seen = new Set<string>();
    const twice = ids.filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
    if (twice.length > 0) throw new Error(`tx IDs ordered twice: ${twice.slice(0, 10).join(', ')}`);
    return reference;
  }

  /** The last log lines of every node. */
  tails(count = 15): string {
    return this.nodes.map((n) => `--- node ${n.index} (${n.impl})\n${n.tail(count)}`).join('\n');
  }

  /** Kills every orderer, closes the proxies and deletes the folder (unless keepDir). */
  async close(
    options: { keepDir?: boolean } = { keepDir: process.env.RAFT_CLUSTER_KEEP === '1' },
  ): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.kill()));
    for (const child of this.live) child.kill('SIGKILL');
    await Promise.all(this.proxies.map((proxy) => proxy.close()));
    if (!options.keepDir) rmSync(this.root, { recursive: true, force: true });
  }

  private async makeGenesis(): Promise<void> {
    const o = this.options;
    const orgs = ORDERER_ORG;
    const peerOrg = (n: number) => join(CRYPTO, `peerOrganizations/org${n}.example.com/msp`);
    const consenters = this.nodes
      .map((node) => {
        const cert = join(node.cryptoDir, 'tls/server.crt');
        return `          - {Host: 127.0.0.1, Port: ${node.ports.proxy}, ClientTLSCert: ${cert}, ServerTLSCert: ${cert}}`;
      })
      .join('\n');
    const endpoints = this.nodes.map((n) => `"${n.address}"`).join(', ');
    const appOrg = (n: number) => `  - &Org${n}
    Name: Org${n}MSP
    ID: Org${n}MSP
    MSPDir: ${peerOrg(n)}
    Policies:
      Readers: {Type: Signature, Rule: "OR('Org${n}MSP.admin', 'Org${n}MSP.peer', 'Org${n}MSP.client')"}
      Writers: {Type: Signature, Rule: "OR('Org${n}MSP.admin', 'Org${n}MSP.client')"}
      Admins: {Type: Signature, Rule: "OR('Org${n}MSP.admin')"}
      Endorsement: {Type: Signature, Rule: "OR('Org${n}MSP.peer')"}
`;
    const yaml = `Organizations:
  - &OrdererOrg
    Name: OrdererOrg
    ID: OrdererMSP
    MSPDir: ${orgs}/msp
    Policies:
      Readers: {Type: Signature, Rule: "OR('OrdererMSP.member')"}
      Writers: {Type: Signature, Rule: "OR('OrdererMSP.member')"}
      Admins: {Type: Signature, Rule: "OR('OrdererMSP.admin')"}
    OrdererEndpoints: [${endpoints}]
${appOrg(1)}${appOrg(2)}Profiles:
  AppRaft:
    Policies:
      Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
      Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
      Admins: {Type: ImplicitMeta, Rule: "MAJORITY Admins"}
    Capabilities: {V2_0: true}
    Orderer:
      OrdererType: etcdraft
      BatchTimeout: ${o.batchTimeout ?? '200ms'}
      BatchSize: {MaxMessageCount: ${o.maxMessageCount ?? 50}, AbsoluteMaxBytes: 10 MB, PreferredMaxBytes: 2 MB}
      EtcdRaft:
        Options: {TickInterval: ${o.tickInterval ?? '100ms'}, ElectionTick: ${o.electionTick ?? 10}, HeartbeatTick: ${o.heartbeatTick ?? 1}, MaxInflightBlocks: 5, SnapshotIntervalSize: ${o.snapshotIntervalSize ?? '16 MB'}}
        Consenters:
${consenters}
      Organizations: [*OrdererOrg]
      Capabilities: {V2_0: true}
      Policies:
        Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
        Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
        Admins: {Type: ImplicitMeta, Rule: "MAJORITY Admins"}
        BlockValidation: {Type: ImplicitMeta, Rule: "ANY Writers"}
    Application:
      Organizations: [*Org1, *Org2]
      Capabilities: {V2_5: true}
      Policies:
        Readers: {Type: ImplicitMeta, Rule: "ANY Readers"}
        Writers: {Type: ImplicitMeta, Rule: "ANY Writers"}
        Admins: {Type: ImplicitMeta, Rule: "MAJORITY Admins"}
        LifecycleEndorsement: {Type: ImplicitMeta, Rule: "MAJORITY Endorsement"}
        Endorsement: {Type: ImplicitMeta, Rule: "MAJORITY Endorsement"}
`;
    writeFileSync(join(this.root, 'configtx.yaml'), yaml);
    await promisify(execFile)(
      fabricBin('configtxgen'),
      ['-profile', 'AppRaft', '-channelID', this.channelId, '-outputBlock', this.genesisFile],
      { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', FABRIC_CFG_PATH: this.root } },
    );
  }
}

/**
 * Load through `targets` while `during` runs: at least `before` envelopes acknowledged first
 * (default 100) and `afterwards` more after it (default 100); the load then stops, and every
 * envelope it got acknowledged is added to `acked`. The load is also pushed to `loads` (if given),
 * for a test's `after` to stop should this fail half-way.
 */
export async function underLoad<T>(
  cluster: RaftCluster,
  acked: Set<string>,
  options: {
    targets: readonly number[];
    label: string;
    before?: number;
    afterwards?: number;
    window?: number;
    timeoutMs?: number;
    loads?: BroadcastLoad[];
  },
  during: (load: BroadcastLoad) => Promise<T>,
): Promise<T> {
  const load = cluster.startLoad({
    targets: options.targets,
    window: options.window ?? 8,
    label: options.label,
  });
  options.loads?.push(load);
  const timeoutMs = options.timeoutMs ?? 60_000;
  try {
    await load.ackedAtLeast(options.before ?? 100, timeoutMs);
    const result = await during(load);
    await load.ackedAtLeast(load.acked.size + (options.afterwards ?? 100), timeoutMs);
    return result;
  } finally {
    await load.stop();
    for (const id of load.acked) acked.add(id);
  }
}

export interface BroadcastLoadOptions {
  cluster: RaftCluster;
  /** Nodes to send through, one stream per entry (repeat an index for several streams to it). */
  targets: readonly number[];
  /** Envelopes in flight per stream. */
  window?: number;
  /** Stop sending after this many envelopes in all (default: until stop()). */
  total?: number;
  /** Prefix of the tx IDs, unique per load. */
  label: string;
}

/**
 * Broadcast load over TLS: one stream per target, each keeping up to `window` envelopes in flight,
 * every envelope with its own tx ID. A response is matched to its envelope by order (Broadcast
 * answers in order on a stream). A stream that fails (its node killed) is reopened to the same node
 * every 200 ms until stop(); the envelopes in flight on it count as neither acknowledged nor refused.
 * A refusal (no leader) pauses that stream for 100 ms, so a leaderless cluster is not flooded.
 */
export class BroadcastLoad {
  /** Every tx ID written to a stream. */
  readonly sent = new Set<string>();
  /** tx IDs answered SUCCESS. */
  readonly acked = new Set<string>();
  /** Refusals by status, with the last info of each. */
  readonly refused = new Map<number, { count: number; info: string }>();
  /** Stream failures (gRPC errors), newest last. */
  readonly streamErrors: string[] = [];
  private stopping = false;
  private seq = 0;
  private readonly runs: Promise<void>[];

  constructor(private readonly options: BroadcastLoadOptions) {
    this.runs = options.targets.map((target, streamIndex) => this.run(target, streamIndex));
  }

  /** Waits (bounded) until at least `count` envelopes are acknowledged. */
  async ackedAtLeast(count: number, timeoutMs = 30_000): Promise<void> {
    await waitFor(async () => this.acked.size >= count, {
      timeoutMs,
      intervalMs: 20,
      what: () => `${count} acknowledged envelopes (have ${this.acked.size}; ${this.describe()})`,
    });
  }

  /** Stops sending and waits for the streams to drain (bounded). */
  async stop(timeoutMs = 30_000): Promise<void> {
    this.stopping = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.runs),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`load streams did not end: ${this.describe()}`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }

  describe(): string {
    const refused = [...this.refused.entries()].map(([s, r]) => `${r.count}x ${s} (${r.info})`).join(', ');
    return `sent ${this.sent.size}, acked ${this.acked.size}, refused: ${refused || 'none'}, stream errors: ${this.streamErrors.length}${this.streamErrors.length ? ` (last: ${this.streamErrors.at(-1)})` : ''}`;
  }

  private done(): boolean {
    return this.stopping || (this.options.total !== undefined && this.seq >= this.options.total);
  }

  private async run(target: number, streamIndex: number): Promise<void> {
    const node = this.options.cluster.nodes[target]!;
    while (!this.done()) {
      if (!node.running) {
        await sleep(200);
        continue;
      }
      await this.runStream(node, streamIndex);
      if (!this.done()) await sleep(200);
    }
  }

  /** One stream's life: resolves when it ends (drained after stop, or failed). */
  private runStream(node: RaftClusterNode, streamIndex: number): Promise<void> {
    const client = atomicBroadcastClient(node.address, node.tls);
    const window = this.options.window ?? 10;
    return new Promise<void>((resolve) => {
      const stream = client.broadcast();
      const inFlight: string[] = [];
      let paused = false;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        client.close();
        resolve();
      };
      const fill = () => {
        while (!paused && !this.done() && inFlight.length < window) {
          const txId = `${this.options.label}-${streamIndex}-${this.seq++}`;
          inFlight.push(txId);
          this.sent.add(txId);
          stream.write(hlCommon.Envelope.deserializeBinary(this.options.cluster.envelope(txId)));
        }
        if (this.done() && inFlight.length === 0) stream.end();
      };
      stream.on('data', (response: hlOrderer.BroadcastResponse) => {
        const txId = inFlight.shift();
        if (txId === undefined) return;
        const status = response.getStatus();
        if (status === 200) {
          this.acked.add(txId);
        } else {
          const seen = this.refused.get(status);
          this.refused.set(status, { count: (seen?.count ?? 0) + 1, info: response.getInfo() });
          if (!paused) {
            paused = true;
            setTimeout(() => {
              paused = false;
              if (!finished) fill();
            }, 100);
          }
        }
        fill();
      });
      stream.on('error', (err: grpc.ServiceError) => {
        this.streamErrors.push(`node ${node.index}: ${err.code} ${err.message}`);
        finish();
      });
      stream.on('end', finish);
      fill();
    });
  }
}

interface ProxiedConnection {
  readonly client: Socket;
  readonly upstream: Socket;
  /** The node whose process opened it, when found. */
  readonly from: number | undefined;
}

/**
 * A loopback TCP proxy in front of one node's cluster listener. The bytes pass through untouched
 * (mutual TLS runs end to end). cutAll() drops every connection and refuses new ones; cutFrom(i)
 * does so only for connections whose client socket belongs to node i's process, found through
 * /proc (Linux): the client end's local port is in /proc/net/tcp, and its inode among the pid's fds.
 */
class ClusterProxy {
  private readonly server: Server;
  private readonly connections = new Set<ProxiedConnection>();
  private allCut = false;
  private readonly cutSources = new Set<number>();

  constructor(
    private readonly port: number,
    private readonly targetPort: number,
    private readonly nodes: () => readonly RaftClusterNode[],
  ) {
    this.server = createServer({ pauseOnConnect: true }, (client) => this.accept(client));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  cutAll(): void {
    this.allCut = true;
    for (const connection of this.connections) this.drop(connection);
  }

  restoreAll(): void {
    this.allCut = false;
  }

  cutFrom(index: number): void {
    this.cutSources.add(index);
    for (const connection of this.connections) if (connection.from === index) this.drop(connection);
  }

  restoreFrom(index: number): void {
    this.cutSources.delete(index);
  }

  close(): Promise<void> {
    for (const connection of this.connections) this.drop(connection);
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const from = this.sourceNode(client.remotePort);
    if (this.allCut || (from !== undefined && this.cutSources.has(from))) {
      client.destroy();
      return;
    }
    const upstream = createConnection(this.targetPort, '127.0.0.1');
    const connection: ProxiedConnection = { client, upstream, from };
    this.connections.add(connection);
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = () => this.drop(connection);
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.resume();
  }

  private drop(connection: ProxiedConnection): void {
    this.connections.delete(connection);
    connection.client.destroy();
    connection.upstream.destroy();
  }

  /** Which node's process holds the client end of a loopback connection from `port`. */
  private sourceNode(port: number | undefined): number | undefined {
    if (port === undefined) return undefined;
    const inode = socketInode(port);
    if (inode === undefined) return undefined;
    return this.nodes().find((node) => node.pid !== undefined && holdsSocket(node.pid, inode))?.index;
  }
}

/** The inode of the loopback TCP socket whose local port is `port` (/proc/net/tcp, IPv4 and v6). */
function socketInode(port: number): string | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      if (fields[1]!.endsWith(`:${hexPort}`)) return fields[9];
    }
  }
  return undefined;
}

/** Whether process `pid` holds socket:[inode] among its file descriptors. */
function holdsSocket(pid: number, inode: string): boolean {
  const wanted = `socket:[${inode}]`;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  return fds.some((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === wanted;
    } catch {
      return false; // The fd closed meanwhile.
    }
  });
}

/** The five ports of a node, each reserved for this process (ports.ts). */
async function allocatePorts(): Promise<NodePorts> {
  return {
    listen: await freePort(),
    cluster: await freePort(),
    proxy: await freePort(),
    admin: await freePort(),
    operations: await freePort(),
  };
}

/**
 * Writes an orderer's MSP and TLS folders under `cryptoDir`: a fresh TLS key pair and certificate
 * issued by the orderer org's TLS CA (so every consenter's cluster listener trusts it), and
 * orderer0's MSP folder as its signing identity (any OrdererMSP member satisfies BlockValidation).
 */
function issueNodeIdentity(cryptoDir: string, index: number): string {
  mkdirSync(join(cryptoDir, 'tls'), { recursive: true });
  cpSync(join(ORDERER_ORG, 'orderers/orderer0.example.com/msp'), join(cryptoDir, 'msp'), {
    recursive: true,
    dereference: true,
  });
  const tlsCa = ordererTlsCa();
  const hostName = `orderer${index}.example.com`;
  const leaf = issueCertificate(tlsCa, {
    clock: systemClock,
    commonName: hostName,
    tls: true,
    hosts: [hostName, 'localhost', '127.0.0.1'],
  });
  writeFileSync(join(cryptoDir, 'tls/server.crt'), leaf.certPem);
  writeFileSync(join(cryptoDir, 'tls/server.key'), leaf.keyPem, { mode: 0o600 });
  writeFileSync(join(cryptoDir, 'tls/ca.crt'), tlsCa.certPem);
  return cryptoDir;
}

export function headerHashes(blocks: readonly Buffer[]): string[] {
  return blocks.map((bytes) => blockHeaderHash(common.Block.decode(bytes).header!).toString('hex'));
}

/** Polls `check` every intervalMs until it returns true; throws naming `what` after timeoutMs. */
export async function waitFor(
  check: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; what: () => string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what()}`);
    await sleep(options.intervalMs ?? 100);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A Go duration such as "100ms", "2s" or "1m30s" in milliseconds. */
export function goDurationMs(duration: string): number {
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  let total = 0;
  for (const [, value, unit] of duration.matchAll(/([\d.]+)(ns|us|µs|ms|s|m|h)/g))
    total += Number(value) * units[unit!]!;
  return total;
}

function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 2_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString()));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
