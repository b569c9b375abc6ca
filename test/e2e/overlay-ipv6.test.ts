/**
 * IPv6 on the overlay (issue 7): network `dcos` with `subnet6 fd01:b::/64 prefix6 80`. Agent 0 is
 * programmed in-process through iproute2 (`ip -n`), agent 1 by a child process in its namespace
 * through rtnetlink; both get the bridge's v6 gateway, the VTEP's v6 address (fd01:a::/64 + the
 * IPv4 VTEP address), a v6 neighbour per remote VTEP, routes to remote v6 slices via the remote
 * VTEP, and an ip6 MASQUERADE table. Tasks with v6 addresses on the two agents ping6 each other.
 */
import t from 'tap';
import { createRegistry } from '../../common/index.js';
import { requireNetns, requireTools, type Netns } from '../lib/index.js';
import { DEFAULT_OVERLAY, OverlayAgentComponent } from '../../overlay/index.js';
import { hostAddr, parseCidr } from '../../common/cidr.js';
import { vtep6Of } from '../../overlay/desired.js';
import { overlayUnderlay, snapshotOf } from '../../overlay/test/harness.js';
import { addTask6, createTask, ping, ping6 } from '../../overlay/test/tasks.js';
import { agentProcess } from '../../overlay/test/agent-process.js';

requireNetns();
requireTools('ip', 'bridge', 'nft', 'python3');

const host = (cidr: string, n: bigint) => hostAddr(parseCidr(cidr)!, n).split('/')[0]!;

t.test('IPv6 slices are programmed and tasks ping6 across agents', async (t) => {
  const { nss, addrs, m, master } = await overlayUnderlay(t, 2, 'v', '10.76.0', {
    config: DEFAULT_OVERLAY,
    initialNetworks: [{ key: 'dcos', name: 'dcos', subnet: '9.0.0.0/8', prefix: 24, subnet6: 'fd01:b::/64', prefix6: 80, mtu: 1420 }],
  });
  m.setAgents(addrs.map((ip, i) => ({ id: `agent-${i}`, ip })));
  await master.sync();
  const alloc = [0, 1].map((i) => master.allocator.agents.get(`agent-${i}`)!);
  t.same(alloc.map((a) => a.subnets.dcos!.subnet6), ['fd01:b::/80', 'fd01:b:0:0:1::/80'], 'lowest free v6 slices');

  const a0 = new OverlayAgentComponent({ agentId: 'agent-0', registry: createRegistry(), netns: nss[0]!.name, reconcileMs: 3_600_000 });
  await a0.start();
  t.teardown(() => a0.stop());
  t.equal(a0.kernel, 'iproute2');
  const a1 = agentProcess(t, nss[1]!, 'agent-1');
  t.match((await a1.p.waitFor(/ready kernel=\w+/, 20000))[0], 'ready kernel=netlink');
  const snap = await snapshotOf(master.sources(), master.config);
  await a0.apply(snap);
  const r1 = await a1.send({ apply: snap });
  t.ok(r1.ok, `agent 1 applied ${r1.error ?? ''}`);

  const vtep6 = alloc.map((a) => vtep6Of(a.vtep_ip));
  t.same(vtep6, ['fd01:a::2c80:1', 'fd01:a::2c80:2'], 'VTEP v6 = fd01:a:: + IPv4 VTEP address');
  for (const i of [0, 1]) {
    const ns = nss[i]!;
    const other = 1 - i;
    const bridge6 = alloc[i]!.subnets.dcos!.bridge6!;
    t.match(await ns.ip('-6', 'addr', 'show', 'm-dcos'), `inet6 ${host(bridge6, 1n)}/81 scope global`, `agent ${i}: bridge v6 gateway`);
    t.match(await ns.ip('-6', 'addr', 'show', 'vtep1024'), `inet6 ${vtep6[i]}/64 scope global`, `agent ${i}: VTEP v6 address`);
    t.match(await ns.ip('-6', 'neigh', 'show', 'dev', 'vtep1024'), `${vtep6[other]} lladdr ${alloc[other]!.vtep_mac.toLowerCase()} PERMANENT`, `agent ${i}: v6 neighbour of the remote VTEP`);
    t.match(await ns.ip('-6', 'route', 'show', 'dev', 'vtep1024'), new RegExp(`${alloc[other]!.subnets.dcos!.subnet6} via ${vtep6[other]} (metric \\d+ )?onlink`), `agent ${i}: route to the remote v6 slice`);
    t.match(await ns.exec('nft', ['list', 'table', 'ip6', 'sextant_overlay']), /ip6 saddr fd01:b::\/64 ip6 daddr != \{ fd01:a::\/64, fd01:b::\/64 \}|ip6 saddr fd01:b::\/64 ip6 daddr != \{ fd01:b::\/64, fd01:a::\/64 \}/, `agent ${i}: ip6 masquerade`);
  }

  t.test('a re-sync changes nothing (both drivers read back v6 state)', async (t) => {
    t.same((await a0.sync(true))?.plan, { ip: [], bridge: [] }, 'iproute2');
    t.equal((await a1.send({ sync: true })).lines, 0, 'netlink');
  });

  t.test('tasks ping6 each other across agents', async (t) => {
    const tasks: Netns[] = [];
    const ip6: string[] = [];
    for (const i of [0, 1]) {
      const task = await createTask(t, nss[i]!, 'dcos', `9.0.${i}.2`, 25, `9.0.${i}.1`);
      const b6 = alloc[i]!.subnets.dcos!.bridge6!;
      ip6.push(host(b6, 2n));
      await addTask6(task, host(b6, 2n), 81, host(b6, 1n));
      tasks.push(task);
    }
    t.ok(await ping(tasks[0]!, '9.0.1.2'), 'v4 still works');
    t.ok(await ping6(tasks[0]!, ip6[1]!), `task0 -> task1 ${ip6[1]}`);
    t.ok(await ping6(tasks[1]!, ip6[0]!), `task1 -> task0 ${ip6[0]}`);
    t.notOk(await ping6(tasks[0]!, 'fd01:b:0:0:7::2'), 'an unallocated v6 slice is not reachable');
  });
});
