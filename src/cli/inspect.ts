// `orderer inspect`: a block file or a transaction file as readable JSON; a ledger folder (or a dev
// data folder, whose ledger is found inside) as one line per block, or as JSON on request.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { asBuffer, common } from '../protos/index.js';
import { ledgerChannelIds, readChannelBlocks } from '../ledger/index.js';
import { lastConfigIndexOf } from '../protoutil/index.js';
import { readDevInfo } from '../dev/index.js';
import { blockJson, blockSummary, consensusTypeOf, envelopeJson, type BlockSummary } from './block-json.js';
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

/**
 * The ledger folder a path names: a ledger folder itself (FileLedger.Location, holding chains/), or
 * a dev data folder (dev-info.json inside) whose ledger is found through dev-info.json.
 */
export function resolveLedgerLocation(path: string): string {
  if (existsSync(join(path, 'chains'))) return path;
  const dev = readDevInfo(path);
  if (dev) {
    // The data folder may have been moved since dev-info.json was written: look beside it too.
    const candidates = [dev.ledgerDir, join(path, relative(dev.dataDir, dev.ledgerDir))];
    const found = candidates.find((dir) => existsSync(join(dir, 'chains')));
    if (found) return found;
    throw new Error(
      `${path} is a dev data folder, but its ledger (${dev.ledgerDir}) has no chains/ yet: start the dev orderer once with \`orderer start --dev --data-dir ${path}\``,
    );
  }
  throw new Error(
    `${path} is not a ledger folder: there is no chains/ inside (give FileLedger.Location, e.g. /var/hyperledger/production/orderer, or a dev data folder such as ./orderer-data)`,
  );
}

interface ChannelBlocks {
  channel: string;
  height: number;
  consensusType: string | undefined;
  incompleteTail: string | undefined;
  blocks: { block: common.Block; bytes: number; consensusType: string | undefined }[];
}

async function readLedger(location: string, options: InspectOptions): Promise<ChannelBlocks[]> {
  const all = await ledgerChannelIds(location);
  if (options.channel && !all.includes(options.channel)) {
    throw new Error(
      `channel ${options.channel} is not in ${location} (channels there: ${all.join(', ') || 'none'})`,
    );
  }
  const channels = options.channel ? [options.channel] : all;
  const out: ChannelBlocks[] = [];
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
    const blocks = decoded.map((block, i) => {
      consensusType = consensusTypeOf(block) ?? consensusType;
      return { block, bytes: raw[i]!.length, consensusType };
    });
    out.push({
      channel: channelId,
      height,
      consensusType,
      incompleteTail: incompleteTail ?? undefined,
      blocks,
    });
  }
  return out;
}

/** Blocks of a ledger folder (FileLedger.Location, or a dev data folder) as full JSON. */
export async function inspectLedger(path: string, options: InspectOptions = {}): Promise<object> {
  const location = resolveLedgerLocation(path);
  const channels = await readLedger(location, options);
  return {
    ledger: location,
    channels: channels.map((c) => ({
      channel: c.channel,
      height: c.height,
      ...(c.consensusType ? { consensus_type: c.consensusType } : {}),
      ...(c.incompleteTail ? { incomplete_tail: c.incompleteTail } : {}),
      blocks: c.blocks.map(({ block, consensusType }) =>
        blockJson(block, consensusType ? { consensusType } : {}),
      ),
    })),
  };
}

export interface LedgerSummary {
  readonly ledger: string;
  readonly channels: readonly {
    readonly channel: string;
    readonly height: number;
    readonly consensusType: string | undefined;
    readonly incompleteTail: string | undefined;
    readonly blocks: readonly BlockSummary[];
  }[];
}

/** Blocks of a ledger folder (FileLedger.Location, or a dev data folder) in brief. */
export async function summarizeLedger(path: string, options: InspectOptions = {}): Promise<LedgerSummary> {
  const location = resolveLedgerLocation(path);
  const channels = await readLedger(location, options);
  return {
    ledger: location,
    channels: channels.map((c) => ({
      channel: c.channel,
      height: c.height,
      consensusType: c.consensusType,
      incompleteTail: c.incompleteTail,
      blocks: c.blocks.map(({ block, bytes }) => blockSummary(block, bytes)),
    })),
  };
}

const sizeText = (bytes: number) =>
  bytes < 1024
    ? `${bytes} B`
    : bytes < 1024 * 1024
      ? `${(bytes / 1024).toFixed(1)} KiB`
      : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** The summary as text: a heading per channel, then one line per block. */
export function formatLedgerSummary(summary: LedgerSummary): string {
  const lines = [`ledger ${summary.ledger}`];
  if (summary.channels.length === 0) lines.push('  no channels');
  for (const c of summary.channels) {
    lines.push(
      '',
      `channel ${c.channel}: height ${c.height}${c.consensusType ? `, consensus ${c.consensusType}` : ''}`,
    );
    const rows = c.blocks.map((b) => [
      String(b.number),
      String(b.transactions),
      sizeText(b.bytes),
      b.type,
      b.hash,
    ]);
    const head = ['block', 'txs', 'size', 'type', 'hash'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) =>
      '  ' +
      r
        .map((cell, i) =>
          i < 3 ? cell.padStart(widths[i]!) : i === r.length - 1 ? cell : cell.padEnd(widths[i]!),
        )
        .join('  ');
    lines.push(line(head), ...rows.map(line));
    if (c.incompleteTail) lines.push(`  incomplete tail (left out): ${c.incompleteTail}`);
  }
  return lines.join('\n') + '\n';
}

export interface InspectCommandOptions extends InspectOptions {
  json?: boolean;
  full?: boolean;
  output?: string;
  compact?: boolean;
}

/** What `orderer inspect PATH` prints: JSON for a file, the summary or JSON for a folder. */
export async function inspectCommandOutput(target: string, options: InspectCommandOptions): Promise<string> {
  if (!existsSync(target)) throw new Error(`${target} does not exist`);
  const json = (value: object) => JSON.stringify(value, null, options.compact ? undefined : 2) + '\n';
  if (!statSync(target).isDirectory()) return json(inspectFile(target));
  if (options.json || options.full) return json(await inspectLedger(target, options));
  return formatLedgerSummary(await summarizeLedger(target, options));
}

export function registerInspectCommand(program: Command): void {
  program
    .command('inspect')
    .description(
      'decode a block or transaction file into JSON, or list the blocks of a ledger folder (one line each)',
    )
    .argument(
      '<path>',
      'a marshalled block (e.g. genesis.block), an envelope (.tx), a ledger folder (FileLedger.Location) or a dev data folder (./orderer-data)',
    )
    .option('--channel <id>', 'ledger folder: only this channel')
    .option('--from <n>', 'ledger folder: first block number', parseCount('--from', 0))
    .option('--to <n>', 'ledger folder: last block number (inclusive)', parseCount('--to', 0))
    .option('--json', 'ledger folder: every block decoded in full, as JSON, instead of the summary')
    .option('--full', 'the same as --json')
    .option('-o, --output <file>', 'write the output to a file instead of stdout')
    .option('--compact', 'one line of JSON instead of indented')
    .addHelpText(
      'after',
      `
Examples:
  $ orderer inspect ./orderer-data                        # the dev orderer's blocks, one line each
  $ orderer inspect orderer-data/devchannel-genesis.block
  $ orderer inspect /var/hyperledger/production/orderer --channel mychannel --from 2 --to 2 --json
  $ orderer inspect ./ledger --channel mychannel --full -o blocks.json

A block or transaction file is printed as JSON. A ledger folder (or a dev data folder, whose
ledger is found through its dev-info.json) is listed one line per block: number, transactions,
size, type of its transactions and header hash; --json (or --full) prints every block in full.

A ledger folder is only read, never changed, so the folder of a running orderer is safe to
inspect: a block still being written shows as "incomplete_tail" and is left out.`,
    )
    .action(async (path: string, options: InspectCommandOptions) => {
      const text = await inspectCommandOutput(resolve(path), options);
      if (options.output) writeFileSync(options.output, text);
      else process.stdout.write(text);
    });
}
