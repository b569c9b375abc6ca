/**
 * Why an agent has no slice of a network, read from the snapshot alone (pure). The master's
 * allocator leaves a network out of an agent's `subnets` only when no slice was free, and leaves
 * the agent out of `overlay_agents` when no VTEP address was free (or before its first
 * allocation); counting what is taken tells exhaustion from "not yet".
 */
import { parseCidr, size, subnetCount } from '../common/index.js';
import type { OverlayNetwork, Snapshot } from '../contracts/index.js';

const full = (subnet: string, prefix: number, taken: number): boolean => {
  const c = parseCidr(subnet);
  return c !== undefined && BigInt(taken) >= subnetCount(c, prefix);
};

/** `undefined` when the agent has a slice of `network`; otherwise the reason, naming exhaustion. */
export function noSliceReason(view: Snapshot | undefined, agentId: string, network: string): string | undefined {
  if (!view) return `network ${network}: no overlay state received from the control plane yet`;
  const net = view.parts.networks.find((n) => n.name === network);
  if (!net) return `network ${network}: no such virtual network (defined: ${view.parts.networks.map((n) => n.name).join(', ') || 'none'})`;
  const agents = view.parts.overlay_agents;
  const me = agents.find((a) => a.agent_id === agentId);
  if (!me) {
    const vtep = parseCidr(view.overlay.vtep_subnet);
    if (vtep && BigInt(agents.length) >= size(vtep) - 2n) return `network ${network}: no free VTEP address in ${view.overlay.vtep_subnet} for agent ${agentId} (overlay exhausted)`;
    return `network ${network}: agent ${agentId} has no overlay allocation yet`;
  }
  if (me.subnets[network]) return undefined;
  return sliceExhaustion(net, agentId, agents.filter((a) => a.subnets[network]).length, agents.filter((a) => a.subnets[network]?.subnet6).length);
}

function sliceExhaustion(net: OverlayNetwork, agentId: string, taken4: number, taken6: number): string {
  if (net.subnet6 && net.prefix6 && full(net.subnet6, net.prefix6, taken6) && !full(net.subnet, net.prefix, taken4))
    return `network ${net.name}: no free /${net.prefix6} of ${net.subnet6} (IPv6) for agent ${agentId} (overlay exhausted)`;
  return `network ${net.name}: no free /${net.prefix} of ${net.subnet} for agent ${agentId} (overlay exhausted)`;
}

/** Every network of the view this agent has no slice of, with the reason. */
export function missingSlices(view: Snapshot, agentId: string): { network: string; reason: string }[] {
  const out: { network: string; reason: string }[] = [];
  for (const n of view.parts.networks) {
    const reason = noSliceReason(view, agentId, n.name);
    if (reason) out.push({ network: n.name, reason });
  }
  return out;
}
