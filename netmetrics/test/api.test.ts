/**
 * The API over real HTTP on loopback, fed by fake agents (in-process HTTP servers answering
 * NodeNetMetrics at /net/v1/metrics on 127.0.0.2.., one answering garbage, one with its port
 * closed): totals and per-node spread, one VIP's backends with verdict, latency and failing nodes,
 * a backend's VIPs, the ways to name a VIP, 404/409 naming what was asked, and `sextant vip` against
 * it (tables, --json, exit codes).
 */
import t from 'tap';
import http from 'node:http';
import { Router, serve } from '../../common/http.js';
import { CONNECT_LATENCY_BUCKETS, type NodeNetMetrics } from '../../contracts/index.js';
import { fetchJson, mapLimit } from '../../diag/index.js';
import { freePort } from '../../test/lib/index.js';
import { NetMetricsAggregator, type PollTarget } from '../aggregator.js';
import { main as vipMain } from '../cli.js';
import { activeAgents, netmetricsMasterPlugin } from '../plugin.js';
import { mountRoutes } from '../routes.js';
import { systemClock } from '../../common/clock.js';
import { createRegistry } from '../../common/metrics.js';
import { createLogger } from '../../common/log.js';

const VIP = '11.0.0.1:80/tcp';
const VIP443 = '11.0.0.1:443/tcp';
const NAME = 'web.marathon.l4lb.thisdcos.directory';
const LIVE = '10.0.1.2:8080';
const DEAD = '10.0.1.3:8080';
const [A1, A2, BAD, GONE] = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
const n = CONNECT_LATENCY_BUCKETS.length + 1;
/** `k` connections, all under 2.5 ms (the third bucket). */
const fast = (k: number) => ({ counts: Array.from({ length: n }, (_, i) => (i >= 2 ? k : 0)), sum: k * 0.002 });

function metrics(node: string, since: number, live: number, dead: number): NodeNetMetrics {
  return {
    node,
    driver: 'userspace',
    measures: { connections: true, failures: true, bytes: true, latency: true },
    since,
    at: Date.now(),
    vips: [
      { vip: VIP, name: NAME, backends: [{ backend: LIVE, connections: live, failures: 0, bytes: live * 100, latency: fast(live) }, ...(dead ? [{ backend: DEAD, connections: dead, failures: dead }] : [])] },
      { vip: VIP443, name: NAME, backends: [{ backend: LIVE, connections: 1, failures: 0, bytes: 10 }] },
    ],
  };
}

async function agent(t: { teardown(fn: () => unknown): void }, ip: string, body: () => unknown): Promise<PollTarget> {
  const s = http.createServer((req, res) => {
    if (req.url !== '/net/v1/metrics') return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body()));
  });
  await new Promise<void>((r) => s.listen(0, ip, r));
  t.teardown(() => new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r()))));
  return { ip, url: `http://${ip}:${(s.address() as { port: number }).port}` };
}

async function get(url: string): Promise<{ status: number; body: any }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.json() };
}

t.test('the API over fake agents', async (t) => {
  let since = 0; // set once the aggregator exists: counters younger than it count from the first answer
  let counts = { live: 20, dead: 12 };
  const targets = [
    await agent(t, A1, () => metrics(A1, since, counts.live, counts.dead)),
    await agent(t, A2, () => metrics(A2, since, 5, 0)),
    await agent(t, BAD, () => ({ ...metrics(BAD, since, 1, 0), vips: [{ vip: 'nonsense', backends: [] }] })),
    { ip: GONE, url: `http://${GONE}:${await freePort(GONE)}` },
  ];
  const a = new NetMetricsAggregator({ targets: () => targets, get: fetchJson, mapLimit, threshold: 0.5, minConnections: 10, timeoutMs: 4000 });
  since = Date.now() + 1;
  const router = new Router();
  mountRoutes(router, a, systemClock);
  const port = await freePort();
  const srv = await serve(router, { host: '127.0.0.1', port });
  t.teardown(() => srv.close());
  const base = `http://127.0.0.1:${port}`;
  await a.poll();

  const all = await get(`${base}/net/v1/vips`);
  t.equal(all.status, 200);
  t.same(
    all.body.vips.map((v: any) => v.vip),
    [VIP, VIP443],
  );
  const v80 = all.body.vips[0];
  t.match(v80, { name: NAME, backends: 2, unhealthy_backends: 1, last_minute: { connections: 37, failures: 12, bytes: 2500 } }, 'totals over both agents');
  t.equal(v80.last_minute.success_rate, Math.round((1 - 12 / 37) * 10_000) / 10_000);
  t.same(
    v80.nodes.map((x: any) => [x.node, x.last_minute.connections, x.last_minute.failures]),
    [
      [A1, 32, 12],
      [A2, 5, 0],
    ],
    'the per-node spread',
  );
  const status = Object.fromEntries(all.body.agents.map((x: any) => [x.node, x]));
  t.match(status[A1], { driver: 'userspace', last_ok: Number });
  t.match(status[BAD].error, /vips\[0\]\.vip: 'nonsense' is not IP:PORT\/PROTO/, 'an agent answering garbage is named with the field');
  t.match(status[GONE].error, /GET http:\/\/127\.0\.0\.5:\d+\/net\/v1\/metrics failed/, 'an agent with its port closed says so');

  const one = await get(`${base}/net/v1/vips/11.0.0.1:80/tcp`);
  t.equal(one.status, 200);
  const [live, dead] = one.body.backends;
  t.match(live, { backend: LIVE, unhealthy: false, failing_nodes: [], last_minute: { connections: 25, failures: 0, success_rate: 1 } });
  t.ok(live.last_minute.latency.p50_ms > 1 && live.last_minute.latency.p50_ms <= 2.5, `p50 ${live.last_minute.latency.p50_ms} ms within the 1-2.5 ms bucket`);
  t.equal(live.last_hour.latency.p99_ms, live.last_minute.latency.p99_ms, 'the hour holds the same samples');
  t.match(dead, { backend: DEAD, unhealthy: true, failing_nodes: [A1], last_minute: { connections: 12, failures: 12, success_rate: 0, latency: { p50_ms: null } } });
  t.match(dead.reason, /failure rate 1\.00 \(12 of 12 connections in the last minute, seen from 127\.0\.0\.2\) is at or above the threshold 0\.5/);
  t.same(dead.nodes.map((x: any) => x.node), [A1]);

  counts = { live: 50, dead: 12 };
  await a.poll();
  const after = await get(`${base}/net/v1/vips/11.0.0.1:80/tcp`);
  t.equal(after.body.backends[0].last_minute.connections, 55, 'the next poll adds the difference (30 more on A1)');

  for (const name of ['11.0.0.1:80', `${NAME}:80`, 'web:80', '/web:80', '11.0.0.1%3A80%2Ftcp'.replace('%2F', '/')]) {
    const r = await get(`${base}/net/v1/vips/${name}`);
    t.equal(r.body.vip, VIP, `a VIP named ${name}`);
  }
  const amb = await get(`${base}/net/v1/vips/${NAME}`);
  t.equal(amb.status, 409, 'a name two VIPs share');
  t.match(amb.body.message, /names 2 VIPs \(11\.0\.0\.1:80\/tcp, 11\.0\.0\.1:443\/tcp\): ask for one as IP:PORT\/PROTO or NAME:PORT/);
  const missing = await get(`${base}/net/v1/vips/11.0.0.9:80/tcp`);
  t.equal(missing.status, 404);
  t.match(missing.body.message, /no VIP '11\.0\.0\.9:80\/tcp' \(known: 11\.0\.0\.1:80\/tcp, 11\.0\.0\.1:443\/tcp\)/);

  const be = await get(`${base}/net/v1/backends/${LIVE}`);
  t.equal(be.status, 200);
  t.same(
    be.body.vips.map((v: any) => [v.vip, v.last_minute.connections]),
    [
      [VIP, 55],
      [VIP443, 2],
    ],
    "every VIP that uses the backend, with its figures",
  );
  t.same(be.body.vips[0].nodes.map((x: any) => x.node), [A1, A2]);
  const noBe = await get(`${base}/net/v1/backends/10.9.9.9:1`);
  t.equal(noBe.status, 404);
  t.match(noBe.body.message, /no VIP has backend '10\.9\.9\.9:1'/);
  const notBe = await get(`${base}/net/v1/backends/web`);
  t.equal(notBe.status, 404);
  t.match(notBe.body.message, /'web' is not a backend \(IP:PORT/);

  // sextant vip against this API (the master's own port: the client's `net` API keeps /net for these paths).
  const run = async (...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await vipMain([...argv, '--master', `127.0.0.1:${port}`], { out: (s) => (out += s), err: (s) => (err += s), tty: false });
    return { code, out, err };
  };
  const ls = await run('ls');
  t.equal(ls.code, 0, ls.err);
  t.match(ls.out, /^VIP\s+NAME\s+BACKENDS\s+CONN 1m\s+FAIL 1m\s+OK 1m/);
  t.match(ls.out, /11\.0\.0\.1:80\/tcp\s+web\.marathon\.l4lb\.thisdcos\.directory\s+2 \(1 unhealthy\)\s+67\s+12\s+82\.1%/);
  const lsJson = await run('ls', '--json');
  t.same(JSON.parse(lsJson.out).vips.length, 2, '--json is the API answer');
  const show = await run('show', '11.0.0.1:80/tcp');
  t.equal(show.code, 0, show.err);
  t.match(show.out, /10\.0\.1\.3:8080\s+-\s+UNHEALTHY\s+12\s+12\s+0\.0%/);
  t.match(show.out, /10\.0\.1\.3:8080: failure rate 1\.00/);
  const showJson = await run('show', 'web:80', '--json');
  t.equal(JSON.parse(showJson.out).vip, VIP);
  const unknown = await run('show', 'nosuch');
  t.equal(unknown.code, 1, 'an unknown VIP exits 1');
  t.match(unknown.err, /^sextant vip: no VIP 'nosuch' \(known: /);
  const usage = await run('show');
  t.equal(usage.code, 2);
  t.match(usage.err, /show takes one NAME or VIP/);
  const help = await run('--help');
  t.equal(help.code, 0);
  t.match(help.out, /^usage: sextant vip ls/);
});

t.test('the plugin: mounts the routes, polls the active agents of the state, fills the relay while it runs', async (t) => {
  const state = {
    slaves: [
      { id: 'S1', pid: 'slave(1)@127.0.0.2:5051', active: true },
      { id: 'S2', pid: 'slave(1)@127.0.0.3:5051', active: false },
    ],
  };
  t.same(activeAgents(state), [{ ip: '127.0.0.2', url: 'http://127.0.0.2:5051' }], 'only active agents are polled');
  let asked: (url: string) => void = () => {};
  const firstAsk = new Promise<string>((r) => (asked = r));
  const routers: Router[] = [];
  const relay = { set: (d: unknown) => sets.push(d), apply: <V>(v: V[]) => v, onChange: () => () => undefined };
  const sets: unknown[] = [];
  const plugin = netmetricsMasterPlugin({
    intervalMs: 60_000,
    relay,
    get: async (url) => {
      asked(url);
      return metrics('127.0.0.2', 0, 1, 0);
    },
  });
  const c = plugin({ handle: { state: () => state, routes: (fn: (r: Router) => void) => fn(routers[routers.push(new Router()) - 1]!) } as never, control: {} as never, metrics: createRegistry(), log: createLogger('netmetrics-test') });
  t.equal(routers.length, 1, 'routes mounted at construction');
  t.ok(routers[0]!.match('GET', '/net/v1/vips/11.0.0.1:80/tcp'), 'GET /net/v1/vips/{vip} is routed');
  await c.start(AbortSignal.timeout(10_000));
  t.equal(await firstAsk, 'http://127.0.0.2:5051/net/v1/metrics', 'the first poll starts at once');
  t.equal(sets.length, 1);
  await c.stop();
  t.same(sets[1], undefined, 'stop takes the drain out of the relay');
  t.equal(sets.length, 2);
});
