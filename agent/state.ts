/**
 * The agent's `GET /state` in the Mesos agent format (what `mesos-agent /state` returns), trimmed
 * to the fields tools read: id, pid `slave(1)@IP:PORT`, hostname, resources, attributes,
 * frameworks[].executors[].tasks[] (+ completed_tasks), one command executor per task.
 */
import { TERMINAL_STATES } from '../contracts/index.js';
import type { Resources } from '../contracts/index.js';
import { formatPortRanges, portsToRanges } from './resources.js';
import type { TaskRecord } from './workdir.js';

export interface AgentIdentity {
  id: string;
  ip: string;
  port: number;
  hostname: string;
  resources: Resources;
  attributes: Record<string, string>;
  master?: string;
  startTime: number;
  workDir: string;
  version: string;
}

export function mesosResources(r: Resources): Record<string, unknown> {
  return { cpus: r.cpus, mem: r.mem, disk: r.disk, ports: formatPortRanges(r.ports) };
}

export function taskJson(rec: TaskRecord, agentId: string): Record<string, unknown> {
  const i = rec.info;
  const t: Record<string, unknown> = {
    id: i.task_id,
    name: i.name,
    framework_id: i.framework_id,
    executor_id: '',
    slave_id: agentId,
    state: rec.state,
    resources: { cpus: i.resources.cpus, mem: i.resources.mem, disk: i.resources.disk, ports: formatPortRanges(portsToRanges(i.ports)) },
    statuses: rec.statuses,
    labels: i.labels,
  };
  if (i.discovery) t.discovery = i.discovery;
  if (rec.healthy !== undefined) t.healthy = rec.healthy;
  return t;
}

export function agentState(me: AgentIdentity, tasks: TaskRecord[], sandbox: (taskId: string) => string): Record<string, unknown> {
  const byFramework = new Map<string, TaskRecord[]>();
  for (const rec of tasks) {
    const list = byFramework.get(rec.info.framework_id) ?? [];
    list.push(rec);
    byFramework.set(rec.info.framework_id, list);
  }
  const frameworks = [...byFramework].map(([fwId, recs]) => ({
    id: fwId,
    name: fwId,
    executors: recs.map((rec) => executorJson(rec, me.id, sandbox(rec.info.task_id))),
    completed_executors: [],
  }));
  return {
    version: me.version,
    start_time: me.startTime / 1000,
    id: me.id,
    pid: `slave(1)@${me.ip}:${me.port}`,
    hostname: me.hostname,
    resources: mesosResources(me.resources),
    attributes: me.attributes,
    master_hostname: me.master?.split(':')[0] ?? '',
    flags: { work_dir: me.workDir, port: String(me.port), ip: me.ip, hostname: me.hostname, master: me.master ?? '' },
    frameworks,
    completed_frameworks: [],
  };
}

function executorJson(rec: TaskRecord, agentId: string, directory: string): Record<string, unknown> {
  const ended = TERMINAL_STATES.has(rec.state);
  const task = taskJson(rec, agentId);
  return {
    id: rec.info.task_id,
    name: `Command Executor (Task: ${rec.info.task_id}) (Command: sh -c '${rec.info.command.value.slice(0, 40)}...')`,
    source: rec.info.task_id,
    container: rec.info.task_id,
    directory,
    resources: task.resources,
    tasks: ended ? [] : [task],
    queued_tasks: [],
    completed_tasks: ended ? [task] : [],
  };
}
