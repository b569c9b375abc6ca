/**
 * The Agent: task runner + registration with the master + status updates + the :5051 HTTP API
 * (`/state`, `/health`, `/metrics`, `/files/read` of task sandboxes, launch and kill from contracts/protocol.ts). Construction does no
 * I/O; start() recovers checkpointed tasks, listens, and registers. stop() leaves tasks running so
 * the next agent on the same work dir adopts them (Mesos checkpointing); killAllTasks() ends them.
 */
import { randomUUID } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { systemClock, type Clock } from '../common/clock.js';
import type { Component } from '../common/daemon.js';
import { Router, requestJson, serve, type HttpServer } from '../common/http.js';
import { agentAuthorization, agentProof, hashAgentSecret } from '../common/agent-credentials.js';
import { ValidationError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/log.js';
import { createRegistry, type Registry } from '../common/metrics.js';
import { API, TERMINAL_STATES, type PingRequest, type RegisterRequest, type Resources, type StatusUpdate, type TaskReport } from '../contracts/index.js';
import { parseKill, parseLaunch } from './launch.js';
import { killSchema, launchSchema } from './schema.js';
import { AgentMetrics } from './metrics.js';
import type { NetworkAttacher } from '../contracts/index.js';
import type { Probe } from './probes.js';
import { Registration, type CallMaster } from './registration.js';
import { DEFAULT_RESOURCES } from './resources.js';
import { TaskRunner } from './runner.js';
import { agentState } from './state.js';
import { StatusSender } from './status.js';
import { WorkDir, type TaskRecord, type TaskStatusEntry } from './workdir.js';
import { mountFiles } from './files.js';
import { join } from 'node:path';
import { AgentCertificate, type AgentTlsOptions } from './agent-tls.js';
import type { TlsMaterial } from '../common/tls-files.js';

export interface AgentOptions {
  /** `host:port` of the masters' Mesos API. */
  masters: string[];
  /** The elected master's `host:port` (`sextant agent --master zk://...`); overrides `masters`. */
  leader?: () => string | undefined;
  ip: string;
  /** The node's IPv6 address on a dual-stack node (registered with the master; see AgentRegistration.ip6). */
  ip6?: string;
  /** 0 picks a free port. Default 5051. */
  port?: number;
  hostname?: string;
  workDir: string;
  resources?: Resources;
  attributes?: Record<string, string>;
  clock?: Clock;
  log?: Logger;
  registry?: Registry;
  attacher?: NetworkAttacher;
  nameservers?: string[];
  probe?: Probe;
  callMaster?: CallMaster;
  version?: string;
  /**
   * Mutual TLS: the cluster CA and the bootstrap token. The agent's own key and certificate live in
   * `<workDir>/tls/` (TLS bootstrap at the first registration). Absent: plain HTTP (--insecure-dev).
   */
  tls?: AgentTlsOptions;
}

export class Agent implements Component {
  readonly name = 'agent';
  readonly router = new Router();
  readonly registry: Registry;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly wd: WorkDir;
  private readonly runner: TaskRunner;
  private readonly sender: StatusSender;
  private readonly metrics: AgentMetrics;
  private registration?: Registration;
  private server?: HttpServer;
  private agentId: string | undefined;
  private secret: string | undefined;
  /** Set while a registration call is out: a ping from the master waits for its answer. */
  private registering: Promise<void> | undefined;
  private registeringDone: (() => void) | undefined;
  private boundPort = 0;
  private readonly startTime: number;
  private readonly registeredWaiters: ((id: string) => void)[] = [];
  private readonly cert: AgentCertificate | undefined;

  constructor(private readonly opts: AgentOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? createLogger('agent', { ip: opts.ip });
    this.registry = opts.registry ?? createRegistry({ component: 'agent' });
    this.wd = new WorkDir(opts.workDir);
    this.startTime = this.clock.now();
    this.runner = new TaskRunner({
      workDir: this.wd,
      agentIp: opts.ip,
      clock: this.clock,
      log: this.log,
      attacher: opts.attacher,
      nameservers: opts.nameservers,
      probe: opts.probe,
      onHealthResult: (ok) => this.metrics.healthChecks.inc({ result: ok ? 'healthy' : 'unhealthy' }),
    });
    this.sender = new StatusSender({ clock: this.clock, deliver: (u) => this.deliver(u), onAcked: (u) => this.acked(u) });
    this.metrics = new AgentMetrics(this.registry, () => this.countByState(), () => this.sender.pending());
    this.runner.onStatus = (rec, entry) => this.statusChanged(rec, entry);
    this.cert = opts.tls ? new AgentCertificate(opts.workDir, opts.tls) : undefined;
    this.mountRoutes();
  }

  get id(): string | undefined {
    return this.agentId;
  }

  get port(): number {
    return this.boundPort;
  }

  get workDir(): string {
    return this.opts.workDir;
  }

  /** The CA, and the agent's certificate and key once it has them (AgentHandle.tls); undefined under --insecure-dev. */
  get tls(): TlsMaterial | undefined {
    const m = this.cert?.material();
    return m?.cert && m.key ? { ca: m.ca, cert: m.cert, key: m.key } : undefined;
  }

  tasks(): TaskRecord[] {
    return this.runner.list();
  }

  /** Install the virtual-network attacher after construction (a plugin that sets up CNI). */
  setNetworkAttacher(a: NetworkAttacher | undefined): void {
    this.runner.setAttacher(a);
  }

  /** Point the resolv.conf of tasks on virtual networks at these addresses (the dispatcher plugin does). */
  setNameservers(ns: string[]): void {
    this.runner.setNameservers(ns);
  }

  /** Mount extra routes (plugins) on the agent API. */
  routes(register: (router: Router) => void): void {
    register(this.router);
  }

  async start(): Promise<void> {
    this.wd.ensure();
    const saved = this.wd.readAgent();
    this.agentId = saved?.agent_id;
    this.secret = saved?.secret;
    const counts = this.runner.recover();
    if (counts.adopted + counts.ended + counts.terminal) this.log.info('tasks_recovered', counts);
    await this.cert?.prepare(this.agentId, `agent-${this.opts.ip}`);
    if (this.cert && this.agentId && !this.cert.hasCertificate()) {
      // An id from a plain-HTTP run (or a lost certificate): only a certificate may re-register it.
      this.log.warn('agent_id_without_certificate', { agent_id: this.agentId, then: 'registering as a new agent with the bootstrap token' });
      this.wd.forgetAgentId();
      this.agentId = undefined;
      this.secret = undefined;
    }
    // Only the masters, the entry point and the operator call an agent; not other agents.
    const tls = this.cert ? { tls: { material: this.cert.material(), kinds: ['master', 'entry', 'cli'] as const } } : {};
    if (!this.cert) this.log.warn('insecure_dev', { hint: 'INSECURE: the agent API serves plain HTTP without client certificates and talks to the master in plain text (--insecure-dev)' });
    this.server = await serve(this.router, { host: this.opts.ip, port: this.opts.port ?? 5051, onError: (e) => this.log.error('http_error', { err: e }), ...tls });
    this.boundPort = this.server.address().port;
    this.registration = new Registration({
      masters: this.opts.masters,
      ...(this.opts.leader ? { leader: this.opts.leader } : {}),
      clock: this.clock,
      log: this.log,
      call: this.opts.callMaster,
      ...(this.cert ? { tls: () => this.cert!.client() } : {}),
      request: () => {
        this.registering ??= new Promise<void>((resolve) => (this.registeringDone = resolve));
        return this.registerRequest();
      },
      auth: () => ({ ...this.authHeaders(), ...this.cert?.bootstrapHeaders() }),
      onUnknown: () => {
        this.wd.forgetAgentId();
        this.agentId = undefined;
        this.secret = undefined;
        this.cert?.drop();
        this.server?.setTls?.(this.cert!.material());
      },
      onRegistered: (resp, again) => {
        if (this.cert && resp.certificate) {
          try {
            this.cert.install(resp.certificate, resp.agent_id);
            this.server?.setTls?.(this.cert.material());
            this.log.info('agent_certificate_installed', { agent_id: resp.agent_id, file: this.cert.certFile });
          } catch (e) {
            this.log.error('agent_certificate_refused', { agent_id: resp.agent_id, err: e });
          }
        }
        const secret = resp.agent_secret ?? this.secret;
        if (this.agentId !== resp.agent_id || secret !== this.secret) this.wd.writeAgentId(resp.agent_id, secret);
        this.agentId = resp.agent_id;
        this.secret = secret;
        this.registeringDone?.();
        this.registering = undefined;
        this.metrics.registrations.inc({ kind: again ? 'reregister' : 'register' });
        this.sender.setPaused(false);
        for (const w of this.registeredWaiters.splice(0)) w(resp.agent_id);
      },
      onUnregistered: () => this.sender.setPaused(true),
      onHeartbeat: (ok) => this.metrics.heartbeats.inc({ result: ok ? 'ok' : 'failed' }),
    });
    this.registration.start();
  }

  /** Resolves with the agent id once registered with a master. */
  registered(): Promise<string> {
    if (this.registration?.isRegistered() && this.agentId) return Promise.resolve(this.agentId);
    return new Promise((resolve) => this.registeredWaiters.push(resolve));
  }

  get master(): string | undefined {
    return this.registration?.master;
  }

  /** The elected master changed (`leader` option): re-register with it now, reporting the running tasks. */
  leaderChanged(): void {
    this.registration?.leaderChanged();
  }

  async stop(): Promise<void> {
    this.registration?.stop();
    this.sender.stop();
    this.runner.stop();
    await this.server?.close();
    this.server = undefined;
  }

  /** Kill every task (used by `sextant up` on exit and by tests). */
  killAllTasks(graceMs?: number, timeoutMs?: number): Promise<boolean> {
    return this.runner.killAll(graceMs, timeoutMs);
  }

  private registerRequest(): RegisterRequest {
    return {
      ...(this.agentId ? { agent_id: this.agentId } : {}),
      hostname: this.opts.hostname ?? osHostname(),
      ip: this.opts.ip,
      ...(this.opts.ip6 ? { ip6: this.opts.ip6 } : {}),
      port: this.boundPort,
      resources: this.opts.resources ?? DEFAULT_RESOURCES,
      attributes: this.opts.attributes ?? {},
      tasks: this.runner.list().filter((r) => !r.terminalAcked).map((r) => this.report(r)),
      ...(this.cert?.csr() && !this.agentId ? { csr: this.cert.csr()! } : {}),
    };
  }

  private report(rec: TaskRecord): TaskReport {
    const last = rec.statuses[rec.statuses.length - 1];
    return {
      task_id: rec.info.task_id,
      framework_id: rec.info.framework_id,
      state: rec.state,
      timestamp: last?.timestamp ?? this.clock.now() / 1000,
      ...(last?.container_status ? { container_status: last.container_status } : {}),
      ...(rec.healthy !== undefined ? { healthy: rec.healthy } : {}),
      ...(rec.seq !== undefined ? { seq: rec.seq } : {}),
    };
  }

  private statusChanged(rec: TaskRecord, entry: TaskStatusEntry): void {
    const u: StatusUpdate = {
      ...this.report(rec),
      state: entry.state,
      timestamp: entry.timestamp,
      agent_id: this.agentId ?? '',
      uuid: randomUUID(),
      seq: rec.seq ?? 1,
      ...(entry.healthy !== undefined ? { healthy: entry.healthy } : {}),
      ...(entry.message ? { message: entry.message } : {}),
      ...(entry.reason ? { reason: entry.reason } : {}),
    };
    this.sender.enqueue(u);
  }

  private async deliver(u: StatusUpdate): Promise<boolean> {
    if (!this.registration?.isRegistered() || !this.agentId) return false;
    const url = `${this.cert ? 'https' : 'http'}://${this.registration.master}${API.status}`;
    const body = { ...u, agent_id: this.agentId };
    const headers = this.authHeaders();
    const res = await (this.opts.callMaster ? this.opts.callMaster(url, body, headers) : requestJson(url, { method: 'POST', body, headers, ...(this.cert ? { tls: this.cert.client() } : {}) }));
    // 200 {"dropped":"stale"}: the master already has a newer update of this task; done with this one.
    if (res.status === 403 && (res.body as { reason?: unknown } | undefined)?.reason === 'not_task_owner') {
      this.log.warn('status_update_refused', { task_id: u.task_id, agent_id: this.agentId, why: 'the master has the task on another agent' });
      return true;
    }
    return res.status === 200;
  }

  private authHeaders(): Record<string, string> {
    return this.agentId && this.secret ? { authorization: agentAuthorization(this.agentId, this.secret) } : {};
  }

  /**
   * The master's registration callback: answer with our id and the proof that we hold the secret
   * it issued. A ping that arrives while our registration answer is still on its way waits for it.
   */
  private async ping(req: PingRequest): Promise<{ status?: number; json: unknown }> {
    if (this.registering && req.agent_id !== this.agentId) {
      let timer: unknown;
      await Promise.race([this.registering, new Promise<void>((r) => (timer = this.clock.setTimeout(r, 5000)))]);
      this.clock.clearTimeout(timer);
    }
    if (!this.agentId || !this.secret || req.agent_id !== this.agentId) return { status: 404, json: { message: `this is agent ${this.agentId ?? '(unregistered)'}, not ${req.agent_id}` } };
    return { json: { agent_id: this.agentId, proof: agentProof(hashAgentSecret(this.secret), req.nonce) } };
  }

  private acked(u: StatusUpdate): void {
    this.metrics.statusUpdates.inc({ state: u.state });
    if (!TERMINAL_STATES.has(u.state)) return;
    const rec = this.runner.get(u.task_id);
    if (!rec || rec.state !== u.state) return;
    rec.terminalAcked = true;
    // Keep a few ended tasks for /state (completed_tasks); their records leave the work dir.
    this.wd.removeTask(u.task_id);
    this.clock.setTimeout(() => this.runner.forget(u.task_id), 60_000);
  }

  private countByState(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.runner.list()) out[r.state] = (out[r.state] ?? 0) + 1;
    return out;
  }

  private stateJson(): Record<string, unknown> {
    return agentState(
      {
        id: this.agentId ?? '',
        ip: this.opts.ip,
        port: this.boundPort,
        hostname: this.opts.hostname ?? osHostname(),
        resources: this.opts.resources ?? DEFAULT_RESOURCES,
        attributes: this.opts.attributes ?? {},
        master: this.registration?.master,
        startTime: this.startTime,
        workDir: this.opts.workDir,
        version: this.opts.version ?? '1.11.0',
      },
      this.runner.list(),
      (id) => this.wd.sandbox(id),
    );
  }

  private mountRoutes(): void {
    const state = () => ({ json: this.stateJson() });
    for (const p of ['/state', '/state.json', '/slave(1)/state', '/slave(1)/state.json']) this.router.get(p, state);
    this.router.get('/health', () => ({ json: { healthy: true, registered: this.registration?.isRegistered() ?? false, agent_id: this.agentId ?? null, ...(this.cert ? {} : { insecure_dev: true }) } }));
    this.router.metrics(this.registry);
    this.router.post(
      API.launch,
      (req) => {
        const info = parseLaunch(req.body);
        this.runner.launch(info);
        this.metrics.launches.inc();
        return { json: {} };
      },
      { summary: 'launch a task (from the master)', body: launchSchema },
    );
    this.router.post(
      API.kill,
      (req) => {
        const k = parseKill(req.body);
        const known = this.runner.kill(k.task_id, k.grace_period_ms);
        return { json: { killing: known } };
      },
      { summary: 'kill a task (from the master)', body: killSchema },
    );
    this.router.post(
      API.ping,
      (req) => {
        const b = req.body as Partial<PingRequest> | undefined;
        if (typeof b?.agent_id !== 'string' || typeof b.nonce !== 'string' || b.nonce.length < 16 || b.nonce.length > 128)
          throw new ValidationError([{ path: '/', errors: ['must be {agent_id, nonce} with a nonce of 16-128 characters'] }]);
        return this.ping({ agent_id: b.agent_id, nonce: b.nonce });
      },
      { summary: "the master's registration callback: answers {agent_id, proof}", body: { type: 'object', required: ['agent_id', 'nonce'], properties: { agent_id: { type: 'string', maxLength: 255 }, nonce: { type: 'string', minLength: 16, maxLength: 128 } } } },
    );
    mountFiles(this.router, () => join(this.wd.dir, 'sandboxes'));
    this.router.serveOpenapi('Sextant agent API');
  }
}
