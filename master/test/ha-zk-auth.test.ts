/**
 * The real executable with `--zk` and `--zk-auth-file` (#30) on a real ZooKeeper: a master with
 * the credential leads and its znodes are private; a master with another credential, and one with
 * none, stop before contending (exit 1), naming the locked znode and their credential problem,
 * and change nothing (no election znode, no store znode). The secret is on no command line and in
 * no output. Needs a build (`npm run build`).
 */
import t from 'tap';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INSECURE_DEV, freePort, loopbackBlock, spawnTracked, startEnsemble } from '../../test/lib/index.js';
import { ZkSession, ZK, zkCode } from '../zk/session.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'dist', 'cli', 'sextant.js');
const SECRET = 'pw-for-ha-zk-auth-test-0123456789';

t.test('a master with a wrong or missing credential against a locked tree stops, naming it, and changes nothing', async (t) => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build first with \`npm run build\` (npm test does it as pretest)`);
  const ens = await startEnsemble(t, 1);
  const zk = ens.url('/sextant');
  const ip = loopbackBlock();
  const dir = mkdtempSync(join(tmpdir(), 'sx-ha-auth-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const authFile = (name: string, auth: string) => {
    const f = join(dir, name);
    writeFileSync(f, `${auth}\n`, { mode: 0o600 });
    chmodSync(f, 0o600);
    return f;
  };
  const env = { ...process.env, SEXTANT_LOG_LEVEL: 'info', SEXTANT_MASTER_SERVICES: '' };
  const start = async (n: number, auth: string[]) => {
    const host = ip(n);
    const args = [bin, 'master', '--ip', host, '--port', String(await freePort(host)), '--marathon-port', String(await freePort(host)), '--work-dir', mkdtempSync(join(dir, 'w-')), '--zk', zk, '--zk-session-timeout-ms', '4000', ...auth, ...INSECURE_DEV];
    return spawnTracked(t, process.execPath, args, { env });
  };

  const good = await start(1, ['--zk-auth-file', authFile('good', `sextant:${SECRET}`)]);
  await good.waitFor(/sextant master elected leader/, 60_000);
  t.notOk(readFileSync(`/proc/${good.pid}/cmdline`, 'utf8').includes(SECRET), 'the secret is not on the command line');

  const admin = new ZkSession({ connect: ens.connect, path: '/', auth: `sextant:${SECRET}` }, { connectTimeoutMs: 20_000 });
  await admin.connect();
  t.teardown(() => admin.close());
  const snapshot = async () => ({ mesos: (await admin.children('/mesos')).sort(), kv: (await admin.children('/sextant/kv')).sort(), sextant: (await admin.children('/sextant')).sort() });
  const before = await snapshot();
  t.equal(before.mesos.length, 1, 'one election znode: the leader\'s');

  for (const [who, auth, why] of [
    ['another credential', ['--zk-auth-file', authFile('wrong', 'sextant:not-the-one')], /this master's credential \(user 'sextant', from --zk-auth-file or the --zk URL\) is not the one it was locked with/],
    ['no credential', [], /this master has no credential: give it --zk-auth-file FILE/],
  ] as [string, string[], RegExp][]) {
    const bad = await start(2, auth);
    t.equal(await bad.exited, 1, `${who}: exits 1`);
    const out = bad.output();
    t.match(out, /ZooKeeper refuses this master the store \(\/sextant\): \/sextant\/kv is locked to another identity/, `${who}: names the locked znode`);
    t.match(out, why, `${who}: names the credential problem`);
    t.match(out, /Nothing was changed/, `${who}: says so: ${out.trim().split('\n').pop() ?? ''}`);
    t.notMatch(out, /listening on .* as a contender/, `${who}: never contended`);
    t.notOk(out.includes(SECRET), `${who}: the secret is in none of its output`);
    t.same(await snapshot(), before, `${who}: no znode added or removed`);
  }
  t.notOk(good.output().includes(SECRET), 'nor in the leader\'s output');
  // The store stays private to the credential.
  const anon = new ZkSession({ connect: ens.connect, path: '/' }, { connectTimeoutMs: 20_000 });
  await anon.connect();
  t.teardown(() => anon.close());
  t.equal(await anon.children('/sextant/kv').then(() => 0, (e: unknown) => zkCode(e)), ZK.NO_AUTH, 'anonymous: NoAuth listing the store');
});
