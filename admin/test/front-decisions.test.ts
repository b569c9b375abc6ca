/**
 * Issue 30, the nginx front's decision cache (admin/router/front-conf.ts), real nginx and a real master:
 * an allowed read is answered by nginx without asking Node again for the decision TTL, then asked
 * again (a revoked permission is refused after the TTL); a write is never served from the cache (each
 * one reaches Node's check); a token's expiry ends its cached decisions; the requests nginx served are
 * in the entry point's metrics. Node's own caches are set to 1 ms, so each visit to Node is one
 * signature check (`verifications`). nginx takes no injected clock: the TTLs are waited out.
 */
import t from 'tap';
import fs from 'node:fs';
import { NGINX } from '../index.js';
import { grant, request, spawnMaster, startEntry } from './lib.js';

t.setTimeout(180_000);
if (!fs.existsSync(NGINX)) throw new Error(`${NGINX} is missing: install nginx-light and libnginx-mod-http-lua (scripts/debian-packages.txt)`);

const TTL_MS = 3000;
const ROOT_GROUP = 'dcos:service:marathon:marathon:services:/';
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('decisions cached by the nginx front', async (t) => {
  const m = await spawnMaster(t);
  const e = await startEntry(t, m, { front: 'nginx', limits: { tokenCacheMs: 1, frontDecisionMs: TTL_MS } });
  const a = e.authority;
  const apps = `${e.url}/marathon/v2/apps`;

  t.test('an allowed read is served from the cache within the TTL; revoked, it is refused after the TTL', async (t) => {
    a.user('bob', [grant(ROOT_GROUP, 'read')]);
    const tok = await a.token('bob');
    const started = Date.now();
    t.equal((await request(apps, e.ca, { token: tok })).status, 200, 'first read: allowed');
    const v = a.verifications;
    for (let i = 0; i < 3; i++) t.equal((await request(apps, e.ca, { token: tok })).status, 200, `read ${i + 2}: allowed`);
    t.ok(Date.now() - started < TTL_MS, 'the reads came within the TTL (else the next assertion means nothing)');
    t.equal(a.verifications, v, 'no decision asked of Node: nginx answered from its cache');
    a.user('bob', []);
    await wait(TTL_MS + 300);
    const r = await request(apps, e.ca, { token: tok });
    t.equal(r.status, 403, 'refused once the TTL passed');
    t.equal((r.json() as { code: string }).code, 'forbidden', 'with the entry point\'s own body');
  });

  t.test('a write is never served from the cache', async (t) => {
    a.user('carol', [grant(ROOT_GROUP, 'full')]);
    const tok = await a.token('carol');
    t.equal((await request(apps, e.ca, { token: tok })).status, 200, 'a read: allowed and cached');
    const v = a.verifications;
    const post = (id: string) => request(apps, e.ca, { method: 'POST', token: tok, body: JSON.stringify({ id, cmd: 'sleep 100', cpus: 0.1, mem: 16 }) });
    t.equal((await post('/front/one')).status, 201, 'a write: created');
    t.equal((await post('/front/two')).status, 201, 'another write: created');
    t.equal(a.verifications - v, 2, 'each write reached Node\'s check');
    a.user('carol', [grant(ROOT_GROUP, 'read')]);
    const r = await post('/front/three');
    t.equal(r.status, 403, 'the update permission revoked: the next write is refused at once');
    t.equal((await request(apps, e.ca, { token: tok })).status, 200, 'while reads still pass');
  });

  t.test('an expired token: its cached decision ends with it', async (t) => {
    a.user('dave', [grant(ROOT_GROUP, 'read')]);
    const tok = await a.token('dave', 2);
    t.equal((await request(apps, e.ca, { token: tok })).status, 200, 'valid: allowed');
    const exp = JSON.parse(Buffer.from(tok.split('.')[1]!, 'base64url').toString()).exp as number;
    await wait(exp * 1000 - Date.now() + 200);
    const r = await request(apps, e.ca, { token: tok });
    t.equal(r.status, 401, 'refused once expired');
    t.equal((r.json() as { code: string }).code, 'expired');
  });

  t.test('requests nginx served are in the entry point\'s metrics', async (t) => {
    // Counted by a status no earlier subtest produced (404 on the marathon route): nginx flushes its log
    // buffer once a second, so earlier subtests' 200s may still arrive after `before` is read.
    const count = async () => {
      const m = (await e.registry.getSingleMetric('sextant_entry_requests_total')!.get()).values.find((v) => v.labels.route === 'marathon' && v.labels.code === '404');
      return m?.value ?? 0;
    };
    a.user('erin', [grant(ROOT_GROUP, 'read')]);
    const tok = await a.token('erin');
    const before = await count();
    t.equal(before, 0, 'no 404 counted before');
    for (let i = 0; i < 5; i++) t.equal((await request(`${apps}/nosuch`, e.ca, { token: tok })).status, 404, `read ${i + 1}: 404 from Marathon`);
    let now = before;
    for (let i = 0; i < 100 && now < before + 5; i++) (await wait(100), (now = await count()));
    t.equal(now - before, 5, 'five reads counted (from nginx\'s access log)');
  });
});
