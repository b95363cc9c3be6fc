// Every way a Deliver request can fail answers with the common.Status of an error code from the
// one table (src/status.ts): unknown channel and missing blocks NOT_FOUND, a refused or expired
// client FORBIDDEN, a malformed request BAD_REQUEST, an errored chain SERVICE_UNAVAILABLE (STRICT),
// and a failure no code classifies INTERNAL_SERVER_ERROR. Real channel config (Fabric's appsolo
// genesis block, Readers policy) and real signatures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../../src/clock.js';
import { readConfigBlock } from '../../../src/channelconfig/index.js';
import { DeliverHandler, type DeliverChain } from '../../../src/deliver/index.js';
import type { BlockReader } from '../../../src/ledger/types.js';
import { CertificateExpiryCache } from '../../../src/msgprocessor/filters.js';
import { common } from '../../../src/protos/index.js';
import { STATUS_BY_CODE } from '../../../src/status.js';
import type { ErrorCode } from '../../../src/errors.js';
import { channelResources } from '../../../src/server/orderer.js';
import {
  FIXTURES,
  HeaderType,
  loadIdentity,
  seekInfo,
  signedEnvelope,
} from '../../support/fabric-clients.js';
import { capturingLogger } from '../../support/solo.js';

const genesisBytes = readFileSync(join(FIXTURES, 'blocks/appsolo-genesis.block'));
const { channelId, configEnvelope } = readConfigBlock(common.Block.decode(genesisBytes));
const bundle = channelResources().createBundle(channelId, configEnvelope.config!);
const org1User = loadIdentity('org1User');
const HEIGHT = 3;
const S = common.Status;

interface Setup {
  /** Heights below HEIGHT the ledger has lost (getBlock answers undefined). */
  missing?: number[];
  errored?: Error;
  mutualTls?: boolean;
  expiryChecks?: boolean;
  /** Milliseconds since the epoch on the handler's clock (and in the request's timestamp). */
  nowMs?: number;
  sendBlock?: () => Promise<void>;
}

/** The status the request is answered with, and the code of the error logged with it. */
async function answer(
  request: (nowMs: number) => Buffer,
  options: Setup = {},
): Promise<{ status: number; code: unknown }> {
  const nowMs = options.nowMs ?? Date.now();
  const reader: BlockReader = {
    channelId,
    height: () => HEIGHT,
    getBlock: (n) =>
      Promise.resolve(
        n < HEIGHT && !options.missing?.includes(n) ? { number: n, bytes: genesisBytes } : undefined,
      ),
    waitForBlock: () => new Promise(() => {}),
  };
  const chain: DeliverChain = {
    reader,
    bundle: () => bundle,
    errored: () => options.errored,
    onStatusChange: () => () => {},
  };
  const { logger, lines } = capturingLogger();
  const handler = new DeliverHandler(
    {
      timeWindowMs: 15 * 60_000,
      mutualTls: options.mutualTls ?? false,
      noExpirationChecks: !options.expiryChecks,
    },
    {
      chains: { getDeliverChain: (id) => (id === channelId ? chain : undefined) },
      clock: new ManualClock(nowMs),
      logger,
      expiry: new CertificateExpiryCache(),
    },
  );
  const status = await handler.handle(request(nowMs), {
    signal: new AbortController().signal,
    sendBlock: options.sendBlock ?? (() => Promise.resolve()),
  });
  const logged = lines.find((line) => line.msg === 'deliver request ended with an error');
  return { status, code: logged?.['code'] };
}

const seek =
  (data: Buffer, channel = channelId) =>
  (nowMs: number) =>
    signedEnvelope(org1User, {
      type: HeaderType.DELIVER_SEEK_INFO,
      channelId: channel,
      data,
      timestampMs: nowMs,
    });

/** The same request with its signature spoiled: the Readers policy refuses it. */
const badlySigned = (data: Buffer) => (nowMs: number) => {
  const env = common.Envelope.decode(seek(data)(nowMs));
  const signature = Buffer.from(env.signature);
  signature[signature.length - 1]! ^= 0xff;
  return Buffer.from(common.Envelope.encode({ payload: env.payload, signature }).finish());
};

const certificateExpiry = new CertificateExpiryCache().expiresAt(org1User.serialized)!;

// [what fails, the request, the setup, the code it fails with]
const cases: [string, (nowMs: number) => Buffer, Setup, ErrorCode][] = [
  ['a channel this orderer does not have', seek(seekInfo(0, 0), 'nosuchchannel'), {}, 'channel-not-found'],
  [
    'a block above the height with FAIL_IF_NOT_READY',
    seek(seekInfo(HEIGHT, HEIGHT, 'fail')),
    {},
    'block-not-found',
  ],
  ['a block the ledger no longer has', seek(seekInfo(0, 2)), { missing: [1] }, 'block-not-found'],
  ['a signature the Readers policy refuses', badlySigned(seekInfo(0, 0)), {}, 'permission-denied'],
  [
    'an expired client certificate',
    seek(seekInfo(0, 0)),
    { expiryChecks: true, nowMs: certificateExpiry + 1000 },
    'identity-expired',
  ],
  ['data that is not a SeekInfo', seek(Buffer.from([0xff, 0xff])), {}, 'bad-request'],
  ['bytes that are not an envelope', () => Buffer.from([0xff, 0xff, 0xff]), {}, 'bad-request'],
  ['no TLS certificate hash under mutual TLS', seek(seekInfo(0, 0)), { mutualTls: true }, 'bad-request'],
  [
    'an errored chain asked STRICT',
    seek(seekInfo(0, 0, 'block', 'strict')),
    { errored: new Error('consenter failed') },
    'unavailable',
  ],
  [
    'a failure no code classifies',
    seek(seekInfo(0, 0)),
    { sendBlock: () => Promise.reject(new Error('a bug')) },
    'internal',
  ],
];

for (const [what, request, setup, code] of cases) {
  test(`deliver: ${what} answers ${S[STATUS_BY_CODE[code].common]} (${code})`, async () => {
    const answered = await answer(request, setup);
    assert.equal(answered.code, code);
    assert.equal(answered.status, STATUS_BY_CODE[code].common);
  });
}

test('deliver: the statuses of those codes are what Fabric answers', () => {
  assert.equal(STATUS_BY_CODE['channel-not-found'].common, S.NOT_FOUND);
  assert.equal(STATUS_BY_CODE['block-not-found'].common, S.NOT_FOUND);
  assert.equal(STATUS_BY_CODE['permission-denied'].common, S.FORBIDDEN);
  assert.equal(STATUS_BY_CODE['identity-expired'].common, S.FORBIDDEN);
  assert.equal(STATUS_BY_CODE['bad-request'].common, S.BAD_REQUEST);
  assert.equal(STATUS_BY_CODE.unavailable.common, S.SERVICE_UNAVAILABLE);
  assert.equal(STATUS_BY_CODE.internal.common, S.INTERNAL_SERVER_ERROR);
});

test('deliver: the same request succeeds when nothing fails', async () => {
  assert.deepEqual(await answer(seek(seekInfo(0, 2))), { status: S.SUCCESS, code: undefined });
  assert.deepEqual(
    await answer(seek(seekInfo(0, 0)), { expiryChecks: true, nowMs: certificateExpiry - 60_000 }),
    { status: S.SUCCESS, code: undefined },
  );
});
