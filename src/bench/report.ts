// The human-readable end of `orderer bench`: one table, numbers first, with the issue's targets.
import type { BenchProgress, BenchReport } from './run.js';
import { formatProgressLine } from './progress.js';

/** The issue's targets for 1 KB envelopes over 64 streams. */
export const TARGETS = { endToEndToVerifyRatio: 0.6, steadyRssBytes: 250 * 1024 * 1024 } as const;

const mb = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
const rate = (value: number) => `${Math.round(value).toLocaleString('en-US')} tx/s`;
const ms = (value: number) =>
  `${value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : Math.round(value)} ms`;

export function formatReport(report: BenchReport, title = 'orderer bench'): string {
  const rows: [string, string][] = [];
  const add = (label: string, value: string) => rows.push([label, value]);
  add(
    'run',
    `${report.count.toLocaleString('en-US')} envelopes of ${report.size} B data (${report.envelopeBytes} B marshalled), ${report.streams} streams x ${report.window} in flight${report.connections ? ` over ${report.connections} connections` : ''} -> ${report.address} channel ${report.channel}`,
  );
  add(
    'warm-up',
    report.warmup
      ? `${report.warmup.toLocaleString('en-US')} envelopes sent first and not counted (--warmup 0 to skip)`
      : 'none: a fresh orderer is still unoptimised (JIT), so this run reads low (--warmup N)',
  );
  const rejected = Object.entries(report.rejected);
  add(
    'accepted',
    `${report.accepted.toLocaleString('en-US')}` +
      (rejected.length
        ? `   rejected: ${rejected.map(([status, n]) => `${n} x ${status}`).join(', ')}`
        : '   rejected: 0') +
      (report.unanswered ? `   unanswered: ${report.unanswered}` : ''),
  );
  add(
    'delivered',
    `${report.delivered.toLocaleString('en-US')} in ${report.blocks} blocks` +
      (report.firstBlock !== undefined
        ? ` (#${report.firstBlock}..#${report.lastBlock}, ${(report.delivered / Math.max(1, report.blocks)).toFixed(0)} tx/block)`
        : ''),
  );
  add('broadcast', `${rate(report.broadcastTps)}   (${ms(report.broadcastMs)} first send -> last response)`);
  add(
    'end-to-end',
    `${rate(report.endToEndTps)}   (${ms(report.endToEndMs)} first send -> last tx delivered)`,
  );
  if (report.latencyMs) {
    const l = report.latencyMs;
    add(
      'latency',
      `p50 ${ms(l.p50)}  p90 ${ms(l.p90)}  p99 ${ms(l.p99)}  max ${ms(l.max)}   (send -> in a delivered block)`,
    );
  }
  if (report.orderer) {
    const o = report.orderer;
    add(
      'orderer process',
      `pid ${o.pid}: CPU ${o.cpuPercent.toFixed(0)}% (${o.cpuSeconds.toFixed(1)} s)   RSS steady ${mb(o.rssSteadyBytes)}, max ${mb(o.rssMaxBytes)}, peak ever ${mb(o.peakRssBytes)}` +
        (o.rssSteadyBytes > TARGETS.steadyRssBytes
          ? `   [above the ${mb(TARGETS.steadyRssBytes)} target]`
          : ''),
    );
  } else {
    add('orderer process', 'not watched (remote, or give --pid)');
  }
  add('load generator', `CPU ${report.clientCpuPercent.toFixed(0)}% (this process, on the same machine)`);
  if (report.readers) {
    const { streams, fewestBlocksAtEnd, caughtUpAfterMs } = report.readers;
    add(
      'Deliver fan-out',
      `${streams} more readers of every block: the slowest had ${fewestBlocksAtEnd} of ${report.blocks} blocks at the end, ` +
        (caughtUpAfterMs === undefined
          ? 'and not all of them within the timeout'
          : `all ${(caughtUpAfterMs / 1000).toFixed(1)} s later`),
    );
  }
  if (report.verify) {
    const ratio = report.endToEndToVerifyRatio;
    add(
      'ECDSA verify',
      `${rate(report.verify.perSecond).replace('tx/s', 'verifies/s')} (P-256, 1 thread, ${report.verify.messageBytes} B${verifySamples(report.verify)})` +
        (ratio !== undefined
          ? `   end-to-end / verify = ${(ratio * 100).toFixed(0)}% (target >= ${TARGETS.endToEndToVerifyRatio * 100}%)`
          : ''),
    );
  }
  if (report.timedOut)
    add('timed out', `${report.count - report.delivered} envelopes not seen delivered in time`);
  for (const sample of report.rejectionSamples) add('rejection', sample);
  for (const error of report.streamErrors.slice(0, 5)) add('error', error);
  const width = Math.max(...rows.map(([label]) => label.length));
  return (
    [`${title}`, ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`)].join('\n') + '\n'
  );
}

/** One line of progress for a terminal: a bar of delivered envelopes and the counters. */
export function formatProgress(p: BenchProgress, columns = 80): string {
  return formatProgressLine(p, undefined, columns);
}

function verifySamples(verify: NonNullable<BenchReport['verify']>): string {
  if (!verify.samples || verify.samples.length < 2) return '';
  const [before, after] = verify.samples.map((r) => Math.round(r).toLocaleString('en-US'));
  return `; mean of ${before} before and ${after} after the load`;
}
