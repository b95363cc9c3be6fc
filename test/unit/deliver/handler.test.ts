// DeliverHandler on its own (no gRPC): a block is read from the ledger only after the previous one
// was taken by the stream, and a channel header timestamp outside any date is a BAD_REQUEST with a
// message saying so, never an INTERNAL_SERVER_ERROR. Real channel config (Fabric's appsolo genesis
// block, Readers policy) and real signatures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../../src/clock.js';
import { readConfigBlock } from '../../../src/channelconfig/index.js';
import { DeliverHandler, type DeliverChain } from '../../../src/deliver/index.js';
import type { BlockReader } from '../../../src/ledger/types.js';
import { CertificateExpiryCache } from '../../../src/msgprocessor/filters.js';
import { common, orderer } from '../../../src/protos/index.js';
import { channelResources } from '../../../src/server/orderer.js';
import {
  FIXTURES,
  HeaderType,
  loadIdentity,
  seekInfo,
  signedEnvelope,
} from '../../support/fabric-clients.js';
import { capturingLogger, deferred } from '../../support/solo.js';

const genesisBytes = readFileSync(join(FIXTURES, 'blocks/appsolo-genesis.block'));
const { channelId, configEnvelope } = readConfigBlock(common.Block.decode(genesisBytes));
const bundle = channelResources().createBundle(channelId, configEnvelope.config!);
const org1User = loadIdentity('org1User');
const HEIGHT = 5;

/** A ledger of HEIGHT blocks (each the genesis bytes) that records every read. */
function setup(channelBundle = bundle) {
  const reads: number[] = [];
  const reader: BlockReader = {
    channelId,
    height: () => HEIGHT,
    getBlock: (n) => {
      reads.push(n);
      return Promise.resolve(n < HEIGHT ? { number: n, bytes: genesisBytes } : undefined);
    },
    waitForBlock: () => new Promise(() => {}),
  };
  const chain: DeliverChain = {
    reader,
    bundle: () => channelBundle,
    errored: () => undefined,
    onStatusChange: () => () => {},
  };
  const { logger, lines } = capturingLogger();
  const handler = new DeliverHandler(
    { timeWindowMs: 15 * 60_000, mutualTls: false, noExpirationChecks: true },
    {
      chains: { getDeliverChain: (id) => (id === channelId ? chain : undefined) },
      clock: systemClock,
      logger,
      expiry: new CertificateExpiryCache(),
    },
  );
  return { handler, reads, lines };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

test('deliver handler: reads block n+1 only after the stream took block n', async () => {
  const { handler, reads } = setup();
  const taken: ReturnType<typeof deferred<void>>[] = [];
  const envelope = signedEnvelope(org1User, {
    type: HeaderType.DELIVER_SEEK_INFO,
    channelId,
    data: seekInfo('oldest', 'newest', 'block'),
  });
  const done = handler.handle(envelope, {
    signal: new AbortController().signal,
    sendBlock: () => {
      const d = deferred<void>();
      taken.push(d);
      return d.promise;
    },
  });
  for (let n = 0; n < HEIGHT; n++) {
    await settle();
    assert.deepEqual(
      reads,
      Array.from({ length: n + 1 }, (_, i) => i),
      `only blocks up to ${n} were read`,
    );
    assert.equal(taken.length, n + 1, `block ${n} is being sent, no block after it`);
    taken[n]!.resolve();
  }
  assert.equal(await done, common.Status.SUCCESS);
});

/** A seek envelope whose channel header timestamp has the given seconds (any int64). */
function envelopeWithSeconds(seconds: number): Buffer {
  const channelHeader = common.ChannelHeader.encode({
    type: HeaderType.DELIVER_SEEK_INFO,
    channelId,
    timestamp: { seconds, nanos: 0 },
  }).finish();
  const payload = common.Payload.encode({
    header: { channelHeader, signatureHeader: common.SignatureHeader.encode({}).finish() },
    data: seekInfo(0, 0, 'block'),
  }).finish();
  return Buffer.from(common.Envelope.encode({ payload, signature: Buffer.alloc(0) }).finish());
}

test('deliver handler: a timestamp outside any date is BAD_REQUEST with a message naming it', async () => {
  // -2^63 is what a client sending 2^63 puts on the wire; ±10^15 s is past ±275,760 years.
  for (const seconds of [-(2 ** 63), 2 ** 63 - 1024, 1e15, -1e15]) {
    const { handler, lines } = setup();
    const status = await handler.handle(envelopeWithSeconds(seconds), {
      signal: new AbortController().signal,
      sendBlock: () => Promise.reject(new Error('no block may be sent')),
    });
    assert.equal(status, common.Status.BAD_REQUEST, `seconds ${seconds}`);
    const logged = lines.find((line) => line.msg === 'deliver request ended with an error');
    assert.match(
      String(logged?.err),
      /^envelope timestamp -?\d+s 0ns since the epoch \(outside any date\) is more than 900s apart from current server time .*synchronize the client's clock/,
    );
  }
});

test('deliver handler: in maintenance mode only /Channel/Orderer/Readers may read (Fabric blocks peers there)', async () => {
  const config = common.Config.decode(common.Config.encode(configEnvelope.config!).finish());
  const value = config.channelGroup!.groups!.Orderer!.values!.ConsensusType!;
  const consensus = orderer.ConsensusType.decode(value.value!);
  consensus.state = orderer.ConsensusType.State.STATE_MAINTENANCE;
  value.value = orderer.ConsensusType.encode(consensus).finish();
  const maintenance = channelResources().createBundle(channelId, config);
  const statuses: Record<string, number> = {};
  for (const [name, reader] of [
    ['org1User', org1User],
    ['ordererAdmin', loadIdentity('ordererAdmin')],
  ] as const) {
    const { handler, lines } = setup(maintenance);
    statuses[name] = await handler.handle(
      signedEnvelope(reader, {
        type: HeaderType.DELIVER_SEEK_INFO,
        channelId,
        data: seekInfo(0, 0, 'block'),
      }),
      { signal: new AbortController().signal, sendBlock: () => Promise.resolve() },
    );
    if (name === 'org1User') {
      const logged = lines.find((line) => line.msg === 'deliver request ended with an error');
      assert.match(
        String(logged?.err),
        /access denied by policy \/Channel\/Orderer\/Readers of channel appsolo \(the channel is in maintenance mode, where only orderer-org readers may read blocks/,
      );
    }
  }
  assert.deepEqual(statuses, { org1User: common.Status.FORBIDDEN, ordererAdmin: common.Status.SUCCESS });
});
