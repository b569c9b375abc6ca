/**
 * Issue 30, followers: an entry point in front of a FOLLOWER master (real ZooKeeper, two real
 * `sextant master --zk` processes) answers Mesos calls from the leader (the follower's own 307 never
 * reaches the client) and Marathon writes through the follower's proxy; after the leader dies it
 * follows the new leader.
 */
import t from 'tap';
import { INSECURE_DEV, eventually, freePort, loopbackBlock, spawnTracked, startEnsemble } from '../../test/lib/index.js';
import { request, sextantJs, startEntry, tmpDir } from './lib.js';

t.setTimeout(180_000);

t.test('entry point on a follower', async (t) => {
  const ens = await startEnsemble(t, 3);
  const ip = loopbackBlock();
  const env = { ...process.env, SEXTANT_LOG_LEVEL: 'warn', SEXTANT_MASTER_SERVICES: 'overlay' };
  const start = async (n: number) => {
    const host = ip(n);
    const [port, marathonPort] = [await freePort(host), await freePort(host)];
    const p = spawnTracked(t, process.execPath, [sextantJs, 'master', '--ip', host, '--port', String(port), '--marathon-port', String(marathonPort), '--work-dir', tmpDir(t, 'ha'), '--zk', ens.url('/sextant'), '--zk-session-timeout-ms', '4000', ...INSECURE_DEV], { env });
    await p.waitFor(/as a contender/, 30_000);
    return { p, ip: host, port, marathonPort, mesosDnsPort: 1 };
  };
  const a = await start(1);
  await a.p.waitFor(/elected leader/, 30_000);
  const b = await start(2);
  const e = await startEntry(t, b);
  e.authority.user('root', 'superuser');
  const root = await e.authority.token('root');

  const st = await request(`${e.url}/mesos/master/state`, e.ca, { token: root });
  t.equal(st.status, 200, 'no 307 through the entry point of a follower');
  t.equal((st.json() as { leader: string }).leader, `master@${a.ip}:${a.port}`, 'the state is the leader\'s');
  const net = await request(`${e.url}/net/v1/networks`, e.ca, { token: root });
  t.equal(net.status, 200, '/net/ reaches the leader\'s overlay allocator');
  const post = await request(`${e.url}/marathon/v2/apps`, e.ca, { method: 'POST', token: root, body: JSON.stringify({ id: '/ha/web', cmd: 'sleep 100', cpus: 0.1, mem: 16 }) });
  t.equal(post.status, 201, 'a Marathon write through the follower');
  t.equal(post.headers.location, '/marathon/v2/apps/ha/web');

  a.p.kill('SIGKILL');
  await b.p.waitFor(/elected leader/, 60_000);
  const after = await eventually(async () => {
    const r = await request(`${e.url}/mesos/master/state`, e.ca, { token: root });
    return r.status === 200 && (r.json() as { leader: string }).leader === `master@${b.ip}:${b.port}` && r;
  }, 30_000, 200, 'the entry point to follow the new leader');
  t.ok(after, 'the new leader answers through the same entry point');
  const apps = await request(`${e.url}/marathon/v2/apps`, e.ca, { token: root });
  t.match(apps.json(), { apps: [{ id: '/ha/web' }] }, 'with the app written before the failover');
});
