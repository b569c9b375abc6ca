/**
 * One node's health in the DC/OS 3DT shape (`GET /system/health/v1`), and its parser: what a node
 * serves and what the master reads back when it polls the agents.
 */
import type { HealthRegistry, UnitHealth } from './registry.js';

export type NodeRole = 'master' | 'agent';

export interface NodeInfo {
  ip: string;
  hostname: string;
  role: NodeRole;
  /** The agent id (agents) or master id (masters). */
  mesosId: string;
}

/** `GET /system/health/v1` as 3DT served it (units carry `description` too, as 3DT's did). */
export interface NodeHealthJson {
  units: (UnitHealth & { description: string })[];
  hostname: string;
  ip: string;
  dcos_version: string;
  node_role: NodeRole;
  mesos_id: string;
  dcos_diagnostics_version: string;
}

/** The DC/OS release Sextant follows, and the version of this health API. */
export const DCOS_VERSION = '1.8';
export const DIAGNOSTICS_VERSION = '0.1.0';

export async function nodeHealth(registry: HealthRegistry, node: NodeInfo, timeoutMs?: number): Promise<NodeHealthJson> {
  const units = await registry.run(timeoutMs);
  return {
    units: units.map((u) => ({ ...u, description: u.help })),
    hostname: node.hostname,
    ip: node.ip,
    dcos_version: DCOS_VERSION,
    node_role: node.role,
    mesos_id: node.mesosId,
    dcos_diagnostics_version: DIAGNOSTICS_VERSION,
  };
}

/** A node's answer, checked field by field; throws naming the first field that is wrong. */
export function parseNodeHealth(body: unknown): { units: UnitHealth[]; hostname: string; role: NodeRole | undefined } {
  const o = body as Record<string, unknown> | null;
  if (!o || typeof o !== 'object' || !Array.isArray(o.units)) throw new Error(`not a health report (no units array): ${JSON.stringify(body)?.slice(0, 200)}`);
  const units = o.units.map((u: unknown, i: number): UnitHealth => {
    const x = u as Record<string, unknown> | null;
    if (!x || typeof x.id !== 'string' || (x.health !== 0 && x.health !== 1) || typeof x.output !== 'string') throw new Error(`units[${i}] is not {id, health 0|1, output}: ${JSON.stringify(u)?.slice(0, 200)}`);
    return { id: x.id, name: typeof x.name === 'string' ? x.name : x.id, health: x.health, output: x.output, help: typeof x.help === 'string' ? x.help : '' };
  });
  const role = o.node_role === 'master' || o.node_role === 'agent' ? o.node_role : undefined;
  return { units, hostname: typeof o.hostname === 'string' ? o.hostname : '', role };
}
