/**
 * The overlay plugins, in the one plugin shape (contracts/plugin.ts). Master: the allocator, whose
 * parts (networks, overlay_agents, isolation_rules, network_policies) go to `host.control`, which
 * also says which control-plane version carries a write (the API's X-Sextant-Control-Version). Agent:
 * the VXLAN component, a snapshot consumer handed to `host.control`, with its API on the agent.
 */
import type { AgentPlugin, MasterPlugin } from '../contracts/index.js';
import { OverlayAgentComponent, type OverlayAgentOptions } from './agent.js';
import { overlayHealthCheck } from './health.js';
import { OverlayMaster, type OverlayMasterOptions } from './master.js';

export function overlayMasterPlugin(opts: OverlayMasterOptions = {}): MasterPlugin {
  return ({ handle, control }) => {
    const c = new OverlayMaster(handle, { settledVersion: () => control.settledVersion(), ...opts });
    for (const s of c.sources()) control.addSource(s);
    return c;
  };
}

export function overlayAgentPlugin(opts: Partial<Omit<OverlayAgentOptions, 'agentId' | 'registry'>> = {}): AgentPlugin {
  return ({ handle, control, metrics, health }) => {
    const c = new OverlayAgentComponent({ ...opts, agentId: handle.agentId, registry: metrics });
    health?.add(overlayHealthCheck(c));
    handle.routes((r) => c.mount(r));
    control.addConsumer(c);
    return c;
  };
}
