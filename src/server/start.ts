// `orderer start`: load config (or, with no configuration at all, run the zero-config dev mode),
// start the orderer, stop cleanly on SIGTERM/SIGINT.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadLocalConfig } from '../config/index.js';
import { errorMessage } from '../errors.js';
import { LOGGER_NAMES, LoggingSystem, type Logger } from '../logging.js';
import { versionInfo } from '../version.js';
import { startOrderer } from './orderer.js';
import { logVersion } from './startupLog.js';
import { EXIT_CODES, UsageError, cannotStartLine } from './startupError.js';
import { systemClock } from '../clock.js';

export interface StartOptions {
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Zero-config dev mode (implied when there is no configuration at all, see isDevModeStart). */
  dev?: boolean;
  /** Dev mode: the data folder (default $ORDERER_DEV_DATA_DIR or ./orderer-data). */
  dataDir?: string;
  /** Dev mode: the channel created on first start (default devchannel). */
  channel?: string;
  /** Dev mode listener ports (0 = any free port). */
  port?: number;
  adminPort?: number;
  operationsPort?: number;
  /** Dev mode: TLS on the gRPC listener. */
  tls?: boolean;
  /** Where dev mode prints its summary (default stdout). */
  print?: (text: string) => void;
  /** Where the one-line reason for not starting goes (default stderr). */
  printError?: (line: string) => void;
}

/**
 * Dev mode when asked for (--dev), or when nothing configures the orderer: no --config, no
 * FABRIC_CFG_PATH, no orderer.yaml/orderer.yml in the working folder and no bootstrap file.
 */
export function isDevModeStart(options: StartOptions, env: NodeJS.ProcessEnv, cwd: string): boolean {
  if (options.dev) return true;
  if (options.configPath) return false;
  if (env.FABRIC_CFG_PATH) return false;
  if (env.ORDERER_GENERAL_BOOTSTRAPFILE) return false;
  return !existsSync(join(cwd, 'orderer.yaml')) && !existsSync(join(cwd, 'orderer.yml'));
}

const DEV_ONLY_OPTIONS = ['dataDir', 'channel', 'port', 'adminPort', 'operationsPort', 'tls'] as const;

/**
 * The process's one LoggingSystem, from FABRIC_LOGGING_SPEC and FABRIC_LOGGING_FORMAT: every
 * component logger comes from it, so PUT /logspec reaches them all. The log goes to stderr, as
 * Fabric's flogging writes to os.Stderr (dev mode's summary is on stdout). A bad spec or format
 * stops start-up (reported on the default logging system), as every other bad setting does.
 */
function processLogging(env: NodeJS.ProcessEnv): { logging: LoggingSystem; error?: string } {
  const destination = pino.destination({ dest: 2, sync: true });
  try {
    return { logging: LoggingSystem.fromEnvironment(env, { destination, clock: systemClock }) };
  } catch (err) {
    return {
      logging: new LoggingSystem({}, { destination, clock: systemClock }),
      error: `${errorMessage(err)} (from FABRIC_LOGGING_SPEC / FABRIC_LOGGING_FORMAT)`,
    };
  }
}

export async function startFromCommandLine(options: StartOptions): Promise<number> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const dev = isDevModeStart(options, env, cwd);
  const { logging, error: loggingError } = processLogging(env);
  const logger: Logger = logging.logger(LOGGER_NAMES.server);
  // Listening from the start: a SIGTERM while the ledger and channels are being opened (the gRPC
  // port is already bound then) stops the orderer in order once start-up is done, rather than
  // killing it part-way through a write. A second signal is not caught: it ends a start-up that
  // hangs the default way.
  let received: NodeJS.Signals | undefined;
  let onReceived: ((signal: NodeJS.Signals) => void) | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    received = signal;
    onReceived?.(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let stop: () => Promise<void>;
  try {
    if (loggingError) throw new Error(loggingError);
    logVersion(logger, versionInfo());
    if (dev) {
      if (options.configPath) {
        throw new UsageError('--dev and --config exclude each other: dev mode makes its own configuration');
      }
      const { startDevOrderer, formatDevBanner, devDataDir } = await import('../dev/index.js');
      const ignored = Object.keys(env).filter(
        (name) => name.startsWith('ORDERER_') && name !== 'ORDERER_DEV_DATA_DIR',
      );
      if (ignored.length) {
        logger.warn(
          { ignored },
          'dev mode ignores ORDERER_* settings; use --config with an orderer.yaml to configure the orderer',
        );
      }
      const running = await startDevOrderer(
        {
          dataDir: devDataDir(options.dataDir, env, cwd),
          ...(options.channel ? { channel: options.channel } : {}),
          ...(options.port !== undefined ? { port: options.port } : {}),
          ...(options.adminPort !== undefined ? { adminPort: options.adminPort } : {}),
          ...(options.operationsPort !== undefined ? { operationsPort: options.operationsPort } : {}),
          ...(options.tls ? { tls: true } : {}),
        },
        { logger, clock: systemClock },
      );
      (options.print ?? ((text: string) => process.stdout.write(text)))(formatDevBanner(running, cwd));
      stop = () => running.stop();
    } else {
      const devOnly = DEV_ONLY_OPTIONS.filter((key) => options[key] !== undefined && options[key] !== false);
      if (devOnly.length) {
        throw new UsageError(
          `${devOnly.join(', ')} apply to dev mode only; with a configuration file set them in orderer.yaml (or ORDERER_* variables), or add --dev`,
        );
      }
      const loaded = loadLocalConfig({
        ...(options.configPath ? { configPath: options.configPath } : {}),
        env,
        cwd,
      });
      for (const warning of loaded.warnings) logger.warn(warning);
      logger.info({ configFile: loaded.configFile ?? '(none: defaults)' }, 'loaded local configuration');
      const orderer = await startOrderer(loaded.config, { logging, logger, clock: systemClock });
      logger.info({ address: orderer.address, channels: orderer.registrar.channelIds() }, 'orderer started');
      stop = () => orderer.stop();
    }
  } catch (err) {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    // By now startOrderer has closed whatever it had opened, so nothing holds the event loop and
    // the process ends with the status below. The log entry is for log collectors; the line after
    // it is the one an operator reads (the last line of stderr).
    const usage = err instanceof UsageError;
    const setting = (err as { setting?: unknown }).setting;
    logger.fatal(typeof setting === 'string' ? { setting } : {}, errorMessage(err));
    logging.flush();
    (options.printError ?? ((line: string) => process.stderr.write(`${line}\n`)))(
      usage ? `orderer: ${errorMessage(err)}` : cannotStartLine(err),
    );
    return usage ? EXIT_CODES.usage : EXIT_CODES.cannotStart;
  }

  const signal = received ?? (await new Promise<NodeJS.Signals>((resolve) => (onReceived = resolve)));
  logger.info({ signal }, 'received signal, shutting down');
  try {
    await stop();
  } catch (err) {
    logger.error(errorMessage(err));
  }
  logging.flush();
  return EXIT_CODES.ok;
}
