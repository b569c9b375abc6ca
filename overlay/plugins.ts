/**
 * Wiring into the master and agent processes (cli/plugins.ts). The control plane's registration
 * functions are looked up at run time, so this file compiles whichever control version is present:
 * `registerPartSource(source)` on the master, `registerSnapshotConsumer(consumer)` on the agent.
 */
import type { Component } from '../common/index.js';
import type { AgentHandle, AgentPlugin, MasterPlugin } from '../cli/plugins.js';
import type { PartSource, SnapshotConsumer } from '../control/index.js';
import { OverlayAgentComponent, type OverlayAgentOptions } from './agent.js';
import { OverlayMaster, type OverlayMasterOptions } from './master.js';

type Registrar<T> = (x: T) => unknown;

async function controlFn<T>(name: string): Promise<Registrar<T> | undefined> {
  const ctl = (await import('../control/index.js')) as unknown as Record<string, unknown>;
  const fn = ctl[name];
  return typeof fn === 'function' ? (fn as Registrar<T>) : undefined;
}

export function overlayMasterPlugin(opts: OverlayMasterOptions = {}): MasterPlugin {
  return async (m) => {
    const c = new OverlayMaster(m, opts);
    const register = await controlFn<PartSource>('registerPartSource');
    for (const s of c.sources()) register?.(s);
    return c;
  };
}

export function overlayAgentPlugin(opts: Partial<Omit<OverlayAgentOptions, 'agentId' | 'registry'>> = {}): AgentPlugin {
  return async (a: AgentHandle): Promise<Component> => {
    const c = new OverlayAgentComponent({ ...opts, agentId: a.agentId, registry: a.registry });
    a.routes((r) => c.mount(r));
    const register = await controlFn<SnapshotConsumer>('registerSnapshotConsumer');
    register?.(c);
    return c;
  };
}
