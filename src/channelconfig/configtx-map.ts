// The flat view of a config tree that config update validation works on (Fabric's
// common/configtx/configmap.go and compare.go): every group, value and policy under a fully
// qualified key such as "[Value]  /Channel/Orderer/BatchSize", plus the way back to a tree.
import { badRequest } from '../errors.js';
import { type common, toNumber } from '../protos/index.js';

export const ROOT_GROUP_KEY = 'Channel';

/** Fabric's map-key prefixes; the odd spacing keeps the three the same length, as in Fabric. */
const GROUP_PREFIX = '[Group]  ';
const VALUE_PREFIX = '[Value]  ';
const POLICY_PREFIX = '[Policy] ';

/**
 * Configs written by Fabric v1.0 could leave mod_policy empty; once the orderer capabilities value
 * exists, Fabric rewrites every empty mod_policy to "Admins" when rebuilding the tree
 * (recurseConfigMap's "hacky fix"). The result must match Fabric's, so the same happens here.
 */
const LEGACY_MOD_POLICY_TRIGGER = `${VALUE_PREFIX}/${ROOT_GROUP_KEY}/Orderer/Capabilities`;
const LEGACY_MOD_POLICY_REPLACEMENT = 'Admins';

export type ConfigElementKind = 'group' | 'value' | 'policy';

/** One element of a config tree with where it sits (Fabric's `comparable`). */
export interface ConfigElement {
  readonly kind: ConfigElementKind;
  readonly key: string;
  /** Path of the group holding the element, root first ('Channel', 'Orderer'); empty for the root group. */
  readonly parentPath: readonly string[];
  readonly version: number;
  readonly modPolicy: string;
  readonly group?: common.IConfigGroup;
  readonly value?: common.IConfigValue;
  readonly policy?: common.IConfigPolicy;
}

export type ConfigMap = Map<string, ConfigElement>;

const PREFIXES: Record<ConfigElementKind, string> = {
  group: GROUP_PREFIX,
  value: VALUE_PREFIX,
  policy: POLICY_PREFIX,
};

/** '/Channel/Orderer/BatchSize' for an element. */
export function elementPath(element: Pick<ConfigElement, 'key' | 'parentPath'>): string {
  return '/' + [...element.parentPath, element.key].join('/');
}

/** Fabric's fully qualified map key, e.g. "[Policy] /Channel/Admins". */
export function elementMapKey(element: Pick<ConfigElement, 'kind' | 'key' | 'parentPath'>): string {
  return PREFIXES[element.kind] + elementPath(element);
}

/** Human wording for messages: "value /Channel/Orderer/BatchSize". */
export function describeElement(element: Pick<ConfigElement, 'kind' | 'key' | 'parentPath'>): string {
  return `${element.kind} ${elementPath(element)}`;
}

/** The path of the group whose policies a relative mod_policy of this element is resolved against. */
export function modPolicyContextPath(element: Pick<ConfigElement, 'kind' | 'key' | 'parentPath'>): string[] {
  // A group's own key is part of its context (Fabric's policyForItem); values and policies live in their parent.
  return element.kind === 'group' ? [...element.parentPath, element.key] : [...element.parentPath];
}

const MAX_ID_LENGTH = 249;
const CONFIG_ID_PATTERN = /^[a-zA-Z0-9.-]+$/;
const CHANNEL_ID_PATTERN = /^[a-z][a-z0-9.-]*$/;

/** Fabric's validateConfigID: the rule for every key of a config tree. Returns the problem or undefined. */
export function configIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'config ID illegal, cannot be empty';
  if (id.length > MAX_ID_LENGTH) return `config ID illegal, cannot be longer than ${MAX_ID_LENGTH}`;
  if (id === '.' || id === '..') return `name '${id}' for config ID is not allowed`;
  if (!CONFIG_ID_PATTERN.test(id)) {
    return `config ID '${id}' contains illegal characters (allowed: letters, digits, '.', '-')`;
  }
  return undefined;
}

/** Fabric's ValidateChannelID. Returns the problem or undefined. */
export function channelIdProblem(channelId: string): string | undefined {
  if (channelId.length === 0) return 'channel ID illegal, cannot be empty';
  if (channelId.length > MAX_ID_LENGTH) return `channel ID illegal, cannot be longer than ${MAX_ID_LENGTH}`;
  if (!CHANNEL_ID_PATTERN.test(channelId)) {
    return `'${channelId}' contains illegal characters (a channel ID starts with a lowercase letter followed by lowercase letters, digits, '.' or '-')`;
  }
  return undefined;
}

/** Fabric's validateModPolicy (syntax only). Returns the problem or undefined. */
export function modPolicyProblem(modPolicy: string): string | undefined {
  if (modPolicy === '') return 'mod_policy not set';
  const trimmed = modPolicy.startsWith('/') ? modPolicy.slice(1) : modPolicy;
  const parts = trimmed.split('/');
  for (let i = 0; i < parts.length; i++) {
    const problem = configIdProblem(parts[i]!);
    if (problem) return `path element at ${i} is invalid: ${problem}`;
  }
  return undefined;
}

/**
 * Resolves a mod_policy to an absolute policy path the way Fabric's policy manager does: absolute
 * paths stay as they are, relative ones are taken from the group at `contextPath`.
 */
export function absolutePolicyPath(contextPath: readonly string[], modPolicy: string): string {
  if (modPolicy.startsWith('/')) return modPolicy;
  const base = contextPath.length === 0 ? [ROOT_GROUP_KEY] : contextPath;
  return '/' + [...base, modPolicy].join('/');
}

/** Whether `absolutePath` ('/Channel/Orderer/Admins') names a policy defined in `root`. */
export function policyExistsInTree(root: common.IConfigGroup, absolutePath: string): boolean {
  const parts = absolutePath.split('/').slice(1);
  if (parts.length < 2 || parts[0] !== ROOT_GROUP_KEY) return false;
  let group: common.IConfigGroup | undefined = root;
  for (const name of parts.slice(1, -1)) {
    group = group?.groups?.[name];
    if (!group) return false;
  }
  return Object.prototype.hasOwnProperty.call(group?.policies ?? {}, parts[parts.length - 1]!);
}

/**
 * Fabric's mapConfig: flattens a config tree rooted at `rootKey`. Throws OrdererError('bad-request')
 * naming the offending key when a key is not a valid config ID.
 */
export function mapConfig(root: common.IConfigGroup | null | undefined, rootKey = ROOT_GROUP_KEY): ConfigMap {
  const result: ConfigMap = new Map();
  if (root) addGroup(result, [], rootKey, root);
  return result;
}

function addElement(result: ConfigMap, element: ConfigElement): void {
  const problem = configIdProblem(element.key);
  if (problem) {
    throw badRequest(`illegal key in ${describeElement(element)}: ${problem}`, {
      path: elementPath(element),
    });
  }
  result.set(elementMapKey(element), element);
}

function addGroup(result: ConfigMap, parentPath: string[], key: string, group: common.IConfigGroup): void {
  addElement(result, {
    kind: 'group',
    key,
    parentPath,
    version: toNumber(group.version),
    modPolicy: group.modPolicy ?? '',
    group,
  });
  const path = [...parentPath, key];
  for (const [childKey, child] of Object.entries(group.groups ?? {})) addGroup(result, path, childKey, child);
  for (const [valueKey, value] of Object.entries(group.values ?? {})) {
    addElement(result, {
      kind: 'value',
      key: valueKey,
      parentPath: path,
      version: toNumber(value.version),
      modPolicy: value.modPolicy ?? '',
      value,
    });
  }
  for (const [policyKey, policy] of Object.entries(group.policies ?? {})) {
    addElement(result, {
      kind: 'policy',
      key: policyKey,
      parentPath: path,
      version: toNumber(policy.version),
      modPolicy: policy.modPolicy ?? '',
      policy,
    });
  }
}

/**
 * Go (deterministic) orders map keys by their bytes; config IDs are ASCII, so code-unit order is the same.
 * Sorting here keeps our output stable; see configtx-marshal.ts for why insertion order alone is not enough.
 */
export function sortedKeys(record: Record<string, unknown> | null | undefined): string[] {
  return Object.keys(record ?? {}).sort(compareKeys);
}

export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Fabric's configMapToConfig/recurseConfigMap: rebuilds the tree from a flat map. Which members a
 * group has comes from the group element in the map (so a group taken from a write set brings its
 * member list, and members it leaves out are deleted). Elements are copied; nothing in the map is mutated.
 */
export function configMapToGroup(configMap: ConfigMap, rootKey = ROOT_GROUP_KEY): common.IConfigGroup {
  return rebuildGroup(configMap, [], rootKey, configMap.has(LEGACY_MOD_POLICY_TRIGGER));
}

function rebuildGroup(
  configMap: ConfigMap,
  parentPath: string[],
  key: string,
  fixEmptyModPolicies: boolean,
): common.IConfigGroup {
  const groupKey = elementMapKey({ kind: 'group', key, parentPath });
  const element = configMap.get(groupKey);
  if (!element?.group) throw badRequest(`config is missing group ${elementPath({ key, parentPath })}`);
  const source = element.group;
  const path = [...parentPath, key];
  const fixed = (modPolicy: string | null | undefined) =>
    fixEmptyModPolicies && !modPolicy ? LEGACY_MOD_POLICY_REPLACEMENT : (modPolicy ?? '');

  const groups: Record<string, common.IConfigGroup> = {};
  for (const childKey of sortedKeys(source.groups)) {
    groups[childKey] = rebuildGroup(configMap, path, childKey, fixEmptyModPolicies);
  }
  const values: Record<string, common.IConfigValue> = {};
  for (const valueKey of sortedKeys(source.values)) {
    const value = configMap.get(elementMapKey({ kind: 'value', key: valueKey, parentPath: path }))?.value;
    if (!value)
      throw badRequest(`config is missing value ${elementPath({ key: valueKey, parentPath: path })}`);
    values[valueKey] = {
      version: toNumber(value.version),
      value: value.value,
      modPolicy: fixed(value.modPolicy),
    };
  }
  const policies: Record<string, common.IConfigPolicy> = {};
  for (const policyKey of sortedKeys(source.policies)) {
    const policy = configMap.get(elementMapKey({ kind: 'policy', key: policyKey, parentPath: path }))?.policy;
    if (!policy)
      throw badRequest(`config is missing policy ${elementPath({ key: policyKey, parentPath: path })}`);
    policies[policyKey] = {
      version: toNumber(policy.version),
      policy: policy.policy ? { type: policy.policy.type ?? 0, value: policy.policy.value } : policy.policy,
      modPolicy: fixed(policy.modPolicy),
    };
  }
  return { version: toNumber(source.version), groups, values, policies, modPolicy: fixed(source.modPolicy) };
}

/**
 * A deep copy of a group with every map built in sorted key order (values and policies are copied,
 * their byte fields shared). Optionally sets every version to zero (Fabric's zeroVersions).
 */
export function copyConfigGroup(
  group: common.IConfigGroup,
  options: { zeroVersions?: boolean } = {},
): common.IConfigGroup {
  const version = (v: common.IConfigGroup['version']) => (options.zeroVersions ? 0 : toNumber(v));
  const groups: Record<string, common.IConfigGroup> = {};
  for (const key of sortedKeys(group.groups)) groups[key] = copyConfigGroup(group.groups![key]!, options);
  const values: Record<string, common.IConfigValue> = {};
  for (const key of sortedKeys(group.values)) {
    const value = group.values![key]!;
    values[key] = { version: version(value.version), value: value.value, modPolicy: value.modPolicy ?? '' };
  }
  const policies: Record<string, common.IConfigPolicy> = {};
  for (const key of sortedKeys(group.policies)) {
    const policy = group.policies![key]!;
    policies[key] = {
      version: version(policy.version),
      policy: policy.policy ? { type: policy.policy.type ?? 0, value: policy.policy.value } : policy.policy,
      modPolicy: policy.modPolicy ?? '',
    };
  }
  return { version: version(group.version), groups, values, policies, modPolicy: group.modPolicy ?? '' };
}
