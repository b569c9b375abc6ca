/**
 * The ACS routes on a real master (its Mesos port, its file store): anonymous writes refused,
 * the bootstrap superuser logs in, creates a user, grants a Marathon group, the Authority agrees;
 * refusals in DC/OS's shape; a restarted master keeps accounts and key.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, FakeClock } from '../../../common/index.js';
import { createMasterControl } from '../../../contracts/index.js';
import { Master } from '../../../master/index.js';
import { loopbackBlock } from '../../../test/lib/index.js';
import { acsMasterPlugin, createAcs, type Acs } from '../../index.js';

process.env.SEXTANT_LOG_LEVEL ??= 'warn';
const FAST = { N: 1024, r: 8, p: 1 };
const ip = loopbackBlock();

interface Reply {
  status: number;
  body: any;
  headers: Headers;
}

async function startAcsMaster(t: { teardown(fn: () => unknown): void }, workDir: string, throttle = { baseMs: 60_000, maxMs: 60_000, maxWaitMs: 1000 }) {
  const clock = new FakeClock(Date.now());
  const master = new Master({ ip: ip(1), port: 0, marathonPort: 0, workDir, clock, vipRanges: [] });
  await master.start();
  const host = { handle: master, control: createMasterControl(), metrics: master.registry, log: createLogger('acs') };
  const acs: Acs = createAcs(host, { clock, scrypt: FAST, throttle, superuser: { uid: 'root', password: 'rootpassword' } });
  const c = acsMasterPlugin({ acs })(host);
  await c.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await c.stop();
    await master.stop();
  };
  t.teardown(stop);
  const base = `http://${ip(1)}:${master.port}/acs/api/v1`;
  const call = async (method: string, path: string, o: { body?: unknown; token?: string; headers?: Record<string, string> } = {}): Promise<Reply> => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    if (o.token) headers.authorization = `token=${o.token}`;
    const res = await fetch(base + path, { method, headers, body: o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  };
  const login = async (uid: string, password: string) => {
    const r = await call('POST', '/auth/login', { body: { uid, password } });
    if (r.status !== 200) throw new Error(`login ${uid}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.token as string;
  };
  return { master, acs, clock, call, login, stop, metricsUrl: `http://${ip(1)}:${master.port}/metrics` };
}

function workDir(t: { teardown(fn: () => unknown): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'sx-acs-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const GROUP = 'dcos:service:marathon:marathon:services:/prod';

t.test('anonymous and unauthorized writes are refused in DC/OS shape, and store nothing', async (t) => {
  const m = await startAcsMaster(t, workDir(t));
  const before = JSON.stringify(await m.master.store.list('acs/'));
  const anon = await m.call('PUT', '/users/eve', { body: { password: 'evepassword' } });
  t.equal(anon.status, 401);
  t.match(anon.body, { title: 'Unauthorized', code: 'ERR_MISSING_AUTH_TOKEN', description: /no token/ });
  t.equal(anon.headers.get('www-authenticate'), 'acsjwt');
  const writes: [string, string, unknown?][] = [
    ['PATCH', '/users/root', { password: 'takeover1' }],
    ['DELETE', '/users/root'],
    ['PUT', '/acls/dcos:x', { description: 'x' }],
    ['DELETE', '/acls/dcos:superuser'],
    ['PUT', '/acls/dcos:superuser/users/eve/full'],
    ['DELETE', '/acls/dcos:superuser/users/root/full'],
  ];
  for (const [method, path, body] of writes) t.equal((await m.call(method, path, body === undefined ? {} : { body })).status, 401, `${method} ${path} anonymous: 401`);
  const bad = await m.call('PUT', '/users/eve', { body: { password: 'evepassword' }, headers: { authorization: 'token=not-a-jwt' } });
  t.match(bad, { status: 401, body: { code: 'ERR_INVALID_AUTH_TOKEN', description: /not a JWT/ } });
  t.equal(JSON.stringify(await m.master.store.list('acs/')), before, 'nothing stored');
});

t.test('superuser creates a user and grants a Marathon group; the user sees it, cannot administer, changes own password', async (t) => {
  const m = await startAcsMaster(t, workDir(t));
  const root = await m.login('root', 'rootpassword');
  const loginRes = await m.call('POST', '/auth/login', { body: { uid: 'root', password: 'rootpassword' } });
  t.match(loginRes.headers.get('set-cookie'), /^dcos-acs-auth-cookie=[\w.-]+; Path=\/; Max-Age=432000; HttpOnly; Secure; SameSite=Strict$/);

  const created = await m.call('PUT', '/users/alice', { token: root, body: { password: 'alicepassword', description: 'Alice' } });
  t.equal(created.status, 201);
  t.same(created.body, { uid: 'alice', url: '/acs/api/v1/users/alice', description: 'Alice', is_remote: false, is_service: false, provider_type: 'internal', provider_id: '' });
  t.notMatch(JSON.stringify(await m.master.store.get('acs/users/alice')), /alicepassword/, 'no clear password in the store');
  t.same((await m.call('GET', '/users')).body.array.map((u: { uid: string }) => u.uid), ['alice', 'root']);
  t.match(await m.call('PUT', '/users/alice', { token: root, body: { password: 'alicepassword' } }), { status: 409, body: { code: 'ERR_USER_EXISTS' } });
  const invalid: unknown[] = [{ password: 'short' }, { password: 'longenough', extra: 1 }, {}, { password: 'longenough', public_key: 'x'.repeat(80) }, '{"password":'];
  for (const body of invalid) {
    const r = await m.call('PUT', '/users/bob', { token: root, body });
    t.ok(r.status === 400 && (r.body.code === 'ERR_INVALID_DATA' || /malformed JSON/.test(r.body.message)), `${JSON.stringify(body)}: 400 (${JSON.stringify(r.body).slice(0, 120)})`);
  }
  t.equal((await m.call('GET', '/users/bob')).status, 404, 'bob was never made');

  t.equal((await m.call('PUT', `/acls/${encodeURIComponent(GROUP)}/users/alice/read`, { token: root })).status, 204);
  t.equal((await m.call('PUT', `/acls/${encodeURIComponent(encodeURIComponent(GROUP))}/users/alice/update`, { token: root })).status, 204, 'DC/OS clients encode / twice');
  t.match(await m.call('PUT', `/acls/${encodeURIComponent(GROUP)}/users/alice/own`, { token: root }), { status: 400, body: { code: 'ERR_INVALID_DATA', description: /action `own`/ } });
  t.match(await m.call('PUT', `/acls/${encodeURIComponent(GROUP)}/users/nobody/read`, { token: root }), { status: 404, body: { code: 'ERR_UNKNOWN_USER_ID' } });
  const perms = await m.call('GET', '/users/alice/permissions');
  t.same(perms.body.direct.map((d: { rid: string; actions: { name: string }[] }) => [d.rid, d.actions.map((a) => a.name)]), [[GROUP, ['read', 'update']]]);
  t.same((await m.call('GET', '/acls')).body.array.map((a: { rid: string }) => a.rid), [GROUP, 'dcos:superuser']);
  t.same((await m.call('GET', `/acls/${encodeURIComponent(GROUP)}/permissions`)).body.users.map((u: { uid: string }) => u.uid), ['alice']);

  const alice = await m.login('alice', 'alicepassword');
  const who = await m.call('GET', '/auth/whoami', { token: alice });
  t.same(who.body, { uid: 'alice', kind: 'user', superuser: false, permissions: [{ rid: GROUP, actions: ['read', 'update'] }] });
  const id = await m.acs.authority.authenticate({ authorization: `Bearer ${alice}` });
  t.ok(id.ok);
  if (!id.ok) return;
  t.ok(await m.acs.authority.authorize(id.identity, { resource: `${GROUP}/web`, action: 'update' }), 'the group grant covers /prod/web');
  t.notOk(await m.acs.authority.authorize(id.identity, { resource: `${GROUP}/web`, action: 'delete' }));

  const forbidden = await m.call('PUT', '/users/mallory', { token: alice, body: { password: 'mallorypassword' } });
  t.match(forbidden, { status: 403, body: { title: 'Forbidden', code: 'ERR_FORBIDDEN', description: /dcos:adminrouter:acs update/ } });
  t.equal((await m.call('PUT', '/acls/dcos:superuser/users/alice/full', { token: alice })).status, 403, 'no self-promotion');
  t.equal((await m.call('PATCH', '/users/root', { token: alice, body: { password: 'takeover1' } })).status, 403, "cannot change another's password");
  t.equal((await m.call('PATCH', '/users/alice', { token: alice, body: { password: 'alicepassword2' } })).status, 204, 'own password');
  await m.login('alice', 'alicepassword2');

  t.equal((await m.call('PUT', '/acls/dcos:adminrouter:acs/users/alice/full', { token: root })).status, 204);
  t.equal((await m.call('PUT', '/users/carol', { token: alice, body: { password: 'carolpassword' } })).status, 201, 'with dcos:adminrouter:acs she may');

  t.equal((await m.call('DELETE', `/acls/${encodeURIComponent(GROUP)}/users/alice/update`, { token: root })).status, 204);
  t.same((await m.call('GET', `/acls/${encodeURIComponent(GROUP)}/users/alice`)).body.actions.map((a: { name: string }) => a.name), ['read']);
  t.equal((await m.call('DELETE', '/users/alice', { token: root })).status, 204);
  t.match(await m.call('GET', '/auth/whoami', { token: alice }), { status: 401, body: { code: 'ERR_UNKNOWN_USER_ID' } }, "a deleted user's token is refused");
  t.equal((await m.call('GET', `/acls/${encodeURIComponent(GROUP)}/permissions`)).body.users.length, 0, 'her grants are gone');
});

t.test('failed logins: 401 in DC/OS shape, then slowed (429 with Retry-After past the wait bound), counted', async (t) => {
  const m = await startAcsMaster(t, workDir(t));
  const wrong = await m.call('POST', '/auth/login', { body: { uid: 'root', password: 'wrong-password' } });
  t.match(wrong, { status: 401, body: { title: 'Unauthorized', code: 'ERR_INVALID_CREDENTIALS' } });
  const slowed = await m.call('POST', '/auth/login', { body: { uid: 'root', password: 'rootpassword' } });
  t.match(slowed, { status: 429, body: { code: 'ERR_TOO_MANY_ATTEMPTS' } }, 'even the right password waits its turn');
  t.equal(slowed.headers.get('retry-after'), '60');
  t.equal((await m.call('POST', '/auth/login', { body: { uid: 'root' } })).status, 400, 'neither password nor token');
  const text = await (await fetch(m.metricsUrl)).text();
  t.match(text, /sextant_acs_logins_total\{result="failure"\} 1/);
  t.match(text, /sextant_acs_logins_total\{result="throttled"\} 1/);
  m.clock.advance(61_000);
  t.ok(await m.login('root', 'rootpassword'), 'after the wait the right password works');
});

t.test('a restarted master keeps accounts, grants and signing key: old tokens stay valid', async (t) => {
  const dir = workDir(t);
  const m1 = await startAcsMaster(t, dir);
  const root = await m1.login('root', 'rootpassword');
  t.equal((await m1.call('PUT', '/users/dave', { token: root, body: { password: 'davepassword' } })).status, 201);
  t.equal((await m1.call('PUT', '/acls/dcos:adminrouter:ops:networks/users/dave/read', { token: root })).status, 204);
  await m1.stop();
  const m2 = await startAcsMaster(t, dir);
  t.same((await m2.call('GET', '/auth/whoami', { token: root })).body, { uid: 'root', kind: 'user', superuser: true, permissions: [{ rid: 'dcos:superuser', actions: ['full'] }] });
  const dave = await m2.login('dave', 'davepassword');
  t.same((await m2.call('GET', '/auth/whoami', { token: dave })).body.permissions, [{ rid: 'dcos:adminrouter:ops:networks', actions: ['read'] }]);
  t.same((await m2.call('GET', '/auth/jwks')).body.keys.map((k: { kty: string; alg: string }) => [k.kty, k.alg]), [['RSA', 'RS256']]);
});
