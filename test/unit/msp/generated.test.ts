import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  createCrl,
  createIntermediateCa,
  createRootCa,
  generateKeyPair,
  issueCertificate,
  OrganizationCrypto,
  privateKeyToPkcs8Pem,
  writeMspFolder,
  type CertifiedKey,
} from '../../../src/crypto/index.js';
import { ManualClock } from '../../../src/clock.js';
import { OrdererError } from '../../../src/errors.js';
import {
  buildVerifyingMspConfig,
  ChannelMspManager,
  expiryProblem,
  FabricMsp,
  loadLocalMsp,
  type X509Identity,
} from '../../../src/msp/index.js';
import { common, msp as mspProto } from '../../../src/protos/index.js';
import { rolePrincipal, serializedIdentity, tempDir } from '../../support/certs.js';

const Role = common.MSPRole.MSPRoleType;
const MSP_ID = 'GenMSP';
const now = Date.UTC(2026, 5, 1);
const clock = new ManualClock(now);

interface MspSpec {
  roots: CertifiedKey[];
  intermediates?: CertifiedKey[];
  crls?: Buffer[];
  nodeOUs?: boolean;
  admins?: CertifiedKey[];
  ouCert?: CertifiedKey;
}

function fabricConfig(spec: MspSpec): mspProto.IFabricMSPConfig {
  const ou = (name: string) => ({
    organizationalUnitIdentifier: name,
    certificate: spec.ouCert ? Buffer.from(spec.ouCert.certPem) : undefined,
  });
  return {
    name: MSP_ID,
    rootCerts: spec.roots.map((r) => Buffer.from(r.certPem)),
    intermediateCerts: (spec.intermediates ?? []).map((r) => Buffer.from(r.certPem)),
    admins: (spec.admins ?? []).map((a) => Buffer.from(a.certPem)),
    revocationList: spec.crls ?? [],
    fabricNodeOus:
      spec.nodeOUs === false
        ? null
        : {
            enable: true,
            clientOuIdentifier: ou('client'),
            peerOuIdentifier: ou('peer'),
            adminOuIdentifier: ou('admin'),
            ordererOuIdentifier: ou('orderer'),
          },
  };
}

const mspOf = (spec: MspSpec) => new FabricMsp(fabricConfig(spec));
const identityIn = (msp: FabricMsp, leaf: CertifiedKey) =>
  msp.deserializeIdentity(serializedIdentity(MSP_ID, Buffer.from(leaf.certPem)));

function rejects(identity: X509Identity, pattern: RegExp) {
  assert.throws(
    () => identity.validate(),
    (err: unknown) => err instanceof OrdererError && err.kind === 'forbidden' && pattern.test(err.message),
  );
}

const root = createRootCa({
  commonName: 'ca.gen.example.com',
  organization: 'gen.example.com',
  notBefore: now - 3 * 365 * 86_400_000,
  clock,
});
const leafSpec = (cn: string, ou = 'client') => ({ commonName: cn, organizationalUnits: [ou], clock });

describe('validation of generated identities', () => {
  const msp = mspOf({ roots: [root] });

  it('accepts a client issued by the root', () => {
    const id = identityIn(msp, issueCertificate(root, leafSpec('user@gen')));
    id.validate();
    assert.equal(id.role, 'client');
  });

  it('accepts an expired certificate as Fabric does, and the expiry check explains it', () => {
    const expired = issueCertificate(root, {
      ...leafSpec('old@gen'),
      notBefore: now - 400 * 86_400_000,
      notAfter: now - 86_400_000,
    });
    const id = identityIn(msp, expired);
    id.validate();
    assert.equal(
      expiryProblem(id, clock.now()),
      `certificate of CN=old@gen (GenMSP) expired at ${new Date(now - 86_400_000).toISOString()}; renew it`,
    );
  });

  it('rejects a certificate from an unknown CA', () => {
    const other = createRootCa({ commonName: 'ca.other.example.com', clock });
    rejects(
      identityIn(msp, issueCertificate(other, leafSpec('stranger@other'))),
      /not issued by any CA of GenMSP \(issuer: CN=ca.other.example.com/,
    );
  });

  it('rejects a certificate from a CA with the same name but another key', () => {
    const impostor = createRootCa({
      commonName: 'ca.gen.example.com',
      organization: 'gen.example.com',
      clock,
    });
    rejects(
      identityIn(msp, issueCertificate(impostor, leafSpec('forged@gen'))),
      /not issued by any CA of GenMSP .*a CA with that name exists but did not sign it/,
    );
  });

  it('rejects a certificate that became valid before its CA did (no valid chain at issuance time)', () => {
    const early = issueCertificate(root, {
      ...leafSpec('early@gen'),
      notBefore: root.cert.notBefore - 86_400_000,
    });
    rejects(
      identityIn(msp, early),
      /has no valid certification chain to a CA of GenMSP: .*CA certificate valid only from/,
    );
  });

  it('rejects a CA certificate used as an identity', () => {
    rejects(
      identityIn(msp, issueCertificate(root, { ...leafSpec('subca'), isCA: true })),
      /is a CA certificate/,
    );
  });

  const nodeOuCases: [string, string[], RegExp | undefined][] = [
    ['no OU', [], /exactly one NodeOU organizational unit.*it has OUs \[\]/],
    ['two role OUs', ['client', 'peer'], /exactly one NodeOU/],
    ['an unrelated OU only', ['sales'], /exactly one NodeOU/],
    ['a role OU plus an unrelated one', ['sales', 'peer'], undefined],
  ];
  for (const [name, ous, pattern] of nodeOuCases) {
    it(`NodeOUs: ${name} -> ${pattern ? 'rejected' : 'accepted'}`, () => {
      const id = identityIn(
        msp,
        issueCertificate(root, { commonName: `ou-${name}`, organizationalUnits: ous, clock }),
      );
      if (pattern) rejects(id, pattern);
      else id.validate();
    });
  }

  it('without NodeOUs any OU is fine, roles need NodeOUs, admins come from the admins list', () => {
    const admin = issueCertificate(root, leafSpec('admin@gen', 'whatever'));
    const plain = mspOf({ roots: [root], nodeOUs: false, admins: [admin] });
    const user = identityIn(plain, issueCertificate(root, { commonName: 'nou', clock }));
    user.validate();
    assert.equal(user.role, undefined);
    user.satisfiesPrincipal(rolePrincipal(MSP_ID, Role.MEMBER));
    assert.throws(
      () => user.satisfiesPrincipal(rolePrincipal(MSP_ID, Role.CLIENT)),
      /NodeOUs are not enabled/,
    );
    assert.throws(
      () => user.satisfiesPrincipal(rolePrincipal(MSP_ID, Role.ADMIN)),
      /not listed in the MSP's admins/,
    );
    identityIn(plain, admin).satisfiesPrincipal(rolePrincipal(MSP_ID, Role.ADMIN));
  });

  it('the admin OU counts only when the MSP defines an admin OU identifier', () => {
    const config = fabricConfig({ roots: [root] });
    config.fabricNodeOus = { ...config.fabricNodeOus, adminOuIdentifier: null };
    const admin = issueCertificate(root, leafSpec('admin@gen', 'admin'));
    config.admins = [Buffer.from(issueCertificate(root, leafSpec('listed@gen', 'client')).certPem)];
    const msp2 = new FabricMsp(config);
    rejects(identityIn(msp2, admin), /exactly one NodeOU/);
  });

  it('refuses an MSP without admins and without an admin OU', () => {
    const config = fabricConfig({ roots: [root], nodeOUs: false });
    assert.throws(() => new FabricMsp(config), /administrators must be declared/);
  });
});

describe('revocation', () => {
  it('rejects a revoked certificate and keeps accepting the others', () => {
    const revoked = issueCertificate(root, leafSpec('revoked@gen'));
    const kept = issueCertificate(root, leafSpec('kept@gen'));
    const crl = createCrl(root, { revoked: [{ serialNumber: revoked.cert.serialNumber }], clock });
    const msp = mspOf({ roots: [root], crls: [Buffer.from(crl.toPem())] });
    rejects(
      identityIn(msp, revoked),
      /CN=revoked@gen \(GenMSP\) has been revoked \(serial [0-9a-f]+\) by a CRL of CN=ca.gen.example.com/,
    );
    identityIn(msp, kept).validate();
  });

  it('ignores a CRL that names the serial but is signed by another CA', () => {
    const target = issueCertificate(root, leafSpec('target@gen'));
    const other = createRootCa({ commonName: 'ca.other', clock });
    const crl = createCrl(other, { revoked: [{ serialNumber: target.cert.serialNumber }], clock });
    identityIn(mspOf({ roots: [root], crls: [crl.der] }), target).validate();
  });
});

describe('intermediate CAs', () => {
  const ica = createIntermediateCa(root, {
    commonName: 'ica.gen.example.com',
    organization: 'gen.example.com',
    clock,
  });

  it('accepts an identity issued by the intermediate, with the chain hash as certifiers identifier', () => {
    const msp = mspOf({ roots: [root], intermediates: [ica], ouCert: ica });
    const id = identityIn(msp, issueCertificate(ica, leafSpec('peer0@gen', 'peer')));
    id.validate();
    assert.equal(id.role, 'peer');
    assert.equal(id.certifiersIdentifier?.length, 32);
  });

  it('rejects an identity issued directly by a root that has intermediates', () => {
    const msp = mspOf({ roots: [root], intermediates: [ica] });
    rejects(
      identityIn(msp, issueCertificate(root, leafSpec('direct@gen'))),
      /issued by CN=ca.gen.example.com, which has intermediate CAs/,
    );
  });

  it('rejects an identity of the intermediate when the MSP lacks the intermediate', () => {
    rejects(
      identityIn(mspOf({ roots: [root] }), issueCertificate(ica, leafSpec('orphan@gen'))),
      /not issued by any CA of GenMSP/,
    );
  });

  it('rejects an identity whose intermediate CA was revoked by the root', () => {
    const crl = createCrl(root, { revoked: [{ serialNumber: ica.cert.serialNumber }], clock });
    assert.throws(
      () => mspOf({ roots: [root], intermediates: [ica], crls: [crl.der] }),
      /CA certificate CN=ica.gen.example.com is not valid: has been revoked/,
    );
  });

  it('enforces the NodeOU certifier: a client OU from the root is not a client of the intermediate', () => {
    const ica2 = createIntermediateCa(root, { commonName: 'ica2.gen.example.com', clock });
    const msp = mspOf({ roots: [root], intermediates: [ica, ica2], ouCert: ica });
    identityIn(msp, issueCertificate(ica, leafSpec('ok@gen'))).validate();
    rejects(
      identityIn(msp, issueCertificate(ica2, leafSpec('wrongca@gen'))),
      /not issued by the CA that GenMSP designates for clients/,
    );
  });

  it('loads a local MSP folder with an intermediate chain and a P-384 key', async () => {
    const dir = tempDir();
    const icaP384 = createIntermediateCa(root, {
      commonName: 'ica384.gen.example.com',
      curve: 'P-384',
      clock,
    });
    const signer = issueCertificate(icaP384, { ...leafSpec('orderer0.gen', 'orderer'), curve: 'P-384' });
    writeMspFolder(dir, { rootCerts: [root.cert], intermediateCerts: [icaP384.cert], signer });
    // a stray key in the keystore must not be picked
    writeFileSync(join(dir, 'keystore', 'aaaa_sk'), privateKeyToPkcs8Pem(generateKeyPair().privateKey));
    const local = loadLocalMsp({ dir, mspId: MSP_ID, clock });
    const id = local.msp.deserializeIdentity(local.signer.serialized);
    assert.equal(id.role, 'orderer');
    const msg = Buffer.from('p-384 block');
    assert.equal(await id.verify(msg, local.signer.sign(msg)), true);
    const verifying = new FabricMsp(
      mspProto.FabricMSPConfig.decode(buildVerifyingMspConfig(dir, MSP_ID).config),
    );
    verifying
      .deserializeIdentity(local.signer.serialized)
      .satisfiesPrincipal(rolePrincipal(MSP_ID, Role.ORDERER));
  });

  it('refuses a local MSP whose keystore has no matching key, or whose signer expired', () => {
    const dir = tempDir();
    const signer = issueCertificate(root, leafSpec('orderer1.gen', 'orderer'));
    writeMspFolder(dir, {
      rootCerts: [root.cert],
      signer: { ...signer, keyPem: privateKeyToPkcs8Pem(generateKeyPair().privateKey) },
    });
    assert.throws(
      () => loadLocalMsp({ dir, mspId: MSP_ID, clock }),
      /no private key in .*keystore matches the certificate/,
    );
    const dir2 = tempDir();
    const expired = issueCertificate(root, {
      ...leafSpec('orderer2.gen', 'orderer'),
      notBefore: now - 10 * 86_400_000,
      notAfter: now - 1000,
    });
    writeMspFolder(dir2, { rootCerts: [root.cert], signer: expired });
    assert.throws(
      () => loadLocalMsp({ dir: dir2, mspId: MSP_ID, clock }),
      /signing certificate of CN=orderer2.gen \(GenMSP\) expired at/,
    );
  });
});

describe('organizations for dev mode', () => {
  it('issues orderer, admin and client identities a channel MSP accepts in their roles', () => {
    const org = new OrganizationCrypto({ mspId: 'DevMSP', domain: 'dev.example.com', clock });
    const dir = tempDir();
    org.writeOrgMsp(join(dir, 'msp'));
    const mgr = ChannelMspManager.fromConfigs({ channelId: 'dev' }, [
      buildVerifyingMspConfig(join(dir, 'msp'), 'DevMSP'),
    ]);
    const roles: ['client' | 'admin' | 'orderer', common.MSPRole.MSPRoleType][] = [
      ['client', Role.CLIENT],
      ['admin', Role.ADMIN],
      ['orderer', Role.ORDERER],
    ];
    for (const [role, principalRole] of roles) {
      const ident = org.issue(`${role}.dev.example.com`, role, { hosts: ['127.0.0.1'] });
      const id = mgr.deserializeIdentity(serializedIdentity('DevMSP', Buffer.from(ident.signer.certPem)));
      id.satisfiesPrincipal(rolePrincipal('DevMSP', principalRole));
      assert.equal(id.role, role);
      if (role === 'orderer') assert.deepEqual(ident.tls.cert.subjectAltNames.ipAddresses, ['127.0.0.1']);
    }
    const { mspDir } = org.writeIdentity(
      join(dir, 'orderer'),
      org.issue('orderer0.dev.example.com', 'orderer'),
    );
    assert.equal(loadLocalMsp({ dir: mspDir, mspId: 'DevMSP', clock }).signer.mspId, 'DevMSP');
  });
});
