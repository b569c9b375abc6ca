/**
 * The entry point as N worker processes (node:cluster) sharing one port, for a node whose one Node
 * thread cannot keep up (docs/benchmarks/admin.md): `SEXTANT_ENTRY_WORKERS=N`. The primary (the
 * master process) keeps the one AuthGate (the Authority, its cache and the failure throttle),
 * writes the workers' log lines (the audit log) to its own log, and adds their metrics to its
 * registry; each worker (worker-main.ts) runs the same EntryServer. A worker that dies is forked
 * again (at most 10 times a minute). Same start/stop/port as EntryServer.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { systemClock, type Clock } from '../../common/clock.js';
import { ConfigError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { Registry } from '../../common/metrics.js';
import type { Authority } from '../../contracts/auth.js';
import type { TlsMaterial } from '../../common/tls-files.js';
import { AuthGate } from './auth-gate.js';
import { DEFAULT_ENTRY_LIMITS, type EntryLimits } from './config.js';
import { createEntryMetrics } from './metrics.js';
import { WORKER_ENV, type EntryWorkerConfig, type ToPrimary, type ToWorker } from './worker-ipc.js';

export interface EntryWorkersOptions {
  workers: number;
  host: string;
  port: number;
  cert: string | Buffer;
  key: string | Buffer;
  /** Where the workers' MasterUpstreams ask for the leader and find Marathon and Mesos-DNS. */
  upstream: EntryWorkerConfig['upstream'];
  authority: () => Authority | undefined;
  registry: Registry;
  log: Logger;
  limits?: Partial<EntryLimits>;
  clock?: Clock;
  /** The master's mutual-TLS material: the workers call the upstreams with this client certificate. */
  upstreamTls?: TlsMaterial;
}

const here = fileURLToPath(import.meta.url);
const WORKER_MAIN = here.replace(/workers\.(ts|js)$/, (_m, ext: string) => `worker-main.${ext}`);
const STOP_GRACE_MS = 5000;

export class EntryWorkers {
  readonly limits: EntryLimits;
  private readonly gate: AuthGate;
  private readonly metrics: ReturnType<typeof createEntryMetrics>;
  private readonly workers = new Set<Worker>();
  private readonly flushes = new Map<number, { left: number; done: () => void }>();
  private nextFlush = 1;
  private listenPort = 0;
  private stopping = false;
  private restarts: number[] = [];

  constructor(private readonly o: EntryWorkersOptions) {
    if (!Number.isInteger(o.workers) || o.workers < 1 || o.workers > 64) throw new ConfigError('SEXTANT_ENTRY_WORKERS', `${o.workers} is not an integer from 1 to 64`);
    this.limits = { ...DEFAULT_ENTRY_LIMITS, ...o.limits };
    this.gate = new AuthGate(o.authority, { clock: o.clock ?? systemClock, cacheMs: this.limits.tokenCacheMs, cacheSize: this.limits.tokenCacheSize, throttleFailures: this.limits.throttleFailures, throttleWindowMs: this.limits.throttleWindowMs });
    this.metrics = createEntryMetrics(o.registry);
  }

  get port(): number {
    return this.listenPort || this.o.port;
  }

  /** The worker processes' ids. */
  get pids(): number[] {
    return [...this.workers].map((w) => w.process.pid!).filter(Boolean);
  }

  /** How many worker processes run now. */
  get running(): number {
    return this.workers.size;
  }

  async start(): Promise<void> {
    cluster.setupPrimary({ exec: WORKER_MAIN, args: [], execArgv: process.execArgv, silent: false });
    const config: EntryWorkerConfig = { host: this.o.host, port: this.o.port, cert: String(this.o.cert), key: String(this.o.key), limits: this.limits, upstream: this.o.upstream, ...(this.o.upstreamTls ? { upstreamTls: { ca: String(this.o.upstreamTls.ca), cert: String(this.o.upstreamTls.cert), key: String(this.o.upstreamTls.key) } } : {}) };
    const env = { [WORKER_ENV]: JSON.stringify(config) };
    // Every worker listens with the same arguments, so the cluster hands them one shared listener
    // (port 0 included: one port picked once). The first one up tells the port.
    this.listenPort = await this.fork(env);
    try {
      await Promise.all(Array.from({ length: this.o.workers - 1 }, () => this.fork(env)));
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.o.log.info('entry_workers', { workers: this.workers.size, address: this.o.host, port: this.listenPort });
  }

  private fork(env: Record<string, string>): Promise<number> {
    return new Promise((resolve, reject) => {
      const w = cluster.fork(env);
      this.workers.add(w);
      let ready = false;
      w.on('message', (m: ToPrimary) => {
        if (!m || typeof m !== 'object' || !('sx' in m)) return;
        if (m.sx === 'ready') (ready = true), resolve(m.port);
        else if (m.sx === 'failed') reject(new Error(`entry worker could not start: ${m.message}`));
        else void this.onMessage(w, m);
      });
      w.once('exit', (code, signal) => {
        this.workers.delete(w);
        if (!ready) return reject(new Error(`entry worker exited (${signal ?? code}) before listening`));
        if (this.stopping) return;
        this.o.log.error('entry_worker_exited', { pid: w.process.pid, code, signal, why: 'forking a new one' });
        const now = Date.now();
        this.restarts = this.restarts.filter((t) => now - t < 60_000);
        if (this.restarts.length >= 10) return this.o.log.error('entry_worker_restarts_exhausted', { why: '10 worker restarts within a minute: not forking again' });
        this.restarts.push(now);
        this.fork(env).catch((e) => this.o.log.error('entry_worker_fork_failed', { err: e }));
      });
    });
  }

  private async onMessage(w: Worker, m: ToPrimary): Promise<void> {
    const reply = (r: ToWorker) => w.isConnected() && w.send(r);
    switch (m.sx) {
      case 'authn':
        return void reply({ sx: 'authn', id: m.id, r: await this.gate.authenticate(m.headers, m.address) });
      case 'authz':
        return void reply({ sx: 'authz', id: m.id, ok: await this.gate.authorize(m.identity, m.permission) });
      case 'log':
        return this.o.log[m.level](m.event, m.fields);
      case 'metrics': {
        const b = m.batch;
        for (const [route, code, n] of b.requests) this.metrics.requests.inc({ route, code }, n);
        for (const [reason, n] of b.refusals) this.metrics.refusals.inc({ reason }, n);
        for (let i = 0; i < b.upstream.length; i += 2) this.metrics.upstreamSeconds.observe({ route: String(b.upstream[i]) }, Number(b.upstream[i + 1]));
        if (m.flushed !== undefined) {
          const f = this.flushes.get(m.flushed);
          if (f && --f.left === 0) (this.flushes.delete(m.flushed), f.done());
        }
        return;
      }
      default:
        return;
    }
  }

  /** Resolves once every worker has sent the metrics it holds (tests and scrapes that must see every request). */
  flushMetrics(): Promise<void> {
    const live = [...this.workers].filter((w) => w.isConnected());
    if (!live.length) return Promise.resolve();
    const id = this.nextFlush++;
    return new Promise((done) => {
      this.flushes.set(id, { left: live.length, done });
      for (const w of live) w.send({ sx: 'flush', id } satisfies ToWorker);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const all = [...this.workers];
    await Promise.all(
      all.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            const kill = setTimeout(() => w.process.kill('SIGKILL'), STOP_GRACE_MS);
            w.once('exit', () => (clearTimeout(kill), resolve()));
            if (w.isConnected()) w.send({ sx: 'stop' } satisfies ToWorker);
            else w.process.kill('SIGTERM');
          }),
      ),
    );
  }
}
