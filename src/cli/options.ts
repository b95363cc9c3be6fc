// Flag value parsers shared by the commands: whole numbers with a lower bound, TCP ports, sizes.
import { InvalidArgumentError } from 'commander';

/** A commander parser for a whole number >= min. */
export function parseCount(flag: string, min = 1): (value: string) => number {
  return (value: string) => {
    const trimmed = value.trim().replace(/_/g, '');
    const n = /^\d+$/.test(trimmed)
      ? Number(trimmed)
      : /^\d+(\.\d+)?[kK]$/.test(trimmed)
        ? Number(trimmed.slice(0, -1)) * 1000
        : NaN;
    if (!Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`${flag} needs a whole number >= ${min} (got "${value}")`);
    }
    return n;
  };
}

/** A TCP port: 0 (any free port) to 65535. */
export function parsePort(flag: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n > 65535) {
      throw new InvalidArgumentError(`${flag} needs a TCP port 0-65535 (0 = any free port), got "${value}"`);
    }
    return n;
  };
}

/** A byte size: 1024, 1k / 1KB / 1KiB (x1024), 2m / 2MB (x1024^2). */
export function parseByteCount(flag: string): (value: string) => number {
  return (value: string) => {
    const match = /^(\d+)\s*(k|kb|kib|m|mb|mib|b)?$/i.exec(value.trim());
    const unit = (match?.[2] ?? 'b').toLowerCase();
    const factor = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 * 1024 : 1;
    const n = match ? Number(match[1]) * factor : NaN;
    if (!Number.isSafeInteger(n)) {
      throw new InvalidArgumentError(
        `${flag} needs a size in bytes such as 1024, 4k or 1MB (got "${value}")`,
      );
    }
    return n;
  };
}

/** host:port with a numeric port. */
export function parseAddress(flag: string): (value: string) => string {
  return (value: string) => {
    const match = /^(.+):(\d+)$/.exec(value.trim());
    if (!match || Number(match[2]) > 65535) {
      throw new InvalidArgumentError(`${flag} needs host:port, e.g. 127.0.0.1:7050 (got "${value}")`);
    }
    return value.trim();
  };
}
