// Where the tests find Fabric's own artifacts: the fixtures the project carries (made by Fabric
// v2.5.12's tools, see test/fixtures/fabric-2.5/README.md) and Fabric's Go binaries, which it does
// not carry (about 100 MB of linux/amd64 executables). Every test path to either goes through here,
// so a fresh clone runs its tests without anything beside the repository.
import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root folder (this file is test/support/fabric-fixtures.ts). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/[\\/]$/, '');

/** The in-repository copy of Fabric v2.5.12's artifacts (no trailing slash; read-only data). */
export const FABRIC_FIXTURES = join(PROJECT_ROOT, 'test/fixtures/fabric-2.5');

/** Fabric's v2.5.12 binaries that tests run side by side with ours. */
export const FABRIC_BINARIES = ['orderer', 'osnadmin', 'configtxgen', 'configtxlator'] as const;
export type FabricBinary = (typeof FABRIC_BINARIES)[number];

/** The Fabric release the fixtures were made with and the binaries must be. */
export const FABRIC_VERSION = 'v2.5.12';

/**
 * The folder holding Fabric's binaries: $FABRIC_BIN (relative to the current directory if not
 * absolute), else ../shared/fabric-bin beside the project, where the development machines have it.
 */
export function fabricBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.FABRIC_BIN?.trim();
  if (fromEnv) return isAbsolute(fromEnv) ? fromEnv : resolve(fromEnv);
  return resolve(PROJECT_ROOT, '../shared/fabric-bin');
}

/** How to get the binaries, for the messages of missing ones. */
export function fabricBinHowTo(env: NodeJS.ProcessEnv = process.env): string {
  return (
    `Fabric ${FABRIC_VERSION}'s binaries are looked for in $FABRIC_BIN, else ../shared/fabric-bin ` +
    `(now: ${fabricBinDir(env)}). To get them, build Fabric from source with Go: ` +
    `git clone --depth 1 -b ${FABRIC_VERSION} https://github.com/hyperledger/fabric && cd fabric && ` +
    `mkdir -p bin && go build -o bin/ ./cmd/... ; then run the tests with FABRIC_BIN=<that fabric>/bin`
  );
}

/** Names of the wanted binaries that are not an executable file in fabricBinDir(env). */
export function missingFabricBinaries(
  names: readonly FabricBinary[],
  env: NodeJS.ProcessEnv = process.env,
): FabricBinary[] {
  const dir = fabricBinDir(env);
  return names.filter((name) => !isExecutableFile(join(dir, name)));
}

/** A wanted Fabric binary (or binaries) is not there; the message says how to get them. */
export class FabricBinaryMissingError extends Error {
  constructor(
    readonly missing: readonly FabricBinary[],
    env: NodeJS.ProcessEnv = process.env,
  ) {
    super(`Fabric's ${missing.join(', ')} not found in ${fabricBinDir(env)}. ${fabricBinHowTo(env)}`);
    this.name = 'FabricBinaryMissingError';
  }
}

/** The absolute path of one of Fabric's binaries; throws FabricBinaryMissingError if absent. */
export function fabricBin(name: FabricBinary, env: NodeJS.ProcessEnv = process.env): string {
  if (missingFabricBinaries([name], env).length > 0) throw new FabricBinaryMissingError([name], env);
  return join(fabricBinDir(env), name);
}

/**
 * The `skip` option for a node:test test or suite that runs the given Fabric binaries: false when
 * they are all there; when some are missing, a reason node:test prints with the skipped test, except
 * under CI (CI set and not "false"/"0"), where it is false so the test runs, calls fabricBin and fails
 * with the how-to message: CI must not pass by skipping what it is there to check.
 * Give it to each test (and return early from hooks when it is a string): Node 20 prints a skipped
 * suite but counts none of its tests as skipped.
 *
 *     const skip = skipWithoutFabricBin('osnadmin');
 *     it('joins with osnadmin', { skip }, async () => { const osnadmin = fabricBin('osnadmin'); ... });
 */
export function skipWithoutFabricBin(...names: FabricBinary[]): string | false {
  return fabricBinSkipReason(names, process.env);
}

/** skipWithoutFabricBin with an explicit environment. */
export function fabricBinSkipReason(names: readonly FabricBinary[], env: NodeJS.ProcessEnv): string | false {
  const missing = missingFabricBinaries(names, env);
  if (missing.length === 0 || isCi(env)) return false;
  return new FabricBinaryMissingError(missing, env).message;
}

/** Whether the environment is a CI run (CI set to anything but empty, "false" or "0"). */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = env.CI?.trim().toLowerCase();
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
