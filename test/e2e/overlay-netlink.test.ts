/**
 * The overlay agent component as a real process inside each agent namespace, programming its own
 * namespace through rtnetlink (NetlinkDriver): kernel objects match the allocation, tasks ping
 * across agents, a route deleted by hand is repaired by the next full reconcile, a re-sync is a
 * no-op (the netlink dump reads back exactly what it wrote).
 */
import t from 'tap';
import { requireNetns, requireTools, type Netns } from '../lib/index.js';
import { matchFirstVtep, overlayUnderlay, snapshotOf } from '../../overlay/test/harness.js';
import { createTask, ping } from '../../overlay/test/tasks.js';
import { agentProcess } from '../../overlay/test/agent-process.js';

requireNetns();
requireTools('ip', 'bridge', 'nft', 'python3');

const esc = (s: string) => s.replace(/\./g, '\\.');

t.test('overlay agent processes programming their namespace through rtnetlink', async (t) => {
  const { nss, addrs, m, master } = await overlayUnderlay(t, 3, 'n', '10.78.0');
  m.setAgents([0, 1, 2].map((i) => ({ id: `agent-${i}`, ip: addrs[i]! })));
  await master.sync();

  const agents = [0, 1, 2].map((i) => agentProcess(t, nss[i]!, `agent-${i}`));
  for (const a of agents) t.match((await a.p.waitFor(/ready kernel=\w+/, 20000))[0], 'ready kernel=netlink', 'child uses the netlink driver');
  const push = async () => {
    const snap = await snapshotOf(master.sources(), master.config);
    return Promise.all(agents.map((a) => a.send({ apply: snap })));
  };
  for (const r of await push()) t.ok(r.ok, `applied (${r.lines} lines) ${r.error ?? ''}`);

  t.test('kernel objects match the allocation', async (t) => {
    const a0 = nss[0]!;
    await matchFirstVtep(t, a0);
    t.match(await a0.ip('link', 'show', 'vtep1024'), /UP/);
    t.match(await a0.ip('addr', 'show', 'm-dcos'), /inet 9\.0\.0\.1\/25/);
    t.match(await a0.ip('link', 'show', 'm-dcos'), /mtu 1420/);
    const neigh = await a0.ip('neigh', 'show', 'dev', 'vtep1024');
    t.match(neigh, /44\.128\.0\.2 lladdr 70:b3:d5:80:00:02 PERMANENT/);
    t.match(neigh, /44\.128\.0\.3 lladdr 70:b3:d5:80:00:03 PERMANENT/);
    const fdb = await a0.exec('bridge', ['fdb', 'show', 'dev', 'vtep1024']);
    t.match(fdb, new RegExp(`70:b3:d5:80:00:02 dst ${esc(addrs[1]!)} self permanent`));
    t.match(fdb, new RegExp(`70:b3:d5:80:00:03 dst ${esc(addrs[2]!)} self permanent`));
    const routes = await a0.ip('route', 'show', 'dev', 'vtep1024');
    t.match(routes, /9\.0\.1\.0\/24 via 44\.128\.0\.2 onlink/);
    t.match(routes, /9\.0\.2\.0\/24 via 44\.128\.0\.3 onlink/);
    t.match(await a0.ip('rule', 'show'), /32000:\s+from 9\.0\.0\.0\/8 lookup 42/);
    const t42 = await a0.ip('route', 'show', 'table', '42');
    t.match(t42, new RegExp(`${esc(addrs[1]!)} via 44\\.128\\.0\\.2 dev vtep1024 onlink`));
    t.match(t42, new RegExp(`${esc(addrs[2]!)} via 44\\.128\\.0\\.3 dev vtep1024 onlink`));
    t.match(await a0.exec('nft', ['list', 'table', 'ip', 'sextant_overlay']), /masquerade/);
  });

  t.test('a second sync reads back exactly what was written (no changes)', async (t) => {
    for (const [i, a] of agents.entries()) t.same(await a.send({ sync: true }), { id: 2, ok: true, lines: 0, last_error: null }, `agent ${i}`);
  });

  t.test('tasks ping across agents', async (t) => {
    const tasks: Netns[] = [];
    for (const i of [0, 1, 2]) tasks.push(await createTask(t, nss[i]!, 'dcos', `9.0.${i}.2`, 25, `9.0.${i}.1`));
    t.ok(await ping(tasks[0]!, '9.0.1.2'), 'task0 -> task1');
    t.ok(await ping(tasks[1]!, '9.0.2.2'), 'task1 -> task2');
    t.ok(await ping(tasks[2]!, '9.0.0.2'), 'task2 -> task0');
    t.ok(await ping(tasks[0]!, addrs[1]!), 'task0 -> remote agent underlay IP (table 42)');

    await nss[0]!.ip('route', 'del', '9.0.1.0/24', 'dev', 'vtep1024');
    t.notOk(await ping(tasks[0]!, '9.0.1.2'), 'broken by hand');
    const r = await agents[0]!.send({ sync: true });
    t.equal(r.lines, 1, 'the reconcile re-adds one route');
    t.match(await nss[0]!.ip('route', 'show', 'dev', 'vtep1024'), /9\.0\.1\.0\/24 via 44\.128\.0\.2 onlink/);
    t.ok(await ping(tasks[0]!, '9.0.1.2'), 'repaired');
  });
});
