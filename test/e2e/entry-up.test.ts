/**
 * Issue 30: `sextant up` runs the HTTPS entry point on the master; the status file names its URL and
 * the cluster CA; curl trusts it with --cacert only, over HTTP/1.1 and HTTP/2; a write without a
 * token is refused with 401 and never reaches Marathon.
 * (With the identity service in, the status file's token deploys an app through it: admin/acs.)
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requestJson } from '../../common/http.js';
import { freePort, requireTools } from '../lib/index.js';
import { spawnUp, upArgs, upPlan, upWorkDir } from './up-lib.js';

t.setTimeout(180_000);
const exec = promisify(execFile);

async function curl(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await exec('curl', ['-sS', '--max-time', '20', ...args]);
    return { code: 0, out: r.stdout };
  } catch (e) {
    return { code: (e as { code: number }).code, out: (e as { stdout?: string }).stdout ?? '' };
  }
}

t.test('sextant up: the entry point answers over TLS from the cluster CA', async (t) => {
  requireTools('curl');
  const plan = await upPlan();
  const admin = await freePort(`${plan.ipBase}.1`);
  const dir = upWorkDir(t, 'entry');
  const file = join(dir, 'status.json');
  const up = spawnUp(t, upArgs(plan, dir, 1, ['--no-example', '--status-file', file, '--admin-port', String(admin)], { secure: true }), dir);
  await up.waitFor(/sextant up: (ready|not ready)/, 90_000);
  const s = JSON.parse(readFileSync(file, 'utf8')) as { entry?: string; ca?: string; cli_cert?: string; cli_key?: string; masters: { marathon: string }[] };
  t.equal(s.entry, `https://${plan.ipBase}.1:${admin}`, 'the status file names the entry point');
  t.equal(s.ca, join(dir, 'pki', 'ca.crt'), 'and the CA made in the work dir');
  t.match(up.output(), new RegExp(`curl --cacert ${s.ca!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} .*${s.entry!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/marathon/v2/apps`), 'the summary shows how to reach it');

  const untrusted = await curl([`${s.entry}/marathon/ping`]);
  t.equal(untrusted.code, 60, 'without --cacert curl refuses the certificate (exit 60)');
  const ping = await curl(['--cacert', s.ca!, '-w', ' %{http_code} %{http_version}', `${s.entry}/marathon/ping`]);
  t.equal(ping.out, 'pong 200 2', 'public /marathon/ping over HTTP/2 with --cacert');
  const h1 = await curl(['--http1.1', '--cacert', s.ca!, '-w', ' %{http_code} %{http_version}', `${s.entry}/mesos/health`]);
  t.equal(h1.out, ' 200 1.1', 'HTTP/1.1 too');

  const app = JSON.stringify({ id: '/anon/web', cmd: 'sleep 100', cpus: 0.1, mem: 16 });
  const anon = await curl(['--cacert', s.ca!, '-w', '\n%{http_code}', '-H', 'content-type: application/json', '-d', app, `${s.entry}/marathon/v2/apps`]);
  const [body, code] = anon.out.split('\n');
  t.equal(code, '401', 'a deploy without a token: 401');
  t.match(JSON.parse(body!), { code: 'missing' });
  // The component ports are mutual TLS (#30): the test reads Marathon directly with the status file's cli certificate.
  const tls = { ca: readFileSync(s.ca!), cert: readFileSync(s.cli_cert!), key: readFileSync(s.cli_key!) };
  t.match(await requestJson(`${s.masters[0]!.marathon}/v2/apps`, { tls: { ca: tls.ca } }).catch((e: Error) => ({ refused: e.message })), { refused: String }, 'Marathon directly without a certificate: refused');
  const apps = await requestJson(`${s.masters[0]!.marathon}/v2/apps`, { tls });
  t.same(apps.body, { apps: [] }, 'nothing reached Marathon');

  // The status file's superuser token (admin/acs) deploys through the entry point.
  const token = (JSON.parse(readFileSync(file, 'utf8')) as { token?: string }).token;
  t.type(token, 'string', 'the status file has a token');
  const who = await curl(['--cacert', s.ca!, '-H', `authorization: token=${token}`, `${s.entry}/acs/api/v1/auth/whoami`]);
  t.match(JSON.parse(who.out || '{}'), { uid: 'admin', superuser: true }, 'whoami through the entry point');
  const authed = await curl(['--cacert', s.ca!, '-w', '\n%{http_code}', '-H', 'content-type: application/json', '-H', `authorization: token=${token}`, '-d', JSON.stringify({ id: '/ops/web', cmd: 'sleep 100', cpus: 0.1, mem: 16 }), `${s.entry}/marathon/v2/apps`]);
  t.equal(authed.out.split('\n').pop(), '201', 'a deploy with the token: 201');
  const after = await requestJson(`${s.masters[0]!.marathon}/v2/apps`, { tls });
  t.same((after.body as { apps: { id: string }[] }).apps.map((a) => a.id), ['/ops/web'], 'it reached Marathon');
});
