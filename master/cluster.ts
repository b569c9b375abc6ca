/**
 * The master's in-memory read model (agents, live tasks, recently completed tasks, frameworks)
 * and its persistence: every change is written to the store before it is acknowledged, then
 * listeners run. Terminal tasks leave the store and stay in a bounded in-memory history.
 */
import type { Clock } from '../common/index.js';
import type { KvStore, TaskState } from '../contracts/index.js';
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
    // Listed concurrently: a new leader's take-over waits on this (ZooKeeper: one round trip per znode).
    const [agents, tasks, frameworks] = await Promise.all([this.store.list<AgentRecord>(KEYS.agents), this.store.list<TaskRecord>(KEYS.tasks), this.store.list<FrameworkRecord>(KEYS.frameworks)]);
    for (const [, a] of agents) this.agents.set(a.agent_id, a);
    for (const [, t] of tasks) this.tasks.set(t.info.task_id, t);
    for (const [, f] of frameworks) this.frameworks.set(f.id, f);
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

  /** Per task: the tail of its status updates being applied (see applyStatus). */
  private readonly statusChains = new Map<string, Promise<unknown>>();

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

  /** Forget an agent (released after its grace period): gone from the store and the state. */
  async removeAgent(id: string): Promise<void> {
    await this.store.delete(KEYS.agent(id));
    this.agents.delete(id);
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
   * terminal or a status that repeats the current state and health. The new record is made
   * durable first and only then becomes visible (state API, listeners): a master killed in
   * between restarts with what it had shown, never less. With `seq` (the agent's per-task
   * sequence number), a status whose seq is not above the last applied one is dropped ('stale').
   */
  applyStatus(t: TaskRecord, s: TaskStatusRecord, seq?: number): Promise<boolean | 'stale'> {
    // One status at a time per task: each builds on the record the previous one made durable.
    const id = t.info.task_id;
    const run = (this.statusChains.get(id) ?? Promise.resolve()).then(() => this.applyStatusNow(t, s, seq));
    const tail = run.catch(() => undefined);
    this.statusChains.set(id, tail);
    void tail.then(() => {
      if (this.statusChains.get(id) === tail) this.statusChains.delete(id);
    });
    return run;
  }

  private async applyStatusNow(t: TaskRecord, s: TaskStatusRecord, seq?: number): Promise<boolean | 'stale'> {
    if (seq !== undefined && seq <= (t.last_seq ?? 0)) return 'stale';
    if (isTerminal(t.state) || !this.tasks.has(t.info.task_id)) return false;
    const prev = t.state;
    const healthChanged = s.healthy !== undefined && s.healthy !== t.healthy;
    // A no-op status still moves the sequence on (in memory; the next real change persists it).
    if (seq !== undefined) t.last_seq = seq;
    if (s.state === prev && !healthChanged && !s.container_status) return false;
    const next: TaskRecord = { ...t, state: s.state, statuses: t.statuses };
    if (s.healthy !== undefined) next.healthy = s.healthy;
    if (s.state === 'TASK_RUNNING' && t.started_at === undefined) next.started_at = s.timestamp;
    const ips = s.container_status?.network_infos.flatMap((n) => n.ip_addresses.map((a) => a.ip_address)) ?? [];
    if (ips.length) next.task_ips = ips;
    if (s.state !== prev || healthChanged) next.statuses = [...t.statuses, s].slice(-MAX_STATUSES);
    const terminal = isTerminal(s.state);
    if (terminal) await this.store.delete(KEYS.task(t.info.task_id));
    else await this.store.put(KEYS.task(t.info.task_id), next);
    Object.assign(t, next);
    this.touch(t);
    if (terminal) {
      this.tasks.delete(t.info.task_id);
      this.completed.push(t);
      if (this.completed.length > this.maxCompleted) this.completed.splice(0, this.completed.length - this.maxCompleted);
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
