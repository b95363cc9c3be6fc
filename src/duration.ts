// Go's time.ParseDuration and Duration.String, to the letter: Fabric stores BatchTimeout (and
// orderer.yaml holds many settings) as Go duration strings, and a value Go accepts must be
// accepted here with the same number of nanoseconds, and vice versa.
import { badRequest } from './errors.js';

const nanosPerUnit: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  '\u00b5s': 1_000n, // U+00B5 micro sign
  '\u03bcs': 1_000n, // U+03BC Greek small letter mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const maxUint63 = 1n << 63n;

function invalid(original: string, what = 'invalid duration') {
  return badRequest(
    `time: ${what} ${JSON.stringify(original)} (expected a Go duration such as "2s", "500ms", "1m30s")`,
  );
}

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

/** Go's time.ParseDuration: the duration in nanoseconds (int64 range). */
export function parseDurationNanos(text: string): bigint {
  const original = text;
  let s = text;
  let negative = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw invalid(original);
  let total = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) throw invalid(original);

    // Integer part; Go fails on overflow here.
    let value = 0n;
    let i = 0;
    for (; i < s.length && isDigit(s[i]); i++) {
      if (value > maxUint63 / 10n) throw invalid(original);
      value = value * 10n + BigInt(s.charCodeAt(i) - 48);
      if (value > maxUint63) throw invalid(original);
    }
    const hadInteger = i > 0;
    s = s.slice(i);

    // Fraction part; Go silently drops digits beyond what fits.
    let fraction = 0n;
    let scale = 1;
    let hadFraction = false;
    if (s[0] === '.') {
      s = s.slice(1);
      let overflow = false;
      let j = 0;
      for (; j < s.length && isDigit(s[j]); j++) {
        if (overflow) continue;
        if (fraction > (maxUint63 - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const next = fraction * 10n + BigInt(s.charCodeAt(j) - 48);
        if (next > maxUint63) {
          overflow = true;
          continue;
        }
        fraction = next;
        scale *= 10;
      }
      hadFraction = j > 0;
      s = s.slice(j);
    }
    if (!hadInteger && !hadFraction) throw invalid(original);

    let u = 0;
    while (u < s.length && s[u] !== '.' && !isDigit(s[u])) u++;
    if (u === 0) throw invalid(original, 'missing unit in duration');
    const unitName = s.slice(0, u);
    s = s.slice(u);
    const unit = nanosPerUnit[unitName];
    if (unit === undefined) {
      throw invalid(original, `unknown unit ${JSON.stringify(unitName)} in duration`);
    }
    if (value > maxUint63 / unit) throw invalid(original);
    value *= unit;
    if (fraction > 0n) {
      // float64 arithmetic, as Go does it, so rounding matches.
      value += BigInt(Math.trunc(Number(fraction) * (Number(unit) / scale)));
      if (value > maxUint63) throw invalid(original);
    }
    total += value;
    if (total > maxUint63) throw invalid(original);
  }
  if (negative) return -total;
  if (total > maxUint63 - 1n) throw invalid(original);
  return total;
}

/** The duration in (possibly fractional) milliseconds. */
export function parseDurationMs(text: string): number {
  return Number(parseDurationNanos(text)) / 1e6;
}

function formatFraction(value: bigint, precision: number): { text: string; rest: bigint } {
  let text = '';
  let printed = false;
  let v = value;
  for (let i = 0; i < precision; i++) {
    const digit = v % 10n;
    printed = printed || digit !== 0n;
    if (printed) text = `${digit}${text}`;
    v /= 10n;
  }
  return { text: printed ? `.${text}` : '', rest: v };
}

/** Go's Duration.String: "2s", "1m30s", "1h0m0s", "500ms", "1.5µs", "0s". */
export function formatDurationNanos(nanos: bigint): string {
  const negative = nanos < 0n;
  let u = negative ? -nanos : nanos;
  let text: string;
  if (u < 1_000_000_000n) {
    if (u === 0n) return '0s';
    let unit: string;
    let precision: number;
    if (u < 1_000n) {
      unit = 'ns';
      precision = 0;
    } else if (u < 1_000_000n) {
      unit = '\u00b5s';
      precision = 3;
    } else {
      unit = 'ms';
      precision = 6;
    }
    const { text: frac, rest } = formatFraction(u, precision);
    text = `${rest}${frac}${unit}`;
  } else {
    const { text: frac, rest } = formatFraction(u, 9);
    u = rest;
    text = `${u % 60n}${frac}s`;
    u /= 60n;
    if (u > 0n) {
      text = `${u % 60n}m${text}`;
      u /= 60n;
      if (u > 0n) text = `${u}h${text}`;
    }
  }
  return negative ? `-${text}` : text;
}

export function formatDurationMs(ms: number): string {
  return formatDurationNanos(BigInt(Math.round(ms * 1e6)));
}
