/**
 * The CLI's HTTP client against real servers on loopback: where it sends requests (options, then
 * environment, then defaults), the token it carries and to whom, leader redirects, the API's own
 * error message, and https with the cluster CA (a CA made with openssl for the test).
 */
import t from 'tap';
import http from 'node:http';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { ApiError, apiMessage, ClusterClient, ClusterConfigError, resolveCluster, UnreachableError } from '../cli-client.js';
import { requireTools, uniqueName } from '../../test/lib/index.js';

const HOST = '127.0.0.1';

interface Seen {
  method: string;
  url: string;
  auth?: string;
  body: string;
}

type Handler = (req: http.IncomingMessage, body: string) => { status: number; body?: string; headers?: Record<string, string> };

async function server(t: { teardown(fn: () => unknown): void }, handler: Handler, tls?: { key: Buffer; cert: Buffer }): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, body });
      const r = handler(req, body);
      res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers }).end(r.body ?? '');
    });
  };
  const srv = tls ? https.createServer(tls, listener) : http.createServer(listener);
  await new Promise<void>((r) => srv.listen(0, HOST, r));
  t.teardown(() => new Promise<void>((r) => (srv.closeAllConnections(), srv.close(() => r()))));
  return { url: `${tls ? 'https' : 'http'}://${HOST}:${(srv.address() as AddressInfo).port}`, seen };
}

t.test('where requests go: options, then environment, then defaults', async (t) => {
  const rows: [string, Parameters<typeof resolveCluster>[0], NodeJS.ProcessEnv, Record<string, string>][] = [
    ['defaults', {}, {}, { mesos: 'http://127.0.0.1:5050', marathon: 'http://127.0.0.1:8080', net: 'http://127.0.0.1:5050' }],
    ['--master host only: Marathon on its :8080', { master: '10.0.0.5' }, {}, { mesos: 'http://10.0.0.5:5050', marathon: 'http://10.0.0.5:8080' }],
    ['SEXTANT_MASTER and SEXTANT_MARATHON', {}, { SEXTANT_MASTER: '10.0.0.5:6050', SEXTANT_MARATHON: 'http://10.0.0.6:9090' }, { mesos: 'http://10.0.0.5:6050', marathon: 'http://10.0.0.6:9090' }],
    ['--master wins over SEXTANT_MASTER', { master: '10.0.0.7:1' }, { SEXTANT_MASTER: '10.0.0.5' }, { mesos: 'http://10.0.0.7:1', marathon: 'http://10.0.0.7:8080' }],
    ['--url: the entry point layout', { url: 'https://dcos.example:8443/' }, { SEXTANT_MASTER: '10.0.0.5' }, { mesos: 'https://dcos.example:8443/mesos', marathon: 'https://dcos.example:8443/marathon', net: 'https://dcos.example:8443/net' }],
    ['SEXTANT_URL wins over SEXTANT_MASTER', {}, { SEXTANT_URL: 'https://10.0.0.1', SEXTANT_MASTER: '10.0.0.5' }, { mesos: 'https://10.0.0.1/mesos', marathon: 'https://10.0.0.1/marathon' }],
    ['--master wins over SEXTANT_URL', { master: '10.0.0.7' }, { SEXTANT_URL: 'https://10.0.0.1' }, { mesos: 'http://10.0.0.7:5050', marathon: 'http://10.0.0.7:8080' }],
    ['--url wins over --master', { url: 'https://10.0.0.1', master: '10.0.0.7' }, {}, { mesos: 'https://10.0.0.1/mesos' }],
  ];
  for (const [what, o, env, want] of rows) {
    const r = resolveCluster(o, env);
    for (const [api, base] of Object.entries(want)) t.equal(r.bases[api as 'mesos'], base, `${what}: ${api}`);
  }
  t.equal(resolveCluster({ url: 'https://dcos.example:8443/' }, {}).root, 'https://dcos.example:8443', 'root paths (/system, /acs): the entry point itself');
  t.equal(resolveCluster({ master: '10.0.0.5' }, {}).root, 'http://10.0.0.5:5050', 'root paths without an entry point: the master');
  const bad: [Parameters<typeof resolveCluster>[0], NodeJS.ProcessEnv, RegExp][] = [
    [{ url: 'not a url' }, {}, /--url "not a url" is not a URL/],
    [{}, { SEXTANT_URL: 'ftp://x' }, /SEXTANT_URL "ftp:\/\/x": only https/],
    [{ master: 'http://' }, {}, /--master "http:\/\/" is not an address/],
    [{}, { SEXTANT_MARATHON: '10.0.0.1/v2' }, /SEXTANT_MARATHON "10.0.0.1\/v2" is not an address/],
    [{ ca: '/nonexistent/ca.crt' }, {}, /--ca \/nonexistent\/ca.crt: ENOENT/],
  ];
  for (const [o, env, re] of bad) t.throws(() => resolveCluster(o, env), { name: 'ClusterConfigError', message: re });
  t.ok(new ClusterConfigError('x') instanceof Error);
});

t.test("an API's refusal becomes its own message", async (t) => {
  const rows: [number, unknown, string][] = [
    [422, { message: 'Object is not valid', details: [{ path: '/cpus', errors: ['must be >= 0'] }, { path: '/mem', errors: ['a', 'b'] }] }, 'Object is not valid: /cpus: must be >= 0; /mem: a, b'],
    [404, { message: "App '/x' does not exist" }, "App '/x' does not exist"],
    [403, { title: 'Forbidden', description: 'needs dcos:adminrouter:ops:mesos read' }, 'Forbidden: needs dcos:adminrouter:ops:mesos read'],
    [400, 'Failed to parse the request body\n', 'Failed to parse the request body (400)'],
    [502, undefined, '502 Bad Gateway (an empty body)'],
    [500, { other: 1 }, '500 {"other":1}'],
  ];
  for (const [status, body, want] of rows) t.equal(apiMessage(status, body), want, `${status} ${JSON.stringify(body)}`);

  const { url } = await server(t, (req) => (req.url === '/v2/apps' ? { status: 422, body: JSON.stringify({ message: 'Object is not valid', details: [{ path: '/id', errors: ['required'] }] }) } : { status: 200, body: '{"ok":true}', headers: { 'x-seen': 'yes' } }));
  const c = new ClusterClient({ marathon: url }, {});
  t.same(await c.request('marathon', '/v2/info'), { ok: true });
  t.equal(await c.request('marathon', '/v2/info', { text: true }), '{"ok":true}', 'text: the body as written, unparsed');
  const x = await c.exchange('marathon', '/v2/info');
  t.same([x.status, x.body, x.headers['x-seen']], [200, { ok: true }, 'yes'], 'exchange: status, body and the headers');
  const te = await c.request('marathon', '/v2/apps', { method: 'POST', body: {}, text: true }).catch((x: unknown) => x);
  t.equal((te as ApiError).message, 'Object is not valid: /id: required', 'text: a refusal still names the message');
  const e = await c.request('marathon', '/v2/apps', { method: 'POST', body: {} }).catch((x: unknown) => x);
  t.ok(e instanceof ApiError, 'an ApiError');
  t.equal((e as ApiError).status, 422);
  t.equal((e as ApiError).message, 'Object is not valid: /id: required');
  const down = await new ClusterClient({ master: '127.0.0.1:1' }, {}).request('mesos', '/master/state').catch((x: unknown) => x);
  t.ok(down instanceof UnreachableError, 'nothing listening: UnreachableError');
  t.match((down as Error).message, /cannot reach http:\/\/127\.0\.0\.1:1: ECONNREFUSED/);
});

t.test('the token goes along, and follows a leader redirect but not a redirect elsewhere', async (t) => {
  const leader = await server(t, (req, body) => ({ status: 200, body: JSON.stringify({ at: 'leader', path: req.url, body }) }));
  const follower = await server(t, (req) =>
    req.url?.startsWith('/elsewhere') ? { status: 302, headers: { location: `${leader.url}/other` } } : { status: 307, body: '{"message":"not the leader"}', headers: { location: `${leader.url}${req.url}` } },
  );
  const env = { SEXTANT_TOKEN: 'tok123' };
  const c = new ClusterClient({ master: follower.url }, env);
  t.same(await c.request('mesos', '/v1/networks', { method: 'POST', body: { name: 'a' } }), { at: 'leader', path: '/v1/networks', body: '{"name":"a"}' }, 'a 307 keeps method and body');
  t.equal(follower.seen[0]!.auth, 'token=tok123', 'the first request carries the token');
  t.equal(leader.seen[0]!.auth, 'token=tok123', 'the leader redirect (same path) too');
  t.equal(leader.seen[0]!.method, 'POST');
  await c.request('mesos', '/elsewhere');
  t.equal(leader.seen[1]!.url, '/other');
  t.equal(leader.seen[1]!.auth, undefined, 'a redirect to another origin and path gets no token');
  const loop = await server(t, (req) => ({ status: 307, headers: { location: req.url ?? '/' } }));
  const e = await new ClusterClient({ master: loop.url }, {}).request('mesos', '/x').catch((x: unknown) => x);
  t.ok(e instanceof UnreachableError);
  t.match((e as Error).message, /more than 5 redirects/);
  await c.request('mesos', '/login', { anonymous: true });
  t.equal(leader.seen.at(-1)!.url, '/login');
  t.equal(follower.seen.at(-1)!.auth, undefined, 'anonymous: no token, even to the same origin');
  t.equal(leader.seen.at(-1)!.auth, undefined, 'nor to the leader');
  const none = await server(t, () => ({ status: 200, body: '{}' }));
  await new ClusterClient({ master: none.url }, { HOME: mkdtempSync(join(tmpdir(), `${uniqueName('home')}-`)) }).request('mesos', '/');
  t.equal(none.seen[0]!.auth, undefined, 'no token stored: no authorization header');
});

t.test('an https entry point: paths under /marathon and /mesos, verified with the cluster CA', async (t) => {
  const { openssl } = requireTools('openssl');
  const dir = mkdtempSync(join(tmpdir(), `${uniqueName('ca')}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const run = (...args: string[]) => execFileSync(openssl, args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=test CA');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=entry');
  writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n');
  run('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.crt', '-days', '1', '-extfile', 'ext');
  const entry = await server(t, (req) => ({ status: 200, body: JSON.stringify({ path: req.url }) }), { key: readFileSync(join(dir, 'srv.key')), cert: readFileSync(join(dir, 'srv.crt')) });
  const c = new ClusterClient({ url: entry.url, ca: join(dir, 'ca.crt') }, { SEXTANT_TOKEN: 'tok' });
  t.same(await c.request('marathon', '/v2/apps'), { path: '/marathon/v2/apps' });
  t.same(await c.request('mesos', '/master/state'), { path: '/mesos/master/state' });
  t.same(await c.request('net', '/v1/networks'), { path: '/net/v1/networks' });
  t.same(await c.request('root', '/system/health/v1/report'), { path: '/system/health/v1/report' }, 'root paths at the entry point root');
  t.same(await c.request('root', '/acs/api/v1/users'), { path: '/acs/api/v1/users' });
  t.same(await c.request('net', '/v1/vips/11.0.0.1:80/tcp'), { path: '/net/v1/vips/11.0.0.1:80/tcp' }, 'the network metrics: /net kept, the entry point passes it on unchanged');
  t.equal(c.agentBase('S0', 'http://10.0.0.2:5051'), `${entry.url}/agent/S0`, 'an agent through the entry point by id');
  t.equal(entry.seen[0]!.auth, 'token=tok');
  const viaEnv = new ClusterClient({}, { SEXTANT_URL: entry.url, SEXTANT_CA: join(dir, 'ca.crt') });
  t.same(await viaEnv.request('marathon', '/ping'), { path: '/marathon/ping' }, 'SEXTANT_URL and SEXTANT_CA');
  const untrusted = await new ClusterClient({ url: entry.url }, {}).request('marathon', '/v2/apps').catch((x: unknown) => x);
  t.ok(untrusted instanceof UnreachableError, 'without the CA the certificate is refused');
  t.match((untrusted as Error).message, /SELF_SIGNED|UNABLE_TO_VERIFY|certificate/i);
});

t.test("the master's own port: the network metrics keep /net, the rest of the network API has none", async (t) => {
  const master = await server(t, (req) => ({ status: 200, body: JSON.stringify({ path: req.url }) }));
  const c = new ClusterClient({ master: master.url }, {});
  t.same(await c.request('net', '/v1/networks'), { path: '/v1/networks' });
  t.same(await c.request('net', '/v1/vips'), { path: '/net/v1/vips' });
  t.same(await c.request('net', '/v1/backends/10.0.0.2:80'), { path: '/net/v1/backends/10.0.0.2:80' });
  t.same(await c.request('net', '/v1/vipsx'), { path: '/v1/vipsx' }, 'only the metrics paths');
});
