/**
 * The master: Mesos-compatible API (agents, offers, `/master/state`) and the built-in Marathon,
 * over one durable store. Construction does no I/O; start() loads the store, recovers agents and
 * tasks, and listens; stop() closes everything. Implements MasterHandle for in-process components.
 */
import { randomUUID } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import {
  createLogger, createRegistry, limitedLogger, logDroppedCounter, LogLimiter, Router, serve, systemClock, UnavailableError,
  type Clock, type HttpServer, type Logger, type Registry, type ServerTls, type TlsMaterial,
} from '../common/index.js';
import { DEFAULT_PORTS, type KvStore, type MasterElection, type MasterHandle } from '../contracts/index.js';
import { HttpAgentClient, type AgentClient } from './agent-client.js';
import { AgentService } from './agents.js';
import { Cluster } from './cluster.js';
import { EventBus } from './marathon/events.js';
import { marathonRoutes } from './marathon/api.js';
import { MarathonScheduler } from './marathon/scheduler.js';
import { createMasterMetrics, type MasterMetrics } from './metrics.js';
import { mesosRoutes } from './mesos-routes.js';
import type { TaskRecord } from './model.js';
import { OfferLoop } from './offers.js';
import { buildState, buildStateText, otherSlavesJson } from './state-json.js';
import { FileKvStore } from './store/file.js';
import { ZkKvStore } from './store/zk.js';
import { AddressBook } from './addresses.js';
import { appAdmission, networkAdmission } from './admission.js';
import { limitsFromEnv, type Limits } from './limits.js';
import { AgentBootstrap, type BootstrapOptions } from './agent-bootstrap.js';
import { isPublicRoute } from './public-routes.js';
import { literalVips } from './marathon/app.js';

export interface MasterOptions {
  ip: string;
  port?: number;
  marathonPort?: number;
  workDir: string;
  agentTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** An unreachable or removed agent keeps its id, record and overlay share this long (default 24 h). */
  agentReleaseGraceMs?: number;
  hostname?: string;
  clock?: Clock;
  registry?: Registry;
  logger?: Logger;
  /** Defaults to the file store under workDir. */
  store?: KvStore;
  /** Under ZooKeeper (ha.ts): the election's contenders, lent to the components (MasterHandle.election). */
  election?: MasterElection;
  agentClient?: AgentClient;
  /** Bounds of the APIs (default: limitsFromEnv(), i.e. SEXTANT_MAX_* over the defaults). */
  limits?: Limits;
  /** VIP ranges besides the named-VIP range, for literal-IP VIPs (SEXTANT_VIP_RANGES). */
  vipRanges?: string[];
  /** Where named VIPs get their IPv6 addresses (SEXTANT_VIP_V6_RANGE; default fd01:c::/64). */
  namedVipV6Range?: string;
  /**
   * Mutual TLS on :5050 and :8080 (the cluster CA and this master's certificate, which it also
   * presents when it calls agents), and the agent TLS bootstrap. Absent: plain HTTP (--insecure-dev).
   */
  tls?: MasterTls;
  /**
   * A new leader under ZooKeeper (ha.ts) starts its services (overlay, l4lb, Mesos-DNS, control
   * plane...) after the agents re-registered: until `servicesStarted()`, only known agents from their
   * registered address are admitted, and an app that needs the services' address book (a container
   * network, a literal VIP) is refused with 503 (retry). Default false: everything is admitted.
   */
  servicesPending?: boolean;
}

export interface MasterTls extends BootstrapOptions {
  material: TlsMaterial;
}

export const DEFAULT_AGENT_RELEASE_GRACE_MS = 24 * 3600_000;

export class Master implements MasterHandle {
  readonly name = 'master';
  readonly ip: string;
  readonly registry: Registry;
  readonly store: KvStore;
  readonly cluster: Cluster;
  readonly agents: AgentService;
  readonly offers: OfferLoop;
  readonly marathon: MarathonScheduler;
  readonly events: EventBus;
  readonly limits: Limits;
  readonly addresses: AddressBook;
  readonly election?: MasterElection;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly opts: Required<Pick<MasterOptions, 'port' | 'marathonPort' | 'agentTimeoutMs' | 'heartbeatIntervalMs' | 'agentReleaseGraceMs' | 'hostname' | 'workDir'>>;
  private readonly mesosRouter = new Router();
  private readonly marathonRouter = new Router();
  /** DC/OS prefixes of this process's APIs (MasterHandle.apis); `/net` is the admin API on the Mesos port. */
  readonly apis = new Map<string, Router>([
    ['/mesos', this.mesosRouter],
    ['/marathon', this.marathonRouter],
    ['/net', this.mesosRouter],
  ]);
  private servers: HttpServer[] = [];
  private tickTimer: unknown;
  private startTime = 0;
  private cache: { version: number; obj?: Record<string, unknown>; body?: Buffer } | undefined;
  private metrics!: MasterMetrics;
  private readonly tlsOpts: MasterTls | undefined;
  private protocolLog: Logger | undefined;
  /** See MasterOptions.servicesPending. */
  private servicesPending: boolean;
  frameworkId = '';

  constructor(o: MasterOptions) {
    this.ip = o.ip;
    this.clock = o.clock ?? systemClock;
    this.registry = o.registry ?? createRegistry();
    this.log = o.logger ?? createLogger('master');
    this.opts = {
      port: o.port ?? DEFAULT_PORTS.master,
      marathonPort: o.marathonPort ?? DEFAULT_PORTS.marathon,
      agentTimeoutMs: o.agentTimeoutMs ?? 15000,
      heartbeatIntervalMs: o.heartbeatIntervalMs ?? 1000,
      agentReleaseGraceMs: o.agentReleaseGraceMs ?? DEFAULT_AGENT_RELEASE_GRACE_MS,
      hostname: o.hostname ?? o.ip ?? osHostname(),
      workDir: o.workDir,
    };
    this.store = o.store ?? new FileKvStore(o.workDir);
    if (o.election) this.election = o.election;
    this.cluster = new Cluster(this.store, this.clock);
    this.tlsOpts = o.tls;
    const client = o.agentClient ?? new HttpAgentClient(undefined, o.tls?.material);
    this.agents = new AgentService(this.cluster, client, this.clock, this.log, this.opts);
    this.events = new EventBus(() => this.clock.now());
    this.marathon = new MarathonScheduler(this.store, this.clock, this.events, this.log.child({ framework: 'marathon' }));
    this.limits = o.limits ?? limitsFromEnv();
    this.addresses = new AddressBook(o.vipRanges ?? [], o.namedVipV6Range);
    this.addresses.claim(() => [
      { what: `the master (${this.ip})`, cidr: this.ip, kind: 'node' },
      ...[...this.cluster.agents.values()].filter((a) => !a.pending).map((a) => ({ what: `agent ${a.agent_id} (${a.ip})`, cidr: a.ip, kind: 'node' as const })),
    ]);
    this.marathon.limits = this.limits;
    this.marathon.admit = appAdmission(this.limits, this.addresses);
    const networks = networkAdmission(this.addresses);
    this.marathon.checkNetworks = (app, body) => {
      if (this.servicesPending && (app.networks.some((n) => n.mode === 'container') || literalVips(app).length))
        throw new UnavailableError(`app ${app.id}: this master was just elected and is starting its services: an app on a container network or with a literal VIP is checked against the overlay's address book, which is not loaded yet; retry in a few seconds`);
      networks(app, body);
    };
    this.servicesPending = o.servicesPending === true;
    this.agents.onlyKnownAgents = () => this.servicesPending;
    this.offers = new OfferLoop(this.cluster, client, this.clock, this.log, {
      onRound: (r) => {
        this.metrics?.offers.inc(r.offers);
        this.metrics?.declines.inc(r.declines);
        this.metrics?.launches.inc(r.launched.length);
      },
    });
  }

  get masterId(): string {
    return this.cluster.masterId;
  }
  get port(): number {
    return this.servers[0]?.address().port ?? this.opts.port;
  }
  get hostname(): string {
    return this.opts.hostname;
  }
  get workDir(): string {
    return this.opts.workDir;
  }
  get marathonPort(): number {
    return this.servers[1]?.address().port ?? this.opts.marathonPort;
  }

  async start(): Promise<void> {
    if (this.store instanceof FileKvStore) await this.store.open();
    this.startTime = this.clock.now() / 1000;
    const t0 = performance.now();
    await this.cluster.load(() => `${randomUUID()}`);
    await this.agents.recover();
    await this.marathon.load();
    this.log.info('master_state_loaded', { ms: Math.round(performance.now() - t0), agents: this.cluster.agents.size, tasks: this.cluster.tasks.size, apps: this.marathon.apps.size });
    this.metrics = createMasterMetrics(this.registry, this.cluster, this.marathon);
    if (this.store instanceof FileKvStore || this.store instanceof ZkKvStore) this.store.onWrite = (s) => (this.metrics.storeWrites.inc(), this.metrics.storeWriteSeconds.observe(s));
    this.wire();
    const onError = (e: unknown) => this.log.error('http_error', { err: e });
    this.servers.push(await serve(this.mesosRouter, { host: this.ip, port: this.opts.port, onError, ...(this.tlsOpts ? { tls: this.serverTls(isPublicRoute) } : {}) }));
    this.servers.push(await serve(this.marathonRouter, { host: this.ip, port: this.opts.marathonPort, onError, ...(this.tlsOpts ? { tls: this.serverTls() } : {}) }));
    if (!this.tlsOpts) this.log.warn('insecure_dev', { hint: 'INSECURE: the Mesos and Marathon ports serve plain HTTP without client certificates (--insecure-dev); anyone who reaches them controls the cluster' });
    await this.registerMarathon();
    this.tick();
    this.marathon.requestReconcile();
    this.offers.trigger();
    this.log.info('master_started', { master_id: this.masterId, ip: this.ip, port: this.port, marathon_port: this.marathonPort, agents: this.cluster.agents.size, tasks: this.cluster.tasks.size, apps: this.marathon.apps.size });
  }

  async stop(): Promise<void> {
    this.clock.clearTimeout(this.tickTimer);
    this.offers.stop();
    this.marathon.stop();
    this.events.close();
    await Promise.all(this.servers.splice(0).map((s) => s.close()));
    await this.offers.idle;
    if (this.store instanceof FileKvStore || this.store instanceof ZkKvStore) await this.store.flush();
    this.log.info('master_stopped', { master_id: this.masterId });
  }

  /** A new leader's services have started: every registration and app is admitted again. */
  servicesStarted(): void {
    this.servicesPending = false;
  }

  // ---- MasterHandle ----

  state(): Record<string, unknown> {
    const c = this.stateCache();
    c.obj ??= buildState(this.stateContext());
    return c.obj;
  }

  /** The state JSON as bytes, assembled once per change. */
  stateBody(): Buffer {
    const c = this.stateCache();
    c.body ??= Buffer.from(buildStateText(this.stateContext()));
    return c.body;
  }

  private stateCache(): { version: number; obj?: Record<string, unknown>; body?: Buffer } {
    if (this.cache?.version !== this.cluster.version) this.cache = { version: this.cluster.version };
    return this.cache;
  }

  private stateContext() {
    return { cluster: this.cluster, ip: this.ip, port: this.port, hostname: this.opts.hostname, startTime: this.startTime, workDir: this.opts.workDir, insecureDev: !this.tlsOpts };
  }

  onChange(fn: () => void): () => void {
    return this.cluster.onChange(fn);
  }

  knownAgent(id: string): boolean {
    return this.cluster.agents.has(id);
  }

  routes(register: (router: Router) => void): void {
    register(this.mesosRouter);
  }

  /** True when the ports serve mutual TLS. */
  get secure(): boolean {
    return this.tlsOpts !== undefined;
  }

  /** MasterHandle.tls: the CA and this master's certificate and key. */
  get tls(): TlsMaterial | undefined {
    return this.tlsOpts?.material;
  }

  private serverTls(isPublic?: (method: string, path: string) => boolean): ServerTls {
    return {
      material: this.tlsOpts!.material,
      ...(isPublic ? { isPublic } : {}),
      onRefused: (reason, req) => {
        this.metrics.tlsRefused.inc({ reason });
        this.protocolLog?.warn('tls_refused', { reason, path: req.url, remote: req.socket.remoteAddress });
      },
    };
  }

  // ---- wiring ----

  private wire(): void {
    this.agents.onResources = () => this.offers.trigger();
    this.cluster.onTask((t, prev) => {
      if (t.state !== prev) this.metrics.statusUpdates.inc({ state: t.state });
      this.marathon.onTask(t, prev);
    });
    const self = this;
    this.marathon.driver = {
      get frameworkId() {
        return self.frameworkId;
      },
      liveTasks: () => this.cluster.tasks.values(),
      agents: () => this.cluster.agents,
      kill: (t) => this.killTask(t),
      revive: () => this.offers.revive(this.frameworkId),
    };
    const protocolLog = limitedLogger(this.log, new LogLimiter(undefined, this.clock), logDroppedCounter(this.registry, 'master'));
    this.protocolLog = protocolLog;
    this.agents.noisyLog = protocolLog;
    this.agents.verifyListeners.add((_id, ok) => this.metrics.agentCallbacks.inc({ result: ok ? 'verified' : 'failed' }));
    mesosRoutes(this.mesosRouter, {
      agents: this.agents,
      agentRecords: this.cluster.agents,
      otherSlaves: () => otherSlavesJson(this.cluster, this.opts.agentReleaseGraceMs),
      refused: (e, path, remote) => {
        this.metrics.agentProtocolRefused.inc({ reason: e.reason });
        protocolLog.warn('agent_protocol_refused', { reason: e.reason, path, remote, why: e.message });
      },
      dropped: (reason) => this.metrics.statusDropped.inc({ reason }),
      state: () => this.state(),
      stateBody: () => this.stateBody(),
      leader: () => `${this.ip}:${this.port}`,
      limits: this.limits,
      nodeRefusal: (ip) => this.addresses.nodeRefusal(ip),
      ...(this.tlsOpts ? { bootstrap: new AgentBootstrap(this.tlsOpts) } : {}),
    });
    this.mesosRouter.metrics(this.registry);
    marathonRoutes(this.marathonRouter, {
      scheduler: this.marathon,
      events: this.events,
      liveTasks: () => this.cluster.tasks.values(),
      self: () => `${this.ip}:${this.marathonPort}`,
      master: () => `${this.ip}:${this.port}`,
      frameworkId: () => this.frameworkId,
      limits: this.limits,
    });
    this.marathonRouter.metrics(this.registry);
  }

  private async registerMarathon(): Promise<void> {
    const existing = [...this.cluster.frameworks.values()].find((f) => f.name === 'marathon');
    this.frameworkId = existing?.id ?? `${this.masterId}-0000`;
    await this.cluster.putFramework({
      id: this.frameworkId,
      name: 'marathon',
      registered_time: existing?.registered_time ?? this.clock.now() / 1000,
      hostname: this.opts.hostname,
      pid: `scheduler-${this.frameworkId.slice(0, 8)}@${this.ip}:${this.marathonPort}`,
    });
    this.offers.addFramework(this.frameworkId, this.marathon);
  }

  private async killTask(t: TaskRecord): Promise<void> {
    if (t.kill_requested) return;
    t.kill_requested = true;
    await this.cluster.saveTask(t);
    this.log.info('task_kill', { task_id: t.info.task_id, agent_id: t.info.agent_id });
    this.agents.kill(t);
  }

  /** Periodic work: agent timeouts, and offers whose filters or backoffs have expired. */
  private tick(): void {
    this.tickTimer = this.clock.setTimeout(() => {
      if (!this.servers.length) return;
      this.tick();
      this.agents
        .checkTimeouts()
        .catch((e) => this.log.error('timeout_check_failed', { err: e }))
        .finally(() => {
          if (this.marathon.wantsOffers()) this.offers.trigger();
        });
    }, this.opts.heartbeatIntervalMs);
  }
}
