// Turning a signature set into the identities a policy may count, as Fabric's
// policies.SignatureSetToValidIdentities does: deserialize, skip an identity already accepted,
// verify, drop the invalid ones. Verifications run concurrently; the result is the one the
// sequential Go loop gives.
import { createHash, X509Certificate } from 'node:crypto';
import type { Identity, IdentityDeserializer } from '../msp/types.js';
import { errorMessage } from '../errors.js';
import { msp } from '../protos/index.js';
import { commonNameOfSubject } from './principals.js';
import type { SignedData } from './types.js';

export interface RejectedSignature {
  /** Position in the signature set as given. */
  readonly index: number;
  /** The MSP ID the signer claimed, when the identity bytes could be read at all. */
  readonly claimedMspId: string | undefined;
  readonly reason: string;
}

/** The outcome of checking a signature set; what every policy of a channel evaluates. */
export interface VerifiedSignatureSet {
  /** Valid, de-duplicated signers in the order of the signature set. */
  readonly signers: readonly Identity[];
  /** Signatures that count for nothing, and why. */
  readonly rejected: readonly RejectedSignature[];
}

interface Candidate {
  index: number;
  identity: Identity;
  data: SignedData;
}

const NONE_REJECTED: readonly RejectedSignature[] = Object.freeze([]);

export function verifySignatureSet(
  signedData: readonly SignedData[],
  deserializer: IdentityDeserializer,
): Promise<VerifiedSignatureSet> {
  return signedData.length === 1
    ? verifyLoneSignature(signedData[0]!, deserializer)
    : verifyManySignatures(signedData, deserializer);
}

/**
 * The Broadcast case (every envelope carries one signature, its creator's): the same outcome as
 * the general path, without its grouping and rounds, which cost more than the rest of the policy
 * evaluation at thousands of envelopes per second.
 */
function verifyLoneSignature(
  data: SignedData,
  deserializer: IdentityDeserializer,
): Promise<VerifiedSignatureSet> {
  let identity: Identity;
  try {
    identity = deserializer.deserializeIdentity(data.identity);
  } catch (err) {
    return Promise.resolve({
      signers: [],
      rejected: [{ index: 0, claimedMspId: claimedMspId(data.identity), reason: errorMessage(err) }],
    });
  }
  return verifyCandidate({ index: 0, identity, data }).then((failure) =>
    failure === undefined
      ? { signers: [identity], rejected: NONE_REJECTED }
      : { signers: [], rejected: [{ index: 0, claimedMspId: identity.mspId, reason: failure }] },
  );
}

async function verifyManySignatures(
  signedData: readonly SignedData[],
  deserializer: IdentityDeserializer,
): Promise<VerifiedSignatureSet> {
  const rejected: RejectedSignature[] = [];
  // Candidates grouped by identity (MSP ID + certificate), each group in signature-set order.
  const groups = new Map<string, Candidate[]>();
  signedData.forEach((data, index) => {
    let identity: Identity;
    try {
      identity = deserializer.deserializeIdentity(data.identity);
    } catch (err) {
      rejected.push({ index, claimedMspId: claimedMspId(data.identity), reason: errorMessage(err) });
      return;
    }
    const key = identityKey(identity);
    const group = groups.get(key);
    if (group) group.push({ index, identity, data });
    else groups.set(key, [{ index, identity, data }]);
  });

  // Round r verifies the r-th candidate of every identity not accepted yet, so one identity's
  // signature is checked again only when its earlier copies were invalid (as in Fabric, where
  // an identity enters the de-duplication set only once one of its signatures verified).
  const accepted: Candidate[] = [];
  let pending = [...groups.values()];
  for (let round = 0; pending.length > 0; round++) {
    const attempts = pending.map((group) => group[round]!);
    const results = await Promise.all(attempts.map((candidate) => verifyCandidate(candidate)));
    const next: Candidate[][] = [];
    attempts.forEach((candidate, i) => {
      const failure = results[i];
      if (failure === undefined) {
        accepted.push(candidate);
        pending[i]!.slice(round + 1).forEach((duplicate) =>
          rejected.push({
            index: duplicate.index,
            claimedMspId: duplicate.identity.mspId,
            reason: `duplicate of signature #${candidate.index} by the same identity, counted once`,
          }),
        );
        return;
      }
      rejected.push({ index: candidate.index, claimedMspId: candidate.identity.mspId, reason: failure });
      if (pending[i]!.length > round + 1) next.push(pending[i]!);
    });
    pending = next;
  }

  accepted.sort((a, b) => a.index - b.index);
  rejected.sort((a, b) => a.index - b.index);
  return { signers: accepted.map((c) => c.identity), rejected };
}

/** Undefined when the signature verifies, else why not. One promise, no async frame (hot path). */
function verifyCandidate({ identity, data }: Candidate): Promise<string | undefined> {
  const couldNot = (err: unknown) =>
    `signature by ${describeIdentity(identity)} could not be verified: ${errorMessage(err)}`;
  let verified: Promise<boolean>;
  try {
    verified = identity.verify(data.data, data.signature);
  } catch (err) {
    return Promise.resolve(couldNot(err));
  }
  return verified.then(
    (ok) =>
      ok ? undefined : `signature by ${describeIdentity(identity)} does not verify over the signed data`,
    couldNot,
  );
}

function identityKey(identity: Identity): string {
  return `${identity.mspId}\u0000${createHash('sha256').update(identity.certDer).digest('hex')}`;
}

function claimedMspId(serialized: Buffer): string | undefined {
  try {
    return msp.SerializedIdentity.decode(serialized).mspid || undefined;
  } catch {
    return undefined;
  }
}

/** 'Org1MSP client "User1@org1.example.com"': for messages only (parses the certificate). */
export function describeIdentity(identity: Identity): string {
  let cn: string | undefined;
  try {
    cn = commonNameOfSubject(new X509Certificate(identity.certDer).subject);
  } catch {
    cn = undefined;
  }
  return `${identity.mspId}${identity.role ? ` ${identity.role}` : ''}${cn ? ` "${cn}"` : ''}`;
}

export function describeRejected(rejected: RejectedSignature): string {
  return `signature #${rejected.index}${rejected.claimedMspId ? ` (${rejected.claimedMspId})` : ''}: ${rejected.reason}`;
}
