/**
 * Tokens and the Authority on an in-memory store with an injected clock: expiry, a token signed by
 * another key, malformed tokens, a deleted account, service-account login with an RSA key made here,
 * and authorize() over grants, parents and Marathon groups.
 */
import t from 'tap';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { createRegistry, FakeClock } from '../../../common/index.js';
import { AUTH_COOKIE, type Identity } from '../../../contracts/index.js';
import { MemoryKvStore } from '../../../master/index.js';
import { Acs, AcsError, TokenSigner } from '../../index.js';

process.env.SEXTANT_LOG_LEVEL ??= 'warn';
const FAST = { N: 1024, r: 8, p: 1 };
const DAY = 24 * 3600_000;

function setup(o: { store?: MemoryKvStore; clock?: FakeClock; lifetimeMs?: number } = {}) {
  const store = o.store ?? new MemoryKvStore();
  const clock = o.clock ?? new FakeClock();
  const registry = createRegistry();
  const acs = new Acs({ store, registry, clock, scrypt: FAST, superuser: { uid: 'root', password: 'rootpassword' }, ...(o.lifetimeMs ? { tokenLifetimeMs: o.lifetimeMs } : {}) });
  return { store, clock, registry, acs };
}

const hdr = (token: string) => ({ authorization: `token=${token}` });

async function metric(registry: ReturnType<typeof createRegistry>, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getSingleMetric(name)?.get())?.values ?? [];
  return m.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

t.test('a password login gives a token the Authority accepts; it expires after its lifetime (5 days by default)', async (t) => {
  const { acs, clock, registry } = setup();
  await acs.start();
  const { token, exp } = await acs.login({ uid: 'root', password: 'rootpassword' }, '127.0.0.1');
  t.equal(exp - clock.now(), 5 * DAY, 'five days');
  const a = await acs.authority.authenticate(hdr(token));
  t.same(a, { ok: true, identity: { uid: 'root', kind: 'user', superuser: true, expiresAt: exp } }, 'with the token\'s expiry (caches end there)');
  clock.advance(5 * DAY - 1000);
  t.ok((await acs.authority.authenticate(hdr(token))).ok, 'valid just before expiry');
  clock.advance(2000);
  t.match(await acs.authority.authenticate(hdr(token)), { ok: false, reason: 'expired' });
  t.equal(await metric(registry, 'sextant_acs_refusals_total', { reason: 'expired' }), 1);
  t.equal(await metric(registry, 'sextant_acs_logins_total', { result: 'success' }), 1);
});

t.test('the token lifetime is configurable', async (t) => {
  const { acs, clock } = setup({ lifetimeMs: 60_000 });
  await acs.start();
  const { token } = await acs.login({ uid: 'root', password: 'rootpassword' }, '127.0.0.1');
  clock.advance(61_000);
  t.match(await acs.authority.authenticate(hdr(token)), { ok: false, reason: 'expired' });
});

t.test('wrong credentials are 401 and counted', async (t) => {
  const { acs, registry } = setup();
  await acs.start();
  for (const body of [{ uid: 'root', password: 'wrong-password' }, { uid: 'nobody', password: 'rootpassword' }]) {
    const e = await acs.login(body, '10.0.0.1').catch((x: unknown) => x);
    t.ok(e instanceof AcsError && e.status === 401 && e.code === 'ERR_INVALID_CREDENTIALS', `${body.uid}: 401`);
  }
  t.equal(await metric(registry, 'sextant_acs_logins_total', { result: 'failure' }), 2);
});

t.test('the signing key is made once, kept in the store, and survives a restart', async (t) => {
  const { acs, store, clock } = setup();
  await acs.start();
  const { token } = await acs.login({ uid: 'root', password: 'rootpassword' }, '127.0.0.1');
  const key = await store.get<{ kid: string }>('acs/signing-key');
  t.ok(key?.kid, 'stored');
  const again = setup({ store, clock });
  await again.acs.start();
  t.same((await store.get<{ kid: string }>('acs/signing-key'))?.kid, key!.kid, 'not replaced');
  t.ok((await again.acs.authority.authenticate(hdr(token))).ok, 'a restarted master accepts the token');
  t.equal((await store.list('acs/users/')).length, 1, 'the bootstrap superuser is not made twice');
});

t.test('a token signed by another key, or not a JWT, is refused with the reason', async (t) => {
  const { acs, clock } = setup();
  await acs.start();
  const other = new TokenSigner(new MemoryKvStore(), { clock });
  const foreign = (await other.issue('root')).token;
  t.match(await acs.authority.authenticate(hdr(foreign)), { ok: false, reason: 'bad-signature' });
  const { token } = await acs.login({ uid: 'root', password: 'rootpassword' }, '127.0.0.1');
  const [h, p, s] = token.split('.');
  const tampered = `${h}.${Buffer.from(JSON.stringify({ uid: 'root', exp: 9e9 })).toString('base64url')}.${s}`;
  t.match(await acs.authority.authenticate(hdr(tampered)), { ok: false, reason: 'bad-signature' }, 'payload changed');
  const hs = await new SignJWT({ uid: 'root' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new Uint8Array(32));
  t.match(await acs.authority.authenticate(hdr(hs)), { ok: false, reason: 'bad-signature' }, 'HS256 is not accepted');
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
  t.match(await acs.authority.authenticate(hdr(none)), { ok: false, reason: 'malformed' }, 'alg none');
  const rows: [Record<string, string>, string][] = [
    [{}, 'missing'],
    [{ authorization: 'Basic cm9vdDpyb290' }, 'malformed'],
    [{ authorization: 'token=' }, 'malformed'],
    [{ authorization: 'token=abc.def' }, 'malformed'],
    [{ authorization: 'Bearer !!!.???.###' }, 'malformed'],
    [{ authorization: `token=${h}.${p}` }, 'malformed'],
    [{ cookie: 'other=1' }, 'missing'],
  ];
  for (const [headers, reason] of rows) t.match(await acs.authority.authenticate(headers), { ok: false, reason }, `${JSON.stringify(headers)} -> ${reason}`);
  for (const headers of [{ authorization: `Bearer ${token}` }, { authorization: `token=${token}` }, { cookie: `a=b; ${AUTH_COOKIE}=${token}` }]) {
    t.ok((await acs.authority.authenticate(headers)).ok, `accepted: ${Object.keys(headers)[0]} ${Object.values(headers)[0]!.slice(0, 12)}`);
  }
});

t.test('a token of a deleted account is refused, also once the uid is created again', async (t) => {
  const { acs, clock } = setup();
  await acs.start();
  await acs.identities.createUser('bob', { password: 'bobpassword' });
  const { token } = await acs.login({ uid: 'bob', password: 'bobpassword' }, '127.0.0.1');
  t.ok((await acs.authority.authenticate(hdr(token))).ok);
  await acs.identities.deleteUser('bob');
  t.match(await acs.authority.authenticate(hdr(token)), { ok: false, reason: 'unknown-identity' });
  clock.advance(2000);
  await acs.identities.createUser('bob', { password: 'bobpassword' });
  t.match(await acs.authority.authenticate(hdr(token)), { ok: false, reason: 'unknown-identity' }, 'the old token is not the new bob');
  const fresh = await acs.login({ uid: 'bob', password: 'bobpassword' }, '127.0.0.1');
  t.ok((await acs.authority.authenticate(hdr(fresh.token))).ok, 'a new login works');
});

function rsa(bits = 2048): { pub: string; priv: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return { pub: publicKey.export({ type: 'spki', format: 'pem' }).toString(), priv: privateKey };
}

t.test('a service account logs in with a login JWT signed by its private key', async (t) => {
  const { acs, clock } = setup();
  await acs.start();
  const key = rsa();
  await acs.identities.createUser('svc-deployer', { public_key: key.pub, description: 'CI' });
  const now = Math.floor(clock.now() / 1000);
  const login = (claims: Record<string, unknown>, priv = key.priv, exp = now + 300) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).setExpirationTime(exp).sign(priv);
  const { token } = await acs.login({ uid: 'svc-deployer', token: await login({ uid: 'svc-deployer' }) }, '127.0.0.1');
  const svc = await acs.authority.authenticate(hdr(token));
  t.match(svc, { ok: true, identity: { uid: 'svc-deployer', kind: 'service', superuser: false } });
  t.same(Object.keys(svc.ok ? svc.identity : {}).sort(), ['expiresAt', 'kind', 'superuser', 'uid'], 'nothing else, and the token\'s expiry');
  const refused: [string, Promise<string>][] = [
    ['signed by another key', login({ uid: 'svc-deployer' }, rsa().priv)],
    ['naming another uid', login({ uid: 'root' })],
    ['expired', login({ uid: 'svc-deployer' }, key.priv, now - 10)],
    ['not a JWT', Promise.resolve('garbage')],
  ];
  for (const [what, tok] of refused) {
    const e = await acs.login({ uid: 'svc-deployer', token: await tok }, `10.0.0.${refused.findIndex((r) => r[0] === what)}`).catch((x: unknown) => x);
    t.ok(e instanceof AcsError && e.status === 401, `login JWT ${what}: 401`);
  }
  const pw = await acs.login({ uid: 'svc-deployer', password: 'whatever1' }, '10.1.0.1').catch((x: unknown) => x);
  t.ok(pw instanceof AcsError && pw.status === 401, 'a service account has no password');
  const tk = await acs.login({ uid: 'root', token: await login({ uid: 'root' }) }, '10.1.0.2').catch((x: unknown) => x);
  t.ok(tk instanceof AcsError && tk.status === 401, 'a user cannot log in with a login JWT');
});

t.test('bad accounts are refused with the reason and nothing is stored', async (t) => {
  const { acs, store } = setup();
  await acs.start();
  const before = JSON.stringify(await store.list(''));
  const rows: [string, Parameters<typeof acs.identities.createUser>[1], string][] = [
    ['bad uid', { password: 'password1' }, 'ERR_INVALID_DATA'],
    ['root', { password: 'password1' }, 'ERR_USER_EXISTS'],
    ['svc', { public_key: 'not a key' }, 'ERR_INVALID_DATA'],
    ['svc', { public_key: rsa(1024).pub }, 'ERR_INVALID_DATA'],
    ['svc', { public_key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString() }, 'ERR_INVALID_DATA'],
  ];
  for (const [uid, body, code] of rows) {
    const e = await acs.identities.createUser(uid, body).catch((x: unknown) => x);
    t.ok(e instanceof AcsError && e.code === code, `${uid} ${JSON.stringify(body).slice(0, 40)}: ${code} (${(e as Error).message})`);
  }
  for (const [what, p] of [
    ['grant to nobody', acs.identities.grant('dcos:x', 'nobody', 'read')],
    ['grant on a bad rid', acs.identities.grant('dcos::x', 'root', 'read')],
    ['revoke on an unknown ACL', acs.identities.revoke('dcos:none', 'root', 'read')],
    ['patch nobody', acs.identities.patchUser('nobody', { description: 'x' })],
    ['patch a user with a key', acs.identities.patchUser('root', { public_key: rsa().pub })],
  ] as const) {
    t.ok((await p.catch((x: unknown) => x)) instanceof AcsError, `${what}: refused`);
  }
  t.equal(JSON.stringify(await store.list('')), before, 'store unchanged');
});

t.test('the last superuser cannot be deleted or lose dcos:superuser', async (t) => {
  const { acs, store } = setup();
  await acs.start();
  const before = JSON.stringify(await store.list(''));
  for (const [what, p] of [
    ['delete root', acs.identities.deleteUser('root')],
    ['revoke its full', acs.identities.revoke('dcos:superuser', 'root', 'full')],
    ['delete the ACL', acs.identities.deleteAcl('dcos:superuser')],
  ] as const) {
    const e = await p.catch((x: unknown) => x);
    t.ok(e instanceof AcsError && e.status === 409 && e.code === 'ERR_LAST_SUPERUSER', `${what}: 409 (${(e as Error).message})`);
  }
  t.equal(JSON.stringify(await store.list('')), before, 'store unchanged');
  await acs.identities.createUser('root2', { password: 'root2password' });
  await acs.identities.grant('dcos:superuser', 'root2', 'full');
  await acs.identities.deleteUser('root');
  t.notOk(acs.identities.user('root'), 'with another superuser, root may go');
});

t.test('authorize: superuser, grants on the resource or a parent, Marathon groups, full implies the rest', async (t) => {
  const { acs } = setup();
  await acs.start();
  const ids = acs.identities;
  await ids.createUser('ops', { password: 'opspassword' });
  await ids.createUser('dev', { password: 'devpassword' });
  await ids.grant('dcos:adminrouter:ops', 'ops', 'full');
  await ids.grant('dcos:service:marathon:marathon:services:/prod', 'dev', 'read');
  await ids.grant('dcos:service:marathon:marathon:services:/dev', 'dev', 'full');
  const who = (uid: string): Identity => ({ uid, kind: 'user', superuser: uid === 'root' });
  const svc = (p: string) => `dcos:service:marathon:marathon:services:${p}`;
  const rows: [string, string, 'full' | 'read' | 'update' | 'delete', boolean][] = [
    ['root', 'dcos:anything:at:all', 'delete', true],
    ['ops', 'dcos:adminrouter:ops:networks', 'update', true],
    ['ops', 'dcos:adminrouter:ops', 'delete', true],
    ['ops', 'dcos:adminrouter:acs', 'read', false],
    ['ops', 'dcos:superuser', 'full', false],
    ['dev', svc('/prod/web'), 'read', true],
    ['dev', svc('/prod/web/api'), 'read', true],
    ['dev', svc('/prod/web'), 'update', false],
    ['dev', svc('/production'), 'read', false],
    ['dev', svc('/dev/x'), 'delete', true],
    ['dev', svc('/dev'), 'full', true],
    ['dev', 'dcos:service:marathon:marathon:services', 'read', false],
    ['nobody', svc('/prod'), 'read', false],
  ];
  for (const [uid, resource, action, want] of rows) t.equal(await acs.authority.authorize(who(uid), { resource, action }), want, `${uid} ${resource} ${action} -> ${want}`);
  await ids.revoke('dcos:service:marathon:marathon:services:/dev', 'dev', 'full');
  t.equal(await acs.authority.authorize(who('dev'), { resource: svc('/dev/x'), action: 'read' }), false, 'revoked');
  await ids.deleteUser('ops');
  t.equal(await acs.authority.authorize(who('ops'), { resource: 'dcos:adminrouter:ops', action: 'read' }), false, 'a deleted account holds nothing');
  t.same(ids.acl('dcos:adminrouter:ops')?.users, {}, 'its grants went with it');
});
