/** The Marathon JSON the app and task commands read, and how they print it. */
import { renderFields, renderTable, type Term } from '../common/cli-output.js';

export interface MarathonTask {
  id: string;
  appId: string;
  host: string;
  slaveId?: string;
  agentId?: string;
  ports?: number[];
  state?: string;
  startedAt?: string | null;
  stagedAt?: string | null;
  healthCheckResults?: { alive: boolean }[];
}

export interface MarathonApp {
  id: string;
  instances: number;
  cpus?: number;
  mem?: number;
  cmd?: string | null;
  version?: string;
  tasksStaged?: number;
  tasksRunning?: number;
  tasksHealthy?: number;
  tasksUnhealthy?: number;
  healthChecks?: unknown[];
  deployments?: { id: string }[];
  tasks?: MarathonTask[];
  lastTaskFailure?: { message?: string; state?: string; timestamp?: string; taskId?: string };
  portDefinitions?: { port: number; name?: string; labels?: Record<string, string> }[];
  labels?: Record<string, string>;
}

const dash = (v: unknown) => (v === undefined || v === null || v === '' ? '-' : String(v));
const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 3)}...` : s);

function health(t: MarathonTask): string {
  const r = t.healthCheckResults?.[0];
  return r === undefined ? '-' : r.alive ? 'healthy' : 'unhealthy';
}

export function appsTable(term: Term, apps: MarathonApp[]): string {
  const rows = apps.map((a) => [
    a.id,
    `${a.tasksRunning ?? 0}/${a.instances}`,
    a.healthChecks?.length ? String(a.tasksHealthy ?? 0) : '-',
    String(a.tasksStaged ?? 0),
    dash(a.cpus),
    dash(a.mem),
    a.deployments?.length ? 'yes' : '-',
    cut(a.cmd ?? '-', 40),
  ]);
  return renderTable(term, ['ID', 'RUNNING', 'HEALTHY', 'STAGED', 'CPUS', 'MEM', 'DEPLOYING', 'CMD'], rows);
}

export function tasksTable(term: Term, tasks: MarathonTask[]): string {
  const rows = tasks.map((t) => [t.id, t.appId, dash(t.state), t.host, (t.ports ?? []).join(',') || '-', health(t), dash(t.startedAt)]);
  return renderTable(term, ['ID', 'APP', 'STATE', 'HOST', 'PORTS', 'HEALTH', 'STARTED'], rows);
}

export function appDetails(term: Term, a: MarathonApp): string {
  const vips = (a.portDefinitions ?? []).flatMap((p) => Object.entries(p.labels ?? {}).filter(([k]) => /^VIP_\d+$/.test(k)).map(([, v]) => v));
  const pairs: [string, string][] = [
    ['id', a.id],
    ['cmd', dash(a.cmd)],
    ['instances', `${a.tasksRunning ?? 0} running of ${a.instances} (${a.tasksStaged ?? 0} staged${a.healthChecks?.length ? `, ${a.tasksHealthy ?? 0} healthy, ${a.tasksUnhealthy ?? 0} unhealthy` : ''})`],
    ['resources', `cpus ${dash(a.cpus)}, mem ${dash(a.mem)}`],
    ['ports', (a.portDefinitions ?? []).map((p) => `${p.port}${p.name ? `/${p.name}` : ''}`).join(', ') || '-'],
    ['vips', vips.join(', ') || '-'],
    ['version', dash(a.version)],
    ['deployments', a.deployments?.map((d) => d.id).join(', ') || '-'],
  ];
  if (a.lastTaskFailure) pairs.push(['last failure', `${dash(a.lastTaskFailure.state)} ${dash(a.lastTaskFailure.message)} (${dash(a.lastTaskFailure.taskId)} at ${dash(a.lastTaskFailure.timestamp)})`]);
  const tasks = a.tasks ?? [];
  return `${renderFields(pairs)}\n${tasks.length ? tasksTable(term, tasks) : 'no tasks\n'}`;
}
