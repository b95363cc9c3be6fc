// Compiles Fabric's own .proto files (from the npm package `fabric-protos`) into static
// protobufjs code. The generated files are build output: never edit them, re-run this script.
//
// `fabric-protos` 2.2.x predates Fabric v2.5's `SeekPosition.next_commit` (field 4). We add that
// one field to a scratch copy of ab.proto before compiling, and fail loudly if the upstream text
// ever changes shape so the patch would no longer apply.
//
// etcd's raftpb (protos/etcd-raft-v3.5.9/raft.proto, kept pristine) goes into the same bundle as
// namespace `raftpb`, so that dist/ gets it with fabric.js. protobufjs cannot read gogoproto's
// extensions: a scratch copy has the gogo import, its file options and its field options removed
// (none of them affect the wire format; see protos/etcd-raft-v3.5.9/README.md).
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fabricProtos = dirname(require.resolve('fabric-protos/package.json'));
const outDir = join(root, 'src', 'protos', 'generated');
const scratch = mkdtempSync(join(tmpdir(), 'fabric-protos-'));

/** raft.proto without gogoproto: the import, `option (gogoproto.x) = y;` and `[(gogoproto...)]`. */
function stripGogoproto(text) {
  const stripped = text
    .replace(/^import "gogoproto\/gogo\.proto";\n/m, '')
    .replace(/^option \(gogoproto\.[a-z_]+\) = (true|false);\n/gm, '')
    .replace(/\s*\[\s*\(gogoproto\.[a-z_]+\) = [^\]]*?\]/g, (list) => {
      // Only lists made entirely of gogoproto options go; anything else would change meaning.
      const options = list.trim().slice(1, -1).split(',');
      if (!options.every((o) => /^\s*\(gogoproto\.[a-z_]+\) = ("[^"]*"|true|false)\s*$/.test(o))) {
        throw new Error(`raft.proto: field option list mixes gogoproto and other options: ${list.trim()}`);
      }
      return '';
    });
  if (stripped.includes('gogoproto')) {
    throw new Error(
      'raft.proto still mentions gogoproto after stripping: update stripGogoproto in scripts/build-protos.mjs',
    );
  }
  return stripped;
}

try {
  cpSync(join(fabricProtos, 'protos'), join(scratch, 'protos'), { recursive: true });
  cpSync(join(fabricProtos, 'google-protos'), join(scratch, 'google-protos'), { recursive: true });

  const abPath = join(scratch, 'protos', 'orderer', 'ab.proto');
  const ab = readFileSync(abPath, 'utf8');
  const oneof = /(SeekSpecified specified = 3;\s*\n)(\s*\}\s*\n\s*\})/;
  if (!oneof.test(ab) || ab.includes('SeekNextCommit')) {
    throw new Error(
      'ab.proto from fabric-protos changed shape: update the SeekNextCommit patch in scripts/build-protos.mjs',
    );
  }
  writeFileSync(
    abPath,
    ab.replace(oneof, '$1        SeekNextCommit next_commit = 4;\n$2') +
      '\n// Added by scripts/build-protos.mjs: Fabric v2.5 SeekNextCommit.\nmessage SeekNextCommit {}\n',
  );

  mkdirSync(join(scratch, 'raftpb'));
  const raftProto = join(scratch, 'raftpb', 'raft.proto');
  writeFileSync(
    raftProto,
    stripGogoproto(readFileSync(join(root, 'protos', 'etcd-raft-v3.5.9', 'raft.proto'), 'utf8')),
  );

  const sources = [
    'common/common.proto',
    'common/configtx.proto',
    'common/configuration.proto',
    'common/ledger.proto',
    'common/policies.proto',
    'common/collection.proto',
    'msp/identities.proto',
    'msp/msp_config.proto',
    'msp/msp_principal.proto',
    'orderer/ab.proto',
    'orderer/cluster.proto',
    'orderer/configuration.proto',
    'orderer/kafka.proto',
    'orderer/etcdraft/configuration.proto',
    'orderer/etcdraft/metadata.proto',
    'peer/configuration.proto',
    'peer/proposal.proto',
    'peer/proposal_response.proto',
    'peer/transaction.proto',
    'peer/chaincode.proto',
    'peer/chaincode_event.proto',
    'peer/policy.proto',
    'peer/collection.proto',
    'peer/resources.proto',
  ].map((p) => join(scratch, 'protos', p));
  sources.push(raftProto);

  mkdirSync(outDir, { recursive: true });
  const bin = (name) => join(root, 'node_modules', '.bin', name);
  const js = join(outDir, 'fabric.js');
  execFileSync(
    bin('pbjs'),
    [
      '-t',
      'static-module',
      '-w',
      'esm',
      '--dependency',
      'protobufjs/minimal.js',
      '--no-verify',
      '--no-delimited',
      '--no-typeurl',
      '-p',
      join(scratch, 'protos'),
      '-p',
      join(scratch, 'google-protos'),
      '-o',
      js,
      ...sources,
    ],
    { stdio: 'inherit' },
  );
  execFileSync(bin('pbts'), ['-o', join(outDir, 'fabric.d.ts'), js], { stdio: 'inherit' });
  console.log(`protos: generated ${js}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
