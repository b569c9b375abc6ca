/**
 * Representative plans for the planner and the iproute2 renderer: desired states and kernel dumps
 * (plain data) covering a fresh agent, dual stack, drift of every object kind, a recreated VXLAN
 * device and a no-op. Each case's iproute2 text was recorded from the text planner that diff.ts
 * replaced (commit 42b03ea), so the renderer is held to the exact batches the agent used to run.
 */
import type { DesiredState } from '../desired.js';
import type { KernelLink, KernelState } from '../kernel.js';

const mac = (n: number) => `70:b3:d5:80:00:0${n}`;

/** Agent 1 of three (v4 only, one network `dcos`). */
export function v4Want(): DesiredState {
  return {
    vtep: { name: 'vtep1024', vni: 1024, port: 64000, mac: mac(1), mtu: 1450, addr: '44.128.0.1/20' },
    bridges: [{ name: 'm-dcos', network: 'dcos', mtu: 1420, addr: '9.0.0.1/25' }],
    neighs: [
      { ip: '44.128.0.2', mac: mac(2) },
      { ip: '44.128.0.3', mac: mac(3) },
    ],
    fdbs: [
      { mac: mac(2), dst: '10.0.0.2' },
      { mac: mac(3), dst: '10.0.0.3' },
    ],
    routes: [
      { dst: '9.0.1.0/24', via: '44.128.0.2' },
      { dst: '9.0.2.0/24', via: '44.128.0.3' },
    ],
    rules: ['9.0.0.0/8'],
    table42: [
      { dst: '10.0.0.2/32', via: '44.128.0.2' },
      { dst: '10.0.0.3/32', via: '44.128.0.3' },
    ],
    networks: [{ name: 'dcos', subnet: '9.0.0.0/8', bridge: '9.0.0.0/25' }],
  };
}

/** Agent 1 of two, two networks, `dcos` dual stack. */
export function dualWant(): DesiredState {
  return {
    vtep: { name: 'vtep1024', vni: 1024, port: 64000, mac: mac(1), mtu: 1450, addr: '44.128.0.1/20', addr6: 'fd01:a::2c80:1/64' },
    bridges: [
      { name: 'm-app', network: 'app', mtu: 1400, addr: '10.1.0.1/25' },
      { name: 'm-dcos', network: 'dcos', mtu: 1420, addr: '9.0.0.1/25', addr6: 'fd01:b::1/81' },
    ],
    neighs: [
      { ip: '44.128.0.2', mac: mac(2) },
      { ip: 'fd01:a::2c80:2', mac: mac(2) },
    ],
    fdbs: [{ mac: mac(2), dst: '10.0.0.2' }],
    routes: [
      { dst: '10.1.1.0/24', via: '44.128.0.2' },
      { dst: '9.0.1.0/24', via: '44.128.0.2' },
      { dst: 'fd01:b:0:0:1::/80', via: 'fd01:a::2c80:2' },
    ],
    rules: ['10.1.0.0/16', '9.0.0.0/8'],
    table42: [{ dst: '10.0.0.2/32', via: '44.128.0.2' }],
    networks: [
      { name: 'app', subnet: '10.1.0.0/16', bridge: '10.1.0.0/25' },
      { name: 'dcos', subnet: '9.0.0.0/8', bridge: '9.0.0.0/25', subnet6: 'fd01:b::/64' },
    ],
  };
}

const link = (name: string, kind: string | undefined, mtu: number, addrs: string[], extra: Partial<KernelLink> = {}): [string, KernelLink] => [
  name,
  { name, kind, mac: '02:00:00:00:00:01', mtu, up: true, addrs, ...extra },
];

/** The namespace before the agent ran: loopback and the underlay only. */
export function bareKernel(): KernelState {
  return { links: new Map([link('lo', undefined, 65536, ['127.0.0.1/8', '::1/128']), link('eth0', 'veth', 1500, ['10.0.0.1/24'])]), neighs: [], fdbs: [], routes: [], rules: [], table42: [] };
}

/** Exactly what `want` asks for (what a dump reads back after a successful apply). */
export function kernelOf(want: DesiredState): KernelState {
  const k = bareKernel();
  const v = want.vtep;
  k.links.set(v.name, { name: v.name, kind: 'vxlan', vni: v.vni, port: v.port, learning: false, mac: v.mac, mtu: v.mtu, up: true, addrs: [v.addr, ...(v.addr6 ? [v.addr6] : [])] });
  for (const b of want.bridges) k.links.set(b.name, { name: b.name, kind: 'bridge', mac: '02:00:00:00:00:02', mtu: b.mtu, up: true, addrs: [b.addr, ...(b.addr6 ? [b.addr6] : [])] });
  return { links: k.links, neighs: [...want.neighs], fdbs: [...want.fdbs], routes: [...want.routes], rules: want.rules.map((src) => ({ src, pref: 32000 })), table42: [...want.table42] };
}

/** Every kind of drift on an agent that ran `v4Want` before. */
export function driftedKernel(): KernelState {
  const k = kernelOf(v4Want());
  const vtep = k.links.get('vtep1024')!;
  Object.assign(vtep, { mtu: 1500, up: false, addrs: ['44.128.0.9/20'] });
  k.links.get('m-dcos')!.addrs = [];
  k.links.set(...link('m-old', 'bridge', 1420, ['9.9.0.1/25']));
  k.links.set(...link('br0', 'bridge', 1500, []));
  k.links.set(...link('m-veth', 'veth', 1500, []));
  k.neighs = [
    { ip: '44.128.0.2', mac: mac(2) },
    { ip: '44.128.0.3', mac: mac(9) },
    { ip: '44.128.0.4', mac: mac(4) },
    { ip: 'fd01:a::2c80:4', mac: mac(4) },
  ];
  k.fdbs = [
    { mac: mac(2), dst: '10.0.0.2' },
    { mac: mac(3), dst: '10.0.0.33' },
    { mac: mac(4), dst: '10.0.0.4' },
  ];
  k.routes = [
    { dst: '9.0.1.0/24', via: '44.128.0.2' },
    { dst: '9.0.2.0/24', via: '44.128.0.4' },
    { dst: '9.0.3.0/24', via: '44.128.0.4' },
    { dst: 'fd01:b:0:0:3::/80', via: 'fd01:a::2c80:4' },
  ];
  k.table42 = [
    { dst: '10.0.0.2/32', via: '44.128.0.2' },
    { dst: '10.0.0.4/32', via: '44.128.0.4' },
  ];
  k.rules = [
    { src: '9.0.0.0/8', pref: 31000 },
    { src: '10.9.0.0/16', pref: 32000 },
  ];
  return k;
}

/** The VXLAN device exists with another VNI and learning on: it is deleted and created again. */
export function wrongVniKernel(): KernelState {
  const k = kernelOf(v4Want());
  Object.assign(k.links.get('vtep1024')!, { vni: 1025, learning: true });
  k.table42 = [
    { dst: '10.0.0.2/32', via: '44.128.0.2' },
    { dst: '10.0.0.4/32', via: '44.128.0.4' },
  ];
  return k;
}

export const planCases: { name: string; want: () => DesiredState; have: () => KernelState }[] = [
  { name: 'fresh agent, v4', want: v4Want, have: bareKernel },
  { name: 'fresh agent, dual stack', want: dualWant, have: bareKernel },
  { name: 'nothing to change', want: v4Want, have: () => kernelOf(v4Want()) },
  { name: 'nothing to change, dual stack', want: dualWant, have: () => kernelOf(dualWant()) },
  { name: 'drift of every kind', want: v4Want, have: driftedKernel },
  { name: 'recreated VXLAN device', want: v4Want, have: wrongVniKernel },
  { name: 'v4 agent to dual stack', want: dualWant, have: () => kernelOf(v4Want()) },
  { name: 'dual stack back to v4', want: v4Want, have: () => kernelOf(dualWant()) },
];
