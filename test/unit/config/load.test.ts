import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { OrdererError } from '../../../src/errors.js';
import {
  ConfigError,
  loadLocalConfig,
  type ConfigProblem,
  type LocalConfig,
  type LoadedLocalConfig,
} from '../../../src/config/index.js';
import { fabricSampleConfigDir, loadSampleLocalConfig, makeTempConfigDir } from '../../support/config.js';

const FIXTURES = path.resolve(fabricSampleConfigDir, '..');
const SAMPLE_FILE = path.join(fabricSampleConfigDir, 'orderer.yaml');
const CWD = '/srv/orderer-cwd';

const temp = makeTempConfigDir();
after(() => temp.remove());

let caseCounter = 0;
/** Writes orderer.yaml into a fresh sub-directory of the temp dir and loads it. */
function loadYaml(yaml: string, env: NodeJS.ProcessEnv = {}, cwd = CWD): LoadedLocalConfig {
  const file = temp.write(`case-${++caseCounter}/orderer.yaml`, yaml);
  return loadLocalConfig({ configPath: file, env, cwd });
}

function expectConfigError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.ok(err instanceof OrdererError);
    assert.equal(err.kind, 'bad-request');
    return err;
  }
  assert.fail('expected a ConfigError');
}

function problemFor(error: ConfigError, key: string): ConfigProblem {
  const problem = error.problems.find((candidate) => candidate.key === key);
  assert.ok(problem, `no problem for ${key}; got:\n${error.message}`);
  return problem;
}

describe('Fabric v2.5 sample orderer.yaml (FABRIC_CFG_PATH)', () => {
  const loaded = loadSampleLocalConfig({}, CWD);
  const config = loaded.config;
  const inSample = (relative: string) => path.join(fabricSampleConfigDir, relative);

  it('is found through FABRIC_CFG_PATH and translates paths against its directory', () => {
    assert.equal(loaded.configFile, SAMPLE_FILE);
    assert.equal(loaded.configDir, path.dirname(SAMPLE_FILE));
  });

  const expectations: Array<[string, (c: LocalConfig) => unknown, unknown]> = [
    ['General.ListenAddress', (c) => c.general.listenAddress, '127.0.0.1'],
    ['General.ListenPort', (c) => c.general.listenPort, 7050],
    ['General.TLS.Enabled', (c) => c.general.tls.enabled, false],
    ['General.TLS.PrivateKey', (c) => c.general.tls.privateKey, inSample('tls/server.key')],
    ['General.TLS.Certificate', (c) => c.general.tls.certificate, inSample('tls/server.crt')],
    ['General.TLS.RootCAs', (c) => c.general.tls.rootCAs, [inSample('tls/ca.crt')]],
    ['General.TLS.ClientRootCAs', (c) => c.general.tls.clientRootCAs, []],
    ['General.Keepalive.ServerMinInterval', (c) => c.general.keepalive.serverMinIntervalMs, 60_000],
    ['General.Keepalive.ServerInterval', (c) => c.general.keepalive.serverIntervalMs, 7_200_000],
    ['General.Keepalive.ServerTimeout', (c) => c.general.keepalive.serverTimeoutMs, 20_000],
    ['General.MaxRecvMsgSize', (c) => c.general.maxRecvMsgSize, 104857600],
    ['General.MaxSendMsgSize', (c) => c.general.maxSendMsgSize, 104857600],
    ['General.Cluster.SendBufferSize', (c) => c.general.cluster.sendBufferSize, 100],
    ['General.Cluster.ListenPort', (c) => c.general.cluster.listenPort, 0],
    ['General.Cluster.ClientCertificate', (c) => c.general.cluster.clientCertificate, ''],
    ['General.Cluster.RPCTimeout (default)', (c) => c.general.cluster.rpcTimeoutMs, 7000],
    ['General.BootstrapMethod', (c) => c.general.bootstrapMethod, 'file'],
    [
      'General.BootstrapFile (default genesisblock)',
      (c) => c.general.bootstrapFile,
      inSample('genesisblock'),
    ],
    ['General.LocalMSPDir', (c) => c.general.localMSPDir, inSample('msp')],
    ['General.LocalMSPID', (c) => c.general.localMSPID, 'SampleOrg'],
    ['General.Profile', (c) => c.general.profile, { enabled: false, address: '0.0.0.0:6060' }],
    ['General.BCCSP', (c) => c.general.bccsp, { default: 'SW', keyStore: '' }],
    ['General.Authentication.TimeWindow', (c) => c.general.authentication.timeWindowMs, 900_000],
    ['FileLedger.Location', (c) => c.fileLedger.location, '/var/hyperledger/production/orderer'],
    [
      'Kafka.Retry',
      (c) => c.kafka.retry,
      {
        shortIntervalMs: 5000,
        shortTotalMs: 600_000,
        longIntervalMs: 300_000,
        longTotalMs: 43_200_000,
        networkTimeouts: { dialTimeoutMs: 10_000, readTimeoutMs: 10_000, writeTimeoutMs: 10_000 },
        metadata: { retryBackoffMs: 250, retryMax: 3 },
        producer: { retryBackoffMs: 100, retryMax: 3 },
        consumer: { retryBackoffMs: 2000 },
      },
    ],
    ['Kafka.Topic.ReplicationFactor', (c) => c.kafka.topic.replicationFactor, 3],
    ['Kafka.Verbose', (c) => c.kafka.verbose, false],
    ['Kafka.TLS.Enabled', (c) => c.kafka.tls.enabled, false],
    ['Kafka.SASLPlain.Enabled', (c) => c.kafka.saslPlain.enabled, false],
    ['Kafka.Version (default)', (c) => c.kafka.version, '0.10.2.0'],
    ['Debug', (c) => c.debug, { broadcastTraceDir: '', deliverTraceDir: '' }],
    ['Operations.ListenAddress', (c) => c.operations.listenAddress, '127.0.0.1:8443'],
    ['Operations.TLS.ClientRootCAs', (c) => c.operations.tls.clientRootCAs, []],
    ['Metrics.Provider', (c) => c.metrics.provider, 'disabled'],
    [
      'Metrics.Statsd',
      (c) => c.metrics.statsd,
      { network: 'udp', address: '127.0.0.1:8125', writeIntervalMs: 30_000, prefix: '' },
    ],
    ['Admin.ListenAddress', (c) => c.admin.listenAddress, '127.0.0.1:9443'],
    ['Admin.TLS.ClientAuthRequired', (c) => c.admin.tls.clientAuthRequired, true],
    ['ChannelParticipation', (c) => c.channelParticipation, { enabled: false, maxRequestBodySize: 1048576 }],
    ['Consensus.WALDir', (c) => c.consensus.walDir, '/var/hyperledger/production/orderer/etcdraft/wal'],
    [
      'Consensus.SnapDir',
      (c) => c.consensus.snapDir,
      '/var/hyperledger/production/orderer/etcdraft/snapshot',
    ],
    ['Consensus.EvictionSuspicion (unset)', (c) => c.consensus.evictionSuspicionMs, undefined],
    ['Consensus.IdleCutAfter (unset: Fabric cutting)', (c) => c.consensus.idleCutAfterMs, 0],
  ];
  for (const [name, get, expected] of expectations) {
    it(`${name} = ${JSON.stringify(expected)}`, () => assert.deepEqual(get(config), expected));
  }

  it('produces no warnings for the unchanged sample', () => assert.deepEqual(loaded.warnings, []));
});

describe('ORDERER_* environment overrides', () => {
  const cases: Array<{
    name: string;
    env: NodeJS.ProcessEnv;
    get: (c: LocalConfig) => unknown;
    expected: unknown;
  }> = [
    {
      name: 'string',
      env: { ORDERER_GENERAL_LISTENADDRESS: '0.0.0.0' },
      get: (c) => c.general.listenAddress,
      expected: '0.0.0.0',
    },
    {
      name: 'number',
      env: { ORDERER_GENERAL_LISTENPORT: '7051' },
      get: (c) => c.general.listenPort,
      expected: 7051,
    },
    {
      name: 'boolean',
      env: { ORDERER_GENERAL_TLS_ENABLED: 'true' },
      get: (c) => c.general.tls.enabled,
      expected: true,
    },
    {
      name: 'duration (a key Fabric does not have)',
      env: { ORDERER_CONSENSUS_IDLECUTAFTER: '20ms' },
      get: (c) => c.consensus.idleCutAfterMs,
      expected: 20,
    },
    {
      name: 'boolean in Go spelling',
      env: { ORDERER_KAFKA_VERBOSE: 'T' },
      get: (c) => c.kafka.verbose,
      expected: true,
    },
    {
      name: 'list in Fabric "[a, b]" form (paths translated)',
      env: { ORDERER_GENERAL_TLS_ROOTCAS: '[/etc/ca1.pem, tls/ca2.pem]' },
      get: (c) => c.general.tls.rootCAs,
      expected: ['/etc/ca1.pem', path.join(fabricSampleConfigDir, 'tls/ca2.pem')],
    },
    {
      name: 'list given as a single value',
      env: { ORDERER_ADMIN_TLS_CLIENTROOTCAS: '/etc/admin-ca.pem' },
      get: (c) => c.admin.tls.clientRootCAs,
      expected: ['/etc/admin-ca.pem'],
    },
    {
      name: 'nested key',
      env: { ORDERER_KAFKA_RETRY_NETWORKTIMEOUTS_DIALTIMEOUT: '3s' },
      get: (c) => c.kafka.retry.networkTimeouts.dialTimeoutMs,
      expected: 3000,
    },
    {
      name: 'duration',
      env: { ORDERER_KAFKA_RETRY_SHORTINTERVAL: '1m30s' },
      get: (c) => c.kafka.retry.shortIntervalMs,
      expected: 90_000,
    },
    {
      name: 'absolute path',
      env: { ORDERER_FILELEDGER_LOCATION: '/data/ledger' },
      get: (c) => c.fileLedger.location,
      expected: '/data/ledger',
    },
    {
      name: 'operations listen address',
      env: { ORDERER_OPERATIONS_LISTENADDRESS: '0.0.0.0:9443' },
      get: (c) => c.operations.listenAddress,
      expected: '0.0.0.0:9443',
    },
    {
      name: 'consensus key',
      env: { ORDERER_CONSENSUS_WALDIR: '/data/wal', ORDERER_CONSENSUS_EVICTIONSUSPICION: '15m' },
      get: (c) => [c.consensus.walDir, c.consensus.evictionSuspicionMs],
      expected: ['/data/wal', 900_000],
    },
    {
      name: 'byte size with unit',
      env: { ORDERER_CHANNELPARTICIPATION_MAXREQUESTBODYSIZE: '2 MB' },
      get: (c) => c.channelParticipation.maxRequestBodySize,
      expected: 2 * 1024 * 1024,
    },
    {
      name: 'enumeration',
      env: { ORDERER_GENERAL_BOOTSTRAPMETHOD: 'none', ORDERER_METRICS_PROVIDER: 'prometheus' },
      get: (c) => [c.general.bootstrapMethod, c.metrics.provider],
      expected: ['none', 'prometheus'],
    },
    {
      name: 'key absent from the file',
      env: {
        ORDERER_GENERAL_AUTHENTICATION_NOEXPIRATIONCHECKS: 'true',
        ORDERER_GENERAL_CLUSTER_DIALTIMEOUT: '9s',
      },
      get: (c) => [c.general.authentication.noExpirationChecks, c.general.cluster.dialTimeoutMs],
      expected: [true, 9000],
    },
    {
      name: 'empty value is ignored, as in Fabric',
      env: { ORDERER_GENERAL_LISTENPORT: '', ORDERER_GENERAL_LOCALMSPID: '' },
      get: (c) => [c.general.listenPort, c.general.localMSPID],
      expected: [7050, 'SampleOrg'],
    },
    {
      name: 'Kubernetes service-link variables are not configuration',
      env: {
        ORDERER_SERVICE_HOST: '10.0.0.1',
        ORDERER_PORT: 'tcp://10.0.0.1:7050',
        ORDERER_PORT_7050_TCP_ADDR: 'x',
      },
      get: (c) => c.general.listenPort,
      expected: 7050,
    },
  ];
  for (const { name, env, get, expected } of cases) {
    it(`${name}: ${Object.keys(env).join(', ')}`, () => {
      assert.deepEqual(get(loadSampleLocalConfig(env, CWD).config), expected);
    });
  }

  it('override the file value and are reported as the source of a bad value', () => {
    const error = expectConfigError(() =>
      loadSampleLocalConfig({ ORDERER_GENERAL_KEEPALIVE_SERVERTIMEOUT: 'soon' }),
    );
    const problem = problemFor(error, 'General.Keepalive.ServerTimeout');
    assert.equal(problem.value, 'soon');
    assert.deepEqual(problem.source, { kind: 'env', variable: 'ORDERER_GENERAL_KEEPALIVE_SERVERTIMEOUT' });
    assert.match(error.message, /ORDERER_GENERAL_KEEPALIVE_SERVERTIMEOUT/);
    assert.match(error.message, /Go duration/);
  });
});

describe('relative path translation', () => {
  const loaded = loadYaml(
    `
General:
  TLS:
    Enabled: true
    PrivateKey: tls/server.key
    Certificate: ./tls/server.crt
    RootCAs: [tls/ca.crt, /abs/ca.crt]
    ClientRootCAs:
      - ../shared/client-ca.crt
  Cluster:
    ClientCertificate: cluster/client.crt
    ClientPrivateKey: cluster/client.key
    RootCAs: [cluster/ca.crt]
    ListenPort: 7060
    ListenAddress: 0.0.0.0
    ServerCertificate: cluster/server.crt
    ServerPrivateKey: cluster/server.key
  BootstrapFile: blocks/genesis.block
  LocalMSPDir: msp
  BCCSP:
    SW:
      FileKeyStore:
        KeyStore: keys
FileLedger:
  Location: data/ledger
Operations:
  TLS:
    Certificate: ops/tls.crt
Admin:
  TLS:
    ClientRootCAs: [admin/ca.crt]
Consensus:
  WALDir: raft/wal
  SnapDir: /abs/snap
`,
  );
  const dir = loaded.configDir;
  const config = loaded.config;
  // Fabric's completeInitialization translates these against the config file's directory ...
  const configDirRelative: Array<[string, unknown, unknown]> = [
    ['General.TLS.PrivateKey', config.general.tls.privateKey, path.join(dir, 'tls/server.key')],
    ['General.TLS.Certificate', config.general.tls.certificate, path.join(dir, 'tls/server.crt')],
    ['General.TLS.RootCAs', config.general.tls.rootCAs, [path.join(dir, 'tls/ca.crt'), '/abs/ca.crt']],
    [
      'General.TLS.ClientRootCAs',
      config.general.tls.clientRootCAs,
      [path.join(dir, '../shared/client-ca.crt')],
    ],
    [
      'General.Cluster.ClientCertificate',
      config.general.cluster.clientCertificate,
      path.join(dir, 'cluster/client.crt'),
    ],
    [
      'General.Cluster.ClientPrivateKey',
      config.general.cluster.clientPrivateKey,
      path.join(dir, 'cluster/client.key'),
    ],
    ['General.Cluster.RootCAs', config.general.cluster.rootCAs, [path.join(dir, 'cluster/ca.crt')]],
    ['General.BootstrapFile', config.general.bootstrapFile, path.join(dir, 'blocks/genesis.block')],
    ['General.LocalMSPDir', config.general.localMSPDir, path.join(dir, 'msp')],
    ['FileLedger.Location', config.fileLedger.location, path.join(dir, 'data/ledger')],
  ];
  // ... and leaves these to be opened relative to the working directory.
  const cwdRelative: Array<[string, unknown, unknown]> = [
    [
      'General.Cluster.ServerCertificate',
      config.general.cluster.serverCertificate,
      `${CWD}/cluster/server.crt`,
    ],
    [
      'General.Cluster.ServerPrivateKey',
      config.general.cluster.serverPrivateKey,
      `${CWD}/cluster/server.key`,
    ],
    ['General.BCCSP.SW.FileKeyStore.KeyStore', config.general.bccsp.keyStore, `${CWD}/keys`],
    ['Operations.TLS.Certificate', config.operations.tls.certificate, `${CWD}/ops/tls.crt`],
    ['Admin.TLS.ClientRootCAs', config.admin.tls.clientRootCAs, [`${CWD}/admin/ca.crt`]],
    ['Consensus.WALDir', config.consensus.walDir, `${CWD}/raft/wal`],
    ['Consensus.SnapDir', config.consensus.snapDir, '/abs/snap'],
  ];
  for (const [key, actual, expected] of configDirRelative) {
    it(`${key} is relative to the config directory`, () => assert.deepEqual(actual, expected));
  }
  for (const [key, actual, expected] of cwdRelative) {
    it(`${key} is relative to the working directory`, () => assert.deepEqual(actual, expected));
  }
  it('unset paths stay empty instead of becoming the config directory', () => {
    assert.equal(config.operations.tls.privateKey, '');
    assert.equal(config.admin.tls.certificate, '');
  });
  it('translates relative paths given in environment variables too', () => {
    const withEnv = loadLocalConfig({
      configPath: loaded.configFile,
      env: { ORDERER_GENERAL_LOCALMSPDIR: 'other-msp', ORDERER_CONSENSUS_SNAPDIR: 'snap' },
      cwd: CWD,
    });
    assert.equal(withEnv.config.general.localMSPDir, path.join(dir, 'other-msp'));
    assert.equal(withEnv.config.consensus.snapDir, `${CWD}/snap`);
  });
});

describe('defaults', () => {
  it('without any file: Fabric defaults, paths relative to the working directory', () => {
    const loaded = loadLocalConfig({ env: {}, cwd: CWD });
    assert.equal(loaded.configFile, undefined);
    assert.equal(loaded.configDir, CWD);
    const c = loaded.config;
    const expectations: Array<[string, unknown, unknown]> = [
      ['ListenAddress', c.general.listenAddress, '127.0.0.1'],
      ['ListenPort', c.general.listenPort, 7050],
      ['TLS.Enabled', c.general.tls.enabled, false],
      [
        'Keepalive',
        c.general.keepalive,
        { serverMinIntervalMs: 60_000, serverIntervalMs: 7_200_000, serverTimeoutMs: 20_000 },
      ],
      ['MaxRecvMsgSize', c.general.maxRecvMsgSize, 100 * 1024 * 1024],
      ['MaxSendMsgSize', c.general.maxSendMsgSize, 100 * 1024 * 1024],
      ['Cluster.SendBufferSize', c.general.cluster.sendBufferSize, 10],
      ['Cluster.DialTimeout', c.general.cluster.dialTimeoutMs, 5000],
      ['Cluster.RPCTimeout', c.general.cluster.rpcTimeoutMs, 7000],
      ['Cluster.ReplicationBufferSize', c.general.cluster.replicationBufferSize, 20971520],
      ['Cluster.ReplicationPullTimeout', c.general.cluster.replicationPullTimeoutMs, 5000],
      ['Cluster.ReplicationRetryTimeout', c.general.cluster.replicationRetryTimeoutMs, 5000],
      [
        'Cluster.ReplicationBackgroundRefreshInterval',
        c.general.cluster.replicationBackgroundRefreshIntervalMs,
        300_000,
      ],
      ['Cluster.ReplicationMaxRetries', c.general.cluster.replicationMaxRetries, 12],
      [
        'Cluster.CertExpirationWarningThreshold',
        c.general.cluster.certExpirationWarningThresholdMs,
        604_800_000,
      ],
      ['BootstrapMethod', c.general.bootstrapMethod, 'file'],
      ['BootstrapFile', c.general.bootstrapFile, `${CWD}/genesisblock`],
      ['LocalMSPDir', c.general.localMSPDir, `${CWD}/msp`],
      ['LocalMSPID', c.general.localMSPID, 'SampleOrg'],
      ['Authentication.TimeWindow', c.general.authentication.timeWindowMs, 900_000],
      ['Profile', c.general.profile, { enabled: false, address: '' }],
      ['FileLedger.Location', c.fileLedger.location, '/var/hyperledger/production/orderer'],
      ['Kafka.Retry.ShortInterval', c.kafka.retry.shortIntervalMs, 60_000],
      ['Kafka.Retry.ShortTotal', c.kafka.retry.shortTotalMs, 600_000],
      ['Kafka.Retry.LongInterval', c.kafka.retry.longIntervalMs, 600_000],
      ['Kafka.Retry.LongTotal', c.kafka.retry.longTotalMs, 43_200_000],
      [
        'Kafka.Retry.NetworkTimeouts',
        c.kafka.retry.networkTimeouts,
        { dialTimeoutMs: 30_000, readTimeoutMs: 30_000, writeTimeoutMs: 30_000 },
      ],
      ['Kafka.Retry.Metadata', c.kafka.retry.metadata, { retryBackoffMs: 250, retryMax: 3 }],
      ['Kafka.Retry.Producer', c.kafka.retry.producer, { retryBackoffMs: 100, retryMax: 3 }],
      ['Kafka.Retry.Consumer', c.kafka.retry.consumer, { retryBackoffMs: 2000 }],
      ['Kafka.Version', c.kafka.version, '0.10.2.0'],
      ['Operations.ListenAddress', c.operations.listenAddress, ''],
      ['Metrics.Provider', c.metrics.provider, 'disabled'],
      ['ChannelParticipation', c.channelParticipation, { enabled: false, maxRequestBodySize: 1024 * 1024 }],
      [
        'Consensus',
        c.consensus,
        {
          walDir: '',
          snapDir: '',
          evictionSuspicionMs: undefined,
          tickIntervalOverrideMs: undefined,
          idleCutAfterMs: 0,
        },
      ],
    ];
    for (const [key, actual, expected] of expectations) assert.deepEqual(actual, expected, key);
  });

  it('zero and empty values count as unset, as in Fabric', () => {
    const { config } = loadYaml(`
General:
  ListenAddress: ""
  ListenPort: 0
  MaxRecvMsgSize: 0
  Cluster:
    SendBufferSize: 0
  Authentication:
    TimeWindow: 0
Kafka:
  Retry:
    ShortInterval: 0s
ChannelParticipation:
  MaxRequestBodySize:
`);
    assert.equal(config.general.listenAddress, '127.0.0.1');
    assert.equal(config.general.listenPort, 7050);
    assert.equal(config.general.maxRecvMsgSize, 104857600);
    assert.equal(config.general.cluster.sendBufferSize, 10);
    assert.equal(config.general.authentication.timeWindowMs, 900_000);
    assert.equal(config.kafka.retry.shortIntervalMs, 60_000);
    assert.equal(config.channelParticipation.maxRequestBodySize, 1048576);
  });
});

describe('config file lookup', () => {
  const cfgDir = temp.write('lookup/cfg/orderer.yaml', 'General:\n  LocalMSPID: FromCfgPath\n');
  const ymlDir = temp.write('lookup/yml/orderer.yml', 'General:\n  LocalMSPID: FromYml\n');
  const explicit = temp.write('lookup/explicit/custom.yaml', 'General:\n  LocalMSPID: FromExplicit\n');
  const base = path.join(temp.dir, 'lookup');

  const cases: Array<{
    name: string;
    configPath?: string;
    env: NodeJS.ProcessEnv;
    cwd?: string;
    file: string;
    mspId: string;
  }> = [
    {
      name: '$FABRIC_CFG_PATH/orderer.yaml',
      env: { FABRIC_CFG_PATH: path.dirname(cfgDir) },
      file: cfgDir,
      mspId: 'FromCfgPath',
    },
    {
      name: '$FABRIC_CFG_PATH/orderer.yml',
      env: { FABRIC_CFG_PATH: path.dirname(ymlDir) },
      file: ymlDir,
      mspId: 'FromYml',
    },
    {
      name: 'relative FABRIC_CFG_PATH against cwd',
      env: { FABRIC_CFG_PATH: 'cfg' },
      cwd: base,
      file: cfgDir,
      mspId: 'FromCfgPath',
    },
    {
      name: 'explicit file beats FABRIC_CFG_PATH',
      configPath: explicit,
      env: { FABRIC_CFG_PATH: path.dirname(cfgDir) },
      file: explicit,
      mspId: 'FromExplicit',
    },
    { name: 'explicit directory', configPath: path.dirname(ymlDir), env: {}, file: ymlDir, mspId: 'FromYml' },
    {
      name: 'explicit relative path against cwd',
      configPath: 'explicit/custom.yaml',
      env: {},
      cwd: base,
      file: explicit,
      mspId: 'FromExplicit',
    },
  ];
  for (const { name, configPath, env, cwd, file, mspId } of cases) {
    it(name, () => {
      const loaded = loadLocalConfig({ env, cwd: cwd ?? CWD, ...(configPath ? { configPath } : {}) });
      assert.equal(loaded.configFile, file);
      assert.equal(loaded.config.general.localMSPID, mspId);
    });
  }

  const failures: Array<{ name: string; configPath?: string; env: NodeJS.ProcessEnv; key: string }> = [
    {
      name: 'FABRIC_CFG_PATH without orderer.yaml',
      env: { FABRIC_CFG_PATH: path.join(base, 'explicit') },
      key: 'FABRIC_CFG_PATH',
    },
    {
      name: 'FABRIC_CFG_PATH that does not exist',
      env: { FABRIC_CFG_PATH: path.join(base, 'nope') },
      key: 'FABRIC_CFG_PATH',
    },
    {
      name: 'explicit path that does not exist',
      configPath: path.join(base, 'missing.yaml'),
      env: {},
      key: 'config path',
    },
    {
      name: 'explicit directory without orderer.yaml',
      configPath: path.join(base, 'explicit'),
      env: {},
      key: 'config path',
    },
  ];
  for (const { name, configPath, env, key } of failures) {
    it(`${name} -> error`, () => {
      const error = expectConfigError(() =>
        loadLocalConfig({ env, cwd: CWD, ...(configPath ? { configPath } : {}) }),
      );
      problemFor(error, key);
    });
  }
});

describe('YAML features', () => {
  it('merge keys (<<: *anchor) are honoured', () => {
    const { config } = loadYaml(`
General:
  TLS: &serverTls
    Enabled: true
    Certificate: /etc/tls/server.crt
    PrivateKey: /etc/tls/server.key
    ClientRootCAs: [/etc/tls/ca.crt]
Admin:
  TLS:
    <<: *serverTls
    ClientAuthRequired: true
Operations:
  TLS:
    <<: *serverTls
    Enabled: false
`);
    assert.deepEqual(
      [
        config.admin.tls.enabled,
        config.admin.tls.certificate,
        config.admin.tls.clientRootCAs,
        config.admin.tls.clientAuthRequired,
      ],
      [true, '/etc/tls/server.crt', ['/etc/tls/ca.crt'], true],
    );
    assert.deepEqual(
      [config.operations.tls.enabled, config.operations.tls.privateKey],
      [false, '/etc/tls/server.key'],
    );
  });

  it('keys match case-insensitively, as mapstructure does', () => {
    const { config } = loadYaml(
      'general:\n  listenport: 7777\n  tls:\n    ENABLED: false\nfileledger:\n  location: /x\n',
    );
    assert.equal(config.general.listenPort, 7777);
    assert.equal(config.fileLedger.location, '/x');
  });

  it('YAML 1.1 booleans from the file (yaml.v2 reads "yes" as true)', () => {
    assert.equal(loadYaml('Kafka:\n  Verbose: yes\n').config.kafka.verbose, true);
  });

  it('an empty file means defaults', () => {
    assert.equal(loadYaml('# nothing here\n').config.general.listenPort, 7050);
  });

  it('a syntax error names the file', () => {
    const error = expectConfigError(() => loadYaml('General:\n  ListenPort: [7050\n'));
    assert.equal(error.problems[0]?.key, '(YAML syntax)');
    assert.equal(error.problems[0]?.source.kind, 'file');
    assert.match(error.message, /orderer\.yaml/);
  });
});

describe('unknown keys', () => {
  it('in the file: error naming the key, the file and a suggestion', () => {
    const error = expectConfigError(() =>
      loadYaml('General:\n  ListenPrt: 7050\n  TLS:\n    Enabld: true\nMystery: 1\n'),
    );
    const listenPort = problemFor(error, 'General.ListenPrt');
    assert.match(listenPort.expected, /did you mean General\.ListenPort\?/);
    assert.equal(listenPort.source.kind, 'file');
    assert.match(problemFor(error, 'General.TLS.Enabld').expected, /General\.TLS\.Enabled/);
    problemFor(error, 'Mystery');
    assert.equal(error.problems.length, 3);
    assert.match(error.message, /3 problems/);
  });

  it('in the environment: error naming the variable', () => {
    const error = expectConfigError(() =>
      loadSampleLocalConfig({ ORDERER_GENERAL_LISTENPROT: '7050', ORDERER_ADMIN_TLS_CERTIFICAT: '/x' }),
    );
    const problem = problemFor(error, 'ORDERER_GENERAL_LISTENPROT');
    assert.match(problem.expected, /did you mean ORDERER_GENERAL_LISTENPORT\?/);
    assert.deepEqual(problem.source, { kind: 'env', variable: 'ORDERER_GENERAL_LISTENPROT' });
    problemFor(error, 'ORDERER_ADMIN_TLS_CERTIFICAT');
    assert.match(error.message, /environment variable ORDERER_GENERAL_LISTENPROT/);
  });

  it('a variable naming a section rather than a key is unknown', () => {
    problemFor(
      expectConfigError(() => loadSampleLocalConfig({ ORDERER_GENERAL_TLS: 'true' })),
      'ORDERER_GENERAL_TLS',
    );
  });

  it('keys from other Fabric releases get a hint', () => {
    const error = expectConfigError(() =>
      loadYaml('General:\n  LedgerType: file\n  Throttling:\n    Rate: 10\n'),
    );
    assert.match(problemFor(error, 'General.LedgerType').expected, /removed in Fabric 2\.0/);
    assert.match(problemFor(error, 'General.Throttling').expected, /Fabric 3\.x/);
    const envError = expectConfigError(() => loadSampleLocalConfig({ ORDERER_GENERAL_LOGLEVEL: 'debug' }));
    assert.match(problemFor(envError, 'ORDERER_GENERAL_LOGLEVEL').expected, /FABRIC_LOGGING_SPEC/);
  });

  it("client-side variables of Fabric's samples (ORDERER_CA, ORDERER_ADMIN_TLS_SIGN_CERT) only warn", () => {
    const loaded = loadSampleLocalConfig({
      ORDERER_CA: '/x/ca.pem',
      ORDERER_ADMIN_TLS_SIGN_CERT: '/x',
      ORDERER_FOO: '1',
    });
    for (const variable of ['ORDERER_CA', 'ORDERER_ADMIN_TLS_SIGN_CERT', 'ORDERER_FOO']) {
      assert.ok(
        loaded.warnings.some((warning) => warning.includes(variable)),
        variable,
      );
    }
  });

  it('strictEnv: false turns unknown variables into warnings', () => {
    const loaded = loadLocalConfig({ env: { ORDERER_CA: '/x/ca.pem' }, cwd: CWD, strictEnv: false });
    assert.ok(loaded.warnings.some((warning) => warning.includes('ORDERER_CA')));
  });

  it('the same key twice with different case is an error', () => {
    const error = expectConfigError(() => loadYaml('General:\n  ListenPort: 1\n  listenport: 2\n'));
    assert.match(problemFor(error, 'General.listenport').expected, /same key as General\.ListenPort/);
  });

  it('unknown BCCSP keys are tolerated with a warning (Fabric decodes BCCSP leniently)', () => {
    const loaded = loadYaml(
      'General:\n  BCCSP:\n    Default: SW\n    SW:\n      Hash: SHA2\n      Security: 256\n      Extra: 2\n    Extra: 1\n',
    );
    assert.ok(loaded.warnings.some((warning) => warning.includes('General.BCCSP.Extra')));
    assert.ok(loaded.warnings.some((warning) => warning.includes('General.BCCSP.SW.Extra')));
  });
});

describe('bad values: error naming key, value, expectation and source', () => {
  const cases: Array<{
    name: string;
    yaml?: string;
    env?: NodeJS.ProcessEnv;
    key: string;
    value?: string;
    expected: RegExp;
    source: 'file' | 'env';
  }> = [
    {
      name: 'duration without unit',
      yaml: 'General:\n  Keepalive:\n    ServerTimeout: 20\n',
      key: 'General.Keepalive.ServerTimeout',
      value: '20',
      expected: /Go duration/,
      source: 'file',
    },
    {
      name: 'malformed duration',
      yaml: 'General:\n  Authentication:\n    TimeWindow: 15 minutes\n',
      key: 'General.Authentication.TimeWindow',
      value: '15 minutes',
      expected: /Go duration/,
      source: 'file',
    },
    {
      name: 'negative duration',
      env: { ORDERER_GENERAL_CLUSTER_RPCTIMEOUT: '-5s' },
      key: 'General.Cluster.RPCTimeout',
      value: '-5s',
      expected: /not negative/,
      source: 'env',
    },
    {
      name: 'port out of range',
      env: { ORDERER_GENERAL_LISTENPORT: '70500' },
      key: 'General.ListenPort',
      value: '70500',
      expected: /port from 1 to 65535/,
      source: 'env',
    },
    {
      name: 'port not a number',
      yaml: 'General:\n  ListenPort: seven\n',
      key: 'General.ListenPort',
      value: 'seven',
      expected: /port/,
      source: 'file',
    },
    {
      name: 'unknown bootstrap method',
      env: { ORDERER_GENERAL_BOOTSTRAPMETHOD: 'genesis' },
      key: 'General.BootstrapMethod',
      value: 'genesis',
      expected: /one of: file, none/,
      source: 'env',
    },
    {
      name: 'bootstrap method in the wrong case',
      yaml: 'General:\n  BootstrapMethod: File\n',
      key: 'General.BootstrapMethod',
      value: 'File',
      expected: /file, none/,
      source: 'file',
    },
    {
      name: 'boolean',
      env: { ORDERER_GENERAL_TLS_ENABLED: 'enabled' },
      key: 'General.TLS.Enabled',
      value: 'enabled',
      expected: /true or false/,
      source: 'env',
    },
    {
      name: 'message size above int32',
      yaml: 'General:\n  MaxRecvMsgSize: 4294967296\n',
      key: 'General.MaxRecvMsgSize',
      value: '4294967296',
      expected: /integer from 0 to 2147483647/,
      source: 'file',
    },
    {
      name: 'byte size unit',
      yaml: 'ChannelParticipation:\n  MaxRequestBodySize: 1 TB\n',
      key: 'ChannelParticipation.MaxRequestBodySize',
      value: '1 TB',
      expected: /size in bytes/,
      source: 'file',
    },
    {
      name: 'metrics provider',
      env: { ORDERER_METRICS_PROVIDER: 'graphite' },
      key: 'Metrics.Provider',
      value: 'graphite',
      expected: /prometheus, statsd, disabled/,
      source: 'env',
    },
    {
      name: 'kafka version',
      yaml: 'Kafka:\n  Version: latest\n',
      key: 'Kafka.Version',
      value: 'latest',
      expected: /Kafka protocol version/,
      source: 'file',
    },
    {
      name: 'section given a scalar',
      yaml: 'General:\n  TLS: on\n',
      key: 'General.TLS',
      value: 'on',
      expected: /mapping/,
      source: 'file',
    },
    {
      name: 'list given a mapping',
      yaml: 'General:\n  TLS:\n    RootCAs:\n      a: b\n',
      key: 'General.TLS.RootCAs',
      expected: /list of strings/,
      source: 'file',
    },
    {
      name: 'PKCS11 provider',
      yaml: 'General:\n  BCCSP:\n    Default: PKCS11\n',
      key: 'General.BCCSP.Default',
      value: 'PKCS11',
      expected: /PKCS11 .*not supported/,
      source: 'file',
    },
  ];
  for (const { name, yaml, env, key, value, expected, source } of cases) {
    it(name, () => {
      const error = expectConfigError(() => (yaml ? loadYaml(yaml, env) : loadSampleLocalConfig(env)));
      const problem = problemFor(error, key);
      if (value !== undefined) assert.equal(problem.value, value);
      assert.match(problem.expected, expected);
      assert.equal(problem.source.kind, source);
      if (problem.source.kind === 'file') assert.match(error.message, /case-\d+\/orderer\.yaml/);
      if (problem.source.kind === 'env') assert.match(error.message, new RegExp(problem.source.variable));
    });
  }

  it('collects every problem before failing', () => {
    const error = expectConfigError(() =>
      loadYaml('General:\n  ListenPort: 99999\n  Keepalive:\n    ServerInterval: 2 hours\nBogus: 1\n', {
        ORDERER_GENERAL_BOOTSTRAPMETHOD: 'genesis',
      }),
    );
    assert.deepEqual(error.problems.map((problem) => problem.key).sort(), [
      'Bogus',
      'General.BootstrapMethod',
      'General.Keepalive.ServerInterval',
      'General.ListenPort',
    ]);
  });

  it('never echoes secrets', () => {
    const error = expectConfigError(() =>
      loadYaml('Kafka:\n  SASLPlain:\n    Password: [hunter2]\n  TLS:\n    PrivateKey: [secret-key]\n'),
    );
    assert.equal(problemFor(error, 'Kafka.SASLPlain.Password').value, '<redacted>');
    assert.equal(problemFor(error, 'Kafka.TLS.PrivateKey').value, '<redacted>');
    assert.doesNotMatch(error.message, /hunter2|secret-key/);
  });
});

describe('cross-field rules Fabric enforces at start-up', () => {
  const cases: Array<{ name: string; yaml: string; keys: string[] }> = [
    {
      name: 'Admin TLS without mutual TLS',
      yaml: 'Admin:\n  TLS:\n    Enabled: true\n    Certificate: a\n    PrivateKey: b\n    ClientAuthRequired: false\n',
      keys: ['Admin.TLS.ClientAuthRequired'],
    },
    {
      name: 'General TLS without certificate and key',
      yaml: 'General:\n  TLS:\n    Enabled: true\n',
      keys: ['General.TLS.Certificate', 'General.TLS.PrivateKey'],
    },
    {
      name: 'Kafka TLS without material',
      yaml: 'Kafka:\n  TLS:\n    Enabled: true\n',
      keys: ['Kafka.TLS.Certificate', 'Kafka.TLS.PrivateKey', 'Kafka.TLS.RootCAs'],
    },
    {
      name: 'SASL without credentials',
      yaml: 'Kafka:\n  SASLPlain:\n    Enabled: true\n',
      keys: ['Kafka.SASLPlain.User', 'Kafka.SASLPlain.Password'],
    },
    {
      name: 'cluster port without listener settings',
      yaml: 'General:\n  Cluster:\n    ListenPort: 7060\n',
      keys: [
        'General.Cluster.ListenAddress',
        'General.Cluster.ServerCertificate',
        'General.Cluster.ServerPrivateKey',
      ],
    },
    {
      name: 'statsd without address',
      yaml: 'Metrics:\n  Provider: statsd\n',
      keys: ['Metrics.Statsd.Address'],
    },
  ];
  for (const { name, yaml, keys } of cases) {
    it(name, () => {
      const error = expectConfigError(() => loadYaml(yaml));
      assert.deepEqual(error.problems.map((problem) => problem.key).sort(), [...keys].sort());
    });
  }

  it('a required value that is absent is blamed on the setting that requires it', () => {
    const error = expectConfigError(() =>
      loadLocalConfig({ env: { ORDERER_GENERAL_TLS_ENABLED: 'true' }, cwd: CWD }),
    );
    assert.deepEqual(problemFor(error, 'General.TLS.Certificate').source, {
      kind: 'env',
      variable: 'ORDERER_GENERAL_TLS_ENABLED',
    });
  });

  it('pre-2.0 GenesisMethod / GenesisFile still work, with a deprecation warning', () => {
    const loaded = loadYaml('General:\n  GenesisMethod: file\n  GenesisFile: blocks/genesis.block\n');
    assert.equal(loaded.config.general.bootstrapMethod, 'file');
    assert.equal(loaded.config.general.bootstrapFile, path.join(loaded.configDir, 'blocks/genesis.block'));
    assert.ok(loaded.warnings.some((warning) => warning.includes('GenesisMethod')));
  });
});

describe('Kafka TLS material (PEM inline or {File: path})', () => {
  const tlsDir = path.join(
    FIXTURES,
    'crypto/ordererOrganizations/example.com/orderers/orderer0.example.com/tls',
  );
  const certificatePem = fs.readFileSync(path.join(tlsDir, 'server.crt'), 'utf8');
  const keyPem = fs.readFileSync(path.join(tlsDir, 'server.key'), 'utf8');
  const caPem = fs.readFileSync(path.join(tlsDir, 'ca.crt'), 'utf8');

  it('reads {File: path} from the file, splitting RootCAs into certificates', () => {
    const { config } = loadYaml(`
Kafka:
  TLS:
    Enabled: true
    PrivateKey:
      File: ${path.join(tlsDir, 'server.key')}
    Certificate:
      File: ${path.join(tlsDir, 'server.crt')}
    RootCAs:
      File: ${path.join(tlsDir, 'ca.crt')}
`);
    assert.equal(config.kafka.tls.privateKey, keyPem);
    assert.equal(config.kafka.tls.certificate, certificatePem);
    assert.equal(config.kafka.tls.rootCAs.length, 1);
    assert.equal(config.kafka.tls.rootCAs[0]?.replace(/\s+/g, ''), caPem.replace(/\s+/g, ''));
  });

  it('accepts inline PEM and <KEY>_FILE environment variables', () => {
    const { config } = loadSampleLocalConfig({
      ORDERER_KAFKA_TLS_ENABLED: 'true',
      ORDERER_KAFKA_TLS_CERTIFICATE: certificatePem,
      ORDERER_KAFKA_TLS_PRIVATEKEY_FILE: path.join(tlsDir, 'server.key'),
      ORDERER_KAFKA_TLS_ROOTCAS_FILE: path.join(tlsDir, 'ca.crt'),
    });
    assert.equal(config.kafka.tls.certificate, certificatePem);
    assert.equal(config.kafka.tls.privateKey, keyPem);
    assert.equal(config.kafka.tls.rootCAs.length, 1);
  });

  it('an unreadable {File} is a problem naming the key', () => {
    const error = expectConfigError(() =>
      loadYaml('Kafka:\n  TLS:\n    Certificate:\n      File: /no/such/cert.pem\n'),
    );
    assert.match(problemFor(error, 'Kafka.TLS.Certificate').expected, /readable file/);
  });
});
