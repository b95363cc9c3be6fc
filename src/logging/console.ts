// FABRIC_LOGGING_FORMAT=console: one human-readable line per event, in the layout of Fabric's
// default format ("2024-05-01 10:00:00.123 UTC 0001 INFO [ledger] message"), followed by the
// event's fields as key=value. pino produces JSON; this destination rewrites each line.

/** Where log lines go: process.stdout, a file stream, or a test's collector. */
export interface LogDestination {
  write(chunk: string): unknown;
}

// Fields that are part of the line's prefix or pino's bookkeeping, not the event's data.
const prefixFields = new Set(['level', 'time', 'msg', 'name', 'module', 'pid', 'hostname']);

// Fabric prints the level's first four letters (%{level:.4s}).
const levelLabels: Record<string, string> = {
  trace: 'PAYL',
  debug: 'DEBU',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERRO',
  fatal: 'FATA',
};

function formatTime(iso: unknown): string {
  if (typeof iso !== 'string' || iso.length < 23) return String(iso ?? '');
  // 2024-05-01T10:00:00.123Z -> 2024-05-01 10:00:00.123 UTC
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)} UTC`;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return JSON.stringify(value);
}

export class ConsoleFormatter implements LogDestination {
  private sequence = 0;

  constructor(private readonly destination: LogDestination) {}

  write(chunk: string): void {
    // pino writes one JSON object per line.
    for (const line of chunk.split('\n')) {
      if (line) this.destination.write(this.format(line));
    }
  }

  format(jsonLine: string): string {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(jsonLine) as Record<string, unknown>;
    } catch {
      return `${jsonLine}\n`;
    }
    this.sequence = (this.sequence + 1) % 0x10000;
    const level = levelLabels[String(event.level)] ?? String(event.level).toUpperCase().slice(0, 4);
    const logger = String(event.module ?? event.name ?? '');
    let text = `${formatTime(event.time)} ${this.sequence.toString(16).padStart(4, '0')} ${level} [${logger}] ${String(event.msg ?? '')}`;
    let stack = '';
    for (const [key, value] of Object.entries(event)) {
      if (prefixFields.has(key) || value === undefined) continue;
      if (key === 'err' && value && typeof value === 'object') {
        // pino's error serializer: { type, message, stack }.
        const err = value as { message?: unknown; stack?: unknown };
        text += ` err=${formatValue(err.message ?? value)}`;
        if (typeof err.stack === 'string') stack = `\n${err.stack.replace(/^/gm, '\t')}`;
        continue;
      }
      text += ` ${key}=${formatValue(value)}`;
    }
    return `${text}${stack}\n`;
  }
}
