// The keys a Fabric v2.5 orderer.yaml may hold (orderer/common/localconfig TopLevel), with the type
// each value is decoded to. Keys match case-insensitively, as mapstructure matches Go field names.

/**
 * Which directory a relative path is resolved against. Fabric translates some paths relative to
 * the directory of orderer.yaml (completeInitialization) and leaves the others to be opened
 * relative to the process working directory; both are kept as Fabric has them.
 */
export type RelativeTo = 'configDir' | 'cwd';

export type LeafType =
  | { type: 'string' }
  | { type: 'path'; relativeTo: RelativeTo }
  | { type: 'pathList'; relativeTo: RelativeTo }
  | { type: 'stringList' }
  | { type: 'bool' }
  | { type: 'int'; min: number; max: number }
  | { type: 'port' }
  | { type: 'duration'; allowNegative?: boolean }
  | { type: 'byteSize'; max: number }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'pem' }
  | { type: 'pemList' }
  | { type: 'kafkaVersion' };

export interface LeafNode {
  kind: 'leaf';
  name: string;
  type: LeafType;
  /** Never echoed back in error messages. */
  secret?: boolean;
}

export interface SectionNode {
  kind: 'section';
  name: string;
  children: readonly SchemaNode[];
  /** Keys not listed are accepted with a warning (Fabric decodes BCCSP leniently). */
  tolerateUnknownKeys?: boolean;
}

export type SchemaNode = LeafNode | SectionNode;

const leaf = (name: string, type: LeafType, secret = false): LeafNode => ({
  kind: 'leaf',
  name,
  type,
  secret,
});
const section = (name: string, ...children: SchemaNode[]): SectionNode => ({
  kind: 'section',
  name,
  children,
});

const text = (name: string) => leaf(name, { type: 'string' });
const bool = (name: string) => leaf(name, { type: 'bool' });
const port = (name: string) => leaf(name, { type: 'port' });
const duration = (name: string, allowNegative = false) => leaf(name, { type: 'duration', allowNegative });
const path = (name: string, relativeTo: RelativeTo) => leaf(name, { type: 'path', relativeTo });
const paths = (name: string, relativeTo: RelativeTo) => leaf(name, { type: 'pathList', relativeTo });
const int = (name: string, min: number, max: number) => leaf(name, { type: 'int', min, max });

const INT32_MAX = 2 ** 31 - 1;
const INT_MAX = Number.MAX_SAFE_INTEGER;

const tls = (name: string, relativeTo: RelativeTo) =>
  section(
    name,
    bool('Enabled'),
    path('PrivateKey', relativeTo),
    path('Certificate', relativeTo),
    paths('RootCAs', relativeTo),
    bool('ClientAuthRequired'),
    paths('ClientRootCAs', relativeTo),
    duration('TLSHandshakeTimeShift', true),
  );

const fileKeyStore = section('FileKeyStore', path('KeyStore', 'cwd'));

const bccsp: SectionNode = {
  ...section(
    'BCCSP',
    text('Default'),
    section('SW', text('Hash'), int('Security', 0, INT_MAX), fileKeyStore),
    section(
      'PKCS11',
      path('Library', 'cwd'),
      text('Label'),
      leaf('Pin', { type: 'string' }, true),
      text('Hash'),
      int('Security', 0, INT_MAX),
      bool('SoftwareVerify'),
      bool('Immutable'),
      text('AltID'),
      fileKeyStore,
    ),
  ),
  tolerateUnknownKeys: true,
};

const retry = (name: string, withMax: boolean) =>
  withMax
    ? section(name, int('RetryMax', 0, INT_MAX), duration('RetryBackoff'))
    : section(name, duration('RetryBackoff'));

export const ORDERER_YAML_SCHEMA: SectionNode = section(
  '',
  section(
    'General',
    text('ListenAddress'),
    port('ListenPort'),
    tls('TLS', 'configDir'),
    section(
      'Cluster',
      text('ListenAddress'),
      port('ListenPort'),
      path('ServerCertificate', 'cwd'),
      path('ServerPrivateKey', 'cwd'),
      path('ClientCertificate', 'configDir'),
      path('ClientPrivateKey', 'configDir'),
      paths('RootCAs', 'configDir'),
      duration('DialTimeout'),
      duration('RPCTimeout'),
      int('ReplicationBufferSize', 0, INT_MAX),
      duration('ReplicationPullTimeout'),
      duration('ReplicationRetryTimeout'),
      duration('ReplicationBackgroundRefreshInterval'),
      int('ReplicationMaxRetries', 0, INT_MAX),
      int('SendBufferSize', 0, INT_MAX),
      duration('CertExpirationWarningThreshold'),
      duration('TLSHandshakeTimeShift', true),
    ),
    section(
      'Keepalive',
      duration('ServerMinInterval'),
      duration('ServerInterval'),
      duration('ServerTimeout'),
    ),
    duration('ConnectionTimeout'),
    text('GenesisMethod'),
    path('GenesisFile', 'configDir'),
    text('BootstrapMethod'),
    path('BootstrapFile', 'configDir'),
    section('Profile', bool('Enabled'), text('Address')),
    path('LocalMSPDir', 'configDir'),
    text('LocalMSPID'),
    bccsp,
    section('Authentication', duration('TimeWindow'), bool('NoExpirationChecks')),
    int('MaxRecvMsgSize', 0, INT32_MAX),
    int('MaxSendMsgSize', 0, INT32_MAX),
  ),
  section('FileLedger', path('Location', 'configDir'), text('Prefix')),
  section(
    'Kafka',
    section(
      'Retry',
      duration('ShortInterval'),
      duration('ShortTotal'),
      duration('LongInterval'),
      duration('LongTotal'),
      section('NetworkTimeouts', duration('DialTimeout'), duration('ReadTimeout'), duration('WriteTimeout')),
      retry('Metadata', true),
      retry('Producer', true),
      retry('Consumer', false),
    ),
    bool('Verbose'),
    leaf('Version', { type: 'kafkaVersion' }),
    section(
      'TLS',
      bool('Enabled'),
      leaf('PrivateKey', { type: 'pem' }, true),
      leaf('Certificate', { type: 'pem' }),
      leaf('RootCAs', { type: 'pemList' }),
      bool('ClientAuthRequired'),
      leaf('ClientRootCAs', { type: 'stringList' }),
      duration('TLSHandshakeTimeShift', true),
    ),
    section('SASLPlain', bool('Enabled'), text('User'), leaf('Password', { type: 'string' }, true)),
    section('Topic', int('ReplicationFactor', 0, 2 ** 15 - 1)),
  ),
  section('Debug', path('BroadcastTraceDir', 'cwd'), path('DeliverTraceDir', 'cwd')),
  section(
    'Consensus',
    path('WALDir', 'cwd'),
    path('SnapDir', 'cwd'),
    duration('EvictionSuspicion'),
    duration('TickIntervalOverride'),
    duration('IdleCutAfter'),
  ),
  section('Operations', text('ListenAddress'), tls('TLS', 'cwd')),
  section(
    'Metrics',
    leaf('Provider', { type: 'enum', values: ['prometheus', 'statsd', 'disabled'] }),
    section(
      'Statsd',
      leaf('Network', { type: 'enum', values: ['udp', 'tcp'] }),
      text('Address'),
      duration('WriteInterval'),
      text('Prefix'),
    ),
  ),
  section('Admin', text('ListenAddress'), tls('TLS', 'cwd')),
  section(
    'ChannelParticipation',
    bool('Enabled'),
    leaf('MaxRequestBodySize', { type: 'byteSize', max: 2 ** 32 - 1 }),
  ),
);

export interface LeafEntry {
  /** Canonical dotted key path, e.g. "General.TLS.Enabled". */
  path: string;
  /** The ORDERER_* variable that overrides it, e.g. "ORDERER_GENERAL_TLS_ENABLED". */
  envVariable: string;
  node: LeafNode;
}

export function envVariableFor(keyPath: string): string {
  return `ORDERER_${keyPath.toUpperCase().replaceAll('.', '_')}`;
}

export function joinKey(parent: string, name: string): string {
  return parent === '' ? name : `${parent}.${name}`;
}

/** Every leaf of the schema, in schema order. */
export function listLeaves(root: SectionNode = ORDERER_YAML_SCHEMA): LeafEntry[] {
  const entries: LeafEntry[] = [];
  const walk = (node: SectionNode, parent: string) => {
    for (const child of node.children) {
      const keyPath = joinKey(parent, child.name);
      if (child.kind === 'leaf')
        entries.push({ path: keyPath, envVariable: envVariableFor(keyPath), node: child });
      else walk(child, keyPath);
    }
  };
  walk(root, '');
  return entries;
}

/** Keys that existed in older Fabric releases or only in newer ones, with what to do instead. */
export const KEY_HINTS: Record<string, string> = {
  'general.ledgertype':
    'removed in Fabric 2.0; the orderer always uses the file ledger (FileLedger.Location)',
  'general.genesisprofile':
    'removed in Fabric 2.0; generate a genesis block with configtxgen and use BootstrapFile',
  'general.systemchannel': 'removed in Fabric 2.0; the system channel name comes from the genesis block',
  'general.loglevel': 'removed in Fabric 1.2; set FABRIC_LOGGING_SPEC instead',
  'general.logformat': 'removed in Fabric 1.2; set FABRIC_LOGGING_FORMAT instead',
  'general.backoff': 'only exists in Fabric 3.x; remove it for a 2.5-compatible orderer',
  'general.throttling': 'only exists in Fabric 3.x; remove it for a 2.5-compatible orderer',
  'general.cluster.replicationpolicy':
    'only exists in Fabric 3.x (BFT); remove it for a 2.5-compatible orderer',
  'fileledger.statedatabase': 'only exists in Fabric 3.x; remove it for a 2.5-compatible orderer',
  ramledger: 'removed in Fabric 2.0; the orderer always uses the file ledger',
};
