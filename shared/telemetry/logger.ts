// The one logger factory: pino, JSON lines on stdout, level from config.

import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'foreshock'): Logger {
  return pino({
    name,
    level,
    base: { pid: process.pid },
    redact: { paths: ['*.token', '*.secret', '*.password', '*.routingKey', 'headers.authorization'], censor: '***' },
  });
}

/** A logger that discards everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
