/**
 * Issue 30, the client's credential stays at the edge: the master's own APIs (the `/mesos/`, `/marathon/`,
 * `/mesos_dns/` routes) never receive the client's `Authorization` or `Cookie`, whether the nginx front
 * serves the read itself (its hot path) or Node forwards the request (writes, odd paths, streams), and
 * with the nginx front's hot path a `Forwarded` the client sends does not reach them either (Node's
 * route sends its own element last, as before). `/acs/` still gets the token: the identity service reads
 * it. An upstream that echoes what it got stands in for the master's ports; run with both fronts.
 */
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AUTH_COOKIE } from '../../contracts/auth.js';
import { NGINX, type Target, type Upstreams } from '../index.js';
import { loopbackBlock } from '../../test/lib/index.js';
import { request, startEntry } from './lib.js';
import fs from 'node:fs';

t.setTimeout(120_000);
if (!fs.existsSync(NGINX)) throw new Error(`${NGINX} is missing: install nginx-light and libnginx-mod-http-lua (scripts/debian-packages.txt)`);

interface Seen {
  method: string;
  path: string;
  authorization?: string;
  cookie?: string;
  forwarded?: string;
}

/** An upstream answering every request with the headers it got. */
async function echoUpstream(t: { teardown(fn: () => unknown): void }, host: string): Promise<Target> {
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const seen: Seen = { method: req.method ?? '', path: req.url ?? '', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), ...(req.headers.cookie ? { cookie: req.headers.cookie } : {}), ...(req.headers.forwarded ? { forwarded: req.headers.forwarded } : {}) };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(seen));
    });
  });
  await new Promise<void>((r) => srv.listen(0, host, r));
  t.teardown(() => new Promise<void>((r) => (srv.closeAllConnections(), srv.close(() => r()))));
  return { host, port: (srv.address() as AddressInfo).port };
}

for (const front of ['nginx', 'node'] as const) {
  t.test(`${front} front: the master's APIs never get the client's credential`, async (t) => {
    const ip = loopbackBlock()(1);
    const up = await echoUpstream(t, ip);
    const upstreams: Upstreams = { mesos: async () => up, marathon: async () => up, mesosDns: async () => up, service: async () => up, leaderChanged: () => {} };
    // Every route of the front (nginx's hot path and Node's) reaches the echo upstream.
    const e = await startEntry(t, { ip, port: up.port, marathonPort: up.port, mesosDnsPort: up.port }, { front, upstreams });
    e.authority.user('root', 'superuser');
    const tok = await e.authority.token('root');
    const cookie = `other=1; ${AUTH_COOKIE}=${tok}`;
    const get = async (p: string, headers: Record<string, string> = {}, o: { token?: string; method?: string; body?: string } = { token: tok }) => {
      const r = await request(`${e.url}${p}`, e.ca, { ...o, headers });
      t.equal(r.status, 200, `${o.method ?? 'GET'} ${p}: ${r.body}`);
      return r.json() as Seen;
    };

    for (const p of ['/mesos/master/state', '/marathon/v2/apps', '/mesos_dns/v1/version']) {
      for (let i = 0; i < 2; i++) {
        // The second read is nginx's from its decision cache (the first asked Node for the decision).
        const s = await get(p, { forwarded: 'for=192.0.2.66;by=evil', cookie: 'theme=dark' });
        t.equal(s.authorization, undefined, `${p} (${i + 1}): no Authorization upstream`);
        t.equal(s.cookie, undefined, `${p} (${i + 1}): no Cookie upstream`);
        if (front === 'nginx') t.equal(s.forwarded, undefined, `${p} (${i + 1}): nginx's hot path sends no Forwarded, not the client's either`);
        else t.match(s.forwarded, /^for=192\.0\.2\.66;by=evil, by="[^"]+";for="[^"]+";proto=https;host=/, `${p}: Node appends its own element last`);
      }
    }
    const withCookie = await request(`${e.url}/marathon/v2/info`, e.ca, { headers: { cookie } });
    t.equal(withCookie.status, 200, 'the DC/OS cookie alone is a credential');
    t.equal((withCookie.json() as Seen).cookie, undefined, 'the cookie carrying the token is not sent upstream');

    // Requests Node forwards behind the nginx front too: a write, an odd path, a stream's Accept.
    const post = await get('/marathon/v2/apps', { 'content-type': 'application/json', cookie }, { token: tok, method: 'POST', body: '{"id":"/x"}' });
    t.same([post.method, post.authorization, post.cookie], ['POST', undefined, undefined], 'a write: no credential upstream');
    const odd = await get('/mesos_dns/v1/hosts/a%2Db');
    t.same([odd.path, odd.authorization], ['/v1/hosts/a%2Db', undefined], 'an escaped path (Node\'s): no credential upstream');
    const stream = await get('/marathon/v2/apps', { accept: 'text/event-stream' });
    t.equal(stream.authorization, undefined, 'a stream\'s Accept (Node\'s): no credential upstream');
    t.ok(stream.forwarded, 'Node\'s route: Forwarded sent');

    const acs = await get('/acs/api/v1/users', { cookie });
    t.equal(acs.authorization, `token=${tok}`, '/acs/ (the identity service reads the token): Authorization forwarded');
    t.equal(acs.cookie, cookie, '/acs/: Cookie forwarded');
  });
}
