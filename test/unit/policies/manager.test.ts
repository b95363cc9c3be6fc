import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OrdererError } from '../../../src/errors.js';
import type { IdentityDeserializer } from '../../../src/msp/types.js';
import { buildPolicyManager, ImplicitMetaPolicy } from '../../../src/policies/index.js';
import { common } from '../../../src/protos/index.js';

// No signatures are involved: sub-policies accept or reject everything, so only the counting matters.
const noIdentities: IdentityDeserializer = {
  deserializeIdentity: () => {
    throw new Error('no identities in this test');
  },
};

const signaturePolicy = (n: number): common.IConfigPolicy => ({
  modPolicy: 'Admins',
  policy: {
    type: common.Policy.PolicyType.SIGNATURE,
    value: common.SignaturePolicyEnvelope.encode({ version: 0, rule: { nOutOf: { n, rules: [] } } }).finish(),
  },
});
const acceptAll = signaturePolicy(0);
const rejectAll = signaturePolicy(1);

const implicitMeta = (rule: common.ImplicitMetaPolicy.Rule, subPolicy: string): common.IConfigPolicy => ({
  modPolicy: 'Admins',
  policy: {
    type: common.Policy.PolicyType.IMPLICIT_META,
    value: common.ImplicitMetaPolicy.encode({ rule, subPolicy }).finish(),
  },
});

const { ANY, ALL, MAJORITY } = common.ImplicitMetaPolicy.Rule;

/** A root group whose children each have policy 'Sub' accepting (true), rejecting (false) or missing (undefined). */
function rootWithChildren(
  rule: common.ImplicitMetaPolicy.Rule,
  children: (boolean | undefined)[],
): common.IConfigGroup {
  const groups: Record<string, common.IConfigGroup> = {};
  children.forEach((accepts, i) => {
    groups[`Org${i + 1}`] = {
      policies: accepts === undefined ? {} : { Sub: accepts ? acceptAll : rejectAll },
    };
  });
  return { groups, policies: { Meta: implicitMeta(rule, 'Sub') } };
}

async function satisfied(root: common.IConfigGroup, path = '/Channel/Meta'): Promise<boolean> {
  const manager = buildPolicyManager(root, {}, { deserializer: noIdentities });
  try {
    await manager.getPolicy(path)!.evaluateSignedData([]);
    return true;
  } catch (err) {
    assert.ok(err instanceof OrdererError && err.kind === 'forbidden');
    return false;
  }
}

describe('implicit meta policies (Fabric implicitmeta.go)', () => {
  const T = true;
  const F = false;
  const cases: {
    rule: common.ImplicitMetaPolicy.Rule;
    children: (boolean | undefined)[];
    threshold: number;
    ok: boolean;
  }[] = [
    { rule: ANY, children: [], threshold: 0, ok: true },
    { rule: ALL, children: [], threshold: 0, ok: true },
    { rule: MAJORITY, children: [], threshold: 0, ok: true },
    { rule: ANY, children: [F, F, T], threshold: 1, ok: true },
    { rule: ANY, children: [F, F], threshold: 1, ok: false },
    { rule: ALL, children: [T, T, T], threshold: 3, ok: true },
    { rule: ALL, children: [T, F, T], threshold: 3, ok: false },
    { rule: MAJORITY, children: [T, F], threshold: 2, ok: false },
    { rule: MAJORITY, children: [T, T], threshold: 2, ok: true },
    { rule: MAJORITY, children: [T, F, T], threshold: 2, ok: true },
    { rule: MAJORITY, children: [T, F, F], threshold: 2, ok: false },
    { rule: MAJORITY, children: [T, T, F, F], threshold: 3, ok: false },
    { rule: MAJORITY, children: [T, T, T, F], threshold: 3, ok: true },
    { rule: MAJORITY, children: [T, T, undefined], threshold: 2, ok: true },
    { rule: ANY, children: [undefined], threshold: 1, ok: false },
    { rule: ALL, children: [T, undefined], threshold: 2, ok: false },
  ];
  for (const c of cases) {
    const label = `${common.ImplicitMetaPolicy.Rule[c.rule]} over [${c.children.map((v) => (v === undefined ? 'missing' : v ? 'accept' : 'reject')).join(', ')}]`;
    it(`${label}: threshold ${c.threshold}, ${c.ok ? 'satisfied' : 'not satisfied'}`, async () => {
      const root = rootWithChildren(c.rule, c.children);
      const policy = buildPolicyManager(root, {}, { deserializer: noIdentities }).getPolicy('Meta');
      assert.ok(policy instanceof ImplicitMetaPolicy);
      assert.equal(policy.threshold, c.threshold);
      assert.equal(await satisfied(root), c.ok);
    });
  }

  it('names the failing sub-policies and a missing one', async () => {
    const root = rootWithChildren(ALL, [true, false, undefined]);
    const manager = buildPolicyManager(root, {}, { deserializer: noIdentities });
    await assert.rejects(manager.getPolicy('/Channel/Meta')!.evaluateSignedData([]), (err: unknown) => {
      assert.ok(err instanceof OrdererError);
      assert.match(
        err.message,
        /^policy \/Channel\/Meta \(ALL of Sub in \[Org1, Org2, Org3\]\) not satisfied: 1 of 3/,
      );
      assert.match(err.message, /Org2\/Sub: needs OR\(\): got 0 valid signatures/);
      assert.match(err.message, /Org3\/Sub: no such policy/);
      assert.doesNotMatch(err.message, /Org1\/Sub/);
      return true;
    });
  });

  it('an unknown rule keeps Fabric threshold 0 arithmetic (satisfied only while no child is)', async () => {
    assert.equal(
      await satisfied(rootWithChildren(7 as common.ImplicitMetaPolicy.Rule, [false, false])),
      true,
    );
    assert.equal(
      await satisfied(rootWithChildren(7 as common.ImplicitMetaPolicy.Rule, [true, false])),
      false,
    );
  });
});

describe('policy manager paths', () => {
  const root: common.IConfigGroup = {
    policies: { Writers: implicitMeta(ANY, 'Writers'), Admins: acceptAll },
    groups: {
      Application: {
        policies: { Writers: implicitMeta(ANY, 'Writers') },
        groups: { Org1MSP: { policies: { Writers: acceptAll, Admins: rejectAll } } },
      },
    },
  };
  const manager = buildPolicyManager(root, {}, { deserializer: noIdentities });

  const lookups: [string, string | undefined][] = [
    ['/Channel/Writers', '/Channel/Writers'],
    ['Writers', '/Channel/Writers'],
    ['Application/Org1MSP/Admins', '/Channel/Application/Org1MSP/Admins'],
    ['/Channel/Application/Org1MSP/Admins', '/Channel/Application/Org1MSP/Admins'],
    ['/Channel/Application/Nope', undefined],
    ['/Other/Writers', undefined],
    ['', undefined],
  ];
  for (const [path, expected] of lookups) {
    it(`getPolicy('${path}') -> ${expected ?? 'none'}`, () => {
      const policy = manager.getPolicy(path) as { path: string } | undefined;
      assert.equal(policy?.path, expected);
    });
  }

  it('sub-managers resolve relative and absolute paths under their own group only', () => {
    const application = manager.manager(['Application'])!;
    assert.equal(application.basePath, '/Channel/Application');
    assert.equal(
      (application.getPolicy('Org1MSP/Writers') as { path: string }).path,
      '/Channel/Application/Org1MSP/Writers',
    );
    assert.ok(application.getPolicy('/Channel/Application/Writers'));
    assert.equal(application.getPolicy('/Channel/Writers'), undefined);
    assert.equal(manager.manager(['Application', 'Org1MSP'])!.basePath, '/Channel/Application/Org1MSP');
    assert.equal(manager.manager(['Orderer']), undefined);
    assert.deepEqual(manager.manager([]), manager);
    assert.deepEqual(manager.policyNames().sort(), [
      'Admins',
      'Application/Org1MSP/Admins',
      'Application/Org1MSP/Writers',
      'Application/Writers',
      'Writers',
    ]);
  });

  const broken: [string, common.IConfigGroup, RegExp][] = [
    [
      'unknown policy type',
      { policies: { P: { policy: { type: common.Policy.PolicyType.MSP, value: new Uint8Array() } } } },
      /policy P at path \/Channel has unknown policy type 2/,
    ],
    [
      'no policy message',
      { policies: { P: { modPolicy: 'Admins' } } },
      /policy P at path \/Channel is empty/,
    ],
    [
      'undecodable signature policy',
      { groups: { G: { policies: { P: { policy: { type: 1, value: Buffer.from([0xff, 0xff]) } } } } } },
      /signature policy \/Channel\/G\/P is not a valid SignaturePolicyEnvelope/,
    ],
  ];
  for (const [name, group, error] of broken) {
    it(`rejects a config with ${name}`, () => {
      assert.throws(
        () => buildPolicyManager(group, {}, { deserializer: noIdentities }),
        (err: unknown) =>
          err instanceof OrdererError && err.kind === 'bad-request' && error.test(err.message),
      );
    });
  }
});
