/** Structured logs (JSON lines on stderr), one child logger per component. */
import { pino, destination as pinoDestination, stdTimeFunctions, type Logger as PinoLogger, type LevelWithSilent } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = LevelWithSilent;
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function createLogger(level: LogLevel = 'info', destination: NodeJS.WritableStream | number = 2): Logger {
  const dest = typeof destination === 'number' ? pinoDestination({ fd: destination, sync: true }) : destination;
  return pino(
    {
      level,
      base: { service: 'netspan' },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
}

/** A logger that writes nothing, for tests and for library use without a host. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
