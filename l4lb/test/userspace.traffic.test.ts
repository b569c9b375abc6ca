/**
 * Real traffic through the userspace proxy on loopback (it needs no root): spreading by client
 * address, drain, removal, UDP; plus the agent plugin's `GET /v1/vips` and `sextant vip ls`.
 */
import t from 'tap';
import net from 'node:net';
import dgram from 'node:dgram';
import { createRegistry } from '../../common/metrics.js';
import { Router, serve } from '../../common/http.js';
import { createAgentControl, type Snapshot, type Vip } from '../../contracts/index.js';
import { agentHost, eventually, freePort, loopbackBlock } from '../../test/lib/index.js';
import { UserspaceDriver } from '../userspace/driver.js';
import { L4lbReconciler } from '../reconciler.js';
import { l4lbAgentPlugin } from '../plugin.js';
import { main as vipCli } from '../cli.js';

const lb = loopbackBlock();
// Address plan: VIPs lb(10), lb(11); backends b1 = lb(20), b2 = lb(21); clients lb(100..).
let version = 0;
const view = (vips: Vip[]): Snapshot =>
  ({ history: 'h', version: ++version, overlay: {} as never, parts: { vips, zones: [], networks: [], overlay_agents: [], isolation_rules: [], network_policies: [], masters: [] } }) as Snapshot;

async function backend(t: Tap, name: string, host: string, port: number): Promise<void> {
  const tcp = net.createServer((c) => {
    c.write(`${name}\n`);
    c.on('data', (d) => c.write(d));
    c.on('error', () => undefined);
  });
  const udp = dgram.createSocket('udp4');
  udp.on('message', (_m, r) => udp.send(`${name}\n`, r.port, r.address));
  await new Promise<void>((res) => tcp.listen(port, host, res));
  await new Promise<void>((res) => udp.bind(port, host, res));
  t.teardown(() => {
    tcp.close();
    udp.close();
  });
}
type Tap = { teardown(fn: () => unknown): void };

function connect(host: string, port: number, localAddress?: string): Promise<{ name: string; sock: net.Socket }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port, localAddress });
    sock.once('data', (d) => resolve({ name: d.toString().trim(), sock }));
    sock.once('error', reject);
  });
}

async function spread(host: string, port: number, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const { name, sock } = await connect(host, port, lb(100 + i));
    sock.destroy();
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

t.test('userspace proxy carries real traffic', async (t) => {
  const [vport, uport, bport] = [await freePort(lb(10)), await freePort(lb(11)), await freePort(lb(20))];
  await backend(t, 'b1', lb(20), bport);
  await backend(t, 'b2', lb(21), bport);
  const vip = (weights: [number, number] | [number], protocol: 'tcp' | 'udp' = 'tcp'): Vip => {
    const ip = protocol === 'tcp' ? lb(10) : lb(11);
    const port = protocol === 'tcp' ? vport : uport;
    return { key: `${protocol}/${ip}:${port}`, ip, port, protocol, backends: weights.map((w, i) => ({ ip: lb(20 + i), port: bport, weight: w, task_id: `t${i}`, agent_id: 'a' })) };
  };
  const registry = createRegistry();
  const router = new Router();
  const routes: ((r: Router) => void)[] = [];
  const control = createAgentControl();
  const plugin = l4lbAgentPlugin({ driver: 'userspace' });
  const c = plugin(agentHost({ agentId: 'a', ip: lb(1), workDir: '/nonexistent', masters: [], registry, routes: (f) => routes.push(f) }, 'l4lb', control));
  t.equal(routes.length, 0, 'building does nothing: no probe, no routes');
  await c.start();
  t.teardown(() => c.stop());
  let r!: L4lbReconciler;
  control.onConsumer((x) => (r = x as L4lbReconciler)); // the started plugin added its reconciler
  routes.forEach((f) => f(router));
  t.equal(r.driver.name, 'userspace', 'driver chosen as asked');
  await r.apply(view([vip([1, 1]), vip([1, 1], 'udp')]));

  await t.test('consistent hashing spreads clients and keeps each client on one backend', async (t) => {
    const counts = await spread(lb(10), vport, 60);
    t.ok((counts.b1 ?? 0) >= 10 && (counts.b2 ?? 0) >= 10, `both used: ${JSON.stringify(counts)}`);
    const first = await connect(lb(10), vport, lb(150));
    const again = await connect(lb(10), vport, lb(150));
    first.sock.destroy();
    again.sock.destroy();
    t.equal(again.name, first.name, 'same client, same backend');
  });

  await t.test('weight 0 drains', async (t) => {
    let held: { name: string; sock: net.Socket } | undefined;
    for (let i = 0; i < 60 && !held; i++) {
      const c = await connect(lb(10), vport, lb(100 + i));
      if (c.name === 'b2') held = c;
      else c.sock.destroy();
    }
    t.ok(held, 'holding a connection to b2');
    await r.apply(view([vip([1, 0]), vip([1, 1], 'udp')]));
    t.same(await spread(lb(10), vport, 30), { b1: 30 }, 'new connections only to b1');
    const echo = new Promise((res) => held!.sock.once('data', (d) => res(d.toString())));
    held!.sock.write('still-there\n');
    t.equal(await echo, 'still-there\n', 'the open connection still works');
    held!.sock.destroy();
  });

  await t.test('open connections are a metric', async (t) => {
    const open = async () => Number((await registry.metrics()).match(/sextant_l4lb_userspace_open\{protocol="tcp"\} (\d+)/)?.[1]);
    await eventually(async () => (await open()) === 0 || undefined, 5000, 20, 'no TCP connection open');
    const cs = await Promise.all([0, 1, 2].map((i) => connect(lb(10), vport, lb(200 + i))));
    t.equal(await open(), 3, 'three held');
    cs.forEach((c) => c.sock.destroy());
    t.ok(await eventually(async () => (await open()) === 0 || undefined, 5000, 20, 'all closed'), 'none once closed');
  });

  await t.test('a removed backend gets nothing within 1 s', async (t) => {
    await r.apply(view([vip([1, 1]), vip([1, 1], 'udp')]));
    const t0 = Date.now();
    await r.apply(view([vip([1]), vip([1, 1], 'udp')]));
    t.ok(Date.now() - t0 < 1000);
    t.same(await spread(lb(10), vport, 20), { b1: 20 });
  });

  await t.test('UDP VIP', async (t) => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((res) => s.bind(0, lb(120), res));
    const reply = new Promise<string>((res) => s.once('message', (m) => res(m.toString().trim())));
    s.send('hi', uport, lb(11));
    t.match(await reply, /^b[12]$/);
    s.close();
  });

  await t.test('GET /v1/vips and sextant vip ls', async (t) => {
    const http = await serve(router, { host: lb(1), port: 0 });
    t.teardown(() => http.close());
    const url = `http://${lb(1)}:${http.address().port}/v1/vips`;
    const body = (await (await fetch(url)).json()) as { vip: string; protocol: string; backend: unknown[] }[];
    t.match(body, [{ vip: `${lb(10)}:${vport}`, protocol: 'tcp', backend: [{ ip: lb(20), port: bport, weight: 1 }] }, { protocol: 'udp' }]);
    let out = '';
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => ((out += s), true)) as never;
    let code: number;
    try {
      code = await vipCli(['ls', '--agent', url]);
    } finally {
      process.stdout.write = write;
    }
    t.equal(code, 0);
    t.match(out, new RegExp(`${lb(10)}:${vport}\\s+tcp\\s+-\\s+${lb(20)}:${bport}`));
    t.match(await registry.metrics(), /sextant_l4lb_driver\{driver="userspace"\} 1/);
    t.match(await registry.metrics(), /sextant_l4lb_vips 2/);
  });
});
