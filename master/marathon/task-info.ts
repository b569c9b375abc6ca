/**
 * Building a TaskInfo for one instance of an app on one offered agent: host ports from the free
 * ranges, the Marathon environment (PORT0.., PORTS, HOST, MESOS_TASK_ID, MARATHON_APP_ID, ...),
 * discovery info (ports with names and labels, VIP labels included) and the health check.
 */
import type { DiscoveryPort, HealthCheckSpec, PortRange, Resources, TaskInfo } from '../../contracts/index.js';
import type { AgentRecord } from '../model.js';
import { allocatePorts, portsToRanges } from '../ports.js';
import type { App, HealthCheck } from './app.js';
import { taskName } from './naming.js';

interface PortSpec {
  /** Host port wanted: 0 any, n exact, undefined none (container network without mapping). */
  host?: number;
  containerPort?: number;
  name?: string;
  protocol: string;
  labels: Record<string, string>;
}

function portSpecs(app: App): PortSpec[] {
  const mode = app.networks[0]?.mode ?? 'host';
  if (mode === 'host') return app.portDefinitions.map((p) => ({ host: app.requirePorts ? p.port : 0, ...(p.name ? { name: p.name } : {}), protocol: p.protocol, labels: p.labels }));
  return (app.container?.portMappings ?? []).map((m) => ({
    ...(mode === 'container/bridge' ? { host: m.hostPort ?? 0 } : m.hostPort !== undefined ? { host: m.hostPort } : {}),
    containerPort: m.containerPort,
    ...(m.name ? { name: m.name } : {}),
    protocol: m.protocol,
    labels: m.labels,
  }));
}

/** Host ports the app needs from an offer (for fit checks); undefined when ports do not fit. */
export function pickHostPorts(app: App, free: PortRange[]): number[] | undefined {
  const wanted = portSpecs(app).filter((s) => s.host !== undefined).map((s) => s.host!);
  return allocatePorts(free, wanted);
}

export function fitsScalars(app: App, free: Resources): boolean {
  const eps = 1e-9;
  return app.cpus <= free.cpus + eps && app.mem <= free.mem + eps && app.disk <= free.disk + eps;
}

export interface BuildInput {
  app: App;
  appVersion: string;
  frameworkId: string;
  agent: AgentRecord;
  taskId: string;
  hostPorts: number[];
}

export function buildTaskInfo(b: BuildInput): TaskInfo {
  const { app } = b;
  const specs = portSpecs(app);
  let hi = 0;
  // Each spec's effective number: its host port when it has one, else its container port.
  const numbers = specs.map((s) => (s.host !== undefined ? b.hostPorts[hi++]! : s.containerPort!));
  const net = app.networks[0]!;
  const env: Record<string, string> = { ...app.env };
  numbers.forEach((n, i) => {
    env[`PORT${i}`] = String(n);
    const name = specs[i]!.name;
    if (name) env[`PORT_${name.toUpperCase().replace(/-/g, '_')}`] = String(n);
  });
  if (numbers.length) env.PORT = String(numbers[0]);
  env.PORTS = numbers.join(',');
  env.HOST = b.agent.hostname;
  env.MESOS_TASK_ID = b.taskId;
  env.MARATHON_APP_ID = app.id;
  env.MARATHON_APP_VERSION = b.appVersion;
  const name = taskName(app.id);
  const health = app.healthChecks[0] ? healthSpec(app.healthChecks[0]) : undefined;
  return {
    task_id: b.taskId,
    name,
    framework_id: b.frameworkId,
    agent_id: b.agent.agent_id,
    command: app.cmd !== undefined ? { value: app.cmd, shell: true } : { value: app.args![0] ?? '', shell: false, arguments: app.args! },
    env,
    resources: { cpus: app.cpus, mem: app.mem, disk: app.disk, ports: portsToRanges(b.hostPorts) },
    ports: b.hostPorts,
    labels: Object.entries(app.labels).map(([key, value]) => ({ key, value })),
    discovery: { visibility: 'FRAMEWORK', name, ports: { ports: specs.flatMap((s, i) => discoveryPorts(s, numbers[i]!)) } },
    ...(health ? { health_check: health } : {}),
    ...(net.mode === 'container'
      ? { network: { name: net.name!, port_mappings: specs.filter((s) => s.host !== undefined).map((s) => ({ host_port: numbers[specs.indexOf(s)]!, container_port: s.containerPort!, protocol: s.protocol })) } }
      : {}),
    kill_grace_period_ms: Math.round(app.taskKillGracePeriodSeconds * 1000),
  };
}

/** One discovery port per protocol (`udp,tcp` gives two, as Marathon does). */
function discoveryPorts(s: PortSpec, number: number): DiscoveryPort[] {
  const labels = Object.entries(s.labels).map(([key, value]) => ({ key, value }));
  return s.protocol.split(',').map((protocol) => ({ number, ...(s.name ? { name: s.name } : {}), protocol, ...(labels.length ? { labels: { labels } } : {}) }));
}

function healthSpec(h: HealthCheck): HealthCheckSpec {
  const protocol = h.protocol === 'COMMAND' ? 'COMMAND' : h.protocol.includes('TCP') ? 'TCP' : 'HTTP';
  return {
    protocol,
    ...(h.path !== undefined ? { path: h.path } : {}),
    ...(h.portIndex !== undefined ? { port_index: h.portIndex } : {}),
    ...(h.command ? { command: h.command.value } : {}),
    interval_seconds: h.intervalSeconds,
    timeout_seconds: h.timeoutSeconds,
    grace_period_seconds: h.gracePeriodSeconds,
    max_consecutive_failures: h.maxConsecutiveFailures,
  };
}
