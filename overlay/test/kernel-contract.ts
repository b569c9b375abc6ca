/**
 * The overlay kernel driver contract: the same plans, the same assertions, for every driver. Each
 * run gets a fresh namespace; every step plans against the driver's own dump (what the agent
 * does), applies, and reads the kernel back with iproute2 (kernel-view.ts). Returns the kernel
 * view after each step, so the caller can also require the drivers to leave identical kernels.
 */
import ipaddr from 'ipaddr.js';
import type { Test } from 'tap';
import type { Netns } from '../../test/lib/index.js';
import type { DesiredState } from '../desired.js';
import { planChanges } from '../diff.js';
import type { KernelDriver } from '../kernel.js';
import type { Op } from '../ops.js';
import { dualWant } from './plan-cases.js';
import { readKernel, type KernelView } from './kernel-view.js';

export interface KernelFixture {
  ns: Netns;
  driver: Pick<KernelDriver, 'apply' | 'dump'>;
}

const mac = (n: number) => `70:b3:d5:80:00:0${n}`;
const canon = (cidr: string): string => {
  const [ip, len] = cidr.split('/');
  return `${ipaddr.parse(ip!).toString()}${len ? `/${len}` : ''}`;
};

/** The overlay's own objects in a kernel view (what `expected` describes). */
export function owned(v: KernelView, vtep = 'vtep1024'): KernelView {
  const mine = (s: string) => s.startsWith(`${vtep} `) || s.startsWith('m-');
  return {
    links: v.links.filter(mine),
    addrs: v.addrs.filter(mine),
    routes: v.routes.filter((r) => r.startsWith('table 42 ') || (r.startsWith('table main ') && r.includes(' via ') && r.includes(` dev ${vtep} `))),
    neighs: v.neighs.filter((n) => n.includes(` dev ${vtep} `)),
    fdb: v.fdb.filter((f) => f.includes(` dev ${vtep} `)),
    rules: v.rules.filter((r) => r.endsWith(' lookup 42')),
  };
}

/** What iproute2 should report for a desired state, in kernel-view.ts's form. */
export function expected(w: DesiredState): KernelView {
  const dev = w.vtep.name;
  const v6 = (ip: string) => ip.includes(':');
  const route = (table: string, dst: string, via: string) =>
    `table ${table} unicast ${canon(dst.endsWith('/32') ? dst.slice(0, -3) : dst)} via ${via} dev ${dev} proto boot scope global${v6(via) ? ' metric 1024' : ''} onlink`;
  const addrs = (name: string, a: (string | undefined)[]) => a.filter((x): x is string => !!x).map((x) => `${name} ${canon(x)}${v6(x) ? ' nodad' : ''}`);
  const v = w.vtep;
  return {
    links: [`${dev} vxlan mtu ${v.mtu} up id ${v.vni} dstport ${v.port} learning false udp_csum false address ${v.mac}`, ...w.bridges.map((b) => `${b.name} bridge mtu ${b.mtu} up`)].sort(),
    addrs: [...addrs(dev, [v.addr, v.addr6]), ...w.bridges.flatMap((b) => addrs(b.name, [b.addr, b.addr6]))].sort(),
    routes: [...w.routes.map((r) => route('main', r.dst, r.via)), ...w.table42.map((r) => route('42', r.dst.endsWith('/128') ? r.dst.slice(0, -4) : r.dst, r.via))].sort(),
    neighs: w.neighs.map((n) => `${canon(n.ip)} dev ${dev} lladdr ${n.mac} PERMANENT`).sort(),
    fdb: w.fdbs.map((f) => `${f.mac} dev ${dev} dst ${f.dst} self permanent`).sort(),
    rules: w.rules.map((src) => `32000 from ${src} lookup 42`).sort(),
  };
}

/**
 * dualWant, changed: remote 3 joins (v4 and v6), remote 2's underlay address moves, network
 * `dcos` of remote 2 is reached through remote 3, `m-dcos` gets another MTU and `m-app` another
 * gateway address, and the IPv6 policy routing appears (remote 3 registered an IPv6 address:
 * `ip -6 rule from fd01:b::/64 lookup 42`, its address /128 via its v6 VTEP in table 42).
 */
export function changedWant(): DesiredState {
  const w = dualWant();
  w.bridges[0]!.addr = '10.1.0.2/25';
  w.bridges[1]!.mtu = 1400;
  w.neighs.push({ ip: '44.128.0.3', mac: mac(3) }, { ip: 'fd01:a::2c80:3', mac: mac(3) });
  w.fdbs = [
    { mac: mac(2), dst: '10.0.0.22' },
    { mac: mac(3), dst: '10.0.0.3' },
  ];
  w.routes = [
    { dst: '10.1.1.0/24', via: '44.128.0.2' },
    { dst: '10.1.2.0/24', via: '44.128.0.3' },
    { dst: '9.0.1.0/24', via: '44.128.0.3' },
    { dst: 'fd01:b:0:0:1::/80', via: 'fd01:a::2c80:2' },
    { dst: 'fd01:b:0:0:2::/80', via: 'fd01:a::2c80:3' },
  ];
  w.table42 = [
    { dst: '10.0.0.22/32', via: '44.128.0.2' },
    { dst: '10.0.0.3/32', via: '44.128.0.3' },
    { dst: 'fd00:5e::3/128', via: 'fd01:a::2c80:3' },
  ];
  w.rules = [...w.rules, 'fd01:b::/64'];
  return w;
}

/** The VXLAN device with another VNI: the planner deletes and recreates it. */
export function newVniWant(): DesiredState {
  const w = changedWant();
  w.vtep.vni = 1025;
  return w;
}

/** No remote agents and no networks: everything but the VXLAN device and its IPv4 address goes. */
export function emptyWant(): DesiredState {
  const w = newVniWant();
  delete w.vtep.addr6;
  return { ...w, bridges: [], neighs: [], fdbs: [], routes: [], rules: [], table42: [], networks: [] };
}

export async function runKernelContract(t: Test, f: KernelFixture): Promise<KernelView[]> {
  const d = f.driver;
  const vtep = 'vtep1024';
  const views: KernelView[] = [];
  const step = async (name: string, want: DesiredState, kinds: Op['op'][]): Promise<void> => {
    const plan = planChanges(want, await d.dump(vtep));
    t.same([...new Set(plan.map((o) => o.op))].sort(), [...kinds].sort(), `${name}: the plan has the op kinds this step is for`);
    await d.apply(plan);
    const view = await readKernel(f.ns);
    t.same(owned(view), expected(want), `${name}: the kernel holds the desired state`);
    t.same(planChanges(want, await d.dump(vtep)), [], `${name}: the driver's dump reads back what it wrote (nothing left to plan)`);
    views.push(view);
  };

  await step('from empty', dualWant(), ['vxlan.add', 'bridge.add', 'link.set', 'addr.replace', 'neigh.replace', 'route.replace', 'rule.add', 'fdb.replace']);
  await step('a change', changedWant(), ['link.set', 'addr.replace', 'addr.del', 'neigh.replace', 'route.replace', 'route.del', 'rule.add', 'fdb.replace']);
  await step('VXLAN device recreated', newVniWant(), ['link.del', 'vxlan.add', 'link.set', 'addr.replace', 'neigh.replace', 'route.replace', 'fdb.replace']);
  await step('deletes (after the recreated device)', emptyWant(), ['link.del', 'addr.del', 'neigh.del', 'route.del', 'rule.del', 'fdb.del']);

  // A failing op: apply rejects naming it, the ops before it are in the kernel, and the next plan
  // (from a fresh dump) finishes the job.
  const want = dualWant();
  const plan = planChanges(want, await d.dump(vtep)).filter((o) => !o.op.startsWith('fdb.'));
  const bad: Op = { op: 'route.replace', dst: '9.9.9.0/24', via: '44.128.0.9', dev: 'sxnodev0', table: 254 };
  await t.rejects(d.apply([...plan, bad]), { name: 'KernelError', message: /sxnodev0/ }, 'a failing op rejects the apply, naming the device');
  t.same(owned(await readKernel(f.ns)), { ...expected(want), fdb: [] }, 'the ops before the failing one were applied');
  const rest = planChanges(want, await d.dump(vtep));
  t.same([...new Set(rest.map((o) => o.op))], ['fdb.replace'], 'the next plan holds only what was left');
  await d.apply(rest);
  const view = await readKernel(f.ns);
  t.same(owned(view), expected(want), 'after the failure: the kernel holds the desired state');
  views.push(view);
  return views;
}
