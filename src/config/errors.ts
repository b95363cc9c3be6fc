import { OrdererError } from '../errors.js';

/** Where a configuration value came from, so that an operator knows which line or variable to fix. */
export type ConfigSource =
  | { kind: 'file'; file: string }
  | { kind: 'env'; variable: string }
  | { kind: 'option'; name: string }
  | { kind: 'default' };

export interface ConfigProblem {
  /** The key path as in orderer.yaml ("General.ListenPort"), or the variable name for an unknown variable. */
  key: string;
  /** The offending value as given (secrets are replaced by "<redacted>"); absent for unknown keys. */
  value?: string;
  /** What would have been accepted, or what to do. */
  expected: string;
  source: ConfigSource;
}

export function describeSource(source: ConfigSource): string {
  switch (source.kind) {
    case 'file':
      return `in ${source.file}`;
    case 'env':
      return `from environment variable ${source.variable}`;
    case 'option':
      return `from ${source.name}`;
    case 'default':
      return 'from the built-in defaults';
  }
}

export function describeProblem(problem: ConfigProblem): string {
  if (problem.source.kind === 'env' && problem.source.variable === problem.key) {
    return `environment variable ${problem.key}: ${problem.expected}`;
  }
  const value = problem.value === undefined ? '' : ` = ${JSON.stringify(problem.value)}`;
  return `${problem.key}${value} (${describeSource(problem.source)}): ${problem.expected}`;
}

/**
 * Start-up stops with one ConfigError listing every problem found in orderer.yaml and the ORDERER_*
 * environment, so an operator can fix them all in one go.
 */
export class ConfigError extends OrdererError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], options?: ErrorOptions) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(
      'bad-request',
      `orderer configuration has ${count}; fix orderer.yaml or the ORDERER_* environment variables:\n` +
        problems.map((problem) => `  - ${describeProblem(problem)}`).join('\n'),
      { problems },
      options,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
