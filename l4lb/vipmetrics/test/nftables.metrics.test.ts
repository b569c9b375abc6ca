/**
 * VIP metrics of the nftables driver on a real kernel, through the agent plugin, IPv4 and IPv6:
 * three "nodes" (namespaces) on a bridge; the client and the driver on n3; a VIP per family with a
 * live backend (n1), a closed port (n2: the kernel answers RST) and a blackholed address (a
 * neighbour entry nobody answers for: no SYN-ACK, SYNs retransmitted). `GET /net/v1/metrics` and
 * the Prometheus series show the dead backends' failures and the live one's connections and bytes.
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
// Address plan: bridge 10.86.0.0/24 and fd86::/64; n1 = .1 (live), n2 = .2 (port closed),
// n3 = .3 (client, driver); .9 / ::9 blackholed. VIPs 11.0.0.1:80 and [fd01:c::1]:80.
const PLAN = {
  4: { addr: (i: number) => `10.86.0.${i}`, vip: '11.0.0.1', name: (a: string) => a, mac: '02:00:00:00:00:09' },
  6: { addr: (i: number) => `fd86::${i}`, vip: 'fd01:c::1', name: (a: string) => `[${a}]`, mac: '02:00:00:00:00:69' },
} as const;
const BPORT = 7000;
const N = 24;

let version = 0;
const view = (vips: Vip[]): Snapshot =>
  ({ history: 'h', version: ++version, overlay: {} as never, parts: { vips, zones: [], networks: [], overlay_agents: [], isolation_rules: [], network_policies: [], masters: [] } }) as Snapshot;

t.test('nftables VIP metrics from the kernel', async (t) => {
  requireRoot();
  requireTools('nft', 'ip', 'node');
  const nodes = [await createNetns(t, 'n'), await createNetns(t, 'n'), await createNetns(t, 'n')];
  const [n1, , n3] = nodes as [Netns, Netns, Netns];
  await bridgeNamespaces(t, nodes, '10.86.0');
  for (const [i, ns] of nodes.entries()) await ns.ip('addr', 'add', `${PLAN[6].addr(i + 1)}/64`, 'dev', 'eth0', 'nodad');
  await n3.ip('route', 'add', 'default', 'dev', 'eth0');
  await n3.ip('-6', 'route', 'add', '::/0', 'dev', 'eth0');
  // The blackholes: without a neighbour entry, SYNs would wait on ARP/ND and never be retransmitted.
  for (const f of [4, 6] as const) await n3.ip('neigh', 'add', PLAN[f].addr(9), 'lladdr', PLAN[f].mac, 'dev', 'eth0', 'nud', 'permanent');
  await spawnTracked(t, 'ip', ['netns', 'exec', n1.name, 'node', fixture('server.mjs'), 'n1', String(BPORT)]).waitFor(/ready/);

  const registry = createRegistry();
  const control = createAgentControl();
  const routes: ((r: Router) => void)[] = [];
  const plugin = l4lbAgentPlugin({ driver: 'nftables', nftables: { netns: n3.name } });
  const node = PLAN[4].addr(3);
  const c = plugin(agentHost({ agentId: 'a', ip: node, workDir: '/nonexistent', masters: [], registry, routes: (f) => routes.push(f) }, 'l4lb', control));
  await c.start();
  t.teardown(() => c.stop());
  let r!: L4lbReconciler;
  control.onConsumer((x) => (r = x as L4lbReconciler));
  const router = new Router();
  routes.forEach((f) => f(router));
  const http = await serve(router, { host: '127.0.0.1', port: 0 });
  t.teardown(() => http.close());
  const get = async () => (await (await fetch(`http://127.0.0.1:${http.address().port}/net/v1/metrics`)).json()) as NodeNetMetrics;

  const vips = ([4, 6] as const).map((f): Vip => ({
    key: `tcp/${PLAN[f].vip}:80`,
    ip: PLAN[f].vip,
    port: 80,
    protocol: 'tcp',
    name: '/web',
    framework: 'marathon',
    dns_name: 'web.marathon.l4lb.thisdcos.directory',
    backends: [1, 2, 9].map((i) => ({ ip: PLAN[f].addr(i), port: BPORT, weight: 1, task_id: `t${i}`, agent_id: 'a' })),
  }));
  await r.apply(view(vips));

  const before = await get();
  t.match(before, { node, driver: 'nftables', measures: { connections: true, failures: true, bytes: true, latency: false } });
  t.same(before.vips.flatMap((v) => v.backends.map((b) => [b.connections, b.failures, b.bytes])), new Array(6).fill([0, 0, 0]), 'every programmed backend is listed, at zero');

  for (const f of [4, 6] as const) {
    await t.test(`IPv${f}: the dead backends' failures, the live one's connections and bytes`, async (t) => {
      const P = PLAN[f];
      const vipName = `${P.name(P.vip)}:80/tcp`;
      const id = (i: number) => `${P.name(P.addr(i))}:${BPORT}`;
      const out = await n3.exec('node', [fixture('client.mjs'), 'tcp', P.vip, '80', String(N)], { timeoutMs: 120_000 });
      const { counts } = JSON.parse(out.trim().split('\n').pop()!) as { counts: Record<string, number> };
      const m = await get();
      const v = m.vips.find((x) => x.vip === vipName);
      t.match(v, { vip: vipName, name: 'web.marathon.l4lb.thisdcos.directory' });
      const by = new Map(v!.backends.map((b) => [b.backend, b]));
      const [live, closed, hole] = [by.get(id(1))!, by.get(id(2))!, by.get(id(9))!];
      t.equal(live.connections, counts.n1, `the live backend's connections are the client's answers (${JSON.stringify(counts)})`);
      t.equal(live.failures, 0, 'the live backend has no failures');
      t.ok(live.bytes! > 0, `the live backend has bytes (${live.bytes})`);
      t.ok(closed.connections! > 0 && closed.failures === closed.connections, `every connection to the closed port failed (RST): ${JSON.stringify(closed)}`);
      t.ok(hole.connections! > 0 && hole.failures === hole.connections, `every connection to the blackholed address failed (no SYN-ACK): ${JSON.stringify(hole)}`);
      // Never more than the client made: a SYN retransmit is not a new connection. (One fewer was seen once: a
      // blackholed attempt whose source port reused a conntrack entry still in SYN_SENT is not a new flow to the kernel.)
      const total = live.connections! + closed.connections! + hole.connections!;
      t.ok(total <= N && total >= N - 1, `each connection counted once (SYN retransmits are not new connections): ${total} of ${N}`);
      t.notOk('latency' in live, 'no latency from a kernel driver');

      const prom = await registry.metrics();
      const esc = (s: string) => s.replace(/[[\]]/g, '\\$&');
      const series = (name: string, b: string) => Number(new RegExp(`${name}\\{vip="${esc(vipName)}",backend="${esc(b)}"\\} (\\d+)`).exec(prom)?.[1]);
      t.equal(series('sextant_l4lb_vip_connections_total', id(1)), live.connections, 'Prometheus: live connections');
      t.equal(series('sextant_l4lb_vip_failures_total', id(2)), closed.failures, 'Prometheus: closed port failures');
      t.equal(series('sextant_l4lb_vip_failures_total', id(9)), hole.failures, 'Prometheus: blackhole failures');
      t.ok(series('sextant_l4lb_vip_bytes_total', id(1)) >= live.bytes!, 'Prometheus: live bytes (read later: late FINs may add)');
      t.notMatch(prom, /sextant_l4lb_vip_connect_latency_seconds_bucket/, 'no latency series');
    });
  }
});
