/**
 * The traffic half of the driver contract: real connections through a driver's VIPs, the same
 * rows for every driver and both families (`FAMILIES`). Three "nodes" (namespaces) on a bridge,
 * dual-stack (10.78.0.0/24 and fd78::/64); backends on n1 and n2 (and n3 for hairpin); the client
 * and the driver on n3, which has 24 extra client addresses per family (a hashing balancer keys
 * on the client address). `driverOn(t, n3)` gives a fresh driver programming n3.
 * Rows: TCP spread over two backends (each >= 10%: a hashing balancer over 24 clients is uneven), UDP spread, hairpin (the client's node is the backend),
 * drain (weight 0: no new connections, the open one finishes), a removed backend gets nothing.
 */
import type { Test } from 'tap';
import { fileURLToPath } from 'node:url';
import { bridgeNamespaces, createNetns, spawnTracked, type Netns } from '../../test/lib/index.js';
import type { L4lbDriver, Service } from '../driver.js';
import { serviceKey } from '../services.js';
import { FAMILIES, type Family } from './contract.js';

const fixture = (f: string) => fileURLToPath(new URL(`./fixtures/${f}`, import.meta.url));
const BPORT = 7000;
const CLIENTS = 24;
const PLAN = {
  4: { node: (i: number) => `10.78.0.${i}`, len: 24, vip: (i: number) => `11.0.0.${i + 1}` },
  6: { node: (i: number) => `fd78::${i}`, len: 64, vip: (i: number) => `fd01:c::${i + 1}` },
} as const;

interface Topology {
  n3: Netns;
  /** n1, n2, n3 in one family. */
  node(family: Family, i: 1 | 2 | 3): string;
  clients(family: Family): string;
}

async function topology(t: Test): Promise<Topology> {
  const nodes = [await createNetns(t, 'n'), await createNetns(t, 'n'), await createNetns(t, 'n')];
  await bridgeNamespaces(t, nodes, '10.78.0');
  const batch: string[] = [];
  for (const [i, ns] of nodes.entries()) {
    await ns.exec('ip', ['-batch', '-'], { input: `addr add ${PLAN[6].node(i + 1)}/64 dev eth0 nodad\n` });
    const p = spawnTracked(t, ...ns.wrap('node', [fixture('server.mjs'), `n${i + 1}`, String(BPORT)]));
    await p.waitFor(/ready/);
  }
  for (let c = 0; c < CLIENTS; c++) batch.push(`addr add ${PLAN[4].node(100 + c)}/24 dev eth0`, `addr add ${PLAN[6].node(100 + c)}/64 dev eth0 nodad`);
  // A node's default route makes the VIP ranges routable (DNAT in output happens after routing).
  batch.push('route add default dev eth0', 'route add ::/0 dev eth0');
  const n3 = nodes[2]!;
  await n3.exec('ip', ['-batch', '-'], { input: batch.join('\n') + '\n' });
  return {
    n3,
    node: (family, i) => PLAN[family].node(i),
    clients: (family) => Array.from({ length: CLIENTS }, (_, c) => PLAN[family].node(100 + c)).join(','),
  };
}

async function traffic(ns: Netns, mode: 'tcp' | 'udp', host: string, port: number, n: number, local: string): Promise<{ counts: Record<string, number>; errors: number }> {
  const out = await ns.exec('node', [fixture('client.mjs'), mode, host, String(port), String(n), local], { timeoutMs: 60_000 });
  return JSON.parse(out.trim().split('\n').pop()!);
}

export async function runTrafficContract(t: Test, driverOn: (t: Test, n3: Netns) => Promise<L4lbDriver>): Promise<void> {
  const net = await topology(t);
  for (const family of FAMILIES) {
    await t.test(`IPv${family} traffic`, async (t) => {
      const d = await driverOn(t, net.n3);
      await d.start();
      t.teardown(() => d.stop());
      const [a1, a2, a3] = [net.node(family, 1), net.node(family, 2), net.node(family, 3)];
      const local = net.clients(family);
      const vip = (i: number) => PLAN[family].vip(i);
      const svc = (i: number, port: number, protocol: 'tcp' | 'udp', backends: [string, number][]): Service => ({
        key: serviceKey(protocol, vip(i), port),
        vip: vip(i),
        port,
        protocol,
        backends: backends.map(([ip, weight]) => ({ ip, port: BPORT, weight })),
      });
      const both: [string, number][] = [[a1, 1], [a2, 1]];
      const udp = svc(1, 53, 'udp', both);
      const hairpin = svc(2, 80, 'tcp', [[a3, 1]]);
      await d.apply([svc(0, 80, 'tcp', both), udp, hairpin]);

      await t.test('TCP connections spread over both backends', async (t) => {
        const { counts, errors } = await traffic(net.n3, 'tcp', vip(0), 80, 120, local);
        t.equal(errors, 0, 'every connection answered');
        t.ok((counts.n1 ?? 0) >= 12 && (counts.n2 ?? 0) >= 12, `both get >= 10%: ${JSON.stringify(counts)}`);
        t.equal((counts.n1 ?? 0) + (counts.n2 ?? 0), 120, 'only the two backends answer');
      });

      await t.test('UDP datagrams spread over both backends', async (t) => {
        const { counts, errors } = await traffic(net.n3, 'udp', vip(1), 53, 60, local);
        t.equal(errors, 0, 'every datagram answered');
        t.ok((counts.n1 ?? 0) >= 6 && (counts.n2 ?? 0) >= 6, `both get >= 10%: ${JSON.stringify(counts)}`);
      });

      await t.test('hairpin: the client node is the backend', async (t) => {
        t.same(await traffic(net.n3, 'tcp', vip(2), 80, 5, local), { counts: { n3: 5 }, errors: 0 });
      });

      await t.test('weight 0 drains: no new connections, the open one finishes', async (t) => {
        let held: ReturnType<typeof spawnTracked> | undefined;
        const addrs = local.split(',');
        for (let i = 0; i < 40 && !held; i++) {
          const h = spawnTracked(t, ...net.n3.wrap('node', [fixture('client.mjs'), 'hold', vip(0), '80', '1', addrs[i % addrs.length]!]), { stdio: ['pipe', 'pipe', 'pipe'] });
          const m = await h.waitFor(/greeting (\w+)/);
          if (m[1] === 'n2') held = h;
          else h.kill();
        }
        if (!held) return void t.fail('no connection to n2 in 40 tries');
        await d.apply([svc(0, 80, 'tcp', [[a1, 1], [a2, 0]]), udp, hairpin]);
        t.same(await traffic(net.n3, 'tcp', vip(0), 80, 40, local), { counts: { n1: 40 }, errors: 0 }, 'new connections only to n1');
        held.child.stdin!.write('still-there\n');
        await held.waitFor(/echo still-there/);
        t.pass('the open connection to the draining backend still works');
        held.kill();
      });

      await t.test('a removed backend gets no connection', async (t) => {
        await d.apply([svc(0, 80, 'tcp', [[a2, 1]]), udp, hairpin]);
        t.same(await traffic(net.n3, 'tcp', vip(0), 80, 30, local), { counts: { n2: 30 }, errors: 0 });
      });
      await d.apply([]);
    });
  }
}
