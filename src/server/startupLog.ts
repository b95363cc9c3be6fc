// What the orderer logs about itself as it starts, as Fabric's does ("Starting <version>",
// "Orderer config values: ..."): the version, and the effective configuration after orderer.yaml,
// ORDERER_* overrides and defaults, with every secret left out, so that a log is enough to see
// which settings a running orderer had without leaking what would let someone impersonate it.
import type { LocalConfig } from '../config/index.js';
import type { Logger } from '../logging.js';
import { FABRIC_COMPATIBILITY, type VersionInfo } from '../version.js';

export const REDACTED = '<redacted>';

/** Keys whose values are secrets whatever they hold (Kafka.SASLPlain.Password and the like). */
const SECRET_KEY = /password|passphrase|secret|token/i;
/** Keys that hold a private key: a file path (shown) or the key itself inline (Kafka.TLS.PrivateKey). */
const PRIVATE_KEY_KEY = /privatekey/i;
/** Key material, wherever it appears (a PEM block pasted into any setting). */
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

function redactValue(key: string, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => redactValue(key, item));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(k, v)]));
  }
  if (typeof value !== 'string' || value === '') return value;
  if (SECRET_KEY.test(key) || PEM_PRIVATE_KEY.test(value)) return REDACTED;
  // A path names where the key is and is what an operator needs to check; anything that is not a
  // single-line path may be the key itself.
  if (PRIVATE_KEY_KEY.test(key) && (/[\r\n]/.test(value) || value.includes('-----'))) return REDACTED;
  return value;
}

/**
 * A copy of the configuration for logging: passwords, SASL secrets and inline private keys are
 * "<redacted>"; empty values stay empty, so the log still shows that a secret is unset.
 */
export function redactedConfig(config: LocalConfig): Record<string, unknown> {
  return redactValue('', config) as Record<string, unknown>;
}

/** The first start-up line, as Fabric's "Starting <version info>". */
export function logVersion(logger: Logger, version: VersionInfo): void {
  logger.info(
    {
      version: version.version,
      commit: version.commit,
      fabricCompatibility: `v${FABRIC_COMPATIBILITY}`,
      node: process.version,
      platform: `${process.platform}/${process.arch}`,
    },
    `starting orderer ${version.version}`,
  );
}

/**
 * The effective configuration, as Fabric's "Orderer config values", secrets redacted. Logged by
 * startOrderer, so dev mode's generated configuration is in the log too.
 */
export function logConfiguration(logger: Logger, config: LocalConfig): void {
  logger.info({ config: redactedConfig(config) }, 'effective configuration');
}
