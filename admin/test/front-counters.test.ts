/**
 * Issue 30, the nginx front's request metrics counted by its C module (`sextant_count`, `sextant_stats`:
 * native/nginx-sextant/ngx_http_sextant_count_module.c) and read by front-stats.ts, instead of an access-log
 * line per request. Covered: FrontStats adds increases, takes a total whole after a reset (new epoch, or
 * smaller), puts each bucket's requests in that bucket with the exact sum, skips malformed lines; a real
 * front (NginxFront with the built module, a real master): hits with 200 and with the upstream's 404
 * counted by route and status with their upstream times, no access-log line written; the counters not
 * served on the admin port; a reload keeps them (same epoch, going on from where they were); and with
 * the module refused, the Lua check alone still counts from the access log.
 */
import t from 'tap';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { LUA_MODULES } from '../router/front-conf.js';
import { FrontStats } from '../router/front-stats.js';
import { NGINX, NginxFront, frontCheckModulePath } from '../index.js';
import type { Registry } from '../../common/metrics.js';
import { request, spawnMaster, startEntry, tmpDir } from './lib.js';

t.setTimeout(120_000);
const MODULE = frontCheckModulePath();
if (!fs.existsSync(NGINX) || !LUA_MODULES.every((m) => fs.existsSync(m))) throw new Error(`${NGINX} or its Lua module is missing: install nginx-light and libnginx-mod-http-lua (scripts/debian-packages.txt)`);
if (!MODULE) throw new Error('native/build/nginx/ngx_http_sextant_check_module.so is not built: install nginx-dev (scripts/debian-packages.txt) and run npm run build');

function recorder() {
  const requests = new Map<string, number>();
  const observed: { route: string; s: number }[] = [];
  return {
    requests, observed,
    metrics: {
      requests: { inc: (l: { route: string; code: string }, n = 1) => requests.set(`${l.route} ${l.code}`, (requests.get(`${l.route} ${l.code}`) ?? 0) + n) },
      upstreamSeconds: { observe: (l: { route: string }, s: number) => observed.push({ route: l.route, s }) },
      refusals: { inc: () => undefined },
    },
  };
}

t.test('FrontStats: increases, resets, buckets', async (t) => {
  const r = recorder();
  const s = new FrontStats('/nonexistent', '/x', r.metrics, () => undefined);
  s.apply('epoch 7\nc mesos 200 3\nc mesos 404 1\nh mesos 0.001 3 3\nh mesos 0.0025 1 2\n');
  t.same([...r.requests], [['mesos 200', 3], ['mesos 404', 1]], 'first read: the totals');
  t.same(r.observed.map((o) => o.s), [0.001, 0.001, 0.001, 0.002], 'each request once, in its bucket, the sum exact');
  r.observed.length = 0;
  s.apply('epoch 7\nc mesos 200 5\nc mesos 404 1\nc marathon 502 1\nh mesos 0.001 3 3\nh mesos 0.01 2 13\n');
  t.same([...r.requests], [['mesos 200', 5], ['mesos 404', 1], ['marathon 502', 1]], 'then the increases');
  t.same(r.observed.map((o) => o.s), [0.0065, 0.0065], 'two more in (5, 10] ms with 13 ms between them');
  r.observed.length = 0;
  s.apply('epoch 7\nc mesos 200 2\nh mesos 0.001 1 1\n');
  t.equal(r.requests.get('mesos 200'), 7, 'a smaller total: counted again from 0, taken whole');
  t.same(r.observed.map((o) => o.s), [0.001], 'a bucket too');
  s.apply('epoch 8\nc mesos 200 4\n');
  t.equal(r.requests.get('mesos 200'), 11, 'a new epoch: taken whole even though larger');
  r.observed.length = 0;
  s.apply('epoch 8\nh mesos 0.005 1 1\nh mesos +Inf 1 40000\n');
  t.same(r.observed.map((o) => o.s), [0.003, 40], 'a sum read a request ahead stays in its bucket; +Inf');
  const before = JSON.stringify([...r.requests]);
  s.apply('epoch 8\nc mesos 200\nc Mesos 200 99\nc mesos 2000 1\nh mesos 0.003 1 1\nx\n\nc mesos 200 1e3\n');
  t.equal(JSON.stringify([...r.requests]), before, 'malformed lines: nothing counted');
  t.throws(() => s.apply('c mesos 200 1\n'), /epoch/, 'no epoch line: refused');
  const warned: string[] = [];
  const dead = new FrontStats(path.join(tmpDir(t, 'stats'), 'none.sock'), '/x', r.metrics, (e) => warned.push(e));
  await dead.read();
  await dead.read();
  t.equal(warned.length, 1, 'an unreachable socket: one warning, no throw');
  t.match(warned[0], /none\.sock/, 'naming the socket');
});

const count = async (reg: Registry, route: string, code: string) =>
  (await reg.getSingleMetric('sextant_entry_requests_total')!.get()).values.find((v) => v.labels.route === route && v.labels.code === code)?.value ?? 0;
const observed = async (reg: Registry, route: string) =>
  (await reg.getSingleMetric('sextant_entry_upstream_seconds')!.get()).values.find((v) => (v as { metricName?: string }).metricName === 'sextant_entry_upstream_seconds_count' && v.labels.route === route)?.value ?? 0;

function stats(sock: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ socketPath: sock, path: '/_sextant/stats', agent: false }, (res) => {
      let b = '';
      res.on('data', (d: Buffer) => (b += d.toString()));
      res.on('end', () => resolve(b));
    }).on('error', reject);
  });
}

const children = (pid: number) => fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);

t.test('the front counts in C, across a reload; the Lua check alone from its log', async (t) => {
  const m = await spawnMaster(t);

  t.test('C counters', async (t) => {
    const e = await startEntry(t, m, { front: 'nginx', limits: { tokenCacheMs: 1, frontDecisionMs: 60_000 } });
    const f = e.entry as NginxFront;
    t.equal(f.checkModule, MODULE, 'the module is loaded');
    e.authority.user('erin', 'superuser');
    const tok = await e.authority.token('erin');
    const apps = `${e.url}/marathon/v2/apps`;
    for (let i = 0; i < 3; i++) t.equal((await request(apps, e.ca, { token: tok })).status, 200, `read ${i + 1}: 200`);
    for (let i = 0; i < 2; i++) t.equal((await request(`${apps}/nosuch`, e.ca, { token: tok })).status, 404, `read ${i + 1}: Marathon's 404`);
    await f.readCounts();
    t.equal(await count(e.registry, 'marathon', '200'), 3, 'three 200s counted');
    t.equal(await count(e.registry, 'marathon', '404'), 2, 'two 404s counted');
    t.equal(await observed(e.registry, 'marathon'), 5, 'five upstream header times observed');
    t.equal(fs.statSync(path.join(f.runDir, 'access.log')).size, 0, 'no access-log line written');

    t.equal((await request(`${e.url}/_sextant/stats`, e.ca, { token: tok })).status, 404, 'the counters are not served on the admin port');
    const sock = path.join(f.dir, 'stats.sock');
    const first = await stats(sock);
    t.match(first, /^epoch \d+\n/, 'the socket in the front\'s directory serves them');
    t.match(first, /\nc marathon 200 3\n/, 'the raw total');
    const epoch = first.split('\n')[0];

    const pid = f.pid!;
    const old = children(pid);
    process.kill(pid, 'SIGHUP');
    // The reload done: none of the old workers left (bounded in time and count).
    let now = old;
    for (let i = 0; i < 400 && (now.length === 0 || now.some((c) => old.includes(c))); i++) {
      await new Promise((r) => setTimeout(r, 50));
      now = children(pid);
    }
    t.ok(now.length > 0 && !now.some((c) => old.includes(c)), 'nginx reloaded: new workers');
    for (let i = 0; i < 2; i++) t.equal((await request(apps, e.ca, { token: tok })).status, 200, `after: read ${i + 1}`);
    const after = await stats(sock);
    t.equal(after.split('\n')[0], epoch, 'the same counters (same epoch)');
    t.match(after, /\nc marathon 200 5\n/, 'going on from 3');
    await f.readCounts();
    t.equal(await count(e.registry, 'marathon', '200'), 5, 'the metric: 5');
    t.equal(await count(e.registry, 'marathon', '404'), 2, 'the 404s unchanged');
  });

  t.test('the module refused: the Lua check alone counts from the access log', async (t) => {
    const bogus = path.join(tmpDir(t, 'counters-bogus'), 'not-a-module.so');
    fs.writeFileSync(bogus, 'not an ELF file');
    const e = await startEntry(t, m, { front: 'nginx', checkModule: bogus, limits: { tokenCacheMs: 1, frontDecisionMs: 60_000 } });
    const f = e.entry as NginxFront;
    t.equal(f.checkModule, undefined, 'the Lua check alone');
    e.authority.user('erin', 'superuser');
    const tok = await e.authority.token('erin');
    for (let i = 0; i < 2; i++) t.equal((await request(`${e.url}/marathon/v2/apps/nosuch`, e.ca, { token: tok })).status, 404, `read ${i + 1}: 404`);
    // nginx flushes its log buffer once a second: read until both lines are in (bounded).
    let n = 0;
    for (let i = 0; i < 100 && n < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      await f.readCounts();
      n = await count(e.registry, 'marathon', '404');
    }
    t.equal(n, 2, 'two 404s counted from the log');
    t.ok(fs.statSync(path.join(f.runDir, 'access.log')).size > 0 || fs.existsSync(path.join(f.runDir, 'access.log.1')), 'written to the access log');
    t.notOk(fs.existsSync(path.join(f.dir, 'stats.sock')), 'no counters socket');
  });
});
