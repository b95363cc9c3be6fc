// Version information for `orderer version` and the operations server's /version.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The Fabric release whose orderer this one is compatible with. */
export const FABRIC_COMPATIBILITY = '2.5';

export interface VersionInfo {
  version: string;
  commit: string;
}

export function versionInfo(): VersionInfo {
  // dist/build-info.json is written by scripts/build.mjs; from sources, fall back to package.json.
  for (const candidate of ['./build-info.json', '../dist/build-info.json']) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as VersionInfo;
  }
  const pkg = JSON.parse(
    readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8'),
  ) as {
    version: string;
  };
  return { version: pkg.version, commit: 'development' };
}

export function versionText(program = 'orderer'): string {
  const info = versionInfo();
  return [
    `${program}:`,
    ` Version: ${info.version}`,
    ` Commit SHA: ${info.commit}`,
    ` Fabric compatibility: v${FABRIC_COMPATIBILITY}`,
    ` Node.js version: ${process.version}`,
    ` OS/Arch: ${process.platform}/${process.arch}`,
  ].join('\n');
}
