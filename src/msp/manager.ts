import { badRequest, forbidden } from '../errors.js';
import { msp as mspProto } from '../protos/index.js';
import { bytesKey, LruCache } from '../lru.js';
import { mspFromConfig, type FabricMspOptions } from './fabricMsp.js';
import type { Identity, MSP, MSPManager } from './types.js';

export interface ChannelMspManagerOptions {
  /** For messages: "MSP Org3MSP is not defined on channel mychannel". */
  readonly channelId: string;
  /** Identities kept by serialized bytes. Default 10 000. */
  readonly cacheSize?: number;
}

/**
 * The MSPs of one channel. deserializeIdentity looks the creator up by its serialized bytes
 * first, so a repeat creator costs one Map lookup (validation results live on the Identity).
 */
export class ChannelMspManager implements MSPManager {
  readonly msps: ReadonlyMap<string, MSP>;
  private readonly cache: LruCache<string, Identity>;
  /** The last identity returned: consecutive envelopes of one creator skip the string key. */
  private last: { serialized: Buffer; identity: Identity } | undefined;

  constructor(
    private readonly options: ChannelMspManagerOptions,
    dependencies: { msps: Iterable<MSP> },
  ) {
    const msps = new Map<string, MSP>();
    for (const m of dependencies.msps) {
      if (msps.has(m.id)) throw badRequest(`MSP ${m.id} is defined twice on channel ${options.channelId}`);
      msps.set(m.id, m);
    }
    this.msps = msps;
    this.cache = new LruCache(options.cacheSize ?? 10_000);
  }

  /** Builds every MSP from the msp.MSPConfig values of a channel config. */
  static fromConfigs(
    options: ChannelMspManagerOptions & FabricMspOptions,
    configs: Iterable<mspProto.IMSPConfig>,
  ): ChannelMspManager {
    return new ChannelMspManager(options, { msps: [...configs].map((c) => mspFromConfig(c, options)) });
  }

  deserializeIdentity(serialized: Buffer): Identity {
    const last = this.last;
    if (last && last.serialized.equals(serialized)) return last.identity;
    const key = bytesKey(serialized);
    const cached = this.cache.get(key);
    if (cached) {
      this.last = { serialized: Buffer.from(serialized), identity: cached };
      return cached;
    }
    let mspId: string;
    try {
      mspId = mspProto.SerializedIdentity.decode(serialized).mspid;
    } catch (err) {
      throw badRequest(`could not deserialize a SerializedIdentity: ${(err as Error).message}`);
    }
    const msp = this.msps.get(mspId);
    if (!msp) {
      throw forbidden(
        `MSP ${mspId || '(empty)'} is not defined on channel ${this.options.channelId}; defined: ${[...this.msps.keys()].join(', ') || 'none'}. Add the organization to the channel config or sign with an identity of a member organization`,
        { mspId, channelId: this.options.channelId },
      );
    }
    const identity = msp.deserializeIdentity(serialized);
    this.cache.set(key, identity);
    this.last = { serialized: Buffer.from(serialized), identity };
    return identity;
  }
}
