// Logging through pino. No global logger: the composition root makes one and hands children
// ({ module, channel }) to each component.
import { pino } from 'pino';

export type Logger = pino.Logger;

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
