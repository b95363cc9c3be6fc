// The small rules Fabric's msgprocessor combines into rule sets (orderer/common/msgprocessor).
import { X509Certificate } from 'node:crypto';
import { msp } from '../protos/index.js';
import { bytesKey } from '../lru.js';
import { badRequest, OrdererError } from '../errors.js';
import type { ReceivedEnvelope } from '../consensus/types.js';
import type { ChannelConfigBundle } from '../channelconfig/types.js';
import type { SignedData } from '../policies/types.js';
import type { Clock } from '../clock.js';

export type Rule = (env: ReceivedEnvelope) => void | Promise<void>;

/**
 * Runs the rules in order, the next only after the previous passed. Synchronous rules (most are)
 * cost no promise: when every rule is synchronous this returns undefined, else a promise.
 */
export function applyRules(rules: readonly Rule[], env: ReceivedEnvelope, from = 0): void | Promise<void> {
  for (let i = from; i < rules.length; i++) {
    const result = rules[i]!(env);
    if (result !== undefined) {
      return i + 1 === rules.length ? result : result.then(() => applyRules(rules, env, i + 1));
    }
  }
}

export const emptyRejectRule: Rule = (env) => {
  if (env.payload.length === 0)
    throw new OrdererError('empty-message', 'message was empty: send an envelope with a payload');
};

/** len(payload) + len(signature) must not exceed BatchSize.AbsoluteMaxBytes (equal passes). */
export function sizeFilter(bundle: () => ChannelConfigBundle): Rule {
  return (env) => {
    const max = bundle().orderer?.batchSize.absoluteMaxBytes ?? Infinity;
    const size = env.payload.length + env.signature.length;
    if (size > max) {
      throw badRequest(
        `message payload is ${size} bytes and exceeds maximum allowed ${max} bytes (BatchSize.AbsoluteMaxBytes of channel ${bundle().channelId}); split the transaction or raise the limit by a config update`,
        { size, max },
      );
    }
  };
}

/**
 * Reads a creator's certificate expiry without any MSP, as Fabric's crypto.ExpiresAt does: an identity
 * of an MSP that is not on the channel is rejected later by the signature policy, not here.
 * Cached by the serialized identity bytes (creators repeat).
 */
export class CertificateExpiryCache {
  private readonly cache = new Map<string, number | null>();
  /** The last creator looked up: consecutive envelopes of one creator skip the string key. */
  private last: { serialized: Buffer; expiresAt: number | null } | undefined;
  constructor(private readonly maxEntries = 10_000) {}

  /** ms since epoch, or undefined when the creator carries no parsable certificate. */
  expiresAt(serializedIdentity: Buffer): number | undefined {
    const last = this.last;
    if (last && last.serialized.equals(serializedIdentity)) return last.expiresAt ?? undefined;
    const key = bytesKey(serializedIdentity);
    let cached = this.cache.get(key);
    if (cached === undefined) {
      cached = parseExpiry(serializedIdentity);
      if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, cached);
    }
    this.last = { serialized: Buffer.from(serializedIdentity), expiresAt: cached };
    return cached ?? undefined;
  }
}

function parseExpiry(serializedIdentity: Buffer): number | null {
  try {
    const identity = msp.SerializedIdentity.decode(serializedIdentity);
    const cert = new X509Certificate(Buffer.from(identity.idBytes));
    return Date.parse(cert.validTo);
  } catch {
    return null;
  }
}

/** Rejects messages whose creator certificate has expired (skipped with NoExpirationChecks). */
export function expirationRejectRule(
  bundle: () => ChannelConfigBundle,
  clock: Clock,
  expiry: CertificateExpiryCache,
  kind: 'bad-request' | 'forbidden' = 'bad-request',
): Rule {
  return (env) => {
    const orderer = bundle().orderer;
    // Fabric enables ExpirationCheck with the V1_1 orderer capability, which every later one implies;
    // an orderer group with no capability at all predates it.
    if (orderer && orderer.capabilities.size === 0) return;
    const expiresAt = expiry.expiresAt(env.signatureHeader.creator as Buffer);
    if (expiresAt === undefined || clock.now() < expiresAt) return;
    throw new OrdererError(
      kind,
      `client identity expired at ${new Date(expiresAt).toISOString()}: enroll a new certificate (or set General.Authentication.NoExpirationChecks on the orderer to skip this check)`,
      { expiresAt },
    );
  };
}

export function envelopeAsSignedData(env: ReceivedEnvelope): SignedData[] {
  return [{ data: env.payload, identity: env.signatureHeader.creator as Buffer, signature: env.signature }];
}

/**
 * Checks the envelope's signature against a channel policy: /Channel/Writers normally, the orderer
 * writers policy while the channel is in maintenance mode. Failures are FORBIDDEN.
 */
export function sigFilter(
  normalPolicy: string,
  maintenancePolicy: string,
  bundle: () => ChannelConfigBundle,
): Rule {
  return (env) => {
    const current = bundle();
    const policyName = current.orderer?.consensusState === 'MAINTENANCE' ? maintenancePolicy : normalPolicy;
    const policy = current.policyManager.getPolicy(policyName);
    if (!policy) {
      throw new OrdererError(
        'permission-denied',
        `policy ${policyName} is not defined on channel ${current.channelId}`,
        { policy: policyName, channel: current.channelId },
      );
    }
    const denied = (err: unknown): never => {
      const reason = err instanceof Error ? err.message : String(err);
      throw new OrdererError('permission-denied', `access denied by policy ${policyName}: ${reason}`, {
        policy: policyName,
      });
    };
    let evaluated: Promise<void>;
    try {
      evaluated = policy.evaluateSignedData(envelopeAsSignedData(env));
    } catch (err) {
      return denied(err);
    }
    return evaluated.then(undefined, denied);
  };
}
