/**
 * Dual-stack end to end (issue 26, part 1): `sextant up --netns --ipv6 --agents 2` runs the example
 * app /hello on network dcos made dual-stack (9.0.0.0/8 + fd01:b::/64), agents with IPv6 addresses.
 * Then, on real processes and kernels:
 *  - the summary says how to reach the app over IPv4 and IPv6;
 *  - each task has an IPv4 and an IPv6 address in its namespace (default route per family), and
 *    Mesos state shows both in its network_infos (protocol IPv4 / IPv6);
 *  - from inside a task, `dig AAAA hello.marathon.mesos` through the resolv.conf the agent wrote
 *    (its dispatcher) answers exactly the two tasks' IPv6 addresses (Mesos-DNS AAAA), and a TCP
 *    connection over IPv6 to the other agent's task (through the VXLAN) gets its reply;
 *  - each dispatcher also listens on its agent's IPv6 address, and a task's IPv6 traffic to the
 *    other agent's IPv6 address takes table 42 through the VXLAN (the v4 policy routing's twin);
 *  - the app's (IPv4) VIP still balances to the dual-stack tasks.
 */
import t from 'tap';
import { requestJson } from '../../common/http.js';
import { eventually, requireNetns, requireTools } from '../lib/index.js';
import { startNetnsUp, taskNetns, type NetnsCluster } from './netns-up.js';

t.setTimeout(180_000);

requireNetns();
requireTools('ip', 'nsenter', 'dig', 'curl');

interface Task {
  id: string;
  agent: number;
  ns: string;
  v4: string;
  v6: string;
  protocols: string[];
}

async function helloTasks(c: NetnsCluster): Promise<Task[]> {
  const st = (await requestJson(`${c.master}/master/state`)).body as any;
  const tasks = (st.frameworks ?? []).flatMap((f: any) => f.tasks ?? []).filter((x: any) => x.name === 'hello' && x.state === 'TASK_RUNNING');
  return tasks.map((x: any) => {
    const last = [...x.statuses].reverse().find((s: any) => s.container_status?.network_infos);
    const addrs: { protocol?: string; ip_address: string }[] = last?.container_status.network_infos.flatMap((n: any) => n.ip_addresses) ?? [];
    return {
      id: x.id,
      agent: c.agents.findIndex((a) => a.id === x.slave_id) + 1,
      ns: taskNetns(x.id),
      v4: addrs.find((a) => a.protocol === 'IPv4')?.ip_address ?? '',
      v6: addrs.find((a) => a.protocol === 'IPv6')?.ip_address ?? '',
      protocols: addrs.map((a) => a.protocol ?? '?'),
    };
  });
}

const lines = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean).sort();

t.test('sextant up --netns --ipv6: a dual-stack app, names and connections over IPv6', async (t) => {
  const c = await startNetnsUp(t, 2, {}, { example: true, args: ['--ipv6'] });
  const out = c.up.output();
  const tasks = await eventually(async () => {
    const ts = await helloTasks(c);
    return ts.length === 2 && ts.every((x) => x.v6) ? ts : undefined;
  }, 30_000, 250, 'two running /hello tasks with IPv6 addresses in Mesos state');

  t.test('Mesos state: an IPv4 and an IPv6 address per task', async (t) => {
    for (const x of tasks) {
      t.same(x.protocols.sort(), ['IPv4', 'IPv6'], `${x.id}: network_infos carry IPv4 and IPv6`);
      t.match(x.v4, /^9\.\d+\.\d+\.\d+$/, `${x.id}: IPv4 from dcos (${x.v4})`);
      t.match(x.v6, /^fd01:b:/, `${x.id}: IPv6 from dcos's fd01:b::/64 (${x.v6})`);
    }
    t.not(tasks[0]!.agent, tasks[1]!.agent, 'one task per agent');
  });

  t.test('the summary shows how to reach the app over IPv4 and IPv6', async (t) => {
    for (const x of tasks) {
      t.match(out, `curl http://${x.v4}:8080/`, `IPv4 line for ${x.id}`);
      t.match(out, `curl -g 'http://[${x.v6}]:8080/'`, `IPv6 line for ${x.id}`);
    }
    t.match(out, /names6 +ip netns exec \S+ dig AAAA hello\.marathon\.mesos/);
  });

  t.test('inside a task: both addresses and a default route per family', async (t) => {
    const x = tasks[0]!;
    const addr6 = await c.inAgent(x.agent, ['ip', '-n', x.ns, '-6', '-br', 'addr', 'show', 'eth0']);
    t.match(addr6, x.v6, `eth0 holds ${x.v6}`);
    t.match(await c.inAgent(x.agent, ['ip', '-n', x.ns, '-4', '-br', 'addr', 'show', 'eth0']), x.v4);
    t.match(await c.inAgent(x.agent, ['ip', '-n', x.ns, '-6', 'route', 'show', 'default']), /^default via fd01:b:\S+ dev eth0/);
    t.match(await c.inAgent(x.agent, ['ip', '-n', x.ns, '-4', 'route', 'show', 'default']), /^default via 9\.\S+ dev eth0/);
  });

  t.test('from a task: dig AAAA through its dispatcher, then TCP over IPv6 to the answer', async (t) => {
    const [from, to] = tasks as [Task, Task];
    const inTask = (argv: string[]) => c.inAgent(from.agent, ['ip', 'netns', 'exec', from.ns, ...argv], 15_000);
    const want = tasks.map((x) => x.v6).sort();
    const got = await eventually(async () => {
      const ips = lines(await inTask(['dig', '+short', '+time=1', '+tries=2', 'AAAA', 'hello.marathon.mesos']));
      return JSON.stringify(ips) === JSON.stringify(want) ? ips : undefined;
    }, 15_000, 250, 'AAAA hello.marathon.mesos').catch(async () => lines(await inTask(['dig', '+short', 'AAAA', 'hello.marathon.mesos'])));
    t.same(got, want, 'AAAA hello.marathon.mesos -> exactly the two tasks\' IPv6 addresses, through the resolv.conf the agent wrote');
    t.ok(got.includes(to.v6), 'the answer holds the task on the other agent');
    const body = await eventually(() => inTask(['curl', '-sS', '-g', '-m', '5', `http://[${to.v6}]:8080/`]), 10_000, 200, `[${to.v6}]:8080`).catch((e: Error) => e.message);
    t.equal(body.trim(), `hello from ${to.id}`, `TCP over IPv6 across agents (through the VXLAN) to ${to.v6}`);
  });

  t.test('dispatchers listen on IPv6; a task reaches the other agent\'s IPv6 address through table 42', async (t) => {
    const ip6 = (i: number) => out.match(/agents have IPv6 addresses (\S+)\.\./)![1]!.replace(/::\d+$/, `::${i + 1}`);
    for (const i of [1, 2]) {
      const ans = lines(await c.inAgent(i, ['dig', '+short', '+time=1', '+tries=2', `@${ip6(i)}`, 'AAAA', 'hello.marathon.mesos']));
      t.same(ans, tasks.map((x) => x.v6).sort(), `agent ${i}'s dispatcher answers on [${ip6(i)}]:53`);
    }
    const [from] = tasks as [Task, Task];
    const other = from.agent === 1 ? 2 : 1;
    const route = await c.inAgent(from.agent, ['ip', '-6', 'route', 'get', ip6(other), 'from', from.v6, 'iif', 'eth0']).catch(async () =>
      c.inAgent(from.agent, ['ip', '-6', 'route', 'get', ip6(other), 'from', from.v6]),
    );
    t.match(route, /dev vtep1024 table 42/, `agent ${from.agent}: ${from.v6} -> agent ${other}'s ${ip6(other)} goes through the VXLAN (table 42)`);
    const viaTask = lines(await c.inAgent(from.agent, ['ip', 'netns', 'exec', from.ns, 'dig', '+short', '+time=1', '+tries=2', `@${ip6(other)}`, 'AAAA', 'hello.marathon.mesos'], 15_000));
    t.same(viaTask, tasks.map((x) => x.v6).sort(), `a task asks agent ${other}'s dispatcher over IPv6`);
  });

  t.test('the app\'s VIP balances to the dual-stack tasks', async (t) => {
    const vip = (await c.inAgent(1, ['dig', '+short', '+time=1', '+tries=2', 'hello.marathon.l4lb.thisdcos.directory'])).trim();
    t.match(vip, /^\d+\.\d+\.\d+\.\d+$/, `the VIP name resolves (${vip})`);
    const body = await eventually(() => c.inAgent(1, ['curl', '-sS', '-m', '5', `http://${vip}/`]), 15_000, 250, `VIP ${vip}:80`).catch((e: Error) => e.message);
    t.match(body, /^hello from hello\./, 'the VIP answers from a task');
  });

  t.test('the VIP name has an AAAA from the IPv6 VIP range, and the v6 VIP balances to the tasks', async (t) => {
    const vip6 = await eventually(async () => {
      const a = (await c.inAgent(1, ['dig', '+short', '+time=1', '+tries=2', 'AAAA', 'hello.marathon.l4lb.thisdcos.directory'])).trim();
      return /^fd01:c:/.test(a) ? a : undefined;
    }, 15_000, 250, 'AAAA hello.marathon.l4lb.thisdcos.directory').catch((e: Error) => e.message);
    t.match(vip6, /^fd01:c:[0-9a-f:]+$/, `the VIP name has an IPv6 address (${vip6})`);
    const body = await eventually(() => c.inAgent(1, ['curl', '-sS', '-g', '-m', '5', `http://[${vip6}]/`]), 15_000, 250, `VIP [${vip6}]:80`).catch((e: Error) => e.message);
    t.match(body, /^hello from hello\./, 'the IPv6 VIP answers from a task (balanced in that agent\'s kernel)');
    t.match(out, /vip6 +ip netns exec \S+ sh -c 'curl -g "http:\/\/\[\$\(dig \+short AAAA @[0-9a-f:]+ hello\.marathon\.l4lb\.thisdcos\.directory\)\]\/"'/, 'the summary shows how to reach the IPv6 VIP');
  });
});
