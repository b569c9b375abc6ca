/**
 * The entry point in front of a secure master (#30), real process: the master's ports and its
 * Mesos-DNS HTTP API serve mutual TLS, and the entry point reaches them with the master's client
 * certificate, so a user with a token still gets everything through it while a direct caller
 * without a certificate gets nothing. Through the nginx front (the default) and through the Node entry
 * point alone with two worker processes (they carry the master's client certificate).
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { requestJson } from '../../common/index.js';
import { freePort, loopbackBlock, makeTestPki, requireTools, spawnTracked } from '../../test/lib/index.js';
import { sextantJs } from './lib.js';

t.setTimeout(120_000);
requireTools('openssl');

for (const [front, workers] of [['nginx', '1'], ['node', '2']] as const)
t.test(`through the entry point (--admin-front ${front}, SEXTANT_ENTRY_WORKERS=${workers}) with a token: Mesos, Marathon and Mesos-DNS over mutual TLS; directly without a certificate: refused`, async (t) => {
  if (!fs.existsSync(sextantJs)) throw new Error(`${sextantJs} is missing: run \`npm run build\` first`);
  const ip = loopbackBlock()(1);
  const pki = await makeTestPki(t);
  const mdir = await pki.masterDir(ip);
  const [port, mport, dnsHttp, dns, control, admin] = [await freePort(ip), await freePort(ip), await freePort(ip), await freePort(ip), await freePort(ip), await freePort(ip)];
  const master = spawnTracked(t, process.execPath, [sextantJs, 'master', '--ip', ip, '--port', String(port), '--marathon-port', String(mport), '--work-dir', path.join(pki.dir, 'work'),
    '--tls-dir', mdir, '--bootstrap-token-file', pki.tokenFile, '--admin-port', String(admin), '--ca-dir', path.dirname(pki.ca), '--superuser', 'root', '--admin-front', front], {
    env: { ...process.env, SEXTANT_MASTER_SERVICES: 'acs,mesos-dns', SEXTANT_SUPERUSER_PASSWORD: 'rootpassword', SEXTANT_LOG_LEVEL: 'warn', SEXTANT_MESOS_DNS_HTTP_PORT: String(dnsHttp), SEXTANT_MESOS_DNS_PORT: String(dns), SEXTANT_CONTROL_PORT: String(control), SEXTANT_ENTRY_WORKERS: workers },
  });
  await master.waitFor(/sextant master listening on https:.*\(entry https/, 60_000);
  const ca = { ca: fs.readFileSync(pki.ca) };
  const entry = `https://${ip}:${admin}`;
  const login = await requestJson(`${entry}/acs/api/v1/auth/login`, { body: { uid: 'root', password: 'rootpassword' }, tls: ca, timeoutMs: 20_000 });
  t.equal(login.status, 200, 'login through the entry point');
  const headers = { authorization: `token=${(login.body as { token: string }).token}` };
  t.match(await requestJson(`${entry}/mesos/master/state`, { headers, tls: ca }), { status: 200, body: { flags: { insecure_dev: 'false' } } }, '/mesos/ -> :5050 over mutual TLS');
  t.match(await requestJson(`${entry}/marathon/v2/apps`, { headers, tls: ca }), { status: 200, body: { apps: [] } }, '/marathon/ -> :8080');
  t.match(await requestJson(`${entry}/mesos_dns/v1/version`, { headers, tls: ca }), { status: 200, body: { Service: 'Mesos-DNS' } }, '/mesos_dns/ -> :8123');
  t.match(await requestJson(`https://${ip}:${port}/master/state`, { tls: ca }), { status: 401 }, ':5050 directly without a certificate: 401');
  await t.rejects(requestJson(`https://${ip}:${dnsHttp}/v1/version`, { tls: ca }), ':8123 directly without a certificate: refused at the TLS layer');
  t.equal((await requestJson(`https://${ip}:${dnsHttp}/v1/version`, { tls: pki.client(pki.cli) })).status, 200, ':8123 with the operator certificate');
});
