// One builder for the unit tests that need a real ChainSupport: a channel's genesis block (Fabric's
// own bytes) in a memory ledger, the bundle parsed from it, a manual clock and a block cutter on
// that clock. Each test supplies only what it looks at (the signer, a store that can fail, the
// commit and config callbacks).
import pino from 'pino';
import { ManualClock } from '../../src/clock.js';
import { BlockCutter } from '../../src/blockcutter/index.js';
import { readConfigBlock } from '../../src/channelconfig/index.js';
import { MemoryBlockStore } from '../../src/ledger/index.js';
import { CertificateExpiryCache } from '../../src/msgprocessor/index.js';
import { ChainSupport, type ChainSupportDeps } from '../../src/multichannel/chainsupport.js';
import { channelResources } from '../../src/server/orderer.js';
import { common } from '../../src/protos/index.js';
import type { BlockStore } from '../../src/ledger/types.js';
import type { SigningIdentity } from '../../src/msp/types.js';

export interface ChainSupportSetup {
  /** Signs the blocks written here; a stand-in with only an MSP ID is enough when none is written. */
  signer?: SigningIdentity;
  /** Wraps the memory ledger (already holding the genesis block), e.g. to fail appends as a full disk. */
  wrapStore?: (store: MemoryBlockStore) => BlockStore;
  onBlockCommitted?: ChainSupportDeps['onBlockCommitted'];
  onConfigApplied?: ChainSupportDeps['onConfigApplied'];
  /** Consensus types the maintenance filter lets the channel migrate to (none by default). */
  migrationTargets?: ReadonlySet<string>;
}

export interface ChainSupportFixture {
  support: ChainSupport;
  /** The memory ledger under any wrapper. */
  store: MemoryBlockStore;
  genesis: common.Block;
  clock: ManualClock;
  resources: ReturnType<typeof channelResources>;
}

/** A ChainSupport of an application channel whose ledger holds `genesisBytes` as block 0. */
export async function buildChainSupport(
  genesisBytes: Buffer,
  setup: ChainSupportSetup = {},
): Promise<ChainSupportFixture> {
  const genesis = common.Block.decode(genesisBytes);
  const { channelId, configEnvelope } = readConfigBlock(genesis);
  const store = new MemoryBlockStore({ channelId });
  await store.append({ number: 0, bytes: genesisBytes });
  const resources = channelResources();
  const clock = new ManualClock();
  const support = new ChainSupport(
    {
      channelId,
      isSystemChannel: false,
      noExpirationChecks: true,
      ...(setup.migrationTargets ? { migrationTargets: setup.migrationTargets } : {}),
    },
    {
      store: setup.wrapStore ? setup.wrapStore(store) : store,
      signer: setup.signer ?? ({ mspId: 'OrdererMSP' } as SigningIdentity),
      clock,
      logger: pino({ level: 'silent' }),
      bundle: resources.createBundle(channelId, configEnvelope.config ?? {}),
      lastBlock: genesis,
      lastConfigBlockNumber: 0,
      resources,
      expiry: new CertificateExpiryCache(),
      createBlockCutter: (batchSize) => new BlockCutter({ batchSize }, { clock }),
      ...(setup.onBlockCommitted ? { onBlockCommitted: setup.onBlockCommitted } : {}),
      ...(setup.onConfigApplied ? { onConfigApplied: setup.onConfigApplied } : {}),
    },
  );
  return { support, store, genesis, clock, resources };
}
