/**
 * Issue 30, the entry point as worker processes (SEXTANT_ENTRY_WORKERS, node:cluster): two real
 * worker processes share the port; the checks are the primary's (one Authority, one credential
 * cache: a token is verified once whichever worker a connection lands on; one failure throttle: a
 * client that spreads bad tokens over both workers still gets 429 past the limit); the workers'
 * audit lines land in the primary's log and their metrics in the primary's registry; stop() ends
 * the worker processes. The upstream is a plain HTTP server on loopback (Marathon's port).
 */
import t from 'tap';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createRegistry, ensureCa, issueCert, type Logger } from '../../common/index.js';
import { EntryWorkers, RESOURCES } from '../index.js';
import { grant, request, StubAuthority, tmpDir } from './lib.js';

const IP = '127.0.0.1';
t.setTimeout(120_000);

t.test('entry point workers', async (t) => {
  const upstreamPeers = new Set<number>();
  const srv = http.createServer((req, res) => {
    upstreamPeers.add(req.socket.remotePort!);
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url, method: req.method, forwarded: req.headers.forwarded })));
  });
  await new Promise<void>((r) => srv.listen(0, IP, r));
  t.teardown(() => new Promise<void>((r) => (srv.closeAllConnections(), srv.close(() => r()))));
  const upPort = (srv.address() as AddressInfo).port;

  const dir = tmpDir(t, 'workers');
  const ca = await ensureCa(path.join(dir, 'ca'));
  const leaf = await issueCert(ca, dir, 'entry', { cn: IP, usage: 'server', ips: [IP] });
  const caPem = fs.readFileSync(ca.cert);
  const authority = await StubAuthority.create();
  authority.user('root', 'superuser');
  authority.user('reader', [grant(`${RESOURCES.group('/')}`, 'read')]);
  const lines = new LogCapture();
  const log = lines.logger();
  const registry = createRegistry();
  const entry = new EntryWorkers({
    workers: 2, host: IP, port: 0, cert: fs.readFileSync(leaf.cert), key: fs.readFileSync(leaf.key), authority: () => authority, registry, log,
    upstream: { ip: IP, port: upPort, marathonPort: upPort, mesosDnsPort: upPort }, limits: { throttleFailures: 4, throttleWindowMs: 60_000 },
  });
  await entry.start();
  let stopped = false;
  t.teardown(() => (stopped ? undefined : entry.stop()));
  const url = `https://${IP}:${entry.port}`;

  t.test('two worker processes serve the port; a token is verified once for all of them', async (t) => {
    t.equal(entry.running, 2, 'two workers');
    const root = await authority.token('root');
    // A new connection per request (request() uses agent: false): the cluster spreads them over both workers.
    for (let i = 0; i < 6; i++) {
      const r = await request(`${url}/marathon/v2/apps?i=${i}`, caPem, { token: root });
      t.equal(r.status, 200, `request ${i} answered`);
      t.equal((r.json() as { path: string }).path, `/v2/apps?i=${i}`, 'the upstream got the mapped path and query');
    }
    t.ok(upstreamPeers.size >= 2, `${upstreamPeers.size} upstream connections for 6 keep-alive requests: both workers served`);
    t.equal(authority.verifications, 1, 'one signature check: the primary caches the verified token for every worker');
  });

  t.test('refusals: 401 without a token, 403 naming the permission, audit lines in the primary log', async (t) => {
    const none = await request(`${url}/marathon/v2/apps`, caPem);
    t.equal(none.status, 401);
    t.match(none.json(), { code: 'missing' });
    const reader = await authority.token('reader');
    const post = await request(`${url}/marathon/v2/apps`, caPem, { method: 'POST', token: reader, body: JSON.stringify({ id: '/prod/web' }) });
    t.equal(post.status, 403);
    t.match(post.json(), { code: 'forbidden', permission: { resource: RESOURCES.group('/prod'), action: 'update' } });
    const audit = await lines.waitFor((l) => l.event === 'audit' && l.fields?.uid === 'reader');
    t.match(audit.fields, { method: 'POST', allowed: false, status: 403, reason: 'forbidden' }, 'the refused write is audited in the primary log');
  });

  t.test('one failure throttle for all workers', async (t) => {
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await request(`${url}/marathon/v2/apps`, caPem, { headers: { authorization: `token=bad.token.${i}` } })).status);
    t.same(codes.slice(0, 3), [401, 401, 401], 'the first failures are 401 (one more was counted in the test before)');
    t.equal(codes.at(-1), 429, 'past the limit: 429, whichever worker the connection reached');
  });

  t.test("the workers' metrics reach the primary's registry", async (t) => {
    await entry.flushMetrics();
    const text = await registry.metrics();
    t.match(text, /sextant_entry_requests_total\{route="marathon",code="200"\} 6/);
    t.match(text, /sextant_entry_refusals_total\{reason="forbidden"\} 1/);
    t.match(text, /sextant_entry_refusals_total\{reason="throttled"\} [1-9]/);
    t.match(text, /sextant_entry_upstream_seconds_count\{route="marathon"\} 6/);
  });

  t.test('stop() ends the worker processes', async (t) => {
    const pids = entry.pids;
    t.equal(pids.length, 2);
    await entry.stop();
    stopped = true;
    t.equal(entry.running, 0);
    for (const pid of pids) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} is gone`);
  });
});

interface Line {
  level: string;
  event: string;
  fields?: Record<string, unknown>;
}

/** A Logger that keeps its lines; waitFor resolves when a matching line is logged. */
class LogCapture {
  readonly lines: Line[] = [];
  private waiters: { ok: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];

  logger(): Logger {
    const add = (level: string) => (event: string, fields?: Record<string, unknown>) => {
      const l = { level, event, ...(fields ? { fields } : {}) };
      this.lines.push(l);
      this.waiters = this.waiters.filter((w) => (w.ok(l) ? (w.resolve(l), false) : true));
    };
    const log: Logger = { debug: add('debug'), info: add('info'), warn: add('warn'), error: add('error'), child: () => log };
    return log;
  }

  waitFor(ok: (l: Line) => boolean): Promise<Line> {
    const seen = this.lines.find(ok);
    return seen ? Promise.resolve(seen) : new Promise((resolve) => this.waiters.push({ ok, resolve }));
  }
}
