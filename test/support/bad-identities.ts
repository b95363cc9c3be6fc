// Client identities that a channel must refuse, for the bad-input tables of Broadcast and Deliver:
// a certificate of Org1's real CA that has expired, and a member of an org no channel knows.
import { join } from 'node:path';
import { createRootCa, issueCertificate, type CertifiedKey } from '../../src/crypto/index.js';
import { CRYPTO, serializeIdentity, signLowS, type ClientIdentity } from './fabric-clients.js';
import { fixtureCa } from './tls-material.js';
import { systemClock } from '../../src/clock.js';

/** An identity whose certificate is issued by `ca` (a client of that org, by NodeOU). */
export function issuedIdentity(
  mspId: string,
  ca: CertifiedKey,
  validity: { notBefore?: number; notAfter?: number },
): ClientIdentity {
  const leaf = issueCertificate(ca, {
    clock: systemClock,
    commonName: `Test@${mspId}`,
    organizationalUnits: ['client'],
    ...validity,
  });
  const certPem = Buffer.from(leaf.certPem);
  return {
    mspId,
    certPem,
    key: leaf.privateKey,
    serialized: serializeIdentity(mspId, certPem),
    dir: '',
    sign: (data: Uint8Array) => signLowS(leaf.privateKey, data),
  };
}

/** Org1's real CA (cryptogen's ca/priv_sk and cert), to issue certificates Org1MSP accepts. */
export function org1Ca(): CertifiedKey {
  const dir = join(CRYPTO, 'peerOrganizations/org1.example.com/ca');
  return fixtureCa(join(dir, 'ca.org1.example.com-cert.pem'), join(dir, 'priv_sk'));
}

const DAY = 24 * 3600 * 1000;

/** A client of Org1MSP whose certificate expired yesterday. */
export const expiredOrg1User = issuedIdentity('Org1MSP', org1Ca(), {
  notBefore: Date.now() - 30 * DAY,
  notAfter: Date.now() - DAY,
});

/** A client of Org3MSP, an org on no channel. */
export const org3User = issuedIdentity(
  'Org3MSP',
  createRootCa({ clock: systemClock, commonName: 'ca.org3.example.com' }),
  {},
);
