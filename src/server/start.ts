// `orderer start`: load config, start the orderer, stop cleanly on SIGTERM/SIGINT.
import { pino } from 'pino';
import { loadLocalConfig } from '../config/index.js';
import { errorMessage } from '../errors.js';
import { startOrderer } from './orderer.js';

export interface StartOptions {
  configPath?: string;
  env?: NodeJS.ProcessEnv;
}

/** The level of FABRIC_LOGGING_SPEC's default part ("info", "debug:orderer.x=info" -> "debug"). */
function defaultLevel(spec: string | undefined): string {
  const levels = new Set(['trace', 'debug', 'info', 'warn', 'warning', 'error', 'fatal', 'panic']);
  for (const part of (spec ?? '').split(':')) {
    const level = part.trim().toLowerCase();
    if (levels.has(level)) return level === 'warning' ? 'warn' : level === 'panic' ? 'fatal' : level;
  }
  return 'info';
}

export async function startFromCommandLine(options: StartOptions): Promise<number> {
  const env = options.env ?? process.env;
  const logger = pino({ level: defaultLevel(env.FABRIC_LOGGING_SPEC), base: { name: 'orderer' } });
  let orderer;
  try {
    const loaded = loadLocalConfig({
      ...(options.configPath ? { configPath: options.configPath } : {}),
      env,
      cwd: process.cwd(),
    });
    for (const warning of loaded.warnings) logger.warn(warning);
    logger.info({ configFile: loaded.configFile ?? '(none: defaults)' }, 'loaded local configuration');
    orderer = await startOrderer(loaded.config, { logger });
  } catch (err) {
    logger.fatal(errorMessage(err));
    await new Promise((resolve) => logger.flush(resolve));
    return 1;
  }
  logger.info({ address: orderer.address, channels: orderer.registrar.channelIds() }, 'orderer started');

  const running = orderer;
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'received signal, shutting down');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      running.stop().then(resolve, (err) => {
        logger.error(errorMessage(err));
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  await new Promise((resolve) => logger.flush(resolve));
  return 0;
}
