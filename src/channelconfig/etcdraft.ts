// The etcdraft part of a channel's Orderer config: ConsensusType.Metadata decoded into typed
// consenters and options, checked as Fabric v2.5's etcdraft.VerifyConfigMetadata does
// (orderer/consensus/etcdraft/util.go), with messages that also say what to change.
import { badRequest, OrdererError } from '../errors.js';
import { parseDurationNanos } from '../duration.js';
import { verifyCertificateChain } from '../crypto/chain.js';
import { Oid, parseCertificatePem } from '../crypto/x509.js';
import type { Certificate } from '../crypto/x509.js';
import type { MSPManager } from '../msp/types.js';
import type {
  EtcdraftConfig,
  EtcdraftConsenter,
  EtcdraftMetadataCheck,
  EtcdraftOptions,
  OrdererConfig,
} from './types.js';

export type { EtcdraftConfig, EtcdraftConsenter, EtcdraftMetadataCheck, EtcdraftOptions } from './types.js';
import { asBuffer, etcdraft, toNumber } from '../protos/index.js';

/** Fabric's DefaultSnapshotIntervalSize (orderer/consensus/etcdraft/chain.go), used when the option is 0. */
export const DEFAULT_SNAPSHOT_INTERVAL_SIZE = 16 * 1024 * 1024;

/** The TLS CAs of the orderer orgs, against which consenter certificates must chain. */
export interface ConsenterCertificateAuthorities {
  readonly roots: readonly Certificate[];
  readonly intermediates: readonly Certificate[];
}

const TLS_KEY_USAGES = [Oid.ekuClientAuth, Oid.ekuServerAuth];

/**
 * The etcdraft config of a channel's Orderer section, checked as Fabric's VerifyConfigMetadata
 * does. A bundle of an etcdraft channel carries it already checked (`orderer.etcdraft`); any other
 * Orderer config (built without a bundle, or of another consensus type, as the old side of a
 * migration) is checked here, against the TLS CAs of `mspManager`, the MSPs of the same config.
 * Throws the check's bad-request OrdererError.
 */
export function etcdraftConfigOf(orderer: OrdererConfig, mspManager: MSPManager): EtcdraftConfig {
  const checked = orderer.etcdraft ?? checkEtcdraftMetadata(orderer, mspManager);
  if (checked.error) throw checked.error;
  return checked.config;
}

/**
 * Runs every check of Fabric's VerifyConfigMetadata on an Orderer config, the certificate check
 * included, and returns the outcome instead of throwing. The bundle runs it once, after its MSPs
 * are built: the consenter certificates must chain to the TLS CAs of the orderer orgs of the same
 * config, which only the bundle knows together with the Orderer values (Fabric's
 * createX509VerifyOptions reads them from the same ordererConfig), and the check ignores expiry as
 * Fabric's does, so its outcome is a pure function of the config and holds for the bundle's life.
 * A failure does not refuse the bundle: Fabric's NewBundle accepts any metadata and its consenter
 * refuses it (HandleChain; ValidateConsensusMetadata for updates, with its own message), and a
 * channel this orderer only follows must still load.
 */
export function checkEtcdraftMetadata(orderer: OrdererConfig, mspManager: MSPManager): EtcdraftMetadataCheck {
  try {
    return {
      config: parseEtcdraftConfig(orderer.consensusMetadata, ordererTlsAuthorities(orderer, mspManager)),
    };
  } catch (err) {
    return { error: err instanceof Error ? err : new Error(String(err)) };
  }
}

/** Fabric's createX509VerifyOptions: the TLS root and intermediate CAs of every orderer org. */
export function ordererTlsAuthorities(
  orderer: OrdererConfig,
  mspManager: MSPManager,
): ConsenterCertificateAuthorities {
  const roots: Certificate[] = [];
  const intermediates: Certificate[] = [];
  for (const org of orderer.organizations.values()) {
    const msp = mspManager.msps.get(org.mspId);
    if (!msp) continue;
    for (const pem of msp.tlsRootCertsPem) roots.push(parseCertificatePem(pem, `${org.mspId} TLS root CA`));
    for (const pem of msp.tlsIntermediateCertsPem) {
      intermediates.push(parseCertificatePem(pem, `${org.mspId} TLS intermediate CA`));
    }
  }
  return { roots, intermediates };
}

/** Decodes and checks the metadata; throws a bad-request OrdererError naming the problem. */
export function parseEtcdraftConfig(
  metadata: Uint8Array,
  authorities: ConsenterCertificateAuthorities,
): EtcdraftConfig {
  let decoded: etcdraft.ConfigMetadata;
  try {
    decoded = etcdraft.ConfigMetadata.decode(metadata);
  } catch (err) {
    throw badRequest(
      `failed to unmarshal etcdraft metadata configuration: ${(err as Error).message}: ` +
        'ConsensusType.Metadata must be an etcdraft.ConfigMetadata (consenters and options)',
    );
  }
  const options = verifyOptions(decoded.options ?? undefined);
  const consenters = (decoded.consenters ?? []).map((c) => ({
    host: c.host ?? '',
    port: c.port ?? 0,
    clientTlsCert: Buffer.from(asBuffer(c.clientTlsCert)),
    serverTlsCert: Buffer.from(asBuffer(c.serverTlsCert)),
  }));
  if (consenters.length === 0) {
    throw badRequest('empty consenter set: the etcdraft ConfigMetadata must list at least one consenter');
  }
  for (const consenter of consenters) verifyConsenterCertificates(consenter, authorities);
  rejectDuplicates(consenters);
  return { consenters, options };
}

function verifyOptions(options: etcdraft.IOptions | undefined): EtcdraftOptions {
  if (!options) {
    throw badRequest('nil Raft config metadata options: the etcdraft ConfigMetadata must set Options');
  }
  const heartbeatTick = options.heartbeatTick ?? 0;
  const electionTick = options.electionTick ?? 0;
  const maxInflightBlocks = options.maxInflightBlocks ?? 0;
  if (heartbeatTick === 0 || electionTick === 0 || maxInflightBlocks === 0) {
    throw badRequest(
      `none of HeartbeatTick (${heartbeatTick}), ElectionTick (${electionTick}) and MaxInflightBlocks ` +
        `(${maxInflightBlocks}) can be zero (Fabric's defaults are 1, 10 and 5)`,
    );
  }
  if (electionTick <= heartbeatTick) {
    throw badRequest(
      `ElectionTick (${electionTick}) must be greater than HeartbeatTick (${heartbeatTick}) ` +
        '(Fabric uses ElectionTick 10 with HeartbeatTick 1)',
    );
  }
  const tickInterval = options.tickInterval ?? '';
  let tickNanos: bigint;
  try {
    tickNanos = parseDurationNanos(tickInterval);
  } catch (err) {
    throw badRequest(
      `failed to parse TickInterval (${tickInterval}) to time duration: ${(err as Error).message}`,
    );
  }
  if (tickNanos === 0n) throw badRequest('TickInterval cannot be zero (Fabric uses "500ms")');
  if (tickNanos < 0n) throw badRequest(`TickInterval (${tickInterval}) cannot be negative`);
  const snapshotIntervalSize = toNumber(options.snapshotIntervalSize);
  return {
    tickInterval,
    tickIntervalMs: Number(tickNanos) / 1e6,
    electionTick,
    heartbeatTick,
    maxInflightBlocks,
    snapshotIntervalSize: snapshotIntervalSize === 0 ? DEFAULT_SNAPSHOT_INTERVAL_SIZE : snapshotIntervalSize,
  };
}

function verifyConsenterCertificates(
  consenter: EtcdraftConsenter,
  authorities: ConsenterCertificateAuthorities,
): void {
  const where = `${consenter.host}:${consenter.port}`;
  const invalid = (message: string) =>
    badRequest(`consenter ${where} has invalid certificate: ${message}`, { consenter: where });
  for (const [kind, pem] of [
    ['client', consenter.clientTlsCert],
    ['server', consenter.serverTlsCert],
  ] as const) {
    let cert: Certificate;
    try {
      cert = parseCertificatePem(pem, `tls ${kind} cert of ${where}`);
    } catch (err) {
      throw invalid(
        `parsing tls ${kind} cert of ${where}: ${err instanceof OrdererError || err instanceof Error ? err.message : String(err)}` +
          ' (the consenter entry must hold the PEM of its TLS certificate)',
      );
    }
    const problem = verifyCertificateChain(cert, { ...authorities, keyUsages: TLS_KEY_USAGES });
    if (problem) {
      throw invalid(
        `verifying tls ${kind} cert with serial number ${cert.serialNumber}: ${problem} ` +
          "(the certificate must be issued by a TLS CA of one of the channel's orderer organizations)",
      );
    }
  }
}

function rejectDuplicates(consenters: readonly EtcdraftConsenter[]): void {
  const seen = new Set<string>();
  for (const consenter of consenters) {
    const server = consenter.serverTlsCert.toString('latin1');
    const client = consenter.clientTlsCert.toString('latin1');
    if (seen.has(server) || seen.has(client)) {
      throw badRequest(
        `duplicate consenter ${consenter.host}:${consenter.port}: its server or client TLS certificate ` +
          'is already used by another consenter (every consenter needs its own TLS certificates)',
      );
    }
    seen.add(server);
    seen.add(client);
  }
}
