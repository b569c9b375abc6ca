/**
 * `sextant auth|acl|user` through the built CLI against a real `sextant master --superuser` (its
 * own process, the identity service only): login/whoami/logout, the token file's modes, grants,
 * a service account's key login, and errors that print the API's words and exit non-zero.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INSECURE_DEV, loopbackBlock, spawnTracked } from '../../../test/lib/index.js';

const sextantJs = fileURLToPath(new URL('../../../dist/cli/sextant.js', import.meta.url));
const GROUP = 'dcos:service:marathon:marathon:services:/prod';

t.test('auth, acl and user commands against a real master', async (t) => {
  t.ok(existsSync(sextantJs), `${sextantJs} is built (npm run build)`);
  const dir = mkdtempSync(join(tmpdir(), 'sx-acs-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ip = loopbackBlock()(1);
  const master = spawnTracked(t, process.execPath, [sextantJs, 'master', '--ip', ip, '--port', '0', '--marathon-port', '0', '--work-dir', join(dir, 'master'), '--superuser', 'root', ...INSECURE_DEV], {
    env: { ...process.env, SEXTANT_MASTER_SERVICES: 'acs', SEXTANT_SUPERUSER_PASSWORD: 'rootpassword', SEXTANT_LOG_LEVEL: 'warn' },
  });
  const addr = (await master.waitFor(/listening on http:\/\/([\d.]+:\d+)/, 60_000))[1]!;

  const { SEXTANT_TOKEN: _t, SEXTANT_URL: _u, ...base } = process.env;
  const env = { ...base, XDG_CONFIG_HOME: join(dir, 'config'), SEXTANT_MASTER: addr, ROOT_PW: 'rootpassword', ALICE_PW: 'alicepassword', BAD_PW: 'not-the-password' };
  const cli = (...args: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) =>
      execFile(process.execPath, [sextantJs, ...args], { env, timeout: 30_000 }, (e, out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err })),
    );
  const tokenFile = join(dir, 'config', 'sextant', 'token');

  let r = await cli('auth', 'whoami');
  t.equal(r.code, 2, 'whoami before login exits 2');
  t.match(r.err, /not logged in/);

  r = await cli('user', 'add', 'bob', '--password-env', 'ALICE_PW');
  t.equal(r.code, 1, 'an anonymous write fails');
  t.match(r.err, /no token.*ERR_MISSING_AUTH_TOKEN.*HTTP 401/);

  r = await cli('auth', 'login', '--username', 'root', '--password-env', 'BAD_PW');
  t.equal(r.code, 1, 'a wrong password exits 1');
  t.match(r.err, /login credentials are wrong.*HTTP 401/, 'and prints the API description');
  t.notOk(existsSync(tokenFile), 'no token kept');

  r = await cli('auth', 'login', '--username', 'root', '--password-env', 'ROOT_PW');
  t.equal(r.code, 0, `login: ${r.err}`);
  t.match(r.out, new RegExp(`logged in as root at http://${addr.replace(/\./g, '\\.')}`));
  t.equal(statSync(tokenFile).mode & 0o777, 0o600, 'token file 0600');
  t.equal(statSync(join(dir, 'config', 'sextant')).mode & 0o777, 0o700, 'its directory 0700');

  r = await cli('auth', 'whoami');
  t.equal(r.code, 0);
  t.match(r.out, /^root \(user, superuser\)\n  dcos:superuser full\n$/);

  t.equal((await cli('user', 'add', 'alice', '--password-env', 'ALICE_PW', '--description', 'Alice')).code, 0, 'user add');
  r = await cli('user', 'add', 'alice', '--password-env', 'ALICE_PW');
  t.equal(r.code, 1, 'a second alice fails');
  t.match(r.err, /already exists.*ERR_USER_EXISTS/);
  r = await cli('user', 'ls');
  t.match(r.out, /^UID\s+KIND\s+DESCRIPTION\nalice\s+user\s+Alice\nroot\s+user\s+bootstrap superuser\n$/);

  r = await cli('acl', 'grant', 'alice', GROUP, 'read');
  t.equal(r.code, 0, `grant: ${r.err}`);
  t.equal(r.out, `granted ${GROUP} read to alice\n`);
  r = await cli('acl', 'ls', 'alice');
  t.match(r.out, new RegExp(`^RESOURCE\\s+UID\\s+ACTIONS\\n${GROUP}\\s+alice\\s+read\\n$`));
  r = await cli('acl', 'ls', '--json');
  t.same(JSON.parse(r.out), [{ rid: GROUP, uid: 'alice', actions: ['read'] }, { rid: 'dcos:superuser', uid: 'root', actions: ['full'] }]);
  r = await cli('acl', 'grant', 'alice', GROUP, 'own');
  t.equal(r.code, 1, 'a bad action fails');
  t.match(r.err, /action `own` is not one of full, read, update, delete/);
  r = await cli('acl', 'grant', 'alice', GROUP);
  t.equal(r.code, 2, 'a missing argument is a usage error');

  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'svc.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(dir, 'svc.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  t.equal((await cli('user', 'add', 'svc-ci', '--public-key', join(dir, 'svc.pub'))).code, 0, 'service account added');

  r = await cli('acl', 'revoke', 'alice', GROUP, 'read');
  t.equal(r.code, 0);
  t.equal((await cli('acl', 'ls', 'alice')).out, 'RESOURCE  UID  ACTIONS\n', 'nothing left');

  r = await cli('auth', 'login', '--username', 'svc-ci', '--private-key', join(dir, 'svc.key'));
  t.equal(r.code, 0, `service account login: ${r.err}`);
  t.match((await cli('auth', 'whoami')).out, /^svc-ci \(service account\)\n$/);
  r = await cli('user', 'rm', 'alice');
  t.equal(r.code, 1, 'a service account without dcos:adminrouter:acs cannot delete');
  t.match(r.err, /lacks the permission dcos:adminrouter:acs delete.*HTTP 403/);

  r = await cli('auth', 'logout');
  t.equal(r.code, 0);
  t.notOk(existsSync(tokenFile), 'logout removes the token');
  t.equal((await cli('auth', 'whoami')).code, 2, 'logged out');

  t.equal((await cli('auth', 'login', '--username', 'alice', '--password-env', 'ALICE_PW')).code, 0);
  t.match((await cli('auth', 'whoami')).out, /^alice \(user\)\n$/);
});
