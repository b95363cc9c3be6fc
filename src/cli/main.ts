// `orderer <command>`: thin command-line layer that parses flags and calls into the rest.
import { Command, CommanderError } from 'commander';
import { versionText } from '../version.js';
import { errorMessage } from '../errors.js';
import { registerBenchCommand } from './bench.js';
import { registerInspectCommand } from './inspect.js';
import { registerChannelCommand } from './channel.js';
import { parsePort } from './options.js';
import type { StartOptions } from '../server/start.js';
import { EXIT_CODES } from '../server/startupError.js';

/** `orderer start`'s flags: StartOptions by name, the config file as --config. */
export type StartFlags = Pick<
  StartOptions,
  'dev' | 'dataDir' | 'channel' | 'port' | 'adminPort' | 'operationsPort' | 'tls'
> & { config?: string };

/** The whole command tree; `setExitCode` receives the status a command wants the process to end with. */
export function createProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('orderer')
    .description('A Hyperledger Fabric v2.5 compatible ordering service')
    .exitOverride()
    .showHelpAfterError()
    .addHelpText(
      'after',
      `
Examples:
  $ orderer start                                   no configuration anywhere: zero-config dev mode in ./orderer-data
  $ orderer start --dev --data-dir /tmp/dev --port 0
  $ FABRIC_CFG_PATH=/etc/hyperledger/fabric orderer start
  $ ORDERER_GENERAL_LISTENPORT=7050 orderer start --config ./orderer.yaml
  $ orderer bench -n 20000 --size 1024 -c 64        load-test the dev orderer (or any: --orderer host:port ...)
  $ orderer inspect ./orderer-data                  the dev orderer's blocks, one line each (--json: in full)
  $ orderer inspect ./orderer-data/devchannel-genesis.block
  $ orderer inspect /var/hyperledger/production/orderer --channel mychannel --from 0 --to 3
  $ orderer channel list                            the dev orderer's channels (any orderer: -o host:port ...)
  $ orderer channel --help                          channel participation: list, join, remove
  $ orderer version

Run "orderer <command> --help" for a command's options.`,
    );

  program
    .command('version')
    .description('print the version of this orderer')
    .action(() => {
      console.log(versionText());
    });

  program
    .command('start')
    .description(
      'start the orderer: with --config or $FABRIC_CFG_PATH from orderer.yaml, otherwise in zero-config dev mode',
    )
    .option('-c, --config <path>', 'orderer.yaml file, or a folder holding one')
    .option('--dev', 'zero-config dev mode: own CA, identities and a solo channel in --data-dir')
    .option('--data-dir <dir>', 'dev mode data folder (default $ORDERER_DEV_DATA_DIR or ./orderer-data)')
    .option('--channel <id>', 'dev mode: the channel created on first start (default devchannel)')
    .option(
      '--port <port>',
      'dev mode: gRPC port (default 7050, or a free one if taken; 0 = any)',
      parsePort('--port'),
    )
    .option(
      '--admin-port <port>',
      'dev mode: channel participation API port (default 7053)',
      parsePort('--admin-port'),
    )
    .option(
      '--operations-port <port>',
      'dev mode: operations API port (default 8443)',
      parsePort('--operations-port'),
    )
    .option('--tls', 'dev mode: TLS on the gRPC listener (off by default)')
    .addHelpText(
      'after',
      `
Which configuration is used:
  --config PATH, else $FABRIC_CFG_PATH/orderer.yaml, else ./orderer.yaml; with none of them (and no
  ORDERER_GENERAL_BOOTSTRAPFILE) the orderer starts in dev mode, as with --dev.

Every orderer.yaml key can be overridden by an environment variable ORDERER_<SECTION>_<KEY>,
for example ORDERER_GENERAL_LISTENPORT=7050 or ORDERER_FILELEDGER_LOCATION=/var/ledger
(dev mode ignores them: it writes its own configuration).

Examples:
  $ orderer start                                        dev mode in ./orderer-data (first start creates it)
  $ orderer start --dev --data-dir /tmp/dev --tls
  $ orderer start --config /etc/hyperledger/fabric/orderer.yaml`,
    )
    .action(async (flags: StartFlags) => {
      const { startFromCommandLine } = await import('../server/start.js');
      setExitCode(
        await startFromCommandLine({
          ...(flags.config ? { configPath: flags.config } : {}),
          ...(flags.dev ? { dev: true } : {}),
          ...(flags.dataDir ? { dataDir: flags.dataDir } : {}),
          ...(flags.channel ? { channel: flags.channel } : {}),
          ...(flags.port !== undefined ? { port: flags.port } : {}),
          ...(flags.adminPort !== undefined ? { adminPort: flags.adminPort } : {}),
          ...(flags.operationsPort !== undefined ? { operationsPort: flags.operationsPort } : {}),
          ...(flags.tls ? { tls: true } : {}),
        }),
      );
    });

  registerBenchCommand(program, setExitCode);
  registerInspectCommand(program);
  registerChannelCommand(program);
  return program;
}

export async function runCli(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = createProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv);
    // A command may also report failure through process.exitCode.
    return exitCode || (typeof process.exitCode === 'number' ? process.exitCode : 0);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed what was wrong; --help and --version end here too, with 0.
      return err.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
    }
    console.error(`orderer: ${errorMessage(err)}`);
    return EXIT_CODES.cannotStart;
  }
}

/** How long a failed command's process may take to end on its own before it is made to. */
export const FAILED_EXIT_GRACE_MS = 5000;

/**
 * Ends the `orderer` process with `code`: by letting the event loop empty, so buffered output is
 * written, or, when a failed command still leaves something open (which it should not: start-up
 * closes what it opened), by process.exit after FAILED_EXIT_GRACE_MS, saying so, so that a
 * supervisor always sees the failure. For the process entry points only (never in tests).
 */
export function finishProcess(code: number): void {
  process.exitCode = code;
  if (code === EXIT_CODES.ok) return;
  setTimeout(() => {
    process.stderr.write(
      `orderer: still running ${FAILED_EXIT_GRACE_MS} ms after failing (a handle was left open); exiting with status ${code}\n`,
    );
    process.exit(code);
  }, FAILED_EXIT_GRACE_MS).unref();
}

const invokedDirectly = process.argv[1] && import.meta.url === new URL(process.argv[1], 'file://').href;
if (invokedDirectly) {
  finishProcess(await runCli(process.argv));
}
