/** `sextant up`'s admin credentials: a fresh random password in a 0600 file, reused by a later run on the same work dir. */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminCredentials, superuserArgs } from '../up-admin.js';

t.test('made once, kept 0600, reused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sx-up-admin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = adminCredentials(dir);
  t.match(first, { uid: 'admin', fresh: true, file: join(dir, 'admin-password') });
  t.ok(first.password.length >= 20, 'long random password');
  t.equal(statSync(first.file).mode & 0o777, 0o600);
  t.equal(readFileSync(first.file, 'utf8'), `${first.password}\n`);
  t.same(adminCredentials(dir), { ...first, fresh: false }, 'a later run reuses it');
  t.same(superuserArgs(first), ['--superuser', 'admin', '--superuser-password-file', first.file]);
  writeFileSync(first.file, 'short\n');
  const again = adminCredentials(dir);
  t.ok(again.fresh && again.password !== first.password, 'a file without a usable password is replaced');
  t.not(adminCredentials(mkdtempSync(join(dir, 'x'))).password, first.password, 'each work dir its own');
});
