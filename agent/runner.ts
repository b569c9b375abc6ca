/**
 * The task runner: each task is a real process (`sh -c cmd`, or the command and its arguments) in
 * its own process group, with its sandbox as cwd and stdout/stderr files there. States:
 * TASK_STARTING -> TASK_RUNNING -> TASK_FINISHED (exit 0) | TASK_FAILED (non-zero, signal, spawn
 * error) | TASK_KILLED (we killed it). Kill = SIGTERM to the group, SIGKILL after the grace period.
 * When a task ends, whatever is left of its group is SIGKILLed, so nothing is orphaned.
 *
 * Recovery (agent restarted, even after kill -9): every task's pid, start time and state are
 * checkpointed; a live task (same pid and start time) is re-adopted and watched by polling /proc
 * (its exit status is then unknown: TASK_FAILED unless we were killing it); a task whose process
 * is gone is reported TASK_FAILED (or TASK_KILLED when a kill was under way).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock, type Clock } from '../common/clock.js';
import { ConflictError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/log.js';
import { inNetns } from '../common/netns.js';
import { TERMINAL_STATES, type TaskInfo, type TaskState } from '../contracts/index.js';
import { NoNetworkAttacherError } from './errors.js';
import { HealthChecker } from './health.js';
import type { NetworkAttacher } from '../contracts/index.js';
import type { Probe, ProbeTarget } from './probes.js';
import { processStartTime, sameProcessAlive, signalGroup } from './proc.js';
import type { TaskRecord, TaskStatusEntry, WorkDir } from './workdir.js';

export interface RunnerOptions {
  workDir: WorkDir;
  agentIp: string;
  clock?: Clock;
  log?: Logger;
  attacher?: NetworkAttacher;
  /** Where tasks on virtual networks resolve names (dispatcher addresses). */
  nameservers?: string[];
  /** Environment every task starts from; TaskInfo.env goes on top. */
  baseEnv?: Record<string, string>;
  probe?: Probe;
  /** How often re-adopted tasks are checked for exit. */
  adoptPollMs?: number;
  maxStatuses?: number;
  onHealthResult?(ok: boolean): void;
}

export type StatusListener = (rec: TaskRecord, entry: TaskStatusEntry) => void;

interface Live {
  rec: TaskRecord;
  child?: ChildProcess;
  killTimer?: unknown;
  pollTimer?: unknown;
  health?: HealthChecker;
}

const isTerminal = (s: TaskState) => TERMINAL_STATES.has(s);

export function defaultBaseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'USER', 'LOGNAME', 'SHELL', 'TMPDIR']) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin';
  return env;
}

export class TaskRunner {
  private readonly tasks = new Map<string, Live>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly waiters = new Set<() => void>();
  /** Network detaches (CNI DEL + namespace removal) still running; killAll waits for them. */
  private readonly detaching = new Set<Promise<void>>();
  private stopped = false;
  /** Set by killAll: launches that arrive while the agent is ending its tasks fail at once. */
  private draining = false;
  onStatus: StatusListener = () => {};

  constructor(private readonly opts: RunnerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? createLogger('agent');
  }

  /** Install (or replace) the virtual-network attacher, e.g. once the CNI plugin is set up. */
  setAttacher(a: NetworkAttacher | undefined): void {
    this.opts.attacher = a;
    if (a && this.opts.nameservers) this.setNameservers(this.opts.nameservers);
  }

  /** Where tasks on virtual networks resolve names from now on (the dispatcher's addresses). */
  setNameservers(ns: string[]): void {
    this.opts.nameservers = ns;
    // Tasks attached before (launched before the dispatcher came up, or adopted after a restart).
    for (const live of this.tasks.values()) if (live.rec.attachment && !isTerminal(live.rec.state)) void this.pushNameservers(live, ns);
  }

  private async pushNameservers(live: Live, ns: string[]): Promise<void> {
    const netns = live.rec.attachment?.netns;
    if (!netns || !this.opts.attacher?.setNameservers) return;
    try {
      await this.opts.attacher.setNameservers(netns, ns);
      this.log.info('task_nameservers_updated', { task_id: live.rec.info.task_id, netns, nameservers: ns });
    } catch (err) {
      this.log.warn('task_nameservers_not_updated', { task_id: live.rec.info.task_id, netns, err });
    }
  }

  list(): TaskRecord[] {
    return [...this.tasks.values()].map((l) => l.rec);
  }

  get(taskId: string): TaskRecord | undefined {
    return this.tasks.get(taskId)?.rec;
  }

  /** Start a task; resolves once it is STARTING (the process comes up in the background). */
  launch(info: TaskInfo): void {
    if (this.tasks.has(info.task_id)) throw new ConflictError(`task ${info.task_id} already exists on this agent`);
    const live: Live = { rec: { info, state: 'TASK_STAGING', statuses: [] } };
    this.tasks.set(info.task_id, live);
    mkdirSync(this.opts.workDir.sandbox(info.task_id), { recursive: true });
    this.transition(live, 'TASK_STARTING');
    this.log.info('task_launching', { task_id: info.task_id, cmd: info.command.value.slice(0, 200) });
    if (this.draining) return this.finish(live, { failMessage: 'the agent is stopping and killing its tasks; not launching new ones', reason: 'REASON_CONTAINER_LAUNCH_FAILED' });
    if (!info.network) return this.spawnTask(live);
    void this.attachThenSpawn(live, info.network.name);
  }

  private async attachThenSpawn(live: Live, network: string): Promise<void> {
    const info = live.rec.info;
    if (!this.opts.attacher) return this.finish(live, { failMessage: new NoNetworkAttacherError(network).message, reason: 'REASON_CONTAINER_LAUNCH_FAILED' });
    const nameservers = this.opts.nameservers ?? [];
    try {
      live.rec.attachment = await this.opts.attacher.attach({
        task_id: info.task_id,
        network,
        port_mappings: info.network?.port_mappings ?? [],
        nameservers,
      });
    } catch (e) {
      return this.finish(live, { failMessage: `attaching to network '${network}' failed: ${(e as Error).message}`, reason: 'REASON_CONTAINER_LAUNCH_FAILED' });
    }
    // The nameservers changed while this task was being attached.
    if (this.opts.nameservers && this.opts.nameservers !== nameservers) await this.pushNameservers(live, this.opts.nameservers);
    this.opts.workDir.saveTask(live.rec);
    if (live.rec.killRequested) return this.finish(live, {});
    this.spawnTask(live);
  }

  private taskEnv(rec: TaskRecord): Record<string, string> {
    const sandbox = this.opts.workDir.sandbox(rec.info.task_id);
    return {
      ...(this.opts.baseEnv ?? defaultBaseEnv()),
      MESOS_SANDBOX: sandbox,
      MESOS_TASK_ID: rec.info.task_id,
      HOST: this.opts.agentIp,
      ...(rec.attachment ? { MESOS_CONTAINER_IP: rec.attachment.ip } : {}),
      ...rec.info.env,
    };
  }

  private argv(rec: TaskRecord): [string, string[]] {
    const c = rec.info.command;
    const base: [string, string[]] = c.shell === false ? [c.value, c.arguments ?? []] : ['sh', ['-c', c.value]];
    if (!rec.attachment) return base;
    // `ip netns exec` (common/netns) also shows the task /etc/netns/<ns>/resolv.conf as its resolv.conf.
    const [file, ...args] = inNetns(rec.attachment.netns, [base[0], ...base[1]]);
    return [file!, args];
  }

  private spawnTask(live: Live): void {
    const rec = live.rec;
    const sandbox = this.opts.workDir.sandbox(rec.info.task_id);
    let out: number | undefined;
    let err: number | undefined;
    let child: ChildProcess;
    try {
      out = openSync(join(sandbox, 'stdout'), 'a');
      err = openSync(join(sandbox, 'stderr'), 'a');
      const [file, args] = this.argv(rec);
      child = spawn(file, args, { cwd: sandbox, env: this.taskEnv(rec), detached: true, stdio: ['ignore', out, err] });
    } catch (e) {
      return this.finish(live, { failMessage: `cannot start task: ${(e as Error).message}`, reason: 'REASON_CONTAINER_LAUNCH_FAILED' });
    } finally {
      if (out !== undefined) closeSync(out);
      if (err !== undefined) closeSync(err);
    }
    live.child = child;
    child.unref();
    child.once('error', (e) => this.finish(live, { failMessage: `cannot start task: ${e.message}`, reason: 'REASON_CONTAINER_LAUNCH_FAILED' }));
    child.once('exit', (code, signal) => this.finish(live, { code, signal }));
    if (child.pid === undefined) return; // 'error' follows
    rec.pid = child.pid;
    rec.startTime = processStartTime(child.pid);
    if (rec.killRequested) {
      this.opts.workDir.saveTask(rec);
      signalGroup(child.pid, 'SIGKILL');
      return;
    }
    this.transition(live, 'TASK_RUNNING');
    this.log.info('task_running', { task_id: rec.info.task_id, pid: rec.pid });
    this.startHealth(live);
  }

  private containerStatus(rec: TaskRecord): TaskStatusEntry['container_status'] {
    const ip = rec.attachment?.ip ?? this.opts.agentIp;
    const addrs: { protocol?: 'IPv4' | 'IPv6'; ip_address: string }[] = [{ protocol: ip.includes(':') ? 'IPv6' : 'IPv4', ip_address: ip }];
    if (rec.attachment?.ip6) addrs.push({ protocol: 'IPv6', ip_address: rec.attachment.ip6 });
    const ni = rec.info.network ? { name: rec.info.network.name, ip_addresses: addrs } : { ip_addresses: addrs };
    return { network_infos: [ni], ...(rec.pid ? { executor_pid: rec.pid } : {}) };
  }

  private transition(live: Live, state: TaskState, extra: Partial<TaskStatusEntry> = {}): void {
    const rec = live.rec;
    rec.state = state;
    // Each update gets the next sequence number, checkpointed with the record before it is sent.
    rec.seq = (rec.seq ?? 0) + 1;
    const entry: TaskStatusEntry = { state, timestamp: this.clock.now() / 1000, ...extra };
    if (rec.pid || rec.attachment) entry.container_status = this.containerStatus(rec);
    if (rec.healthy !== undefined && entry.healthy === undefined) entry.healthy = rec.healthy;
    rec.statuses.push(entry);
    const max = this.opts.maxStatuses ?? 50;
    if (rec.statuses.length > max) rec.statuses.splice(0, rec.statuses.length - max);
    this.opts.workDir.saveTask(rec);
    this.onStatus(rec, entry);
    if (isTerminal(state)) for (const w of [...this.waiters]) w();
  }

  private healthTarget(rec: TaskRecord): ProbeTarget {
    const hc = rec.info.health_check!;
    const i = hc.port_index ?? 0;
    const mapped = rec.attachment ? rec.info.network?.port_mappings?.[i]?.container_port : undefined;
    return {
      host: rec.attachment?.ip ?? this.opts.agentIp,
      port: mapped ?? rec.info.ports[i],
      cwd: this.opts.workDir.sandbox(rec.info.task_id),
      env: this.taskEnv(rec),
      netns: rec.attachment?.netns,
    };
  }

  private startHealth(live: Live): void {
    const hc = live.rec.info.health_check;
    if (!hc || this.stopped) return;
    live.health = new HealthChecker(
      hc,
      this.healthTarget(live.rec),
      this.clock,
      {
        onChange: (healthy, detail) => {
          live.rec.healthy = healthy;
          if (isTerminal(live.rec.state) || live.rec.killRequested) return;
          this.transition(live, live.rec.state, { healthy, reason: 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED', ...(detail ? { message: detail } : {}) });
        },
        onResult: (ok) => this.opts.onHealthResult?.(ok),
        onGiveUp: (n, detail) =>
          this.kill(live.rec.info.task_id, undefined, {
            reason: 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED',
            message: `health check failed ${n} consecutive times${detail ? `: ${detail}` : ''}`,
          }),
      },
      this.opts.probe,
    );
    live.health.start();
  }

  /** Kill a task (SIGTERM, SIGKILL after the grace). False when unknown or already ended. */
  kill(taskId: string, graceMs?: number, why: { reason?: string; message?: string } = {}): boolean {
    const live = this.tasks.get(taskId);
    if (!live || isTerminal(live.rec.state)) return false;
    const rec = live.rec;
    const grace = graceMs ?? rec.info.kill_grace_period_ms ?? 3000;
    if (rec.killRequested) {
      if (grace === 0 && rec.pid) signalGroup(rec.pid, 'SIGKILL');
      return true;
    }
    rec.killRequested = true;
    rec.killReason = why.reason;
    rec.killMessage = why.message;
    live.health?.stop();
    this.log.info('task_killing', { task_id: taskId, grace_ms: grace, reason: why.reason });
    this.transition(live, 'TASK_KILLING', why.message ? { message: why.message } : {});
    if (!rec.pid) return true; // still attaching: the launch path sees killRequested
    signalGroup(rec.pid, grace === 0 ? 'SIGKILL' : 'SIGTERM');
    live.killTimer = this.clock.setTimeout(() => rec.pid && signalGroup(rec.pid, 'SIGKILL'), grace);
    return true;
  }

  private finish(live: Live, how: { code?: number | null; signal?: NodeJS.Signals | null; failMessage?: string; reason?: string; unknownExit?: boolean }): void {
    const rec = live.rec;
    if (isTerminal(rec.state)) return;
    live.health?.stop();
    this.clock.clearTimeout(live.killTimer);
    this.clock.clearTimeout(live.pollTimer);
    if (rec.pid) signalGroup(rec.pid, 'SIGKILL'); // leftovers of the group: no orphans
    const [state, extra] = outcome(rec, how);
    this.log.info('task_ended', { task_id: rec.info.task_id, state, code: how.code, signal: how.signal, message: extra.message });
    if (rec.attachment && this.opts.attacher) {
      const { netns: _n, ...att } = rec.attachment;
      const p = this.opts.attacher
        .detach(rec.info.task_id, rec.info.network!.name)
        .catch((e) => this.log.warn('network_detach_failed', { task_id: rec.info.task_id, err: e, ...att }))
        .finally(() => this.detaching.delete(p));
      this.detaching.add(p);
    }
    this.transition(live, state, extra);
  }

  /** Re-adopt checkpointed tasks after a restart (see the file comment). */
  recover(): { adopted: number; ended: number; terminal: number } {
    const counts = { adopted: 0, ended: 0, terminal: 0 };
    for (const rec of this.opts.workDir.loadTasks((e) => this.log.error('task_record_unreadable', { err: e, path: e.path }))) {
      if (this.tasks.has(rec.info.task_id)) continue;
      const live: Live = { rec };
      this.tasks.set(rec.info.task_id, live);
      if (isTerminal(rec.state)) counts.terminal++;
      else if (rec.pid && sameProcessAlive(rec.pid, rec.startTime)) {
        counts.adopted++;
        this.log.info('task_adopted', { task_id: rec.info.task_id, pid: rec.pid });
        if (rec.killRequested) signalGroup(rec.pid, 'SIGKILL');
        else if (rec.state === 'TASK_RUNNING') this.startHealth(live);
        this.pollAdopted(live);
      } else {
        counts.ended++;
        this.finish(live, { unknownExit: true });
      }
    }
    return counts;
  }

  private pollAdopted(live: Live): void {
    const every = this.opts.adoptPollMs ?? 500;
    const tick = () => {
      if (isTerminal(live.rec.state)) return;
      if (!sameProcessAlive(live.rec.pid!, live.rec.startTime)) return this.finish(live, { unknownExit: true });
      live.pollTimer = this.clock.setTimeout(tick, every);
    };
    live.pollTimer = this.clock.setTimeout(tick, every);
  }

  /** Drop an ended task (its terminal update was acknowledged). */
  forget(taskId: string): void {
    const live = this.tasks.get(taskId);
    if (!live || !isTerminal(live.rec.state)) return;
    this.tasks.delete(taskId);
    this.opts.workDir.removeTask(taskId);
  }

  /** Resolve once every task has ended (or the timeout passed; false then). */
  async waitAllEnded(timeoutMs: number): Promise<boolean> {
    const done = () => [...this.tasks.values()].every((l) => isTerminal(l.rec.state));
    if (done()) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), timeoutMs);
      const check = () => done() && finish(true);
      const finish = (v: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(v);
      };
      this.waiters.add(check);
    });
  }

  /** Kill every task and wait for them to end. */
  async killAll(graceMs?: number, timeoutMs = 15000): Promise<boolean> {
    this.draining = true;
    for (const id of [...this.tasks.keys()]) this.kill(id, graceMs);
    const t0 = Date.now();
    const ended = await this.waitAllEnded(timeoutMs);
    // Their namespaces too: the process may exit right after this.
    await this.detachesSettled(Math.max(0, timeoutMs - (Date.now() - t0)));
    return ended;
  }

  /** Wait (up to timeoutMs) for the network detaches of ended tasks; true when none is left. */
  async detachesSettled(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
    const all = Promise.all([...this.detaching]).then(() => this.detaching.size === 0);
    const done = await Promise.race([all, timeout]);
    clearTimeout(timer);
    return done;
  }

  /** Stop watching (timers, health checks); tasks keep running for the next agent to adopt. */
  stop(): void {
    this.stopped = true;
    for (const l of this.tasks.values()) {
      l.health?.stop();
      this.clock.clearTimeout(l.pollTimer);
      this.clock.clearTimeout(l.killTimer);
      l.child?.removeAllListeners('exit');
    }
  }
}

type Outcome = [TaskState, Partial<TaskStatusEntry>];

function outcome(rec: TaskRecord, how: { code?: number | null; signal?: NodeJS.Signals | null; failMessage?: string; reason?: string; unknownExit?: boolean }): Outcome {
  if (rec.killRequested) {
    const extra: Partial<TaskStatusEntry> = { message: rec.killMessage ?? 'Command terminated by kill request' };
    if (rec.killReason) extra.reason = rec.killReason;
    return ['TASK_KILLED', extra];
  }
  if (how.failMessage) return ['TASK_FAILED', { message: how.failMessage, reason: how.reason ?? 'REASON_COMMAND_EXECUTOR_FAILED' }];
  if (how.unknownExit) return ['TASK_FAILED', { message: 'task process ended while the agent was not watching (exit status unknown)', reason: 'REASON_EXECUTOR_TERMINATED' }];
  if (how.code === 0) return ['TASK_FINISHED', { message: 'Command exited with status 0' }];
  const message = how.signal ? `Command terminated with signal ${how.signal}` : `Command exited with status ${how.code}`;
  return ['TASK_FAILED', { message, reason: 'REASON_COMMAND_EXECUTOR_FAILED' }];
}
