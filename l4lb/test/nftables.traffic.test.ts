/**
 * Real traffic through the nftables driver: three "nodes" (namespaces) on a bridge, backends on
 * n1 and n2 (and n3 for hairpin), the client and the l4lb rules on n3. Driven through the
 * reconciler, as the agent does, with an injected clock for the periodic reconcile.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { FakeClock } from '../../common/clock.js';
import { createRegistry } from '../../common/metrics.js';
import type { Snapshot, Vip } from '../../contracts/index.js';
import { bridgeNamespaces, createNetns, requireRoot, requireTools, spawnTracked, type Netns } from '../../test/lib/index.js';
import { NftablesDriver } from '../nft/driver.js';
import { L4lbReconciler } from '../reconciler.js';

const fixture = (f: string) => fileURLToPath(new URL(`./fixtures/${f}`, import.meta.url));
// Address plan: bridge 10.77.0.0/24, n1=.1 n2=.2 n3=.3 (client); VIPs in 11.0.0.0/8; backends on :7000.
const BASE = '10.77.0';
const VIP = '11.0.0.1';
const UDP_VIP = '11.0.0.2';
const HAIRPIN_VIP = '11.0.0.3';
const LOCAL_VIP = '11.0.0.9';
const BPORT = 7000;

function vip(ip: string, port: number, protocol: 'tcp' | 'udp', backends: [string, number][]): Vip {
  return { key: `${protocol}/${ip}:${port}`, ip, port, protocol, backends: backends.map(([b, weight]) => ({ ip: b, port: BPORT, weight, task_id: b, agent_id: b })) };
}
let version = 0;
const view = (vips: Vip[]): Snapshot =>
  ({ history: 'h', version: ++version, overlay: {} as never, parts: { vips, zones: [], networks: [], overlay_agents: [], isolation_rules: [], network_policies: [], masters: [] } }) as Snapshot;

async function traffic(ns: Netns, mode: 'tcp' | 'udp', host: string, port: number, n: number, local?: string): Promise<{ counts: Record<string, number>; errors: number }> {
  const out = await ns.exec('node', [fixture('client.mjs'), mode, host, String(port), String(n), ...(local ? [local] : [])], { timeoutMs: 60_000 });
  return JSON.parse(out.trim().split('\n').pop()!);
}

t.test('nftables VIPs carry real traffic', async (t) => {
  requireRoot();
  requireTools('nft', 'ip', 'node');
  const nodes = [await createNetns(t, 'n'), await createNetns(t, 'n'), await createNetns(t, 'n')];
  const [n1, n2, n3] = nodes as [Netns, Netns, Netns];
  const { addrs } = await bridgeNamespaces(t, nodes, BASE);
  const [a1, a2, a3] = addrs as [string, string, string];
  await n3.ip('route', 'add', 'default', 'dev', 'eth0'); // a node's default route makes the VIP range routable
  for (const [ns, name] of [[n1, 'n1'], [n2, 'n2'], [n3, 'n3']] as const) {
    const p = spawnTracked(t, 'ip', ['netns', 'exec', ns.name, 'node', fixture('server.mjs'), name, String(BPORT)]);
    await p.waitFor(/ready/);
  }
  const clock = new FakeClock();
  const driver = new NftablesDriver({ netns: n3.name });
  const r = new L4lbReconciler({ driver, registry: createRegistry(), clock });
  await r.start();
  t.teardown(() => r.stop());

  const both: [string, number][] = [[a1, 1], [a2, 1]];
  await r.apply(view([vip(VIP, 80, 'tcp', both), vip(UDP_VIP, 53, 'udp', both), vip(HAIRPIN_VIP, 80, 'tcp', [[a3, 1]])]));

  await t.test('connections spread over both backends', async (t) => {
    const { counts, errors } = await traffic(n3, 'tcp', VIP, 80, 200);
    t.equal(errors, 0);
    t.ok((counts.n1 ?? 0) >= 50 && (counts.n2 ?? 0) >= 50, `both get >= 25%: ${JSON.stringify(counts)}`);
  });

  await t.test('UDP VIP spreads datagrams', async (t) => {
    const { counts, errors } = await traffic(n3, 'udp', UDP_VIP, 53, 60);
    t.equal(errors, 0);
    t.ok((counts.n1 ?? 0) >= 10 && (counts.n2 ?? 0) >= 10, `both answer: ${JSON.stringify(counts)}`);
  });

  await t.test('hairpin: the client node is the backend', async (t) => {
    t.same(await traffic(n3, 'tcp', HAIRPIN_VIP, 80, 5), { counts: { n3: 5 }, errors: 0 });
  });

  await t.test('weight 0 drains: no new connections, the open one finishes', async (t) => {
    let held: ReturnType<typeof spawnTracked> | undefined;
    for (let i = 0; i < 20 && !held; i++) {
      const h = spawnTracked(t, 'ip', ['netns', 'exec', n3.name, 'node', fixture('client.mjs'), 'hold', VIP, '80'], { stdio: ['pipe', 'pipe', 'pipe'] });
      const m = await h.waitFor(/greeting (\w+)/);
      if (m[1] === 'n2') held = h;
      else h.kill();
    }
    t.ok(held, 'holding a connection to n2');
    await r.apply(view([vip(VIP, 80, 'tcp', [[a1, 1], [a2, 0]])]));
    t.same(await traffic(n3, 'tcp', VIP, 80, 40), { counts: { n1: 40 }, errors: 0 }, 'new connections only to n1');
    held!.child.stdin!.write('still-there\n');
    await held!.waitFor(/echo still-there/);
    t.pass('the open connection to the draining backend still works');
    held!.kill();
  });

  await t.test('a killed backend is gone within 1 s of its status change', async (t) => {
    await r.apply(view([vip(VIP, 80, 'tcp', both)]));
    const t0 = Date.now();
    await r.apply(view([vip(VIP, 80, 'tcp', [[a1, 1]])]));
    const ms = Date.now() - t0;
    t.ok(ms < 5000, `applied in ${ms} ms (the bench measures the speed)`);
    t.same(await traffic(n3, 'tcp', VIP, 80, 30), { counts: { n1: 30 }, errors: 0 });
  });

  await t.test('nft flush ruleset by someone else is repaired by the next periodic reconcile', async (t) => {
    await n3.exec('nft', ['flush', 'ruleset']);
    const broken = await traffic(n3, 'tcp', VIP, 80, 1);
    t.equal(broken.errors, 1, 'VIP dead after the flush');
    clock.advance(30_000);
    await r.lastReconcile;
    t.same(await traffic(n3, 'tcp', VIP, 80, 10), { counts: { n1: 10 }, errors: 0 }, 'VIP works again');
  });

  await t.test('a port-mapping DNAT rule on the same port does not capture VIP traffic', async (t) => {
    await n3.ip('addr', 'add', `${LOCAL_VIP}/32`, 'dev', 'lo'); // a local VIP, as with ipvs
    const portmap = [
      'table ip sxportmap {',
      '  chain out {',
      '    type nat hook output priority -100; policy accept;',
      '    fib daddr type local tcp dport 80 dnat to 10.77.0.2:7000',
      '  }',
      '  chain pre {',
      '    type nat hook prerouting priority dstnat; policy accept;',
      '    fib daddr type local tcp dport 80 dnat to 10.77.0.2:7000',
      '  }',
      '}',
    ].join('\n');
    await n3.exec('nft', ['-f', '-'], { input: portmap + '\n' });
    t.same(await traffic(n3, 'tcp', LOCAL_VIP, 80, 2, a3), { counts: { n2: 2 }, errors: 0 }, 'without a VIP the port mapping takes the port');
    await r.apply(view([vip(VIP, 80, 'tcp', [[a1, 1]]), vip(LOCAL_VIP, 80, 'tcp', [[a1, 1]])]));
    t.same(await traffic(n3, 'tcp', LOCAL_VIP, 80, 10, a3), { counts: { n1: 10 }, errors: 0 }, 'VIP traffic reaches the VIP backend, not the port mapping');
  });
});
