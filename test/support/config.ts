// Helpers for tests that need an orderer local configuration (orderer.yaml + ORDERER_* overrides).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadLocalConfig, type LoadedLocalConfig } from '../../src/config/index.js';
import { FABRIC_FIXTURES } from './fabric-fixtures.js';

/** Fabric v2.5.12's own sampleconfig directory (holds orderer.yaml; read-only). */
export const fabricSampleConfigDir = `${FABRIC_FIXTURES}/sampleconfig/`;

export interface TempConfigDir {
  dir: string;
  /** Writes a file relative to dir (creating parent directories) and returns its absolute path. */
  write(relativePath: string, content: string): string;
  remove(): void;
}

export function makeTempConfigDir(prefix = 'orderer-config-'): TempConfigDir {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  return {
    dir,
    write(relativePath, content) {
      const target = path.join(dir, relativePath);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, content);
      return target;
    },
    remove() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fabric's sample configuration with the given ORDERER_* overrides, as an orderer would load it. */
export function loadSampleLocalConfig(env: NodeJS.ProcessEnv = {}, cwd = os.tmpdir()): LoadedLocalConfig {
  return loadLocalConfig({ env: { FABRIC_CFG_PATH: fabricSampleConfigDir, ...env }, cwd });
}
