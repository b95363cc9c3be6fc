// dist/ rebuilt (as `npm ci` builds it) before a benchmark runs bin/orderer.js, when a source is newer.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Newest modification time (ms) of the files under dir (recursively) that pass keep. */
function newestMtime(dir: string, keep: (name: string) => boolean): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path, keep));
    else if (keep(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Runs scripts/build.mjs (as `npm ci` does) when dist/ is missing or older than a source file. */
export function ensureBuilt(root: string): void {
  const built = join(root, 'dist', 'build-info.json');
  const sources = Math.max(
    newestMtime(join(root, 'src'), (name) => name.endsWith('.ts') && !name.endsWith('.d.ts')),
    statSync(join(root, 'tsconfig.json')).mtimeMs,
    statSync(join(root, 'tsconfig.build.json')).mtimeMs,
  );
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  console.log('dist/ is older than the sources: building (node scripts/build.mjs) ...');
  execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
}
