/**
 * The CNI agent plugin, in the one plugin shape (contracts/plugin.ts): builds the CniAttacher, feeds
 * it the agent's network slices from the control-plane snapshot (`networks` + `overlay_agents`,
 * a consumer handed to `host.control`), writes the conflists as networks appear, and hands the
 * attacher to the agent.
 */
import { join } from 'node:path';
import type { AgentPlugin, Snapshot, SnapshotConsumer } from '../contracts/index.js';
import { CniAttacher, type BridgeNetwork, type CniAttacherOptions } from './attacher.js';
import { NotFoundError } from '../common/errors.js';
import { cniHealthCheck } from './health.js';
import { noSliceReason } from '../overlay/index.js';

export type CniPluginOptions = Partial<Omit<CniAttacherOptions, 'networks'>>;

/** The agent's bridge slice of `network` in a snapshot. */
export function sliceOf(view: Snapshot | undefined, agentId: string, network: string): BridgeNetwork | undefined {
  const me = view?.parts.overlay_agents.find((a) => a.agent_id === agentId);
  const slice = me?.subnets[network];
  const net = view?.parts.networks.find((n) => n.name === network);
  if (!slice || !net) return undefined;
  return slice.bridge6 && net.subnet6 ? { subnet: slice.bridge, subnet6: slice.bridge6, mtu: net.mtu } : { subnet: slice.bridge, mtu: net.mtu };
}

function throwNoSlice(view: Snapshot | undefined, agentId: string, network: string): never {
  throw new NotFoundError(noSliceReason(view, agentId, network) ?? `network "${network}" has no subnet on this agent`);
}

export function cniAgentPlugin(opts: CniPluginOptions = {}): AgentPlugin {
  return ({ handle: a, control, log: base, health }) => {
    const log = base.child({ agent_id: a.agentId });
    let view: Snapshot | undefined;
    const dir = join(a.workDir, 'cni');
    const attacher = new CniAttacher({
      confDir: join(dir, 'net.d'),
      binDir: join(dir, 'bin'),
      dataDir: join(dir, 'data'),
      logger: log,
      ...opts,
      // No slice: say why (e.g. "network dcos: no free /24 of 9.0.0.0/8 for agent X (overlay exhausted)").
      networks: (name) => sliceOf(view, a.agentId, name) ?? throwNoSlice(view, a.agentId, name),
    });
    const consumer: SnapshotConsumer = {
      name: 'cni',
      parts: ['networks', 'overlay_agents'],
      async apply(v) {
        view = v;
        for (const n of v.parts.networks) if (sliceOf(v, a.agentId, n.name)) await attacher.conflist(n.name);
      },
    };
    control.addConsumer(consumer);
    a.setNetworkAttacher?.(attacher);
    health?.add(
      cniHealthCheck({
        confDir: opts.confDir ?? join(dir, 'net.d'),
        binDirs: [opts.binDir ?? join(dir, 'bin'), opts.standardBinDir ?? '/usr/lib/cni'],
        networks: () => (view ? view.parts.networks.filter((n) => sliceOf(view, a.agentId, n.name)).map((n) => n.name) : []),
      }),
    );
    return {
      name: 'cni',
      start: () => attacher.start(),
      stop: async () => a.setNetworkAttacher?.(undefined),
    };
  };
}
