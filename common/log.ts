/**
 * One structured JSON line per event, on stderr, so stdout stays free for command output.
 * Level from SEXTANT_LOG_LEVEL (debug|info|warn|error, default info).
 */
import { isoTime } from './utc-time.js';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LogSink {
  write(line: string): void;
}

let sink: LogSink = { write: (line) => process.stderr.write(line) };

/** Tests may capture log lines. */
export function setLogSink(s: LogSink): void {
  sink = s;
}

function threshold(): number {
  const l = (process.env.SEXTANT_LOG_LEVEL ?? 'info') as Level;
  return order[l] ?? order.info;
}

/** Whether lines of this level are written (SEXTANT_LOG_LEVEL). */
export function levelEnabled(level: Level): boolean {
  return order[level] >= threshold();
}

function errorFields(v: unknown): unknown {
  return v instanceof Error ? { name: v.name, message: v.message } : v;
}

export function createLogger(component: string, base: LogFields = {}): Logger {
  const emit = (level: Level, event: string, fields?: LogFields) => {
    if (order[level] < threshold()) return;
    const rec: LogFields = { ts: isoTime(), level, component, event, ...base };
    if (fields) for (const [k, v] of Object.entries(fields)) rec[k] = errorFields(v);
    sink.write(JSON.stringify(rec) + '\n');
  };
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
    child: (f) => createLogger(component, { ...base, ...f }),
  };
}
