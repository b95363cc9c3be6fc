// Channel config updates over gRPC on a ledger the Go orderer wrote: rejected updates answer
// BAD_REQUEST naming the cause and leave the channel working; Deliver sessions are re-checked when
// the config moves. Those client-facing checks run on ours and on Fabric v2.5.12's orderer
// (test/support/both-orderers.ts), each started on the same ledger. Ours-only, on an in-process
// orderer: a message validated under an older config is re-validated before it is ordered, and a
// config block whose last_update does not produce its config is never written (internals Fabric
// offers no client a way to reach).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readConfigBlock } from '../../src/channelconfig/index.js';
import { asBuffer, common, msp, orderer, toNumber } from '../../src/protos/index.js';
import { OrganizationCrypto } from '../../src/crypto/certgen.js';
import { parsePolicy } from '../../src/policies/index.js';
import {
  createSignedEnvelope,
  decodeEnvelope,
  HeaderType as ProtoHeaderType,
} from '../../src/protoutil/envelope.js';
import {
  HeaderType,
  atomicBroadcastClient,
  broadcastAll,
  loadIdentity,
  seekInfo,
  serializeIdentity,
  signLowS,
  signedEnvelope,
  type ClientIdentity,
  deliverOnce,
} from '../support/fabric-clients.js';
import { configUpdateEnvelope } from '../support/config-update.js';
import { goldenBlocks, writeGoOrdererLedger } from '../support/ledger.js';
import { startTestOrderer, type TestOrderer } from '../support/orderer.js';
import {
  ORDERER_KINDS,
  skipWithout,
  startOrdererUnderTest,
  type OrdererUnderTest,
} from '../support/both-orderers.js';
import { systemClock } from '../../src/clock.js';

const CHANNEL = 'mychannel';
const org1Admin = loadIdentity('org1Admin');
const org1User = loadIdentity('org1User');
const org2Admin = loadIdentity('org2Admin');
const org2User = loadIdentity('org2User');
const ordererAdmin = loadIdentity('ordererAdmin');

/** An admin of Org3MSP, an organization that is not a member of mychannel. */
function org3AdminIdentity(): ClientIdentity {
  const org3 = new OrganizationCrypto({ clock: systemClock, mspId: 'Org3MSP', domain: 'org3.example.com' });
  const admin = org3.issue('Admin@org3.example.com', 'admin');
  const certPem = Buffer.from(admin.signer.certPem);
  return {
    mspId: 'Org3MSP',
    certPem,
    key: admin.signer.privateKey,
    serialized: serializeIdentity('Org3MSP', certPem),
    dir: '',
    sign: (data) => signLowS(admin.signer.privateKey, data),
  };
}

/** deliverOnce with the blocks decoded. */
async function deliverDecoded(...args: Parameters<typeof deliverOnce>) {
  const { status, blocks } = await deliverOnce(...args);
  return { status, blocks: blocks.map((bytes) => common.Block.decode(bytes)) };
}

function seek(
  reader: ClientIdentity,
  start: Parameters<typeof seekInfo>[0],
  stop: Parameters<typeof seekInfo>[1],
) {
  return signedEnvelope(reader, {
    type: HeaderType.DELIVER_SEEK_INFO,
    channelId: CHANNEL,
    data: seekInfo(start, stop),
  });
}

function txIdsOf(block: common.Block): string[] {
  return block.data!.data!.map(
    (d) =>
      common.ChannelHeader.decode(
        asBuffer(common.Payload.decode(asBuffer(common.Envelope.decode(d).payload)).header!.channelHeader),
      ).txId,
  );
}

function headerTypeOf(block: common.Block): number {
  const payload = common.Payload.decode(asBuffer(common.Envelope.decode(block.data!.data![0]!).payload));
  return common.ChannelHeader.decode(asBuffer(payload.header!.channelHeader)).type;
}

type Element = { kind: 'value'; value: Uint8Array } | { kind: 'policy'; policy: common.IPolicy };

/**
 * The ConfigUpdate configtxlator compute_update gives for setting one value or policy of the group at
 * `path`: each group on the path at its current version in both sets, the element at version + 1.
 */
function setElement(
  config: common.IConfig,
  path: string[],
  key: string,
  element: Element,
): common.IConfigUpdate {
  let source = config.channelGroup!;
  const readSet: common.IConfigGroup = { version: toNumber(source.version) };
  const writeSet: common.IConfigGroup = { version: toNumber(source.version) };
  let read = readSet;
  let write = writeSet;
  for (const name of path) {
    source = source.groups![name]!;
    const r: common.IConfigGroup = { version: toNumber(source.version) };
    const w: common.IConfigGroup = { version: toNumber(source.version) };
    read.groups = { [name]: r };
    write.groups = { [name]: w };
    read = r;
    write = w;
  }
  if (element.kind === 'value') {
    const current = source.values![key]!;
    write.values = {
      [key]: { version: toNumber(current.version) + 1, modPolicy: current.modPolicy, value: element.value },
    };
  } else {
    const current = source.policies![key]!;
    write.policies = {
      [key]: { version: toNumber(current.version) + 1, modPolicy: current.modPolicy, policy: element.policy },
    };
  }
  return { channelId: CHANNEL, readSet, writeSet };
}

function batchSize(
  maxMessageCount: number,
  absoluteMaxBytes = 10 * 1024 * 1024,
  preferredMaxBytes = 2 * 1024 * 1024,
) {
  return orderer.BatchSize.encode({ maxMessageCount, absoluteMaxBytes, preferredMaxBytes }).finish();
}

/** The ledger both kinds start on: the golden system channel, and mychannel up to golden block 1. */
async function writeGoldenLedger(ledgerDir: string): Promise<void> {
  await writeGoOrdererLedger(ledgerDir, 'system-channel', await goldenBlocks('system-channel'));
  await writeGoOrdererLedger(ledgerDir, CHANNEL, (await goldenBlocks(CHANNEL)).slice(0, 2));
}

/**
 * mychannel as a client sees it through Broadcast and Deliver: its height, its current config (the
 * one of the last config block applied here, golden block 0's to begin with), config updates and
 * a check that the channel still orders.
 */
function channelSession(client: ReturnType<typeof atomicBroadcastClient>, genesis: common.Block) {
  let config = readConfigBlock(genesis).configEnvelope.config!;

  /** The number of mychannel's newest block, plus one. */
  async function height(): Promise<number> {
    const { status, blocks } = await deliverDecoded(client, seek(org1User, 'newest', 'newest'));
    assert.equal(status, 200);
    return toNumber(blocks[0]!.header!.number) + 1;
  }

  return {
    height,
    currentConfig: () => config,
    /** Broadcasts a config update and returns its config block, whose config is current from then on. */
    async applyUpdate(envelope: Buffer): Promise<common.Block> {
      const number = await height();
      assert.deepEqual(await broadcastAll(client, [envelope]), [{ status: 200, info: '' }]);
      const { status, blocks } = await deliverDecoded(client, seek(org1User, number, number));
      assert.equal(status, 200);
      assert.equal(headerTypeOf(blocks[0]!), HeaderType.CONFIG);
      config = readConfigBlock(blocks[0]!).configEnvelope.config!;
      return blocks[0]!;
    },
    /**
     * A normal transaction is accepted and delivered alone in the next block (MaxMessageCount is 1
     * here): the channel orders, and no block (no config block) was written since `height`.
     */
    async assertChannelWorks(txId: string): Promise<void> {
      const number = await height();
      const [response] = await broadcastAll(client, [signedEnvelope(org1User, { channelId: CHANNEL, txId })]);
      assert.deepEqual(response, { status: 200, info: '' });
      const { status, blocks } = await deliverDecoded(client, seek(org1User, number, number));
      assert.equal(status, 200);
      assert.deepEqual(txIdsOf(blocks[0]!), [txId]);
    },
  };
}

/** Sets MaxMessageCount 1, so that every check sees its transaction in a block at once. */
async function oneTransactionPerBlock(session: ReturnType<typeof channelSession>): Promise<void> {
  const block = await session.applyUpdate(
    configUpdateEnvelope(
      CHANNEL,
      setElement(session.currentConfig(), ['Orderer'], 'BatchSize', { kind: 'value', value: batchSize(1) }),
      [ordererAdmin],
    ),
  );
  const written = readConfigBlock(block).configEnvelope.config!.channelGroup!.groups!.Orderer!.values!;
  assert.equal(orderer.BatchSize.decode(asBuffer(written.BatchSize!.value)).maxMessageCount, 1);
}

/**
 * A BatchSize update without the signatures /Channel/Orderer/Admins needs. Fabric's info names the
 * element and the unsatisfied implicit policy ("... requires 1 of the 'Admins' sub-policies to be
 * satisfied"); ours adds which policy, and whose signatures the update carries.
 */
const BATCH_SIZE_POLICY_NOT_SATISFIED =
  /error applying config update to existing channel 'mychannel': .*policy for \[Value\]\s+\/Channel\/Orderer\/BatchSize not satisfied/;

for (const kind of ORDERER_KINDS)
  describe(`config updates over gRPC (${kind})`, () => {
    // On each test rather than the suite: Node 20 counts the tests of a skipped suite nowhere.
    const skip = skipWithout(kind);
    let node: OrdererUnderTest;
    let client: ReturnType<typeof atomicBroadcastClient>;
    let session: ReturnType<typeof channelSession>;
    const org3Admin = org3AdminIdentity();
    const currentConfig = () => session.currentConfig();

    before(async () => {
      if (skip) return;
      node = await startOrdererUnderTest(kind, { ledger: writeGoldenLedger });
      client = atomicBroadcastClient(node.address);
      session = channelSession(client, common.Block.decode((await goldenBlocks(CHANNEL))[0]!));
      await oneTransactionPerBlock(session);
    });

    after(async () => {
      client?.close();
      await node?.stop();
    });

    /**
     * info: what the info says on both orderers (Fabric's words, or the part ours shares with them).
     * oursInfo: ours goes beyond Fabric (spec §8: clear, actionable messages for opaque policy and
     * read-set failures): the cause named more precisely, with what to do. Asserted on ours only.
     */
    const rejected: { name: string; envelope: () => Buffer; info: RegExp; oursInfo?: RegExp }[] = [
      {
        name: 'a stale read set (computed before BatchSize moved to version 1)',
        envelope: () => {
          const update = setElement(currentConfig(), ['Orderer'], 'BatchSize', {
            kind: 'value',
            value: batchSize(5),
          });
          update.readSet!.groups!.Orderer!.values = { BatchSize: { version: 0 } };
          update.writeSet!.groups!.Orderer!.values!.BatchSize!.version = 1;
          return configUpdateEnvelope(CHANNEL, update, [ordererAdmin]);
        },
        info: /error applying config update to existing channel 'mychannel': error authorizing update: error validating ReadSet: .*\/Channel\/Orderer\/BatchSize .*version 0.* version 1/,
        oursInfo:
          /read set of \/Channel\/Orderer\/BatchSize is at version 0 but the channel has version 1: fetch the latest config block and recompute the update/,
      },
      {
        name: 'an empty delta (the write set changes nothing)',
        envelope: () => {
          const update = setElement(currentConfig(), ['Orderer'], 'BatchSize', {
            kind: 'value',
            value: batchSize(5),
          });
          update.writeSet!.groups!.Orderer!.values = {};
          return configUpdateEnvelope(CHANNEL, update, [ordererAdmin]);
        },
        info: /error validating DeltaSet: delta set was empty -- update would have no effect/,
      },
      {
        name: 'a BatchSize change without the orderer admin signature',
        envelope: () =>
          configUpdateEnvelope(
            CHANNEL,
            setElement(currentConfig(), ['Orderer'], 'BatchSize', { kind: 'value', value: batchSize(5) }),
            [org1Admin],
          ),
        info: BATCH_SIZE_POLICY_NOT_SATISFIED,
        oursInfo:
          /policy for \[Value\]\s+\/Channel\/Orderer\/BatchSize not satisfied: changing .*requires policy \/Channel\/Orderer\/Admins.*the update carries 1 signature\(s\), from Org1MSP 'Admin@org1.example.com'/,
      },
      {
        name: 'a signature from an organization that is not on the channel',
        envelope: () =>
          configUpdateEnvelope(
            CHANNEL,
            setElement(currentConfig(), ['Orderer'], 'BatchSize', { kind: 'value', value: batchSize(5) }),
            [org3Admin],
            org1Admin,
          ),
        info: BATCH_SIZE_POLICY_NOT_SATISFIED,
        oursInfo:
          /requires policy \/Channel\/Orderer\/Admins.*MSP Org3MSP is not defined on channel mychannel/,
      },
      {
        name: 'an update for another channel',
        envelope: () => {
          const update = setElement(currentConfig(), ['Orderer'], 'BatchSize', {
            kind: 'value',
            value: batchSize(5),
          });
          update.channelId = 'otherchannel';
          return configUpdateEnvelope(CHANNEL, update, [ordererAdmin]);
        },
        info: /ConfigUpdate for channel 'otherchannel' but envelope for channel 'mychannel'/,
      },
      {
        name: "a change of an organization's MSP ID",
        envelope: () => {
          const org1 = currentConfig().channelGroup!.groups!.Application!.groups!.Org1MSP!;
          const mspConfig = msp.MSPConfig.decode(asBuffer(org1.values!.MSP!.value));
          const fabric = msp.FabricMSPConfig.decode(asBuffer(mspConfig.config));
          fabric.name = 'Org1MSPRenamed';
          const value = msp.MSPConfig.encode({
            type: mspConfig.type,
            config: msp.FabricMSPConfig.encode(fabric).finish(),
          }).finish();
          return configUpdateEnvelope(
            CHANNEL,
            setElement(currentConfig(), ['Application', 'Org1MSP'], 'MSP', { kind: 'value', value }),
            [org1Admin],
          );
        },
        info: /org Org1MSP attempted to change MSP ID from Org1MSP to Org1MSPRenamed/,
      },
      {
        name: 'the removal of the Orderer group',
        envelope: () => {
          const channel = currentConfig().channelGroup!;
          const members = (version: number): common.IConfigGroup => ({
            version,
            groups: { Application: { version: toNumber(channel.groups!.Application!.version) } },
            values: Object.fromEntries(
              Object.entries(channel.values!).map(([k, v]) => [k, { version: toNumber(v.version) }]),
            ),
            policies: Object.fromEntries(
              Object.entries(channel.policies!).map(([k, v]) => [k, { version: toNumber(v.version) }]),
            ),
          });
          const writeSet = { ...members(toNumber(channel.version) + 1), modPolicy: channel.modPolicy };
          return configUpdateEnvelope(
            CHANNEL,
            { channelId: CHANNEL, readSet: members(toNumber(channel.version)), writeSet },
            [org1Admin, org2Admin, ordererAdmin],
          );
        },
        // Fabric: "config update is not compatible: config does not contain orderer config".
        info: /error applying config update to existing channel 'mychannel': .*orderer (section|config)/,
        oursInfo:
          /current config has orderer section, but new config does not: the update removes \/Channel\/Orderer, which is not allowed/,
      },
      {
        name: 'BatchSize.PreferredMaxBytes greater than AbsoluteMaxBytes',
        envelope: () =>
          configUpdateEnvelope(
            CHANNEL,
            setElement(currentConfig(), ['Orderer'], 'BatchSize', {
              kind: 'value',
              value: batchSize(1, 1024 * 1024, 2 * 1024 * 1024),
            }),
            [ordererAdmin],
          ),
        // Fabric: "Attempted to set the batch size preferred max bytes (2097152) greater than the
        // absolute max bytes (1048576)."
        info: /error applying config update to existing channel 'mychannel': .*\(2097152\).*greater than.*\(1048576\)/,
        oursInfo:
          /\/Channel\/Orderer\/BatchSize: BatchSize.PreferredMaxBytes \(2097152\) is greater than BatchSize.AbsoluteMaxBytes \(1048576\)/,
      },
      {
        name: 'an orderer capability this orderer does not know',
        envelope: () =>
          configUpdateEnvelope(
            CHANNEL,
            setElement(currentConfig(), ['Orderer'], 'Capabilities', {
              kind: 'value',
              value: common.Capabilities.encode({ capabilities: { V2_0: {}, V9_9: {} } }).finish(),
            }),
            [ordererAdmin],
          ),
        info: /error applying config update to existing channel 'mychannel': .*Orderer capability V9_9 .*is required but not supported/,
        oursInfo: /Orderer capability V9_9 .* is required but not supported by this orderer/,
      },
    ];

    for (const [i, c] of rejected.entries()) {
      it(`rejects ${c.name} with BAD_REQUEST naming the cause, and keeps working`, { skip }, async () => {
        const [response] = await broadcastAll(client, [c.envelope()]);
        assert.equal(response?.status, 400, response?.info);
        assert.match(response!.info, c.info);
        if (kind === 'ours' && c.oursInfo) assert.match(response!.info, c.oursInfo);
        // Nothing written for the update: the next block holds the next transaction alone.
        await session.assertChannelWorks(`after-rejection-${i}`);
      });
    }

    it(
      'ends a Deliver session blocked at the tip with FORBIDDEN once its org loses Readers',
      { skip },
      async () => {
        const before = await deliverDecoded(client, seek(org2User, 'newest', 'newest'));
        assert.equal(before.status, 200, 'Org2 User1 can read before the change');

        // The session starts at the newest block: once that arrives it has passed its access check and
        // waits at the tip for the next one.
        let reachedTip!: () => void;
        const atTip = new Promise<void>((resolve) => (reachedTip = resolve));
        const waiting = deliverDecoded(client, seek(org2User, 'newest', 1_000_000), {
          onBlock: () => reachedTip(),
        });
        await atTip;
        const configBlockNumber = await session.height();
        const peersOnly: common.IPolicy = {
          type: common.Policy.PolicyType.SIGNATURE,
          value: common.SignaturePolicyEnvelope.encode(parsePolicy("OR('Org2MSP.peer')")).finish(),
        };
        await session.applyUpdate(
          configUpdateEnvelope(
            CHANNEL,
            setElement(currentConfig(), ['Application', 'Org2MSP'], 'Readers', {
              kind: 'policy',
              policy: peersOnly,
            }),
            [org2Admin],
          ),
        );
        const ended = await waiting;
        assert.equal(ended.status, 403);
        // The newest block at the start, then at most the config block itself (Fabric checks before
        // waiting for a block, this orderer after), never anything after it.
        assert.equal(toNumber(ended.blocks[0]!.header!.number), configBlockNumber - 1);
        assert.ok(ended.blocks.slice(1).every((b) => toNumber(b.header!.number) === configBlockNumber));

        const after = await deliverDecoded(client, seek(org2User, 'newest', 'newest'));
        assert.equal(after.status, 403, 'a new session of Org2 User1 is refused too');
        const org1 = await deliverDecoded(client, seek(org1User, 'newest', 'newest'));
        assert.equal(org1.status, 200, 'Org1 still reads');
      },
    );
  });

describe('config updates inside our orderer (ours only)', () => {
  let node: TestOrderer;
  let client: ReturnType<typeof atomicBroadcastClient>;
  let session: ReturnType<typeof channelSession>;

  const support = () => node.orderer.registrar.getChain(CHANNEL)!;
  const currentConfig = () => support().bundle().config;
  const assertChannelWorks = (txId: string) => session.assertChannelWorks(txId);

  before(async () => {
    const ledgerDir = mkdtempSync(join(tmpdir(), 'config-updates-'));
    await writeGoldenLedger(ledgerDir);
    node = await startTestOrderer({ ledgerDir });
    client = atomicBroadcastClient(node.address);
    session = channelSession(client, common.Block.decode((await goldenBlocks(CHANNEL))[0]!));
    await oneTransactionPerBlock(session);
    assert.equal(support().sharedConfig().batchSize.maxMessageCount, 1);
  });

  after(async () => {
    client?.close();
    await node?.destroy();
  });

  it('never writes a config block whose config its last_update does not produce (Fabric Validate)', async () => {
    const chain = support();
    const update = configUpdateEnvelope(
      CHANNEL,
      setElement(currentConfig(), ['Orderer'], 'BatchSize', { kind: 'value', value: batchSize(3) }),
      [ordererAdmin],
    );
    const { config } = await chain.processor.processConfigUpdateMsg(decodeEnvelope(update));
    const configEnvelope = common.ConfigEnvelope.decode(config.data);
    // A consenter bug or a forged config: BatchSize 300 where the signed update says 3.
    configEnvelope.config!.channelGroup!.groups!.Orderer!.values!.BatchSize!.value = batchSize(300);
    const forged = createSignedEnvelope(
      ProtoHeaderType.CONFIG,
      CHANNEL,
      node.orderer.signer,
      common.ConfigEnvelope.encode(configEnvelope).finish(),
      Date.now(),
    );
    const height = chain.height();
    const sequence = chain.sequence();
    await assert.rejects(chain.writeConfigBlock(chain.createNextBlock([forged])), (err: Error) => {
      assert.match(err.message, /ConfigEnvelope last_update did not produce the supplied config result/);
      return true;
    });
    const stale = createSignedEnvelope(
      ProtoHeaderType.CONFIG,
      CHANNEL,
      node.orderer.signer,
      common.ConfigEnvelope.encode({
        ...configEnvelope,
        config: { ...configEnvelope.config, sequence: sequence + 2 },
      }).finish(),
      Date.now(),
    );
    await assert.rejects(
      chain.writeConfigBlock(chain.createNextBlock([stale])),
      /carries config sequence \d+, but the channel is at sequence/,
    );
    assert.equal(chain.height(), height);
    assert.equal(chain.sequence(), sequence);
    await assertChannelWorks('after-forged-config');
  });

  it('re-validates a message queued before a config block and drops it when the new config refuses it', async () => {
    // What Broadcast does, step by step: validate (at the current sequence), then hand over to solo.
    const chain = support();
    const big = decodeEnvelope(
      signedEnvelope(org1User, { channelId: CHANNEL, txId: 'queued-big', data: Buffer.alloc(6000, 7) }),
    );
    const validatedAt = await chain.processNormalMsg(big);
    const lower = configUpdateEnvelope(
      CHANNEL,
      setElement(currentConfig(), ['Orderer'], 'BatchSize', {
        kind: 'value',
        value: batchSize(1, 4096, 4096),
      }),
      [ordererAdmin],
    );
    const { config, configSeq } = await chain.processor.processConfigUpdateMsg(decodeEnvelope(lower));
    const configBlockNumber = chain.height();
    // Both are queued before the config block exists; solo handles them in order.
    await chain.chain.configure(config, configSeq);
    await chain.chain.order(big, validatedAt);

    const configBlock = await deliverDecoded(client, seek(org1User, configBlockNumber, configBlockNumber));
    assert.equal(headerTypeOf(configBlock.blocks[0]!), HeaderType.CONFIG);
    await assertChannelWorks('after-queued-big');
    const { status, blocks } = await deliverDecoded(client, seek(org1User, configBlockNumber, 'newest'));
    assert.equal(status, 200);
    assert.equal(headerTypeOf(blocks[0]!), HeaderType.CONFIG);
    assert.equal(support().sharedConfig().batchSize.absoluteMaxBytes, 4096);
    assert.deepEqual(
      blocks.slice(1).flatMap(txIdsOf),
      ['after-queued-big'],
      'the stale oversized message was dropped',
    );

    // Sent now, the same message is refused at the door.
    const [response] = await broadcastAll(client, [big.raw]);
    assert.equal(response?.status, 400);
    assert.match(
      response!.info,
      /exceeds maximum allowed 4096 bytes \(BatchSize.AbsoluteMaxBytes of channel mychannel\)/,
    );
  });
});
