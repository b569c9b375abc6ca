/**
 * Fail closed: every route of a secure master's Mesos port answers 401 to a caller without a
 * client certificate, except the ones PUBLIC_ROUTES lists; the Marathon port takes no such caller
 * at all. Walks the routes as mounted (a route added later is covered without touching this test).
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadTls, requestJson, tlsDirPaths } from '../../common/index.js';
import { Master } from '../master.js';
import { isPublicRoute, PUBLIC_ROUTES } from '../public-routes.js';
import { loopbackBlock, makeTestPki, requireTools } from '../../test/lib/index.js';

process.env.SEXTANT_LOG_LEVEL ??= 'error';
requireTools('openssl');

t.test('the table: exact method and path, nothing by prefix', async (t) => {
  t.ok(isPublicRoute('POST', '/api/v1/agents/register'));
  t.notOk(isPublicRoute('GET', '/api/v1/agents/register'), 'another method');
  t.notOk(isPublicRoute('POST', '/api/v1/agents/register/x'), 'a longer path');
  t.notOk(isPublicRoute('POST', '/api/v1/agents/heartbeat'));
  t.equal(PUBLIC_ROUTES.length, 1, 'one public route: the TLS bootstrap');
});

t.test('walking every route of a secure master without a client certificate', async (t) => {
  const ip = loopbackBlock();
  const pki = await makeTestPki(t);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sx-walk-'));
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
  const mdir = await pki.masterDir(ip(1));
  const master = new Master({ ip: ip(1), port: 0, marathonPort: 0, workDir: work, tls: { material: loadTls(tlsDirPaths(mdir)), signer: { cert: path.join(mdir, 'ca.crt'), key: path.join(mdir, 'ca.key') }, token: pki.token } });
  await master.start();
  t.teardown(() => master.stop());
  const noCert = { ca: fs.readFileSync(pki.ca) };
  const concrete = (pattern: string) => pattern.replace(/[:*][A-Za-z_]+/g, 'x');
  const routes = master.apis.get('/mesos')!.list();
  t.ok(routes.length > 15, `${routes.length} routes on the Mesos port`);
  for (const r of routes) {
    const p = concrete(r.pattern);
    const res = await requestJson(`https://${ip(1)}:${master.port}${p}`, { method: r.method, ...(r.method === 'GET' || r.method === 'HEAD' ? {} : { body: {} }), tls: noCert });
    if (isPublicRoute(r.method, p)) t.not((res.body as { reason?: string }).reason, 'no_client_certificate', `${r.method} ${p} is public`);
    else t.match(res, { status: 401, body: { reason: 'no_client_certificate' } }, `${r.method} ${p}: 401`);
  }
  t.match(await requestJson(`https://${ip(1)}:${master.port}/no/such/route`, { tls: noCert }), { status: 401 }, 'an unknown path: 401 too (no route list for strangers)');
  for (const r of master.apis.get('/marathon')!.list().slice(0, 5))
    await t.rejects(requestJson(`https://${ip(1)}:${master.marathonPort}${concrete(r.pattern)}`, { method: r.method, tls: noCert }), `Marathon ${r.method} ${r.pattern}: refused at the TLS layer`);
  const metrics = String((await requestJson(`https://${ip(1)}:${master.port}/metrics`, { tls: pki.client(pki.cli) })).body);
  t.match(metrics, /sextant_master_tls_refused_total\{reason="no_client_certificate"\} [1-9]/, 'refusals are counted');
});
