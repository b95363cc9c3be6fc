// Fabric's logging specification (common/flogging): `[<logger>[,<logger>...]=]<level>[:...]`.
// A bare level sets the default; `name=level` sets the level of a logger and of every logger
// below it in the dotted hierarchy ("orderer.consensus" covers "orderer.consensus.solo"); a name
// ending in "." matches that logger only. The most specific name wins, the last segment wins
// among equals. Examples: "info", "warn:ledger=debug", "info:orderer.consensus,grpc=error".
import { badRequest } from '../errors.js';

/** The pino level a Fabric level name maps to. */
export type PinoLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

// Fabric accepts these names (common/flogging/levels.go). PAYLOAD is below DEBUG in Fabric;
// zap's DPANIC/PANIC have no pino equivalent and become fatal (they are never used to log here).
const levelNames: Record<string, PinoLevel> = {
  payload: 'trace',
  debug: 'debug',
  info: 'info',
  notice: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  dpanic: 'fatal',
  panic: 'fatal',
  critical: 'fatal',
  fatal: 'fatal',
};

// Fabric's logger name syntax: dot-separated words of letters, digits, '_', '#', ':' and '-'.
const loggerNamePattern = /^[A-Za-z0-9_#:-]+(\.[A-Za-z0-9_#:-]+)*$/;

const SYNTAX_HELP =
  'the syntax is [<logger>[,<logger>...]=]<level>[:[<logger>[,<logger>...]=]<level>...] with levels payload, debug, info, warn, error, panic or fatal, e.g. "info:orderer.consensus=debug:grpc=error"';

export interface LogSpec {
  /** The spec as given (GET /logspec returns it unchanged). */
  readonly text: string;
  readonly defaultLevel: PinoLevel;
  /** Logger name (or "name." for that exact logger) -> level. */
  readonly rules: ReadonlyMap<string, PinoLevel>;
}

export function isLogLevelName(name: string): boolean {
  return Object.hasOwn(levelNames, name.toLowerCase());
}

/** The pino level for a Fabric level name; throws a bad-request OrdererError when unknown. */
export function pinoLevelOf(name: string): PinoLevel {
  const key = name.toLowerCase();
  if (!Object.hasOwn(levelNames, key)) {
    throw badRequest(`invalid log level '${name}': use payload, debug, info, warn, error, panic or fatal`);
  }
  return levelNames[key]!;
}

/** Parses a FABRIC_LOGGING_SPEC; throws a bad-request OrdererError that explains the syntax. */
export function parseLogSpec(spec: string): LogSpec {
  const text = spec.trim();
  const invalid = (why: string) =>
    badRequest(`invalid logging specification '${spec}': ${why}; ${SYNTAX_HELP}`, { spec });
  let defaultLevel: PinoLevel = 'info';
  const rules = new Map<string, PinoLevel>();
  for (const segment of text.split(':')) {
    const parts = segment.split('=');
    if (parts.length === 1) {
      // An empty segment ("info::x=debug" or "") leaves the default at info, as Fabric does.
      if (segment === '') continue;
      if (!isLogLevelName(segment)) throw invalid(`bad segment '${segment}'`);
      defaultLevel = pinoLevelOf(segment);
    } else if (parts.length === 2) {
      const [names = '', level = ''] = parts;
      if (names === '') throw invalid(`no logger specified in segment '${segment}'`);
      if (!isLogLevelName(level)) throw invalid(`bad level '${level}' in segment '${segment}'`);
      for (const name of names.split(',')) {
        // A trailing "." means "this logger only", so it is not part of the name's syntax.
        if (!loggerNamePattern.test(name.endsWith('.') ? name.slice(0, -1) : name)) {
          throw invalid(`bad logger name '${name}'`);
        }
        rules.set(name, pinoLevelOf(level));
      }
    } else {
      throw invalid(`bad segment '${segment}'`);
    }
  }
  return { text, defaultLevel, rules };
}

/**
 * The level of a logger under a spec (Fabric's LoggerLevels.calculateLevel): an exact "name."
 * rule first, then the name, then each shorter dotted prefix, then the default.
 */
export function levelFor(spec: LogSpec, loggerName: string): PinoLevel {
  let candidate = `${loggerName}.`;
  for (;;) {
    const level = spec.rules.get(candidate);
    if (level) return level;
    const dot = candidate.lastIndexOf('.');
    if (dot <= 0) return spec.defaultLevel;
    candidate = candidate.slice(0, dot);
  }
}
