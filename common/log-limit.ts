/**
 * Rate-limited logging for events a peer can trigger once per packet (a malformed query, a failed
 * send): a token bucket per kind (the event name), on an injected clock. Lines over the rate are
 * dropped and counted in `sextant_<component>_log_dropped_total{kind}`; the next line of that kind
 * that passes carries `suppressed: N`, so the log still says how many there were.
 */
import { systemClock, type Clock } from './clock.js';
import { levelEnabled, type Level, type LogFields, type Logger } from './log.js';
import { prom, type Registry } from './metrics.js';

export interface LogLimit {
  /** Lines per second per kind, sustained. */
  perSecond: number;
  /** Lines per kind allowed at once (the bucket size). */
  burst: number;
}

export const DEFAULT_LOG_LIMIT: LogLimit = { perSecond: 10, burst: 20 };

interface Bucket {
  tokens: number;
  at: number;
  suppressed: number;
}

/** Per-kind token buckets. `take` says whether one more line of a kind may be written now. */
export class LogLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly limit: LogLimit = DEFAULT_LOG_LIMIT,
    private readonly clock: Clock = systemClock,
  ) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new RangeError('log limit needs perSecond > 0 and burst >= 1');
  }

  /** -1: drop this line; otherwise write it, with the count of lines dropped since the last one. */
  take(kind: string): number {
    const now = this.clock.now();
    let b = this.buckets.get(kind);
    if (!b) this.buckets.set(kind, (b = { tokens: this.limit.burst, at: now, suppressed: 0 }));
    b.tokens = Math.min(this.limit.burst, b.tokens + ((now - b.at) * this.limit.perSecond) / 1000);
    b.at = now;
    if (b.tokens < 1) {
      b.suppressed++;
      return -1;
    }
    b.tokens -= 1;
    const n = b.suppressed;
    b.suppressed = 0;
    return n;
  }
}

/** The counter of dropped lines, `sextant_<component>_log_dropped_total{kind}`, on `registry`. */
export function logDroppedCounter(registry: Registry, component: string): prom.Counter<'kind'> {
  const name = `sextant_${component.replace(/-/g, '_')}_log_dropped_total`;
  const existing = registry.getSingleMetric(name) as prom.Counter<'kind'> | undefined;
  return (
    existing ??
    new prom.Counter({ name, help: 'Log lines dropped by the per-kind rate limit, by kind (event name)', labelNames: ['kind'], registers: [registry] })
  );
}

/** A Logger whose lines are limited per event name; `child` loggers share the buckets and the counter. */
export function limitedLogger(log: Logger, limiter: LogLimiter, dropped?: prom.Counter<'kind'>): Logger {
  // A line below the log level costs no token and is not counted as dropped: it was never to be written.
  const gate =
    (level: Level) =>
    (event: string, fields?: LogFields): void => {
      if (!levelEnabled(level)) return;
      const n = limiter.take(event);
      if (n < 0) return dropped?.inc({ kind: event });
      log[level](event, n > 0 ? { ...fields, suppressed: n } : fields);
    };
  return {
    debug: gate('debug'),
    info: gate('info'),
    warn: gate('warn'),
    error: gate('error'),
    child: (f) => limitedLogger(log.child(f), limiter, dropped),
  };
}
