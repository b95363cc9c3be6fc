// Human-readable names for MSP principals, used in policy descriptions and failure messages.
import { X509Certificate } from 'node:crypto';
import { common, msp } from '../protos/index.js';

const roleNames: Record<number, string> = {
  [common.MSPRole.MSPRoleType.MEMBER]: 'member',
  [common.MSPRole.MSPRoleType.ADMIN]: 'admin',
  [common.MSPRole.MSPRoleType.CLIENT]: 'client',
  [common.MSPRole.MSPRoleType.PEER]: 'peer',
  [common.MSPRole.MSPRoleType.ORDERER]: 'orderer',
};

export function roleName(role: number | null | undefined): string {
  return roleNames[role ?? 0] ?? `role(${role})`;
}

/**
 * 'Org1MSP.admin' for a role principal (the policydsl spelling), 'Org1MSP.OU(peer)' for an OU
 * principal, 'identity Org1MSP "User1@org1.example.com"' for an identity principal.
 */
export function describePrincipal(principal: common.IMSPPrincipal): string {
  const bytes = principal.principal ?? new Uint8Array();
  const Classification = common.MSPPrincipal.Classification;
  try {
    switch (principal.principalClassification ?? Classification.ROLE) {
      case Classification.ROLE: {
        const role = common.MSPRole.decode(bytes);
        return `${role.mspIdentifier}.${roleName(role.role)}`;
      }
      case Classification.ORGANIZATION_UNIT: {
        const ou = common.OrganizationUnit.decode(bytes);
        return `${ou.mspIdentifier}.OU(${ou.organizationalUnitIdentifier})`;
      }
      case Classification.IDENTITY: {
        const id = msp.SerializedIdentity.decode(bytes);
        const cn = commonNameOfPem(Buffer.from(id.idBytes).toString('utf8'));
        return `identity ${id.mspid}${cn ? ` "${cn}"` : ''}`;
      }
      case Classification.ANONYMITY: {
        const anonymity = common.MSPIdentityAnonymity.decode(bytes);
        return anonymity.anonymityType === common.MSPIdentityAnonymity.MSPIdentityAnonymityType.ANONYMOUS
          ? 'anonymous identity'
          : 'nominal identity';
      }
      case Classification.COMBINED: {
        const combined = common.CombinedPrincipal.decode(bytes);
        return `combined(${(combined.principals ?? []).map(describePrincipal).join(' & ')})`;
      }
      default:
        return `principal of unknown classification ${principal.principalClassification}`;
    }
  } catch {
    return 'undecodable principal';
  }
}

/** The MSP IDs a principal names (empty when it names none, e.g. anonymity). */
export function principalMspIds(principal: common.IMSPPrincipal): string[] {
  const bytes = principal.principal ?? new Uint8Array();
  const Classification = common.MSPPrincipal.Classification;
  try {
    switch (principal.principalClassification ?? Classification.ROLE) {
      case Classification.ROLE:
        return [common.MSPRole.decode(bytes).mspIdentifier];
      case Classification.ORGANIZATION_UNIT:
        return [common.OrganizationUnit.decode(bytes).mspIdentifier];
      case Classification.IDENTITY:
        return [msp.SerializedIdentity.decode(bytes).mspid];
      case Classification.COMBINED:
        return (common.CombinedPrincipal.decode(bytes).principals ?? []).flatMap(principalMspIds);
      default:
        return [];
    }
  } catch {
    return [];
  }
}

function commonNameOfPem(pem: string): string | undefined {
  try {
    return commonNameOfSubject(new X509Certificate(pem).subject);
  } catch {
    return undefined;
  }
}

export function commonNameOfSubject(subject: string): string | undefined {
  const line = subject.split('\n').find((part) => part.startsWith('CN='));
  return line?.slice(3);
}
