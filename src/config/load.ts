// Finding and reading orderer.yaml: the I/O shell around buildLocalConfig.

import fs from 'node:fs';
import nodePath from 'node:path';
import { parseDocument } from 'yaml';
import { buildLocalConfig } from './build.js';
import { ConfigError, type ConfigSource } from './errors.js';
import type { LoadedLocalConfig } from './types.js';

/** The file access the loader needs; tests and embedders may substitute their own. */
export interface ConfigFileSystem {
  readFile(path: string): string;
  /** 'file', 'directory', or undefined when nothing exists at the path. */
  kindOf(path: string): 'file' | 'directory' | undefined;
}

export const nodeConfigFileSystem: ConfigFileSystem = {
  readFile: (path) => fs.readFileSync(path, 'utf8'),
  kindOf: (path) => {
    const stats = fs.statSync(path, { throwIfNoEntry: false });
    if (!stats) return undefined;
    return stats.isDirectory() ? 'directory' : 'file';
  },
};

export interface LoadLocalConfigOptions {
  /** An orderer.yaml file, or a directory holding one. Relative paths are resolved against cwd. */
  configPath?: string;
  /** How configPath was given, for messages (default "the --config option"). */
  configPathOrigin?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  fileSystem?: ConfigFileSystem;
  /** See BuildLocalConfigOptions.strictEnv (default true). */
  strictEnv?: boolean;
}

// Fabric's viperutil looks for <name>.yaml, then <name>.yml, in each config directory.
const CONFIG_FILE_NAMES = ['orderer.yaml', 'orderer.yml'];

/**
 * Loads the orderer's local configuration: the explicit configPath (file or directory) if given,
 * else orderer.yaml in $FABRIC_CFG_PATH, else defaults only; then applies ORDERER_* overrides,
 * Fabric's defaults and path translation. Throws ConfigError listing every problem found.
 */
export function loadLocalConfig(options: LoadLocalConfigOptions): LoadedLocalConfig {
  const fileSystem = options.fileSystem ?? nodeConfigFileSystem;
  const cwd = nodePath.resolve(options.cwd);
  const configFile = locateConfigFile(options, cwd, fileSystem);

  let document: unknown;
  if (configFile !== undefined) {
    const source: ConfigSource = { kind: 'file', file: configFile };
    let text: string;
    try {
      text = fileSystem.readFile(configFile);
    } catch (err) {
      throw new ConfigError([{ key: '(file)', expected: `a readable file: ${errorText(err)}`, source }]);
    }
    // Fabric's configuration files use YAML merge keys (<<: *anchor); yaml.v2 always honours them.
    const parsed = parseDocument(text, { merge: true });
    if (parsed.errors.length > 0) {
      throw new ConfigError(
        parsed.errors.map((error) => ({
          key: '(YAML syntax)',
          expected: `valid YAML: ${error.message.trim()}`,
          source,
        })),
      );
    }
    document = parsed.toJS({ maxAliasCount: 1000 });
  }

  const built = buildLocalConfig({
    document,
    configFile,
    env: options.env,
    cwd,
    readFile: (path) => fileSystem.readFile(path),
    strictEnv: options.strictEnv ?? true,
  });
  return { config: built.config, configFile, configDir: built.configDir, warnings: built.warnings };
}

function locateConfigFile(
  options: LoadLocalConfigOptions,
  cwd: string,
  fileSystem: ConfigFileSystem,
): string | undefined {
  if (options.configPath !== undefined && options.configPath !== '') {
    const source: ConfigSource = { kind: 'option', name: options.configPathOrigin ?? 'the --config option' };
    const target = nodePath.resolve(cwd, options.configPath);
    const kind = fileSystem.kindOf(target);
    if (kind === 'file') return target;
    if (kind === 'directory') {
      const found = findIn(target, fileSystem);
      if (found) return found;
      throw new ConfigError([
        {
          key: 'config path',
          value: target,
          expected: `a directory holding ${CONFIG_FILE_NAMES.join(' or ')}`,
          source,
        },
      ]);
    }
    throw new ConfigError([
      {
        key: 'config path',
        value: target,
        expected: 'an existing orderer.yaml file or a directory holding one',
        source,
      },
    ]);
  }

  const fabricCfgPath = options.env.FABRIC_CFG_PATH;
  if (fabricCfgPath !== undefined && fabricCfgPath !== '') {
    const directory = nodePath.resolve(cwd, fabricCfgPath);
    const found = fileSystem.kindOf(directory) === 'directory' ? findIn(directory, fileSystem) : undefined;
    if (found) return found;
    throw new ConfigError([
      {
        key: 'FABRIC_CFG_PATH',
        value: fabricCfgPath,
        expected: `a directory holding ${CONFIG_FILE_NAMES.join(' or ')} (unset FABRIC_CFG_PATH to run on built-in defaults)`,
        source: { kind: 'env', variable: 'FABRIC_CFG_PATH' },
      },
    ]);
  }
  return undefined;
}

function findIn(directory: string, fileSystem: ConfigFileSystem): string | undefined {
  for (const name of CONFIG_FILE_NAMES) {
    const candidate = nodePath.join(directory, name);
    if (fileSystem.kindOf(candidate) === 'file') return candidate;
  }
  return undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
