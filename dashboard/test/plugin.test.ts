/**
 * The dashboard plugin on a fake master handle with real routers served on loopback: the page and
 * its bundle, the DC/OS-layout shim into other routers (validation, 404/405/503, raw paths, SSE),
 * the DNS route against a real dnsmasq, the sandbox file route against a real agent router, and
 * the sampler reading a real /metrics endpoint.
 */
import t from 'tap';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry, prom, requestJson, Router, serve, type Reply } from '../../common/index.js';
import type { MasterHandle } from '../../contracts/index.js';
import { mountFiles } from '../../agent/index.js';
import { freePort, masterHost, requireTools, spawnTracked, uniqueName } from '../../test/lib/index.js';
import { dashboardMasterPlugin } from '../index.js';

type Teardown = { teardown(fn: () => unknown): void };

function tempDir(t: Teardown, kind: string): string {
  const d = mkdtempSync(join(tmpdir(), `${uniqueName(kind)}-`));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

interface Fake {
  url: string;
  slaves: { id: string; pid: string; hostname: string }[];
  mesos: Router;
  apis: Map<string, Router>;
}

async function start(t: Teardown, assetsDir: string, opts: { dispatcherPort?: number } = {}): Promise<Fake> {
  const mesos = new Router();
  const marathon = new Router();
  marathon.get('/v2/apps', () => ({ json: { apps: [] } }));
  marathon.get('/v2/apps/*id', (r) => ({ json: { id: r.params.id, path: r.path } }));
  marathon.post('/v2/apps', (r) => ({ status: 201, json: r.body }), { body: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } });
  marathon.get('/v2/events', (_r, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end('event: event_stream_attached\ndata: {}\n\n');
    return { hijacked: true } as Reply;
  });
  const apis = new Map<string, Router>([['/mesos', mesos], ['/marathon', marathon], ['/net', mesos]]);
  const slaves: Fake['slaves'] = [];
  const registry = createRegistry();
  const handle: MasterHandle = {
    masterId: 'm1', ip: '127.0.0.1', port: 5050,
    state: () => ({ slaves }),
    onChange: () => () => undefined,
    store: undefined as never,
    routes: (reg) => reg(mesos),
    registry,
    apis,
  };
  const comp = dashboardMasterPlugin({ assetsDir, dispatcherPort: opts.dispatcherPort, sampler: { controlMs: 60_000 } })(masterHost(handle, 'dashboard'));
  await comp.start();
  t.teardown(() => comp.stop());
  const srv = await serve(mesos, { host: '127.0.0.1', port: 0 });
  t.teardown(() => srv.close());
  return { url: `http://127.0.0.1:${srv.address().port}`, slaves, mesos, apis };
}

function assets(t: Teardown): string {
  const d = tempDir(t, 'dash-assets');
  writeFileSync(join(d, 'index.html'), '<!doctype html><div id=app></div>');
  writeFileSync(join(d, 'app.js'), 'console.log(1)');
  writeFileSync(join(d, 'app.css'), 'body{}');
  return d;
}

async function raw(url: string, init?: RequestInit): Promise<{ status: number; type: string | null; text: string }> {
  const r = await fetch(url, init);
  return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
}

t.test('the page and its bundle at / and /assets/', async (t) => {
  const f = await start(t, assets(t));
  const page = await raw(`${f.url}/`);
  t.equal(page.status, 200);
  t.match(page.type, /^text\/html/);
  t.match(page.text, /id=app/);
  const js = await raw(`${f.url}/assets/app.js`);
  t.same([js.status, js.type, js.text], [200, 'text/javascript; charset=utf-8', 'console.log(1)']);
  t.equal((await raw(`${f.url}/assets/app.css`)).type, 'text/css; charset=utf-8');
  t.equal((await raw(`${f.url}/assets/..%2Fetc%2Fpasswd`)).status, 404, 'only the three files');
  t.equal((await raw(`${f.url}/assets/other.js`)).status, 404);
});

t.test('a missing build answers 503 naming the command', async (t) => {
  const f = await start(t, join(tempDir(t, 'dash-empty'), 'nothing'));
  const r = await raw(`${f.url}/`);
  t.equal(r.status, 503);
  t.match(r.text, /npm run build/);
});

t.test('DC/OS prefixes dispatch into the APIs in process', async (t) => {
  const f = await start(t, assets(t));
  t.same((await requestJson(`${f.url}/marathon/v2/apps`)).body, { apps: [] }, 'GET /marathon/v2/apps is Marathon\'s /v2/apps');
  const app = await requestJson(`${f.url}/marathon/v2/apps/a%2Fb/c?x=1`);
  t.same(app.body, { id: 'a/b/c', path: '/v2/apps/a%2Fb/c' }, 'the raw path reaches the inner router (%2F kept), query string cut');
  const post = await requestJson(`${f.url}/marathon/v2/apps`, { body: { id: '/web' } });
  t.same([post.status, post.body], [201, { id: '/web' }], 'a POST body reaches the inner handler');
  const bad = await requestJson(`${f.url}/marathon/v2/apps`, { body: { id: 7 } });
  t.equal(bad.status, 422, "the inner route's schema still validates");
  t.match((bad.body as { details: { path: string }[] }).details[0]!.path, '/id');
  const badJson = await raw(`${f.url}/marathon/v2/apps`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
  t.equal(badJson.status, 400, 'malformed JSON: 400, as on the API port');
  t.equal((await requestJson(`${f.url}/marathon/v2/nothing`)).status, 404, 'unknown inner route: 404');
  const host = new URL(f.url).host;
  const form = await raw(`${f.url}/marathon/v2/apps`, { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'text/plain' }, body: '{"id":"/x"}' });
  t.equal(form.status, 403, 'a write from another site (a form post) is refused');
  t.match(form.text, /cross-site POST refused/);
  t.equal((await raw(`${f.url}/marathon/v2/apps`, { method: 'POST', headers: { origin: 'null' }, body: '{"id":"/x"}' })).status, 403, 'Origin null too');
  t.equal((await raw(`${f.url}/marathon/v2/apps`, { method: 'POST', headers: { origin: `http://${host}`, 'content-type': 'application/json' }, body: '{"id":"/x"}' })).status, 201, 'the same origin (the page) may write');
  t.equal((await requestJson(`${f.url}/marathon/v2/events`, { method: 'DELETE' })).status, 405, 'wrong method: 405');
  const dnsMissing = await requestJson(`${f.url}/mesos_dns/v1/version`);
  t.equal(dnsMissing.status, 503, 'a prefix whose service is not running: 503');
  t.match((dnsMissing.body as { message: string }).message, /mesos_dns/);
  // Registered after the plugin was built (Mesos-DNS starts later): found per request.
  f.apis.set('/mesos_dns', new Router().get('/v1/version', () => ({ json: { Service: 'Mesos-DNS' } })));
  t.same((await requestJson(`${f.url}/mesos_dns/v1/version`)).body, { Service: 'Mesos-DNS' });
  const sse = await new Promise<string>((resolve, reject) => {
    http.get(`${f.url}/marathon/v2/events`, (res) => {
      let s = `${res.headers['content-type']}\n`;
      res.on('data', (d) => (s += d));
      res.on('end', () => resolve(s));
    }).on('error', reject);
  });
  t.match(sse, /^text\/event-stream\nevent: event_stream_attached/, 'an SSE handler streams through the shim');
});

t.test('DNS through an agent: bad input named, unknown agent 404, a real server answers', async (t) => {
  const { dnsmasq } = requireTools('dnsmasq');
  const port = await freePort();
  const f = await start(t, assets(t), { dispatcherPort: port });
  const q = (qs: string) => requestJson(`${f.url}/v1/dns/query?${qs}`);
  const bad = await q('name=bad..name&type=XYZ');
  t.equal(bad.status, 422);
  t.same((bad.body as { details: { path: string }[] }).details.map((d) => d.path), ['agent', 'name', 'type'], 'every bad parameter named');
  t.equal((await q('agent=S9&name=web.test')).status, 404, 'unknown agent');
  f.slaves.push({ id: 'S0', pid: 'slave(1)@127.0.0.1:5051', hostname: 'a' });
  const down = await q('agent=S0&name=web.test');
  t.equal(down.status, 504, 'no dispatcher listening: 504');
  t.match((down.body as { message: string }).message, `127.0.0.1:${port}`);
  const d = spawnTracked(t, dnsmasq, ['--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--address=/web.test/10.9.8.7', '--log-facility=-']);
  await d.waitFor(/started/, 10_000);
  const ok = await q('agent=127.0.0.1&name=web.test&type=A');
  t.equal(ok.status, 200, 'the agent may be named by IP too');
  const body = ok.body as { agent_id: string; server: string; rcodeName: string; answers: { data: string }[] };
  t.same([body.agent_id, body.server, body.rcodeName, body.answers.map((a) => a.data)], ['S0', `127.0.0.1:${port}`, 'NOERROR', ['10.9.8.7']]);
});

t.test("a task's sandbox file through the master, and nothing outside the sandboxes", async (t) => {
  const f = await start(t, assets(t));
  const work = tempDir(t, 'dash-agent');
  const sandboxes = join(work, 'sandboxes');
  mkdirSync(join(sandboxes, 'web.1'), { recursive: true });
  writeFileSync(join(sandboxes, 'web.1', 'stdout'), 'hello from web.1\n');
  writeFileSync(join(work, 'secret'), 'not for you');
  symlinkSync(join(work, 'secret'), join(sandboxes, 'web.1', 'escape'));
  const agent = new Router();
  mountFiles(agent, () => sandboxes);
  const srv = await serve(agent, { host: '127.0.0.1', port: 0 });
  t.teardown(() => srv.close());
  f.slaves.push({ id: 'S0', pid: `slave(1)@127.0.0.1:${srv.address().port}`, hostname: 'a' });
  const read = (qs: string) => requestJson(`${f.url}/agent/S0/files/read?${qs}`);
  const enc = encodeURIComponent;
  t.same((await read(`path=${enc('/web.1/stdout')}&offset=-1`)).body, { data: '', offset: 17 }, 'offset=-1: the size');
  t.same((await read(`path=${enc('/web.1/stdout')}&offset=6&length=4`)).body, { data: 'from', offset: 6 });
  t.same((await read(`path=${enc(join(sandboxes, 'web.1', 'stdout'))}`)).body, { data: 'hello from web.1\n', offset: 0 }, 'the absolute sandbox path (Mesos form) too');
  for (const p of ['/web.1/escape', '/../secret', join(work, 'secret'), '/etc/passwd', '/web.1'])
    t.equal((await read(`path=${enc(p)}`)).status, 404, `${p}: 404`);
  t.equal((await read('path=relative')).status, 422, 'a relative path: 422');
  t.equal((await read(`path=${enc('/web.1/stdout')}&offset=x`)).status, 422, 'a bad offset: 422');
  t.equal((await requestJson(`${f.url}/agent/S9/files/read?path=/x`)).status, 404, 'unknown agent: 404');
});

t.test('chart series sampled from an agent /metrics and the control status', async (t) => {
  const f = await start(t, assets(t));
  const agentRegistry = createRegistry();
  new prom.Counter({ name: 'sextant_dispatcher_requests_total', help: 'x', labelNames: ['transport'], registers: [agentRegistry] }).inc({ transport: 'udp' }, 5);
  new prom.Gauge({ name: 'sextant_l4lb_driver', help: 'x', labelNames: ['driver'], registers: [agentRegistry] }).set({ driver: 'nftables' }, 1);
  const srv = await serve(new Router().metrics(agentRegistry), { host: '127.0.0.1', port: 0 });
  t.teardown(() => srv.close());
  f.slaves.push({ id: 'S0', pid: `slave(1)@127.0.0.1:${srv.address().port}`, hostname: 'a' });
  f.mesos.get('/v1/control/agents', () => ({ json: { history: 'h', version: 3, agents: [{ agent_id: 'S0', connected: true, applied: 3, last_ack_at: new Date().toISOString() }] } }));
  // The plugin samples at start (controlMs is long here); read what it saw.
  const s = await (async () => {
    for (let i = 0; i < 100; i++) {
      const r = (await requestJson(`${f.url}/v1/dashboard/series`)).body as { t: number[]; dns: Record<string, unknown[]>; nodes: Record<string, unknown>; convergence: unknown[] };
      if (r.t.length) return r;
      await new Promise((res) => setImmediate(res));
    }
    throw new Error('no sample taken');
  })();
  t.same(Object.keys(s.dns), [`dispatcher S0 (127.0.0.1)`], "the agent's dispatcher is a DNS series");
  t.same(s.nodes, { S0: { l4lb_driver: 'nftables' } }, "the agent's L4LB driver");
});
