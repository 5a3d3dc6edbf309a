/**
 * One structured JSON logger per service (winston). Every line carries the
 * service and instance; per-call children add callSid/streamSid so one call's
 * whole path can be pulled from the logs with a single filter.
 */
import winston from 'winston';
import { skipDisabledLevels } from './level-gate.js';

export type Logger = winston.Logger;
export type LogLevel = 'error' | 'warn' | 'info' | 'http' | 'verbose' | 'debug' | 'silly' | 'silent';

export interface LoggerOptions {
  service: string;
  instance: string;
  level?: LogLevel;
}

export function createLogger({ service, instance, level = 'info' }: LoggerOptions): Logger {
  const logger = winston.createLogger({
    level: level === 'silent' ? 'error' : level,
    silent: level === 'silent',
    defaultMeta: { service, instance },
    format: winston.format.combine(
      winston.format.errors({ stack: true }),
      winston.format.timestamp(),
      winston.format.json(),
    ),
    transports: [new winston.transports.Console()],
  });
  skipDisabledLevels(logger);
  return logger;
}

/** The per-call child logger: call ids as fields, never in the message text. */
export function callLogger(logger: Logger, ids: { callSid: string; streamSid?: string }): Logger {
  return logger.child(ids);
}

/** Error details for a log field without throwing away the stack. */
export function errorFields(err: unknown): { error: string; stack?: string; code?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { error: err.message, stack: err.stack, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { error: String(err) };
}
