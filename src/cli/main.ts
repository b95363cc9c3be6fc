// `orderer <command>`: thin command-line layer that parses flags and calls into the rest.
import { Command, CommanderError } from 'commander';
import { versionText } from '../version.js';
import { errorMessage } from '../errors.js';

export async function runCli(argv: string[]): Promise<number> {
  const program = new Command('orderer')
    .description('A Hyperledger Fabric v2.5 compatible ordering service')
    .exitOverride()
    .showHelpAfterError()
    .addHelpText(
      'after',
      `
Examples:
  $ orderer start                                   start with $FABRIC_CFG_PATH/orderer.yaml
  $ FABRIC_CFG_PATH=/etc/hyperledger/fabric orderer start
  $ ORDERER_GENERAL_LISTENPORT=7050 orderer start --config ./orderer.yaml
  $ orderer version`,
    );

  let exitCode = 0;

  program
    .command('version')
    .description('print the version of this orderer')
    .action(() => {
      console.log(versionText());
    });

  program
    .command('start')
    .description('start the orderer (reads orderer.yaml from --config or $FABRIC_CFG_PATH)')
    .option('-c, --config <path>', 'orderer.yaml file, or a folder holding one')
    .addHelpText(
      'after',
      `
Every orderer.yaml key can be overridden by an environment variable ORDERER_<SECTION>_<KEY>,
for example ORDERER_GENERAL_LISTENPORT=7050 or ORDERER_FILELEDGER_LOCATION=/var/ledger.`,
    )
    .action(async (options: { config?: string }) => {
      const { startFromCommandLine } = await import('../server/start.js');
      exitCode = await startFromCommandLine({ ...(options.config ? { configPath: options.config } : {}) });
    });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode;
    }
    console.error(`orderer: ${errorMessage(err)}`);
    return 1;
  }
}

const invokedDirectly = process.argv[1] && import.meta.url === new URL(process.argv[1], 'file://').href;
if (invokedDirectly) {
  process.exitCode = await runCli(process.argv);
}
