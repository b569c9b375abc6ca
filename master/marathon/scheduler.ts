/**
 * Marathon, the built-in framework: keeps each app at its instance count on its current config
 * version. It launches from offers (one task per offer, honouring resources, ports and
 * constraints), relaunches failed or lost tasks with backoff, replaces tasks on config change
 * (rolling, keeping minimumHealthCapacity ready), kills what is no longer wanted, and tracks
 * deployments until they converge.
 */
import type { Clock, Logger } from '../../common/index.js';
import { ConflictError, NotFoundError, ValidationError } from '../../common/index.js';
import { DEFAULT_LIMITS, LIMIT_ENV, type Limits } from '../limits.js';
import type { KvStore, TaskState } from '../../contracts/index.js';
import { KEYS, isTerminal, type AgentRecord, type TaskRecord } from '../model.js';
import type { FrameworkScheduler, Offer, OfferReply } from '../allocator.js';
import { appToJson, parseApp, type App } from './app.js';
import { satisfiesAll } from './constraints.js';
import { deploymentAction, LockedError, newDeployment, planJson, type Deployment, type DeploymentStep } from './deployments.js';
import type { EventBus } from './events.js';
import { taskId as newTaskId } from './naming.js';
import { buildTaskInfo, fitsScalars, pickHostPorts } from './task-info.js';
import { statusEvent } from './json.js';

export interface SchedulerDriver {
  readonly frameworkId: string;
  liveTasks(): Iterable<TaskRecord>;
  agents(): Map<string, AgentRecord>;
  kill(task: TaskRecord): Promise<void>;
  revive(): void;
}

export interface AppState {
  app: App;
  /** Changes on every change (scale included). */
  version: string;
  /** Changes when the definition changes in a way that needs new tasks. */
  configVersion: string;
}

interface Backoff {
  delayMs: number;
  until: number;
}

/** Why an app's task last failed, as Marathon shows it (`lastTaskFailure`). */
export interface TaskFailure {
  appId: string;
  host: string;
  message: string;
  state: TaskState;
  taskId: string;
  timestamp: string;
  version: string;
  slaveId: string;
}

/** A change of several apps at once (a group): definitions to create or replace, ids to stop. */
export interface ChangeSet {
  put: App[];
  remove: string[];
}

/** One app waiting for launches (`/v2/queue`). */
export interface QueueEntry {
  appId: string;
  count: number;
  /** Milliseconds of launch delay (backoff) left; 0 when offers are awaited. */
  delayLeftMs: number;
  since: string;
}

export class MarathonScheduler implements FrameworkScheduler {
  readonly name = 'marathon';
  readonly apps = new Map<string, AppState>();
  readonly deployments = new Map<string, Deployment>();
  private readonly backoff = new Map<string, Backoff>();
  /** Last task failure per app (in memory: a master restart forgets it, as the backoff). */
  readonly lastFailure = new Map<string, TaskFailure>();
  /** Since when an app has been waiting for launches. */
  private readonly waitingSince = new Map<string, number>();
  private readonly pending = new Map<string, { appId: string; agentId: string }>();
  private rr = 0;
  private lastVersionMs = 0;
  private reconcileQueued = false;
  private stopped = false;
  private readonly timers = new Set<unknown>();
  driver!: SchedulerDriver;
  /** Bounds (apps, tasks per agent) and the full admission check of a definition (schema, labels, addresses). */
  limits: Limits = DEFAULT_LIMITS;
  admit: (definition: unknown) => App = (d) => parseApp(d, this.limits);
  /** The check of a new or changed definition only (not of stored ones): its virtual network exists. */
  checkNetworks: (app: App, body: unknown) => void = () => {};

  constructor(
    private readonly store: KvStore,
    private readonly clock: Clock,
    private readonly events: EventBus,
    private readonly log: Logger,
  ) {}

  /** Load the stored apps; one that the admission check refuses now is logged once and skipped (never launched). */
  async load(): Promise<void> {
    for (const [key, s] of await this.store.list<AppState>(KEYS.apps)) {
      try {
        if (!s || typeof s !== 'object' || !s.app || typeof s.app !== 'object') throw new ValidationError([{ path: '/', errors: ['not an app record'] }]);
        const app = this.admit(appToJson(s.app));
        if (app.id !== s.app.id) throw new ValidationError([{ path: '/id', errors: [`stored under ${s.app.id}, normalises to ${app.id}`] }]);
        this.apps.set(s.app.id, s);
      } catch (e) {
        if (!(e instanceof ValidationError)) throw e;
        this.log.warn('stored_record_invalid', { key, reason: e.message });
      }
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers.clear();
  }

  // ---- app changes (from the API) ----

  /** A definition from the API: the full admission check, then the network it joins must exist. */
  admitNew(body: unknown): App {
    const app = this.admit(body);
    this.checkNetworks(app, body);
    return app;
  }

  async createApp(app: App): Promise<{ state: AppState; deployment: Deployment }> {
    if (this.apps.has(app.id)) throw new ConflictError(`An app with id [${app.id}] already exists.`);
    if (this.apps.size >= this.limits.apps)
      throw new ValidationError([{ path: '/id', errors: [`the cluster has ${this.apps.size} apps, the most allowed (maxApps ${this.limits.apps}, set by ${LIMIT_ENV.apps})`] }]);
    const v = this.newVersion();
    const state: AppState = { app, version: v, configVersion: v };
    await this.store.put(KEYS.app(app.id), state);
    this.apps.set(app.id, state);
    this.log.info('app_created', { app_id: app.id, instances: app.instances });
    return { state, deployment: this.deploy([{ app: app.id, action: 'StartApplication' }], v) };
  }

  /** PUT: merge the body into the definition; scale-only changes keep the running tasks. */
  async updateApp(id: string, body: Record<string, unknown>, force: boolean): Promise<{ state: AppState; deployment: Deployment; created: boolean }> {
    const cur = this.apps.get(id);
    if (!cur) {
      const r = await this.createApp(this.admitNew({ ...body, id }));
      return { ...r, created: true };
    }
    const base = appToJson(cur.app);
    // ipAddress replaces the network and port mappings it implies, unless the body gives them too.
    if (body.ipAddress != null) for (const k of ['networks', 'container'] as const) if (body[k] === undefined) delete base[k];
    const next = this.admitNew({ ...base, ...body, id });
    this.checkLock(id, force);
    const scaleOnly = sameConfig(next, cur.app);
    const v = this.newVersion();
    const state: AppState = { app: next, version: v, configVersion: scaleOnly ? cur.configVersion : v };
    await this.store.put(KEYS.app(id), state);
    this.apps.set(id, state);
    this.backoff.delete(id);
    this.log.info('app_updated', { app_id: id, scale_only: scaleOnly, instances: next.instances });
    return { state, deployment: this.deploy([{ app: id, action: scaleOnly ? 'ScaleApplication' : 'RestartApplication' }], v), created: false };
  }

  async restartApp(id: string, force: boolean): Promise<{ state: AppState; deployment: Deployment }> {
    const cur = this.apps.get(id);
    if (!cur) throw new NotFoundError(`App '${id}' does not exist`);
    this.checkLock(id, force);
    const v = this.newVersion();
    const state: AppState = { ...cur, version: v, configVersion: v };
    await this.store.put(KEYS.app(id), state);
    this.apps.set(id, state);
    return { state, deployment: this.deploy([{ app: id, action: 'RestartApplication' }], v) };
  }

  async deleteApp(id: string): Promise<{ version: string; deployment: Deployment }> {
    if (!this.apps.has(id)) throw new NotFoundError(`App '${id}' does not exist`);
    await this.removeApp(id);
    const v = this.newVersion();
    return { version: v, deployment: this.deploy([{ app: id, action: 'StopApplication' }], v) };
  }

  private async removeApp(id: string): Promise<void> {
    await this.store.delete(KEYS.app(id));
    this.apps.delete(id);
    this.backoff.delete(id);
    this.lastFailure.delete(id);
    this.waitingSince.delete(id);
    this.events.emit('app_terminated_event', { appId: id });
    this.log.info('app_deleted', { app_id: id });
  }

  /**
   * A group change: every definition already passed admission. Checks the locks (409 unless
   * force) and the apps bound first, so a refused change stores nothing; then one version and one
   * deployment for all. An unchanged definition is left alone (no action).
   */
  async applyChanges(change: ChangeSet, force: boolean): Promise<{ version: string; deployment: Deployment }> {
    for (const id of [...change.put.map((a) => a.id), ...change.remove]) if (this.apps.has(id)) this.checkLock(id, force);
    const creates = change.put.filter((a) => !this.apps.has(a.id)).length;
    const after = this.apps.size + creates - change.remove.filter((id) => this.apps.has(id)).length;
    if (creates && after > this.limits.apps)
      throw new ValidationError([{ path: '/apps', errors: [`the change makes ${after} apps, more than allowed (maxApps ${this.limits.apps}, set by ${LIMIT_ENV.apps})`] }]);
    const v = this.newVersion();
    const actions: DeploymentStep[] = [];
    for (const app of change.put) {
      const cur = this.apps.get(app.id);
      if (cur && JSON.stringify(cur.app) === JSON.stringify(app)) continue;
      const scaleOnly = cur !== undefined && sameConfig(app, cur.app);
      const state: AppState = { app, version: v, configVersion: scaleOnly ? cur.configVersion : v };
      await this.store.put(KEYS.app(app.id), state);
      this.apps.set(app.id, state);
      this.backoff.delete(app.id);
      this.log.info(cur ? 'app_updated' : 'app_created', { app_id: app.id, scale_only: scaleOnly, instances: app.instances });
      actions.push({ app: app.id, action: !cur ? 'StartApplication' : scaleOnly ? 'ScaleApplication' : 'RestartApplication' });
    }
    for (const id of change.remove) {
      if (!this.apps.has(id)) continue;
      await this.removeApp(id);
      actions.push({ app: id, action: 'StopApplication' });
    }
    return { version: v, deployment: this.deploy(actions, v) };
  }

  /** The deployments in progress, each once (a group's is kept under each of its apps). */
  deploymentList(): Deployment[] {
    return [...new Set(this.deployments.values())];
  }

  /** The version of the last change (undefined before the first). */
  lastVersion(): string | undefined {
    return this.lastVersionMs ? new Date(this.lastVersionMs).toISOString() : undefined;
  }

  /** A change while a deployment runs is a 409 naming the deployment and what it waits for. */
  private checkLock(appId: string, force: boolean): void {
    const busy = this.deployments.get(appId);
    if (!busy || force) return;
    throw new LockedError(busy, this.waitingFor(appId) ?? 'its tasks to converge');
  }

  /** What a running deployment of the app waits for, in words (also shown in /v2/deployments). */
  waitingFor(appId: string): string | undefined {
    const d = this.deployments.get(appId);
    if (!d) return undefined;
    const all = [...this.driver.liveTasks()].filter((t) => t.app_id === appId);
    const s = this.apps.get(appId);
    const killing = all.filter((t) => t.kill_requested || t.state === 'TASK_KILLING').length;
    if (deploymentAction(d, appId) === 'StopApplication' || !s) return `${all.length} task(s) to stop`;
    const cur = all.filter((t) => t.app_version === s.configVersion && !t.kill_requested);
    const running = cur.filter((t) => t.state === 'TASK_RUNNING');
    const parts: string[] = [];
    const b = this.backoff.get(appId);
    if (cur.length < s.app.instances) {
      const delay = b && b.until > this.clock.now() ? ` (launch delayed ${Math.ceil((b.until - this.clock.now()) / 1000)} s by backoff${this.lastFailure.has(appId) ? `; last failure: ${this.lastFailure.get(appId)!.message}` : ''})` : '';
      parts.push(`${s.app.instances - cur.length} of ${s.app.instances} task(s) to launch${delay}`);
    }
    if (running.length < cur.length) parts.push(`${cur.length - running.length} task(s) to reach TASK_RUNNING`);
    const hc = s.app.healthChecks[0];
    if (hc) {
      const unchecked = running.filter((t) => t.healthy === undefined).length;
      const unhealthy = running.filter((t) => t.healthy === false).length;
      if (unchecked) parts.push(`${unchecked} task(s) to pass their first health check (${hc.protocol}, grace period ${hc.gracePeriodSeconds} s)`);
      if (unhealthy) parts.push(`${unhealthy} unhealthy task(s) to become healthy`);
    }
    const old = all.filter((t) => t.app_version !== s.configVersion && !t.kill_requested).length;
    if (old) parts.push(`${old} old task(s) to be replaced`);
    if (killing) parts.push(`${killing} task(s) to finish being killed`);
    return parts.length ? parts.join('; ') : 'its tasks to converge';
  }

  /** Apps waiting for launches, with the launch delay left (`/v2/queue`). */
  queue(): QueueEntry[] {
    const live = this.liveByApp();
    const now = this.clock.now();
    const out: QueueEntry[] = [];
    for (const s of this.apps.values()) {
      const count = this.needs(s, live);
      if (count <= 0) {
        this.waitingSince.delete(s.app.id);
        continue;
      }
      const since = this.waitingSince.get(s.app.id) ?? now;
      this.waitingSince.set(s.app.id, since);
      const b = this.backoff.get(s.app.id);
      out.push({ appId: s.app.id, count, delayLeftMs: b ? Math.max(0, b.until - now) : 0, since: new Date(since).toISOString() });
    }
    return out;
  }

  /** DELETE /v2/queue/{app}/delay: launch again at once (the next failure starts from backoffSeconds). */
  resetDelay(appId: string): void {
    if (!this.apps.has(appId)) throw new NotFoundError(`App '${appId}' does not exist`);
    this.backoff.delete(appId);
    this.requestReconcile();
    this.driver.revive();
  }

  /** One deployment for the actions; one it supersedes (on any of their apps) is cancelled as a whole. */
  private deploy(actions: DeploymentStep[], version: string): Deployment {
    const old = new Set(actions.map((a) => this.deployments.get(a.app)).filter((d): d is Deployment => d !== undefined));
    for (const o of old) {
      for (const [k, d] of [...this.deployments]) if (d === o) this.deployments.delete(k);
      this.events.emit('deployment_failed', { id: o.id, plan: planJson(o), reason: 'superseded' });
    }
    const d = newDeployment(actions, version);
    for (const a of actions) this.deployments.set(a.app, d);
    this.events.emit('deployment_info', { plan: planJson(d), currentStep: d.steps[0] });
    if (!actions.length) this.events.emit('deployment_success', { id: d.id, plan: planJson(d) });
    this.requestReconcile();
    return d;
  }

  /** Versions are timestamps, strictly increasing even when the clock is not. */
  private newVersion(): string {
    this.lastVersionMs = Math.max(this.clock.now(), this.lastVersionMs + 1);
    return new Date(this.lastVersionMs).toISOString();
  }

  // ---- offers ----

  wantsOffers(): boolean {
    if (this.stopped) return false;
    const live = this.liveByApp();
    for (const s of this.apps.values()) if (this.needs(s, live) > 0 && !this.backingOff(s.app.id)) return true;
    return false;
  }

  resourceOffer(offer: Offer): OfferReply {
    if (this.tasksOn(offer.agent.agent_id) >= this.limits.tasksPerAgent) return { decline: { refuseSeconds: 5 } };
    const ids = [...this.apps.keys()];
    const live = this.liveByApp();
    for (let k = 0; k < ids.length; k++) {
      const i = (this.rr + k) % ids.length;
      const s = this.apps.get(ids[i]!)!;
      if (this.needs(s, live) <= 0 || this.backingOff(s.app.id)) continue;
      const info = this.tryPlace(s, offer, live.get(s.app.id) ?? []);
      if (!info) continue;
      this.rr = (i + 1) % ids.length;
      return { launch: [info] };
    }
    return { decline: { refuseSeconds: 5 } };
  }

  private tryPlace(s: AppState, offer: Offer, tasks: TaskRecord[]) {
    const app = s.app;
    if (!fitsScalars(app, offer.resources)) return undefined;
    const placed = [...tasks.map((t) => ({ agent_id: t.info.agent_id })), ...[...this.pending.values()].filter((p) => p.appId === app.id).map((p) => ({ agent_id: p.agentId }))];
    if (!satisfiesAll(app.constraints, offer.agent, placed, this.driver.agents())) return undefined;
    const hostPorts = pickHostPorts(app, offer.resources.ports);
    if (!hostPorts) return undefined;
    const id = newTaskId(app.id);
    this.pending.set(id, { appId: app.id, agentId: offer.agent.agent_id });
    return buildTaskInfo({ app, appVersion: s.configVersion, frameworkId: this.driver.frameworkId, agent: offer.agent, taskId: id, hostPorts });
  }

  /** Tasks on an agent (live and being launched), for the tasks-per-agent bound. */
  private tasksOn(agentId: string): number {
    let n = 0;
    for (const t of this.driver.liveTasks()) if (t.info.agent_id === agentId) n++;
    for (const p of this.pending.values()) if (p.agentId === agentId) n++;
    return n;
  }

  /** Live tasks by app (kill-requested ones excluded: they are on their way out). */
  private liveByApp(): Map<string, TaskRecord[]> {
    const m = new Map<string, TaskRecord[]>();
    for (const t of this.driver.liveTasks()) {
      if (!t.app_id || t.kill_requested) continue;
      const l = m.get(t.app_id);
      if (l) l.push(t);
      else m.set(t.app_id, [t]);
    }
    return m;
  }

  private needs(s: AppState, live: Map<string, TaskRecord[]>): number {
    const cur = (live.get(s.app.id) ?? []).filter((t) => t.app_version === s.configVersion).length;
    let pending = 0;
    for (const p of this.pending.values()) if (p.appId === s.app.id) pending++;
    return s.app.instances - cur - pending;
  }

  private backingOff(appId: string): boolean {
    const b = this.backoff.get(appId);
    return b !== undefined && b.until > this.clock.now();
  }

  /** When the app's tasks fail, the next launch waits: backoffSeconds, times factor, capped. */
  private bumpBackoff(s: AppState): void {
    const now = this.clock.now();
    const b = this.backoff.get(s.app.id) ?? { delayMs: 0, until: 0 };
    if (b.until > now) return;
    b.delayMs = b.delayMs ? Math.min(b.delayMs * s.app.backoffFactor, s.app.maxLaunchDelaySeconds * 1000) : s.app.backoffSeconds * 1000;
    b.until = now + b.delayMs;
    this.backoff.set(s.app.id, b);
    this.log.info('app_backoff', { app_id: s.app.id, delay_ms: b.delayMs });
    const timer = this.clock.setTimeout(() => {
      this.timers.delete(timer);
      this.requestReconcile();
      this.driver.revive();
    }, b.delayMs);
    this.timers.add(timer);
  }

  backoffOf(appId: string): Backoff | undefined {
    return this.backoff.get(appId);
  }

  // ---- task updates ----

  onTask(t: TaskRecord, prev: TaskState): void {
    if (t.info.framework_id !== this.driver.frameworkId) return;
    this.pending.delete(t.info.task_id);
    if (t.state !== prev || t.state === 'TASK_STAGING') this.events.emit('status_update_event', statusEvent(t));
    const last = t.statuses.at(-1);
    if (t.state === prev && last?.healthy !== undefined && t.state !== 'TASK_STAGING') {
      const message = last.message ?? '';
      this.events.emit('health_status_changed_event', { appId: t.app_id, taskId: t.info.task_id, instanceId: t.info.task_id, version: t.app_version, alive: last.healthy, message });
      const hc = t.app_id ? this.apps.get(t.app_id)?.app.healthChecks[0] : undefined;
      if (!last.healthy) this.events.emit('failed_health_check_event', { appId: t.app_id, taskId: t.info.task_id, instanceId: t.info.task_id, version: t.app_version, healthCheck: hc ?? {}, message });
    }
    if (isTerminal(t.state) && !t.kill_requested && t.app_id) {
      const s = this.apps.get(t.app_id);
      if (s) {
        this.recordFailure(t);
        this.bumpBackoff(s);
      }
    }
    this.requestReconcile();
  }

  private recordFailure(t: TaskRecord): void {
    const last = t.statuses.at(-1);
    const failure: TaskFailure = {
      appId: t.app_id!,
      host: t.agent_hostname,
      message: last?.message ?? `task ended ${t.state}`,
      state: t.state,
      taskId: t.info.task_id,
      timestamp: new Date((last?.timestamp ?? this.clock.now() / 1000) * 1000).toISOString(),
      version: t.app_version ?? '',
      slaveId: t.info.agent_id,
    };
    this.lastFailure.set(t.app_id!, failure);
    this.log.info('task_failed', { app_id: t.app_id, task_id: t.info.task_id, state: t.state, message: failure.message });
  }

  requestReconcile(): void {
    if (this.reconcileQueued || this.stopped) return;
    this.reconcileQueued = true;
    setImmediate(() => {
      this.reconcileQueued = false;
      this.reconcile().catch((e) => this.log.error('reconcile_failed', { err: e }));
    });
  }

  /** Kill what is not wanted, finish converged deployments, ask for offers when work is left. */
  async reconcile(): Promise<void> {
    if (this.stopped) return;
    const live = this.liveByApp();
    const kills: TaskRecord[] = [];
    for (const [appId, tasks] of live) {
      const s = this.apps.get(appId);
      if (!s) kills.push(...tasks);
      else kills.push(...this.unwanted(s, tasks));
    }
    for (const t of kills) await this.driver.kill(t);
    this.finishDeployments(this.liveByApp());
    if (this.wantsOffers()) this.driver.revive();
  }

  /** Excess current-version tasks, and old-version tasks once enough new ones are ready. */
  private unwanted(s: AppState, tasks: TaskRecord[]): TaskRecord[] {
    const app = s.app;
    const ready = (t: TaskRecord) => t.state === 'TASK_RUNNING' && (app.healthChecks.length === 0 || t.healthy === true);
    const order = (a: TaskRecord, b: TaskRecord) => Number(ready(a)) - Number(ready(b)) || b.staged_at - a.staged_at;
    const cur = tasks.filter((t) => t.app_version === s.configVersion).sort(order);
    const old = tasks.filter((t) => t.app_version !== s.configVersion).sort(order);
    const out = cur.slice(0, Math.max(0, cur.length - app.instances));
    const keptCur = cur.slice(out.length);
    const minReady = Math.ceil(app.instances * app.upgradeStrategy.minimumHealthCapacity);
    let readyTotal = keptCur.filter(ready).length + old.filter(ready).length;
    const readyCur = keptCur.filter(ready).length;
    for (const t of old) {
      if (readyCur >= app.instances || !ready(t)) out.push(t);
      else if (readyTotal - 1 >= minReady) {
        out.push(t);
        readyTotal--;
      }
    }
    return out;
  }

  private finishDeployments(live: Map<string, TaskRecord[]>): void {
    for (const [appId, d] of [...this.deployments]) {
      const tasks = live.get(appId) ?? [];
      const killing = [...this.driver.liveTasks()].some((t) => t.app_id === appId && t.kill_requested);
      const s = this.apps.get(appId);
      let done: boolean;
      if (deploymentAction(d, appId) === 'StopApplication' || !s) done = tasks.length === 0 && !killing;
      else {
        const ok = (t: TaskRecord) => t.app_version === s.configVersion && t.state === 'TASK_RUNNING' && (s.app.healthChecks.length === 0 || t.healthy === true);
        done = tasks.length === s.app.instances && tasks.every(ok) && !killing;
      }
      if (!done) continue;
      this.deployments.delete(appId);
      if ([...this.deployments.values()].includes(d)) continue; // other apps of the deployment still converging
      this.log.info('deployment_finished', { app_id: appId, deployment_id: d.id });
      this.events.emit('deployment_step_success', { plan: planJson(d), currentStep: d.steps[0] });
      this.events.emit('deployment_success', { id: d.id, plan: planJson(d) });
    }
  }
}

/** Two definitions that differ at most in instances (a scale keeps the running tasks). */
function sameConfig(a: App, b: App): boolean {
  return JSON.stringify({ ...a, instances: 0 }) === JSON.stringify({ ...b, instances: 0 });
}
