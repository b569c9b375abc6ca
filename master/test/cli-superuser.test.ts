/** `sextant master --superuser UID`: the password from a file or SEXTANT_SUPERUSER_PASSWORD; bad combinations name the flag. */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMasterArgs } from '../cli.js';
import { INSECURE_DEV } from '../../test/lib/index.js';

const base = ['--ip', '127.0.0.1', '--work-dir', '/tmp/x', ...INSECURE_DEV];

t.test('--superuser and its password', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sx-su-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'pw');
  writeFileSync(file, 'from-the-file\nignored\n', { mode: 0o600 });
  t.same(parseMasterArgs(base, {}).flags, {}, 'none by default');
  t.same(parseMasterArgs([...base, '--superuser', 'root'], { SEXTANT_SUPERUSER_PASSWORD: 'from-the-env' }).flags, { superuser: { uid: 'root', password: 'from-the-env' } });
  t.same(parseMasterArgs([...base, '--superuser', 'root', '--superuser-password-file', file], { SEXTANT_SUPERUSER_PASSWORD: 'from-the-env' }).flags, { superuser: { uid: 'root', password: 'from-the-file' } }, 'the file wins');
  const bad: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['--superuser', 'root'], {}, /^--superuser: needs a password/],
    [['--superuser', 'root'], { SEXTANT_SUPERUSER_PASSWORD: 'short' }, /^--superuser: the password is shorter than 8/],
    [['--superuser', ''], { SEXTANT_SUPERUSER_PASSWORD: 'long-enough' }, /^--superuser: is empty/],
    [['--superuser-password-file', file], {}, /^--superuser-password-file: needs --superuser/],
    [['--superuser', 'root', '--superuser-password-file', join(dir, 'none')], {}, /^--superuser-password-file: cannot read/],
  ];
  for (const [args, env, re] of bad) t.throws(() => parseMasterArgs([...base, ...args], env), re, args.join(' '));
});
