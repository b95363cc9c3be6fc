// Config update validation: Fabric's common/configtx validator.go + update.go as a pure function of
// (current config, CONFIG_UPDATE envelope). The only outside call is policy evaluation through the
// current config's PolicyManager.
//
// Errors are OrdererError('bad-request') carrying Fabric's message prefixes ("error authorizing
// update: error validating DeltaSet: ...") followed by what exactly was wrong and what to do. The
// caller adds "error applying config update to existing channel '<id>': ".
import { X509Certificate } from 'node:crypto';
import { OrdererError, badRequest, errorMessage, withMessagePrefix } from '../errors.js';
import type { PolicyManager, SignedData } from '../policies/types.js';
import { asBuffer, common, msp, toNumber } from '../protos/index.js';
import {
  type ConfigElement,
  type ConfigMap,
  ROOT_GROUP_KEY,
  absolutePolicyPath,
  compareKeys,
  configMapToGroup,
  describeElement,
  elementMapKey,
  elementPath,
  mapConfig,
  modPolicyContextPath,
  modPolicyProblem,
  policyExistsInTree,
} from './configtx-map.js';
import { checkConfigTransition } from './configtx-transition.js';

/** What a config update is applied to; a ChannelConfigBundle has this shape. */
export interface ConfigUpdateTarget {
  readonly channelId: string;
  readonly sequence: number;
  readonly config: common.IConfig;
  /** Evaluates the mod_policies of modified elements; called with absolute paths ('/Channel/Orderer/Admins'). */
  readonly policyManager: PolicyManager;
}

/** A CONFIG_UPDATE envelope taken apart, every signed byte kept as received. */
export interface DecodedConfigUpdate {
  /** The envelope as received; it becomes ConfigEnvelope.last_update. */
  readonly envelope: common.IEnvelope;
  readonly channelHeader: common.ChannelHeader;
  readonly configUpdateEnvelope: common.ConfigUpdateEnvelope;
  /** ConfigUpdateEnvelope.config_update exactly as received: the bytes every ConfigSignature covers. */
  readonly configUpdateBytes: Buffer;
  readonly configUpdate: common.ConfigUpdate;
}

const CONFIG_UPDATE_TYPE = common.HeaderType.CONFIG_UPDATE;

function decodeOrThrow<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    throw badRequest(`${what} could not be decoded: ${errorMessage(err)}`, {}, { cause: err });
  }
}

/**
 * Takes a CONFIG_UPDATE Envelope (bytes or decoded) apart. Throws OrdererError('bad-request') with
 * Fabric's prefix "error converting envelope to config update: " when it is not one.
 */
export function decodeConfigUpdate(envelope: Buffer | Uint8Array | common.IEnvelope): DecodedConfigUpdate {
  const prefix = 'error converting envelope to config update: ';
  try {
    const env = envelope instanceof Uint8Array ? common.Envelope.decode(envelope) : envelope;
    const payload = decodeOrThrow('envelope payload', () => common.Payload.decode(asBuffer(env.payload)));
    if (!payload.header?.channelHeader) throw badRequest('envelope must have a Header with a ChannelHeader');
    const channelHeader = decodeOrThrow('channel header', () =>
      common.ChannelHeader.decode(asBuffer(payload.header!.channelHeader)),
    );
    if (channelHeader.type !== CONFIG_UPDATE_TYPE) {
      const name = common.HeaderType[channelHeader.type] ?? String(channelHeader.type);
      throw badRequest(`invalid type ${name}, expected CONFIG_UPDATE`);
    }
    const configUpdateEnvelope = decodeOrThrow('ConfigUpdateEnvelope', () =>
      common.ConfigUpdateEnvelope.decode(asBuffer(payload.data)),
    );
    const configUpdateBytes = asBuffer(configUpdateEnvelope.configUpdate);
    const configUpdate = decodeOrThrow('ConfigUpdate', () => common.ConfigUpdate.decode(configUpdateBytes));
    return { envelope: env, channelHeader, configUpdateEnvelope, configUpdateBytes, configUpdate };
  } catch (err) {
    if (err instanceof OrdererError) throw badRequest(prefix + err.message, err.details, { cause: err });
    throw badRequest(prefix + errorMessage(err), {}, { cause: err });
  }
}

/**
 * Fabric's protoutil.ConfigUpdateEnvelopeAsSignedData: one SignedData per ConfigSignature, over
 * signature_header || config_update as received, the identity being the signature header's creator.
 */
export function configUpdateSignedData(configUpdateEnvelope: common.IConfigUpdateEnvelope): SignedData[] {
  const configUpdate = asBuffer(configUpdateEnvelope.configUpdate);
  return (configUpdateEnvelope.signatures ?? []).map((configSignature, index) => {
    const signatureHeader = asBuffer(configSignature.signatureHeader);
    const header = decodeOrThrow(`signature header of config signature ${index}`, () =>
      common.SignatureHeader.decode(signatureHeader),
    );
    return {
      data: Buffer.concat([signatureHeader, configUpdate]),
      identity: asBuffer(header.creator),
      signature: asBuffer(configSignature.signature),
    };
  });
}

/** "Org1MSP 'Admin@org1.example.com'" for a marshalled SerializedIdentity, as well as can be read. */
export function describeSigner(identity: Buffer): string {
  try {
    const serialized = msp.SerializedIdentity.decode(identity);
    let subject = 'unreadable certificate';
    try {
      const cert = new X509Certificate(asBuffer(serialized.idBytes));
      const cn = cert.subject.split('\n').find((line) => line.startsWith('CN='));
      subject = cn ? cn.slice(3) : cert.subject.replace(/\n/g, ', ');
    } catch {
      // keep the placeholder; the MSP ID alone still helps
    }
    return `${serialized.mspid || '(no MSP ID)'} '${subject}'`;
  } catch {
    return 'an identity that is not a SerializedIdentity';
  }
}

function describeSignatures(signedData: readonly SignedData[]): string {
  if (signedData.length === 0) {
    return 'the update carries no signatures (ConfigUpdateEnvelope.signatures is empty); have the required admins sign it (e.g. peer channel signconfigtx) and resubmit';
  }
  const signers = signedData.map((s) => describeSigner(s.identity)).join(', ');
  return `the update carries ${signedData.length} signature(s), from ${signers}`;
}

function verifyReadSet(readSet: ConfigMap, current: ConfigMap): void {
  for (const [key, element] of [...readSet].sort(([a], [b]) => compareKeys(a, b))) {
    const existing = current.get(key);
    if (!existing) {
      throw badRequest(
        `error validating ReadSet: existing config does not contain element for ${key} but was in the read set: ` +
          `${describeElement(element)} does not exist on this channel; fetch the latest config block and recompute the update`,
        { path: elementPath(element), kind: element.kind },
      );
    }
    if (existing.version !== element.version) {
      throw badRequest(
        `error validating ReadSet: read set of ${elementPath(element)} is at version ${element.version} ` +
          `but the channel has version ${existing.version}: fetch the latest config block and recompute the update`,
        {
          path: elementPath(element),
          kind: element.kind,
          readVersion: element.version,
          currentVersion: existing.version,
        },
      );
    }
  }
}

/** Fabric's computeDeltaSet: write-set elements whose version differs from (or are absent in) the read set. */
export function computeDeltaSet(readSet: ConfigMap, writeSet: ConfigMap): ConfigMap {
  const delta: ConfigMap = new Map();
  for (const [key, element] of writeSet) {
    const read = readSet.get(key);
    if (read && read.version === element.version) continue;
    delta.set(key, element);
  }
  return delta;
}

function parentGroupKey(element: ConfigElement): string | undefined {
  if (element.parentPath.length === 0) return undefined;
  return elementMapKey({
    kind: 'group',
    key: element.parentPath[element.parentPath.length - 1]!,
    parentPath: element.parentPath.slice(0, -1),
  });
}

/** Checks of the delta that need no signatures: mod_policy syntax and version steps. */
function verifyDeltaStructure(delta: ConfigMap, current: ConfigMap): void {
  if (delta.size === 0) {
    throw badRequest(
      'error validating DeltaSet: delta set was empty -- update would have no effect: every element of the write set ' +
        'has the same version as in the read set; raise the version of each element you change by one',
    );
  }
  for (const [key, element] of [...delta].sort(([a], [b]) => compareKeys(a, b))) {
    const path = elementPath(element);
    const problem = modPolicyProblem(element.modPolicy);
    if (problem) {
      throw badRequest(
        `error validating DeltaSet: invalid mod_policy for element ${key}: ${problem}: ` +
          `set mod_policy of ${describeElement(element)} to the name or path of a policy (e.g. "Admins")`,
        { path, kind: element.kind, modPolicy: element.modPolicy },
      );
    }
    const existing = current.get(key);
    if (!existing) {
      if (element.version !== 0) {
        throw badRequest(
          `error validating DeltaSet: attempted to set key ${key} to version ${element.version}, but key does not exist: ` +
            `${describeElement(element)} is new, so its version must be 0`,
          { path, kind: element.kind, version: element.version },
        );
      }
      continue;
    }
    if (element.version !== existing.version + 1) {
      throw badRequest(
        `error validating DeltaSet: attempt to set key ${key} to version ${element.version}, but key is at version ` +
          `${existing.version}: a changed element's version must be exactly ${existing.version + 1}` +
          (element.version > existing.version + 1
            ? ''
            : '; fetch the latest config block and recompute the update'),
        { path, kind: element.kind, version: element.version, currentVersion: existing.version },
      );
    }
  }
}

/**
 * Fabric silently drops a new element whose group is not itself changed (the rebuilt tree takes
 * the group's members from the current config); the update then "succeeds" without doing what it
 * says. Rejecting it names the group whose version must be raised, which also makes the group's
 * mod_policy authorize the addition.
 */
function verifyNewElementsAttached(delta: ConfigMap, current: ConfigMap): void {
  for (const [key, element] of [...delta].sort(([a], [b]) => compareKeys(a, b))) {
    if (current.has(key)) continue;
    const parentKey = parentGroupKey(element);
    if (parentKey === undefined || delta.has(parentKey)) continue;
    const parent = current.get(parentKey);
    const parentPath = '/' + element.parentPath.join('/');
    throw badRequest(
      `error validating DeltaSet: ${describeElement(element)} is new but its group ${parentPath} is not changed by ` +
        `the update (same version in read and write set): raise the write-set version of ${parentPath} to ` +
        `${(parent?.version ?? 0) + 1} so that adding a member is authorized by the group's mod_policy`,
      { path: elementPath(element), kind: element.kind, group: parentPath },
    );
  }
}

/** A delta element's new mod_policy must name a policy of the resulting config, or the element could never change again. */
function verifyModPoliciesResolve(delta: ConfigMap, result: common.IConfigGroup): void {
  for (const [, element] of [...delta].sort(([a], [b]) => compareKeys(a, b))) {
    const policyPath = absolutePolicyPath(modPolicyContextPath(element), element.modPolicy);
    if (!policyExistsInTree(result, policyPath)) {
      throw badRequest(
        `error validating DeltaSet: invalid mod_policy for element ${elementMapKey(element)}: mod_policy ` +
          `'${element.modPolicy}' resolves to ${policyPath}, which is not a policy of the resulting config; ` +
          `point it at an existing policy (e.g. "Admins")`,
        { path: elementPath(element), kind: element.kind, modPolicy: element.modPolicy, policyPath },
      );
    }
  }
}

/** Evaluates the current mod_policy of every modified existing element, each distinct policy once. */
async function authorizeDelta(
  delta: ConfigMap,
  current: ConfigMap,
  policyManager: PolicyManager,
  signedData: readonly SignedData[],
): Promise<void> {
  const elementsByPolicy = new Map<string, ConfigElement[]>();
  for (const [key] of [...delta].sort(([a], [b]) => compareKeys(a, b))) {
    const existing = current.get(key);
    if (!existing) continue;
    const policyPath = absolutePolicyPath(modPolicyContextPath(existing), existing.modPolicy);
    const governed = elementsByPolicy.get(policyPath) ?? [];
    governed.push(existing);
    elementsByPolicy.set(policyPath, governed);
  }

  for (const [policyPath, elements] of elementsByPolicy) {
    const first = elements[0]!;
    const governed = elements.map((e) => describeElement(e)).join(', ');
    const policy = policyManager.getPolicy(policyPath);
    if (!policy) {
      throw badRequest(
        `error validating DeltaSet: unexpected missing policy ${first.modPolicy} for item ${elementMapKey(first)}: ` +
          `mod_policy '${first.modPolicy}' resolves to ${policyPath}, which is not defined on this channel, ` +
          `so ${governed} cannot be modified`,
        { path: elementPath(first), policyPath },
      );
    }
    try {
      await policy.evaluateSignedData(signedData);
    } catch (err) {
      throw badRequest(
        `error validating DeltaSet: policy for ${elementMapKey(first)} not satisfied: changing ${governed} requires ` +
          `policy ${policyPath}: ${errorMessage(err)}; ${describeSignatures(signedData)}`,
        {
          path: elementPath(first),
          policyPath,
          modified: elements.map(elementPath),
          signers: signedData.map((s) => describeSigner(s.identity)),
        },
        { cause: err },
      );
    }
  }
}

function withPrefix(prefix: string, err: unknown): OrdererError {
  if (err instanceof OrdererError)
    return withMessagePrefix(err, prefix);
  return badRequest(prefix + errorMessage(err), {}, { cause: err });
}

/**
 * Fabric's ValidatorImpl.ProposeConfigUpdate: checks a CONFIG_UPDATE against the current config and
 * its policies and returns the ConfigEnvelope of the next config (sequence + 1, last_update = the
 * update envelope). The new channel group is built with sorted maps (see configtx-marshal.ts).
 * Also applies the structural transition rules of configtx-transition.ts. Never mutates `target`.
 */
export async function proposeConfigUpdate(
  target: ConfigUpdateTarget,
  update: Buffer | Uint8Array | common.IEnvelope | DecodedConfigUpdate,
): Promise<common.IConfigEnvelope> {
  const decoded = isDecoded(update) ? update : decodeConfigUpdate(update);
  const { configUpdate } = decoded;

  if (configUpdate.channelId !== target.channelId) {
    throw badRequest(
      `error authorizing update: ConfigUpdate for channel '${configUpdate.channelId}' but envelope for channel ` +
        `'${target.channelId}': the config update was computed for another channel`,
      { updateChannel: configUpdate.channelId, channel: target.channelId },
    );
  }

  const channelGroup = target.config.channelGroup;
  if (!channelGroup)
    throw badRequest(`error authorizing update: channel '${target.channelId}' has no channel group`);

  let result: common.IConfigGroup;
  try {
    const current = mapConfig(channelGroup, ROOT_GROUP_KEY);
    const readSet = withMappingPrefix('error mapping ReadSet: ', () =>
      mapConfig(configUpdate.readSet, ROOT_GROUP_KEY),
    );
    verifyReadSet(readSet, current);
    const writeSet = withMappingPrefix('error mapping WriteSet: ', () =>
      mapConfig(configUpdate.writeSet, ROOT_GROUP_KEY),
    );

    const delta = computeDeltaSet(readSet, writeSet);
    verifyDeltaStructure(delta, current);
    verifyNewElementsAttached(delta, current);

    const merged: ConfigMap = new Map(current);
    for (const [key, element] of delta) merged.set(key, element);
    result = configMapToGroup(merged, ROOT_GROUP_KEY);
    verifyModPoliciesResolve(delta, result);

    const signedData = configUpdateSignedData(decoded.configUpdateEnvelope);
    await authorizeDelta(delta, current, target.policyManager, signedData);
  } catch (err) {
    throw withPrefix('error authorizing update: ', err);
  }

  const config: common.IConfig = { sequence: target.sequence + 1, channelGroup: result };
  checkConfigTransition(target.config, config);
  return { config, lastUpdate: decoded.envelope };
}

function withMappingPrefix<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw withPrefix(prefix, err);
  }
}

function isDecoded(value: unknown): value is DecodedConfigUpdate {
  return (
    typeof value === 'object' && value !== null && 'configUpdateBytes' in value && 'configUpdate' in value
  );
}

/** The sequence of a decoded Config as a number (uint64 may decode as Long). */
export function configSequence(config: common.IConfig): number {
  return toNumber(config.sequence);
}
