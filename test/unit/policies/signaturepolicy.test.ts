import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OrdererError } from '../../../src/errors.js';
import type { Identity, IdentityDeserializer } from '../../../src/msp/types.js';
import {
  formatSignaturePolicy,
  parsePolicy,
  SignaturePolicy,
  verifySignatureSet,
} from '../../../src/policies/index.js';
import { msp } from '../../../src/protos/index.js';
import {
  createTestMsp,
  createTestMspManager,
  fixtureSigner,
  fixturesDir,
  signedBy,
  type FixtureIdentityName,
} from '../../support/test-msp.js';
import { readFileSync } from 'node:fs';
import { common } from '../../../src/protos/index.js';
import { configEnvelopeFromBlock } from '../../../src/channelconfig/index.js';

// The channel MSPs of the fixture application channel, through the test MSP.
function fixtureMspManager() {
  const block = common.Block.decode(readFileSync(`${fixturesDir}blocks/appsolo-genesis.block`));
  const root = configEnvelopeFromBlock(block).config!.channelGroup!;
  const orgs = [
    root.groups!['Application']!.groups!['Org1MSP']!,
    root.groups!['Application']!.groups!['Org2MSP']!,
    root.groups!['Orderer']!.groups!['OrdererOrg']!,
  ];
  return createTestMspManager(
    'appsolo',
    orgs.map((org) => createTestMsp(msp.MSPConfig.decode(org.values!['MSP']!.value!))),
  );
}

const mspManager = fixtureMspManager();
const data = Buffer.from('the signed bytes');
const sig = (name: FixtureIdentityName) => signedBy(fixtureSigner(name), data);

async function evaluate(rule: string, signatures: ReturnType<typeof sig>[]): Promise<string | undefined> {
  const policy = new SignaturePolicy('/Channel/Test/Rule', parsePolicy(rule), mspManager);
  try {
    await policy.evaluateSignedData(signatures);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof OrdererError);
    assert.equal(err.kind, 'forbidden');
    return err.message;
  }
}

describe('signature policies over fixture identities (cauthdsl semantics)', () => {
  const cases: { rule: string; signers: FixtureIdentityName[]; satisfied: boolean; why: string }[] = [
    { rule: "OR('Org1MSP.member')", signers: ['User1@org1'], satisfied: true, why: 'a client is a member' },
    {
      rule: "OR('Org1MSP.admin')",
      signers: ['User1@org1'],
      satisfied: false,
      why: 'a client is not an admin',
    },
    { rule: "OR('Org1MSP.admin')", signers: ['Admin@org1'], satisfied: true, why: 'admin OU' },
    { rule: "OR('Org1MSP.peer')", signers: ['peer0.org1'], satisfied: true, why: 'peer OU' },
    { rule: "OR('OrdererMSP.orderer')", signers: ['orderer0'], satisfied: true, why: 'orderer OU' },
    { rule: "OR('Org1MSP.client')", signers: ['User1@org2'], satisfied: false, why: 'wrong MSP' },
    {
      rule: "AND('Org1MSP.member', 'Org2MSP.member')",
      signers: ['User1@org1'],
      satisfied: false,
      why: 'half',
    },
    {
      rule: "AND('Org1MSP.member', 'Org2MSP.member')",
      signers: ['User1@org2', 'User1@org1'],
      satisfied: true,
      why: 'order of signatures does not matter here',
    },
    {
      rule: "AND('Org1MSP.member', 'Org1MSP.member')",
      signers: ['User1@org1'],
      satisfied: false,
      why: 'one identity satisfies at most one principal',
    },
    {
      rule: "AND('Org1MSP.member', 'Org1MSP.member')",
      signers: ['User1@org1', 'User1@org1'],
      satisfied: false,
      why: 'the same identity twice is de-duplicated',
    },
    {
      rule: "AND('Org1MSP.member', 'Org1MSP.member')",
      signers: ['User1@org1', 'Admin@org1'],
      satisfied: true,
      why: 'two distinct identities',
    },
    {
      rule: "AND('Org1MSP.member', 'Org1MSP.admin')",
      signers: ['Admin@org1', 'User1@org1'],
      satisfied: false,
      why: 'greedy as cauthdsl: the admin is used up by member first',
    },
    {
      rule: "AND('Org1MSP.member', 'Org1MSP.admin')",
      signers: ['User1@org1', 'Admin@org1'],
      satisfied: true,
      why: 'greedy, other order',
    },
    {
      rule: "OutOf(2, 'Org1MSP.admin', 'Org2MSP.admin', 'OrdererMSP.admin')",
      signers: ['Admin@org2', 'Admin@example.com'],
      satisfied: true,
      why: '2 of 3',
    },
    {
      rule: "OutOf(2, 'Org1MSP.admin', 'Org2MSP.admin', 'OrdererMSP.admin')",
      signers: ['Admin@org2', 'User1@org1'],
      satisfied: false,
      why: '1 of 3',
    },
    {
      rule: "OR(AND('Org1MSP.admin', 'Org2MSP.admin'), 'OrdererMSP.admin')",
      signers: ['Admin@org1', 'Admin@org2'],
      satisfied: true,
      why: 'nested gate',
    },
  ];
  for (const c of cases) {
    it(`${c.rule} signed by [${c.signers.join(', ')}]: ${c.satisfied ? 'satisfied' : 'not satisfied'} (${c.why})`, async () => {
      const message = await evaluate(c.rule, c.signers.map(sig));
      assert.equal(message === undefined, c.satisfied, message);
    });
  }
});

describe('accept-all and reject-all envelopes', () => {
  it('NOutOf(0, []) (configtxgen AcceptAllPolicy) is satisfied by no signature at all', async () => {
    const policy = new SignaturePolicy(
      '/Channel/X',
      { version: 0, rule: { nOutOf: { n: 0, rules: [] } } },
      mspManager,
    );
    await policy.evaluateSignedData([]);
  });
  it('NOutOf(1, []) is never satisfied', async () => {
    const policy = new SignaturePolicy(
      '/Channel/X',
      { version: 0, rule: { nOutOf: { n: 1, rules: [] } } },
      mspManager,
    );
    await assert.rejects(policy.evaluateSignedData([sig('Admin@org1')]), /policy \/Channel\/X/);
  });
});

describe('signature set handling', () => {
  it('drops an invalid signature and says why; a later valid copy of the same identity still counts', async () => {
    const user = fixtureSigner('User1@org1');
    const forged = { data, identity: user.serialized, signature: user.sign(Buffer.from('other bytes')) };
    const verified = await verifySignatureSet([forged, signedBy(user, data)], mspManager);
    assert.equal(verified.signers.length, 1);
    assert.equal(verified.rejected.length, 1);
    assert.equal(verified.rejected[0]!.index, 0);
    assert.match(verified.rejected[0]!.reason, /does not verify/);

    const message = await evaluate("OR('Org1MSP.member')", [forged]);
    assert.match(message!, /got 0 valid signatures/);
    assert.match(
      message!,
      /signature #0 \(Org1MSP\): signature by Org1MSP client "User1@org1.example.com" does not verify/,
    );
  });

  it('names an MSP that is not defined on the channel', async () => {
    const stranger = signedBy(fixtureSigner('User1@org1', 'Org3MSP'), data);
    const message = await evaluate("OR('Org1MSP.member')", [stranger]);
    assert.match(
      message!,
      /MSP Org3MSP is not defined on channel appsolo \(known: Org1MSP, Org2MSP, OrdererMSP\)/,
    );
  });

  it('explains which principal matched and why the other signers did not count', async () => {
    const message = await evaluate("AND('Org1MSP.admin', 'Org2MSP.admin')", [
      sig('Admin@org1'),
      sig('User1@org2'),
    ]);
    assert.match(message!, /needs AND\('Org1MSP.admin', 'Org2MSP.admin'\)/);
    assert.match(message!, /matched Org1MSP.admin by Org1MSP admin "Admin@org1.example.com"/);
    assert.match(
      message!,
      /Org2MSP client "User1@org2.example.com" is not Org2MSP.admin \(the identity is a client, not admin\)/,
    );
  });

  it('verifies concurrently, de-duplicates before verifying, and keeps signature-set order', async () => {
    const pending: (() => void)[] = [];
    let verifyCalls = 0;
    const identity = (mspId: string, cert: string): Identity => ({
      mspId,
      serialized: Buffer.from(cert),
      certDer: Buffer.from(cert),
      expiresAt: 0,
      organizationalUnits: [],
      role: undefined,
      validate() {},
      verify() {
        verifyCalls++;
        return new Promise<boolean>((resolve) => pending.push(() => resolve(true)));
      },
      satisfiesPrincipal() {},
    });
    const deserializer: IdentityDeserializer = {
      deserializeIdentity: (bytes) => identity(bytes.toString().split(':')[0]!, bytes.toString()),
    };
    const entry = (id: string) => ({ data, identity: Buffer.from(id), signature: Buffer.alloc(0) });
    const result = verifySignatureSet([entry('B:1'), entry('A:1'), entry('B:1'), entry('C:1')], deserializer);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(pending.length, 3, 'the three distinct identities are verified at the same time');
    pending.forEach((resolve) => resolve());
    const verified = await result;
    assert.equal(verifyCalls, 3, 'the duplicate is never verified');
    assert.deepEqual(
      verified.signers.map((s) => s.mspId),
      ['B', 'A', 'C'],
    );
    assert.match(verified.rejected[0]!.reason, /duplicate of signature #0/);
  });
});

describe('signature policy compilation', () => {
  const cases: { name: string; envelope: common.ISignaturePolicyEnvelope; error: RegExp }[] = [
    { name: 'no rule', envelope: { version: 0, identities: [] }, error: /empty policy element/ },
    {
      name: 'signed_by out of range',
      envelope: { version: 0, rule: { signedBy: 1 }, identities: [{ principal: new Uint8Array() }] },
      error: /identity index out of range, requested 1, but identities length is 1/,
    },
    { name: 'version 1', envelope: { version: 1, rule: { nOutOf: { n: 0 } } }, error: /only version 0/ },
  ];
  for (const c of cases) {
    it(`rejects ${c.name}`, () => {
      assert.throws(
        () => new SignaturePolicy('/Channel/X', c.envelope, mspManager),
        (err: unknown) =>
          err instanceof OrdererError && err.kind === 'bad-request' && c.error.test(err.message),
      );
    });
  }
});

describe('policydsl', () => {
  it('parses as Fabric: one identity entry per principal occurrence', () => {
    const envelope = parsePolicy("OR('Org1MSP.admin', 'Org1MSP.peer', 'Org1MSP.client')");
    assert.equal(envelope.identities.length, 3);
    assert.equal(envelope.rule!.nOutOf!.n, 1);
    assert.deepEqual(
      envelope.rule!.nOutOf!.rules!.map((r) => r.signedBy),
      [0, 1, 2],
    );
    const role = common.MSPRole.decode(envelope.identities[2]!.principal!);
    assert.equal(role.mspIdentifier, 'Org1MSP');
    assert.equal(role.role, common.MSPRole.MSPRoleType.CLIENT);
  });

  it('encodes exactly like the configtxgen-made fixture policy', () => {
    const block = common.Block.decode(readFileSync(`${fixturesDir}blocks/appsolo-genesis.block`));
    const root = configEnvelopeFromBlock(block).config!.channelGroup!;
    const fixture = root.groups!['Application']!.groups!['Org1MSP']!.policies!['Readers']!.policy!.value!;
    const ours = common.SignaturePolicyEnvelope.encode(
      parsePolicy("OR('Org1MSP.admin', 'Org1MSP.peer', 'Org1MSP.client')"),
    ).finish();
    assert.deepEqual(Buffer.from(ours), Buffer.from(fixture));
  });

  const roundTrips = [
    "OR('Org1MSP.member')",
    "AND('Org1MSP.member', 'Org2MSP.admin')",
    "OutOf(2, 'A.client', 'B.peer', 'C.orderer')",
    "OR('Org1MSP.admin', AND('Org2MSP.member', 'Org3.MSP.peer'))",
  ];
  for (const text of roundTrips) {
    it(`formats back: ${text}`, () => assert.equal(formatSignaturePolicy(parsePolicy(text)), text));
  }

  const bad = [
    ["OR('Org1MSP.owner')", /not of the form/],
    ["OR('Org1MSP.member'", /expected '\)'/],
    ["XOR('A.member')", /unknown operator XOR/],
    ["OutOf(3, 'A.member', 'B.member')", /names only 2 sub-rules/],
    ["OR('A.member') junk", /unexpected trailing input/],
  ] as const;
  for (const [text, error] of bad) {
    it(`rejects ${text}`, () => assert.throws(() => parsePolicy(text), error));
  }
});
