// Scalar conversions that reproduce how Fabric's viperutil (mapstructure with WeaklyTypedInput and
// its decode hooks) turns YAML values and environment strings into Go types. Each function returns
// the converted value or `undefined` when the input is not acceptable; the caller reports why.
import { formatDurationMs, parseDurationMs } from '../duration.js';

/**
 * Parses a Go duration string (time.ParseDuration grammar: "300ms", "1m30s", "1.5h", "-2s", "0")
 * and returns milliseconds (fractional for sub-millisecond values), or undefined when invalid.
 */
export function parseGoDuration(text: string): number | undefined {
  try {
    return parseDurationMs(text);
  } catch {
    return undefined;
  }
}

/** Formats milliseconds the way Go prints a time.Duration, for messages ("1m30s", "250ms"). */
export function formatDuration(ms: number): string {
  return formatDurationMs(ms);
}

const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);
// yaml.v2 (YAML 1.1), which Fabric uses to read the file, also resolves these words to booleans.
const YAML11_TRUE = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON']);
const YAML11_FALSE = new Set(['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF']);

export function parseBool(value: unknown, allowYaml11Words: boolean): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value !== 'string') return undefined;
  if (GO_TRUE.has(value) || (allowYaml11Words && YAML11_TRUE.has(value))) return true;
  if (GO_FALSE.has(value) || (allowYaml11Words && YAML11_FALSE.has(value))) return false;
  return undefined;
}

/** Integers as Go's strconv.ParseInt(s, 0, n) reads them: decimal, 0x.., 0o.., 0b.., with an optional sign. */
export function parseInteger(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  const match = /^([+-]?)(0x[0-9a-f]+|0o[0-7]+|0b[01]+|\d+)$/i.exec(text);
  if (!match) return undefined;
  const [, sign, digits = ''] = match;
  const magnitude = /^\d+$/.test(digits) ? Number(digits) : Number(digits.toLowerCase());
  if (!Number.isSafeInteger(magnitude)) return undefined;
  return sign === '-' ? -magnitude : magnitude;
}

/**
 * Byte sizes as Fabric's byteSizeDecodeHook reads them for uint32 fields: a plain number, or digits
 * with a binary unit K, M or G, optionally followed by B, case-insensitive ("1 MB" = 1048576).
 */
export function parseByteSize(value: unknown): number | undefined {
  if (typeof value === 'number' || /^\s*[+-]?\d+\s*$/.test(String(value))) return parseInteger(value);
  if (typeof value !== 'string') return undefined;
  const match = /^(\d+)\s*([kmg])b?$/i.exec(value.trim());
  if (!match) return undefined;
  const [, digits = '', unit = ''] = match;
  const shift = { k: 10, m: 20, g: 30 }[unit.toLowerCase() as 'k' | 'm' | 'g'];
  const size = Number(digits) * 2 ** shift;
  return Number.isSafeInteger(size) ? size : undefined;
}

/**
 * String lists as Fabric reads them: a YAML sequence, a string in the form "[a, b, c]" (how lists
 * are written in environment variables; elements are trimmed) or a single string (one element).
 * Empty elements are dropped so that "[]" means an empty list.
 */
export function parseStringList(value: unknown): string[] | undefined {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) {
    const items: string[] = [];
    for (const item of value) {
      if (item === null || item === undefined) continue;
      if (typeof item === 'object') return undefined;
      items.push(String(item));
    }
    return items.filter((item) => item !== '');
  }
  if (typeof value === 'object') return undefined;
  const text = String(value);
  if (text.length > 1 && text.startsWith('[') && text.endsWith(']')) {
    return text
      .slice(1, -1)
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  }
  return text === '' ? [] : [text];
}

/** Scalars are weakly converted to strings (a YAML number 123 for LocalMSPID becomes "123"). */
export function scalarToString(value: unknown): string | undefined {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return undefined;
}

/**
 * Splits PEM text into its CERTIFICATE blocks, skipping other block types and blocks with headers,
 * as Fabric's pemBlocksFromFileDecodeHook does.
 */
export function splitPemCertificates(text: string): string[] {
  const blocks: string[] = [];
  const pattern = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
  for (const match of text.matchAll(pattern)) {
    const [, type, body = ''] = match;
    if (type !== 'CERTIFICATE' || /^[\w-]+:/m.test(body)) continue;
    const base64 = body.replace(/\s+/g, '');
    const lines = base64.match(/.{1,64}/g) ?? [];
    blocks.push(`-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`);
  }
  return blocks;
}

/** Levenshtein distance, for "did you mean" suggestions on misspelt keys. */
export function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0]!;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j]!;
      previous[j] = Math.min(above + 1, previous[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return previous[b.length]!;
}
