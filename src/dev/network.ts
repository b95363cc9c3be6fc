// The zero-config dev network on disk: its own CAs, an orderer org (orderer identity with a TLS
// certificate for localhost/127.0.0.1, an admin), one application org (admin and client), and a solo
// channel's genesis block, laid out as cryptogen and configtxgen would. Made once; later starts read
// dev-info.json and reuse everything.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { badRequest, errorMessage } from '../errors.js';
import type { Clock } from '../clock.js';
import { OrganizationCrypto, writeMspFolder, type CertifiedKey } from '../crypto/index.js';
import { buildVerifyingMspConfig } from '../msp/index.js';
import { buildGenesisBlockBytes, FABRIC_SAMPLE_ACLS } from '../channelconfig/genesis.js';

export const DEV_INFO_FILE = 'dev-info.json';
export const DEV_INFO_FORMAT = 1;
export const DEFAULT_DEV_CHANNEL = 'devchannel';

export interface DevIdentityInfo {
  readonly mspId: string;
  /** The identity's folder (msp/ and tls/ inside, as cryptogen). */
  readonly dir: string;
  readonly mspDir: string;
}

/** What the current (or last) run of the dev orderer listens on. */
export interface DevRuntimeInfo {
  readonly pid: number;
  readonly address: string;
  readonly tls: boolean;
  readonly adminAddress?: string;
  readonly operationsAddress?: string;
  readonly startedAt: string;
  /** Set by a clean shutdown. */
  readonly stoppedAt?: string;
}

/** DIR/dev-info.json: what dev mode created, for people and tools (`orderer bench` reads it). */
export interface DevInfo {
  readonly format: number;
  readonly createdAt: string;
  readonly dataDir: string;
  readonly channel: string;
  readonly genesisBlock: string;
  readonly ledgerDir: string;
  /** The orderer org's Endpoints in the channel config (where peers look for the orderer). */
  readonly ordererEndpoint: string;
  readonly orderer: DevIdentityInfo & { readonly tlsDir: string; readonly tlsCaFile: string };
  readonly ordererAdmin: DevIdentityInfo;
  readonly admin: DevIdentityInfo;
  readonly client: DevIdentityInfo;
  readonly runtime?: DevRuntimeInfo;
}

export interface DevNetworkOptions {
  readonly dataDir: string;
  readonly channel?: string;
  /** host:port written into the channel config as the orderer org's Endpoints (first start only). */
  readonly ordererEndpoint: string;
}

export interface DevNetworkDependencies {
  /** Certificate validity and the createdAt of dev-info.json. */
  readonly clock: Clock;
}

export interface DevNetwork {
  readonly info: DevInfo;
  /** True when this call made the folder's content (first start). */
  readonly created: boolean;
}

const ORDERER_DOMAIN = 'example.com';
const ORG_DOMAIN = 'org1.example.com';
const ORDERER_HOST = 'orderer.example.com';

export function devInfoPath(dataDir: string): string {
  return join(resolve(dataDir), DEV_INFO_FILE);
}

/** Reads DIR/dev-info.json; undefined when there is none. */
export function readDevInfo(dataDir: string): DevInfo | undefined {
  const path = devInfoPath(dataDir);
  if (!existsSync(path)) return undefined;
  let info: DevInfo;
  try {
    info = JSON.parse(readFileSync(path, 'utf8')) as DevInfo;
  } catch (err) {
    throw badRequest(
      `${path} is not valid JSON (${errorMessage(err)}); delete ${resolve(dataDir)} to start over`,
    );
  }
  if (info.format !== DEV_INFO_FORMAT) {
    throw badRequest(
      `${path} has format ${info.format}, this orderer writes format ${DEV_INFO_FORMAT}; delete ${resolve(dataDir)} to start over`,
    );
  }
  return info;
}

/** Replaces dev-info.json atomically (write + rename). */
export function writeDevInfo(info: DevInfo): void {
  const path = devInfoPath(info.dataDir);
  writeFileSync(`${path}.tmp`, JSON.stringify(info, null, 2) + '\n');
  renameSync(`${path}.tmp`, path);
}

function writeCa(dir: string, ca: CertifiedKey, domain: string, prefix: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${prefix}.${domain}-cert.pem`), ca.certPem);
  writeFileSync(join(dir, 'priv_sk'), ca.keyPem, { mode: 0o600 });
}

function hasChannelLedgers(ledgerDir: string): boolean {
  const chains = join(ledgerDir, 'chains');
  return existsSync(chains) && readdirSync(chains).length > 0;
}

/**
 * The dev network of `dataDir`: read from dev-info.json when it is there, otherwise created
 * (identities, MSP folders, genesis block) and recorded in dev-info.json, which is written last, so
 * an interrupted first start is redone from scratch on the next one.
 */
export function ensureDevNetwork(options: DevNetworkOptions, deps: DevNetworkDependencies): DevNetwork {
  const dataDir = resolve(options.dataDir);
  const existing = readDevInfo(dataDir);
  if (existing) {
    for (const path of [existing.genesisBlock, existing.orderer.mspDir, existing.client.mspDir]) {
      if (!existsSync(path)) {
        throw badRequest(
          `${devInfoPath(dataDir)} names ${path}, which is missing; delete ${dataDir} to start over with a new dev network`,
        );
      }
    }
    if (options.channel && options.channel !== existing.channel) {
      throw badRequest(
        `${dataDir} holds the dev channel ${existing.channel}, not ${options.channel}; use another --data-dir for another channel`,
      );
    }
    return { info: existing, created: false };
  }

  const ledgerDir = join(dataDir, 'ledger');
  if (hasChannelLedgers(ledgerDir)) {
    throw badRequest(
      `${dataDir} holds a ledger but no ${DEV_INFO_FILE}, so its identities are unknown; delete ${dataDir} (or pick another --data-dir) to start a new dev network`,
    );
  }
  const clock = deps.clock;
  const channel = options.channel ?? DEFAULT_DEV_CHANNEL;
  const cryptoDir = join(dataDir, 'crypto');
  rmSync(cryptoDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });

  // Orderer organization (cryptogen's ordererOrganizations/example.com).
  const ordererOrg = new OrganizationCrypto({ mspId: 'OrdererMSP', domain: ORDERER_DOMAIN, clock });
  const ordererOrgDir = join(cryptoDir, 'ordererOrganizations', ORDERER_DOMAIN);
  writeCa(join(ordererOrgDir, 'ca'), ordererOrg.ca, ORDERER_DOMAIN, 'ca');
  writeCa(join(ordererOrgDir, 'tlsca'), ordererOrg.tlsCa, ORDERER_DOMAIN, 'tlsca');
  ordererOrg.writeOrgMsp(join(ordererOrgDir, 'msp'));
  const ordererIdentity = ordererOrg.issue(ORDERER_HOST, 'orderer', {
    hosts: ['localhost', '127.0.0.1', '::1'],
  });
  const ordererDir = join(ordererOrgDir, 'orderers', ORDERER_HOST);
  const ordererFolders = ordererOrg.writeIdentity(ordererDir, ordererIdentity);
  const ordererAdminDir = join(ordererOrgDir, 'users', `Admin@${ORDERER_DOMAIN}`);
  ordererOrg.writeIdentity(ordererAdminDir, ordererOrg.issue(`Admin@${ORDERER_DOMAIN}`, 'admin'));

  // Application organization (peerOrganizations/org1.example.com).
  const org1 = new OrganizationCrypto({ mspId: 'Org1MSP', domain: ORG_DOMAIN, clock });
  const org1Dir = join(cryptoDir, 'peerOrganizations', ORG_DOMAIN);
  writeCa(join(org1Dir, 'ca'), org1.ca, ORG_DOMAIN, 'ca');
  writeCa(join(org1Dir, 'tlsca'), org1.tlsCa, ORG_DOMAIN, 'tlsca');
  org1.writeOrgMsp(join(org1Dir, 'msp'));
  const adminDir = join(org1Dir, 'users', `Admin@${ORG_DOMAIN}`);
  org1.writeIdentity(adminDir, org1.issue(`Admin@${ORG_DOMAIN}`, 'admin'));
  const clientDir = join(org1Dir, 'users', `User1@${ORG_DOMAIN}`);
  org1.writeIdentity(clientDir, org1.issue(`User1@${ORG_DOMAIN}`, 'client'));
  // The client's MSP folder also trusts the orderer's TLS CA, so clients find it in one place.
  writeMspFolder(join(clientDir, 'msp'), {
    rootCerts: [org1.ca.cert],
    tlsRootCerts: [org1.tlsCa.cert, ordererOrg.tlsCa.cert],
  });

  const genesisBlock = join(dataDir, `${channel}-genesis.block`);
  writeFileSync(
    genesisBlock,
    buildGenesisBlockBytes(
      {
        channelId: channel,
        ordererType: 'solo',
        // Short enough that a lone transaction shows up quickly, long enough to batch under load.
        batchTimeout: '500ms',
        batchSize: {
          maxMessageCount: 500,
          absoluteMaxBytes: 10 * 1024 * 1024,
          preferredMaxBytes: 2 * 1024 * 1024,
        },
        ordererOrganizations: [
          {
            name: 'OrdererOrg',
            mspId: 'OrdererMSP',
            mspConfig: buildVerifyingMspConfig(join(ordererOrgDir, 'msp'), 'OrdererMSP'),
            ordererEndpoints: [options.ordererEndpoint],
          },
        ],
        applicationOrganizations: [
          {
            name: 'Org1MSP',
            mspId: 'Org1MSP',
            mspConfig: buildVerifyingMspConfig(join(org1Dir, 'msp'), 'Org1MSP'),
          },
        ],
        acls: FABRIC_SAMPLE_ACLS,
      },
      { clock },
    ),
  );

  const identity = (mspId: string, dir: string): DevIdentityInfo => ({
    mspId,
    dir,
    mspDir: join(dir, 'msp'),
  });
  const info: DevInfo = {
    format: DEV_INFO_FORMAT,
    createdAt: new Date(clock.now()).toISOString(),
    dataDir,
    channel,
    genesisBlock,
    ledgerDir,
    ordererEndpoint: options.ordererEndpoint,
    orderer: {
      ...identity('OrdererMSP', ordererDir),
      tlsDir: ordererFolders.tlsDir,
      tlsCaFile: join(ordererFolders.tlsDir, 'ca.crt'),
    },
    ordererAdmin: identity('OrdererMSP', ordererAdminDir),
    admin: identity('Org1MSP', adminDir),
    client: identity('Org1MSP', clientDir),
  };
  writeDevInfo(info);
  return { info, created: true };
}
