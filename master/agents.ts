/**
 * Agent lifecycle on the master: registration (new ids `<masterId>-S<n>` with a secret), the
 * callback that makes a registered agent usable (pending until it answers on its own API),
 * re-registration with reconciliation of running tasks, heartbeats, the unreachable timeout (tasks
 * -> TASK_LOST), operator removal (tasks -> TASK_GONE), the release grace period after which the
 * master forgets an agent, and status updates (only from the task's agent, idempotent by uuid,
 * ordered by the agent's per-task seq).
 */
import { randomBytes } from 'node:crypto';
import type { Clock, Logger } from '../common/index.js';
import { agentProof, ConflictError, hashAgentSecret, newAgentSecret, NotFoundError, proofMatches, UnavailableError } from '../common/index.js';
import type { RegisterRequest, RegisterResponse, StatusUpdate, TaskReport, TaskState } from '../contracts/index.js';
import { KEYS, type AgentRecord, type TaskRecord } from './model.js';
import type { Cluster } from './cluster.js';
import type { AgentClient } from './agent-client.js';
import { AgentRefusedError } from './agent-auth.js';

export interface AgentServiceOptions {
  agentTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** How long an unreachable or removed agent keeps its id, record and overlay share. */
  agentReleaseGraceMs: number;
}

export interface RemoveResult {
  agent_id: string;
  /** Seconds since the epoch when the master forgets it (and the overlay releases its share). */
  release_at: number;
}

export class AgentService {
  private readonly lastSeen = new Map<string, number>();
  private readonly seenUuids = new Set<string>();
  /** Tasks reported by a pending agent, reconciled once it answered the callback. */
  private readonly pendingReports = new Map<string, TaskReport[]>();
  private readonly verifying = new Set<string>();
  private readonly forgetting = new Set<string>();
  private readonly verifiedWaiters = new Map<string, (() => void)[]>();
  private seq = -1;
  /** Agents whose registration is being processed: never timed out meanwhile. */
  private readonly registering = new Set<string>();
  /** Agents active in the loaded state that have not re-registered with this master yet. */
  private readonly awaited = new Set<string>();
  private awaitedListeners = new Set<() => void>();
  /**
   * True while a new leader's services have not started: only known agents re-registering from the
   * address they had are admitted (the services' address claims are not there to check a new one).
   */
  onlyKnownAgents: () => boolean = () => false;
  /** Called when resources appear (registration) so offers go out. */
  onResources: () => void = () => {};
  /** Called with the id of every agent forgotten after its grace period. */
  onForgotten: (id: string) => void = () => {};
  /** Every callback's outcome (metrics, tests). */
  readonly verifyListeners = new Set<(agentId: string, ok: boolean, why?: string) => void>();
  /** Rate-limited log for what any caller can trigger (the failed callbacks of spoofed registrations). */
  noisyLog: Logger;

  constructor(
    private readonly cluster: Cluster,
    private readonly client: AgentClient,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: AgentServiceOptions,
  ) {
    this.noisyLog = log;
  }

  /** After a restart every known agent gets a full timeout to re-register. */
  async recover(): Promise<void> {
    this.seq = (await this.cluster.store.get<number>(KEYS.agentSeq)) ?? -1;
    for (const a of this.cluster.agents.values()) {
      if (a.active) {
        this.lastSeen.set(a.agent_id, this.clock.now());
        this.awaited.add(a.agent_id);
      }
      // Records from before the grace period existed: it starts now.
      else if (a.inactive_since === undefined) await this.cluster.putAgent({ ...a, inactive_since: this.cluster.nowSeconds() });
    }
  }

  /**
   * Resolves once every agent that was active in the loaded state has re-registered (or is no
   * longer active), or after `ms`: a new leader starts its other services after its agents are back.
   */
  reregistered(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.clock.clearTimeout(timer);
        this.awaitedListeners.delete(check);
        resolve();
      };
      const check = () => {
        for (const id of this.awaited) if (!this.cluster.agents.get(id)?.active) this.awaited.delete(id);
        if (!this.awaited.size) done();
      };
      const timer = this.clock.setTimeout(done, ms);
      this.awaitedListeners.add(check);
      check();
    });
  }

  /** How many agents active in the loaded state have not re-registered yet. */
  get notReregistered(): number {
    return this.awaited.size;
  }

  private arrived(id: string): void {
    if (!this.awaited.delete(id)) return;
    for (const fn of [...this.awaitedListeners]) fn();
  }

  /**
   * A registration. `req.agent_id` set means a re-registration, which the route has checked comes
   * from that agent (its secret), or from a record that has none yet (it gets one now).
   */
  async register(req: RegisterRequest, issueCertificate?: (agentId: string) => Promise<string>): Promise<RegisterResponse> {
    const known = req.agent_id ? this.cluster.agents.get(req.agent_id) : undefined;
    if (req.agent_id && !known) throw new AgentRefusedError(403, 'unknown_agent', `agent ${req.agent_id} is not known to this master: register as a new agent`);
    if (this.onlyKnownAgents() && (!known || known.ip !== req.ip || known.ip6 !== req.ip6))
      throw new UnavailableError(`this master was just elected and is starting its services: it re-registers known agents from their registered address only; ${known ? `agent ${known.agent_id} moved from ${known.ip}` : 'a new agent'} can register in a few seconds (retry)`);
    if (!known) return this.registerNow(req, known, issueCertificate);
    this.registering.add(known.agent_id);
    try {
      return await this.registerNow(req, known, issueCertificate);
    } finally {
      this.registering.delete(known.agent_id);
    }
  }

  private async registerNow(req: RegisterRequest, known: AgentRecord | undefined, issueCertificate?: (agentId: string) => Promise<string>): Promise<RegisterResponse> {
    const now = this.cluster.nowSeconds();
    const id = known?.agent_id ?? (await this.newAgentId());
    // TLS bootstrap: signed before anything is stored (a CSR that cannot be signed leaves no record).
    const certificate = issueCertificate ? await issueCertificate(id) : undefined;
    const secret = known?.secret_sha256 ? undefined : newAgentSecret();
    // Usable only once it answers on the address it gives: a new agent, or a known one that moved.
    const pending = !known || known.pending === true || known.ip !== req.ip || known.port !== req.port;
    const { tasks: reports, agent_id: _id, csr: _csr, ...reg } = req;
    const rec: AgentRecord = {
      ...reg,
      agent_id: id,
      active: true,
      registered_time: known?.registered_time ?? now,
      ...(known ? { reregistered_time: now } : {}),
      secret_sha256: secret ? hashAgentSecret(secret) : known!.secret_sha256!,
      ...(pending ? { pending: true } : {}),
    };
    this.lastSeen.set(id, this.clock.now());
    await this.cluster.putAgent(rec);
    this.lastSeen.set(id, this.clock.now()); // seen again once written (the write may have waited)
    this.log.info(known ? 'agent_reregistered' : 'agent_registered', { agent_id: id, ip: req.ip, port: req.port, tasks: reports.length, pending });
    if (pending) {
      this.pendingReports.set(id, reports);
      // After the answer is on its way: the agent needs its id and secret to answer the ping.
      setImmediate(() => this.verify(id));
    } else {
      await this.reconcile(rec, reports);
      this.onResources();
    }
    this.arrived(id);
    return {
      agent_id: id,
      master_id: this.cluster.masterId,
      heartbeat_interval_ms: this.opts.heartbeatIntervalMs,
      ...(secret ? { agent_secret: secret } : {}),
      ...(pending ? { pending: true } : {}),
      ...(certificate ? { certificate } : {}),
    };
  }

  heartbeat(agentId: string): void {
    const a = this.cluster.agents.get(agentId);
    if (!a || !a.active) throw new NotFoundError(`agent ${agentId} is not registered: re-register`);
    this.lastSeen.set(agentId, this.clock.now());
    if (a.pending) this.verify(agentId);
  }

  /** Resolves once the agent answered the callback (tests, tools). */
  whenVerified(agentId: string): Promise<void> {
    const a = this.cluster.agents.get(agentId);
    if (a && a.active && !a.pending) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.verifiedWaiters.get(agentId) ?? [];
      list.push(resolve);
      this.verifiedWaiters.set(agentId, list);
    });
  }

  /**
   * Call the agent back on its advertised ip:port: it must answer with its id and the proof that
   * it holds the secret. Until then it gets no offers and no overlay share.
   */
  verify(agentId: string): void {
    const a = this.cluster.agents.get(agentId);
    if (!a || !a.active || !a.pending || !a.secret_sha256 || this.verifying.has(agentId)) return;
    this.verifying.add(agentId);
    const nonce = randomBytes(16).toString('hex');
    const expected = agentProof(a.secret_sha256, nonce);
    this.client
      .ping(a, { agent_id: agentId, nonce })
      .then(async (r) => {
        if (r.agent_id !== agentId) throw new Error(`${a.ip}:${a.port} answered as agent ${r.agent_id}`);
        if (!proofMatches(r.proof, expected)) throw new Error(`${a.ip}:${a.port} answered without the proof of agent ${agentId}'s secret`);
        const cur = this.cluster.agents.get(agentId);
        // Re-registered meanwhile (another address or secret): that registration verifies itself.
        if (!cur || !cur.active || !cur.pending || cur.ip !== a.ip || cur.port !== a.port || cur.secret_sha256 !== a.secret_sha256) return;
        const { pending: _p, ...next } = cur;
        await this.cluster.putAgent(next);
        this.log.info('agent_verified', { agent_id: agentId, ip: a.ip, port: a.port });
        await this.retireSameAddress(next);
        const reports = this.pendingReports.get(agentId) ?? [];
        this.pendingReports.delete(agentId);
        await this.reconcile(next, reports);
        this.onResources();
        for (const w of this.verifiedWaiters.get(agentId) ?? []) w();
        this.verifiedWaiters.delete(agentId);
        for (const fn of this.verifyListeners) fn(agentId, true);
      })
      .catch((e) => {
        this.noisyLog.warn('agent_unverified', { agent_id: agentId, ip: a.ip, port: a.port, why: (e as Error).message });
        for (const fn of this.verifyListeners) fn(agentId, false, (e as Error).message);
      })
      .finally(() => this.verifying.delete(agentId));
  }

  /**
   * A status update from `fromAgent` (authenticated). Only for a task on that agent; 'stale' when
   * its seq is not above the last applied for the task (dropped, nothing changed).
   */
  async status(u: StatusUpdate, fromAgent: string): Promise<'applied' | 'duplicate' | 'stale'> {
    const t = this.cluster.tasks.get(u.task_id);
    if (t && t.info.agent_id !== fromAgent) throw new AgentRefusedError(403, 'not_task_owner', `task ${u.task_id} does not run on agent ${fromAgent}`);
    if (this.seenUuids.has(u.uuid)) return 'duplicate';
    if (t && u.seq <= (t.last_seq ?? 0)) return 'stale';
    this.remember(u.uuid);
    if (!t) {
      const a = this.cluster.agents.get(fromAgent);
      if (!isTerminalState(u.state) && a && !a.pending) this.killUnknown(fromAgent, u.task_id);
      return 'applied';
    }
    const r = await this.cluster.applyStatus(
      t,
      {
        state: u.state,
        timestamp: u.timestamp,
        ...(u.healthy !== undefined ? { healthy: u.healthy } : {}),
        ...(u.message ? { message: u.message } : {}),
        ...(u.reason ? { reason: u.reason } : {}),
        ...(u.container_status ? { container_status: u.container_status } : {}),
      },
      u.seq,
    );
    if (r === 'stale') return 'stale';
    // A launch that raced its kill: the task came up anyway, so kill it again.
    if (t.kill_requested && !isTerminalState(u.state) && u.state !== 'TASK_KILLING') this.kill(t);
    return 'applied';
  }

  /**
   * Mark agents silent for longer than the timeout unreachable (their tasks become TASK_LOST), and
   * forget agents inactive for longer than the release grace period.
   */
  async checkTimeouts(): Promise<void> {
    const now = this.clock.now();
    for (const a of [...this.cluster.agents.values()]) {
      if (!a.active) {
        if (a.inactive_since !== undefined && now - a.inactive_since * 1000 >= this.opts.agentReleaseGraceMs) await this.forget(a);
        continue;
      }
      if (this.registering.has(a.agent_id)) continue; // its re-registration is being written
      const seen = this.lastSeen.get(a.agent_id) ?? now;
      if (!this.lastSeen.has(a.agent_id)) this.lastSeen.set(a.agent_id, now);
      if (now - seen > this.opts.agentTimeoutMs) await this.markUnreachable(a, `no heartbeat for ${now - seen} ms`);
    }
  }

  async markUnreachable(a: AgentRecord, why: string, state: TaskState = 'TASK_LOST', reason = 'REASON_AGENT_DISCONNECTED'): Promise<void> {
    if (!a.active) return;
    // Flip it now, before any await, so overlapping checks mark it once.
    a.active = false;
    a.inactive_since ??= this.cluster.nowSeconds();
    this.log.warn('agent_unreachable', { agent_id: a.agent_id, ip: a.ip, why });
    await this.cluster.putAgent(a);
    for (const t of this.cluster.tasksOnAgent(a.agent_id)) {
      await this.cluster.applyStatus(t, { state, timestamp: this.cluster.nowSeconds(), reason, message: `agent ${a.agent_id} ${state === 'TASK_GONE' ? 'removed' : 'unreachable'}: ${why}` });
    }
  }

  /**
   * `sextant node rm`: the agent is deactivated now (its tasks TASK_GONE, replaced by Marathon) and
   * forgotten after the grace period, overlay share included; it may come back within the grace.
   * An agent still heartbeating is refused unless forced (it would re-register at once).
   */
  async remove(agentId: string, force: boolean): Promise<RemoveResult> {
    const a = this.cluster.agents.get(agentId);
    if (!a) throw new NotFoundError(`agent ${agentId} is not known to this master`);
    if (a.active && !force) {
      const ago = this.clock.now() - (this.lastSeen.get(agentId) ?? this.clock.now());
      throw new ConflictError(`agent ${agentId} is active (last heartbeat ${ago} ms ago): stop it first, or remove it with force (it will re-register while it runs)`);
    }
    const now = this.cluster.nowSeconds();
    if (a.active) await this.markUnreachable(a, 'removed by the operator', 'TASK_GONE', 'REASON_AGENT_REMOVED');
    const next: AgentRecord = { ...this.cluster.agents.get(agentId)!, removed: true, inactive_since: Math.min(a.inactive_since ?? now, now) };
    await this.cluster.putAgent(next);
    this.log.warn('agent_removed', { agent_id: agentId, ip: a.ip, release_in_ms: this.opts.agentReleaseGraceMs });
    return { agent_id: agentId, release_at: next.inactive_since! + this.opts.agentReleaseGraceMs / 1000 };
  }

  /** Forget an agent past its grace period: record gone from the store and the state. */
  private async forget(a: AgentRecord): Promise<void> {
    // Overlapping timeout checks: forget it once.
    if (this.forgetting.has(a.agent_id)) return;
    this.forgetting.add(a.agent_id);
    try {
      await this.forgetNow(a);
    } finally {
      this.forgetting.delete(a.agent_id);
    }
  }

  private async forgetNow(a: AgentRecord): Promise<void> {
    if (this.cluster.agents.get(a.agent_id) !== a || a.active) return;
    const tasks = this.cluster.tasksOnAgent(a.agent_id);
    for (const t of tasks) await this.cluster.applyStatus(t, { state: 'TASK_GONE', timestamp: this.cluster.nowSeconds(), reason: 'REASON_AGENT_REMOVED', message: `agent ${a.agent_id} released` });
    await this.cluster.removeAgent(a.agent_id);
    this.lastSeen.delete(a.agent_id);
    this.pendingReports.delete(a.agent_id);
    this.log.info('agent_released', { agent_id: a.agent_id, ip: a.ip, inactive_since: a.inactive_since, removed: a.removed === true });
    this.onForgotten(a.agent_id);
  }

  /** Kill a task on an agent (best effort; a failed kill is retried on re-registration). */
  kill(t: TaskRecord): void {
    const a = this.cluster.agents.get(t.info.agent_id);
    if (!a || !a.active) return;
    this.client.kill(a, { task_id: t.info.task_id, grace_period_ms: t.info.kill_grace_period_ms }).catch((e) => this.log.warn('kill_failed', { task_id: t.info.task_id, err: e }));
  }

  /**
   * An agent came back with the tasks it runs: known tasks take the reported state, tasks the
   * master expected but the agent lacks are LOST, tasks the master does not know are killed.
   */
  private async reconcile(a: AgentRecord, reports: TaskReport[]): Promise<void> {
    const byId = new Map(reports.map((r) => [r.task_id, r]));
    for (const t of this.cluster.tasksOnAgent(a.agent_id)) {
      const r = byId.get(t.info.task_id);
      byId.delete(t.info.task_id);
      if (!r) {
        if (t.state === 'TASK_STAGING') continue; // the launch may still be in flight
        await this.cluster.applyStatus(t, { state: 'TASK_LOST', timestamp: this.cluster.nowSeconds(), reason: 'REASON_RECONCILIATION', message: 'not reported by its agent on re-registration' });
        continue;
      }
      const s = { state: r.state, timestamp: r.timestamp, ...(r.healthy !== undefined ? { healthy: r.healthy } : {}), ...(r.container_status ? { container_status: r.container_status } : {}) };
      await this.cluster.applyStatus(t, s, r.seq);
      if (t.kill_requested) this.kill(t);
    }
    for (const r of byId.values()) if (!isTerminalState(r.state)) this.killUnknown(a.agent_id, r.task_id);
  }

  private killUnknown(agentId: string, taskId: string): void {
    const a = this.cluster.agents.get(agentId);
    if (!a) return;
    this.log.info('killing_unknown_task', { agent_id: agentId, task_id: taskId });
    this.client.kill(a, { task_id: taskId }).catch((e) => this.log.warn('kill_failed', { task_id: taskId, err: e }));
  }

  /** A verified agent on an address another active agent had: that agent is gone. */
  private async retireSameAddress(now: AgentRecord): Promise<void> {
    for (const a of [...this.cluster.agents.values()])
      if (a.agent_id !== now.agent_id && a.active && a.ip === now.ip && a.port === now.port) await this.markUnreachable(a, `replaced by agent ${now.agent_id} on the same address`);
  }

  private async newAgentId(): Promise<string> {
    const n = ++this.seq;
    await this.cluster.store.put(KEYS.agentSeq, n);
    return `${this.cluster.masterId}-S${n}`;
  }

  private remember(uuid: string): void {
    this.seenUuids.add(uuid);
    if (this.seenUuids.size > 50_000) {
      const first = this.seenUuids.values().next().value;
      if (first !== undefined) this.seenUuids.delete(first);
    }
  }
}

function isTerminalState(s: string): boolean {
  return ['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_ERROR', 'TASK_GONE'].includes(s);
}
