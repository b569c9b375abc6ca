/**
 * The query pipeline: a chain of small handlers, each owning some names and handing the rest on.
 * The order is data (CHAIN_ORDER); the route of the name was decided once before the chain runs.
 */
import type { AnswerCache } from './cache.js';
import type { DispatcherMetrics } from './metrics.js';
import type { Forwarder, Transport } from './forwarder.js';
import type { Route } from './routes.js';
import type { LocalZones } from './zones.js';
import type { Query } from './wire.js';

export interface QueryContext {
  raw: Buffer;
  q: Query;
  transport: Transport;
  route: Route;
  /** Largest answer the client accepts. */
  limit: number;
}

export type Answer = Buffer | Promise<Buffer>;
export type Next = (ctx: QueryContext) => Answer;

export interface DnsHandler {
  readonly name: string;
  handle(ctx: QueryContext, next: Next): Answer;
}

export const CHAIN_ORDER = ['local', 'cache', 'forward'] as const;
export type HandlerName = (typeof CHAIN_ORDER)[number];

/** Compose handlers in order; the end of the chain answers SERVFAIL (nobody owned the name). */
export function compose(handlers: DnsHandler[], end: Next): Next {
  return handlers.reduceRight<Next>((next, h) => (ctx) => h.handle(ctx, next), end);
}

export function localHandler(zones: LocalZones): DnsHandler {
  return {
    name: 'local',
    handle: (ctx, next) => (ctx.route.kind === 'local' ? zones.answer(ctx.raw, ctx.q, ctx.limit) : next(ctx)),
  };
}

export function cacheHandler(cache: AnswerCache | undefined, metrics: DispatcherMetrics, keyOf: (ctx: QueryContext) => string): DnsHandler {
  return {
    name: 'cache',
    handle(ctx, next) {
      if (!cache || ctx.route.kind !== 'forward' || !ctx.route.cacheable) return next(ctx);
      const key = keyOf(ctx);
      const hit = cache.get(key, ctx.raw, ctx.q, ctx.limit);
      if (hit) {
        metrics.cacheHits.inc();
        return hit;
      }
      metrics.cacheMisses.inc();
      return Promise.resolve(next(ctx)).then((answer) => {
        cache.put(key, answer);
        return answer;
      });
    },
  };
}

export function forwardHandler(forwarder: Forwarder): DnsHandler {
  return {
    name: 'forward',
    handle: (ctx, next) =>
      ctx.route.kind === 'forward' ? forwarder.forward(ctx.raw, ctx.q, ctx.route.resolvers, ctx.transport, ctx.route.zone) : next(ctx),
  };
}
