// Channel policies of the real fixture configs evaluated over real signatures: the policy tree
// built through the channel config bundle, identities through the test MSP.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { buildBundleFromConfigBlock } from '../../../src/channelconfig/index.js';
import { OrdererError } from '../../../src/errors.js';
import { BlockValidation, ChannelWriters, type SignedData } from '../../../src/policies/index.js';
import { common, toNumber } from '../../../src/protos/index.js';
import { fixtureSigner, fixturesDir, signedBy, testMspDependencies } from '../../support/test-msp.js';

const readBlock = (path: string) => common.Block.decode(readFileSync(`${fixturesDir}${path}`));
const mychannelAt0 = buildBundleFromConfigBlock(readBlock('golden/mychannel/0.block'), testMspDependencies);
const mychannelAt2 = buildBundleFromConfigBlock(readBlock('golden/mychannel/2.block'), testMspDependencies);

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes = Buffer.from(length.toString(16).padStart(length > 0xff ? 4 : 2, '0'), 'hex');
  return Buffer.concat([Buffer.from([0x80 | bytes.length]), bytes]);
}
const derTlv = (tag: number, body: Buffer) =>
  Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);

/** The ASN.1 DER block header bytes the orderer signs (spec §4.1). */
function blockHeaderDer(header: common.IBlockHeader): Buffer {
  let hex = BigInt(toNumber(header.number)).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let number = Buffer.from(hex, 'hex');
  if (number[0]! & 0x80) number = Buffer.concat([Buffer.from([0]), number]);
  return derTlv(
    0x30,
    Buffer.concat([
      derTlv(0x02, number),
      derTlv(0x04, Buffer.from(header.previousHash ?? [])),
      derTlv(0x04, Buffer.from(header.dataHash ?? [])),
    ]),
  );
}

/** SignedData of a block's SIGNATURES metadata, as a peer checks it. */
function blockSignatures(block: common.Block): SignedData[] {
  const metadata = common.Metadata.decode(block.metadata!.metadata![common.BlockMetadataIndex.SIGNATURES]!);
  return metadata.signatures.map((s) => ({
    data: Buffer.concat([metadata.value, s.signatureHeader!, blockHeaderDer(block.header!)]),
    identity: Buffer.from(common.SignatureHeader.decode(s.signatureHeader!).creator),
    signature: Buffer.from(s.signature!),
  }));
}

async function rejection(promise: Promise<void>): Promise<OrdererError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof OrdererError, String(err));
    assert.equal(err.kind, 'forbidden');
    return err;
  }
  assert.fail('the policy was satisfied');
}

describe('fixture channel policies over real signatures', () => {
  const data = Buffer.from('an envelope payload');

  it('/Channel/Writers is satisfied by User1@org1', async () => {
    await mychannelAt2.policyManager
      .getPolicy(ChannelWriters)!
      .evaluateSignedData([signedBy(fixtureSigner('User1@org1'), data)]);
  });

  it('/Channel/Writers is not satisfied by a signer of an MSP the channel does not define, and says so', async () => {
    const stranger = signedBy(fixtureSigner('User1@org1', 'Org3MSP'), data);
    const err = await rejection(
      mychannelAt2.policyManager.getPolicy(ChannelWriters)!.evaluateSignedData([stranger]),
    );
    assert.match(
      err.message,
      /^policy \/Channel\/Writers \(ANY of Writers in \[Application, Orderer\]\) not satisfied/,
    );
    assert.match(
      err.message,
      /Application\/Org1MSP\/Writers: needs OR\('Org1MSP.admin', 'Org1MSP.client'\): got 0 valid signatures/,
    );
    assert.match(err.message, /Application\/Org2MSP\/Writers: needs OR\('Org2MSP.admin', 'Org2MSP.client'\)/);
    assert.match(err.message, /Orderer\/OrdererOrg\/Writers: needs OR\('OrdererMSP.member'\)/);
    assert.match(err.message, /signature #0 \(Org3MSP\): MSP Org3MSP is not defined on channel mychannel/);
  });

  it('/Channel/Writers refuses one signature that does not verify, and says whose it was', async () => {
    const signed = signedBy(fixtureSigner('User1@org1'), data);
    const tampered = { ...signed, data: Buffer.from('another payload') };
    const err = await rejection(
      mychannelAt2.policyManager.getPolicy(ChannelWriters)!.evaluateSignedData([tampered]),
    );
    assert.match(err.message, /got 0 valid signatures/);
    assert.match(
      err.message,
      /signature #0 \(Org1MSP\): signature by Org1MSP client "User1@org1\.example\.com" does not verify over the signed data/,
    );
  });

  it('/Channel/Orderer/BlockValidation is satisfied by orderer0 signature on golden block 1', async () => {
    const block = readBlock('golden/mychannel/1.block');
    const signatures = blockSignatures(block);
    assert.equal(signatures.length, 1);
    await mychannelAt0.policyManager.getPolicy(BlockValidation)!.evaluateSignedData(signatures);
  });

  it('/Channel/Orderer/BlockValidation accepts block 3 under the config of block 2', async () => {
    await mychannelAt2.policyManager
      .getPolicy(BlockValidation)!
      .evaluateSignedData(blockSignatures(readBlock('golden/mychannel/3.block')));
  });

  it('a tampered block header breaks the block signature', async () => {
    const block = readBlock('golden/mychannel/1.block');
    block.header!.number = 7;
    const err = await rejection(
      mychannelAt0.policyManager.getPolicy(BlockValidation)!.evaluateSignedData(blockSignatures(block)),
    );
    assert.match(err.message, /signature by OrdererMSP orderer "orderer0.example.com" does not verify/);
  });

  it('/Channel/Orderer/BlockValidation is not satisfied by a User1@org1 signature over the same bytes', async () => {
    const [orderer] = blockSignatures(readBlock('golden/mychannel/1.block'));
    const user = signedBy(fixtureSigner('User1@org1'), orderer!.data);
    const err = await rejection(
      mychannelAt0.policyManager.getPolicy(BlockValidation)!.evaluateSignedData([user]),
    );
    assert.match(
      err.message,
      /OrdererOrg\/Writers: needs OR\('OrdererMSP.member'\): Org1MSP client "User1@org1.example.com" is not a member of OrdererMSP/,
    );
  });

  it('/Channel/Application/Admins (MAJORITY) needs admins of a majority of the orgs', async () => {
    const admins = mychannelAt2.policyManager.getPolicy('/Channel/Application/Admins')!;
    const admin1 = signedBy(fixtureSigner('Admin@org1'), data);
    const admin2 = signedBy(fixtureSigner('Admin@org2'), data);
    const user2 = signedBy(fixtureSigner('User1@org2'), data);

    const err = await rejection(admins.evaluateSignedData([admin1, user2]));
    assert.match(
      err.message,
      /^policy \/Channel\/Application\/Admins \(MAJORITY of Admins in \[Org1MSP, Org2MSP\]\) not satisfied: 1 of 2/,
    );
    assert.match(
      err.message,
      /Org2MSP\/Admins: needs OR\('Org2MSP.admin'\): .*Org2MSP client "User1@org2.example.com" is not Org2MSP.admin/,
    );
    assert.doesNotMatch(err.message, /Org1MSP\/Admins/);

    await admins.evaluateSignedData([admin1, admin2]);
    await admins.evaluateSignedData([user2, admin2, admin1]);
  });

  it('/Channel/Admins on the system channel needs the orderer admin (Consortiums admins accept all)', async () => {
    const system = buildBundleFromConfigBlock(readBlock('blocks/sys-solo.block'), testMspDependencies);
    const admins = system.policyManager.getPolicy('/Channel/Admins')!;
    await admins.evaluateSignedData([signedBy(fixtureSigner('Admin@example.com'), data)]);
    const err = await rejection(admins.evaluateSignedData([signedBy(fixtureSigner('Admin@org1'), data)]));
    assert.match(err.message, /Orderer\/OrdererOrg\/Admins: needs OR\('OrdererMSP.admin'\)/);
  });
});
