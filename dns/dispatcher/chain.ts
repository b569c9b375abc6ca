/**
 * The query pipeline: a chain of small handlers, each owning some names and handing the rest on.
 * The order is data (CHAIN_ORDER); the route of the name was decided once before the chain runs.
 */
import { AnswerCache } from './cache.js';
import { StaleStore } from './stale.js';
import type { DispatcherMetrics } from './metrics.js';
import type { Forwarder, Transport } from './forwarder.js';
import type { Route } from './routes.js';
import type { LocalZones } from './zones.js';
import type { Logger } from '../../common/log.js';
import type { Clock } from '../../common/clock.js';
import { Rcode, type Query } from './wire.js';

export interface QueryContext {
  raw: Buffer;
  q: Query;
  transport: Transport;
  route: Route;
  /** Largest answer the client accepts. */
  limit: number;
  /** performance.now() when the query arrived: the one timestamp of the query (durations). */
  started: number;
  /** The cache key, when the fast path already built it from the raw query (and missed). */
  cacheKey?: string;
}

/** Receives the answer, once (undefined: drop). Called synchronously for local answers and cache hits. */
export type Done = (answer: Buffer | undefined) => void;
export type Next = (ctx: QueryContext, done: Done) => void;

export interface DnsHandler {
  readonly name: string;
  handle(ctx: QueryContext, next: Next, done: Done): void;
}

export const CHAIN_ORDER = ['local', 'cache', 'stale', 'forward'] as const;
export type HandlerName = (typeof CHAIN_ORDER)[number];

/** Compose handlers in order; the end of the chain answers SERVFAIL (nobody owned the name). */
export function compose(handlers: DnsHandler[], end: Next): Next {
  return handlers.reduceRight<Next>((next, h) => (ctx, done) => h.handle(ctx, next, done), end);
}

export function localHandler(zones: LocalZones): DnsHandler {
  return {
    name: 'local',
    handle: (ctx, next, done) => (ctx.route.kind === 'local' ? done(zones.answer(ctx.raw, ctx.q, ctx.limit)) : next(ctx, done)),
  };
}

export function cacheHandler(cache: AnswerCache | undefined, metrics: DispatcherMetrics): DnsHandler {
  return {
    name: 'cache',
    handle(ctx, next, done) {
      const route = ctx.route;
      if (!cache || route.kind !== 'forward' || !route.cacheable) return next(ctx, done);
      const key = ctx.cacheKey ?? AnswerCache.key(ctx.raw, ctx.q, ctx.transport);
      if (key === undefined) return next(ctx, done);
      const hit = cache.get(key, ctx.raw, ctx.q.questionEnd, ctx.limit);
      if (hit) {
        metrics.cacheHits.inc();
        return done(hit);
      }
      metrics.cacheMisses.inc();
      next(ctx, (answer) => {
        if (answer) cache.put(key, answer, route.zone);
        done(answer);
      });
    },
  };
}

/**
 * Serve-stale for the routes that have it (`.mesos`): a good upstream answer is kept; a failed one
 * (every upstream failed: SERVFAIL, REFUSED) is replaced by the kept answer when there is one. In the
 * recheck window after a failure (or a client response timer that fired) a kept answer goes out at
 * once, and the query goes upstream only when no other is, or the last has been up longer than the
 * client response timer (to refresh the store and notice recovery), outside the client's answer.
 */
export function staleHandler(stale: StaleStore | undefined, metrics: DispatcherMetrics, log?: Logger, clock?: Clock): DnsHandler {
  return {
    name: 'stale',
    handle(ctx, next, done) {
      const route = ctx.route;
      if (!stale || route.kind !== 'forward' || !route.serveStale) return next(ctx, done);
      const ck = ctx.cacheKey ?? AnswerCache.key(ctx.raw, ctx.q, ctx.transport);
      if (ck === undefined) return next(ctx, done);
      const key = StaleStore.key(ck, ctx.transport === 'tcp');
      const kept = stale.recheckPending() ? stale.serve(key, ctx.raw, ctx.q.questionEnd, ctx.limit) : undefined;
      if (kept) {
        metrics.staleAnswers.inc({ why: 'recheck' });
        done(kept);
        if (!stale.startProbe()) return;
        try {
          return next(ctx, (answer) => {
            stale.probeBack();
            if (!answer || !stale.answered(key, answer)) stale.failed();
          });
        } catch (err) {
          stale.probeBack(); // it never went upstream: the next query of the window probes
          throw err;
        }
      }
      // RFC 8767's client response timer: with an answer kept, a slow upstream (a master just
      // killed whose ICMP refusals the kernel rate-limits is silent) does not keep the client
      // waiting past its own retry; the query goes on and its answer refreshes the store. The timer
      // runs from when the question first went upstream unanswered (a stub's retry is a new query),
      // and once it fires the recheck window starts: the next queries for kept names are answered
      // at once while one at a time goes on upstream.
      let late = false;
      let timer: unknown;
      const timed = clock !== undefined && stale.clientTimeoutMs > 0 && stale.has(key);
      if (timed) {
        const since = stale.wait(key);
        const serveLate = (): void => {
          timer = undefined;
          const old = stale.serve(key, ctx.raw, ctx.q.questionEnd, ctx.limit);
          if (!old) return;
          late = true;
          stale.failed();
          metrics.staleAnswers.inc({ why: 'slow_upstream' });
          log?.info('mesos_upstream_slow_stale_answer', { name: ctx.q.qname, qtype: ctx.q.qtype, waited_ms: clock.now() - since, resolvers: route.resolvers.map((e) => e.label) });
          done(old);
        };
        const wait = since + stale.clientTimeoutMs - clock.now();
        if (wait > 0) timer = clock.setTimeout(serveLate, wait);
        else serveLate();
      }
      let upstream = timed;
      /** This query is no longer upstream (back, or it never went): once. */
      const release = (): void => {
        if (!upstream) return;
        upstream = false;
        stale.back(key);
        if (timer !== undefined) clock!.clearTimeout(timer);
      };
      const settle: Done = (answer) => {
        release();
        // A name that had records and now has none: an app removed, or a Mesos-DNS answering from a
        // state without it (worth a line when a lookup fails after a failover).
        if (answer && answer.length >= 12 && (answer[3]! & 0xf) === Rcode.NXDOMAIN && stale.keptRcode(key) === Rcode.NOERROR) log?.info('mesos_name_gone', { name: ctx.q.qname, qtype: ctx.q.qtype, resolvers: route.resolvers.map((e) => e.label) });
        if (late) {
          if (!answer || !stale.answered(key, answer)) stale.failed();
          return;
        }
        if (answer && stale.answered(key, answer)) return done(answer);
        stale.failed();
        const old = stale.serve(key, ctx.raw, ctx.q.questionEnd, ctx.limit);
        if (!old) {
          // Every Mesos-DNS upstream failed and nothing is kept for this question: the client gets the failure.
          log?.warn('mesos_failed_no_stale_answer', { name: ctx.q.qname, qtype: ctx.q.qtype, rcode: answer ? answer[3]! & 0xf : 'none', resolvers: route.resolvers.map((e) => e.label), kept: stale.size });
          return done(answer);
        }
        metrics.staleAnswers.inc({ why: 'upstream_failed' });
        done(old);
      };
      if (!timed) return next(ctx, settle);
      try {
        next(ctx, settle);
      } catch (err) {
        release(); // it never went upstream: it must not stay counted as waiting there
        throw err;
      }
    },
  };
}

export function forwardHandler(forwarder: Forwarder): DnsHandler {
  return {
    name: 'forward',
    handle: (ctx, next, done) =>
      ctx.route.kind === 'forward' ? forwarder.forward(ctx.raw, ctx.q, ctx.route.resolvers, ctx.transport, ctx.route.zone, ctx.started, done, ctx.route.leaderFirst) : next(ctx, done),
  };
}
