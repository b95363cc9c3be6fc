// The composition root: local config -> identity -> operations server -> gRPC and admin listeners
// (bound, their calls held at the start-up gate) -> ledger -> consenters -> registrar and channels
// -> gate opened. Everything is built here and passed down; everything started is registered in a
// closer stack, so a start that fails part-way closes it all again and stop() closes it in order.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { common } from '../protos/index.js';
import { OrdererError, errorMessage, unavailable } from '../errors.js';
import type { Clock } from '../clock.js';
import { LOGGER_NAMES, LoggingSystem, type Logger } from '../logging.js';
import { createMetricsProvider, OrdererMetrics } from '../metrics/index.js';
import {
  OperationsServer,
  chainHealthCheck,
  etcdraftLeaderCheck,
  ledgerWritableCheck,
} from '../operations/index.js';
import { versionInfo } from '../version.js';
import {
  AdminServer,
  adminServerOptions,
  type ChannelParticipationRegistrar,
} from '../participation/index.js';
import type { LocalConfig } from '../config/index.js';
import { loadLocalMsp, mspFromConfig, ChannelMspManager } from '../msp/index.js';
import { VerifyWorkerPool, type AsyncSignatureVerifier } from '../crypto/index.js';
import {
  buildBundle,
  createChannelConfig,
  readConfigBlock,
  proposeConfigUpdate,
  type BundleDependencies,
} from '../channelconfig/index.js';
import { FileLedgerFactory } from '../ledger/index.js';
import { BlockCutter } from '../blockcutter/index.js';
import { SoloConsenter } from '../consensus/solo/index.js';
import { KafkaConsenter, kafkaConsenterOptions } from '../consensus/kafka/index.js';
import { clusterServiceDefinition } from '../cluster/service.js';
import type { ClusterServer } from '../cluster/server.js';
import { clusterServerFor, clusterTlsSetup, createCluster } from './cluster-setup.js';
import { Registrar, type ChannelResources, type ConsenterRegistration } from '../multichannel/index.js';
import type { DeliverChain } from '../deliver/index.js';
import { CertificateExpiryCache } from '../msgprocessor/index.js';
import { AtomicBroadcastServer, type TlsMaterial } from './grpc.js';
import { CloserStack, once } from './closers.js';
import { listenProblem, listenRemedy, parseListenAddress } from './listen.js';
import { StartupError, envVariableOf, fileProblem, readSettingFile } from './startupError.js';
import { logConfiguration } from './startupLog.js';
import {
  GatedBroadcastHandler,
  GatedDeliverHandler,
  StartupGate,
  holdInfoUntilStarted,
} from './startupGate.js';
import type { SigningIdentity } from '../msp/types.js';

export interface OrdererDeps {
  /**
   * The logging system (FABRIC_LOGGING_SPEC levels, PUT /logspec). Default: the system `logger`
   * comes from (LoggingSystem.of), else one from the environment.
   */
  logging?: LoggingSystem;
  /**
   * The orderer's root logger; every component logger is a child of it named as Fabric names it
   * (LOGGER_NAMES), so it should come from `logging`. Tests pass a silent one. Default:
   * logging.logger('orderer.common.server').
   */
  logger?: Logger;
  clock: Clock;
}

export interface RunningOrderer {
  readonly registrar: Registrar;
  readonly signer: SigningIdentity;
  /** host:port the AtomicBroadcast service listens on. */
  readonly address: string;
  readonly port: number;
  /** Port of the operations server (health, metrics, logspec, version). */
  readonly operationsPort: number;
  /** Port of the admin server (channel participation API), when Admin.ListenAddress is set. */
  readonly adminPort: number | undefined;
  readonly metrics: OrdererMetrics;
  stop(): Promise<void>;
}

/** The channel-config layer as the registrar sees it, built on the MSP and policy implementations. */
export function channelResources(options: { verifyAsync?: AsyncSignatureVerifier } = {}): ChannelResources {
  const mspOptions = options.verifyAsync ? { verifyAsync: options.verifyAsync } : {};
  const bundleDeps: BundleDependencies = {
    createMsp: (mspConfig) => mspFromConfig(mspConfig, mspOptions),
    createMspManager: (channelId, msps) => new ChannelMspManager({ channelId }, { msps }),
  };
  const createBundle = (channelId: string, config: common.IConfig) =>
    buildBundle(channelId, config, bundleDeps);
  return {
    createBundle,
    async proposeConfigUpdate(current, update) {
      const result = await proposeConfigUpdate(current, update.raw);
      // The result must itself be a valid channel config (capabilities supported, values sane).
      createBundle(current.channelId, result.config ?? {});
      return result;
    },
    newChannelConfig(systemBundle, update) {
      return createChannelConfig(systemBundle.config, update.raw, {
        policyManagerFor: (channelId, config) => createBundle(channelId, config).policyManager,
      });
    },
  };
}

/** TLS root and intermediate CA certificates of every org of every channel, as PEM. */
function channelTlsCas(registrar: Registrar): Buffer[] {
  const pems: Buffer[] = [];
  for (const channelId of registrar.channelIds()) {
    const msps = registrar.getChain(channelId)?.bundle().mspManager.msps;
    for (const msp of msps?.values() ?? []) {
      for (const pem of [...msp.tlsRootCertsPem, ...msp.tlsIntermediateCertsPem]) pems.push(Buffer.from(pem));
    }
  }
  return pems;
}

function readTls(config: LocalConfig): TlsMaterial | undefined {
  const tls = config.general.tls;
  if (!tls.enabled) return undefined;
  const read = (path: string, setting: string) =>
    readSettingFile(
      path,
      setting,
      `point ${setting} (${envVariableOf(setting)}) at a PEM file this process can read, or set General.TLS.Enabled to false`,
    );
  return {
    certificatePem: read(tls.certificate, 'General.TLS.Certificate'),
    privateKeyPem: read(tls.privateKey, 'General.TLS.PrivateKey'),
    // Fabric trusts client certificates issued by ClientRootCAs and, as it does, the RootCAs too.
    clientRootCasPem: [
      ...tls.clientRootCAs.map((p) => read(p, 'General.TLS.ClientRootCAs')),
      ...tls.rootCAs.map((p) => read(p, 'General.TLS.RootCAs')),
    ],
    clientAuthRequired: tls.clientAuthRequired,
  };
}

/** The local MSP, or a StartupError naming General.LocalMSPDir (Fabric: "Failed to get local MSP identity"). */
function loadLocalMspSetting(general: LocalConfig['general'], clock: Clock) {
  const setting = 'General.LocalMSPDir';
  const remedy =
    "point General.LocalMSPDir (ORDERER_GENERAL_LOCALMSPDIR) at the orderer's MSP folder, which holds signcerts/ (its certificate), keystore/ (the matching private key) and cacerts/";
  const dir = general.localMSPDir;
  // Checked here first: the loader would report a missing folder as a missing signcerts/ inside it.
  if (!dir) throw new StartupError(setting, 'not set', remedy);
  if (!existsSync(dir)) throw new StartupError(setting, `the folder ${dir} does not exist`, remedy);
  try {
    return loadLocalMsp({ dir, mspId: general.localMSPID, clock });
  } catch (err) {
    throw new StartupError(
      setting,
      `cannot load the local MSP ${general.localMSPID}: ${errorMessage(err)}`,
      remedy,
      { cause: err },
    );
  }
}

const BOOTSTRAP_REMEDY =
  'point General.BootstrapFile (ORDERER_GENERAL_BOOTSTRAPFILE) at the system channel genesis block (block 0, as configtxgen writes it), or set General.BootstrapMethod to "none" and join channels through the channel participation API';

/**
 * General.BootstrapFile, read and checked before anything is written to the ledger: a file that
 * is not a usable genesis block must not leave a channel behind (the next start, finding a
 * non-empty ledger, would not look at the file again).
 */
function readBootstrapBlock(path: string, resources: ChannelResources): Buffer {
  const problem = (what: string, cause?: unknown) =>
    new StartupError('General.BootstrapFile', what, BOOTSTRAP_REMEDY, cause ? { cause } : undefined);
  if (!path) {
    throw problem(
      'not set, and the ledger is empty with General.BootstrapMethod "file", so there is no channel to start from',
    );
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw problem(`cannot read ${path} (${fileProblem(err)})`, err);
  }
  let block: common.Block;
  try {
    block = common.Block.decode(bytes);
  } catch (err) {
    throw problem(`${path} is not a block (${errorMessage(err)})`, err);
  }
  const number = Number(block.header?.number ?? 0);
  if (number !== 0) {
    throw problem(
      `${path} is block ${number}, not a genesis block; this orderer bootstraps from block 0 only`,
    );
  }
  try {
    const { channelId, configEnvelope } = readConfigBlock(block);
    resources.createBundle(channelId, configEnvelope.config!);
  } catch (err) {
    throw problem(`${path} is not a usable genesis block: ${errorMessage(err)}`, err);
  }
  return bytes;
}

/** A listener that failed to start, as a StartupError naming its setting and why (probed). */
async function listenFailure(
  setting: string,
  settings: string,
  address: { host: string | undefined; port: number },
  err: unknown,
): Promise<Error> {
  const shown = `${address.host ?? ''}:${address.port}`;
  const problem = await listenProblem(address.host, address.port);
  // The address is fine: the listener failed for its own reason (e.g. its TLS files), which an
  // OrdererError already explains.
  if (!problem && err instanceof OrdererError) return err;
  return new StartupError(
    setting,
    `cannot listen on ${shown}: ${problem?.reason ?? errorMessage(err)}`,
    listenRemedy(problem?.code, settings),
    { cause: err },
  );
}

export async function startOrderer(config: LocalConfig, deps: OrdererDeps): Promise<RunningOrderer> {
  const clock = deps.clock;
  const logging =
    deps.logging ??
    (deps.logger ? LoggingSystem.of(deps.logger) : undefined) ??
    LoggingSystem.fromEnvironment(process.env, { clock });
  const logger = deps.logger ?? logging.logger(LOGGER_NAMES.server);
  // Everything started from here on is closed, newest first, when start-up fails part-way (so the
  // process can exit: no listener, worker or open ledger keeps the event loop alive) and on stop().
  const resources = new CloserStack();
  try {
    return await startResources(config, { clock, logging, logger }, resources);
  } catch (err) {
    for (const failure of await resources.closeAll()) {
      logger.warn(
        { resource: failure.name, err: errorMessage(failure.error) },
        'closing after a failed start failed',
      );
    }
    throw err;
  }
}

async function startResources(
  config: LocalConfig,
  deps: { clock: Clock; logging: LoggingSystem; logger: Logger },
  resources: CloserStack,
): Promise<RunningOrderer> {
  const { clock, logging, logger } = deps;
  logConfiguration(logger, config);
  // A component's logger: a child named as Fabric names that component's logger, so specs such as
  // "info:orderer.consensus=debug" select it by prefix.
  const named = (name: string) => logger.child({ module: name });
  const general = config.general;

  // What needs no resource comes first, as in Fabric's Main (local MSP before anything listens):
  // a wrong file or folder is reported before a port is taken.
  const tls = readTls(config);
  const clusterTls = clusterTlsSetup(config, tls);
  const localMsp = loadLocalMspSetting(general, clock);
  const signer = localMsp.signer;
  logger.info({ mspId: signer.mspId, dir: general.localMSPDir }, 'loaded local MSP');

  // The operations server comes up next so that health and metrics are there while the ledger and
  // channels are being opened.
  const metricsProvider = createMetricsProvider({ provider: config.metrics.provider }, { logger });
  const metrics = new OrdererMetrics({ version: versionInfo().version }, { provider: metricsProvider });
  logging.observeEntries(metrics.loggingObserver());
  const reportParticipation = metrics.participationObserver();
  // Set once the registrar exists; until then there are no channels to report.
  const scrapeSource: { registrar?: Registrar } = {};
  const operations = new OperationsServer(
    { listenAddress: config.operations.listenAddress, tls: config.operations.tls },
    {
      logging,
      metrics: metricsProvider,
      // A chain that halts or fails changes its participation status without a lifecycle event.
      beforeScrape: () => {
        const source = scrapeSource.registrar;
        for (const channel of source?.channelIds() ?? []) {
          reportParticipation(channel, source!.channelInfo(channel));
        }
      },
      version: versionInfo(),
      logger: named(LOGGER_NAMES.operations),
      clock,
    },
  );
  resources.push('operations server', () => operations.stop());
  let operationsPort: number;
  try {
    operationsPort = await operations.start();
  } catch (err) {
    const address = parseListenAddress(config.operations.listenAddress, 'Operations.ListenAddress');
    throw await listenFailure(
      'Operations.ListenAddress',
      'Operations.ListenAddress (ORDERER_OPERATIONS_LISTENADDRESS)',
      address,
      err,
    );
  }

  // The gRPC listener is bound before any ledger or channel exists, as Fabric's Main listens
  // before it creates the ledger factory: a port in use stops start-up with nothing written.
  // Calls that arrive before the channels are open wait at the gate (see startupGate.ts).
  const gate = new StartupGate();
  // Their "listening" lines are held until start-up is done, in this order: the gRPC one last, as
  // the line that says the orderer serves.
  const adminLogger = holdInfoUntilStarted(named(LOGGER_NAMES.channelParticipation), gate);
  const grpcLogger = holdInfoUntilStarted(named(LOGGER_NAMES.grpc), gate);
  const serving: { registrar?: Registrar } = {};
  const ready = (): Registrar => {
    if (!serving.registrar) {
      throw unavailable(
        gate.isOpen
          ? 'the orderer did not start (see its log); retry once it has been restarted'
          : 'the orderer is still starting (opening its ledger and channels); retry shortly',
      );
    }
    return serving.registrar;
  };
  // The cluster (client, etcdraft consenter, Step service); see cluster-setup.ts.
  const channelsForCluster: { registrar?: Registrar } = {};
  const { clusterClient, etcdraft, clusterService, sharedClusterListener } = createCluster(
    config,
    clusterTls,
    {
      clock,
      named,
      metrics,
      channelTlsCas: () => (channelsForCluster.registrar ? channelTlsCas(channelsForCluster.registrar) : []),
      signer,
    },
  );
  resources.push('cluster client', () => clusterClient.close());

  const expiry = new CertificateExpiryCache();
  const broadcast = new GatedBroadcastHandler(
    {
      support: { broadcastChannelSupport: (env) => ready().broadcastChannelSupport(env) },
      logger: named(LOGGER_NAMES.broadcast),
      observer: metrics.broadcastObserver(),
      clock,
    },
    gate,
  );
  const deliver = new GatedDeliverHandler(
    {
      timeWindowMs: general.authentication.timeWindowMs,
      mutualTls: !!tls?.clientAuthRequired,
      noExpirationChecks: general.authentication.noExpirationChecks,
    },
    {
      chains: {
        getDeliverChain(channelId): DeliverChain | undefined {
          const chain = ready().getChain(channelId);
          if (!chain) return undefined;
          return {
            reader: chain.store,
            bundle: () => chain.bundle(),
            errored: () => chain.chain.errored(),
            onStatusChange: (listener) => chain.chain.onStatusChange(listener),
          };
        },
      },
      clock,
      logger: named(LOGGER_NAMES.deliver),
      expiry,
      observer: metrics.deliverObserver(),
    },
    gate,
  );
  const server = new AtomicBroadcastServer(
    {
      listenAddress: general.listenAddress,
      listenPort: general.listenPort,
      ...(tls ? { tls } : {}),
      maxRecvMsgSize: general.maxRecvMsgSize,
      maxSendMsgSize: general.maxSendMsgSize,
      keepalive: general.keepalive,
      ...(sharedClusterListener ? { requestClientCertificate: true } : {}),
    },
    {
      broadcast,
      deliver,
      logger: grpcLogger,
      deliverStreams: metrics.deliverStreamObserver(),
      clock,
      ...(sharedClusterListener
        ? {
            services: [
              { definition: clusterServiceDefinition, implementation: clusterService.implementation },
            ],
          }
        : {}),
    },
  );
  // stop() ends the gRPC streams before anything else (then the stack closes the rest).
  const stopServer = once(() => server.stop());
  resources.push('gRPC server', stopServer);
  // Closed before the server: calls waiting for start-up must go on (and be refused) for the
  // server's shutdown not to wait out its grace period on them.
  resources.push('calls waiting for start-up', () => gate.abandon());
  try {
    await server.start();
  } catch (err) {
    throw await listenFailure(
      'General.ListenPort',
      'General.ListenAddress / General.ListenPort (ORDERER_GENERAL_LISTENADDRESS, ORDERER_GENERAL_LISTENPORT)',
      { host: general.listenAddress || undefined, port: general.listenPort },
      err,
    );
  }

  // The admin listener too is bound before the ledger is opened (Fabric binds it after its
  // channels): a port in use leaves nothing behind. Until start-up is done its requests are
  // answered 503, "still starting". Fabric starts it even when channel participation is disabled:
  // it answers 503 then.
  const participation: ChannelParticipationRegistrar = {
    joinChannel: (block) => ready().joinChannel(block),
    removeChannel: (channelId) => ready().removeChannel(channelId),
    channelInfo: (channelId) => ready().channelInfo(channelId),
    channelIds: () => ready().channelIds(),
    systemChannelName: () => ready().systemChannelName(),
  };
  const admin = new AdminServer(adminServerOptions(config), {
    registrar: participation,
    logger: adminLogger,
  });
  let adminPort: number | undefined;
  if (config.admin.listenAddress) {
    resources.push('admin server', () => admin.stop());
    try {
      adminPort = await admin.start();
    } catch (err) {
      const address = parseListenAddress(config.admin.listenAddress, 'Admin.ListenAddress');
      throw await listenFailure(
        'Admin.ListenAddress',
        'Admin.ListenAddress (ORDERER_ADMIN_LISTENADDRESS)',
        address,
        err,
      );
    }
  }

  // The cluster listener of its own, bound before the ledger too.
  let clusterServer: ClusterServer | undefined;
  if (clusterTls?.separateListener) {
    const server = clusterServerFor(config, clusterTls, {
      service: clusterService,
      logger: named(LOGGER_NAMES.cluster),
    });
    resources.push('cluster server', () => server.stop());
    try {
      await server.start();
    } catch (err) {
      throw await listenFailure(
        'General.Cluster.ListenPort',
        'General.Cluster.ListenAddress / General.Cluster.ListenPort (ORDERER_GENERAL_CLUSTER_LISTENADDRESS, ORDERER_GENERAL_CLUSTER_LISTENPORT)',
        { host: general.cluster.listenAddress || undefined, port: general.cluster.listenPort },
        err,
      );
    }
    clusterServer = server;
  }

  const ledgerFactory = await FileLedgerFactory.open(
    { location: config.fileLedger.location },
    { logger: named(LOGGER_NAMES.ledger), clock, onCommit: metrics.ledgerCommitObserver() },
  );
  resources.push('ledger', () => ledgerFactory.close());
  operations.registerHealthCheck(ledgerWritableCheck({ location: config.fileLedger.location }));

  // Kafka.Verbose, as Fabric does it: the client library's logger goes to debug (and GET /logspec
  // shows the rule).
  const kafkaClientLevel = logging.levelOf(LOGGER_NAMES.kafkaClient);
  if (config.kafka.verbose && kafkaClientLevel !== 'debug' && kafkaClientLevel !== 'trace') {
    logging.setSpec(`${logging.spec()}:${LOGGER_NAMES.kafkaClient}=debug`);
  }
  // Signature checks of every channel run in batches on worker threads, one per core the event
  // loop leaves free (started on first use).
  const verifier = new VerifyWorkerPool({ workers: Math.max(1, availableParallelism() - 1) });
  resources.push('signature verification workers', () => verifier.close());
  const solo = new SoloConsenter({ walDir: join(config.fileLedger.location, 'solo-wal') });
  const kafka = new KafkaConsenter(kafkaConsenterOptions(config.kafka), {
    clock,
    logger: named(LOGGER_NAMES.kafka),
    metrics: metrics.kafka,
  });
  // One check for every Kafka channel: fails naming each channel whose brokers are unreachable,
  // passes when no channel uses Kafka.
  operations.registerHealthCheck(kafka.healthCheck());
  const consenters = new Map<string, ConsenterRegistration>([
    ['solo', { consenter: solo, logger: named(LOGGER_NAMES.solo) }],
    ['kafka', { consenter: kafka, logger: named(LOGGER_NAMES.kafka) }],
    // Also the target of a Kafka channel's migration (maintenance mode, ConsensusType.Type kafka ->
    // etcdraft, restart): the consenter starts a new Raft group on the last Kafka block.
    ['etcdraft', { consenter: etcdraft, logger: named(LOGGER_NAMES.etcdraft) }],
  ]);

  // Mutual TLS trusts the TLS CAs of every channel's orgs too (Fabric's updateTrustedRoots); set
  // once the channels are open, called whenever channels or their configs change.
  let refreshClientRoots = () => {};
  const multichannelLogger = named(LOGGER_NAMES.multichannel);
  const channelResourcesForRegistrar = channelResources({ verifyAsync: verifier.verify });
  const registrar = new Registrar(
    { noExpirationChecks: general.authentication.noExpirationChecks },
    {
      ledgerFactory,
      signer,
      clock,
      logger: multichannelLogger,
      resources: channelResourcesForRegistrar,
      consenters,
      onChannelInfo: (channelId, info) => {
        reportParticipation(channelId, info);
        refreshClientRoots();
      },
      onConfigApplied: () => refreshClientRoots(),
      createBlockCutter: (batchSize, channelId) =>
        new BlockCutter(
          { batchSize },
          { clock, observeBlockFillDuration: metrics.blockFillObserver(channelId) },
        ),
      onBlockCommitted: (channel, block) => {
        // One info line per block (Fabric's solo says it at debug, its Raft chain at info): the
        // notable event an operator follows, never a line per transaction.
        const data = block.data?.data ?? [];
        multichannelLogger.info(
          { channel, block: Number(block.header?.number), txs: data.length },
          'wrote block',
        );
      },
    },
  );
  // Registered before initialize: chains started by a partly done initialize are halted too.
  resources.push('channels', () => registrar.halt());

  const bootstrapBlock =
    ledgerFactory.channelIds().length === 0 && general.bootstrapMethod === 'file'
      ? readBootstrapBlock(general.bootstrapFile, channelResourcesForRegistrar)
      : undefined;
  channelsForCluster.registrar = registrar;
  await registrar.initialize(bootstrapBlock);
  scrapeSource.registrar = registrar;
  for (const channel of registrar.channelIds()) {
    metrics.ledger.blockchainHeight.set(registrar.getChain(channel)!.height(), { channel });
  }
  operations.registerHealthCheck(chainHealthCheck(registrar));
  operations.registerHealthCheck(etcdraftLeaderCheck(etcdraft));

  if (tls?.clientAuthRequired || sharedClusterListener || clusterServer) {
    refreshClientRoots = () => {
      const channelCas = channelTlsCas(registrar);
      if (tls?.clientAuthRequired || sharedClusterListener)
        server.setClientRootCas([...(tls?.clientRootCasPem ?? []), ...channelCas]);
      clusterServer?.setClientRootCas(channelCas);
    };
    refreshClientRoots();
  }
  serving.registrar = registrar;
  gate.open();

  let stopping: Promise<void> | undefined;
  return {
    registrar,
    signer,
    address: server.address,
    port: server.port,
    operationsPort,
    adminPort,
    metrics,
    stop() {
      stopping ??= (async () => {
        logger.info('stopping orderer');
        // Clients first: no new calls and open streams ended, before the chains they feed halt.
        await stopServer();
        const failures = await resources.closeAll();
        for (const failure of failures) {
          logger.error({ resource: failure.name, err: errorMessage(failure.error) }, 'closing failed');
        }
        logger.info('orderer stopped');
        logging.flush();
      })();
      return stopping;
    },
  };
}
