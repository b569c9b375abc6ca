/**
 * Agent lifecycle on the master: registration (new ids `<masterId>-S<n>`), re-registration with
 * reconciliation of running tasks, heartbeats, the unreachable timeout (tasks -> TASK_LOST) and
 * status updates (idempotent by uuid).
 */
import type { Clock, Logger } from '../common/index.js';
import { NotFoundError } from '../common/index.js';
import type { RegisterRequest, RegisterResponse, StatusUpdate, TaskReport } from '../contracts/index.js';
import { KEYS, type AgentRecord, type TaskRecord } from './model.js';
import type { Cluster } from './cluster.js';
import type { AgentClient } from './agent-client.js';

export interface AgentServiceOptions {
  agentTimeoutMs: number;
  heartbeatIntervalMs: number;
}

export class AgentService {
  private readonly lastSeen = new Map<string, number>();
  private readonly seenUuids = new Set<string>();
  private seq = -1;
  /** Called when resources appear (registration) so offers go out. */
  onResources: () => void = () => {};

  constructor(
    private readonly cluster: Cluster,
    private readonly client: AgentClient,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: AgentServiceOptions,
  ) {}

  /** After a restart every known agent gets a full timeout to re-register. */
  async recover(): Promise<void> {
    this.seq = (await this.cluster.store.get<number>(KEYS.agentSeq)) ?? -1;
    for (const a of this.cluster.agents.values()) if (a.active) this.lastSeen.set(a.agent_id, this.clock.now());
  }

  async register(req: RegisterRequest): Promise<RegisterResponse> {
    const now = this.cluster.nowSeconds();
    const known = req.agent_id ? this.cluster.agents.get(req.agent_id) : undefined;
    const id = req.agent_id ?? (await this.newAgentId());
    if (!req.agent_id) await this.retireSameAddress(req);
    const { tasks: _reports, ...reg } = req;
    const rec: AgentRecord = {
      ...reg,
      agent_id: id,
      active: true,
      registered_time: known?.registered_time ?? now,
      ...(known || req.agent_id ? { reregistered_time: now } : {}),
    };
    this.lastSeen.set(id, this.clock.now());
    await this.cluster.putAgent(rec);
    this.log.info(known || req.agent_id ? 'agent_reregistered' : 'agent_registered', { agent_id: id, ip: req.ip, tasks: req.tasks.length });
    await this.reconcile(rec, req.tasks);
    this.onResources();
    return { agent_id: id, master_id: this.cluster.masterId, heartbeat_interval_ms: this.opts.heartbeatIntervalMs };
  }

  heartbeat(agentId: string): void {
    const a = this.cluster.agents.get(agentId);
    if (!a || !a.active) throw new NotFoundError(`agent ${agentId} is not registered: re-register`);
    this.lastSeen.set(agentId, this.clock.now());
  }

  async status(u: StatusUpdate): Promise<void> {
    if (this.seenUuids.has(u.uuid)) return;
    this.remember(u.uuid);
    const t = this.cluster.tasks.get(u.task_id);
    if (!t) {
      if (!isTerminalState(u.state)) this.killUnknown(u.agent_id, u.task_id);
      return;
    }
    await this.cluster.applyStatus(t, {
      state: u.state,
      timestamp: u.timestamp,
      ...(u.healthy !== undefined ? { healthy: u.healthy } : {}),
      ...(u.message ? { message: u.message } : {}),
      ...(u.reason ? { reason: u.reason } : {}),
      ...(u.container_status ? { container_status: u.container_status } : {}),
    });
    // A launch that raced its kill: the task came up anyway, so kill it again.
    if (t.kill_requested && !isTerminalState(u.state) && u.state !== 'TASK_KILLING') this.kill(t);
  }

  /** Mark agents silent for longer than the timeout unreachable; their tasks become TASK_LOST. */
  async checkTimeouts(): Promise<void> {
    const now = this.clock.now();
    for (const a of this.cluster.agents.values()) {
      if (!a.active) continue;
      const seen = this.lastSeen.get(a.agent_id) ?? now;
      if (!this.lastSeen.has(a.agent_id)) this.lastSeen.set(a.agent_id, now);
      if (now - seen > this.opts.agentTimeoutMs) await this.markUnreachable(a, `no heartbeat for ${now - seen} ms`);
    }
  }

  async markUnreachable(a: AgentRecord, why: string): Promise<void> {
    if (!a.active) return;
    // Flip it now, before any await, so overlapping checks mark it once.
    a.active = false;
    this.log.warn('agent_unreachable', { agent_id: a.agent_id, ip: a.ip, why });
    await this.cluster.putAgent(a);
    for (const t of this.cluster.tasksOnAgent(a.agent_id)) {
      await this.cluster.applyStatus(t, { state: 'TASK_LOST', timestamp: this.cluster.nowSeconds(), reason: 'REASON_AGENT_DISCONNECTED', message: `agent ${a.agent_id} unreachable: ${why}` });
    }
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
      await this.cluster.applyStatus(t, { state: r.state, timestamp: r.timestamp, ...(r.healthy !== undefined ? { healthy: r.healthy } : {}), ...(r.container_status ? { container_status: r.container_status } : {}) });
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

  /** A fresh registration from an address an active agent had: that agent is gone. */
  private async retireSameAddress(req: RegisterRequest): Promise<void> {
    for (const a of this.cluster.agents.values())
      if (a.active && a.ip === req.ip && a.port === req.port) await this.markUnreachable(a, 'replaced by a new agent on the same address');
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
