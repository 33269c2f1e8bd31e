/**
 * Structured, levelled logging to stderr. One line per event, either JSON (for log pipelines) or
 * `key=value` text (for people). Fields carry the facts an operator needs: resource, device, path, error.
 */

import { LOG_FORMATS, LOG_LEVELS } from '../catalogue/common';

export { LOG_LEVELS } from '../catalogue/common';
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];
export type LogFields = Record<string, unknown>;

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (e.g. `{ resource }`). */
  with(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go; stderr by default (stdout stays free for command output). */
  write?: (line: string) => void;
}

export function createLogger(options: LoggerOptions = {}, base: LogFields = {}): Logger {
  const threshold = LEVEL_ORDER[options.level ?? 'info'];
  const format = options.format ?? 'json';
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));

  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (LEVEL_ORDER[level] < threshold) return;
    const record = { time: new Date().toISOString(), level, msg, ...base, ...normalise(fields) };
    write(format === 'json' ? JSON.stringify(record) : toText(record));
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    with: (fields) => createLogger(options, { ...base, ...fields }),
  };
}

/** A logger that drops everything: for tests and benchmarks that do not read logs. */
export const silentLogger: Logger = createLogger({ write: () => undefined, level: 'error' });

/** Errors become their message (and code) so JSON lines stay readable; undefined fields are dropped. */
function normalise(fields?: LogFields): LogFields {
  if (!fields) return {};
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue; // an absent fact is left out, not printed as "undefined"
    if (value instanceof Error) {
      const code = (value as NodeJS.ErrnoException).code;
      out[key] = code ? `${value.message} (${code})` : value.message;
    } else {
      out[key] = value;
    }
  }
  return out;
}

function toText(record: LogFields): string {
  const { time, level, msg, ...rest } = record;
  const pairs = Object.entries(rest).map(([k, v]) => `${k}=${quote(v)}`);
  return [time, String(level).toUpperCase().padEnd(5), msg, ...pairs].join(' ');
}

function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /[\s"=]/.test(text) ? JSON.stringify(text) : text;
}
