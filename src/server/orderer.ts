// The composition root: local config -> identity -> ledger -> channel resources -> consenters ->
// registrar -> Broadcast/Deliver handlers -> gRPC. Everything is built here and passed down.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import type { common } from '../protos/index.js';
import { badRequest, errorMessage } from '../errors.js';
import { systemClock, type Clock } from '../clock.js';
import { LOGGER_NAMES, LoggingSystem, type Logger } from '../logging.js';
import { createMetricsProvider, OrdererMetrics } from '../metrics/index.js';
import { OperationsServer, chainHealthCheck, ledgerWritableCheck } from '../operations/index.js';
import { versionInfo } from '../version.js';
import { AdminServer, adminServerOptions } from '../participation/index.js';
import type { LocalConfig } from '../config/index.js';
import { loadLocalMsp, mspFromConfig, ChannelMspManager } from '../msp/index.js';
import { VerifyWorkerPool, type AsyncSignatureVerifier } from '../crypto/index.js';
import {
  buildBundle,
  createChannelConfig,
  proposeConfigUpdate,
  type BundleDependencies,
} from '../channelconfig/index.js';
import { FileLedgerFactory } from '../ledger/index.js';
import { BlockCutter } from '../blockcutter/index.js';
import { SoloConsenter } from '../consensus/solo/index.js';
import { KafkaConsenter, kafkaConsenterOptions } from '../consensus/kafka/index.js';
import { Registrar, type ChannelResources, type ConsenterRegistration } from '../multichannel/index.js';
import { BroadcastHandler } from '../broadcast/index.js';
import { DeliverHandler, type DeliverChain } from '../deliver/index.js';
import { CertificateExpiryCache } from '../msgprocessor/index.js';
import { AtomicBroadcastServer, type TlsMaterial } from './grpc.js';
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
  clock?: Clock;
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
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw badRequest(`cannot read ${what} ${path} (General.TLS): ${errorMessage(err)}`);
    }
  };
  return {
    certificatePem: read(tls.certificate, 'TLS certificate'),
    privateKeyPem: read(tls.privateKey, 'TLS private key'),
    // Fabric trusts client certificates issued by ClientRootCAs and, as it does, the RootCAs too.
    clientRootCasPem: [...tls.clientRootCAs, ...tls.rootCAs].map((p) => read(p, 'TLS CA certificate')),
    clientAuthRequired: tls.clientAuthRequired,
  };
}

export async function startOrderer(config: LocalConfig, deps: OrdererDeps): Promise<RunningOrderer> {
  const clock = deps.clock ?? systemClock;
  const logging =
    deps.logging ??
    (deps.logger ? LoggingSystem.of(deps.logger) : undefined) ??
    LoggingSystem.fromEnvironment(process.env);
  const logger = deps.logger ?? logging.logger(LOGGER_NAMES.server);
  // A component's logger: a child named as Fabric names that component's logger, so specs such as
  // "info:orderer.consensus=debug" select it by prefix.
  const named = (name: string) => logger.child({ module: name });
  const general = config.general;

  // As Fabric does, the operations server comes up first so that health and metrics are there
  // while the ledger and channels are being opened.
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
  const operationsPort = await operations.start();

  const localMsp = loadLocalMsp({ dir: general.localMSPDir, mspId: general.localMSPID, clock });
  const signer = localMsp.signer;
  logger.info({ mspId: signer.mspId, dir: general.localMSPDir }, 'loaded local MSP');

  const ledgerFactory = await FileLedgerFactory.open(
    { location: config.fileLedger.location },
    { logger: named(LOGGER_NAMES.ledger), clock, onCommit: metrics.ledgerCommitObserver() },
  );
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
  ]);

  // Mutual TLS trusts the TLS CAs of every channel's orgs too (Fabric's updateTrustedRoots); set
  // once the gRPC server exists, called whenever channels or their configs change.
  let refreshClientRoots = () => {};
  const multichannelLogger = named(LOGGER_NAMES.multichannel);
  const registrar = new Registrar(
    { noExpirationChecks: general.authentication.noExpirationChecks },
    {
      ledgerFactory,
      signer,
      clock,
      logger: multichannelLogger,
      resources: channelResources({ verifyAsync: verifier.verify }),
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

  let bootstrapBlock: Buffer | undefined;
  if (ledgerFactory.channelIds().length === 0 && general.bootstrapMethod === 'file') {
    if (!general.bootstrapFile) {
      throw badRequest(
        'the ledger is empty and General.BootstrapMethod is "file" but General.BootstrapFile is not set: point it at a system channel genesis block, or set BootstrapMethod to "none" and join channels through the channel participation API',
      );
    }
    try {
      bootstrapBlock = readFileSync(general.bootstrapFile);
    } catch (err) {
      throw badRequest(`cannot read General.BootstrapFile ${general.bootstrapFile}: ${errorMessage(err)}`);
    }
  }
  await registrar.initialize(bootstrapBlock);
  scrapeSource.registrar = registrar;
  for (const channel of registrar.channelIds()) {
    metrics.ledger.blockchainHeight.set(registrar.getChain(channel)!.height(), { channel });
  }
  operations.registerHealthCheck(chainHealthCheck(registrar));

  // Fabric starts the admin server even when channel participation is disabled: it answers 503.
  const admin = new AdminServer(adminServerOptions(config), {
    registrar,
    logger: named(LOGGER_NAMES.channelParticipation),
  });
  const adminPort = config.admin.listenAddress ? await admin.start() : undefined;

  const expiry = new CertificateExpiryCache();
  const broadcast = new BroadcastHandler({
    support: registrar,
    logger: named(LOGGER_NAMES.broadcast),
    observer: metrics.broadcastObserver(),
  });
  const tls = readTls(config);
  const deliver = new DeliverHandler(
    {
      timeWindowMs: general.authentication.timeWindowMs,
      mutualTls: !!tls?.clientAuthRequired,
      noExpirationChecks: general.authentication.noExpirationChecks,
    },
    {
      chains: {
        getDeliverChain(channelId): DeliverChain | undefined {
          const chain = registrar.getChain(channelId);
          if (!chain) return undefined;
          return {
            reader: chain.store,
            bundle: () => chain.bundle(),
            errored: () => chain.chain.errored(),
          };
        },
      },
      clock,
      logger: named(LOGGER_NAMES.deliver),
      expiry,
      observer: metrics.deliverObserver(),
    },
  );

  const server = new AtomicBroadcastServer(
    {
      listenAddress: general.listenAddress,
      listenPort: general.listenPort,
      ...(tls ? { tls } : {}),
      maxRecvMsgSize: general.maxRecvMsgSize,
      maxSendMsgSize: general.maxSendMsgSize,
      keepalive: general.keepalive,
    },
    {
      broadcast,
      deliver,
      logger: named(LOGGER_NAMES.grpc),
      deliverStreams: metrics.deliverStreamObserver(),
    },
  );
  await server.start();
  if (tls?.clientAuthRequired) {
    refreshClientRoots = () =>
      server.setClientRootCas([...tls.clientRootCasPem, ...channelTlsCas(registrar)]);
    refreshClientRoots();
  }

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
        await server.stop();
        if (adminPort !== undefined) await admin.stop();
        await registrar.halt();
        await ledgerFactory.close();
        await verifier.close();
        logger.info('orderer stopped');
        await operations.stop();
        await logging.flush();
      })();
      return stopping;
    },
  };
}
