import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  derOctetString,
  derSequence,
  derUnsignedInteger,
  loadPrivateKeyPem,
  signEcdsa,
} from '../../../src/crypto/index.js';
import { OrdererError } from '../../../src/errors.js';
import type { FabricMsp } from '../../../src/msp/index.js';
import {
  buildVerifyingMspConfig,
  ChannelMspManager,
  expiryProblem,
  loadLocalMsp,
  mspFromConfig,
  type X509Identity,
} from '../../../src/msp/index.js';
import { asBuffer, common, msp as mspProto, toNumber } from '../../../src/protos/index.js';
import {
  combinedPrincipal,
  FIXTURE_IDENTITIES,
  FIXTURES,
  fixtureSerialized,
  identityPrincipal,
  mspConfigsFromBlockFile,
  ORDERER_ORG,
  ORG1,
  ouPrincipal,
  privateKeyPem,
  rolePrincipal,
  serializedIdentity,
  signcertPem,
  type FixtureIdentityName,
} from '../../support/certs.js';
import { systemClock } from '../../../src/clock.js';

const Role = common.MSPRole.MSPRoleType;
const names = Object.keys(FIXTURE_IDENTITIES) as FixtureIdentityName[];
const channelMsps = mspConfigsFromBlockFile('sys-solo.block');
const manager = () => ChannelMspManager.fromConfigs({ channelId: 'system-channel' }, channelMsps.values());

function throwsForbidden(fn: () => void, pattern: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof OrdererError, `expected OrdererError, got ${String(err)}`);
    assert.equal(err.kind, 'forbidden');
    assert.match(err.message, pattern);
    return true;
  });
}

describe('fixture identities against the channel MSPs of sys-solo.block', () => {
  const mgr = manager();

  for (const name of names) {
    const f = FIXTURE_IDENTITIES[name];
    it(`${name} is a valid ${f.role} of ${f.mspId}`, () => {
      const id = mgr.deserializeIdentity(fixtureSerialized(name));
      id.validate();
      assert.equal(id.mspId, f.mspId);
      assert.equal(id.role, f.role);
      assert.deepEqual(id.organizationalUnits, [f.role]);
      assert.ok(id.expiresAt > Date.UTC(2036, 0, 1));
    });
  }

  it('returns the same Identity object for the same bytes (cache)', () => {
    const a = mgr.deserializeIdentity(fixtureSerialized('org1User1'));
    const b = mgr.deserializeIdentity(fixtureSerialized('org1User1'));
    assert.equal(a, b);
  });

  it('names the channel and the defined MSPs when the MSP is unknown', () => {
    const serialized = serializedIdentity('Org3MSP', signcertPem(FIXTURE_IDENTITIES.org1User1.dir));
    throwsForbidden(
      () => mgr.deserializeIdentity(serialized),
      /^MSP Org3MSP is not defined on channel system-channel; defined: Org2MSP, Org1MSP, OrdererMSP/,
    );
  });

  it('rejects bytes that are not a SerializedIdentity or not a PEM certificate', () => {
    assert.throws(
      () => mgr.deserializeIdentity(Buffer.from([0xff, 0xff])),
      /could not deserialize a SerializedIdentity/,
    );
    assert.throws(
      () => mgr.deserializeIdentity(serializedIdentity('Org1MSP', Buffer.from('not a cert'))),
      /PEM X\.509 certificate/,
    );
  });

  it('rejects an identity presented under another org MSP ID', () => {
    const id = mgr.deserializeIdentity(
      serializedIdentity('Org2MSP', signcertPem(FIXTURE_IDENTITIES.org1User1.dir)),
    );
    throwsForbidden(() => id.validate(), /not issued by any CA of Org2MSP/);
  });
});

describe('principals', () => {
  const mgr = manager();
  const id = (name: FixtureIdentityName) => mgr.deserializeIdentity(fixtureSerialized(name));
  const roles: [string, common.MSPRole.MSPRoleType][] = [
    ['MEMBER', Role.MEMBER],
    ['ADMIN', Role.ADMIN],
    ['CLIENT', Role.CLIENT],
    ['PEER', Role.PEER],
    ['ORDERER', Role.ORDERER],
  ];
  const satisfied: Record<FixtureIdentityName, string[]> = {
    org1User1: ['MEMBER', 'CLIENT'],
    org1Admin: ['MEMBER', 'ADMIN'],
    org1Peer0: ['MEMBER', 'PEER'],
    org2User1: ['MEMBER', 'CLIENT'],
    orderer0: ['MEMBER', 'ORDERER'],
    ordererAdmin: ['MEMBER', 'ADMIN'],
  };

  for (const name of names) {
    for (const [roleName, role] of roles) {
      const expected = satisfied[name].includes(roleName);
      it(`${name} ${expected ? 'satisfies' : 'does not satisfy'} ${roleName}`, () => {
        const principal = rolePrincipal(FIXTURE_IDENTITIES[name].mspId, role);
        if (expected) id(name).satisfiesPrincipal(principal);
        else throwsForbidden(() => id(name).satisfiesPrincipal(principal), /is not an? \w+ of|not an admin/);
      });
    }
  }

  it('keeps the outcome per principal: the same failure object, and a success stays a success', () => {
    const user = id('org1User1');
    const admin = rolePrincipal('Org1MSP', Role.ADMIN);
    const failure = (() => {
      try {
        user.satisfiesPrincipal(admin);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    assert.ok(failure instanceof OrdererError);
    assert.throws(
      () => user.satisfiesPrincipal(admin),
      (err: unknown) => err === failure,
    );
    const client = rolePrincipal('Org1MSP', Role.CLIENT);
    user.satisfiesPrincipal(client);
    user.satisfiesPrincipal(client);
    // An equal principal object decoded elsewhere gets the same answer.
    throwsForbidden(() => user.satisfiesPrincipal(rolePrincipal('Org1MSP', Role.ADMIN)), /is not a admin/);
  });

  it('a role of another MSP is not satisfied, with both MSP IDs named', () => {
    throwsForbidden(
      () => id('org1User1').satisfiesPrincipal(rolePrincipal('Org2MSP', Role.MEMBER)),
      /member of Org1MSP, but the principal requires MSP Org2MSP/,
    );
  });

  it('IDENTITY principals match the same certificate only', () => {
    id('org1Admin').satisfiesPrincipal(identityPrincipal(fixtureSerialized('org1Admin')));
    throwsForbidden(
      () => id('org1User1').satisfiesPrincipal(identityPrincipal(fixtureSerialized('org1Admin'))),
      /is not the identity CN=Admin@org1.example.com/,
    );
  });

  it('ORGANIZATION_UNIT principals need the OU and the certifiers identifier', () => {
    const user = id('org1User1') as X509Identity;
    const certifiers = user.certifiersIdentifier!;
    assert.equal(certifiers.length, 32);
    user.satisfiesPrincipal(ouPrincipal('Org1MSP', 'client', certifiers));
    throwsForbidden(
      () => user.satisfiesPrincipal(ouPrincipal('Org1MSP', 'peer', certifiers)),
      /does not have organizational unit 'peer'/,
    );
    throwsForbidden(
      () => user.satisfiesPrincipal(ouPrincipal('Org1MSP', 'client', Buffer.alloc(32))),
      /does not have organizational unit 'client' certified/,
    );
  });

  it('COMBINED principals need every part', () => {
    const admin = id('org1Admin');
    admin.satisfiesPrincipal(
      combinedPrincipal(rolePrincipal('Org1MSP', Role.MEMBER), rolePrincipal('Org1MSP', Role.ADMIN)),
    );
    throwsForbidden(
      () =>
        admin.satisfiesPrincipal(
          combinedPrincipal(rolePrincipal('Org1MSP', Role.ADMIN), rolePrincipal('Org1MSP', Role.PEER)),
        ),
      /is not a peer of Org1MSP/,
    );
    throwsForbidden(
      () => admin.satisfiesPrincipal(combinedPrincipal()),
      /no principals in CombinedPrincipal/,
    );
  });
});

describe('signatures through identities', () => {
  const mgr = manager();

  it('verifies a signature made with the fixture key and rejects its high-S twin', async () => {
    const f = FIXTURE_IDENTITIES.org1User1;
    const id = mgr.deserializeIdentity(fixtureSerialized('org1User1'));
    const key = loadPrivateKeyPem(privateKeyPem(f.dir));
    const msg = Buffer.from('envelope payload');
    const sig = signEcdsa(key, msg);
    assert.equal(await id.verify(msg, sig), true);
    assert.equal(await id.verify(Buffer.from('other'), sig), false);
    const { r, s } = (await import('../../../src/crypto/index.js')).parseEcdsaSignature(sig);
    const n = BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551');
    const high = derSequence(derUnsignedInteger(r), derUnsignedInteger(n - s));
    assert.equal(await id.verify(msg, high), false);
  });

  it('verifies the orderer signature of a golden block written by the Go orderer', async () => {
    const block = common.Block.decode(readFileSync(join(FIXTURES, 'golden/mychannel/1.block')));
    const metadata = common.Metadata.decode(asBuffer(block.metadata?.metadata?.[0]));
    const { signatureHeader, signature } = metadata.signatures[0]!;
    const creator = asBuffer(common.SignatureHeader.decode(asBuffer(signatureHeader)).creator);
    const local = loadLocalMsp({
      dir: FIXTURE_IDENTITIES.orderer0.dir,
      mspId: 'OrdererMSP',
      clock: systemClock,
    });
    assert.deepEqual(
      creator,
      local.signer.serialized,
      'our serialized orderer0 equals the Go orderer creator bytes',
    );
    const header = block.header!;
    const headerDer = derSequence(
      derUnsignedInteger(BigInt(toNumber(header.number))),
      derOctetString(asBuffer(header.previousHash)),
      derOctetString(asBuffer(header.dataHash)),
    );
    const signed = Buffer.concat([asBuffer(metadata.value), asBuffer(signatureHeader), headerDer]);
    const id = mgr.deserializeIdentity(creator);
    assert.equal(await id.verify(signed, asBuffer(signature)), true);
    id.satisfiesPrincipal(rolePrincipal('OrdererMSP', Role.ORDERER));
  });
});

describe('local MSP folders', () => {
  for (const name of names) {
    const f = FIXTURE_IDENTITIES[name];
    it(`loads ${name}: signer validates in its own MSP and signs verifiably`, async () => {
      const local = loadLocalMsp({ dir: f.dir, mspId: f.mspId, clock: systemClock });
      assert.equal(local.signer.mspId, f.mspId);
      assert.deepEqual(local.signer.serialized, fixtureSerialized(name));
      const id = local.msp.deserializeIdentity(local.signer.serialized);
      id.validate();
      assert.equal(id.role, f.role);
      const msg = Buffer.from('to sign');
      assert.equal(await id.verify(msg, local.signer.sign(msg)), true);
      assert.equal(local.mspConfig.type, 0);
      const conf = mspProto.FabricMSPConfig.decode(local.mspConfig.config);
      assert.deepEqual(asBuffer(conf.signingIdentity!.publicSigner), signcertPem(f.dir));
    });
  }

  it('builds the same verifying MSP config configtxgen put into the genesis block', () => {
    const cases: [string, string][] = [
      ['Org1MSP', join(ORG1, 'msp')],
      ['OrdererMSP', join(ORDERER_ORG, 'msp')],
    ];
    for (const [mspId, dir] of cases) {
      const ours = mspProto.FabricMSPConfig.decode(buildVerifyingMspConfig(dir, mspId).config);
      const theirs = mspProto.FabricMSPConfig.decode(channelMsps.get(mspId)!.config);
      assert.deepEqual(
        mspProto.FabricMSPConfig.toObject(ours),
        mspProto.FabricMSPConfig.toObject(theirs),
        mspId,
      );
    }
  });

  it('a channel MSP from the folder config accepts the fixture identities', () => {
    const org1 = mspFromConfig(buildVerifyingMspConfig(join(ORG1, 'msp'), 'Org1MSP')) as FabricMsp;
    const admin = org1.deserializeIdentity(fixtureSerialized('org1Admin'));
    admin.satisfiesPrincipal(rolePrincipal('Org1MSP', Role.ADMIN));
    assert.equal(expiryProblem(admin, Date.UTC(2030, 0, 1)), undefined);
    assert.match(
      expiryProblem(admin, Date.UTC(2037, 0, 1))!,
      /^certificate of CN=Admin@org1.example.com \(Org1MSP\) expired at 2036-/,
    );
  });

  it('explains a missing folder or a keystore without the matching key', () => {
    assert.throws(
      () => loadLocalMsp({ dir: '/nonexistent/msp', mspId: 'X', clock: systemClock }),
      /could not load a valid signer certificate/,
    );
  });
});
