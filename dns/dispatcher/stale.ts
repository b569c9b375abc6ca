/**
 * Serve-stale for `.mesos` (RFC 8767): the last good answer Mesos-DNS gave for each question is
 * kept (NOERROR or NXDOMAIN, not truncated; up to `max_entries`, the least recently stored goes
 * first) and served when every Mesos-DNS upstream fails, if it is at most `max_age` old, with every
 * TTL set to `ttl`. After such a failure, for `recheck` ms a name with a stale answer gets it at
 * once (RFC 8767's failure recheck timer) while one query at a time still goes upstream (another
 * once it has been up longer than the client response timer), so the masters coming back are
 * noticed by the first answer they give. The client response timer
 * (chain.ts) counts from the first query of a question still waiting upstream (`wait`/`back`).
 *
 * Cost on the normal path: storing a good answer is one clock read, one map insert and one map
 * lookup (the reply buffer is kept as it is, never written to); a query with an answer kept adds
 * the waiting count (a map lookup going up, one coming back).
 */
import type { Clock } from '../../common/clock.js';
import { walkRecords } from './cache.js';
import type { ServeStaleConfig } from './config.js';
import { Flag, Rcode, truncateMessage } from './wire.js';

interface Kept {
  msg: Buffer;
  at: number;
}

/** Queries for one question waiting on the upstreams. */
interface Waiting {
  /** Clock time since which the question has waited with no good answer: the client response timer runs from it. */
  since: number;
  n: number;
}

export class StaleStore {
  private readonly entries = new Map<string, Kept>();
  /** Clock time of the last query every upstream failed; undefined once one answered again. */
  private failedAt: number | undefined;
  /** Told when the recheck window opens (a failure), and when a good answer closes it or it runs out. */
  onWindow: ((open: boolean, why: 'failure' | 'answer' | 'expired') => void) | undefined;
  /** Clock time the last query of the recheck window went upstream (undefined: none is up). */
  private probeAt: number | undefined;
  /** Per question with an answer kept: its queries now upstream (a client's retry finds its first try here). */
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    private readonly clock: Clock,
    private readonly cfg: ServeStaleConfig,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The store's key for a cache key: UDP and TCP share answers (a long one is cut for UDP when served). */
  static key(cacheKey: string, tcp: boolean): string {
    if (!tcp) return cacheKey;
    const bits = cacheKey.charCodeAt(cacheKey.length - 1);
    return cacheKey.slice(0, -1) + String.fromCharCode(bits & ~1);
  }

  /** An upstream answer: kept when it is a good one (true), else it is a failure (false). */
  answered(key: string, msg: Buffer): boolean {
    if (msg.length < 12) return false;
    const rcode = msg[3]! & 0xf;
    if (rcode === Rcode.SERVFAIL || rcode === Rcode.REFUSED) return false;
    if (this.failedAt !== undefined) {
      this.failedAt = undefined;
      this.onWindow?.(false, 'answer');
    }
    const w = this.waiting.get(key);
    if (w) w.since = this.clock.now();
    if ((rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN) || msg[2]! & (Flag.TC >> 8)) return true;
    this.entries.delete(key);
    this.entries.set(key, { msg, at: this.clock.now() });
    if (this.entries.size > this.cfg.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return true;
  }

  /** The rcode of the answer kept for `key` (undefined: none). */
  keptRcode(key: string): number | undefined {
    const e = this.entries.get(key);
    return e ? e.msg[3]! & 0xf : undefined;
  }

  /** An answer is kept for `key` (it may still be over max_age: serve() says). */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The client response timer (ms; 0: off). */
  get clientTimeoutMs(): number {
    return this.cfg.clientTimeoutMs;
  }

  /**
   * A query for `key` goes upstream: the clock time its client response timer runs from. That is
   * now, or earlier when queries for the question have been waiting since then with no good
   * answer: a stub's retry (a new query to the dispatcher) must not wait a whole timer again, the
   * stub gives up on its first try after about 1 s (Node's c-ares) and on all of them after 2.
   */
  wait(key: string): number {
    const w = this.waiting.get(key);
    if (w) {
      w.n++;
      return w.since;
    }
    const now = this.clock.now();
    this.waiting.set(key, { since: now, n: 1 });
    return now;
  }

  /** A query that went upstream (wait) is back, whatever the answer (answered() saw a good one). */
  back(key: string): void {
    const w = this.waiting.get(key);
    if (w && --w.n <= 0) this.waiting.delete(key);
  }

  /** Questions with queries upstream (tests). */
  get waitingSize(): number {
    return this.waiting.size;
  }

  /**
   * A query of the recheck window may go upstream (true: it does, call probeBack when it is back):
   * when none is, or the last one has been up longer than the client response timer (1 s when that
   * is off). One stuck on a silent upstream must not hold the window open until its timeout (5 s)
   * while the new leader's Mesos-DNS already answers.
   */
  startProbe(): boolean {
    const now = this.clock.now();
    if (this.probeAt !== undefined && now - this.probeAt < (this.cfg.clientTimeoutMs || 1000)) return false;
    this.probeAt = now;
    return true;
  }

  probeBack(): void {
    this.probeAt = undefined;
  }

  /** Every upstream failed for a query. */
  failed(): void {
    const now = this.clock.now();
    if (this.cfg.recheckMs > 0 && (this.failedAt === undefined || now - this.failedAt >= this.cfg.recheckMs)) this.onWindow?.(true, 'failure');
    this.failedAt = now;
  }

  /** Within the recheck window after a failure: known names are answered stale at once. */
  recheckPending(): boolean {
    if (this.failedAt === undefined) return false;
    if (this.clock.now() - this.failedAt < this.cfg.recheckMs) return true;
    this.failedAt = undefined;
    this.onWindow?.(false, 'expired');
    return false;
  }

  /**
   * The kept answer for `key` as an answer to `query` (its ID and question spelling, every TTL
   * `ttl`, cut to `limit` with TC), or undefined when there is none or it is over `max_age`.
   */
  serve(key: string, query: Buffer, questionEnd: number, limit: number): Buffer | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (this.clock.now() - e.at > this.cfg.maxAge * 1000) {
      this.entries.delete(key);
      return undefined;
    }
    const w = walkRecords(e.msg);
    if (!w) return undefined;
    const out = Buffer.from(e.msg);
    out[0] = query[0]!;
    out[1] = query[1]!;
    query.copy(out, 12, 12, questionEnd);
    for (const off of w.ttlOffsets) out.writeUInt32BE(this.cfg.ttl, off);
    return out.length > limit ? truncateMessage(out, limit, true) : out;
  }
}
