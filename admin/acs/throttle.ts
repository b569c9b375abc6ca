/**
 * Slows down repeated failed logins per (address, uid): after n failures in a row the next attempt
 * waits base * 2^(n-1) (capped at max) before it is even looked at, and attempts made meanwhile
 * queue behind it, so guessing in parallel gains nothing. A wait longer than `maxWaitMs` is refused
 * at once (429 with Retry-After) rather than holding a socket. A success clears the entry; entries
 * idle for `forgetAfterMs` are forgotten, and the map never holds more than `maxEntries` (the
 * oldest go first).
 */
import { systemClock, type Clock } from '../../common/index.js';

export interface ThrottleOptions {
  clock?: Clock;
  baseMs?: number;
  maxMs?: number;
  maxWaitMs?: number;
  forgetAfterMs?: number;
  maxEntries?: number;
}

interface Entry {
  failures: number;
  /** When the next attempt may be looked at. */
  nextAt: number;
  last: number;
}

export type Admission = { ok: true } | { ok: false; retryAfterMs: number };

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly clock: Clock;
  private readonly o: Required<Omit<ThrottleOptions, 'clock'>>;

  constructor(opts: ThrottleOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.o = { baseMs: opts.baseMs ?? 200, maxMs: opts.maxMs ?? 10_000, maxWaitMs: opts.maxWaitMs ?? 30_000, forgetAfterMs: opts.forgetAfterMs ?? 15 * 60_000, maxEntries: opts.maxEntries ?? 10_000 };
  }

  private delay(failures: number): number {
    return failures <= 0 ? 0 : Math.min(this.o.maxMs, this.o.baseMs * 2 ** Math.min(failures - 1, 30));
  }

  private live(key: string, now: number): Entry | undefined {
    const e = this.entries.get(key);
    if (e && now - e.last > this.o.forgetAfterMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  /** Waits this attempt's turn; resolves `{ok: false}` at once when the turn is too far away. */
  async admit(key: string): Promise<Admission> {
    const now = this.clock.now();
    const e = this.live(key, now);
    if (!e) return { ok: true };
    const at = Math.max(now, e.nextAt);
    if (at - now > this.o.maxWaitMs) return { ok: false, retryAfterMs: at - now };
    e.nextAt = at + this.delay(e.failures);
    e.last = now;
    if (at > now) await new Promise<void>((resolve) => this.clock.setTimeout(resolve, at - now));
    return { ok: true };
  }

  failed(key: string): void {
    const now = this.clock.now();
    const e = this.live(key, now) ?? { failures: 0, nextAt: now, last: now };
    e.failures++;
    e.nextAt = Math.max(e.nextAt, now + this.delay(e.failures));
    e.last = now;
    this.entries.delete(key);
    this.entries.set(key, e); // most recent last
    while (this.entries.size > this.o.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  succeeded(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
