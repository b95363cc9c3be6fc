// Why `orderer start` could not start, said the way an operator acts on it: the setting that is
// wrong, what is wrong with it, and what to do. The CLI prints it as one line and exits non-zero
// (EXIT_CODES), so that systemd and Kubernetes restart policies see the failure.
import { readFileSync } from 'node:fs';
import { OrdererError, errorMessage } from '../errors.js';

/** Exit statuses of the `orderer` command (documented in README "Exit codes"). */
export const EXIT_CODES = {
  /** Ran and stopped normally (e.g. after SIGTERM). */
  ok: 0,
  /**
   * `orderer start` could not start: a setting is wrong or the machine does not fit it (a file,
   * folder or key missing, a port in use). Any other command: it failed.
   */
  cannotStart: 1,
  /** The command line itself is wrong: unknown command or flag, bad flag value. */
  usage: 2,
} as const;

export class StartupError extends OrdererError {
  /** The orderer.yaml key at fault, e.g. "General.LocalMSPDir". */
  readonly setting: string;
  /** What to do about it. */
  readonly remedy: string;

  constructor(setting: string, problem: string, remedy: string, options?: ErrorOptions) {
    super('bad-request', `${setting}: ${problem}: ${remedy}`, { setting }, options);
    this.name = 'StartupError';
    this.setting = setting;
    this.remedy = remedy;
  }
}

/** The command line is wrong (flags that exclude each other, dev-only flags without dev mode). */
export class UsageError extends OrdererError {
  constructor(message: string) {
    super('bad-request', message);
    this.name = 'UsageError';
  }
}

/** The ORDERER_* variable that overrides an orderer.yaml key, as Fabric's viper binds them. */
export function envVariableOf(setting: string): string {
  return `ORDERER_${setting.replaceAll('.', '_').toUpperCase()}`;
}

/** The single line `orderer start` prints on stderr before exiting with EXIT_CODES.cannotStart. */
export function cannotStartLine(err: unknown): string {
  // Multi-line causes (stack-like messages from libraries) would break the one-line contract.
  return `orderer: cannot start: ${errorMessage(err).replace(/\s*\n\s*/g, ' ')}`;
}

/** A file system error as a short phrase ("no such file", "permission denied"), else its message. */
export function fileProblem(err: unknown): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a folder, not a file';
    default:
      return errorMessage(err);
  }
}

/** The file a setting names, or a StartupError naming the setting, why, and `remedy`. */
export function readSettingFile(path: string, setting: string, remedy: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new StartupError(setting, `cannot read ${path || '(not set)'} (${fileProblem(err)})`, remedy);
  }
}
