// Live bench progress on a fake terminal: drawn about once a second with the counters and the
// delivery rate, never on a stream that is not a TTY.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TerminalProgress, type BenchProgress, type ProgressWriter } from '../../../src/bench/index.js';

class FakeTerminal implements ProgressWriter {
  readonly writes: string[] = [];
  constructor(
    readonly isTTY: boolean,
    readonly columns = 120,
  ) {}
  write(text: string): boolean {
    this.writes.push(text);
    return true;
  }
}

const progress = (over: Partial<BenchProgress>): BenchProgress => ({
  phase: 'sending',
  total: 10_000,
  signed: 10_000,
  sent: 0,
  acknowledged: 0,
  delivered: 0,
  elapsedMs: 0,
  ...over,
});

test('progress is redrawn at most once per interval, with sent, acked, delivered and the rate', () => {
  const terminal = new FakeTerminal(true);
  let nowMs = 0;
  const bar = new TerminalProgress({ intervalMs: 1000 }, { writer: terminal, now: () => nowMs });
  bar.update(progress({ sent: 100, acknowledged: 50, delivered: 0 }));
  assert.equal(terminal.writes.length, 1, 'the first update is drawn');
  assert.ok(terminal.writes[0]!.endsWith('\x1b[K'), 'the rest of the line is erased');
  assert.match(terminal.writes[0]!, /^\r\[.*\]\s+0% sending sent 100 acked 50 delivered 0\/10000/);
  for (const at of [100, 400, 999]) {
    nowMs = at;
    bar.update(progress({ sent: 200 + at, acknowledged: 100 + at, delivered: at }));
  }
  assert.equal(terminal.writes.length, 1, 'updates within the interval are not drawn');
  nowMs = 1000;
  bar.update(progress({ sent: 3000, acknowledged: 2500, delivered: 2000 }));
  assert.equal(terminal.writes.length, 2);
  assert.match(terminal.writes[1]!, /20% sending sent 3000 acked 2500 delivered 2000\/10000 2,000 tx\/s/);
  nowMs = 3000;
  bar.update(progress({ sent: 10_000, acknowledged: 10_000, delivered: 5000 }));
  assert.match(terminal.writes[2]!, /delivered 5000\/10000 1,500 tx\/s/, '3000 more in 2 s');
  nowMs = 3100;
  bar.update(progress({ phase: 'draining', sent: 10_000, acknowledged: 10_000, delivered: 5100 }));
  assert.equal(terminal.writes.length, 4, 'a phase change is drawn at once');
  assert.match(terminal.writes[3]!, /draining/);
  bar.finish();
  assert.equal(terminal.writes.at(-1), '\r\x1b[K', 'finish clears the line for the report');
});

test('a label names the run, e.g. the warm-up', () => {
  const terminal = new FakeTerminal(true);
  const bar = new TerminalProgress({ label: 'warm-up' }, { writer: terminal, now: () => 0 });
  bar.update(progress({ phase: 'signing', signed: 5, sent: 0 }));
  assert.match(terminal.writes[0]!, /^\rwarm-up \[.*signing 5\/10000/);
});

test('nothing is written when the stream is not a TTY', () => {
  const piped = new FakeTerminal(false);
  let nowMs = 0;
  const bar = new TerminalProgress({}, { writer: piped, now: () => nowMs });
  assert.equal(bar.active, false);
  for (let i = 0; i < 5; i++) {
    nowMs += 2000;
    bar.update(progress({ sent: i * 100, delivered: i * 50 }));
  }
  bar.finish();
  assert.deepEqual(piped.writes, []);
});
