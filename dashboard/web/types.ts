/** The slices of the APIs' JSON the pages read (Marathon, Mesos state, /net). */
export interface MarathonTask {
  id: string;
  appId: string;
  host: string;
  agentId: string;
  slaveId: string;
  state: string;
  ipAddresses: { ipAddress: string }[];
  ports: number[];
  startedAt: string | null;
  healthCheckResults?: { alive: boolean }[];
}

export interface PortDef {
  port?: number;
  containerPort?: number;
  name?: string;
  protocol?: string;
  labels?: Record<string, string>;
}

export interface MarathonApp {
  id: string;
  cmd?: string;
  instances: number;
  tasksRunning: number;
  tasksHealthy: number;
  tasksStaged: number;
  tasksUnhealthy: number;
  portDefinitions?: PortDef[];
  container?: { portMappings?: PortDef[] };
  networks?: { mode: string; name?: string }[];
  tasks?: MarathonTask[];
  deployments?: unknown[];
  lastTaskFailure?: { message?: string; state?: string } | null;
}

export interface Vip {
  key: string;
  name?: string;
  framework?: string;
  dns_name?: string;
  ip: string;
  port: number;
  protocol: string;
  backends: { ip: string; port: number; weight: number; task_id?: string; agent_id?: string }[];
}

export interface Slave {
  id: string;
  hostname: string;
  pid: string;
  active: boolean;
  resources: Record<string, unknown>;
  used_resources?: Record<string, unknown>;
}

export interface MesosState {
  slaves: Slave[];
  frameworks?: { tasks?: { slave_id: string; state: string; resources?: Record<string, unknown> }[] }[];
}

export interface Network {
  name: string;
  subnet?: string;
  subnet6?: string;
  prefix?: number;
  agents: { agent_id: string; subnet: string; bridge: string; subnet6?: string }[];
}

export interface Isolation {
  policies: { network: string; default: string; packets: number; bytes: number }[];
  rules: { key: string; from: string; to: string; ports?: number[]; protocol?: string; packets: number; bytes: number }[];
  counters_from: string[];
}

export interface Series {
  interval_ms: number;
  t: number[];
  dns: Record<string, (number | null)[]>;
  l4lb_open: Record<string, (number | null)[]>;
  l4lb_backends: Record<string, (number | null)[]>;
  nodes?: Record<string, { l4lb_driver?: string; overlay_kernel?: string }>;
  convergence: { version: number; changed_at: number; converged_at: number | null; seconds: number | null; agents: number }[];
}

/** VIP labels of an app's ports: `VIP_0: /web:80` (named) or `10.1.2.3:80`. */
export function vipLabels(app: MarathonApp): string[] {
  const ports = [...(app.portDefinitions ?? []), ...(app.container?.portMappings ?? [])];
  return ports.flatMap((p) => Object.entries(p.labels ?? {}).filter(([k]) => /^VIP_\d+$/.test(k)).map(([, v]) => v));
}

/** `/web` app id -> `web` (Marathon's DNS label: path parts reversed, joined with dashes). */
export function appLabel(id: string): string {
  return id.split('/').filter(Boolean).reverse().join('-');
}

export function agentIp(s: Slave): string {
  return /@(\[[^\]]+\]|[^:]+):\d+$/.exec(s.pid)?.[1]?.replace(/^\[|\]$/g, '') ?? s.hostname;
}
