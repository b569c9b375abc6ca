/**
 * One entry point worker process (forked by workers.ts through node:cluster): the same EntryServer
 * as in the master, listening on the shared port, with its credential checks, log lines and metrics
 * going to the primary over IPC. Verified credentials and authorize answers are cached here as in
 * the AuthGate (by SHA-256, for the cache time), so IPC is only for what this worker has not seen.
 */
import { systemClock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import { createRegistry } from '../../common/metrics.js';
import type { Identity, Permission } from '../../contracts/auth.js';
import { credentialKey, credentialOf, TtlCache, type Gate, type GateResult } from './auth-gate.js';
import type { EntryMetrics } from './metrics.js';
import { EntryServer } from './server.js';
import { MasterUpstreams } from './upstreams.js';
import { plainFields, WORKER_ENV, type EntryWorkerConfig, type MetricsBatch, type ToPrimary, type ToWorker } from './worker-ipc.js';

const send = (m: ToPrimary) => process.send?.(m);
const cfg = JSON.parse(process.env[WORKER_ENV] ?? 'null') as EntryWorkerConfig | null;
if (!cfg || !process.send) {
  process.stderr.write(`entry worker: no configuration in $${WORKER_ENV} or no IPC channel; this file is started by the entry point (admin/router/workers.ts)\n`);
  process.exit(2);
}

let nextId = 1;
const pending = new Map<number, (m: ToWorker) => void>();
const ask = <T extends ToWorker>(m: ToPrimary & { id: number }) => new Promise<T>((resolve) => (pending.set(m.id, resolve as (m: ToWorker) => void), send(m)));

class RemoteGate implements Gate {
  private readonly tokens = new TtlCache<Identity>(cfg!.limits.tokenCacheSize);
  private readonly grants = new TtlCache<boolean>(cfg!.limits.tokenCacheSize);

  async authenticate(headers: Record<string, string | string[] | undefined>, address: string): Promise<GateResult> {
    const now = systemClock.now();
    const key = credentialKey(credentialOf(headers));
    const hit = key ? this.tokens.get(key, now) : undefined;
    if (hit) return { ok: true, identity: hit };
    const h: { authorization?: string | string[]; cookie?: string | string[] } = {};
    if (headers.authorization !== undefined) h.authorization = headers.authorization;
    if (headers.cookie !== undefined) h.cookie = headers.cookie;
    const { r } = await ask<Extract<ToWorker, { sx: 'authn' }>>({ sx: 'authn', id: nextId++, headers: h, address });
    if (r.ok && key) this.tokens.set(key, r.identity, now + cfg!.limits.tokenCacheMs);
    return r;
  }

  async authorize(identity: Identity, p: Permission): Promise<boolean> {
    if (identity.superuser) return true;
    const now = systemClock.now();
    const key = `${identity.kind}\0${identity.uid}\0${p.resource}\0${p.action}`;
    const hit = this.grants.get(key, now);
    if (hit !== undefined) return hit;
    const { ok } = await ask<Extract<ToWorker, { sx: 'authz' }>>({ sx: 'authz', id: nextId++, identity, permission: p });
    this.grants.set(key, ok, now + cfg!.limits.tokenCacheMs);
    return ok;
  }

  get cached(): number {
    return this.tokens.count;
  }
}

/** Metrics kept as counts and sent in a batch every second (and when the primary asks). */
class Relay implements EntryMetrics {
  private req = new Map<string, number>();
  private ref = new Map<string, number>();
  private up: (string | number)[] = [];
  requests = { inc: (l: { route: string; code: string }, n = 1) => void this.req.set(`${l.route}\0${l.code}`, (this.req.get(`${l.route}\0${l.code}`) ?? 0) + n) };
  refusals = { inc: (l: { reason: string }) => void this.ref.set(l.reason, (this.ref.get(l.reason) ?? 0) + 1) };
  upstreamSeconds = { observe: (l: { route: string }, s: number) => void this.up.push(l.route, s) };

  flush(flushed?: number, sent?: () => void): void {
    if (!this.req.size && !this.ref.size && !this.up.length && flushed === undefined && !sent) return;
    const batch: MetricsBatch = {
      requests: [...this.req].map(([k, n]) => [...(k.split('\0') as [string, string]), n]),
      refusals: [...this.ref],
      upstream: this.up,
    };
    this.req = new Map();
    this.ref = new Map();
    this.up = [];
    process.send!({ sx: 'metrics', batch, ...(flushed !== undefined ? { flushed } : {}) } satisfies ToPrimary, undefined, {}, sent);
  }
}

const log: Logger = {
  debug: (event, fields) => send({ sx: 'log', level: 'debug', event, fields: plainFields(fields) }),
  info: (event, fields) => send({ sx: 'log', level: 'info', event, fields: plainFields(fields) }),
  warn: (event, fields) => send({ sx: 'log', level: 'warn', event, fields: plainFields(fields) }),
  error: (event, fields) => send({ sx: 'log', level: 'error', event, fields: plainFields(fields) }),
  child: () => log,
};

const relay = new Relay();
const timer = setInterval(() => relay.flush(), 1000);
timer.unref();
const upstreamTls = cfg.upstreamTls ? { ca: Buffer.from(cfg.upstreamTls.ca), cert: Buffer.from(cfg.upstreamTls.cert), key: Buffer.from(cfg.upstreamTls.key) } : undefined;
const upstreams = new MasterUpstreams({ ...cfg.upstream, clock: systemClock, ...(upstreamTls ? { tls: upstreamTls } : {}) });
const entry = new EntryServer({
  host: cfg.host, port: cfg.port, cert: cfg.cert, key: cfg.key, upstreams, limits: cfg.limits, ...(upstreamTls ? { upstreamTls } : {}),
  authority: () => undefined, registry: createRegistry(), log, gate: new RemoteGate(), metrics: relay,
});

process.on('message', (m: ToWorker) => {
  if (!m || typeof m !== 'object' || !('sx' in m)) return;
  if (m.sx === 'authn' || m.sx === 'authz') {
    const done = pending.get(m.id);
    pending.delete(m.id);
    done?.(m);
  } else if (m.sx === 'flush') relay.flush(m.id);
  else if (m.sx === 'stop') void entry.stop().finally(() => relay.flush(undefined, () => process.exit(0)));
});

try {
  await entry.start();
  send({ sx: 'ready', port: entry.port });
} catch (e) {
  send({ sx: 'failed', message: (e as Error).message });
  process.disconnect();
}
