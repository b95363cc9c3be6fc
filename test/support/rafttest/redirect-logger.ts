// etcd raft v3.5.9 rafttest/interaction_env_logger.go: a RaftLogger that writes "LEVEL message"
// lines into the interaction environment's output buffer, dropping lines below its level, so a
// script's expected output holds raft's own log lines next to the harness's descriptions.
import type { RaftLogger } from '../../../src/consensus/etcdraft/raft/logger.js';

export const LEVEL_NAMES = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL', 'NONE'] as const;

// The NONE level: silences raft and the harness alike (errors are still reported).
export const LEVEL_NONE = LEVEL_NAMES.length - 1;

export class RedirectLogger implements RaftLogger {
  // 0 = DEBUG, 1 = INFO, 2 = WARN, 3 = ERROR, 4 = FATAL, 5 = NONE.
  level = 0;
  // The buffer being written; the environment swaps it out to indent nested output.
  buffer = '';

  write(text: string): void {
    this.buffer += text;
  }

  reset(): void {
    this.buffer = '';
  }

  debug(message: string): void {
    this.print(0, message);
  }

  info(message: string): void {
    this.print(1, message);
  }

  warn(message: string): void {
    this.print(2, message);
  }

  error(message: string): void {
    this.print(3, message);
  }

  // Go's printf variant: a newline is added unless the message already ends with one.
  private print(level: number, message: string): void {
    if (this.level > level) return;
    this.buffer += `${LEVEL_NAMES[level] as string} ${message}`;
    if (message.length > 0 && !message.endsWith('\n')) this.buffer += '\n';
  }
}
