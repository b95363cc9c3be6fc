// Logging through pino. No global logger: the composition root makes one LoggingSystem
// (FABRIC_LOGGING_SPEC / FABRIC_LOGGING_FORMAT, PUT /logspec) and hands children
// ({ module, channel }) to each component. See src/logging/system.ts for how loggers are named.
import { pino } from 'pino';

export type Logger = pino.Logger;

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

export { LoggingSystem, parseLogFormat } from './logging/system.js';
export type { LogFormat, LoggingOptions, LoggingDependencies } from './logging/system.js';
export { parseLogSpec, levelFor, pinoLevelOf, isLogLevelName } from './logging/spec.js';
export type { LogSpec, PinoLevel } from './logging/spec.js';
export { ConsoleFormatter } from './logging/console.js';
export type { LogDestination } from './logging/console.js';
export { LOGGER_NAMES } from './logging/names.js';
export type { LoggerName } from './logging/names.js';
