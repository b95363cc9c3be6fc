// `orderer inspect`: a block file, a transaction file, or a ledger folder as readable JSON.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { asBuffer, common } from '../protos/index.js';
import { FileLedgerFactory } from '../ledger/index.js';
import { lastConfigIndexOf } from '../protoutil/index.js';
import { silentLogger } from '../logging.js';
import { blockJson, consensusTypeOf, envelopeJson } from './block-json.js';
import { parseCount } from './options.js';

export interface InspectOptions {
  channel?: string;
  from?: number;
  to?: number;
}

/** A marshalled Block (or, failing that, an Envelope such as a channel creation .tx) as JSON. */
export function inspectFile(path: string): object {
  const bytes = readFileSync(path);
  let block: common.Block | undefined;
  try {
    block = common.Block.decode(bytes);
  } catch {
    block = undefined;
  }
  if (block?.header && block.data) return { file: path, block: blockJson(block) };
  try {
    const envelope = common.Envelope.decode(bytes);
    if (asBuffer(envelope.payload).length) return { file: path, envelope: envelopeJson(bytes) };
  } catch {
    // neither
  }
  throw new Error(`${path} is neither a marshalled common.Block nor a common.Envelope`);
}

/** Blocks of a ledger folder (FileLedger.Location: the folder holding chains/). */
export async function inspectLedger(location: string, options: InspectOptions = {}): Promise<object> {
  if (!existsSync(join(location, 'chains'))) {
    throw new Error(
      `${location} is not a ledger folder: there is no chains/ inside (give FileLedger.Location, e.g. /var/hyperledger/production/orderer)`,
    );
  }
  const factory = await FileLedgerFactory.open({ location }, { logger: silentLogger() });
  try {
    const all = factory.channelIds();
    if (options.channel && !all.includes(options.channel)) {
      throw new Error(
        `channel ${options.channel} is not in ${location} (channels there: ${all.join(', ') || 'none'})`,
      );
    }
    const channels = options.channel ? [options.channel] : all;
    const out = [];
    for (const channelId of channels) {
      const store = await factory.open(channelId);
      const height = store.height();
      const from = options.from ?? 0;
      const to = Math.min(options.to ?? height - 1, height - 1);
      if (height > 0 && from >= height) {
        throw new Error(
          `--from ${from} is past the end of channel ${channelId} (height ${height}, last block ${height - 1})`,
        );
      }
      if (from > to && height > 0) throw new Error(`--from ${from} is after --to ${options.to}`);
      const read = async (n: number) => common.Block.decode((await store.getBlock(n))!.bytes);
      let consensusType: string | undefined;
      const blocks = [];
      if (height > 0) {
        const first = await read(from);
        consensusType = consensusTypeOf(await read(lastConfigIndexOf(first)));
        for (let n = from; n <= to; n++) {
          const block = n === from ? first : await read(n);
          consensusType = consensusTypeOf(block) ?? consensusType;
          blocks.push(blockJson(block, consensusType ? { consensusType } : {}));
        }
      }
      out.push({
        channel: channelId,
        height,
        ...(consensusType ? { consensus_type: consensusType } : {}),
        blocks,
      });
    }
    return { ledger: location, channels: out };
  } finally {
    await factory.close();
  }
}

export function registerInspectCommand(program: Command): void {
  program
    .command('inspect')
    .description('decode a block file, a transaction file or a ledger folder into readable JSON')
    .argument(
      '<path>',
      'a marshalled block (e.g. genesis.block), an envelope (.tx), or a ledger folder (FileLedger.Location)',
    )
    .option('--channel <id>', 'ledger folder: only this channel')
    .option('--from <n>', 'ledger folder: first block number', parseCount('--from', 0))
    .option('--to <n>', 'ledger folder: last block number (inclusive)', parseCount('--to', 0))
    .option('-o, --output <file>', 'write the JSON to a file instead of stdout')
    .option('--compact', 'one line of JSON instead of indented')
    .addHelpText(
      'after',
      `
Examples:
  $ orderer inspect orderer-data/devchannel-genesis.block
  $ orderer inspect /var/hyperledger/production/orderer --channel mychannel --from 2 --to 2
  $ orderer inspect ./ledger --channel mychannel -o blocks.json

Read a copy of a ledger, not the folder of a running orderer: opening a ledger finishes
interrupted writes, as the orderer itself does at start-up.`,
    )
    .action(async (path: string, options: InspectOptions & { output?: string; compact?: boolean }) => {
      const target = resolve(path);
      if (!existsSync(target)) throw new Error(`${target} does not exist`);
      const result = statSync(target).isDirectory()
        ? await inspectLedger(target, options)
        : inspectFile(target);
      const text = JSON.stringify(result, null, options.compact ? undefined : 2) + '\n';
      if (options.output) writeFileSync(options.output, text);
      else process.stdout.write(text);
    });
}
