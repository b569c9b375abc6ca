/**
 * The masters' aggregate in the shapes dcos-diagnostics served (pure functions of the node
 * reports). A unit is healthy when it is healthy on every node that has it; a node is healthy when
 * it answered and every unit on it is. Sextant adds `output` to node entries (why a node that did
 * not answer is unhealthy; empty otherwise).
 */
import { NotFoundError } from '../common/errors.js';
import type { NodeReport } from './aggregate.js';
import type { UnitHealth } from './registry.js';

type Health = 0 | 1;

const unitSummary = (id: string, name: string, health: Health, help: string) => ({ id, name, health, description: help });
const nodeSummary = (n: NodeReport) => ({ host_ip: n.ip, health: n.health, role: n.role, output: n.error ?? '' });

interface UnitAcross {
  id: string;
  name: string;
  help: string;
  health: Health;
  on: { node: NodeReport; unit: UnitHealth }[];
}

/** Units across nodes, by id (sorted). */
export function unitsAcross(nodes: NodeReport[]): Map<string, UnitAcross> {
  const out = new Map<string, UnitAcross>();
  for (const node of nodes)
    for (const unit of node.units) {
      let u = out.get(unit.id);
      if (!u) out.set(unit.id, (u = { id: unit.id, name: unit.name, help: unit.help, health: 1, on: [] }));
      u.on.push({ node, unit });
      if (unit.health === 0) u.health = 0;
    }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

function findNode(nodes: NodeReport[], ip: string): NodeReport {
  const n = nodes.find((x) => x.ip === ip);
  if (!n) throw new NotFoundError(`node ${ip} not found (known: ${nodes.map((x) => x.ip).join(', ') || 'none'})`);
  return n;
}

function findUnit(nodes: NodeReport[], id: string): UnitAcross {
  const u = unitsAcross(nodes).get(id);
  if (!u) throw new NotFoundError(`unit ${id} not found on any node`);
  return u;
}

/** `/system/health/v1/units` */
export function unitsView(nodes: NodeReport[]) {
  return { units: [...unitsAcross(nodes).values()].map((u) => unitSummary(u.id, u.name, u.health, u.help)) };
}

/** `/system/health/v1/units/{id}` */
export function unitView(nodes: NodeReport[], id: string) {
  const u = findUnit(nodes, id);
  return unitSummary(u.id, u.name, u.health, u.help);
}

/** `/system/health/v1/units/{id}/nodes` */
export function unitNodesView(nodes: NodeReport[], id: string) {
  return { nodes: findUnit(nodes, id).on.map(({ node, unit }) => ({ host_ip: node.ip, health: unit.health, role: node.role, output: unit.output })) };
}

/** `/system/health/v1/units/{id}/nodes/{ip}` */
export function unitNodeView(nodes: NodeReport[], id: string, ip: string) {
  const hit = findUnit(nodes, id).on.find((x) => x.node.ip === ip);
  if (!hit) throw new NotFoundError(`unit ${id} not found on node ${ip}`);
  return { host_ip: ip, health: hit.unit.health, role: hit.node.role, output: hit.unit.output, help: hit.unit.help };
}

/** `/system/health/v1/nodes` */
export function nodesView(nodes: NodeReport[]) {
  return { nodes: nodes.map(nodeSummary) };
}

/** `/system/health/v1/nodes/{ip}` */
export function nodeView(nodes: NodeReport[], ip: string) {
  return nodeSummary(findNode(nodes, ip));
}

/** `/system/health/v1/nodes/{ip}/units` */
export function nodeUnitsView(nodes: NodeReport[], ip: string) {
  return { units: findNode(nodes, ip).units.map((u) => unitSummary(u.id, u.name, u.health, u.help)) };
}

/** `/system/health/v1/nodes/{ip}/units/{id}` */
export function nodeUnitView(nodes: NodeReport[], ip: string, id: string) {
  const u = findNode(nodes, ip).units.find((x) => x.id === id);
  if (!u) throw new NotFoundError(`unit ${id} not found on node ${ip}`);
  return { id: u.id, name: u.name, health: u.health, output: u.output, description: u.help, help: u.help };
}

/** `/system/health/v1/report`: the whole tree, as 3DT's MonitoringResponse. */
export function reportView(nodes: NodeReport[], updated: Date) {
  const node = (n: NodeReport) => ({ Leader: n.leader, Role: n.role, IP: n.ip, Host: n.hostname, Health: n.health, Output: outputOf(n), MesosID: n.mesosId });
  const unit = (u: UnitAcross) => ({ UnitName: u.id, Health: u.health, Title: u.help, Timestamp: updated.toISOString(), PrettyName: u.name });
  const across = unitsAcross(nodes);
  return {
    Units: Object.fromEntries([...across.values()].map((u) => [u.id, { ...unit(u), Nodes: u.on.map(({ node: n }) => node(n)) }])),
    Nodes: Object.fromEntries(
      nodes.map((n) => [n.ip, { ...node(n), Units: n.units.map((x) => ({ UnitName: x.id, Health: x.health, Title: x.help, Timestamp: updated.toISOString(), PrettyName: x.name })) }]),
    ),
    UpdatedTime: updated.toISOString(),
  };
}

function outputOf(n: NodeReport): Record<string, string> {
  const out: Record<string, string> = Object.fromEntries(n.units.map((u) => [u.id, u.output]));
  if (n.error) out.node = n.error;
  return out;
}
