import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  Certificate,
  checkIssuedBy,
  createCrl,
  createIntermediateCa,
  createRootCa,
  curveByName,
  decodePemBlocks,
  derBitString,
  derSequence,
  encodeEcdsaSignature,
  isLowS,
  issueCertificate,
  parseCertificatePem,
  parseCrl,
  parseEcdsaSignature,
  sanitizeCertificate,
  writeNodeFolder,
} from '../../../src/crypto/index.js';
import { ORG1, signcertPem, FIXTURE_IDENTITIES, tempDir } from '../../support/certs.js';
import { systemClock } from '../../../src/clock.js';

describe('certificate parsing (fixtures)', () => {
  const caPem = readFileSync(join(ORG1, 'ca/ca.org1.example.com-cert.pem'));
  const ca = parseCertificatePem(caPem);
  const user = parseCertificatePem(signcertPem(FIXTURE_IDENTITIES.org1User1.dir));

  it('reads subject, OUs, validity and key identifiers like node:crypto', () => {
    const node = new X509Certificate(signcertPem(FIXTURE_IDENTITIES.org1User1.dir));
    assert.equal(user.subject.commonName, 'User1@org1.example.com');
    assert.deepEqual(user.subject.organizationalUnits, ['client']);
    assert.equal(
      user.subject.toString(),
      'CN=User1@org1.example.com,OU=client,L=San Francisco,ST=California,C=US',
    );
    assert.equal(user.notAfter, Date.parse(node.validTo));
    assert.equal(user.notBefore, Date.parse(node.validFrom));
    assert.equal(user.serialHex.toUpperCase(), node.serialNumber);
    assert.equal(user.isCA, false);
    assert.equal(ca.isCA, true);
    assert.deepEqual(user.authorityKeyId, ca.subjectKeyId);
    assert.deepEqual(user.issuer.raw, ca.subject.raw);
  });

  it('checks issuance: signature, CA flag', () => {
    assert.equal(checkIssuedBy(user, ca), undefined);
    assert.equal(checkIssuedBy(ca, ca), undefined);
    assert.match(checkIssuedBy(ca, user)!, /not a CA/);
  });
});

describe('certificate generation', () => {
  const root = createRootCa({
    clock: systemClock,
    commonName: 'ca.gen.example.com',
    organization: 'gen.example.com',
  });
  const intermediate = createIntermediateCa(root, {
    clock: systemClock,
    commonName: 'ica.gen.example.com',
    organization: 'gen.example.com',
  });

  it('produces certificates node:crypto accepts, with the requested fields', () => {
    const leaf = issueCertificate(intermediate, {
      commonName: 'orderer0.gen.example.com',
      organizationalUnits: ['orderer'],
      hosts: ['orderer0.gen.example.com', 'localhost', '127.0.0.1'],
      tls: true,
      notBefore: Date.UTC(2030, 0, 1),
      notAfter: Date.UTC(2031, 0, 1),
    });
    const node = new X509Certificate(leaf.certPem);
    assert.equal(node.checkIssued(new X509Certificate(intermediate.certPem)), true);
    assert.equal(node.verify(new X509Certificate(intermediate.certPem).publicKey), true);
    assert.equal(node.subjectAltName, 'DNS:orderer0.gen.example.com, DNS:localhost, IP Address:127.0.0.1');
    assert.equal(leaf.cert.notBefore, Date.UTC(2030, 0, 1));
    assert.equal(Date.parse(node.validTo), Date.UTC(2031, 0, 1));
    assert.deepEqual(leaf.cert.subject.organizationalUnits, ['orderer']);
    assert.equal(checkIssuedBy(intermediate.cert, root.cert), undefined);
    assert.equal(new X509Certificate(root.certPem).ca, true);
  });

  it('produces CRLs that revoke by serial and are signed by the CA', () => {
    const leaf = issueCertificate(intermediate, { clock: systemClock, commonName: 'revoked' });
    const crl = parseCrl(
      createCrl(intermediate, {
        clock: systemClock,
        revoked: [{ serialNumber: leaf.cert.serialNumber }],
      }).toPem(),
    );
    assert.equal(crl.isRevoked(leaf.cert.serialNumber), true);
    assert.equal(crl.isRevoked(leaf.cert.serialNumber + 1n), false);
    assert.equal(crl.isSignedBy(intermediate.cert), true);
    assert.equal(crl.isSignedBy(root.cert), false);
    assert.deepEqual(crl.authorityKeyId, intermediate.cert.subjectKeyId);
  });

  it('writes a cryptogen-shaped node folder', () => {
    const dir = tempDir();
    const signer = issueCertificate(root, {
      clock: systemClock,
      commonName: 'peer0',
      organizationalUnits: ['peer'],
    });
    const tls = issueCertificate(root, {
      clock: systemClock,
      commonName: 'peer0',
      tls: true,
      hosts: ['localhost'],
    });
    const { mspDir, tlsDir } = writeNodeFolder(dir, {
      rootCerts: [root.cert],
      tlsRootCerts: [root.cert],
      signer,
      tls,
    });
    assert.equal(readFileSync(join(mspDir, 'keystore/priv_sk'), 'utf8'), signer.keyPem);
    assert.match(signer.keyPem, /BEGIN PRIVATE KEY/);
    assert.equal(readFileSync(join(mspDir, 'signcerts/peer0-cert.pem'), 'utf8'), signer.certPem);
    assert.match(readFileSync(join(mspDir, 'config.yaml'), 'utf8'), /Enable: true/);
    assert.equal(readFileSync(join(tlsDir, 'server.crt'), 'utf8'), tls.certPem);
    assert.equal(readFileSync(join(tlsDir, 'ca.crt'), 'utf8'), root.certPem);
  });

  it('sanitizes a high-S certificate signature to low-S without changing what was signed', () => {
    const leaf = issueCertificate(root, { clock: systemClock, commonName: 'high-s' }).cert;
    const p256 = curveByName('P-256')!;
    const { r, s } = parseEcdsaSignature(leaf.signature);
    const high = new Certificate(
      derSequence(
        leaf.tbs,
        leaf.signatureAlgorithmRaw,
        derBitString(encodeEcdsaSignature({ r, s: p256.order - s })),
      ),
    );
    assert.equal(checkIssuedBy(high, root.cert), undefined, 'a high-S certificate signature still verifies');
    assert.equal(isLowS(p256, parseEcdsaSignature(high.signature).s), false);
    const sanitized = sanitizeCertificate(high, root.cert);
    assert.deepEqual(sanitized.der, leaf.der);
    assert.equal(sanitizeCertificate(leaf, root.cert), leaf);
  });
});

describe('PEM', () => {
  it('finds blocks and skips text around them', () => {
    const root = createRootCa({ clock: systemClock, commonName: 'pem' });
    const blocks = decodePemBlocks(`junk\n${root.certPem}more junk\n${root.keyPem}`);
    assert.deepEqual(
      blocks.map((b) => b.type),
      ['CERTIFICATE', 'PRIVATE KEY'],
    );
    assert.deepEqual(blocks[0]!.der, root.cert.der);
    assert.throws(() => parseCertificatePem('no pem here'), /no PEM block/);
  });
});
