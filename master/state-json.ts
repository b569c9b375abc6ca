/**
 * `/master/state` in the Mesos JSON format (the shape real Mesos 1.x serves and Mesos-DNS v0.7
 * reads): leader/pid, slaves[] with `slave(1)@IP:PORT` pids and range-string ports, frameworks[]
 * with tasks[] (statuses with network_infos, discovery, labels) and completed_tasks[].
 */
import type { Cluster } from './cluster.js';
import type { AgentRecord, FrameworkRecord, TaskRecord } from './model.js';
import { formatRanges } from './ports.js';

export const MESOS_VERSION = '1.11.0';

export interface StateContext {
  cluster: Cluster;
  ip: string;
  port: number;
  hostname: string;
  startTime: number;
  workDir: string;
  /** Running without mutual TLS (`--insecure-dev`): shown in flags as insecure_dev "true". */
  insecureDev?: boolean;
}

/** The state as an object (for in-process readers). */
export function buildState(ctx: StateContext): Record<string, unknown> {
  return { ...stateHead(ctx), frameworks: [...ctx.cluster.frameworks.values()].map((f) => frameworkJson(ctx.cluster, f)) };
}

const taskTexts = new WeakMap<TaskRecord, { rev: number; text: string }>();

/** JSON of one task, re-serialised only when the task changed. */
function taskText(cluster: Cluster, t: TaskRecord): string {
  const rev = cluster.revOf(t);
  const c = taskTexts.get(t);
  if (c && c.rev === rev) return c.text;
  const text = JSON.stringify(taskJson(t));
  taskTexts.set(t, { rev, text });
  return text;
}

/**
 * The same state as JSON bytes, assembled from per-task cached fragments, so a change to one
 * task of 10,000 costs a concatenation, not a full serialisation.
 */
export function buildStateText(ctx: StateContext): string {
  const { cluster } = ctx;
  const head = JSON.stringify(stateHead(ctx));
  const fws = [...cluster.frameworks.values()].map((f) => {
    const { tasks: _t, completed_tasks: _c, ...rest } = frameworkJson(cluster, f, false);
    const live: string[] = [];
    for (const t of cluster.tasks.values()) if (t.info.framework_id === f.id) live.push(taskText(cluster, t));
    const done = cluster.completed.filter((t) => t.info.framework_id === f.id).map((t) => taskText(cluster, t));
    return `${JSON.stringify(rest).slice(0, -1)},"tasks":[${live.join(',')}],"completed_tasks":[${done.join(',')}]}`;
  });
  return `${head.slice(0, -1)},"frameworks":[${fws.join(',')}]}`;
}

function stateHead(ctx: StateContext): Record<string, unknown> {
  const { cluster } = ctx;
  const pid = `master@${hostPort(ctx.ip, ctx.port)}`;
  const agents = [...cluster.agents.values()];
  const counts = countStates(cluster);
  return {
    version: MESOS_VERSION,
    git_sha: '',
    git_tag: MESOS_VERSION,
    build_date: '',
    build_time: 0,
    build_user: 'sextant',
    start_time: ctx.startTime,
    elected_time: ctx.startTime,
    id: cluster.masterId,
    pid,
    hostname: ctx.hostname,
    activated_slaves: agents.filter(usable).length,
    deactivated_slaves: agents.filter((a) => !a.active).length,
    leader: pid,
    leader_info: { id: cluster.masterId, pid, port: ctx.port, hostname: ctx.hostname, address: { hostname: ctx.hostname, ip: ctx.ip, port: ctx.port } },
    log_dir: '',
    flags: { hostname: ctx.hostname, port: String(ctx.port), work_dir: ctx.workDir, quorum: '1', registry: 'replicated_log', version: 'false', zk: '', insecure_dev: String(ctx.insecureDev === true) },
    ...counts,
    slaves: agents.filter(usable).map(slaveJson),
    completed_frameworks: [],
    orphan_tasks: [],
    unregistered_frameworks: [],
  };
}

/** Active and verified (answered the master's callback): what Mesos-DNS, the overlay and offers see. */
function usable(a: AgentRecord): boolean {
  return a.active && !a.pending;
}

/**
 * `/master/slaves` also lists the agents the state leaves out, `active: false`: those waiting for the
 * callback (`pending: true`), and unreachable or removed ones (`removed: true`) with `release_at`,
 * when the master forgets them (seconds since the epoch).
 */
export function otherSlavesJson(cluster: Cluster, releaseGraceMs: number): Record<string, unknown>[] {
  return [...cluster.agents.values()]
    .filter((a) => !usable(a))
    .map((a) => ({
      ...slaveJson(a),
      active: false,
      ...(a.active && a.pending ? { pending: true } : {}),
      ...(a.removed ? { removed: true } : {}),
      ...(!a.active && a.inactive_since !== undefined ? { release_at: a.inactive_since + releaseGraceMs / 1000 } : {}),
    }));
}

function hostPort(ip: string, port: number): string {
  return `${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
}

function countStates(cluster: Cluster): Record<string, number> {
  const c = { staged_tasks: 0, started_tasks: 0, finished_tasks: 0, killed_tasks: 0, failed_tasks: 0, lost_tasks: 0 };
  for (const t of cluster.tasks.values()) {
    if (t.state === 'TASK_STAGING') c.staged_tasks++;
    else c.started_tasks++;
  }
  for (const t of cluster.completed) {
    if (t.state === 'TASK_FINISHED') c.finished_tasks++;
    else if (t.state === 'TASK_KILLED') c.killed_tasks++;
    else if (t.state === 'TASK_FAILED' || t.state === 'TASK_ERROR') c.failed_tasks++;
    else if (t.state === 'TASK_LOST') c.lost_tasks++;
  }
  return c;
}

export function slaveJson(a: AgentRecord): Record<string, unknown> {
  return {
    id: a.agent_id,
    pid: `slave(1)@${hostPort(a.ip, a.port)}`,
    hostname: a.hostname,
    ...(a.ip6 ? { ip6: a.ip6 } : {}),
    registered_time: a.registered_time,
    ...(a.reregistered_time !== undefined ? { reregistered_time: a.reregistered_time } : {}),
    resources: { cpus: a.resources.cpus, mem: a.resources.mem, disk: a.resources.disk, ports: formatRanges(a.resources.ports) },
    attributes: a.attributes,
    active: a.active,
  };
}

function frameworkJson(cluster: Cluster, f: FrameworkRecord, withTasks = true): Record<string, unknown> {
  const tasks: Record<string, unknown>[] = [];
  const used = { cpus: 0, mem: 0, disk: 0 };
  for (const t of cluster.tasks.values()) {
    if (t.info.framework_id !== f.id) continue;
    if (withTasks) tasks.push(taskJson(t));
    used.cpus += t.info.resources.cpus;
    used.mem += t.info.resources.mem;
    used.disk += t.info.resources.disk;
  }
  return {
    id: f.id,
    name: f.name,
    pid: f.pid,
    hostname: f.hostname,
    user: 'root',
    role: '*',
    active: true,
    checkpoint: true,
    failover_timeout: 604800,
    registered_time: f.registered_time,
    reregistered_time: f.registered_time,
    unregistered_time: 0,
    resources: used,
    used_resources: used,
    offered_resources: { cpus: 0, mem: 0, disk: 0 },
    offers: [],
    tasks,
    completed_tasks: withTasks ? cluster.completed.filter((t) => t.info.framework_id === f.id).map(taskJson) : [],
  };
}

export function taskJson(t: TaskRecord): Record<string, unknown> {
  const i = t.info;
  return {
    id: i.task_id,
    name: i.name,
    framework_id: i.framework_id,
    executor_id: '',
    slave_id: i.agent_id,
    state: t.state,
    resources: { cpus: i.resources.cpus, mem: i.resources.mem, disk: i.resources.disk, ...(i.resources.ports.length ? { ports: formatRanges(i.resources.ports) } : {}) },
    statuses: t.statuses.map((s) => ({
      state: s.state,
      timestamp: s.timestamp,
      ...(s.healthy !== undefined ? { healthy: s.healthy } : {}),
      ...(s.message ? { message: s.message } : {}),
      ...(s.reason ? { reason: s.reason } : {}),
      container_status: s.container_status ?? { network_infos: [{ ip_addresses: [{ protocol: 'IPv4', ip_address: t.agent_ip }] }] },
    })),
    labels: i.labels,
    ...(i.discovery ? { discovery: i.discovery } : {}),
  };
}
