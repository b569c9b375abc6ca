/**
 * The dispatcher component: parses each query once, refuses what is over handler_limit, routes the
 * name (longest suffix) and runs the handler chain. Construction does no I/O; start()/stop() do.
 */
import type { Component } from '../../common/daemon.js';
import { systemClock, type Clock } from '../../common/clock.js';
import { createLogger, type Logger } from '../../common/log.js';
import { LogLimiter, limitedLogger, logDroppedCounter } from '../../common/log-limit.js';
import { createRegistry, type Registry } from '../../common/metrics.js';
import type { Snapshot, SnapshotConsumer } from '../../contracts/index.js';
import { AnswerCache } from './cache.js';
import { cacheKey, peekUdpQuery, type Peek } from './cache-key.js';
import { cacheHandler, compose, forwardHandler, localHandler, staleHandler, CHAIN_ORDER, type DnsHandler, type Done, type HandlerName, type Next, type QueryContext } from './chain.js';
import { MESOS_DNS_PORT, type DispatcherConfig } from './config.js';
import { endpoint, type Endpoint } from './endpoint.js';
import { Forwarder, type Transport } from './forwarder.js';
import { UpstreamHealth } from './health.js';
import { ensureDummyInterface, type IpRunner } from './iface.js';
import { dispatcherMetrics, type DispatcherMetrics } from './metrics.js';
import { errorReply, formErr } from './replies.js';
import { ResolvConfManager } from './resolv.js';
import { RouteTable } from './routes.js';
import { StaleStore } from './stale.js';
import { StallWatch } from './stall-watch.js';
import { DnsServer, type BoundAddress, type SharedUdp } from './server.js';
import { UdpUpstreamClient } from './udp-client.js';
import { mergeWorkerMetrics } from './worker-metrics.js';
import { WorkerPool, toWire, type ZoneInput } from './workers.js';
import { zoneDelta } from './zone-delta.js';
import { MasterRecords } from './master-records.js';
import { Rcode, TCP_LIMIT, UDP_LIMIT, parseQuery, type Query } from './wire.js';
import { loadZoneFile } from './zone-file.js';
import { LocalZones } from './zones.js';

export interface DispatcherOptions {
  registry?: Registry;
  clock?: Clock;
  log?: Logger;
  /** Runs `ip` for the spartan interface (tests: inside their namespace). */
  ipRunner?: IpRunner;
}

export class Dispatcher implements Component {
  readonly name = 'dispatcher';
  readonly registry: Registry;
  readonly metrics: DispatcherMetrics;
  readonly zones: LocalZones;
  readonly routes: RouteTable;
  readonly cache?: AnswerCache;
  /** Mesos-DNS answers kept for serve-stale (undefined when `serve_stale.enabled` is false). */
  readonly stale?: StaleStore;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly udp: UdpUpstreamClient;
  private readonly stalls = new StallWatch((ms) => {
    this.metrics.stalls.inc();
    this.log.warn('event_loop_stalled', { ms, why: 'this process ran nothing meanwhile: queries waited (a CPU-starved machine, or a long synchronous task in the process)' });
  });
  private readonly chain: Next;
  private server?: DnsServer;
  private resolv?: ResolvConfManager;
  private bindIps: string[];
  private zoneRecords: ZoneInput[] = [];
  /** What the workers were sent (a copy: the caller's array may change) and its version; a delta goes from one version to the next. */
  private workerZones: ZoneInput[] = [];
  private zonesVersion = 0;
  private inflight = 0;
  /** In-flight queries allowed in this process: handler_limit shared among the worker processes. */
  private readonly limit: number;
  /** The `.mesos` resolvers in use: the listed ones plus the elected master's. */
  private mesos: Endpoint[];
  private mesosListed: Endpoint[];
  private mesosLeaderIp: string | undefined;
  /** The elected master's resolver (first in `mesos`), when one is followed. */
  private mesosLeader: Endpoint | undefined;
  private workers?: WorkerPool;
  /** Settles when every worker has acknowledged the latest zones and resolvers. */
  private workerSync: Promise<void> = Promise.resolve();
  /** Bound metric children: the hot path skips prom-client's label hashing. */
  private readonly requestsBy: Record<Transport, { inc(): void }>;
  private readonly durationBy = new Map<string, { observe(v: number): void }>();
  /** Scratch for the fast path (one query at a time: the event loop is single-threaded). */
  private readonly peek: Peek = { questionEnd: 0, bits: 0, limit: 0 };

  constructor(
    readonly config: DispatcherConfig,
    private readonly opts: DispatcherOptions = {},
  ) {
    this.registry = opts.registry ?? createRegistry();
    this.metrics = dispatcherMetrics(this.registry, {
      inflight: () => this.inflight,
      cacheEntries: () => this.cache?.size ?? 0,
      staleEntries: () => this.stale?.size ?? 0,
      workers: () => 1 + (this.workers?.live() ?? 0),
    });
    this.limit = Math.ceil(config.handlerLimit / config.workers);
    this.mesos = config.mesosResolvers;
    this.mesosListed = config.mesosResolvers;
    this.requestsBy = { udp: this.metrics.requests.cell({ transport: 'udp' }), tcp: this.metrics.requests.cell({ transport: 'tcp' }) };
    this.clock = opts.clock ?? systemClock;
    // Every line is limited per event: the ones a client can cause per packet cannot flood the log.
    this.log = limitedLogger(opts.log ?? createLogger('dispatcher'), new LogLimiter(config.logLimit, this.clock), logDroppedCounter(this.registry, 'dispatcher'));
    this.bindIps = config.bindIps;
    this.zones = new LocalZones(config.bindIps);
    this.routes = new RouteTable({ upstream: config.upstreamResolvers, mesos: config.mesosResolvers, forwardZones: config.forwardZones });
    if (config.cache.enabled) this.cache = new AnswerCache(this.clock, config.cache.maxEntries, config.cache.maxTtl);
    if (config.serveStale.enabled) {
      const stale = (this.stale = new StaleStore(this.clock, config.serveStale));
      // When kept answers start and stop going out at once (an operator's view of a failover).
      stale.onWindow = (open, why) => this.log.info(open ? 'mesos_stale_window_opened' : 'mesos_stale_window_closed', { why, kept: stale.size });
    }
    this.udp = new UdpUpstreamClient({ clock: this.clock, log: this.log, onDropped: (reason) => this.metrics.dropped.inc({ reason }) });
    const forwarder = new Forwarder({ udp: this.udp, health: new UpstreamHealth(this.clock), clock: this.clock, timeoutMs: config.timeoutMs, metrics: this.metrics, log: this.log });
    const handlers: Record<HandlerName, DnsHandler> = {
      local: localHandler(this.zones),
      cache: cacheHandler(this.cache, this.metrics),
      stale: staleHandler(this.stale, this.metrics, this.log, this.clock),
      forward: forwardHandler(forwarder),
    };
    this.chain = compose(
      CHAIN_ORDER.map((n) => handlers[n]),
      (ctx, done) => done(errorReply(ctx.raw, ctx.q, Rcode.SERVFAIL)),
    );
  }

  async start(): Promise<void> {
    this.stalls.start();
    if (this.config.createInterface) await this.ensureInterface();
    if (this.config.zoneFile) this.setZoneRecords(loadZoneFile(this.config.zoneFile));
    this.server = new DnsServer({
      bindIps: this.bindIps,
      udpPort: this.config.udpPort,
      tcpPort: this.config.tcpPort,
      tcpIdleTimeoutMs: this.config.tcpIdleTimeoutMs,
      handle: (msg, transport, done) => this.handle(msg, transport, done),
      log: this.log,
      onUdpDrop: this.udpDropped,
      onBadTcpFrame: () => this.metrics.malformed.inc({ transport: 'tcp' }),
    });
    await this.server.start();
    if (this.config.workers > 1) await this.startWorkers(this.server);
    this.log.info('dispatcher_listening', { addresses: this.addresses().map((a) => `${a.transport}:${a.host}:${a.port}`) });
    if (this.config.resolvConf) {
      this.resolv = new ResolvConfManager({
        ...this.config.resolvConf,
        bindIps: this.bindIps,
        port: this.config.udpPort,
        fallback: this.config.upstreamResolvers.map((e) => e.host),
        clock: this.clock,
        log: this.log,
      });
      this.resolv.start();
    }
  }

  /** A worker process's start (see workers.ts): serve UDP on the parent's sockets, no listeners of its own. */
  serve(sockets: SharedUdp[]): void {
    this.stalls.start();
    this.server = new DnsServer({ bindIps: [], udpPort: 0, tcpPort: 0, tcpIdleTimeoutMs: 0, handle: (msg, transport, done) => this.handle(msg, transport, done), log: this.log, onUdpDrop: this.udpDropped });
    this.server.adoptUdp(sockets);
  }

  /** The worker processes (undefined with `workers: 1`): their pids, readiness. */
  workerPool(): WorkerPool | undefined {
    return this.workers;
  }

  /** Resolves once every worker process answers from the latest zones and resolvers. */
  synced(): Promise<void> {
    return this.workerSync;
  }

  private async startWorkers(server: DnsServer): Promise<void> {
    const pool = new WorkerPool({
      count: this.config.workers - 1,
      sockets: server.udpSockets(),
      state: () => ({ config: toWire({ ...this.config, bindIps: this.bindIps }), zones: this.workerZones, zonesVersion: this.zonesVersion, mesos: this.mesos, mesosLeader: this.mesosLeaderIp }),
      log: this.log,
    });
    this.workers = pool; // zone changes during the start go through the pool, which resends them to a starting child
    try {
      await pool.start();
    } catch (err) {
      this.workers = undefined;
      await server.stop();
      throw err;
    }
    mergeWorkerMetrics(this.registry, () => pool.metrics());
  }

  private toWorkers(msg: Parameters<WorkerPool['broadcast']>[0]): void {
    const pool = this.workers;
    if (!pool) return;
    const sent = pool.broadcast(msg);
    this.workerSync = Promise.all([this.workerSync, sent]).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.stalls.stop();
    this.resolv?.stop();
    await this.workers?.stop();
    this.workers = undefined;
    await this.server?.stop();
    this.udp.close();
  }

  addresses(): BoundAddress[] {
    return this.server?.addresses() ?? [];
  }

  /** Replace the local zone records (snapshot or zone file). Throws on a bad record, changing nothing. */
  setZoneRecords(records: ZoneInput[]): void {
    const delta = this.zones.set(records);
    this.zoneRecords = records;
    const prev = this.workerZones;
    // The list the workers hold, diffed against the next one: a copy only with workers (one process
    // would hold a second list of every record for nothing: 80 KB at 10,000; issue #26).
    if (this.config.workers > 1) this.workerZones = records.slice();
    const from = this.zonesVersion++;
    this.metrics.zoneRecords.reset();
    for (const [zone, n] of this.zones.recordCounts()) this.metrics.zoneRecords.set({ zone }, n);
    if (!this.workers) return;
    // The workers hold the previous list: send what changed (the local zones' diff, made from the
    // same list: it also counts a record changed in place), unless most of it did.
    const d = delta && prev.length - delta.removed.length + delta.added.length === delta.size ? delta : zoneDelta(prev, this.workerZones);
    if (d && d.added.length + d.removed.length < records.length / 2) this.toWorkers({ t: 'zones-delta', from, to: this.zonesVersion, ...d });
    else this.toWorkers({ t: 'zones', zones: this.workerZones, version: this.zonesVersion });
  }

  /** The Mesos-DNS resolvers from the config or the control plane's master list (the elected master's is added, see setMesosLeader). */
  setMesosResolvers(resolvers: Endpoint[]): void {
    this.mesosListed = resolvers;
    this.applyMesosResolvers();
  }

  /**
   * The elected master (the agent follows it in ZooKeeper), whose Mesos-DNS is asked for `.mesos`
   * too, on the Mesos-DNS port of the master list: the control plane's list names the master the
   * agent's stream is on and the leader that master knows, and a master that does not lead (or
   * has just restarted) answers no `.mesos` name. Undefined: only the listed resolvers.
   */
  setMesosLeader(ip: string | undefined): void {
    this.mesosLeaderIp = ip;
    this.applyMesosResolvers();
  }

  /** A worker process: the parent's resolvers (its elected master's first) and the master it follows. */
  setMesosFromParent(resolvers: Endpoint[], leaderIp: string | undefined): void {
    this.mesosListed = resolvers;
    this.mesosLeaderIp = leaderIp;
    this.applyMesosResolvers();
  }

  /**
   * The elected master's Mesos-DNS goes first and is always among those asked (only the leader's
   * answers `.mesos` names; the failures a new leader collected while it was a follower with
   * nothing on its port must not rank it last), the listed ones after it.
   */
  private applyMesosResolvers(): void {
    const listed = this.mesosListed;
    const ip = this.mesosLeaderIp;
    const port = listed[0]?.port ?? MESOS_DNS_PORT;
    const leader = ip ? (listed.find((e) => e.host === ip && e.port === port) ?? endpoint(ip, port)) : undefined;
    const resolvers = leader ? [leader, ...listed.filter((e) => e !== leader)] : listed;
    const labels = resolvers.map((e) => e.label);
    if (labels.join() === this.mesos.map((e) => e.label).join() && leader?.label === this.mesosLeader?.label) return;
    this.log.info('mesos_resolvers_changed', { from: this.mesos.map((e) => e.label), to: labels, leader: leader?.label });
    this.routes.setMesosResolvers(resolvers, leader !== undefined);
    this.mesos = resolvers;
    this.mesosLeader = leader;
    this.toWorkers({ t: 'mesos', mesos: resolvers, leader: ip });
  }

  /** A SnapshotConsumer for the control plane: `zones` feeds the local zones, `masters` the Mesos-DNS resolvers. */
  snapshotConsumer(): SnapshotConsumer {
    // The agent's held view hands an unchanged part over as the same array (control/view.ts): when
    // neither part changed since this consumer last applied them, and nothing else replaced the
    // records meanwhile, there is nothing to do (a VIP's weight changes, not its name).
    let last: { zones: unknown; masters: unknown; records: ZoneInput[] } | undefined;
    const merge = new MasterRecords();
    return {
      name: 'dispatcher',
      parts: ['zones', 'masters'],
      apply: async (view: Snapshot) => {
        if (last && last.zones === view.parts.zones && last.masters === view.parts.masters && last.records === this.zoneRecords) return;
        last = undefined;
        const masters = view.parts.masters ?? [];
        const records = merge.merge(view.parts.zones ?? [], masters);
        this.setZoneRecords(records);
        if (masters.length) this.setMesosResolvers(masters.map((m) => endpoint(m.ip, m.dns_port)));
        await this.synced();
        last = { zones: view.parts.zones, masters: view.parts.masters, records };
      },
    };
  }

  /** One client message in; `done` gets the answer once (undefined: drop). Never throws on bad input. */
  handle(msg: Buffer, transport: Transport, done: Done): void {
    this.requestsBy[transport].inc();
    const cacheKey = transport === 'udp' && this.cache ? this.answerFromCache(msg, done) : undefined;
    if (cacheKey === true) return;
    let q: Query;
    try {
      q = parseQuery(msg);
    } catch {
      this.metrics.malformed.inc({ transport });
      return done(formErr(msg));
    }
    if (q.opcode !== 0) return done(errorReply(msg, q, Rcode.NOTIMP));
    const route = this.routes.route(q.qname);
    const limit = transport === 'tcp' ? TCP_LIMIT : q.edns ? Math.max(UDP_LIMIT, q.ednsSize) : UDP_LIMIT;
    const ctx: QueryContext = { raw: msg, q, transport, route, limit, started: performance.now(), cacheKey };
    if (route.kind === 'local') {
      const out = localAnswer(this.chain, ctx);
      this.observe(route.zone, ctx.started);
      return done(out);
    }
    if (this.inflight >= this.limit) {
      this.metrics.refused.inc();
      return done(errorReply(msg, q, Rcode.REFUSED));
    }
    this.inflight++;
    let open = true;
    const finish: Done = (answer) => {
      if (!open) return;
      open = false;
      this.inflight--;
      this.observe(route.zone, ctx.started);
      done(answer);
    };
    try {
      this.chain(ctx, finish);
    } catch (err) {
      this.log.error('query_handler_failed', { transport, err });
      finish(undefined);
    }
  }

  /**
   * The cache-hit fast path for a plain UDP query: the key comes straight from the bytes (no parse,
   * no route), one clock read, one copy. Returns true when it answered; on a miss the key it built
   * (the chain's cache step reuses it); undefined for anything unusual: the full path.
   * A hit costs no upstream work, so it is not held to handler_limit; its duration is observed as
   * 0 s (it takes microseconds, far below the first bucket) to spare two more clock reads.
   */
  private answerFromCache(msg: Buffer, done: Done): true | string | undefined {
    const p = this.peek;
    if (!peekUdpQuery(msg, p)) return undefined;
    const now = this.clock.now();
    const key = cacheKey(msg, p.questionEnd, p.bits);
    const e = this.cache!.find(key, p.limit, now);
    if (!e) return key;
    this.metrics.cacheHits.inc();
    this.durationCell(e.zone).observe(0);
    done(this.cache!.render(e, msg, p.questionEnd, now));
    return true;
  }

  private readonly udpDropped = (reason: string, n: number): void => this.metrics.udpDropped.inc({ reason }, n);

  private observe(zone: string, started: number): void {
    this.durationCell(zone).observe((performance.now() - started) / 1e3);
  }

  private durationCell(zone: string): { observe(v: number): void } {
    let h = this.durationBy.get(zone);
    if (!h) this.durationBy.set(zone, (h = this.metrics.requestDuration.cell({ zone })));
    return h;
  }

  private async ensureInterface(): Promise<void> {
    try {
      const kind = await ensureDummyInterface(this.config.bindInterface, this.config.bindIps, this.opts.ipRunner);
      this.log.info('spartan_interface_ready', { interface: this.config.bindInterface, kind, addresses: this.config.bindIps });
    } catch (err) {
      this.bindIps = ['127.0.0.1'];
      this.zones.setBindIps(this.bindIps, this.zoneRecords);
      this.log.warn('spartan_interface_unavailable', {
        interface: this.config.bindInterface,
        missing: 'CAP_NET_ADMIN (root) to create a dummy interface',
        fallback: 'listening on 127.0.0.1 instead; set bind_ips to choose',
        err,
      });
    }
  }
}

/** Run the chain for a local name: local answers are synchronous, so no continuation is kept. */
function localAnswer(chain: Next, ctx: QueryContext): Buffer | undefined {
  let out: Buffer | undefined;
  chain(ctx, (answer) => (out = answer));
  return out;
}
