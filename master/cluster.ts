/**
 * The master's in-memory read model (agents, live tasks, recently completed tasks, frameworks)
 * and its persistence: every change is written to the store before it is acknowledged, then
 * listeners run. Terminal tasks leave the store and stay in a bounded in-memory history.
 */
import type { Clock } from '../common/index.js';
import type { KvStore, TaskState } from './protocol.js';
import { KEYS, isTerminal, type AgentRecord, type FrameworkRecord, type TaskRecord, type TaskStatusRecord } from './model.js';

export type TaskListener = (task: TaskRecord, prev: TaskState) => void;

const MAX_STATUSES = 10;

export class Cluster {
  masterId = '';
  readonly agents = new Map<string, AgentRecord>();
  /** Live (non-terminal) tasks. */
  readonly tasks = new Map<string, TaskRecord>();
  readonly completed: TaskRecord[] = [];
  readonly frameworks = new Map<string, FrameworkRecord>();
  /** Bumped on every change (state JSON cache key). */
  version = 0;
  /** Per-task revision, bumped on every change of that task (per-task JSON cache key). */
  private readonly revs = new WeakMap<TaskRecord, number>();
  private readonly changeListeners = new Set<() => void>();
  private readonly taskListeners = new Set<TaskListener>();

  constructor(
    readonly store: KvStore,
    private readonly clock: Clock,
    private readonly maxCompleted = 1000,
  ) {}

  nowSeconds(): number {
    return this.clock.now() / 1000;
  }

  /** Read everything back from the store (after a restart). */
  async load(newId: () => string): Promise<void> {
    let id = await this.store.get<string>(KEYS.masterId);
    if (!id) {
      id = newId();
      await this.store.put(KEYS.masterId, id);
    }
    this.masterId = id;
    for (const [, a] of await this.store.list<AgentRecord>(KEYS.agents)) this.agents.set(a.agent_id, a);
    for (const [, t] of await this.store.list<TaskRecord>(KEYS.tasks)) this.tasks.set(t.info.task_id, t);
    for (const [, f] of await this.store.list<FrameworkRecord>(KEYS.frameworks)) this.frameworks.set(f.id, f);
  }

  onChange(fn: () => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  onTask(fn: TaskListener): () => void {
    this.taskListeners.add(fn);
    return () => this.taskListeners.delete(fn);
  }

  revOf(t: TaskRecord): number {
    return this.revs.get(t) ?? 0;
  }

  private touch(t: TaskRecord): void {
    this.revs.set(t, this.revOf(t) + 1);
  }

  changed(): void {
    this.version++;
    for (const fn of this.changeListeners) {
      try {
        fn();
      } catch {
        /* a listener's failure is its own */
      }
    }
  }

  async putAgent(a: AgentRecord): Promise<void> {
    this.agents.set(a.agent_id, a);
    await this.store.put(KEYS.agent(a.agent_id), a);
    this.changed();
  }

  async putFramework(f: FrameworkRecord): Promise<void> {
    this.frameworks.set(f.id, f);
    await this.store.put(KEYS.framework(f.name), f);
    this.changed();
  }

  /** A new task: persisted before the launch goes out. */
  async addTask(t: TaskRecord): Promise<void> {
    this.tasks.set(t.info.task_id, t);
    await this.store.put(KEYS.task(t.info.task_id), t);
    this.emitTask(t, t.state);
    this.changed();
  }

  /** Persist a change to a live task that is not a status (e.g. a kill request). */
  async saveTask(t: TaskRecord): Promise<void> {
    this.touch(t);
    if (this.tasks.has(t.info.task_id)) await this.store.put(KEYS.task(t.info.task_id), t);
    this.changed();
  }

  /**
   * Apply a status to a live task; returns false (and changes nothing) for a task already
   * terminal or a status that repeats the current state and health.
   */
  async applyStatus(t: TaskRecord, s: TaskStatusRecord): Promise<boolean> {
    if (isTerminal(t.state) || !this.tasks.has(t.info.task_id)) return false;
    const prev = t.state;
    this.touch(t);
    const healthChanged = s.healthy !== undefined && s.healthy !== t.healthy;
    if (s.state === prev && !healthChanged && !s.container_status) return false;
    t.state = s.state;
    if (s.healthy !== undefined) t.healthy = s.healthy;
    if (s.state === 'TASK_RUNNING' && t.started_at === undefined) t.started_at = s.timestamp;
    const ips = s.container_status?.network_infos.flatMap((n) => n.ip_addresses.map((a) => a.ip_address)) ?? [];
    if (ips.length) t.task_ips = ips;
    if (s.state !== prev || healthChanged) {
      t.statuses.push(s);
      if (t.statuses.length > MAX_STATUSES) t.statuses.splice(0, t.statuses.length - MAX_STATUSES);
    }
    if (isTerminal(s.state)) {
      this.tasks.delete(t.info.task_id);
      this.completed.push(t);
      if (this.completed.length > this.maxCompleted) this.completed.splice(0, this.completed.length - this.maxCompleted);
      await this.store.delete(KEYS.task(t.info.task_id));
    } else {
      await this.store.put(KEYS.task(t.info.task_id), t);
    }
    this.emitTask(t, prev);
    this.changed();
    return true;
  }

  tasksOnAgent(agentId: string): TaskRecord[] {
    return [...this.tasks.values()].filter((t) => t.info.agent_id === agentId);
  }

  private emitTask(t: TaskRecord, prev: TaskState): void {
    for (const fn of this.taskListeners) {
      try {
        fn(t, prev);
      } catch {
        /* a listener's failure is its own */
      }
    }
  }
}
