/**
 * Issue 30, authentication at the entry point, with an injected clock: each kind of bad credential
 * is a 401 whose body says which; the three ways to carry a token work; verified tokens are cached
 * (one signature check for many requests) until the cache TTL; repeated failures from one address
 * get 429 with Retry-After while a verified token from it keeps working; the window passes.
 * The upstream is a plain HTTP server on loopback (what is tested is the gate, not a master).
 * The Node entry point alone: the gate's TTLs run on the injected clock, which nginx's decision cache
 * cannot take (front-decisions.test.ts tests that cache in real time).
 */
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPair } from 'jose';
import { FakeClock } from '../../common/index.js';
import { AUTH_COOKIE } from '../../contracts/auth.js';
import type { Upstreams } from '../index.js';
import { request, startEntry, StubAuthority } from './lib.js';

const IP = '127.0.0.1';

t.test('the gate', async (t) => {
  const srv = http.createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url })));
  await new Promise<void>((r) => srv.listen(0, IP, r));
  t.teardown(() => new Promise<void>((r) => (srv.closeAllConnections(), srv.close(() => r()))));
  const target = { host: IP, port: (srv.address() as AddressInfo).port };
  const upstreams: Upstreams = { mesos: async () => target, marathon: async () => target, mesosDns: async () => target, service: async () => target, leaderChanged: () => undefined };
  const clock = new FakeClock();
  const authority = await StubAuthority.create(clock);
  const e = await startEntry(t, { ip: IP, port: 0, marathonPort: 0, mesosDnsPort: 0 }, { front: 'node', upstreams, authority, clock, limits: { tokenCacheMs: 10_000, throttleFailures: 3, throttleWindowMs: 60_000 } });
  authority.user('alice', 'superuser');
  const url = `${e.url}/marathon/v2/apps`;

  t.test('each bad credential: 401 naming it', async (t) => {
    const other = (await generateKeyPair('RS256')).privateKey;
    const cases: [string, Record<string, string>, string][] = [
      ['no credential', {}, 'missing'],
      ['not a JWT', { authorization: 'token=abc' }, 'malformed'],
      ['another scheme', { authorization: 'Basic YWxpY2U6eA==' }, 'malformed'],
      ['signed by another key', { authorization: `token=${await authority.token('alice', 3600, other)}` }, 'bad-signature'],
      ['unknown identity', { authorization: `token=${await authority.token('mallory')}` }, 'unknown-identity'],
    ];
    for (const [what, headers, code] of cases) {
      const r = await request(url, e.ca, { headers });
      t.equal(r.status, 401, what);
      t.equal((r.json() as { code: string }).code, code, `${what}: the body says ${code}`);
      t.equal(r.headers['www-authenticate'], 'token');
      clock.advance(60_000); // stay under the throttle: this test is about the reasons
    }
  });

  t.test('token=, Bearer and the cookie all work; one signature check per TTL', async (t) => {
    const tok = await authority.token('alice');
    const before = authority.verifications;
    for (const headers of [{ authorization: `token=${tok}` }, { authorization: `Bearer ${tok}` }, { cookie: `a=b; ${AUTH_COOKIE}=${tok}` }] as Record<string, string>[]) {
      const r = await request(url, e.ca, { headers });
      t.equal(r.status, 200, Object.keys(headers)[0]!);
    }
    for (let i = 0; i < 20; i++) await request(url, e.ca, { headers: { authorization: `token=${tok}` } });
    t.equal(authority.verifications - before, 3, '23 requests, 3 verifications (one per distinct credential header)');
    clock.advance(10_001);
    await request(url, e.ca, { headers: { authorization: `token=${tok}` } });
    t.equal(authority.verifications - before, 4, 'verified again once the cache entry expired');
  });

  t.test('an expired token: 401 expired (once the cached verification lapsed too)', async (t) => {
    const tok = await authority.token('alice', 30);
    t.equal((await request(url, e.ca, { token: tok })).status, 200);
    clock.advance(31_000);
    const r = await request(url, e.ca, { token: tok });
    t.equal(r.status, 401);
    t.equal((r.json() as { code: string }).code, 'expired');
    clock.advance(60_000);
  });

  t.test('repeated failures from one address: 429 with Retry-After; a verified token still passes; the window ends', async (t) => {
    const good = await authority.token('alice');
    t.equal((await request(url, e.ca, { token: good })).status, 200, 'verified (and cached) before the failures');
    for (let i = 0; i < 3; i++) t.equal((await request(url, e.ca, { token: 'x.y.z' })).status, 401, `failure ${i + 1}`);
    const r = await request(url, e.ca, { token: 'x.y.z' });
    t.equal(r.status, 429, 'the 4th failing request is throttled');
    t.equal(r.headers['retry-after'], '60');
    const before = authority.verifications;
    t.equal((await request(url, e.ca, { token: await authority.token('bob') })).status, 429, 'an unverified token from the address is not even checked');
    t.equal(authority.verifications, before, 'no signature check spent on it');
    t.equal((await request(url, e.ca, { token: good })).status, 200, 'the cached, verified token still works');
    clock.advance(60_000);
    t.equal((await request(url, e.ca, { token: 'x.y.z' })).status, 401, 'after the window: 401 again');
    t.match(await e.registry.metrics(), /sextant_entry_refusals_total\{reason="throttled"\} 2/);
  });

  t.test('public routes need no token; bad paths are refused before anything else', async (t) => {
    t.equal((await request(`${e.url}/marathon/ping`, e.ca)).status, 200, '/marathon/ping');
    t.equal((await request(`${e.url}/mesos/health`, e.ca)).status, 200, '/mesos/health');
    t.equal((await request(`${e.url}/acs/api/v1/auth/login`, e.ca, { method: 'POST', body: '{}' })).status, 200, 'POST /acs/api/v1/auth/login');
    t.equal((await request(`${e.url}/assets/app.js`, e.ca)).status, 200, 'dashboard assets');
    t.equal((await request(`${e.url}/acs/api/v1/users`, e.ca)).status, 401, 'the rest of /acs needs a token');
    for (const p of ['/mesos/%2e%2e/v1/networks', '/marathon//v2/apps', '/mesos/a%2fb', '/net/v1/networks/../../x'])
      t.equal((await request(`${e.url}${p}`, e.ca, { token: await authority.token('alice') })).status, 400, `${p}: 400`);
  });

  t.test('header limit: 431', async (t) => {
    const r = await request(url, e.ca, { token: await authority.token('alice'), headers: { 'x-big': 'a'.repeat(15_000), 'x-big2': 'b'.repeat(2_000) } });
    t.equal(r.status, 431);
  });
});
