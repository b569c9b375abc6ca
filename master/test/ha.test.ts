/**
 * The real executable with `--zk`: two masters on one 3-server ZooKeeper ensemble. The follower
 * redirects Mesos calls (307) and proxies Marathon; kill -9 of the leader (by PID) makes the other
 * the leader, serving the apps the first one stored. Needs a build (`npm run build`).
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requestJson } from '../../common/index.js';
import { INSECURE_DEV, eventually, freePort, loopbackBlock, requireTools, spawnTracked, startEnsemble } from '../../test/lib/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'dist', 'cli', 'sextant.js');

t.test('two masters on ZooKeeper: follower redirects and proxies; kill -9 the leader, the other leads with its apps; Mesos-DNS follows', async (t) => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build first with \`npm run build\` (npm test does it as pretest)`);
  const { dig } = requireTools('dig');
  const ens = await startEnsemble(t, 3);
  const ip = loopbackBlock();
  const zk = ens.url('/sextant');
  const env = { ...process.env, SEXTANT_LOG_LEVEL: 'warn', SEXTANT_MASTER_SERVICES: 'overlay,l4lb' };
  const start = async (n: number) => {
    const host = ip(n);
    const port = await freePort(host);
    const mport = await freePort(host);
    const workDir = mkdtempSync(join(tmpdir(), 'sx-ha-'));
    t.teardown(() => rmSync(workDir, { recursive: true, force: true }));
    const p = spawnTracked(t, process.execPath, [bin, 'master', '--ip', host, '--port', String(port), '--marathon-port', String(mport), '--work-dir', workDir, '--zk', zk, '--zk-session-timeout-ms', '4000', ...INSECURE_DEV], { env });
    await p.waitFor(/sextant master listening on .* as a contender/, 30_000);
    return { p, host, mesos: `http://${host}:${port}`, marathon: `http://${host}:${mport}`, pid: `master@${host}:${port}` };
  };
  const metric = async (url: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${url}/metrics`)).text())?.[1]);

  const a = await start(1);
  await a.p.waitFor(/sextant master elected leader/, 30_000);
  const b = await start(2);
  t.equal((await requestJson(`${a.marathon}/v2/apps`, { body: { id: '/one', cmd: 'sleep 1000', instances: 1, cpus: 0.1, mem: 16 } })).status, 201, 'app stored through the leader');
  const viaB = await requestJson(`${b.marathon}/v2/apps`, { body: { id: '/two', cmd: 'sleep 1000', instances: 1, cpus: 0.1, mem: 16 } });
  t.equal(viaB.status, 201, 'Marathon request to the follower is proxied to the leader');
  t.same(((await requestJson(`${b.marathon}/v2/leader`)).body as { leader: string }).leader, `${a.marathon.slice(7)}`, '/v2/leader through the follower names the leader');

  const redirect = await fetch(`${b.mesos}/master/redirect`, { redirect: 'manual' });
  t.equal(redirect.status, 307);
  t.equal(redirect.headers.get('location'), `//${a.mesos.slice(7)}`, '/master/redirect names the leader');
  const state = await fetch(`${b.mesos}/master/state`, { redirect: 'manual' });
  t.equal(state.status, 307, 'a Mesos call to the follower is a 307');
  t.equal(state.headers.get('location'), `${a.mesos}/master/state`);
  t.equal(((await requestJson(`${a.mesos}/master/state`)).body as { leader: string }).leader, a.pid, '/master/state leader names the elected master');
  t.equal(await metric(a.mesos, 'sextant_master_elected'), 1);
  t.equal(await metric(b.mesos, 'sextant_master_elected'), 0);
  t.equal(await metric(b.mesos, 'sextant_master_zk_session_connected'), 1);
  for (const m of [a, b]) await eventually(async () => (await metric(m.mesos, 'sextant_master_election_masters')) === 2, 20_000, 100, `${m.mesos} to see 2 masters in the election`);
  t.pass('leader and follower each see both masters in the election');

  // A standalone Mesos-DNS that finds the masters only through zk://.../mesos, asked with dig.
  const dnsIp = ip(5);
  const dnsPort = await freePort(dnsIp);
  const cfgDir = mkdtempSync(join(tmpdir(), 'sx-ha-dns-'));
  t.teardown(() => rmSync(cfgDir, { recursive: true, force: true }));
  writeFileSync(join(cfgDir, 'config.json'), JSON.stringify({ zk: ens.url('/mesos'), refreshSeconds: 1, listener: dnsIp, port: dnsPort, httplistener: dnsIp, httpport: await freePort(dnsIp), externalon: false }));
  const dns = spawnTracked(t, process.execPath, [bin, 'mesos-dns', '-config', join(cfgDir, 'config.json')], { env });
  await dns.waitFor(/mesos-dns ready/, 30_000);
  const ask = (name: string) => execFileSync(dig!, ['+short', '+time=1', '+tries=1', `@${dnsIp}`, '-p', String(dnsPort), name, 'A'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).sort().join(',');
  await eventually(() => ask('leader.mesos') === ip(1), 20_000, 100, 'leader.mesos -> a');
  await eventually(() => ask('master.mesos') === [ip(1), ip(2)].sort().join(','), 20_000, 100, 'master.mesos -> a and b');
  t.pass('before the failover: leader.mesos is a, master.mesos is a and b');

  const t0 = Date.now();
  process.kill(a.p.pid, 'SIGKILL');
  await a.p.exited;
  await b.p.waitFor(/sextant master elected leader/, 30_000);
  t.comment(`b leads ${Date.now() - t0} ms after kill -9 of a (session timeout 4000 ms)`);
  const st = (await requestJson(`${b.mesos}/master/state`)).body as { leader: string };
  t.equal(st.leader, b.pid, 'b names itself leader');
  const apps = ((await requestJson(`${b.marathon}/v2/apps`)).body as { apps: { id: string }[] }).apps.map((x) => x.id).sort();
  t.same(apps, ['/one', '/two'], 'b serves the apps a stored');
  t.equal(await metric(b.mesos, 'sextant_master_elected'), 1);
  t.equal(await metric(b.mesos, 'sextant_master_leader_changes_total'), 2);
  t.equal(await metric(b.mesos, 'sextant_master_election_masters'), 1, 'b sees itself alone in the election (a\'s znode went with its session)');
  await eventually(() => ask('leader.mesos') === ip(2), 20_000, 100, 'leader.mesos -> b');
  await eventually(() => ask('master.mesos') === ip(2), 20_000, 100, 'master.mesos -> b');
  t.pass('after the failover: leader.mesos and master.mesos are b');
  t.equal((await requestJson(`${b.marathon}/v2/apps`, { body: { id: '/three', cmd: 'sleep 1000', instances: 1, cpus: 0.1, mem: 16 } })).status, 201, 'b takes writes');
});
