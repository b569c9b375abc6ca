/**
 * The offer loop: coalesces triggers into allocation rounds, turns accepted offers into task
 * records (persisted as TASK_STAGING before anything is sent) and launches them on agents.
 */
import { randomUUID } from 'node:crypto';
import type { Clock, Logger } from '../common/index.js';
import type { Resources, TaskInfo } from '../contracts/index.js';
import { allocateRound, DeclineFilters, type AgentSlot, type FrameworkScheduler, type FrameworkSlot, type RoundResult } from './allocator.js';
import type { Cluster } from './cluster.js';
import type { AgentClient } from './agent-client.js';
import type { TaskRecord } from './model.js';
import { subtractPorts } from './ports.js';

export interface OfferStats {
  onRound?: (r: RoundResult) => void;
}

export class OfferLoop {
  readonly filters = new DeclineFilters();
  private readonly schedulers = new Map<string, FrameworkScheduler>();
  private pending = false;
  private running = false;
  private again = false;
  private start = 0;
  private stopped = false;
  /** Resolves when the current round (if any) has handed out its launches. */
  idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly cluster: Cluster,
    private readonly client: AgentClient,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly stats: OfferStats = {},
    private readonly maxLaunchesPerRound = 250,
  ) {}

  addFramework(frameworkId: string, s: FrameworkScheduler): void {
    this.schedulers.set(frameworkId, s);
  }

  revive(frameworkId: string): void {
    this.filters.revive(frameworkId);
    this.trigger();
  }

  stop(): void {
    this.stopped = true;
  }

  /** Ask for a round soon; many triggers in one turn make one round. */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.idle = this.round().catch((e) => this.log.error('allocation_failed', { err: e }));
    });
  }

  private async round(): Promise<void> {
    this.running = true;
    try {
      const result = allocateRound({
        agents: this.agentSlots(),
        frameworks: this.frameworkSlots(),
        filters: this.filters,
        nowMs: this.clock.now(),
        startAgent: this.start++,
        maxLaunches: this.maxLaunchesPerRound,
        newOfferId: () => `${this.cluster.masterId}-O${randomUUID().slice(0, 8)}`,
      });
      this.stats.onRound?.(result);
      if (result.launched.length >= this.maxLaunchesPerRound) this.again = true;
      await Promise.all(result.launched.map(({ task }) => this.launch(task)));
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.trigger();
      }
    }
  }

  private agentSlots(): AgentSlot[] {
    const used = new Map<string, { cpus: number; mem: number; disk: number; ports: number[] }>();
    for (const t of this.cluster.tasks.values()) {
      const u = used.get(t.info.agent_id) ?? { cpus: 0, mem: 0, disk: 0, ports: [] };
      u.cpus += t.info.resources.cpus;
      u.mem += t.info.resources.mem;
      u.disk += t.info.resources.disk;
      u.ports.push(...t.info.ports);
      used.set(t.info.agent_id, u);
    }
    return [...this.cluster.agents.values()]
      .filter((a) => a.active && !a.pending)
      .sort((a, b) => (a.agent_id < b.agent_id ? -1 : 1))
      .map((agent) => {
        const u = used.get(agent.agent_id);
        const r = agent.resources;
        const free: Resources = u
          ? { cpus: r.cpus - u.cpus, mem: r.mem - u.mem, disk: r.disk - u.disk, ports: subtractPorts(r.ports, u.ports) }
          : { ...r, ports: r.ports.map(([a, b]) => [a, b]) };
        return { agent, free };
      });
  }

  private frameworkSlots(): FrameworkSlot[] {
    const slots = new Map<string, FrameworkSlot>();
    for (const [id, scheduler] of this.schedulers) slots.set(id, { id, scheduler, allocated: { cpus: 0, mem: 0, disk: 0 } });
    for (const t of this.cluster.tasks.values()) {
      const s = slots.get(t.info.framework_id);
      if (!s) continue;
      s.allocated.cpus += t.info.resources.cpus;
      s.allocated.mem += t.info.resources.mem;
      s.allocated.disk += t.info.resources.disk;
    }
    return [...slots.values()];
  }

  private async launch(info: TaskInfo): Promise<void> {
    const agent = this.cluster.agents.get(info.agent_id);
    if (!agent) return;
    const now = this.cluster.nowSeconds();
    const rec: TaskRecord = {
      info,
      state: 'TASK_STAGING',
      statuses: [],
      agent_ip: agent.ip,
      agent_hostname: agent.hostname,
      task_ips: [],
      ...(info.network ? { network: info.network.name } : {}),
      ...(info.env.MARATHON_APP_ID ? { app_id: info.env.MARATHON_APP_ID } : {}),
      ...(info.env.MARATHON_APP_VERSION ? { app_version: info.env.MARATHON_APP_VERSION } : {}),
      staged_at: now,
    };
    await this.cluster.addTask(rec);
    try {
      await this.client.launch(agent, { task: info });
      this.log.debug('task_launched', { task_id: info.task_id, agent_id: agent.agent_id });
    } catch (e) {
      this.log.warn('launch_failed', { task_id: info.task_id, agent_id: agent.agent_id, err: e });
      await this.cluster.applyStatus(rec, { state: 'TASK_FAILED', timestamp: this.cluster.nowSeconds(), reason: 'REASON_LAUNCH_FAILED', message: (e as Error).message });
    }
  }
}
