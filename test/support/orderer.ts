// Starts a real orderer in-process for integration tests: Fabric's sample orderer.yaml plus
// ORDERER_* overrides, exactly as an operator would run it, on an ephemeral port and a temp ledger.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLocalConfig } from '../../src/config/index.js';
import { startOrderer, type RunningOrderer } from '../../src/server/orderer.js';
import { silentLogger } from '../../src/logging.js';
import { FIXTURES, CRYPTO } from './fabric-clients.js';
import { systemClock } from '../../src/clock.js';
import { freePort } from './ports.js';

export const ORDERER0_DIR = join(CRYPTO, 'ordererOrganizations/example.com/orderers/orderer0.example.com');

export interface TestOrderer {
  orderer: RunningOrderer;
  address: string;
  ledgerDir: string;
  env: Record<string, string>;
  stop(): Promise<void>;
  /** Stops and deletes the ledger folder. */
  destroy(): Promise<void>;
}

/**
 * A port reserved for this process. Fabric's config (and so ours) reads ListenPort 0 as "the
 * default, 7050", so tests cannot ask for an ephemeral port through orderer.yaml (see ports.ts).
 */
export { freePort };

export function ordererEnv(
  ledgerDir: string,
  overrides: Record<string, string> = {},
  port = 7050,
): Record<string, string> {
  return {
    FABRIC_CFG_PATH: join(FIXTURES, 'sampleconfig'),
    ORDERER_GENERAL_LISTENADDRESS: '127.0.0.1',
    ORDERER_GENERAL_LISTENPORT: String(port),
    // The sample config's fixed operations and admin ports would collide between test orderers.
    ORDERER_OPERATIONS_LISTENADDRESS: '127.0.0.1:0',
    ORDERER_ADMIN_LISTENADDRESS: '127.0.0.1:0',
    ORDERER_GENERAL_LOCALMSPDIR: join(ORDERER0_DIR, 'msp'),
    ORDERER_GENERAL_LOCALMSPID: 'OrdererMSP',
    ORDERER_GENERAL_BOOTSTRAPMETHOD: 'file',
    ORDERER_GENERAL_BOOTSTRAPFILE: join(FIXTURES, 'blocks/sys-solo.block'),
    ORDERER_FILELEDGER_LOCATION: ledgerDir,
    ...overrides,
  };
}

export async function startTestOrderer(
  options: { ledgerDir?: string; env?: Record<string, string> } = {},
): Promise<TestOrderer> {
  const ledgerDir = options.ledgerDir ?? mkdtempSync(join(tmpdir(), 'orderer-it-'));
  const env = ordererEnv(ledgerDir, options.env, await freePort());
  const loaded = loadLocalConfig({ env, cwd: process.cwd() });
  const orderer = await startOrderer(loaded.config, { logger: silentLogger(), clock: systemClock });
  return {
    orderer,
    address: `127.0.0.1:${orderer.port}`,
    ledgerDir,
    env,
    stop: () => orderer.stop(),
    async destroy() {
      await orderer.stop();
      rmSync(ledgerDir, { recursive: true, force: true });
    },
  };
}
