// `orderer inspect`: a block file, a transaction file, or a ledger folder as readable JSON.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { asBuffer, common } from '../protos/index.js';
import { ledgerChannelIds, readChannelBlocks } from '../ledger/index.js';
import { lastConfigIndexOf } from '../protoutil/index.js';
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
  const all = await ledgerChannelIds(location);
  if (options.channel && !all.includes(options.channel)) {
    throw new Error(
      `channel ${options.channel} is not in ${location} (channels there: ${all.join(', ') || 'none'})`,
    );
  }
  const channels = options.channel ? [options.channel] : all;
  const out = [];
  for (const channelId of channels) {
    const from = options.from ?? 0;
    if (options.to !== undefined && from > options.to) {
      throw new Error(`--from ${from} is after --to ${options.to}`);
    }
    const {
      height,
      blocks: raw,
      incompleteTail,
    } = await readChannelBlocks(location, channelId, {
      from,
      ...(options.to !== undefined ? { to: options.to } : {}),
    });
    if (height > 0 && from >= height) {
      throw new Error(
        `--from ${from} is past the end of channel ${channelId} (height ${height}, last block ${height - 1})`,
      );
    }
    const decoded = raw.map((bytes) => common.Block.decode(bytes));
    // The consensus type in force at the first block comes from its last config block.
    let consensusType: string | undefined;
    if (decoded.length > 0) {
      const lastConfig = lastConfigIndexOf(decoded[0]!);
      const configBlock =
        lastConfig >= from
          ? decoded[lastConfig - from]
          : (await readChannelBlocks(location, channelId, { from: lastConfig, to: lastConfig })).blocks
              .map((bytes) => common.Block.decode(bytes))
              .at(0);
      consensusType = configBlock ? consensusTypeOf(configBlock) : undefined;
    }
    const blocks = decoded.map((block) => {
      consensusType = consensusTypeOf(block) ?? consensusType;
      return blockJson(block, consensusType ? { consensusType } : {});
    });
    out.push({
      channel: channelId,
      height,
      ...(consensusType ? { consensus_type: consensusType } : {}),
      ...(incompleteTail ? { incomplete_tail: incompleteTail } : {}),
      blocks,
    });
  }
  return { ledger: location, channels: out };
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

A ledger folder is only read, never changed, so the folder of a running orderer is safe to
inspect: a block still being written shows as "incomplete_tail" and is left out.`,
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
