/**
 * The JSON the pages read. Ours (/net) is typed where it is built: contracts/ and the dashboard's
 * own server side (type-only imports, erased by esbuild); Marathon's and Mesos state's are the
 * slices the pages use.
 */
import type { IsolationRule, NetworkPolicy, OverlayAgent, OverlayNetwork, Vip } from '../../contracts/control.js';
import type { Convergence } from '../convergence.js';
import type { SeriesJson } from '../series.js';

export type { Vip };

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

/** `GET /v1/networks`: a network and each agent's slice of it. */
export type Network = OverlayNetwork & { agents: ({ agent_id: string } & OverlayAgent['subnets'][string])[] };

/** Packets and bytes the agents that answered counted for a policy or rule. */
type Counted = { packets: number; bytes: number };

/** `GET /v1/networks/isolation`: every network's default, the rules, each with counters. */
export interface Isolation {
  policies: (Pick<NetworkPolicy, 'network' | 'default'> & Counted)[];
  rules: (IsolationRule & Counted)[];
  counters_from: string[];
}

/** `GET /v1/dashboard/series`. */
export type Series = SeriesJson & { convergence: Convergence[] };

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
