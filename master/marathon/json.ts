/** Marathon's JSON views of tasks, apps and status events. */
import type { TaskRecord } from '../model.js';
import { appToJson, type App } from './app.js';
import type { Deployment } from './deployments.js';
import type { AppState, QueueEntry, TaskFailure } from './scheduler.js';

const iso = (secs: number | undefined) => (secs === undefined ? null : new Date(secs * 1000).toISOString());

function ipAddresses(t: TaskRecord): { ipAddress: string; protocol: string }[] {
  const ips = t.task_ips.length ? t.task_ips : [t.agent_ip];
  return ips.map((ip) => ({ ipAddress: ip, protocol: ip.includes(':') ? 'IPv6' : 'IPv4' }));
}

export function taskJson(t: TaskRecord, app?: AppState): Record<string, unknown> {
  return {
    id: t.info.task_id,
    appId: t.app_id,
    host: t.agent_hostname,
    ipAddresses: ipAddresses(t),
    ports: t.info.ports,
    servicePorts: app ? app.app.portDefinitions.map((p) => p.port) : [],
    slaveId: t.info.agent_id,
    agentId: t.info.agent_id,
    state: t.state,
    stagedAt: iso(t.staged_at),
    startedAt: iso(t.started_at),
    version: t.app_version,
    localVolumes: [],
    ...(t.healthy !== undefined
      ? { healthCheckResults: [{ alive: t.healthy, consecutiveFailures: t.healthy ? 0 : 1, taskId: t.info.task_id, instanceId: t.info.task_id }] }
      : {}),
  };
}

export function statusEvent(t: TaskRecord): Record<string, unknown> {
  const last = t.statuses.at(-1);
  return {
    slaveId: t.info.agent_id,
    taskId: t.info.task_id,
    instanceId: t.info.task_id,
    taskStatus: t.state,
    message: last?.message ?? '',
    appId: t.app_id,
    host: t.agent_hostname,
    ipAddresses: ipAddresses(t),
    ports: t.info.ports,
    version: t.app_version,
  };
}

/** `ipAddress` as Marathon 1.3 shows it: the container network and its ports; null otherwise. */
function ipAddressJson(app: App): Record<string, unknown> | null {
  const net = app.networks[0];
  if (net?.mode !== 'container') return null;
  const ports = (app.container?.portMappings ?? []).map((m) => ({ number: m.containerPort, ...(m.name ? { name: m.name } : {}), protocol: m.protocol, labels: m.labels }));
  return { networkName: net.name, groups: [], labels: {}, discovery: { ports } };
}

export function appJson(s: AppState, tasks: TaskRecord[], deployment: Deployment | undefined, embedTasks: boolean, lastTaskFailure?: TaskFailure): Record<string, unknown> {
  const running = tasks.filter((t) => t.state === 'TASK_RUNNING');
  return {
    ...appToJson(s.app),
    ipAddress: ipAddressJson(s.app),
    version: s.version,
    versionInfo: { lastScalingAt: s.version, lastConfigChangeAt: s.configVersion },
    tasksStaged: tasks.filter((t) => t.state === 'TASK_STAGING' || t.state === 'TASK_STARTING').length,
    tasksRunning: running.length,
    tasksHealthy: running.filter((t) => t.healthy === true).length,
    tasksUnhealthy: running.filter((t) => t.healthy === false).length,
    deployments: deployment ? [{ id: deployment.id }] : [],
    ...(embedTasks ? { tasks: tasks.map((t) => taskJson(t, s)) } : {}),
    ...(lastTaskFailure ? { lastTaskFailure } : {}),
  };
}

/** One `/v2/queue` entry as Marathon 1.3 shows it (the app carries its lastTaskFailure). */
export function queueJson(q: QueueEntry, app: Record<string, unknown>): Record<string, unknown> {
  const left = Math.ceil(q.delayLeftMs / 1000);
  return { app, count: q.count, delay: { timeLeftSeconds: left, overdue: left === 0 }, since: q.since };
}
