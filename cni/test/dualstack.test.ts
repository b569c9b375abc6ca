/**
 * Dual-stack IPAM (CNI `ranges: [[IPv4], [IPv6]]`, as host-local takes them) against a real kernel:
 * one ADD gives the task an IPv4 and an IPv6 address with a default route each, the bridge both
 * gateways, and TCP works over v6 to the gateway and between two tasks; CHECK covers the v6 half,
 * DEL releases both, and configs this IPAM cannot serve are refused with the field named.
 */
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { requireNetns, requireTools, createNetns, uniqueName } from '../../test/lib/index.js';
import { env, fetchText, netName, plugin, serve, tempDir } from './helpers.js';

requireNetns();
requireTools('ip', 'nft', 'nsenter');

const V4 = '10.232.0.0/24';
const V6 = 'fd01:b:0:0:7::/81';
const GW4 = '10.232.0.1';
const GW6 = 'fd01:b::7:0:0:1';

function dualConfig(name: string, dataDir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion: '1.1.0',
    name,
    type: 'sextant-cni',
    mtu: 1420,
    ipam: { type: 'host-local', ranges: [[{ subnet: V4 }], [{ subnet: V6 }]], dataDir, ...extra },
  };
}

t.test('one ADD gives an IPv4 and an IPv6 address, routes and gateways', async (t) => {
  const host = await createNetns(t, 'h');
  const dataDir = await tempDir(t);
  const name = netName();
  const conf = dualConfig(name, dataDir);
  const tasks = [await createNetns(t, 't'), await createNetns(t, 't')];
  const cids = [uniqueName('c'), uniqueName('c')];
  const added: any[] = [];
  for (const i of [0, 1]) {
    const r = await plugin(host, env('ADD', cids[i]!, tasks[i]!), conf);
    t.equal(r.code, 0, JSON.stringify(r.out));
    added.push(r.out);
  }
  const [a0] = added;
  t.match(a0.ips, [
    { address: /^10\.232\.0\.\d+\/24$/, gateway: GW4, interface: 2 },
    { address: /^fd01:b::7:0:0:\w+\/81$/, gateway: GW6, interface: 2 },
  ]);
  t.same(a0.routes, [{ dst: '0.0.0.0/0' }, { dst: '::/0' }], 'a default route per family');
  const ip6 = added.map((a) => a.ips[1].address.split('/')[0]);
  t.not(ip6[0], ip6[1], 'two tasks, two IPv6 addresses');
  const addrs = JSON.parse(await tasks[0]!.ip('-j', 'addr', 'show', 'dev', 'eth0'))[0].addr_info as { local: string; prefixlen: number }[];
  t.ok(addrs.some((a) => a.local === ip6[0] && a.prefixlen === 81), 'IPv6 address in the task namespace');
  t.ok(addrs.some((a) => `${a.local}/${a.prefixlen}` === a0.ips[0].address), 'IPv4 address in the task namespace');
  t.match(await tasks[0]!.ip('-6', 'route', 'show', 'default'), `default via ${GW6} dev eth0`);
  t.match(await tasks[0]!.ip('route', 'show', 'default'), `default via ${GW4} dev eth0`);
  t.match(await host.ip('-6', 'addr', 'show', 'dev', `m-${name}`), `inet6 ${GW6}/81`, 'bridge holds the v6 gateway');
  t.equal((await host.exec('sysctl', ['-n', 'net.ipv6.conf.all.forwarding'])).trim(), '1', 'IPv6 forwarding on');

  await serve(t, host, GW6, 7071, 'gateway6');
  t.equal(await fetchText(tasks[0]!, GW6, 7071), 'gateway6', 'TCP over v6 to the gateway');
  await serve(t, tasks[1]!, ip6[1]!, 7072, 'task6');
  t.equal(await fetchText(tasks[0]!, ip6[1]!, 7072), 'task6', 'TCP over v6 task to task');

  t.test('CHECK covers the IPv6 half', async (t) => {
    const withPrev = { ...conf, prevResult: a0 };
    t.equal((await plugin(host, env('CHECK', cids[0]!, tasks[0]!), withPrev)).code, 0);
    await tasks[0]!.ip('-6', 'route', 'del', 'default');
    const r = await plugin(host, env('CHECK', cids[0]!, tasks[0]!), withPrev);
    t.equal(r.out?.code, 101);
    t.match(r.out?.msg, `route default via ${GW6} missing`);
    const again = await plugin(host, env('ADD', cids[0]!, tasks[0]!), conf);
    t.same(again.out.ips, a0.ips, 're-ADD keeps both addresses');
    t.equal((await plugin(host, env('CHECK', cids[0]!, tasks[0]!), withPrev)).code, 0, 'repaired');
  });

  t.test('CNI_ARGS IP=v4,v6 asks for both', async (t) => {
    const task = await createNetns(t, 't');
    const cid = uniqueName('c');
    const r = await plugin(host, env('ADD', cid, task, 'eth0', { CNI_ARGS: 'IP=10.232.0.77,fd01:b::7:0:0:77' }), conf);
    t.equal(r.code, 0, JSON.stringify(r.out));
    t.same(r.out.ips.map((i: any) => i.address), ['10.232.0.77/24', 'fd01:b::7:0:0:77/81']);
    t.equal((await plugin(host, env('DEL', cid, task), conf)).code, 0);
  });

  t.test('DEL releases both addresses', async (t) => {
    for (const i of [0, 1]) t.equal((await plugin(host, env('DEL', cids[i]!, tasks[i]!), conf)).code, 0);
    const left = (await readdir(join(dataDir, name))).filter((f) => /^[\d.]+$|:/.test(f));
    t.same(left, [], 'no address files left');
    t.notOk(await tasks[0]!.ip('-6', 'addr', 'show', 'dev', 'eth0').catch(() => ''), 'task interface gone');
  });
});

t.test('range sets this IPAM cannot serve are refused, naming the field', async (t) => {
  const host = await createNetns(t, 'h');
  const dataDir = await tempDir(t);
  const task = await createNetns(t, 't');
  const cases: [string, Record<string, unknown>, number, RegExp][] = [
    ['two IPv4 sets', { ranges: [[{ subnet: V4 }], [{ subnet: '10.233.0.0/24' }]] }, 2, /ipam\.ranges\[1\]\[0\]\.subnet: a second IPv4 range set/],
    ['three sets', { ranges: [[{ subnet: V4 }], [{ subnet: V6 }], [{ subnet: 'fd02::/64' }]] }, 2, /ipam\.ranges: at most two range sets/],
    ['two ranges in one set', { ranges: [[{ subnet: V4 }, { subnet: '10.233.0.0/24' }]] }, 2, /ipam\.ranges\[0\]: only one range per range set/],
    ['v6 gateway outside', { ranges: [[{ subnet: V4 }], [{ subnet: V6, gateway: 'fd09::1' }]] }, 7, /ipam\.ranges\[1\]\[0\]\.gateway: fd09::1 is outside/],
    ['v4 gateway in a v6 range', { ranges: [[{ subnet: V6, gateway: '10.0.0.1' }]] }, 7, /ipam\.ranges\[0\]\[0\]\.gateway: "10\.0\.0\.1" is not an IPv6 address/],
    ['v6 route without a v6 range', { ranges: [[{ subnet: V4 }]], routes: [{ dst: '::/0' }] }, 7, /ipam\.routes\[0\]\.dst: ::\/0 is IPv6 but no IPv6 range/],
  ];
  for (const [what, ipam, code, msg] of cases) {
    const conf = { cniVersion: '1.1.0', name: netName(), type: 'sextant-cni', ipam: { type: 'host-local', dataDir, ...ipam } };
    const r = await plugin(host, env('ADD', uniqueName('c'), task), conf);
    t.equal(r.out?.code, code, what);
    t.match(r.out?.msg, msg, what);
  }
  t.same(await host.ip('link', 'show', 'type', 'bridge'), '', 'nothing was created');
});
