// Rules about how a channel config may evolve from one sequence to the next that only need the two
// raw config trees (the structural part of Fabric's Bundle.ValidateNew). Validating that the new
// config is itself a complete, valid config is the bundle builder's job.
import { badRequest } from '../errors.js';
import { type common, msp } from '../protos/index.js';
import { sortedKeys } from './configtx-map.js';

const ORDERER = 'Orderer';
const APPLICATION = 'Application';
const CONSORTIUMS = 'Consortiums';
const MSP_KEY = 'MSP';

/** The MSP ID an organization group declares in its MSP value, or undefined when it has none/cannot be read. */
export function orgMspId(orgGroup: common.IConfigGroup | undefined): string | undefined {
  const raw = orgGroup?.values?.[MSP_KEY]?.value;
  if (!raw) return undefined;
  try {
    const config = msp.MSPConfig.decode(raw);
    const inner = config.config ?? new Uint8Array();
    // MSPConfig.type: 0 = FABRIC, 1 = IDEMIX; both carry the MSP ID as field 1 "name".
    const name =
      config.type === 1 ? msp.IdemixMSPConfig.decode(inner).name : msp.FabricMSPConfig.decode(inner).name;
    return name || undefined;
  } catch {
    return undefined;
  }
}

function checkOrgMspIds(
  label: string,
  current: common.IConfigGroup | undefined,
  next: common.IConfigGroup | undefined,
): void {
  for (const orgName of sortedKeys(current?.groups)) {
    const nextOrg = next?.groups?.[orgName];
    if (!nextOrg) continue;
    const before = orgMspId(current!.groups![orgName]);
    const after = orgMspId(nextOrg);
    if (before !== after) {
      throw badRequest(
        `${label} org ${orgName} attempted to change MSP ID from ${before ?? '(none)'} to ${after ?? '(none)'}: ` +
          `an organization's MSP ID cannot change; remove the org and add a new one instead`,
        { org: orgName, from: before, to: after },
      );
    }
  }
}

/**
 * Throws OrdererError('bad-request') when `next` may not follow `current`: a section (Orderer,
 * Application, Consortiums) present in the current config is missing, a Consortiums section appears
 * on a channel that had none, or an existing organization's MSP ID changed. Messages start with
 * Fabric's wording.
 */
export function checkConfigTransition(current: common.IConfig, next: common.IConfig): void {
  const before = current.channelGroup?.groups ?? {};
  const after = next.channelGroup?.groups ?? {};

  for (const section of [ORDERER, APPLICATION, CONSORTIUMS]) {
    if (before[section] && !after[section]) {
      throw badRequest(
        `current config has ${section.toLowerCase()} section, but new config does not: ` +
          `the update removes /Channel/${section}, which is not allowed`,
        { section },
      );
    }
  }
  if (!before[CONSORTIUMS] && after[CONSORTIUMS]) {
    throw badRequest(
      'current config has no consortiums section, but new config does: only the system channel has consortiums',
      { section: CONSORTIUMS },
    );
  }

  checkOrgMspIds('orderer', before[ORDERER], after[ORDERER]);
  checkOrgMspIds('application', before[APPLICATION], after[APPLICATION]);
  for (const consortium of sortedKeys(before[CONSORTIUMS]?.groups)) {
    checkOrgMspIds(
      `consortium ${consortium}`,
      before[CONSORTIUMS]!.groups![consortium],
      after[CONSORTIUMS]?.groups?.[consortium],
    );
  }
}
