/** Exhaustion is named on the agent: the reason read from the snapshot, the component's API and metric. */
import t from 'tap';
import { createRegistry, Router, setLogSink } from '../../common/index.js';
import type { Snapshot } from '../../contracts/index.js';
import { Allocator, DEFAULT_OVERLAY, missingSlices, noSliceReason, OverlayAgentComponent, type KernelDriver } from '../index.js';
import { MemStore } from './harness.js';

const nets = [
  { key: 'dcos', name: 'dcos', subnet: '9.0.0.0/8', prefix: 24, mtu: 1420 },
  { key: 'tiny', name: 'tiny', subnet: '10.99.0.0/28', prefix: 29, mtu: 1420 },
  { key: 'six', name: 'six', subnet: '10.98.0.0/16', prefix: 24, subnet6: 'fd00:98::/63', prefix6: 64, mtu: 1420 },
];

async function view(agents: string[], vtep = DEFAULT_OVERLAY.vtep_subnet): Promise<Snapshot> {
  const a = new Allocator({ store: new MemStore(), config: { ...DEFAULT_OVERLAY, vtep_subnet: vtep }, initialNetworks: nets });
  await a.load();
  for (const [i, id] of agents.entries()) await a.ensureAgent(id, `10.0.0.${i + 1}`).catch(() => undefined);
  return { history: 't', version: 1, overlay: { ...DEFAULT_OVERLAY, vtep_subnet: vtep }, parts: { vips: [], zones: [], networks: [...a.networks.values()], overlay_agents: [...a.agents.values()], isolation_rules: [], network_policies: [], masters: [] } };
}

t.test('why an agent has no slice', async (t) => {
  const three = await view(['a1', 'a2', 'a3']);
  const cases: [string, Snapshot | undefined, string, string, string | RegExp | undefined][] = [
    ['has a slice', three, 'a1', 'tiny', undefined],
    ['v4 slices used up', three, 'a3', 'tiny', 'network tiny: no free /29 of 10.99.0.0/28 for agent a3 (overlay exhausted)'],
    ['v6 slices used up', three, 'a3', 'six', 'network six: no free /64 of fd00:98::/63 (IPv6) for agent a3 (overlay exhausted)'],
    ['plenty left', three, 'a3', 'dcos', undefined],
    ['unknown network', three, 'a1', 'nope', /no such virtual network \(defined: dcos, six, tiny\)|no such virtual network/],
    ['not yet allocated', three, 'a9', 'dcos', 'network dcos: agent a9 has no overlay allocation yet'],
    ['no VTEP address left', await view(['a1', 'a2', 'a3'], '44.128.0.0/30'), 'a3', 'dcos', 'network dcos: no free VTEP address in 44.128.0.0/30 for agent a3 (overlay exhausted)'],
    ['no view yet', undefined, 'a1', 'dcos', /no overlay state received/],
  ];
  for (const [name, v, agent, net, want] of cases) {
    const got = noSliceReason(v, agent, net);
    if (want === undefined) t.equal(got, undefined, name);
    else t.match(got, want, name);
  }
  t.same(missingSlices(three, 'a3').map((m) => m.network).sort(), ['six', 'tiny']);
});

t.test('the agent component logs, exports and serves the exhaustion', async (t) => {
  const noop: KernelDriver = {
    dump: async () => ({ links: new Map(), neighs: [], fdbs: [], routes: [], rules: [], table42: [] }),
    apply: async () => undefined,
    nft: async () => undefined,
    nftJson: async () => ({ nftables: [] }),
    sysctl: async () => undefined,
  };
  const registry = createRegistry();
  const c = new OverlayAgentComponent({ agentId: 'a3', registry, driver: noop, noNft: true });
  const lines: string[] = [];
  setLogSink({ write: (l) => lines.push(l) });
  t.teardown(() => setLogSink({ write: (l) => process.stderr.write(l) }));
  await c.apply(await view(['a1', 'a2', 'a3']));
  const logged = lines.filter((l) => l.includes('overlay_network_unallocated')).join('\n');
  t.match(logged, /no free \/29 of 10\.99\.0\.0\/28 for agent a3 \(overlay exhausted\)/, 'logged with the reason');
  t.match(await registry.metrics(), /sextant_overlay_networks_unallocated\{network="tiny"\} 1/, 'metric per network');
  const router = new Router();
  c.mount(router);
  const m = router.match('GET', '/v1/overlay');
  if (!m || m === 'method') throw new Error('GET /v1/overlay not mounted');
  t.match(JSON.stringify(await m.handler({} as never, {} as never)), /"unallocated":\[.*no free \/29 of 10\.99\.0\.0\/28 for agent a3 \(overlay exhausted\)/, 'GET /v1/overlay names it');
  t.match(c.missing.find((m) => m.network === 'tiny')?.reason, /overlay exhausted/);
  t.equal(c.kernel, 'custom');
});
