/**
 * The userspace driver's VIP metrics through the agent plugin, on loopback (run by
 * userspace.metrics.test.ts on the native relay and js-relay.metrics.test.ts on net.Socket): a VIP
 * with a live backend, a closed port (the kernel answers RST) and a listener whose accept queue is
 * full (SYNs dropped: the connect times out). Least-connections balancing with nothing held open
 * tries the backends in address order, so every client tries the closed port, then the hanging
 * one, then ends on the live one: each dead backend fails once per client.
 */
import net from 'node:net';
import type { Test } from 'tap';
import { CONNECT_LATENCY_BUCKETS } from '../../../contracts/index.js';
import { eventually, freePort, loopbackBlock } from '../../../test/lib/index.js';
import { hangingPort } from '../../test/hanging-port.js';
import { metricsAgent, sample } from './metrics-agent.js';

const N = 30;

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

  const agent = await metricsAgent(t, { plugin: { driver: 'userspace', userspace: { connectTimeoutMs: 200, balance: 'leastconn' } }, node: lb(1), host: lb(1) });
  const b = (ip: string, port: number) => ({ ip, port, weight: 1, task_id: ip, agent_id: 'a' });
  await agent.apply([{ key: `tcp/${lb(10)}:${vport}`, ip: lb(10), port: vport, protocol: 'tcp', backends: [b(lb(21), bport), b(lb(22), hport), b(lb(23), bport)] }]);

  for (let i = 0; i < N; i++) t.equal(await greet(lb(10), vport, lb(100 + i)), 'live', `client ${i} ends on the live backend`);

  const liveId = `${lb(23)}:${bport}`;
  // Bytes are counted when a connection closes (the native relay reports them then).
  const m = await eventually(async () => {
    const m = await agent.metrics();
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

  const prom = await agent.registry.metrics();
  const series = (name: string, backend: string) => sample(prom, name, `${lb(10)}:${vport}/tcp`, backend);
  t.equal(series('sextant_l4lb_vip_connections_total', liveId), N, 'Prometheus: connections');
  t.equal(series('sextant_l4lb_vip_bytes_total', liveId), N * 5, 'Prometheus: bytes');
  t.equal(series('sextant_l4lb_vip_failures_total', `${lb(21)}:${bport}`), closed.failures, 'Prometheus: refused');
  t.equal(series('sextant_l4lb_vip_failures_total', `${lb(22)}:${hport}`), hang.failures, 'Prometheus: timed out');
  t.match(prom, new RegExp(`sextant_l4lb_vip_connect_latency_seconds_count\\{vip="${lb(10)}:${vport}/tcp",backend="${liveId}"\\} ${N}`), 'Prometheus: latency histogram');
}
