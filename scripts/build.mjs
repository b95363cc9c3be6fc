// Full build: Fabric protos -> TypeScript compile -> generated protobuf code copied beside it ->
// build info (version, commit) for `orderer version` and /version.
import { cpSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

run(process.execPath, [join(root, 'scripts', 'build-protos.mjs')]);
rmSync(join(root, 'dist'), { recursive: true, force: true });
run(process.execPath, [
  join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
  '-p',
  join(root, 'tsconfig.build.json'),
]);
mkdirSync(join(root, 'dist', 'protos', 'generated'), { recursive: true });
cpSync(
  join(root, 'src', 'protos', 'generated', 'fabric.js'),
  join(root, 'dist', 'protos', 'generated', 'fabric.js'),
);

let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root }).toString().trim();
} catch {
  // Not a git checkout (e.g. an npm tarball): the commit stays unknown.
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
writeFileSync(
  join(root, 'dist', 'build-info.json'),
  JSON.stringify({ version: pkg.version, commit }, null, 2) + '\n',
);
console.log(`build: dist/ ready (version ${pkg.version}, commit ${commit})`);
