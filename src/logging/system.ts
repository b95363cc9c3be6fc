// The logging system, made once by the composition root (Fabric's common/flogging): every logger
// comes from it, so a new spec (FABRIC_LOGGING_SPEC at start, PUT /logspec at run time) reaches
// every live logger, children included.
//
// Logger names: `system.logger(name)` is named `name`; a child made with `.child({ module: 'x' })`
// is named `x` (the nearest `module` binding wins), and other children keep their parent's name.
// The orderer's names are Fabric's (LOGGER_NAMES in ./names.ts: "orderer.common.broadcast",
// "orderer.consensus.kafka", ...); levels follow the most specific dotted prefix of the name in
// the spec, so "info:orderer.consensus=debug" covers every consenter.
import { pino } from 'pino';
import { badRequest } from '../errors.js';
import type { Clock } from '../clock.js';
import { ConsoleFormatter, type LogDestination } from './console.js';
import { levelFor, parseLogSpec, type LogSpec, type PinoLevel } from './spec.js';

export type Logger = pino.Logger;
export type LogFormat = 'json' | 'console';

export interface LoggingOptions {
  /** FABRIC_LOGGING_SPEC; default "info". */
  spec?: string;
  /** FABRIC_LOGGING_FORMAT: "json", or "console" (also Fabric's %{...} templates); default console. */
  format?: string;
}

export interface LoggingDependencies {
  /** Default: standard output, written synchronously so nothing is lost when the process dies. */
  destination?: LogDestination;
  /** Log line timestamps. */
  clock: Clock;
}

/** Parses FABRIC_LOGGING_FORMAT; throws a bad-request OrdererError for anything else. */
export function parseLogFormat(format: string | undefined): LogFormat {
  const value = (format ?? '').trim();
  if (value.toLowerCase() === 'json') return 'json';
  // Fabric's format option is a template such as "%{color}%{time} [%{module}] %{message}"; every
  // template gets this orderer's fixed console layout.
  if (value === '' || value.toLowerCase() === 'console' || value.includes('%{')) return 'console';
  throw badRequest(
    `invalid logging format '${value}': set FABRIC_LOGGING_FORMAT to "json" for one JSON object per line or "console" for human-readable lines`,
  );
}

// Which system made a logger, so that code handed only a logger (dev mode, tests) can still reach
// the system behind it for /logspec. Each logger carries its own system (a non-enumerable property
// under this key, set when the system tracks it): no registry shared between systems at module
// level, and nothing that outlives the logger.
const OWNER: unique symbol = Symbol('fabric-orderer-ts logging system');

type OwnedLogger = Logger & { [OWNER]?: LoggingSystem };

interface TrackedLogger {
  readonly ref: WeakRef<Logger>;
  readonly name: string;
}

export class LoggingSystem {
  readonly format: LogFormat;
  private current: LogSpec;
  private readonly root: Logger;
  private readonly destination: LogDestination;
  private readonly tracked = new Set<TrackedLogger>();
  private readonly finalizer = new FinalizationRegistry<TrackedLogger>((entry) => this.tracked.delete(entry));
  private entryObserver: ((level: PinoLevel) => void) | undefined;

  /** Reads FABRIC_LOGGING_SPEC and FABRIC_LOGGING_FORMAT. */
  static fromEnvironment(env: NodeJS.ProcessEnv, deps: LoggingDependencies): LoggingSystem {
    return new LoggingSystem(
      {
        ...(env.FABRIC_LOGGING_SPEC ? { spec: env.FABRIC_LOGGING_SPEC } : {}),
        ...(env.FABRIC_LOGGING_FORMAT ? { format: env.FABRIC_LOGGING_FORMAT } : {}),
      },
      deps,
    );
  }

  constructor(options: LoggingOptions, deps: LoggingDependencies) {
    this.current = parseLogSpec(options.spec || 'info');
    this.format = parseLogFormat(options.format);
    const clock = deps.clock;
    this.destination = deps.destination ?? pino.destination({ dest: 2, sync: true });
    const labels = pino.levels.labels;
    // The closure keeps `this` for onChild/logMethod: pino calls them with the logger as `this`.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const system = this;
    this.root = pino(
      {
        level: 'info',
        base: { pid: process.pid },
        timestamp: () => `,"time":"${new Date(clock.now()).toISOString()}"`,
        formatters: { level: (label) => ({ level: label }) },
        onChild(child) {
          system.track(child);
        },
        hooks: {
          logMethod(args, method, level) {
            system.entryObserver?.((labels[level] ?? 'info') as PinoLevel);
            method.apply(this, args);
          },
        },
      },
      this.format === 'console' ? new ConsoleFormatter(this.destination) : this.destination,
    );
  }

  /**
   * The system a logger (or any of its ancestors) was made by, or undefined for a logger made
   * elsewhere (e.g. silentLogger()).
   */
  static of(logger: Logger): LoggingSystem | undefined {
    // Own property only: a child made outside pino's onChild hook would otherwise inherit its
    // parent's entry through the prototype chain without being tracked for spec changes.
    return Object.prototype.hasOwnProperty.call(logger, OWNER) ? (logger as OwnedLogger)[OWNER] : undefined;
  }

  /** A logger named `name` (e.g. "orderer", "orderer.common.server"); its level follows the spec. */
  logger(name: string): Logger {
    return this.root.child({ name });
  }

  /** The active spec, as it was set. */
  spec(): string {
    return this.current.text;
  }

  /** Activates a new spec for every logger, existing and future; bad syntax -> bad-request. */
  setSpec(spec: string): void {
    const parsed = parseLogSpec(spec);
    this.current = parsed;
    for (const entry of this.tracked) {
      const logger = entry.ref.deref();
      if (logger) logger.level = levelFor(parsed, entry.name);
      else this.tracked.delete(entry);
    }
  }

  /** The level a logger of this name has under the active spec. */
  levelOf(name: string): PinoLevel {
    return levelFor(this.current, name);
  }

  /** Told the level of every entry written (logging_entries_written); undefined stops it. */
  observeEntries(observer: ((level: PinoLevel) => void) | undefined): void {
    this.entryObserver = observer;
  }

  /** Writes out anything buffered (a no-op for synchronous destinations). */
  flush(): void {
    const destination = this.destination as { flushSync?: () => void };
    try {
      destination.flushSync?.();
    } catch {
      // SonicBoom throws when nothing was ever written; there is nothing to flush then.
    }
  }

  private track(logger: Logger): void {
    const bindings = logger.bindings() as { module?: unknown; name?: unknown };
    const name = String(bindings.module ?? bindings.name ?? '');
    logger.level = levelFor(this.current, name);
    const entry: TrackedLogger = { ref: new WeakRef(logger), name };
    Object.defineProperty(logger, OWNER, { value: this, enumerable: false });
    this.tracked.add(entry);
    this.finalizer.register(logger, entry);
  }
}
