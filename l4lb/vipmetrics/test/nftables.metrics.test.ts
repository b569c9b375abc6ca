/**
 * VIP metrics of the nftables driver on a real kernel, through the agent plugin: three "nodes"
 * (namespaces) on a bridge; the client and the driver on n3; a VIP with a live backend (n1), a
 * closed port (n2: the kernel answers RST) and a blackholed address (frames to a MAC nobody has: no SYN-ACK).
 * `GET /net/v1/metrics` and the Prometheus series show the dead backends' failures and the live
 * one's connections and bytes.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { createRegistry } from '../../../common/metrics.js';
import { Router, serve } from '../../../common/http.js';
import { createAgentControl, type NodeNetMetrics, type Snapshot, type Vip } from '../../../contracts/index.js';
import { agentHost, bridgeNamespaces, createNetns, requireRoot, requireTools, spawnTracked, type Netns } from '../../../test/lib/index.js';
import { l4lbAgentPlugin } from '../../plugin.js';
import type { L4lbReconciler } from '../../reconciler.js';

const fixture = (f: string) => fileURLToPath(new URL(`../../test/fixtures/${f}`, import.meta.url));
// Address plan: bridge 10.86.0.0/24, n1=.1 (live) n2=.2 (port closed) n3=.3 (client, driver); .9 blackholed.
const BASE = '10.86.0';
const VIP = '11.0.0.1';
const BPORT = 7000;
const DEAD = `${BASE}.9`;
const N = 24;

let version = 0;
const view = (vips: Vip[]): Snapshot =>
  ({ history: 'h', version: ++version, overlay: {} as never, parts: { vips, zones: [], networks: [], overlay_agents: [], isolation_rules: [], network_policies: [], masters: [] } }) as Snapshot;

t.test('nftables VIP metrics from the kernel', async (t) => {
  requireRoot();
  requireTools('nft', 'ip', 'node');
  const nodes = [await createNetns(t, 'n'), await createNetns(t, 'n'), await createNetns(t, 'n')];
  const [n1, , n3] = nodes as [Netns, Netns, Netns];
  const { addrs } = await bridgeNamespaces(t, nodes, BASE);
  const [a1, a2, a3] = addrs as [string, string, string];
  await n3.ip('route', 'add', 'default', 'dev', 'eth0');
  // The blackhole: a neighbour entry nobody answers for (without it, SYNs would wait on ARP and never be retransmitted).
  await n3.ip('neigh', 'add', DEAD, 'lladdr', '02:00:00:00:00:09', 'dev', 'eth0');
  await spawnTracked(t, 'ip', ['netns', 'exec', n1.name, 'node', fixture('server.mjs'), 'n1', String(BPORT)]).waitFor(/ready/);

  const registry = createRegistry();
  const control = createAgentControl();
  const routes: ((r: Router) => void)[] = [];
  const plugin = l4lbAgentPlugin({ driver: 'nftables', nftables: { netns: n3.name } });
  const c = plugin(agentHost({ agentId: 'a', ip: a3, workDir: '/nonexistent', masters: [], registry, routes: (f) => routes.push(f) }, 'l4lb', control));
  await c.start();
  t.teardown(() => c.stop());
  let r!: L4lbReconciler;
  control.onConsumer((x) => (r = x as L4lbReconciler));
  const router = new Router();
  routes.forEach((f) => f(router));
  const http = await serve(router, { host: '127.0.0.1', port: 0 });
  t.teardown(() => http.close());
  const get = async () => (await (await fetch(`http://127.0.0.1:${http.address().port}/net/v1/metrics`)).json()) as NodeNetMetrics;

  const backends = [a1, a2, DEAD].map((ip) => ({ ip, port: BPORT, weight: 1, task_id: ip, agent_id: 'a' }));
  await r.apply(view([{ key: `tcp/${VIP}:80`, ip: VIP, port: 80, protocol: 'tcp', name: '/web', framework: 'marathon', dns_name: 'web.marathon.l4lb.thisdcos.directory', backends }]));

  const before = await get();
  t.match(before, { node: a3, driver: 'nftables', measures: { connections: true, failures: true, bytes: true, latency: false } });
  t.same(before.vips[0]?.backends.map((b) => [b.backend, b.connections, b.failures]), [
    [`${a1}:${BPORT}`, 0, 0],
    [`${a2}:${BPORT}`, 0, 0],
    [`${DEAD}:${BPORT}`, 0, 0],
  ], 'every programmed backend is listed, at zero');

  const out = await n3.exec('node', [fixture('client.mjs'), 'tcp', VIP, '80', String(N)], { timeoutMs: 120_000 });
  const { counts } = JSON.parse(out.trim().split('\n').pop()!) as { counts: Record<string, number> };
  const m = await get();
  t.equal(m.vips.length, 1);
  t.match(m.vips[0], { vip: `${VIP}:80/tcp`, name: 'web.marathon.l4lb.thisdcos.directory' });
  const by = new Map(m.vips[0]!.backends.map((b) => [b.backend, b]));
  const live = by.get(`${a1}:${BPORT}`)!;
  const closed = by.get(`${a2}:${BPORT}`)!;
  const hole = by.get(`${DEAD}:${BPORT}`)!;
  t.equal(live.connections, counts.n1, `the live backend's connections are the client's answers (${JSON.stringify(counts)})`);
  t.equal(live.failures, 0, 'the live backend has no failures');
  t.ok(live.bytes! > 0, `the live backend has bytes (${live.bytes})`);
  t.ok(closed.connections! > 0 && closed.failures === closed.connections, `every connection to the closed port failed (RST): ${JSON.stringify(closed)}`);
  t.ok(hole.connections! > 0 && hole.failures === hole.connections, `every connection to the blackholed address failed (no SYN-ACK): ${JSON.stringify(hole)}`);
  t.equal(live.connections! + closed.connections! + hole.connections!, N, 'each connection counted once (SYN retransmits are not new connections)');
  t.notOk('latency' in live, 'no latency from a kernel driver');

  const prom = await registry.metrics();
  const series = (name: string, b: string) => Number(new RegExp(`${name}\\{vip="${VIP}:80/tcp",backend="${b}"\\} (\\d+)`).exec(prom)?.[1]);
  t.equal(series('sextant_l4lb_vip_connections_total', `${a1}:${BPORT}`), live.connections, 'Prometheus: live connections');
  t.equal(series('sextant_l4lb_vip_failures_total', `${a2}:${BPORT}`), closed.failures, 'Prometheus: closed port failures');
  t.equal(series('sextant_l4lb_vip_failures_total', `${DEAD}:${BPORT}`), hole.failures, 'Prometheus: blackhole failures');
  t.ok(series('sextant_l4lb_vip_bytes_total', `${a1}:${BPORT}`) > 0, 'Prometheus: live bytes');
  t.notMatch(prom, /sextant_l4lb_vip_connect_latency_seconds_bucket/, 'no latency series');
});
