/**
 * The userspace driver's VIP metrics through the agent plugin, on loopback (run by
 * userspace.metrics.test.ts on the native relay and js-relay.metrics.test.ts on net.Socket): a VIP
 * with a live backend, a closed port (the kernel answers RST) and a listener whose accept queue is
 * full (SYNs dropped: the connect times out). Least-connections balancing with nothing held open
 * tries the backends in address order, so every client tries the closed port, then the hanging
 * one, then ends on the live one: each dead backend fails once per client.
 */
import net from 'node:net';
import { spawn } from 'node:child_process';
import type { Test } from 'tap';
import { createRegistry } from '../../../common/metrics.js';
import { Router, serve } from '../../../common/http.js';
import { CONNECT_LATENCY_BUCKETS, createAgentControl, type NodeNetMetrics, type Snapshot, type Vip } from '../../../contracts/index.js';
import { agentHost, eventually, freePort, loopbackBlock } from '../../../test/lib/index.js';
import { l4lbAgentPlugin } from '../../plugin.js';
import type { L4lbReconciler } from '../../reconciler.js';

const N = 30;
let version = 0;
const view = (vips: Vip[]): Snapshot =>
  ({ history: 'h', version: ++version, overlay: {} as never, parts: { vips, zones: [], networks: [], overlay_agents: [], isolation_rules: [], network_policies: [], masters: [] } }) as Snapshot;

/** A port whose listener never accepts and whose queue is full: SYNs to it are dropped. */
async function hangingPort(t: Test, ip: string): Promise<number> {
  const py = spawn('python3', ['-c', `
import socket, sys, time
s = socket.socket(); s.bind(("${ip}", 0)); s.listen(0)
fill = []
for i in range(3):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(s.getsockname())
    except BlockingIOError: pass
    fill.append(c)
time.sleep(0.2)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
`], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => py.kill());
  return new Promise<number>((res) => py.stdout.once('data', (d) => res(Number(String(d).trim()))));
}

/** Connect, read the greeting line, close. */
function greet(host: string, port: number, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host, port, localAddress });
    c.once('data', (d) => {
      c.end();
      resolve(d.toString().trim());
    });
    c.once('error', reject);
  });
}

export async function runUserspaceMetrics(t: Test): Promise<void> {
  const lb = loopbackBlock();
  // Address plan: node lb(1); VIP lb(10); closed lb(21), hanging lb(22), live lb(23); clients lb(100..).
  const [vport, bport] = [await freePort(lb(10)), await freePort(lb(23))];
  const live = net.createServer((c) => {
    c.end('live\n');
    c.on('error', () => undefined);
  });
  await new Promise<void>((res) => live.listen(bport, lb(23), res));
  t.teardown(() => live.close());
  const hport = await hangingPort(t, lb(22));

  const registry = createRegistry();
  const control = createAgentControl();
  const routes: ((r: Router) => void)[] = [];
  const plugin = l4lbAgentPlugin({ driver: 'userspace', userspace: { connectTimeoutMs: 200, balance: 'leastconn' } });
  const c = plugin(agentHost({ agentId: 'a', ip: lb(1), workDir: '/nonexistent', masters: [], registry, routes: (f) => routes.push(f) }, 'l4lb', control));
  await c.start();
  t.teardown(() => c.stop());
  let r!: L4lbReconciler;
  control.onConsumer((x) => (r = x as L4lbReconciler));
  const router = new Router();
  routes.forEach((f) => f(router));
  const http = await serve(router, { host: lb(1), port: 0 });
  t.teardown(() => http.close());
  const get = async () => (await (await fetch(`http://${lb(1)}:${http.address().port}/net/v1/metrics`)).json()) as NodeNetMetrics;

  const b = (ip: string, port: number) => ({ ip, port, weight: 1, task_id: ip, agent_id: 'a' });
  await r.apply(view([{ key: `tcp/${lb(10)}:${vport}`, ip: lb(10), port: vport, protocol: 'tcp', backends: [b(lb(21), bport), b(lb(22), hport), b(lb(23), bport)] }]));

  for (let i = 0; i < N; i++) t.equal(await greet(lb(10), vport, lb(100 + i)), 'live', `client ${i} ends on the live backend`);

  const liveId = `${lb(23)}:${bport}`;
  // Bytes are counted when a connection closes (the native relay reports them then).
  const m = await eventually(async () => {
    const m = await get();
    const l = m.vips[0]?.backends.find((x) => x.backend === liveId);
    return l && l.bytes === N * 'live\n'.length ? m : undefined;
  }, 10_000, 50, 'the live backend bytes');
  t.match(m, { node: lb(1), driver: 'userspace', measures: { connections: true, failures: true, bytes: true, latency: true } });
  t.equal(m.vips[0]!.vip, `${lb(10)}:${vport}/tcp`);
  const by = new Map(m.vips[0]!.backends.map((x) => [x.backend, x]));
  const l = by.get(liveId)!;
  const closed = by.get(`${lb(21)}:${bport}`)!;
  const hang = by.get(`${lb(22)}:${hport}`)!;
  t.match(l, { connections: N, failures: 0, bytes: N * 5 }, 'live: every client connected, its bytes counted');
  t.equal(l.latency!.counts.length, CONNECT_LATENCY_BUCKETS.length + 1);
  t.equal(l.latency!.counts.at(-1), N, 'live: a connect latency for every connection');
  t.ok(l.latency!.sum > 0, 'live: latency sum');
  t.match(closed, { failures: N, connections: N }, 'closed port: every client refused (RST), each attempt counted among the connections');
  t.match(hang, { failures: N, connections: N }, 'full accept queue: every client timed out, each attempt counted among the connections');
  t.ok(hang.latency!.counts.at(-1) === 0, 'no latency for connections that never happened');

  const prom = await registry.metrics();
  const series = (name: string, backend: string) => Number(new RegExp(`${name}\\{vip="${lb(10)}:${vport}/tcp",backend="${backend}"\\} (\\d+)`).exec(prom)?.[1]);
  t.equal(series('sextant_l4lb_vip_connections_total', liveId), N, 'Prometheus: connections');
  t.equal(series('sextant_l4lb_vip_bytes_total', liveId), N * 5, 'Prometheus: bytes');
  t.equal(series('sextant_l4lb_vip_failures_total', `${lb(21)}:${bport}`), closed.failures, 'Prometheus: refused');
  t.equal(series('sextant_l4lb_vip_failures_total', `${lb(22)}:${hport}`), hang.failures, 'Prometheus: timed out');
  t.match(prom, new RegExp(`sextant_l4lb_vip_connect_latency_seconds_count\\{vip="${lb(10)}:${vport}/tcp",backend="${liveId}"\\} ${N}`), 'Prometheus: latency histogram');
}
