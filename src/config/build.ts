// The decision core of configuration loading: a parsed orderer.yaml document plus the environment
// in, a typed LocalConfig (or one ConfigError naming every problem) out. The only I/O is the
// injected readFile, used for Kafka PEM values given as {File: path}, which Fabric reads at load.

import nodePath from 'node:path';
import { DEFAULTS } from './defaults.js';
import { ConfigError, describeSource, type ConfigProblem, type ConfigSource } from './errors.js';
import {
  KEY_HINTS,
  ORDERER_YAML_SCHEMA,
  joinKey,
  listLeaves,
  type LeafEntry,
  type LeafNode,
  type LeafType,
  type RelativeTo,
  type SectionNode,
} from './schema.js';
import type { BootstrapMethod, LocalConfig, MetricsProvider, TlsConfig } from './types.js';
import {
  editDistance,
  parseBool,
  parseByteSize,
  parseGoDuration,
  parseInteger,
  parseStringList,
  scalarToString,
  splitPemCertificates,
} from './values.js';

export interface BuildLocalConfigOptions {
  /** The parsed YAML document, or undefined when running without a config file. */
  document: unknown;
  /** Absolute path of the file the document was read from. */
  configFile: string | undefined;
  env: NodeJS.ProcessEnv;
  /** Absolute working directory: the base for paths Fabric does not translate. */
  cwd: string;
  readFile: (path: string) => string;
  /**
   * When false, ORDERER_* variables that match no key are reported as warnings instead of errors
   * (for shells that export variables meant for other tools, e.g. fabric-samples' ORDERER_CA).
   */
  strictEnv?: boolean;
}

export interface BuiltLocalConfig {
  config: LocalConfig;
  configDir: string;
  warnings: string[];
}

interface RawValue {
  value: unknown;
  source: ConfigSource;
}

interface TypedValue {
  value: unknown;
  source: ConfigSource;
}

const REDACTED = '<redacted>';

// Kubernetes injects <SERVICE>_SERVICE_HOST, <SERVICE>_PORT_7050_TCP_ADDR, ... for every Service in
// the namespace; a Service named "orderer" therefore produces ORDERER_* variables that are not
// configuration. Fabric ignores them, and so do we.
const KUBERNETES_SERVICE_LINK =
  /^ORDERER_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$/;

export function buildLocalConfig(options: BuildLocalConfigOptions): BuiltLocalConfig {
  const configDir = options.configFile ? nodePath.dirname(options.configFile) : options.cwd;
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const leaves = listLeaves();
  const leafByPath = new Map(leaves.map((entry) => [entry.path, entry]));
  const raw = new Map<string, RawValue>();

  if (options.document !== undefined && options.configFile !== undefined) {
    const fileSource: ConfigSource = { kind: 'file', file: options.configFile };
    collectDocument(options.document, fileSource, leaves, raw, problems, warnings);
  }
  collectEnvironment(options.env, leaves, raw, problems, warnings, options.strictEnv ?? true);

  const typed = new Map<string, TypedValue>();
  for (const [keyPath, rawValue] of raw) {
    const entry = leafByPath.get(keyPath);
    if (!entry) continue;
    const converted = convertLeaf(entry, rawValue, options, problems);
    if (converted !== undefined) typed.set(keyPath, { value: converted, source: rawValue.source });
  }

  const config = assemble(typed, configDir, options.cwd, problems, warnings);
  if (problems.length > 0) throw new ConfigError(problems);
  return { config, configDir, warnings };
}

// ---------------------------------------------------------------------------------------------
// Collecting raw values from the document and the environment

function collectDocument(
  document: unknown,
  source: ConfigSource,
  leaves: LeafEntry[],
  raw: Map<string, RawValue>,
  problems: ConfigProblem[],
  warnings: string[],
): void {
  if (document === null || document === undefined) return;
  if (!isPlainObject(document)) {
    problems.push({
      key: '(document root)',
      expected: 'a YAML mapping with sections such as General, FileLedger, Operations',
      source,
    });
    return;
  }
  const walk = (node: SectionNode, value: Record<string, unknown>, parent: string, tolerant: boolean) => {
    const seen = new Map<string, string>();
    for (const [key, child] of Object.entries(value)) {
      const keyPath = joinKey(parent, key);
      const schemaChild = node.children.find(
        (candidate) => candidate.name.toLowerCase() === key.toLowerCase(),
      );
      if (!schemaChild) {
        if (tolerant) {
          warnings.push(`${keyPath} (${describe(source)}) is not a known key; it is ignored`);
          continue;
        }
        problems.push({ key: keyPath, expected: unknownKeyAdvice(keyPath, leaves), source });
        continue;
      }
      const canonical = joinKey(parent, schemaChild.name);
      const earlier = seen.get(schemaChild.name);
      if (earlier !== undefined) {
        problems.push({
          key: keyPath,
          expected: `the same key as ${earlier} (keys are case-insensitive); give it only once`,
          source,
        });
        continue;
      }
      seen.set(schemaChild.name, keyPath);
      if (schemaChild.kind === 'section') {
        if (child === null || child === undefined) continue;
        if (!isPlainObject(child)) {
          problems.push({
            key: canonical,
            value: preview(child),
            expected: 'a mapping of keys (a section)',
            source,
          });
          continue;
        }
        walk(schemaChild, child, canonical, tolerant || schemaChild.tolerateUnknownKeys === true);
      } else {
        raw.set(canonical, { value: child, source });
      }
    }
  };
  walk(ORDERER_YAML_SCHEMA, document, '', false);
}

function collectEnvironment(
  env: NodeJS.ProcessEnv,
  leaves: LeafEntry[],
  raw: Map<string, RawValue>,
  problems: ConfigProblem[],
  warnings: string[],
  strictEnv: boolean,
): void {
  const leafByVariable = new Map(leaves.map((entry) => [entry.envVariable, entry]));
  const names = Object.keys(env)
    .filter((name) => name.startsWith('ORDERER_'))
    .sort();
  for (const variable of names) {
    const value = env[variable];
    // Fabric only overrides when the variable is non-empty.
    if (value === undefined || value === '') continue;
    const source: ConfigSource = { kind: 'env', variable };
    const entry = leafByVariable.get(variable);
    if (entry) {
      raw.set(entry.path, { value, source });
      continue;
    }
    // Fabric lets a missing value be read from a file named by <KEY>_FILE; that matters for the
    // Kafka TLS material, which is PEM text rather than a path.
    if (variable.endsWith('_FILE')) {
      const base = leafByVariable.get(variable.slice(0, -'_FILE'.length));
      if (base && (base.node.type.type === 'pem' || base.node.type.type === 'pemList')) {
        // The inline variable, when also set, wins (sorted, it was seen first).
        if (raw.get(base.path)?.source.kind !== 'env') raw.set(base.path, { value: { File: value }, source });
        continue;
      }
    }
    if (variable.startsWith('ORDERER_GENERAL_BCCSP_')) {
      warnings.push(`${variable} is not a known General.BCCSP key; it is ignored`);
      continue;
    }
    if (KUBERNETES_SERVICE_LINK.test(variable)) continue;
    if (CLIENT_SIDE_VARIABLES.has(variable) || !CONFIG_SECTION_PREFIX.test(variable)) {
      // Fabric's samples export client-side variables such as ORDERER_CA for the peer CLI and
      // osnadmin; they share the prefix but name no orderer.yaml key, so they must not stop start-up.
      warnings.push(`${variable} matches no orderer.yaml key; it is ignored`);
      continue;
    }
    const problem: ConfigProblem = {
      key: variable,
      expected: unknownVariableAdvice(variable, leaves),
      source,
    };
    if (strictEnv) problems.push(problem);
    else warnings.push(`${variable} matches no orderer.yaml key; it is ignored`);
  }
}

const CONFIG_SECTION_PREFIX =
  /^ORDERER_(GENERAL|FILELEDGER|KAFKA|DEBUG|OPERATIONS|METRICS|ADMIN|CHANNELPARTICIPATION|CONSENSUS)_/;
const CLIENT_SIDE_VARIABLES = new Set([
  'ORDERER_CA',
  'ORDERER_ADMIN_TLS_SIGN_CERT',
  'ORDERER_ADMIN_TLS_PRIVATE_KEY',
  'ORDERER_TLS_CA',
]);

function unknownKeyAdvice(keyPath: string, leaves: LeafEntry[]): string {
  const hint = KEY_HINTS[keyPath.toLowerCase()];
  if (hint) return `not a Fabric v2.5 orderer.yaml key: ${hint}`;
  const suggestion = closest(
    keyPath.toLowerCase(),
    allKeyPaths(leaves).map((candidate) => [candidate.toLowerCase(), candidate]),
  );
  return `not a Fabric v2.5 orderer.yaml key${suggestion ? `; did you mean ${suggestion}?` : '; remove it'}`;
}

function unknownVariableAdvice(variable: string, leaves: LeafEntry[]): string {
  const keyPath = variable.slice('ORDERER_'.length).toLowerCase().replaceAll('_', '.');
  const hint = KEY_HINTS[keyPath];
  if (hint) return `names no Fabric v2.5 orderer.yaml key: ${hint}`;
  const suggestion = closest(
    variable,
    leaves.map((entry) => [entry.envVariable, entry.envVariable]),
  );
  return (
    'names no orderer.yaml key (ORDERER_<SECTION>_<KEY>, e.g. ORDERER_GENERAL_LISTENPORT)' +
    (suggestion ? `; did you mean ${suggestion}?` : '; unset it for the orderer process')
  );
}

function allKeyPaths(leaves: LeafEntry[]): string[] {
  const result = new Set<string>();
  for (const entry of leaves) {
    const parts = entry.path.split('.');
    for (let length = 1; length <= parts.length; length++) result.add(parts.slice(0, length).join('.'));
  }
  return [...result];
}

function closest(target: string, candidates: Array<[compared: string, shown: string]>): string | undefined {
  let best: { shown: string; distance: number } | undefined;
  for (const [compared, shown] of candidates) {
    const distance = editDistance(target, compared);
    if (!best || distance < best.distance) best = { shown, distance };
  }
  if (!best) return undefined;
  const lastSegment = target.split(/[._]/).pop() ?? target;
  return best.distance <= Math.max(2, Math.floor(lastSegment.length / 3)) ? best.shown : undefined;
}

// ---------------------------------------------------------------------------------------------
// Converting one raw value to its type

function convertLeaf(
  entry: LeafEntry,
  raw: RawValue,
  options: BuildLocalConfigOptions,
  problems: ConfigProblem[],
): unknown {
  const fromFile = raw.source.kind === 'file';
  const fail = (expected: string): undefined => {
    problems.push({ key: entry.path, value: shown(entry.node, raw.value), expected, source: raw.source });
    return undefined;
  };
  const type = entry.node.type;
  const value = raw.value;

  switch (type.type) {
    case 'string':
    case 'path': {
      const text = scalarToString(value);
      return text ?? fail(expectedText(type));
    }
    case 'stringList':
    case 'pathList':
      return parseStringList(value) ?? fail(expectedText(type));
    case 'bool': {
      if (value === null) return false;
      return parseBool(value, fromFile) ?? fail(expectedText(type));
    }
    case 'int': {
      if (value === null || value === '') return 0;
      const parsed = parseInteger(value);
      if (parsed === undefined || parsed < type.min || parsed > type.max) return fail(expectedText(type));
      return parsed;
    }
    case 'port': {
      if (value === null || value === '') return 0;
      const parsed = parseInteger(value);
      if (parsed === undefined || parsed < 0 || parsed > 65535) return fail(expectedText(type));
      return parsed;
    }
    case 'duration': {
      if (value === null || value === '' || value === 0) return 0;
      if (typeof value !== 'string') return fail(expectedText(type));
      const parsed = parseGoDuration(value.trim());
      if (parsed === undefined) return fail(expectedText(type));
      if (parsed < 0 && !type.allowNegative) return fail('a duration that is not negative');
      return parsed;
    }
    case 'byteSize': {
      if (value === null || value === '') return 0;
      const parsed = parseByteSize(value);
      if (parsed === undefined || parsed < 0 || parsed > type.max) return fail(expectedText(type));
      return parsed;
    }
    case 'enum': {
      const text = scalarToString(value);
      if (text === undefined || (text !== '' && !type.values.includes(text))) return fail(expectedText(type));
      return text;
    }
    case 'kafkaVersion': {
      const text = scalarToString(value);
      if (text === undefined || (text !== '' && !/^(0\.\d+\.\d+\.\d+|[1-9]\d*\.\d+\.\d+)$/.test(text))) {
        return fail(expectedText(type));
      }
      return text;
    }
    case 'pem':
    case 'pemList': {
      if (isPlainObject(value)) {
        const fileName = fileReference(value);
        if (fileName === undefined) return fail(expectedText(type));
        let content: string;
        try {
          content = options.readFile(nodePath.resolve(options.cwd, fileName));
        } catch (err) {
          return fail(`a readable file (${err instanceof Error ? err.message : String(err)})`);
        }
        return type.type === 'pem' ? content : splitPemCertificates(content);
      }
      if (type.type === 'pem') return scalarToString(value) ?? fail(expectedText(type));
      return parseStringList(value) ?? fail(expectedText(type));
    }
  }
}

function fileReference(value: Record<string, unknown>): string | undefined {
  const keys = Object.keys(value);
  if (keys.length !== 1 || (keys[0] !== 'File' && keys[0] !== 'file')) return undefined;
  const fileName = value[keys[0]];
  return typeof fileName === 'string' && fileName !== '' ? fileName : undefined;
}

function expectedText(type: LeafType): string {
  switch (type.type) {
    case 'string':
      return 'a string';
    case 'path':
      return 'a file path';
    case 'stringList':
    case 'pathList':
      return 'a list of strings (a YAML sequence, or "[a, b]" in an environment variable)';
    case 'bool':
      return 'true or false';
    case 'int':
      return `an integer from ${type.min} to ${type.max}`;
    case 'port':
      return 'a TCP port from 1 to 65535 (0 or empty means unset)';
    case 'duration':
      return 'a Go duration such as 300ms, 5s, 1m30s or 168h (a bare number other than 0 is not accepted)';
    case 'byteSize':
      return `a size in bytes up to ${type.max}: a number, or a number with K, M or G (binary units) such as 512 KB or 1 MB`;
    case 'enum':
      return `one of: ${type.values.join(', ')}`;
    case 'kafkaVersion':
      return 'a Kafka protocol version such as 0.10.2.0 or 2.0.0';
    case 'pem':
      return 'PEM text, or a mapping {File: <path to a PEM file>}';
    case 'pemList':
      return 'a list of PEM certificates, or a mapping {File: <path to a PEM file>}';
  }
}

function shown(node: LeafNode, value: unknown): string {
  return node.secret ? REDACTED : preview(value);
}

function preview(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function describe(source: ConfigSource): string {
  return describeSource(source);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Assembling the typed configuration: defaults, cross-field rules, path translation

function assemble(
  typed: Map<string, TypedValue>,
  configDir: string,
  cwd: string,
  problems: ConfigProblem[],
  warnings: string[],
): LocalConfig {
  const settings = new TypedSettings(typed, configDir, cwd, problems, warnings);
  // One function per orderer.yaml section, called in the file's order, so problems and warnings
  // are listed in the order a reader of orderer.yaml meets the keys.
  return {
    general: generalSection(settings),
    fileLedger: fileLedgerSection(settings),
    kafka: kafkaSection(settings),
    debug: debugSection(settings),
    operations: {
      listenAddress: settings.str('Operations.ListenAddress'),
      tls: settings.tls('Operations.TLS', 'cwd'),
    },
    metrics: metricsSection(settings),
    admin: adminSection(settings),
    channelParticipation: channelParticipationSection(settings),
    consensus: consensusSection(settings),
  };
}

// Fabric treats a zero value as "unset" and substitutes the default.
function orDefault<T extends string | number>(value: T, fallback: T): T {
  return value === '' || value === 0 ? fallback : value;
}

/** The converted values of one load, read by key, with the problems and warnings they give rise to. */
class TypedSettings {
  constructor(
    private readonly typed: Map<string, TypedValue>,
    private readonly configDir: string,
    private readonly cwd: string,
    private readonly problems: ConfigProblem[],
    readonly warnings: string[],
  ) {}

  sourceOf(key: string): ConfigSource {
    return this.typed.get(key)?.source ?? { kind: 'default' };
  }
  given(key: string): boolean {
    return this.typed.has(key);
  }
  str(key: string): string {
    return (this.typed.get(key)?.value as string | undefined) ?? '';
  }
  num(key: string): number {
    return (this.typed.get(key)?.value as number | undefined) ?? 0;
  }
  flag(key: string): boolean {
    return (this.typed.get(key)?.value as boolean | undefined) ?? false;
  }
  list(key: string): string[] {
    return (this.typed.get(key)?.value as string[] | undefined) ?? [];
  }
  /** A duration that is absent when unset or zero (the consumer then derives it). */
  optionalDuration(key: string): number | undefined {
    return this.given(key) && this.num(key) !== 0 ? this.num(key) : undefined;
  }
  translate(value: string, relativeTo: RelativeTo): string {
    return value === ''
      ? ''
      : nodePath.resolve(relativeTo === 'configDir' ? this.configDir : this.cwd, value);
  }
  translateAll(values: string[], relativeTo: RelativeTo): string[] {
    return values.map((value) => this.translate(value, relativeTo));
  }
  problem(key: string, expected: string, value?: string): void {
    this.problems.push({
      key,
      expected,
      source: this.sourceOf(key),
      ...(value === undefined ? {} : { value }),
    });
  }
  /** A value required by another setting: point at that setting's source when this one is absent. */
  missing(key: string, expected: string, requiredBy: string): void {
    this.problems.push({ key, expected, source: this.typed.get(key)?.source ?? this.sourceOf(requiredBy) });
  }
  /** A refusal of a value that is only wrong because of another setting (shown with its own value). */
  conflict(key: string, value: string, expected: string, requiredBy: string): void {
    this.problems.push({
      key,
      value,
      expected,
      source: this.typed.get(key)?.source ?? this.sourceOf(requiredBy),
    });
  }

  /** A server TLS section; when enabled, its certificate and key are required. */
  tls(section: string, relativeTo: RelativeTo): TlsConfig {
    if (this.flag(`${section}.Enabled`)) {
      for (const field of ['Certificate', 'PrivateKey']) {
        if (this.str(`${section}.${field}`) === '') {
          this.missing(
            `${section}.${field}`,
            `a file path: ${section}.Enabled is true`,
            `${section}.Enabled`,
          );
        }
      }
    }
    return {
      enabled: this.flag(`${section}.Enabled`),
      privateKey: this.translate(this.str(`${section}.PrivateKey`), relativeTo),
      certificate: this.translate(this.str(`${section}.Certificate`), relativeTo),
      rootCAs: this.translateAll(this.list(`${section}.RootCAs`), relativeTo),
      clientAuthRequired: this.flag(`${section}.ClientAuthRequired`),
      clientRootCAs: this.translateAll(this.list(`${section}.ClientRootCAs`), relativeTo),
      tlsHandshakeTimeShiftMs: this.num(`${section}.TLSHandshakeTimeShift`),
    };
  }
}

function generalSection(s: TypedSettings): LocalConfig['general'] {
  const { bootstrapMethod, bootstrapFile } = bootstrapSettings(s);
  const tls = s.tls('General.TLS', 'configDir');
  const cluster = clusterSection(s);
  checkBccsp(s);
  if (s.flag('General.Profile.Enabled')) {
    s.warnings.push('General.Profile.Enabled is ignored: Go pprof profiling does not exist in this orderer');
  }
  if (s.given('General.ConnectionTimeout'))
    s.warnings.push('General.ConnectionTimeout is ignored, as in Fabric 2.x');
  const keepalive = DEFAULTS.general.keepalive;
  return {
    listenAddress: orDefault(s.str('General.ListenAddress'), DEFAULTS.general.listenAddress),
    listenPort: orDefault(s.num('General.ListenPort'), DEFAULTS.general.listenPort),
    tls,
    keepalive: {
      serverMinIntervalMs: orDefault(
        s.num('General.Keepalive.ServerMinInterval'),
        keepalive.serverMinIntervalMs,
      ),
      serverIntervalMs: orDefault(s.num('General.Keepalive.ServerInterval'), keepalive.serverIntervalMs),
      serverTimeoutMs: orDefault(s.num('General.Keepalive.ServerTimeout'), keepalive.serverTimeoutMs),
    },
    maxRecvMsgSize: orDefault(s.num('General.MaxRecvMsgSize'), DEFAULTS.general.maxRecvMsgSize),
    maxSendMsgSize: orDefault(s.num('General.MaxSendMsgSize'), DEFAULTS.general.maxSendMsgSize),
    cluster,
    connectionTimeoutMs: s.num('General.ConnectionTimeout'),
    bootstrapMethod,
    bootstrapFile: s.translate(bootstrapFile, 'configDir'),
    localMSPDir: s.translate(
      orDefault(s.str('General.LocalMSPDir'), DEFAULTS.general.localMSPDir),
      'configDir',
    ),
    localMSPID: orDefault(s.str('General.LocalMSPID'), DEFAULTS.general.localMSPID),
    bccsp: { default: 'SW', keyStore: s.translate(s.str('General.BCCSP.SW.FileKeyStore.KeyStore'), 'cwd') },
    authentication: {
      timeWindowMs: orDefault(
        s.num('General.Authentication.TimeWindow'),
        DEFAULTS.general.authenticationTimeWindowMs,
      ),
      noExpirationChecks: s.flag('General.Authentication.NoExpirationChecks'),
    },
    profile: {
      enabled: s.flag('General.Profile.Enabled'),
      address:
        s.flag('General.Profile.Enabled') || s.given('General.Profile.Address')
          ? orDefault(s.str('General.Profile.Address'), DEFAULTS.general.profileAddress)
          : '',
    },
  };
}

/** Bootstrap: GenesisMethod / GenesisFile are the pre-2.0 names Fabric still honours. */
function bootstrapSettings(s: TypedSettings): { bootstrapMethod: BootstrapMethod; bootstrapFile: string } {
  let bootstrapMethod = s.str('General.BootstrapMethod');
  let bootstrapMethodKey = 'General.BootstrapMethod';
  if (bootstrapMethod === '' && s.str('General.GenesisMethod') !== '') {
    bootstrapMethod = s.str('General.GenesisMethod');
    bootstrapMethodKey = 'General.GenesisMethod';
    s.warnings.push('General.GenesisMethod is deprecated; use General.BootstrapMethod');
  }
  bootstrapMethod = orDefault(bootstrapMethod, DEFAULTS.general.bootstrapMethod);
  if (bootstrapMethod !== 'file' && bootstrapMethod !== 'none') {
    s.problem(bootstrapMethodKey, 'one of: file, none', bootstrapMethod);
  }
  let bootstrapFile = s.str('General.BootstrapFile');
  if (bootstrapFile === '' && s.str('General.GenesisFile') !== '') {
    bootstrapFile = s.str('General.GenesisFile');
    s.warnings.push('General.GenesisFile is deprecated; use General.BootstrapFile');
  }
  return {
    bootstrapMethod: bootstrapMethod as BootstrapMethod,
    bootstrapFile: orDefault(bootstrapFile, DEFAULTS.general.bootstrapFile),
  };
}

/** Cluster: a separate listener exists only when its port is set; then its address and TLS pair are required. */
function clusterSection(s: TypedSettings): LocalConfig['general']['cluster'] {
  const listenerKeys = ['ListenAddress', 'ServerCertificate', 'ServerPrivateKey'];
  if (s.num('General.Cluster.ListenPort') !== 0) {
    for (const field of listenerKeys) {
      if (s.str(`General.Cluster.${field}`) === '') {
        s.missing(
          `General.Cluster.${field}`,
          'a value: General.Cluster.ListenPort is set, so the cluster listener needs it',
          'General.Cluster.ListenPort',
        );
      }
    }
  } else {
    const stray = listenerKeys.filter((field) => s.str(`General.Cluster.${field}`) !== '');
    if (stray.length > 0) {
      s.warnings.push(
        `General.Cluster.${stray.join(', General.Cluster.')} ignored: General.Cluster.ListenPort is unset, so the general listener is used`,
      );
    }
  }
  const defaults = DEFAULTS.general.cluster;
  const duration = (key: string, fallback: number) => orDefault(s.num(`General.Cluster.${key}`), fallback);
  return {
    listenAddress: s.str('General.Cluster.ListenAddress'),
    listenPort: s.num('General.Cluster.ListenPort'),
    serverCertificate: s.translate(s.str('General.Cluster.ServerCertificate'), 'cwd'),
    serverPrivateKey: s.translate(s.str('General.Cluster.ServerPrivateKey'), 'cwd'),
    clientCertificate: s.translate(s.str('General.Cluster.ClientCertificate'), 'configDir'),
    clientPrivateKey: s.translate(s.str('General.Cluster.ClientPrivateKey'), 'configDir'),
    rootCAs: s.translateAll(s.list('General.Cluster.RootCAs'), 'configDir'),
    dialTimeoutMs: duration('DialTimeout', defaults.dialTimeoutMs),
    rpcTimeoutMs: duration('RPCTimeout', defaults.rpcTimeoutMs),
    replicationBufferSize: duration('ReplicationBufferSize', defaults.replicationBufferSize),
    replicationPullTimeoutMs: duration('ReplicationPullTimeout', defaults.replicationPullTimeoutMs),
    replicationRetryTimeoutMs: duration('ReplicationRetryTimeout', defaults.replicationRetryTimeoutMs),
    replicationBackgroundRefreshIntervalMs: duration(
      'ReplicationBackgroundRefreshInterval',
      defaults.replicationBackgroundRefreshIntervalMs,
    ),
    replicationMaxRetries: duration('ReplicationMaxRetries', defaults.replicationMaxRetries),
    sendBufferSize: duration('SendBufferSize', defaults.sendBufferSize),
    certExpirationWarningThresholdMs: duration(
      'CertExpirationWarningThreshold',
      defaults.certExpirationWarningThresholdMs,
    ),
    tlsHandshakeTimeShiftMs: s.num('General.Cluster.TLSHandshakeTimeShift'),
  };
}

/** BCCSP: only the software provider exists here; its hash/security tuning does not apply. */
function checkBccsp(s: TypedSettings): void {
  const provider = s.str('General.BCCSP.Default');
  if (provider !== '' && provider.toUpperCase() !== 'SW') {
    s.problem(
      'General.BCCSP.Default',
      'SW: this orderer keeps keys in the local MSP keystore; PKCS11 (HSM) is not supported',
      provider,
    );
  }
  const hash = s.str('General.BCCSP.SW.Hash');
  const security = s.num('General.BCCSP.SW.Security');
  if ((hash !== '' && hash.toUpperCase() !== 'SHA2') || (security !== 0 && security !== 256)) {
    s.warnings.push(
      `General.BCCSP.SW.Hash/Security (${hash || 'unset'}/${security || 'unset'}) are ignored: ` +
        'this orderer hashes with SHA-256 and uses the ECDSA keys found in the local MSP as they are',
    );
  }
}

function fileLedgerSection(s: TypedSettings): LocalConfig['fileLedger'] {
  if (s.str('FileLedger.Prefix') !== '') s.warnings.push('FileLedger.Prefix is ignored, as in Fabric 2.x');
  return {
    location: s.translate(orDefault(s.str('FileLedger.Location'), DEFAULTS.fileLedger.location), 'configDir'),
    prefix: s.str('FileLedger.Prefix'),
  };
}

function kafkaSection(s: TypedSettings): LocalConfig['kafka'] {
  checkKafkaSecurity(s);
  const retry = DEFAULTS.kafka.retry;
  const or = (key: string, fallback: number) => orDefault(s.num(`Kafka.Retry.${key}`), fallback);
  return {
    retry: {
      shortIntervalMs: or('ShortInterval', retry.shortIntervalMs),
      shortTotalMs: or('ShortTotal', retry.shortTotalMs),
      longIntervalMs: or('LongInterval', retry.longIntervalMs),
      longTotalMs: or('LongTotal', retry.longTotalMs),
      networkTimeouts: {
        dialTimeoutMs: or('NetworkTimeouts.DialTimeout', retry.networkTimeouts.dialTimeoutMs),
        readTimeoutMs: or('NetworkTimeouts.ReadTimeout', retry.networkTimeouts.readTimeoutMs),
        writeTimeoutMs: or('NetworkTimeouts.WriteTimeout', retry.networkTimeouts.writeTimeoutMs),
      },
      metadata: {
        retryBackoffMs: or('Metadata.RetryBackoff', retry.metadata.retryBackoffMs),
        retryMax: or('Metadata.RetryMax', retry.metadata.retryMax),
      },
      producer: {
        retryBackoffMs: or('Producer.RetryBackoff', retry.producer.retryBackoffMs),
        retryMax: or('Producer.RetryMax', retry.producer.retryMax),
      },
      consumer: { retryBackoffMs: or('Consumer.RetryBackoff', retry.consumer.retryBackoffMs) },
    },
    topic: {
      replicationFactor: orDefault(
        s.num('Kafka.Topic.ReplicationFactor'),
        DEFAULTS.kafka.topic.replicationFactor,
      ),
    },
    verbose: s.flag('Kafka.Verbose'),
    // PEM text, not paths (Fabric reads {File: path} values at load): no translation.
    tls: {
      enabled: s.flag('Kafka.TLS.Enabled'),
      privateKey: s.str('Kafka.TLS.PrivateKey'),
      certificate: s.str('Kafka.TLS.Certificate'),
      rootCAs: s.list('Kafka.TLS.RootCAs'),
      clientAuthRequired: s.flag('Kafka.TLS.ClientAuthRequired'),
      clientRootCAs: s.list('Kafka.TLS.ClientRootCAs'),
      tlsHandshakeTimeShiftMs: s.num('Kafka.TLS.TLSHandshakeTimeShift'),
    },
    saslPlain: {
      enabled: s.flag('Kafka.SASLPlain.Enabled'),
      user: s.str('Kafka.SASLPlain.User'),
      password: s.str('Kafka.SASLPlain.Password'),
    },
    version: orDefault(s.str('Kafka.Version'), DEFAULTS.kafka.version),
  };
}

/** Kafka: Fabric panics on incomplete TLS or SASL settings; we name what is missing. */
function checkKafkaSecurity(s: TypedSettings): void {
  if (s.flag('Kafka.TLS.Enabled')) {
    if (s.str('Kafka.TLS.Certificate') === '')
      s.missing('Kafka.TLS.Certificate', 'PEM text: Kafka.TLS.Enabled is true', 'Kafka.TLS.Enabled');
    if (s.str('Kafka.TLS.PrivateKey') === '')
      s.missing('Kafka.TLS.PrivateKey', 'PEM text: Kafka.TLS.Enabled is true', 'Kafka.TLS.Enabled');
    if (s.list('Kafka.TLS.RootCAs').length === 0) {
      s.missing(
        'Kafka.TLS.RootCAs',
        'at least one PEM certificate: Kafka.TLS.Enabled is true',
        'Kafka.TLS.Enabled',
      );
    }
  }
  if (s.flag('Kafka.SASLPlain.Enabled')) {
    if (s.str('Kafka.SASLPlain.User') === '')
      s.missing('Kafka.SASLPlain.User', 'a user: Kafka.SASLPlain.Enabled is true', 'Kafka.SASLPlain.Enabled');
    if (s.str('Kafka.SASLPlain.Password') === '') {
      s.missing(
        'Kafka.SASLPlain.Password',
        'a password: Kafka.SASLPlain.Enabled is true',
        'Kafka.SASLPlain.Enabled',
      );
    }
  }
}

function debugSection(s: TypedSettings): LocalConfig['debug'] {
  for (const key of ['Debug.BroadcastTraceDir', 'Debug.DeliverTraceDir']) {
    if (s.str(key) !== '') s.warnings.push(`${key} is ignored: request tracing to files is not implemented`);
  }
  return {
    broadcastTraceDir: s.translate(s.str('Debug.BroadcastTraceDir'), 'cwd'),
    deliverTraceDir: s.translate(s.str('Debug.DeliverTraceDir'), 'cwd'),
  };
}

function metricsSection(s: TypedSettings): LocalConfig['metrics'] {
  const provider = orDefault(s.str('Metrics.Provider'), DEFAULTS.metrics.provider) as MetricsProvider;
  if (provider === 'statsd' && s.str('Metrics.Statsd.Address') === '') {
    s.missing(
      'Metrics.Statsd.Address',
      'host:port of the statsd server: Metrics.Provider is statsd',
      'Metrics.Provider',
    );
  }
  return {
    provider,
    statsd: {
      network: orDefault(s.str('Metrics.Statsd.Network'), DEFAULTS.metrics.statsdNetwork) as 'udp' | 'tcp',
      address: s.str('Metrics.Statsd.Address'),
      writeIntervalMs: s.num('Metrics.Statsd.WriteInterval'),
      prefix: s.str('Metrics.Statsd.Prefix'),
    },
  };
}

function adminSection(s: TypedSettings): LocalConfig['admin'] {
  const tls = s.tls('Admin.TLS', 'cwd');
  if (tls.enabled && !tls.clientAuthRequired) {
    s.conflict(
      'Admin.TLS.ClientAuthRequired',
      'false',
      'true: the admin endpoint requires mutual TLS when Admin.TLS.Enabled is true (Fabric refuses to start otherwise)',
      'Admin.TLS.Enabled',
    );
  }
  return { listenAddress: s.str('Admin.ListenAddress'), tls };
}

function channelParticipationSection(s: TypedSettings): LocalConfig['channelParticipation'] {
  return {
    enabled: s.flag('ChannelParticipation.Enabled'),
    maxRequestBodySize: orDefault(
      s.num('ChannelParticipation.MaxRequestBodySize'),
      DEFAULTS.channelParticipation.maxRequestBodySize,
    ),
  };
}

function consensusSection(s: TypedSettings): LocalConfig['consensus'] {
  return {
    walDir: s.translate(s.str('Consensus.WALDir'), 'cwd'),
    snapDir: s.translate(s.str('Consensus.SnapDir'), 'cwd'),
    evictionSuspicionMs: s.optionalDuration('Consensus.EvictionSuspicion'),
    tickIntervalOverrideMs: s.optionalDuration('Consensus.TickIntervalOverride'),
    idleCutAfterMs: s.optionalDuration('Consensus.IdleCutAfter') ?? 0,
  };
}
