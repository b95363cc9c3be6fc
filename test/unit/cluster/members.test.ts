// Consenters are told apart by the public keys of their TLS certificates: a certificate renewed
// with the same key still identifies its node; one with a new key, or garbage, identifies nobody.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { MemberMapping, type ClusterMember } from '../../../src/cluster/members.js';
import { createRootCa, issueCertificate } from '../../../src/crypto/index.js';
import { OrdererError } from '../../../src/errors.js';

const ca = createRootCa({ commonName: 'tlsca.example.com', organization: 'example.com' });
const keys = [1, 2, 3].map(() => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }));
const cert = (i: number, cn = `orderer${i}`) =>
  Buffer.from(
    issueCertificate(ca, { commonName: cn, tls: true, hosts: ['127.0.0.1'], keyPair: keys[i]! }).certPem,
  );

const members: ClusterMember[] = [0, 1, 2].map((i) => ({
  id: i + 1,
  host: '127.0.0.1',
  port: 7050 + i,
  clientTlsCert: cert(i),
  serverTlsCert: cert(i),
}));

test('a sender is the consenter whose client certificate has the same public key', () => {
  const mapping = new MemberMapping(members);
  const table: [string, Buffer, number | undefined][] = [
    ['the configured certificate', members[1]!.clientTlsCert, 2],
    ['a renewal of it with the same key', cert(1, 'orderer1-renewed'), 2],
    ['the same lookup again (cached)', cert(1, 'orderer1-renewed'), 2],
    [
      'a certificate of a new key',
      Buffer.from(issueCertificate(ca, { commonName: 'orderer1', tls: true }).certPem),
      undefined,
    ],
    ['bytes that are no certificate', Buffer.from('not a certificate'), undefined],
  ];
  for (const [what, presented, id] of table)
    assert.equal(mapping.lookupByClientCert(presented)?.id, id, what);
});

test("this node finds its ID by its server certificate's key", () => {
  const mapping = new MemberMapping(members);
  assert.equal(mapping.lookupByServerCert(cert(2, 'renewed'))?.id, 3);
  assert.equal(mapping.member(1)?.port, 7050);
  assert.deepEqual(
    mapping.members.map((m) => m.id),
    [1, 2, 3],
  );
});

test('a consenter set with one ID twice, or a certificate that does not parse, is refused', () => {
  assert.throws(() => new MemberMapping([members[0]!, members[0]!]), /consenter ID 1 appears twice/);
  assert.throws(
    () => new MemberMapping([{ ...members[0]!, serverTlsCert: Buffer.from('junk') }]),
    (err: unknown) => err instanceof OrdererError && /not a valid X\.509 certificate/.test(err.message),
  );
});
