// Compiles Fabric's own .proto files (from the npm package `fabric-protos`) into static
// protobufjs code. The generated files are build output: never edit them, re-run this script.
//
// `fabric-protos` 2.2.x predates Fabric v2.5's `SeekPosition.next_commit` (field 4). We add that
// one field to a scratch copy of ab.proto before compiling, and fail loudly if the upstream text
// ever changes shape so the patch would no longer apply.
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
